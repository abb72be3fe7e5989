"""Runs the JavaScript client's checks as part of `python -m pytest`: `tsc` over the
client, its `node --test` suite, and what `npm pack` puts in the npm package.

The tools (TypeScript, React for the hook's tests) are the repository's root
package.json, installed with `npm ci` on first use."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.npm import ROOT, npm, npm_ci

HERE = Path(__file__).parent
STATIC = ROOT / "livechat_ext" / "static"


@pytest.fixture(scope="module")
def tools() -> Path:
    """The root node_modules, installed from package-lock.json."""
    npm_ci(ROOT, [STATIC / "package.json"])
    assert not (STATIC / "node_modules").exists(), "npm installed into the served folder"
    return ROOT / "node_modules"


def test_typescript_checks_the_client(tools: Path) -> None:
    result = subprocess.run(
        [str(tools / ".bin" / "tsc"), "-p", str(ROOT / "tsconfig.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]


def test_javascript_client_suite(tools: Path) -> None:
    files = sorted(str(p) for p in HERE.glob("*.test.mjs"))
    assert files, "no JavaScript tests found"
    result = subprocess.run(
        ["node", "--test", *files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    summary = result.stdout[-2000:]
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    passed = re.search(r"^# pass (\d+)", result.stdout, re.MULTILINE)
    assert passed and int(passed.group(1)) > 50, summary


def packed_files() -> set[str]:
    result = subprocess.run(
        [npm(), "pack", "--dry-run", "--json", "--ignore-scripts"],
        cwd=STATIC,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return {entry["path"] for entry in json.loads(result.stdout)[0]["files"]}


def test_the_npm_package_is_the_served_client() -> None:
    """`npm pack` of livechat_ext/static ships the modules the plugin serves, each
    exported module with its types, and not the console; its version is the plugin's."""
    package = json.loads((STATIC / "package.json").read_text())
    files = packed_files()
    served = {p.name for p in STATIC.glob("*.js")}
    assert served <= files, f"not in the package: {served - files}"
    assert not [f for f in files if "/" in f], "the package holds a subfolder (the console?)"
    for subpath, target in package["exports"].items():
        targets = [target] if isinstance(target, str) else list(target.values())
        for path in targets:
            assert path.removeprefix("./") in files, f"{subpath} -> {path} is not packed"
    assert package["type"] == "module"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert package["version"] == pyproject["project"]["version"]


def test_protocol_version_matches_the_server() -> None:
    from livechat_ext import PROTOCOL_VERSION

    source = (STATIC / "protocol.js").read_text()
    assert PROTOCOL_VERSION == "1.1"
    assert f"export const PROTOCOL_VERSION = '{PROTOCOL_VERSION}';" in source
