"""Opening a serial port exclusively, and turning every way that fails into one clear sentence.

The only module (with link.py and detect.py, which call it) that imports pyserial.
"""

from __future__ import annotations

import errno
import sys

import serial

from ..errors import PortError

DIALOUT_HINT = (
    "add your user to the dialout group with `sudo usermod -aG dialout $USER`, "
    "then log out and back in"
)

_MISSING = {errno.ENOENT, errno.ENODEV, errno.ENXIO}
_DENIED = {errno.EACCES, errno.EPERM}
_BUSY = {errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK}


def _errno_of(exc):
    """The errno of an OSError / SerialException, also when pyserial put it only in the text."""
    code = getattr(exc, "errno", None)
    if isinstance(code, int):
        return code
    text = str(exc)
    for name in ("ENOENT", "EACCES", "EBUSY", "EAGAIN"):
        num = getattr(errno, name)
        if "[Errno %d]" % num in text:
            return num
    return None


def port_error(path, exc, platform=None):
    """The PortError (one clear sentence) for a failure to open `path` with exception `exc`."""
    platform = platform or sys.platform
    code = _errno_of(exc)
    if code in _MISSING:
        return PortError(
            "No serial port at %s: check that the dowel is plugged in, "
            "or run `dowel ports` to list the ports." % path
        )
    if code in _DENIED:
        if platform.startswith("linux"):
            return PortError(
                "Permission denied opening %s: %s." % (path, DIALOUT_HINT)
            )
        return PortError("Permission denied opening %s: your user may not use this port." % path)
    if code in _BUSY or "exclusively lock" in str(exc):
        return PortError(
            "%s is in use by another program (another dowel window, a serial monitor or "
            "mpremote): close it and try again." % path
        )
    if "configure port" in str(exc) or code == errno.ENOTTY:
        return PortError("%s is not a serial port." % path)
    return PortError("Cannot open %s: %s." % (path, exc))


def open_serial(path, read_timeout_s=0.005, write_timeout_s=0.5):
    """Open `path` exclusively (no other program may open it while we hold it).

    Raises PortError for a missing, busy or forbidden port. USB CDC ignores the baud rate.
    """
    try:
        return serial.Serial(
            path,
            baudrate=115200,
            timeout=read_timeout_s,
            write_timeout=write_timeout_s,
            exclusive=True,
        )
    except (serial.SerialException, OSError, ValueError) as e:
        raise port_error(path, e) from e
