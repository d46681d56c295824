"""Importing the protocol, the pipeline or `dowel analyze` must load neither Textual nor
pyserial (checked in a fresh interpreter)."""

import subprocess
import sys

import pytest

from conftest import REPO


@pytest.mark.parametrize("module", ["dowel_protocol", "smart_dowel.pipeline", "smart_dowel.analyze",
                                    "smart_dowel.recording", "smart_dowel.csvfile"])
def test_import_loads_no_ui_or_serial(module):
    code = (
        "import sys, %s\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'serial'))\n"
        "print(','.join(bad))\n" % module
    )
    env_path = [str(REPO / "protocol"), str(REPO / "host")]
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; sys.path[:0] = %r\n%s" % (env_path, code)],
        capture_output=True, text=True, cwd=str(REPO), timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", "%s loads %s" % (module, proc.stdout.strip())
