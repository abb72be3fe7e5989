"""Runs the JavaScript client's `node --test` suite as part of `python -m pytest`."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tests.conftest import need

HERE = Path(__file__).parent


def test_javascript_client_suite() -> None:
    node = shutil.which("node")
    need(node is not None, "node is not installed")
    assert node is not None
    files = sorted(str(p) for p in HERE.glob("*.test.mjs"))
    assert files, "no JavaScript tests found"
    result = subprocess.run(
        [node, "--test", *files], capture_output=True, text=True, timeout=300, check=False
    )
    summary = result.stdout[-2000:]
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    passed = re.search(r"^# pass (\d+)", result.stdout, re.MULTILINE)
    assert passed and int(passed.group(1)) > 50, summary


def test_protocol_version_matches_the_server() -> None:
    from livechat_ext import PROTOCOL_VERSION

    source = (HERE.parent.parent / "livechat_ext" / "static" / "protocol.js").read_text()
    assert PROTOCOL_VERSION == "1.1"
    assert f"export const PROTOCOL_VERSION = '{PROTOCOL_VERSION}';" in source
