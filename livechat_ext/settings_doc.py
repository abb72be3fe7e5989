"""The README's table of settings, made from `LiveChatSettings` itself, so the
two cannot drift (a test compares them).

Refresh the README after changing a setting:
`python -m livechat_ext.settings_doc --write README.md`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic.fields import FieldInfo

from .settings import LiveChatSettings

START = "<!-- settings table: python -m livechat_ext.settings_doc --write README.md -->"
END = "<!-- end of the settings table -->"


def settings_table() -> str:
    """Every setting as a Markdown table: variable, default, what it does."""
    lines = ["| variable | default | what it does |", "| --- | --- | --- |"]
    prefix = str(LiveChatSettings.model_config.get("env_prefix", ""))
    for name, field in LiveChatSettings.model_fields.items():
        description = (field.description or "").replace("|", "\\|")
        lines.append(f"| `{prefix}{name.upper()}` | {shown_default(field)} | {description} |")
    return "\n".join(lines)


def shown_default(field: FieldInfo) -> str:
    """A field's default as the README shows it."""
    extra = field.json_schema_extra
    if isinstance(extra, dict) and "shown_default" in extra:
        return str(extra["shown_default"])
    value = field.default
    if value is None or value == []:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list):
        return f"`{','.join(str(v) for v in value)}`"
    if isinstance(value, Path):
        return f"`./{value}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{value}`"


def replace_table(text: str) -> str:
    """`text` with the part between the markers replaced by the current table.

    Raises `ValueError` when the markers are missing."""
    head, found, rest = text.partition(START)
    _, found_end, tail = rest.partition(END)
    if not (found and found_end):
        raise ValueError(f"the markers {START!r} and {END!r} are missing")
    return f"{head}{START}\n{settings_table()}\n{END}{tail}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m livechat_ext.settings_doc",
        description="Print the settings table, or write it into a README between its markers.",
    )
    parser.add_argument("--write", metavar="README", help="update this file in place")
    args = parser.parse_args(argv)
    if args.write is None:
        print(settings_table())
        return 0
    path = Path(args.write)
    path.write_text(replace_table(path.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
