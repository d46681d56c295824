"""Shared helpers of the store and report tests: a private data directory per test."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """DOWEL_DATA_DIR pointing at a fresh directory (not yet created) under tmp_path."""
    d = tmp_path / "dowel-data"
    monkeypatch.setenv("DOWEL_DATA_DIR", str(d))
    return d


@pytest.fixture
def open_tmp():
    """A fresh directory that other users can reach (pytest's tmp_path is inside a 0700 one),
    for tests that run as an unprivileged user."""
    import shutil
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="dowel-test-"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def dowel(*args, env=None, timeout=60, **kw):
    """Run the `dowel` command line in a subprocess; returns the CompletedProcess (text)."""
    return subprocess.run(
        [sys.executable, "-m", "smart_dowel", *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=env or dict(os.environ), **kw,
    )


def mode(path):
    return os.stat(path).st_mode & 0o777


NOBODY = 65534
_AS_USER = r"""
import importlib, os, pkgutil, sys
import smart_dowel
for m in pkgutil.walk_packages(smart_dowel.__path__, "smart_dowel."):
    if not m.name.endswith("__main__") and ".sim.mp" not in m.name:
        importlib.import_module(m.name)  # everything lazily imported, before we lose access
import encodings.idna, platformdirs, sqlite3, json, csv, html  # noqa
from smart_dowel import cli
uid = int(sys.argv[1])
os.setgroups([])
os.setgid(uid)
os.setuid(uid)
sys.exit(cli.main(sys.argv[2:]))
"""


def dowel_as_user(*args, uid=NOBODY, env=None, timeout=60, **kw):
    """Run `dowel` as a real unprivileged user, where root would bypass a permission check.

    As root: the interpreter imports everything first (the interpreter's own files may not
    be readable by that user), then drops to uid/gid `uid` with no groups. As anyone else:
    the test already runs unprivileged, so it is plain `dowel(...)`.
    """
    if os.geteuid() != 0:
        return dowel(*args, env=env, timeout=timeout, **kw)
    return subprocess.run(
        [sys.executable, "-c", _AS_USER, str(uid), *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=env or dict(os.environ),
        cwd="/", **kw,
    )
