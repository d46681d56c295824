"""`dowel ports`: every serial port, marking those with the dowel's USB id and those that
answered GET_INFO with their firmware version and board id.
"""

from __future__ import annotations

import sys

from .detect import DOWEL_VID, list_serial_ports, probe_ports


def format_ports(entries, results):
    """The lines `dowel ports` prints for these PortEntry and ProbeResult lists."""
    if not entries:
        return [
            "No serial ports found. Plug the dowel in with a USB data cable, "
            "or try the simulated dowel with `dowel demo`."
        ]
    by_device = {r.entry.device: r for r in results}
    rows = [("PORT", "USB ID", "DESCRIPTION", "DOWEL")]
    for e in entries:
        r = by_device.get(e.device)
        if r is None:
            mark = "no"
        elif r.info is not None:
            mark = "yes: firmware %s, board %s, IMU %s, %d Hz" % (
                r.info.fw_version, r.info.board_id, r.info.imu_name, r.info.rate_hz,
            )
        else:
            mark = "maybe (Raspberry Pi USB id): %s" % r.error
        rows.append((e.device, e.usb_id, e.description or "-", mark))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        "%s  %s  %s  %s" % (row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].ljust(widths[2]), row[3])
        for row in rows
    ]
    found = [r for r in results if r.info is not None]
    if found:
        lines.append("%d dowel(s) found; `dowel ui` connects to the first." % len(found))
    else:
        lines.append(
            "No dowel found: a dowel has USB id %04x:xxxx and answers GET_INFO. "
            "Plug it in, or try the simulated dowel with `dowel demo`." % DOWEL_VID
        )
    return lines


def run(args, out=None):
    """List the ports; exit status 0 (the listing itself is the answer)."""
    out = out or sys.stdout
    entries = list_serial_ports()
    results = probe_ports(entries)
    for line in format_ports(entries, results):
        print(line, file=out)
    return 0
