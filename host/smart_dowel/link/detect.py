"""Finding a dowel: serial ports with the Raspberry Pi USB vendor id, confirmed by an INFO reply.

Only ports that look like a dowel are probed: writing to an unknown serial device is not ours to do.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import dowel_protocol as P
import serial
from serial.tools import list_ports

from ..errors import PortError
from .serialport import open_serial
from .types import DeviceInfo

DOWEL_VID = 0x2E8A  # Raspberry Pi (RP2040 boards, MicroPython's USB CDC)
PROBE_TIMEOUT_S = 0.8


@dataclass(frozen=True)
class PortEntry:
    """One serial port as the operating system lists it."""

    device: str
    vid: int | None = None
    pid: int | None = None
    description: str = ""
    serial_number: str | None = None

    @property
    def looks_like_dowel(self):
        return self.vid == DOWEL_VID

    @property
    def usb_id(self):
        if self.vid is None:
            return "-"
        return "%04x:%04x" % (self.vid, self.pid or 0)


@dataclass(frozen=True)
class ProbeResult:
    """What a port said to GET_INFO: info, or an error sentence (busy, no answer, ...)."""

    entry: PortEntry
    info: DeviceInfo | None
    error: str | None


def list_serial_ports():
    """Every serial port the operating system reports, sorted by device path."""
    out = []
    for p in list_ports.comports():
        desc = p.description if p.description and p.description != "n/a" else ""
        out.append(PortEntry(p.device, p.vid, p.pid, desc, p.serial_number))
    return sorted(out, key=lambda e: e.device)


def probe_port(path, timeout_s=PROBE_TIMEOUT_S):
    """Ask the device at `path` for its INFO. Returns DeviceInfo, or None if nothing answered.

    Raises PortError if the port cannot be opened (missing, busy, permission).
    """
    ser = open_serial(path, read_timeout_s=0.02)
    try:
        return _ask_info(ser, timeout_s)
    except (serial.SerialException, OSError) as e:
        raise PortError("%s failed while asking for INFO: %s." % (path, e)) from e
    finally:
        ser.close()


def _ask_info(ser, timeout_s):
    decoder = P.StreamDecoder()
    seq = int(time.monotonic() * 1000) & 0xFFFF
    ser.write(P.pack(P.CMD_GET_INFO, seq))
    deadline = time.monotonic() + timeout_s
    info = None
    acked = False
    while time.monotonic() < deadline:
        for msg in decoder.feed(ser.read(ser.in_waiting or 1)):
            if msg.type == P.INFO:
                info = DeviceInfo.from_message(msg)
            elif msg.type in (P.ACK, P.NACK) and msg.cmd_seq == seq:
                acked = True
        if info is not None and acked:
            return info
    return info


def probe_ports(entries, timeout_s=PROBE_TIMEOUT_S):
    """Probe the entries that look like a dowel; a ProbeResult for each of those."""
    results = []
    for e in entries:
        if not e.looks_like_dowel:
            continue
        try:
            info = probe_port(e.device, timeout_s)
        except PortError as err:
            results.append(ProbeResult(e, None, str(err)))
            continue
        if info is None:
            results.append(ProbeResult(e, None, "No answer to GET_INFO within %.1f s." % timeout_s))
        else:
            results.append(ProbeResult(e, info, None))
    return results


def find_dowel(board_id=None, ports=None, timeout_s=PROBE_TIMEOUT_S):
    """The (path, DeviceInfo) of the first dowel that answers INFO (with that board id, if given).

    ports: the PortEntry list to search (default: the operating system's). Raises PortError
    with one sentence saying what was found if there is no dowel.
    """
    entries = list_serial_ports() if ports is None else list(ports)
    results = probe_ports(entries, timeout_s)
    for r in results:
        if r.info is not None and (board_id is None or r.info.board_id == board_id):
            return r.entry.device, r.info
    if board_id is not None:
        raise PortError("The dowel with board id %s is not connected." % board_id)
    if not results:
        raise PortError(
            "No dowel found: no serial port has the Raspberry Pi USB id %04x; plug the dowel in, "
            "give the port with --port, or use the simulated dowel (`dowel demo`)." % DOWEL_VID
        )
    why = "; ".join("%s: %s" % (r.entry.device, r.error) for r in results)
    raise PortError("No dowel found: %s" % why)
