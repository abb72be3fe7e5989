"""The repository's copy of the protocol is the contract, word for word."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import need

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "docs" / "PROTOCOL.md"


def test_protocol_copy_matches_the_contract() -> None:
    need(SHARED.exists(), f"the shared contract is not beside this checkout ({SHARED})")
    assert (ROOT / "docs" / "PROTOCOL.md").read_text() == SHARED.read_text()


def test_readme_quick_start_and_ci_use_the_same_test_line() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    line = 'python -m pip install -e ".[dev]" && python -m pytest'
    assert line in readme and line in ci


def test_readme_settings_table_is_made_from_the_settings_class() -> None:
    """Refresh with `python -m livechat_ext.settings_doc --write README.md`."""
    from livechat_ext.settings import LiveChatSettings
    from livechat_ext.settings_doc import replace_table

    readme = (ROOT / "README.md").read_text()
    assert replace_table(readme) == readme, "the README's settings table is stale"
    for name, field in LiveChatSettings.model_fields.items():
        assert field.description, f"{name} has no description for the README"
