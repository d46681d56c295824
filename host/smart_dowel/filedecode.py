"""Bulk decoding of a recording's bytes: a whole buffer of frames at once with numpy, for reading
files (`dowel analyze`, read_recording), where the per-frame decoder costs ~2.5 s an hour.

feed_rows(decoder, data) does to a StreamDecoder exactly what decoder.feed(data) does (every
counter and every piece of its state), and gives the SAMPLE values as an int64 array instead of
a Message per frame. The common frame, a well-formed 1.2 SAMPLE, is COBS-decoded and checked
(CRC-16 and CRC-32) for the whole buffer at once; any other frame (other types and versions,
anything broken, the end of a junk run) goes through decoder.feed itself, one frame at a time,
as do the sequence breaks and RESYNC samples of the fast frames; the live link keeps feed().
tests/test_files_bulk_decode.py compares the two over clean, corrupted and mixed-version files.
"""

import numpy as np

from dowel_protocol import (
    FLAG_RESYNC,
    MAX_ENCODED,
    PROTOCOL_VERSION,
    SAMPLE,
    SAMPLE_BODY_LEN,
    Message,
)
from dowel_protocol.crc import CHECK_RESIDUE, crc16, crc32

SAMPLE_FIELDS_N = 11  # t_us head midback tailbone ax ay az gx gy gz flags, as unpack_body gives
_ENCODED_LEN = SAMPLE_BODY_LEN + 1  # a SAMPLE body never has 254 non-zero bytes in a row
_CRC_END = SAMPLE_BODY_LEN - 2  # the CRC-16 covers the body before itself, the CRC-32 too

# A 1.2 SAMPLE body, field by field (messages.py: header "<BBH", payload "<IHHHhhhhhhB", the
# CRC-32 check, the CRC-16)
_BODY = np.dtype({
    "names": ["version", "type", "seq", "t_us", "head", "midback", "tailbone",
              "ax", "ay", "az", "gx", "gy", "gz", "flags", "crc16"],
    "formats": ["u1", "u1", "<u2", "<u4", "<u2", "<u2", "<u2",
                "<i2", "<i2", "<i2", "<i2", "<i2", "<i2", "u1", "<u2"],
    "offsets": [0, 1, 2, 4, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, _CRC_END],
    "itemsize": SAMPLE_BODY_LEN,
})
_VALUE_FIELDS = ("t_us", "head", "midback", "tailbone", "ax", "ay", "az", "gx", "gy", "gz",
                 "flags")


def _position_table(crc, n):
    """A CRC over n bytes is affine in them: crc(x) = crc(0...0) ^ XOR_i table[i, x[i]]. The
    table is computed with the protocol's own CRC function (n * 256 calls)."""
    zero = crc(bytes(n))
    table = np.empty((n, 256), dtype=np.uint64)
    buf = bytearray(n)
    for i in range(n):
        for b in range(256):
            buf[i] = b
            table[i, b] = crc(bytes(buf)) ^ zero
        buf[i] = 0
    return zero, table


_table = None


def _crc_table():
    """Both CRCs of a SAMPLE body in one table: the CRC-16 in bits 0-15, the CRC-32 above."""
    global _table
    if _table is None:
        z16, t16 = _position_table(crc16, _CRC_END)
        z32, t32 = _position_table(crc32, _CRC_END)
        _table = (z16 | z32 << 16, (t16 | t32 << np.uint64(16)).ravel())
    return _table


_OFFSETS = (np.arange(_CRC_END) * 256).astype(np.uint16)  # where row i of the table starts


def _crcs_of_rows(rows):
    """CRC-16 | CRC-32 << 16 of each row's first _CRC_END bytes (a uint8 array)."""
    zero, table = _crc_table()
    acc = table[rows[:, :_CRC_END] + _OFFSETS]
    return np.bitwise_xor.reduce(acc, axis=1) ^ np.uint64(zero)


def _cobs_decode_samples(frames):
    """COBS-decode each row of frames (m, 34), none holding a 0x00: (bodies (m, 33), ok (m,)).
    ok is False where the code chain does not end exactly at the frame's end (the decoder
    rejects those); each code byte after the first stands for a 0x00 of the body (no code is
    0xFF in 34 bytes)."""
    m = len(frames)
    n = _ENCODED_LEN
    is_code = np.zeros((m, n + 1), dtype=bool)
    end = np.empty(m, dtype=np.intp)
    rows = np.arange(m)
    p = np.zeros(m, dtype=np.intp)
    while len(rows):
        is_code[rows, p] = True
        p = p + frames[rows, p]
        done = p >= n
        end[rows[done]] = p[done]
        rows, p = rows[~done], p[~done]
    bodies = frames[:, 1:].copy()
    bodies[is_code[:, 1:n]] = 0
    return bodies, end == n


