"""Renders a body model's whole scenario to the binary sensor stream the MicroPython board
reads (mp/simboard.py): one row per millisecond, already in the board's units."""

import struct

import numpy as np

from ..fsr import newtons_to_counts

MAGIC = b"DWLS"
VERSION = 1
HEADER_FMT = "<4sBHI"  # magic, version, rows per second, rows
ROW_DTYPE = np.dtype([
    ("head", "<u2"), ("midback", "<u2"), ("tailbone", "<u2"),
    ("ax", "<i2"), ("ay", "<i2"), ("az", "<i2"), ("gx", "<i2"), ("gy", "<i2"), ("gz", "<i2"),
])
ROWS_PER_S = 1000


def render_rows(body, rows_per_s=ROWS_PER_S):
    """The scenario as a structured array of board readings (ADC counts, mg, 0.1 deg/s)."""
    d = body.render(rows_per_s)
    rows = np.zeros(len(d["t"]), dtype=ROW_DTYPE)
    for name, key in (("head", "head_n"), ("midback", "midback_n"), ("tailbone", "tailbone_n")):
        rows[name] = newtons_to_counts(d[key])
    for name, key, scale in (("ax", "ax_g", 1000.0), ("ay", "ay_g", 1000.0), ("az", "az_g", 1000.0),
                             ("gx", "gx_dps", 10.0), ("gy", "gy_dps", 10.0), ("gz", "gz_dps", 10.0)):
        rows[name] = np.clip(np.round(d[key] * scale), -32768, 32767)
    return rows


def write_stream(body, path, rows_per_s=ROWS_PER_S):
    """Write the stream file for body; returns the number of rows."""
    rows = render_rows(body, rows_per_s)
    with open(path, "wb") as f:
        f.write(struct.pack(HEADER_FMT, MAGIC, VERSION, rows_per_s, len(rows)))
        f.write(rows.tobytes())
    return len(rows)
