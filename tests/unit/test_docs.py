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
