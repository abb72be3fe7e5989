"""Which part may import which (DESIGN.md), checked in fresh interpreters:
what a module drags in is measured in `sys.modules`, not read off its lines."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "livechat_ext"
HEAVY = ("fastapi", "starlette", "httpx", "redis", "sqlalchemy", "uvicorn", "linebot", "asyncpg")


def loaded_by(module: str) -> set[str]:
    """Top-level and livechat_ext module names present after importing `module` alone."""
    code = f"import json, sys\nimport {module}\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    names: list[str] = json.loads(out)
    return {n for n in names if n.startswith("livechat_ext")} | {n.split(".")[0] for n in names}


@pytest.mark.parametrize("module", ["livechat_ext.protocol", "livechat_ext.session"])
def test_the_protocol_and_the_frame_core_load_no_io_library(module: str) -> None:
    loaded = loaded_by(module)
    assert not loaded & set(HEAVY), f"{module} loads {sorted(loaded & set(HEAVY))}"
    assert "asyncio" not in loaded or module == "livechat_ext.protocol", (
        "the frame core awaits nothing"
    )


def test_the_frame_core_has_no_event_loop_in_it() -> None:
    for path in (PACKAGE / "session").glob("*.py"):
        assert "asyncio" not in imports_of(path), path


def test_store_and_broker_do_not_know_each_other() -> None:
    assert not {m for m in loaded_by("livechat_ext.store") if m.startswith("livechat_ext.broker")}
    assert not {m for m in loaded_by("livechat_ext.broker") if m.startswith("livechat_ext.store")}


def test_the_line_package_knows_no_socket_layer() -> None:
    loaded = loaded_by("livechat_ext.line")
    sockets = {
        "livechat_ext.realtime.connection",
        "livechat_ext.realtime.hub",
        "livechat_ext.web.endpoint",
        "livechat_ext.realtime.chat",
    }
    assert not loaded & sockets
    assert not loaded & {"fastapi", "starlette", "websockets"}


# the transport (routes, WebSocket endpoint, REST), the CLI and the demo's own app
WEB = {"web", "cli.py", "demo.py", "simulator"}


def imports_of(path: Path) -> set[str]:
    """Top-level packages a module imports when it runs (imports under
    `if TYPE_CHECKING:` are for the type checker only and do not count)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in (
            "TYPE_CHECKING",
            "typing.TYPE_CHECKING",
        ):
            node.body = []
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_only_the_transport_and_the_cli_import_fastapi_or_starlette() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        part = path.relative_to(PACKAGE).parts[0]
        if part in WEB:
            continue
        if imports_of(path) & {"fastapi", "starlette"}:
            offenders.append(str(path.relative_to(PACKAGE)))
    assert offenders == []


def test_the_package_itself_is_light() -> None:
    loaded = loaded_by("livechat_ext")
    assert not loaded & set(HEAVY)
