"""Fault injection between the simulated dowel and the host decoder.

Part 1, volume (in process): the body model's `mixed` scenario is sampled at 500 Hz and packed
by the firmware's own SampleWriter (one STATUS a second, as the firmware sends), the byte
stream goes through an injector (bit flips, dropped bytes, inserted garbage, bursts, whole
frames lost) and into the host's StreamDecoder in 4 KiB reads. Every frame the host accepts is
checked against the frame that was sent, and the frames lost are compared with what the host
counted from sequence gaps.

Part 2, link (real ptys): see link_faults() -- the simulated dowel on one pty, a proxy on a
second pty that the host's SerialLink opens; the proxy stalls, corrupts, unplugs and replugs.

    python bench/faults_bench.py [--frames N]
"""

import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import array  # noqa: E402

import numpy as np  # noqa: E402

import dowel_protocol as P  # noqa: E402
from smart_dowel.fsr import newtons_to_counts  # noqa: E402
from smart_dowel.sim.body import make_body  # noqa: E402

RATE_HZ = 500
CHUNK = 4096


def clean_frames(n_frames, seed=1):
    """n_frames complete frames (SAMPLEs plus a STATUS each second), one sequence counter."""
    body = make_body("mixed", seed=seed)
    r = body.render(RATE_HZ)
    counts = [newtons_to_counts(r[k]) for k in ("head_n", "midback_n", "tailbone_n")]
    acc = [np.clip(np.round(r[k] * 1000), -32768, 32767).astype(int) for k in ("ax_g", "ay_g", "az_g")]
    gyr = [np.clip(np.round(r[k] * 10), -32768, 32767).astype(int) for k in ("gx_dps", "gy_dps", "gz_dps")]
    m = len(r["t"])
    rows = list(zip(*(c.tolist() for c in counts), *(a.tolist() for a in acc), *(g.tolist() for g in gyr)))
    w = P.SampleWriter()
    imu = array.array("h", [0] * 6)
    frames = []
    seq = 0
    i = 0
    while len(frames) < n_frames:
        h, mb, tb, ax, ay, az, gx, gy, gz = rows[i % m]
        imu[0], imu[1], imu[2], imu[3], imu[4], imu[5] = ax, ay, az, gx, gy, gz
        frames.append(bytes(w.pack(seq, i * (1000000 // RATE_HZ), h, mb, tb, imu, 0)))
        seq += 1
        i += 1
        if i % RATE_HZ == 0 and len(frames) < n_frames:
            frames.append(P.pack(P.STATUS, seq, (i * 2, i, 0, 0, 0, 0, RATE_HZ, 3, 0, 1, 0, 0)))
            seq += 1
    return frames


KINDS = ("bitflip", "drop_bytes", "garbage", "burst", "lose_frame")


def corrupt(rng, frame):
    """One injected fault on one frame: (kind, the bytes sent instead, burst bytes that spill
    over into the frames after it)."""
    kind = rng.choice(KINDS)
    b = bytearray(frame)
    spill = 0
    if kind == "bitflip":
        for _ in range(rng.randint(1, 3)):
            j = rng.randrange(len(b))
            b[j] ^= 1 << rng.randrange(8)
    elif kind == "drop_bytes":
        for _ in range(rng.randint(1, 4)):
            del b[rng.randrange(len(b))]
    elif kind == "garbage":
        j = rng.randrange(len(b) + 1)
        b[j:j] = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 40)))
    elif kind == "burst":
        start = rng.randrange(len(b))
        length = rng.randint(8, 120)
        k = min(length, len(b) - start)
        b[start : start + k] = bytes(rng.getrandbits(8) for _ in range(k))
        spill = length - k
    else:  # lose_frame
        b = bytearray()
    return kind, bytes(b), spill


class Injector:
    """Corrupts a frame stream; remembers which frames it touched."""

    def __init__(self, seed, fault_rate):
        self.rng = random.Random(seed)
        self.fault_rate = fault_rate
        self.touched = set()
        self.by_kind = dict.fromkeys(KINDS, 0)

    def run(self, frames):
        rng = self.rng
        out = bytearray()
        n = len(frames)
        burst_left = 0
        for i, f in enumerate(frames):
            if burst_left > 0:  # a burst that started in an earlier frame runs on
                k = min(burst_left, len(f))
                f = bytes(rng.getrandbits(8) for _ in range(k)) + f[k:]
                burst_left -= k
                self.touched.add(i)
            elif 10 <= i < n - 10 and rng.random() < self.fault_rate:
                kind, f, burst_left = corrupt(rng, f)
                self.by_kind[kind] += 1
                self.touched.add(i)
            out += f
        return bytes(out)


def check(frames, wire):
    """Decode wire like the host does; compare with what was sent."""
    d = P.StreamDecoder()
    accepted_ok = 0
    corrupted = 0
    last = -1
    for i in range(0, len(wire), CHUNK):
        for m in d.feed(wire[i : i + CHUNK]):
            nxt = last + 1
            idx = nxt + ((m.seq - nxt) & 0xFFFF)
            if idx < len(frames) and P.pack(m.type, m.seq, m.values) == frames[idx]:
                accepted_ok += 1
                last = idx
            else:
                corrupted += 1
    true_lost = len(frames) - accepted_ok
    return {
        "accepted": accepted_ok,
        "corrupted_accepted": corrupted,
        "true_lost": true_lost,
        "host_counted_lost": d.lost_frames,
        "rejected": d.rejected(),
        "counters": d.counters(),
    }


def volume(n_frames=1_000_000, fault_rate=0.02, seed=7):
    t0 = time.perf_counter()
    frames = clean_frames(n_frames)
    t_gen = time.perf_counter() - t0
    inj = Injector(seed, fault_rate)
    wire = inj.run(frames)
    t0 = time.perf_counter()
    res = check(frames, wire)
    t_dec = time.perf_counter() - t0
    return {
        "fault_frames_total": len(frames),
        "fault_frames_injected": len(inj.touched),
        "fault_kinds": inj.by_kind,
        "corrupted_frames_accepted": res["corrupted_accepted"],
        "frames_lost": res["true_lost"],
        "frames_lost_counted": res["host_counted_lost"],
        "lost_frames_miscounted": abs(res["true_lost"] - res["host_counted_lost"]),
        "frames_rejected": res["rejected"],
        "generate_s": round(t_gen, 1),
        "decode_s": round(t_dec, 1),
    }


def run(n_frames=1_000_000):
    out = volume(n_frames)
    try:
        from bench.link_faults import link_faults
    except ImportError:
        return out
    out.update(link_faults())
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=1_000_000)
    a = ap.parse_args()
    for k, v in run(a.frames).items():
        print("%-28s %s" % (k, v))