def _good_samples(frames):
    """(bodies as _BODY records, ok) for candidate frames (m, 34): ok where the frame is a 1.2
    SAMPLE that unpack_body accepts (COBS, CRC-16, CRC-32, version, type, length)."""
    bodies, ok = _cobs_decode_samples(frames)
    rec = bodies.view(_BODY).reshape(-1)
    ok &= (rec["version"] == PROTOCOL_VERSION) & (rec["type"] == SAMPLE)
    # the CRC-16, and the check as unpack_body takes it: the CRC-32 of the fields and their
    # check is the residue
    want = rec["crc16"].astype(np.uint64) | np.uint64(CHECK_RESIDUE << 16)
    ok &= _crcs_of_rows(bodies) == want
    return rec, ok


def _values(rec):
    """The SAMPLE values of records, as unpack_body's tuples would be: int64 (n, 11)."""
    out = np.empty((len(rec), SAMPLE_FIELDS_N), dtype=np.int64)
    for j, name in enumerate(_VALUE_FIELDS):
        out[:, j] = rec[name]
    return out


def _sample_rows(msgs):
    rows = [m.values for m in msgs if m.type == SAMPLE]
    return np.array(rows, dtype=np.int64).reshape(-1, SAMPLE_FIELDS_N)


def _run(dec, rec, values):
    """What feed() does for a run of accepted 1.2 SAMPLEs (rec, values: theirs, in order).

    A frame that continues the sequence, with no break left open and no RESYNC flag, only
    counts and moves the baseline; every other one goes through the decoder's own methods."""
    k = len(rec)
    seq = rec["seq"].astype(np.int64)
    events = np.zeros(k, dtype=bool)
    events[0] = True
    events[1:] = seq[1:] != (seq[:-1] + 1) & 0xFFFF
    events |= (rec["flags"] & FLAG_RESYNC) != 0
    done = 0
    for e in np.flatnonzero(events).tolist() + [k]:
        if e > done:  # frames done..e-1: the sequence continues, nothing to see
            dec.frames += e - done
            dec._seen += e - done
            dec._expect_seq = (int(seq[e - 1]) + 1) & 0xFFFF
            dec._last_t = int(values[e - 1, 0])
        if e == k:
            break
        dec.frames += 1
        dec.checked = True  # a 1.2 frame was accepted
        dec._track_seq(int(seq[e]))
        dec._restart_signs(Message(SAMPLE, int(seq[e]), "sample", tuple(values[e].tolist()),
                                   PROTOCOL_VERSION))
        done = e + 1


def feed_rows(dec, data):
    """dec.feed(data), with the SAMPLE values as an int64 array (n, 11) in stream order:
    (that array, the other messages, in stream order).
    For a decoder made with report_errors=False (a file reader has no one to NACK)."""
    if dec.report_errors:
        raise ValueError("feed_rows() gives no errors: use feed() with report_errors")
    if 0 not in data:
        return _sample_rows(dec.feed(data)), []
    buf = bytes(dec._buf) + bytes(data)
    dec._buf = bytearray()
    arr = np.frombuffer(buf, dtype=np.uint8)
    zeros = np.flatnonzero(arr == 0)
    tail = buf[zeros[-1] + 1:]
    starts = np.empty(len(zeros), dtype=np.intp)
    starts[0] = 0
    starts[1:] = zeros[:-1] + 1
    lens = zeros - starts
    if len(tail) > MAX_ENCODED:
        dec._drop_junk(len(tail))  # as feed() does, before the frames (the first may end it)
        tail = b""
    slow_msgs = []
    first = 0
    if dec._discarding:  # the end of a junk run: feed() takes it, empty or not
        slow_msgs.extend(dec.feed(buf[starts[0]:zeros[0] + 1]))
        first = 1
    idx = first + np.flatnonzero(lens[first:] > 0)  # empty parts are idle delimiters
    cand = idx[lens[idx] == _ENCODED_LEN]
    fast = np.zeros(len(idx), dtype=bool)
    rec = values = None
    if len(cand):
        frames = np.lib.stride_tricks.sliding_window_view(arr, _ENCODED_LEN)[starts[cand]]
        rec, ok = _good_samples(frames)
        rec = rec[ok]
        values = _values(rec)
        fast[np.searchsorted(idx, cand[ok])] = True
    # runs of fast frames between the slow ones, in stream order
    segments = []
    f = 0  # fast frames handled
    n_idx = len(idx)
    change = np.flatnonzero(np.diff(fast.astype(np.int8))) + 1
    bounds = [0] + change.tolist() + [n_idx]
    for a, b in zip(bounds[:-1], bounds[1:]):
        if a == b:
            continue
        if fast[a]:
            _run(dec, rec[f:f + b - a], values[f:f + b - a])
            segments.append(values[f:f + b - a])
            f += b - a
        else:
            msgs = []
            for j in idx[a:b].tolist():
                msgs.extend(dec.feed(buf[starts[j]:zeros[j] + 1]))
            segments.append(_sample_rows(msgs))
            slow_msgs.extend(m for m in msgs if m.type != SAMPLE)
    dec._buf = bytearray(tail)
    if not segments:
        return np.zeros((0, SAMPLE_FIELDS_N), dtype=np.int64), slow_msgs
    rows = segments[0] if len(segments) == 1 else np.concatenate(segments)
    return rows, slow_msgs
