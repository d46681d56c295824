"""`dowel flash [--port]`: compile the firmware in device/manifest.py with mpy-cross and install
it on the dowel's Pico with mpremote.

The board is hard-reset first: the firmware's watchdog cannot be stopped once streaming has
begun, and it would reset the board halfway through the copy.
"""

import importlib.util
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .errors import FirmwareError

REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO / "device" / "manifest.py"
TOOL_TIMEOUT_S = 120
REENUMERATE_S = 10.0  # how long the board may take to come back on USB after a reset

# Run on the board before copying: make the folders, remove old modules (a stale .py would
# shadow the new .mpy of the same name).
_PREPARE = """
import os
def _prep(d, clean):
    try:
        names = os.listdir(d)
    except OSError:
        os.mkdir(d)
        return
    if clean:
        for n in names:
            os.remove(d + "/" + n)
_prep("lib", False)
_prep("lib/dowel_protocol", True)
_prep("lib/dowel_device", True)
"""


def load_manifest(path=MANIFEST):
    """(source path, path on the board) of every file the board gets."""
    scope = {}
    exec(compile(Path(path).read_text(), str(path), "exec"), scope)
    return list(scope["FILES"])


def load_manifest_source(path=MANIFEST):
    """Board paths that go on as source, not compiled (main.py, the viper module)."""
    scope = {}
    exec(compile(Path(path).read_text(), str(path), "exec"), scope)
    return set(scope["SOURCE"])


def _tool(module, binary, what):
    found = shutil.which(binary) or _beside_python(binary)
    if found:
        return [found]
    if importlib.util.find_spec(module) is not None:
        return [sys.executable, "-m", module]
    raise FirmwareError(
        "%s not found: install it with `pip install %s` (it comes with the test extra)"
        % (what, what)
    )


def _beside_python(binary):
    p = Path(sys.executable).parent / binary
    return str(p) if p.exists() else None


def find_mpy_cross():
    return _tool("mpy_cross", "mpy-cross", "mpy-cross")


def find_mpremote():
    return _tool("mpremote", "mpremote", "mpremote")


def build(out_dir, files=None, mpy_cross=None):
    """Compile the manifest into out_dir, laid out as on the board; returns
    [(local file, path on the board)]. The manifest's SOURCE files are copied as they are."""
    files = load_manifest() if files is None else files
    source = load_manifest_source()
    mpy_cross = mpy_cross or find_mpy_cross()
    out_dir = Path(out_dir)
    built = []
    for src, dest in files:
        src_path = REPO / src
        if not src_path.is_file():
            raise FirmwareError("manifest lists %s, which does not exist" % src)
        if dest in source:
            target = out_dir / dest
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src_path, target)
            built.append((target, dest))
            continue
        dest = dest[:-3] + ".mpy"
        target = out_dir / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        # -s names the source in tracebacks as it is on the board
        cmd = mpy_cross + ["-s", dest[:-4] + ".py", "-o", str(target), str(src_path)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)
        if proc.returncode != 0:
            raise FirmwareError(
                "mpy-cross could not compile %s: %s" % (src, (proc.stderr or proc.stdout).strip())
            )
        built.append((target, dest))
    return built


def _mpremote(mpremote, connect, args):
    cmd = mpremote + ["connect", connect] + args
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise FirmwareError("mpremote did not finish within %d s on %s" % (TOOL_TIMEOUT_S, connect))
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def _no_board(out):
    return "no device found" in out or "failed to access" in out


def _board_error(connect, out):
    if "could not enter raw repl" in out:
        return FirmwareError(
            "the board on %s did not hand over its REPL: plug it in again, press BOOTSEL "
            "within a second (so the firmware does not start) and retry" % connect)
    if connect == "auto":
        where = "no dowel found on USB: plug it in, or name its port with --port"
    else:
        where = "no dowel answers on %s: check the cable and the port name" % connect
    return FirmwareError("%s (mpremote: %s)" % (where, out.splitlines()[-1] if out else "no output"))


def copy_args(built):
    """mpremote arguments that prepare the folders, copy every file and reset the board."""
    args = ["exec", _PREPARE]
    by_dir = {}
    for local, dest in built:
        folder = dest.rsplit("/", 1)[0] + "/" if "/" in dest else ""
        by_dir.setdefault(folder, []).append(str(local))
    for folder in sorted(by_dir):
        args += ["+", "fs", "cp"] + by_dir[folder] + [":" + folder]
    args += ["+", "reset"]
    return args


def flash(port=None, out=print):
    """Build and install; returns the list of paths written on the board."""
    mpremote = find_mpremote()
    connect = port or "auto"
    with tempfile.TemporaryDirectory(prefix="dowel-flash-") as tmp:
        built = build(tmp)
        out("compiled %d files with mpy-cross" % len(built))
        code, text = _mpremote(mpremote, connect, ["reset"])
        if code != 0:
            raise _board_error(connect, text) if _no_board(text) else FirmwareError(
                "mpremote could not reset the board on %s: %s" % (connect, text))
        deadline = time.monotonic() + REENUMERATE_S
        while True:
            time.sleep(1.0)  # the board leaves USB and comes back after a reset
            code, text = _mpremote(mpremote, connect, copy_args(built))
            if code == 0:
                break
            if not _no_board(text) or time.monotonic() > deadline:
                raise _board_error(connect, text) if _no_board(text) else FirmwareError(
                    "mpremote could not install the firmware on %s: %s" % (connect, text))
        out("installed %d files on %s; the board is restarting" % (len(built), connect))
        return [dest for _local, dest in built]


def run(args):
    flash(getattr(args, "port", None))
    return 0

