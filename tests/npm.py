"""`npm ci` for the tests that need JavaScript packages (tests/js, tests/e2e/test_nextjs.py).

The install is kept between runs: a stamp in node_modules records the hash of the
files that decide it, and `npm ci` runs again only when one of them changed."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from tests.conftest import need

ROOT = Path(__file__).resolve().parents[1]
STAMP = ".livechat-ext-installed"
INSTALL_TIMEOUT = 600.0


def npm() -> str:
    """The `npm` command; skips (fails under CI=true) when Node or npm is missing."""
    need(shutil.which("node") is not None, "node is not installed")
    found = shutil.which("npm")
    need(found is not None, "npm is not installed")
    assert found is not None
    return found


def digest(paths: Iterable[Path]) -> str:
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def npm_ci(folder: Path, inputs: Iterable[Path] = ()) -> None:
    """`npm ci` in `folder` unless its node_modules was installed from the same
    package.json, package-lock.json and `inputs` (e.g. a local package it copies)."""
    stamp = folder / "node_modules" / STAMP
    want = digest([folder / "package.json", folder / "package-lock.json", *inputs])
    if stamp.is_file() and stamp.read_text() == want:
        return
    result = subprocess.run(
        [npm(), "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"npm ci in {folder} failed:\n{result.stdout}{result.stderr}"
    stamp.write_text(want)
