"""Wire-format figures: SAMPLE frame size, bytes/s at 100 and 500 Hz, and host-side decode
speed, side by side with pymavlink parsing MAVLink v2 SCALED_IMU messages of similar size.

    python bench/protocol_bench.py
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import dowel_protocol as p  # noqa: E402

N_FRAMES = 200_000
CHUNK = 4096  # bytes per read, like a serial reader draining its buffer


def _our_stream(n):
    frames = [
        p.pack(p.SAMPLE, i & 0xFFFF,
               ((i * 10000) & 0x3FFFFFFF, 8000 + i % 50, 21000, 15000, 12, -5, 998, 15, -3, i % 300, 0))
        for i in range(n)
    ]
    return b"".join(frames)


def _best_of(repeats, func):
    best = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        count = func()
        dt = time.perf_counter() - t0
        rate = count / dt
        best = rate if best is None or rate > best else best
    return best


def decode_rate(n=N_FRAMES, repeats=3):
    wire = _our_stream(n)

    def run():
        d = p.StreamDecoder()
        got = 0
        for i in range(0, len(wire), CHUNK):
            got += len(d.feed(wire[i : i + CHUNK]))
        assert got == n and d.rejected() == 0
        return got

    return _best_of(repeats, run)


def pymavlink_rate(n=N_FRAMES // 4, repeats=3):
    """MAVLink v2 SCALED_IMU (22-byte payload, 34 bytes on the wire) parsed by pymavlink."""
    try:
        os.environ.setdefault("MAVLINK20", "1")
        from pymavlink.dialects.v20 import common as mavlink2
    except ImportError:
        return None
    enc = mavlink2.MAVLink(None, srcSystem=1, srcComponent=1)
    wire = b"".join(
        enc.scaled_imu_encode(i * 10, 12, -5, 998, 15, -3, i % 300, 210, -330, 415).pack(enc)
        for i in range(n)
    )

    def run():
        dec = mavlink2.MAVLink(None)
        dec.robust_parsing = True
        got = 0
        for i in range(0, len(wire), CHUNK):
            msgs = dec.parse_buffer(wire[i : i + CHUNK])
            if msgs:
                got += len(msgs)
        assert got == n, got
        return got

    return _best_of(repeats, run), len(wire) // n


def run():
    frame_len = len(p.pack(p.SAMPLE, 0, (0,) * 11))
    status_len = len(p.pack(p.STATUS, 0, (0,) * 12))
    ours = decode_rate()
    mav = pymavlink_rate()
    out = {
        "sample_frame_bytes": frame_len,
        "bytes_per_s_100hz": frame_len * 100 + status_len,
        "bytes_per_s_500hz": frame_len * 500 + status_len,
        "decode_frames_per_s": round(ours),
    }
    if mav is not None:
        out["pymavlink_frames_per_s"] = round(mav[0])
        out["pymavlink_frame_bytes"] = mav[1]
        out["decode_speedup_vs_pymavlink"] = round(ours / mav[0], 2)
    return out


if __name__ == "__main__":
    for k, v in run().items():
        print("%-30s %s" % (k, v))
