"""CI smoke test of a plain (non-editable) install, run by that venv's python from
a folder outside the repository, so nothing can come from the checkout:

    python .ci/smoke.py REPO            # after `pip install REPO`
    python .ci/smoke.py REPO --all      # after `pip install "REPO[all]"`

It checks that the installed package is the one in site-packages, that it ships
every file the repository has under livechat_ext/, that every module imports
(a backend module may need its extra's driver, and only then), and, without
--all, that `python -m livechat_ext demo` serves health, the console, the
JavaScript client and the simulator, then stops cleanly on SIGTERM."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import pkgutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import NoReturn

# Modules that import an optional extra's driver when imported; the package
# itself loads them only when a URL asks for that backend.
NEEDS_EXTRA = {"livechat_ext.broker.redis": "redis", "livechat_ext.broker.redis_cluster": "redis"}
# `python -m livechat_ext` runs the command line when imported: run, not imported.
NOT_IMPORTED = {"livechat_ext.__main__"}
PAGES = (
    "/live-chat/health",
    "/live-chat/console/",
    "/live-chat/static/client.js",
    "/live-chat/simulator/",
)
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


def fail(message: str) -> NoReturn:
    print(f"smoke: FAIL: {message}", flush=True)
    raise SystemExit(1)


def check_installed_copy(repo: Path) -> Path:
    """The package comes from site-packages, not the checkout, and ships all its files."""
    spec = importlib.util.find_spec("livechat_ext")  # finds it without running it
    if spec is None or spec.origin is None:
        fail("livechat_ext is not installed")
    installed = Path(spec.origin).resolve().parent
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    if installed.parent != site:
        fail(f"livechat_ext was imported from {installed}, not from {site}")
    tracked = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "livechat_ext"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    missing = [p for p in tracked if not (site / p).is_file()]
    if not tracked or missing:
        fail(f"the install lacks files of the repository: {missing or 'git ls-files is empty'}")
    print(f"smoke: {len(tracked)} files of livechat_ext/ installed in {site}", flush=True)
    return installed


def module_names(folder: Path, prefix: str) -> list[str]:
    """The modules under a package folder, found without importing any (pkgutil's
    walk_packages imports packages and hides their import errors)."""
    names: list[str] = []
    for module in pkgutil.iter_modules([str(folder)], prefix):
        names.append(module.name)
        if module.ispkg:
            leaf = module.name.rsplit(".", 1)[1]
            names += module_names(folder / leaf, f"{module.name}.")
    return names


def check_imports(installed: Path, with_extras: bool) -> None:
    """Every module imports; without the extras, a NEEDS_EXTRA module may fail on its
    driver (and only on it, only when the driver is not installed)."""
    names = ["livechat_ext", *module_names(installed, "livechat_ext.")]
    imported: list[str] = []
    need_extra: list[str] = []
    for name in names:
        if name in NOT_IMPORTED:
            continue
        driver = NEEDS_EXTRA.get(name)
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if with_extras or driver is None or exc.name != driver:
                fail(f"import {name}: {exc!r}")
            need_extra.append(name)
            continue
        except Exception as exc:  # any other failure is a broken module
            fail(f"import {name}: {exc!r}")
        imported.append(name)
    note = f"; not without its extra's driver: {', '.join(need_extra)}" if need_extra else ""
    print(f"smoke: {len(imported)} modules imported{note}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def check_demo(workdir: Path) -> None:
    """`python -m livechat_ext demo` answers 200 on every page, then stops on SIGTERM."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = workdir / "demo.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "livechat_ext", "demo", "--port", str(port)],
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            # the demo keeps its state in LIVECHAT_DATA_DIR/demo: in this folder
            env={
                **os.environ,
                "PYTHONUNBUFFERED": "1",
                "LIVECHAT_DATA_DIR": str(workdir / "livechat-data"),
            },
        )
    try:
        _wait_up(proc, f"{base}{PAGES[0]}", log_path)
        statuses = {path: get(f"{base}{path}") for path in PAGES}
        for path, status in statuses.items():
            print(f"smoke: GET {path} -> {status}", flush=True)
        bad = {p: s for p, s in statuses.items() if s != 200}
        if bad:
            fail(f"the demo did not answer 200: {bad}\n{log_path.read_text()[-3000:]}")
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(STOP_TIMEOUT)
        output = log_path.read_text()
        # uvicorn shuts down gracefully, then re-raises the signal it caught
        if code not in (0, -signal.SIGTERM) or "Traceback" in output:
            fail(f"the demo exited {code} on SIGTERM\n{output[-3000:]}")
        print("smoke: the demo stopped cleanly on SIGTERM", flush=True)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def _wait_up(proc: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            fail(f"the demo exited {proc.returncode}\n{log_path.read_text()[-3000:]}")
        try:
            if get(url) == 200:
                return
        except OSError:
            pass  # not listening yet
        time.sleep(0.1)
    fail(f"the demo was not up within {START_TIMEOUT:.0f}s\n{log_path.read_text()[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("repo", type=Path)
    parser.add_argument("--all", action="store_true", help="installed with [all]")
    args = parser.parse_args()
    repo = args.repo.resolve()
    if Path.cwd().resolve().is_relative_to(repo):
        fail("run the smoke test from a folder outside the repository")
    installed = check_installed_copy(repo)
    check_imports(installed, with_extras=args.all)
    if not args.all:
        with tempfile.TemporaryDirectory(prefix="livechat-smoke-") as workdir:
            check_demo(Path(workdir))
    print("smoke: OK", flush=True)


if __name__ == "__main__":
    main()
