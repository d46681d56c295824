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


def dowel(*args, env=None, timeout=60, **kw):
    """Run the `dowel` command line in a subprocess; returns the CompletedProcess (text)."""
    return subprocess.run(
        [sys.executable, "-m", "smart_dowel", *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=env or dict(os.environ), **kw,
    )


def mode(path):
    return os.stat(path).st_mode & 0o777
