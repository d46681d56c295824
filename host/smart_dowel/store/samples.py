"""Raw samples as the store keeps them: a numpy record per sample, packed in compressed blocks.

Every sample of a session is kept exactly as the dowel sent it (ADC counts, milli-g, tenths
of a degree per second, flags, sequence number); only the device clock is unwrapped into
microseconds since the session's first sample, so a session can be re-analysed later.
"""

import struct
import zlib

import numpy as np

from dowel_protocol import SAMPLE, T_US_MODULUS

# One stored sample. t_us: microseconds since the session's first sample (device clock,
# unwrapped, re-anchored on the host clock after a reconnect that reset the device).
SAMPLE_DTYPE = np.dtype(
    [
        ("t_us", "<i8"),
        ("seq", "<u2"),
        ("head", "<u2"),
        ("midback", "<u2"),
        ("tailbone", "<u2"),
        ("ax_mg", "<i2"),
        ("ay_mg", "<i2"),
        ("az_mg", "<i2"),
        ("gx_ddps", "<i2"),
        ("gy_ddps", "<i2"),
        ("gz_ddps", "<i2"),
        ("flags", "u1"),
    ]
)
_RAW_FIELDS = SAMPLE_DTYPE.names[1:]  # everything but the time, in wire order (seq first)

BLOCK_FORMAT = 1
_BLOCK_HEADER = struct.Struct("<BI")  # format, sample count
ZLIB_LEVEL = 6


def empty():
    return np.zeros(0, dtype=SAMPLE_DTYPE)


def pack_block(block):
    """Compress a run of samples (SAMPLE_DTYPE) into one BLOB: column-major, time and sequence
    delta-coded, zlib. Sensor columns change slowly, so this is 3-5x smaller than the wire."""
    block = np.ascontiguousarray(block, dtype=SAMPLE_DTYPE)
    n = len(block)
    parts = [_BLOCK_HEADER.pack(BLOCK_FORMAT, n)]
    if n:
        t = block["t_us"]
        parts.append(struct.pack("<q", int(t[0])))
        parts.append(np.diff(t).astype("<i8").tobytes())
        seq = block["seq"]
        parts.append(struct.pack("<H", int(seq[0])))
        parts.append(np.diff(seq).astype("<u2").tobytes())  # wraps modulo 2**16, as seq does
        for name in _RAW_FIELDS[1:]:
            parts.append(np.ascontiguousarray(block[name]).tobytes())
    return zlib.compress(b"".join(parts), ZLIB_LEVEL)


def unpack_block(blob):
    """The samples of one BLOB written by pack_block. Raises ValueError on a damaged blob."""
    raw = zlib.decompress(blob)
    fmt, n = _BLOCK_HEADER.unpack_from(raw, 0)
    if fmt != BLOCK_FORMAT:
        raise ValueError("sample block format %d is not known to this version" % fmt)
    out = np.zeros(n, dtype=SAMPLE_DTYPE)
    if n == 0:
        return out
    pos = _BLOCK_HEADER.size
    (t0,) = struct.unpack_from("<q", raw, pos)
    pos += 8
    dt = np.frombuffer(raw, dtype="<i8", count=n - 1, offset=pos)
    pos += 8 * (n - 1)
    out["t_us"][0] = t0
    out["t_us"][1:] = t0 + np.cumsum(dt)
    (s0,) = struct.unpack_from("<H", raw, pos)
    pos += 2
    ds = np.frombuffer(raw, dtype="<u2", count=n - 1, offset=pos)
    pos += 2 * (n - 1)
    out["seq"][0] = s0
    out["seq"][1:] = (s0 + np.cumsum(ds, dtype=np.uint64)) & 0xFFFF
    for name in _RAW_FIELDS[1:]:
        dtype = SAMPLE_DTYPE.fields[name][0]
        out[name] = np.frombuffer(raw, dtype=dtype, count=n, offset=pos)
        pos += dtype.itemsize * n
    if pos != len(raw):
        raise ValueError("sample block has %d trailing bytes" % (len(raw) - pos))
    return out


def from_messages(messages):
    """Raw device fields of the SAMPLE messages in a list (other message types are skipped).

    Returns (raw_t_us int64 array of the device's wrapping clock, records with t_us unset).
    """
    rows = [(m.seq,) + tuple(m.values) for m in messages if m.type == SAMPLE]
    out = np.zeros(len(rows), dtype=SAMPLE_DTYPE)
    if not rows:
        return np.zeros(0, dtype=np.int64), out
    arr = np.array(rows, dtype=np.int64)
    # message values: t_us, head, midback, tailbone, ax, ay, az, gx, gy, gz, flags
    out["seq"] = arr[:, 0]
    raw_t = arr[:, 1].copy()
    for i, name in enumerate(_RAW_FIELDS[1:]):
        out[name] = arr[:, 2 + i]
    return raw_t, out


class DeviceClock:
    """Turns the dowel's 30-bit microsecond clock into microseconds since the first sample.

    The clock wraps every ~17.9 minutes; a step backwards is a wrap. Across a reconnect the
    device clock is trusted if it moved by about as much as the host clock did (the dowel kept
    running); otherwise (the dowel was reset or power-cycled) the timeline is re-anchored on
    the host's measurement. The host's view comes from `gap(host_s)` (the link's gap event)
    or from the receive time passed with each batch.
    """

    JUMP_S = 0.5  # a step between samples longer than this is a discontinuity

    def __init__(self, modulus=T_US_MODULUS):
        self.modulus = int(modulus)
        self._last_raw = None
        self._last_t = None  # last output, session microseconds
        self._last_host = None  # host receive time (s) of the last sample
        self._gap_host_us = None
        self.last_jump = None  # (t_before_us, t_after_us) of the latest discontinuity

    @property
    def last_t_us(self):
        return self._last_t

    def gap(self, host_s):
        """The link was down for host_s seconds before the next sample."""
        self._gap_host_us = max(0, int(round(host_s * 1e6)))

    def _plausible(self, step_us, host_us):
        return abs(step_us - host_us) <= 1_000_000 + host_us // 5

    def unwrap(self, raw_t_us, host_time_s=None):
        """Session microseconds for a batch of raw device times.

        host_time_s: the host clock (any monotonic seconds) when the first of them arrived.
        """
        raw = np.asarray(raw_t_us, dtype=np.int64) % self.modulus
        n = len(raw)
        out = np.zeros(n, dtype=np.int64)
        if n == 0:
            return out
        if self._last_raw is None:
            first_t = 0
        else:
            step = int((raw[0] - self._last_raw) % self.modulus)
            host_us = None
            if self._gap_host_us is not None:
                host_us = self._gap_host_us
            elif host_time_s is not None and self._last_host is not None and step > 2_000_000:
                host_us = max(0, int(round((host_time_s - self._last_host) * 1e6)))
            if host_us is not None and not self._plausible(step, host_us):
                step = max(host_us, 1)
            first_t = self._last_t + step
            if step > self.JUMP_S * 1e6:
                self.last_jump = (self._last_t, first_t)
        self._gap_host_us = None
        steps = np.diff(raw) % self.modulus
        out[0] = first_t
        out[1:] = first_t + np.cumsum(steps)
        self._last_raw = int(raw[-1])
        self._last_t = int(out[-1])
        if host_time_s is not None:
            # the last sample arrived no earlier than the first; its exact time is unknown
            self._last_host = host_time_s + (out[-1] - out[0]) / 1e6
        return out
