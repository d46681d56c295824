"""Fault injection between the simulated dowel and the host decoder.

Part 1, volume (in process): the body model's `mixed` scenario is sampled at 500 Hz and packed
by the firmware's own SampleWriter (one STATUS a second, as the firmware sends), with a restart
of the dowel every 45,000 frames (its counter past 0x8000, the clock from 0, a new boot id),
1.8 million frames in all. The byte stream goes through an injector that hits half of the
frames, over 10^6 of them (bit flips, dropped bytes, inserted garbage, bursts, whole frames
lost), and into the host's StreamDecoder in 4 KiB reads. Every frame the host accepts is
checked against the frame that was sent, and the frames lost are compared with what the host
counted: lost from sequence gaps, or rejected with a trustworthy header, each once; those lost
right at a restart, which no receiver can count, as unknown. The frames are protocol 1.2's,
with the CRC-32 check: the corrupted frames whose CRC-16 still matched (refused by the check
alone) are counted, and of them those a receiver trusting the CRC-16 alone would have
accepted as a well-formed message.

Part 2, link (real ptys): see link_faults() -- the simulated dowel on one pty, a proxy on a
second pty that the host's SerialLink opens; the proxy stalls, corrupts, unplugs and replugs.

    python bench/faults_bench.py [--frames N] [--seeds 7,8,9] [--no-link]
        (about a minute per seed, plus 40 s for the link part)
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
N_FRAMES = 1_800_000
FAULT_RATE = 0.5  # of the frames: about 10^6 of 1.8 million are hit
RESTART_EVERY = 45_000  # frames: the sequence counter is past 0x8000 at every restart


def clean_frames(n_frames, seed=1, restart_every=RESTART_EVERY):
    """n_frames complete frames (SAMPLEs plus a STATUS each second), one sequence counter, and
    every `restart_every` frames a restart: the counter and the clock from 0 again, a new boot
    id, the first sample flagged RESYNC (a firmware that streams from power-up). Restarts come
    after the counter has passed 0x8000, where "the sequence went backwards" cannot see them.

    Returns (frames, seqs, restarts): the frames' bytes, their sequence numbers, and the index
    of the first frame after each restart."""
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
    seqs = []
    restarts = []
    seq = 0
    i = 0  # samples since the last restart
    k = 0  # samples overall (the body model's row)
    boot = 0x5EED0000
    flags = 0
    while len(frames) < n_frames:
        if restart_every and len(frames) and len(frames) % restart_every == 0:
            restarts.append(len(frames))
            seq, i, flags = 0, 0, P.FLAG_RESYNC
            boot += 1
        h, mb, tb, ax, ay, az, gx, gy, gz = rows[k % m]
        imu[0], imu[1], imu[2], imu[3], imu[4], imu[5] = ax, ay, az, gx, gy, gz
        frames.append(bytes(w.pack(seq, i * (1000000 // RATE_HZ), h, mb, tb, imu, flags)))
        seqs.append(seq)
        seq = (seq + 1) & 0xFFFF
        flags = 0
        i += 1
        k += 1
        if i % RATE_HZ == 0 and len(frames) < n_frames:
            frames.append(P.pack(P.STATUS, seq, (i * 2, i, 0, 0, 0, 0, RATE_HZ, 3, 0, boot,
                                                 40, 90)))
            seqs.append(seq)
            seq = (seq + 1) & 0xFFFF
    return frames, seqs, restarts


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


def check(frames, seqs, restarts, wire):
    """Decode wire like the host does; compare with what was sent.

    Each accepted frame must be the very frame sent with its sequence number (after the last
    one accepted, in the same boot or the next): anything else is a corrupted frame accepted.
    The frames lost across a restart cannot be counted by any receiver (the sequence starts
    again); they are reported apart, and the host must count them as unknown, not as lost."""
    d = P.StreamDecoder(report_errors=True)
    accepted_ok = 0
    corrupted = 0
    crc16_alone = 0  # frames refused by the check alone that a CRC-16 receiver would accept
    v11_accepts = 0  # ... that a 1.1 host (the check read as a newer minor's bytes) would accept
    last = -1
    n = len(frames)
    lost_at_restarts = 0
    for i in range(0, len(wire), CHUNK):
        for m in d.feed(wire[i : i + CHUNK]):
            if isinstance(m, P.ProtocolError):
                if isinstance(m, P.CheckError) and m.body is not None:
                    crc16_alone += _crc16_accepts(m.body)
                    v11_accepts += _v11_accepts(m.body)
                continue
            found = None
            nxt = last + 1
            nxt_restart = next((r for r in restarts if r >= nxt), n)
            if nxt < n:
                idx = nxt + ((m.seq - seqs[nxt]) & 0xFFFF)  # the same boot
                if idx < nxt_restart and frames[idx] == _frame_of(m):
                    found = idx
            if found is None and nxt_restart < n:
                idx = nxt_restart + m.seq  # the first boot after the next restart
                if idx < n and frames[idx] == _frame_of(m):
                    found = idx
            if found is None:
                corrupted += 1
                continue
            if found >= nxt_restart:
                lost_at_restarts += found - nxt  # lost where the counter started again
            accepted_ok += 1
            last = found
    true_lost = n - accepted_ok
    c = d.counters()
    return {
        "accepted": accepted_ok,
        "corrupted_accepted": corrupted,
        "true_lost": true_lost,
        "lost_at_restarts": lost_at_restarts,
        # every frame not accepted is a sequence gap, or a frame whose header could be
        # trusted (good CRC) but not its payload or type, each counted once
        "host_counted_lost": c["lost_frames"] + c["bad_payload"] + c["unknown_type"],
        "rejected": d.rejected(),
        "crc16_alone_accepts": crc16_alone,
        "v11_accepts": v11_accepts,
        "counters": c,
    }


def _v11_accepts(body):
    """Would a 1.1 host have taken this frame (its CRC-16 matched)? It reads a 1.2 frame as a
    newer minor's, whose extra bytes (the check among them) it ignores."""
    v, t = body[0], body[1]
    if v >> 4 != 1 or t not in P.MESSAGES:
        return False
    size = P.payload_size(t)
    older = P.APPENDED.get(t)
    if older is not None and (v & 0x0F) < older[0]:
        size = _calcsize(older[1])
    plen = len(body) - 6
    if plen < size or (plen > size and t != P.TEXT and v <= 0x11):
        return False
    return not (t == P.TEXT and plen - size > P.MAX_TEXT)


def _calcsize(fmt):
    import struct

    return struct.calcsize(fmt)


def _crc16_accepts(body):
    """Would a receiver that trusts the CRC-16 alone (no check) have taken this frame?"""
    try:
        P.unpack_body(body, check=False)
    except P.ProtocolError:
        return False
    return True


def _frame_of(m):
    if m.type == P.SAMPLE:
        w = _WRITER
        v = m.values
        imu = _IMU
        imu[0], imu[1], imu[2], imu[3], imu[4], imu[5] = v[4], v[5], v[6], v[7], v[8], v[9]
        return bytes(w.pack(m.seq, v[0], v[1], v[2], v[3], imu, v[10]))
    return P.pack(m.type, m.seq, m.values, m.version)


_WRITER = P.SampleWriter()
_IMU = array.array("h", [0] * 6)


def volume(n_frames=N_FRAMES, fault_rate=FAULT_RATE, seed=7, clean=None):
    t0 = time.perf_counter()
    frames, seqs, restarts = clean if clean is not None else clean_frames(n_frames)
    t_gen = time.perf_counter() - t0
    inj = Injector(seed, fault_rate)
    wire = inj.run(frames)
    t0 = time.perf_counter()
    res = check(frames, seqs, restarts, wire)
    t_dec = time.perf_counter() - t0
    c = res["counters"]
    counted = res["host_counted_lost"]
    return {
        "fault_frames_total": len(frames),
        "fault_frames_injected": len(inj.touched),
        "fault_kinds": inj.by_kind,
        "corrupted_frames_accepted": res["corrupted_accepted"],
        "frames_lost": res["true_lost"],
        "frames_lost_counted": counted,
        "frames_lost_at_restarts_unknown": res["lost_at_restarts"],
        # every loss is counted: as lost where the sequence runs on, as unknown at a restart
        "lost_frames_miscounted": abs(res["true_lost"] - res["lost_at_restarts"] - counted),
        "restarts": len(restarts),  # every one after the counter passed 0x8000
        "restarts_seen": c["restarts"],
        "sequence_breaks_of_unknown_loss": c["unknown_loss"],
        "frames_rejected": res["rejected"],
        # corrupted frames that still had valid COBS and a possible length, rejected by a CRC
        "crc_errors": c["crc_errors"],
        # ... of them, those whose CRC-16 matched all the same, refused by the CRC-32 check
        "crc16_passed_check_refused": c["check_errors"],
        # ... and of those, the ones a CRC-16 receiver would have accepted as a message
        "crc16_alone_would_accept": res["crc16_alone_accepts"],
        # ... and those a 1.1 host would have accepted (it reads the check as appended bytes)
        "v1_1_host_would_accept": res["v11_accepts"],
        "frames_without_check_refused": c["downgraded"],
        "seed": seed,
        "generate_s": round(t_gen, 1),
        "decode_s": round(t_dec, 1),
    }


SUMMED = ("fault_frames_total", "fault_frames_injected", "corrupted_frames_accepted",
          "frames_lost", "frames_lost_counted", "frames_lost_at_restarts_unknown",
          "lost_frames_miscounted", "restarts", "restarts_seen", "crc_errors",
          "crc16_passed_check_refused", "crc16_alone_would_accept", "v1_1_host_would_accept")


def run(n_frames=N_FRAMES, seeds=(7,), link=True, report=None):
    """The volume part for each seed (the same clean stream, other faults), the totals over
    the seeds, then the link part once."""
    t0 = time.perf_counter()
    clean = clean_frames(n_frames)
    t_gen = time.perf_counter() - t0
    per_seed = []
    for seed in seeds:
        r = volume(n_frames, seed=seed, clean=clean)
        if n_frames == N_FRAMES and r["fault_frames_injected"] < 1_000_000:
            raise AssertionError("fewer than 10^6 faulty frames: %d" % r["fault_frames_injected"])
        r["generate_s"] = round(t_gen, 1)
        per_seed.append(r)
        if report is not None:
            report(r)
    out = dict(per_seed[0])
    if len(per_seed) > 1:
        out["seeds"] = list(seeds)
        for k in SUMMED:
            out["all_seeds_" + k] = sum(r[k] for r in per_seed)
    if not link:
        return out
    try:
        from bench.link_faults import link_faults
    except ImportError:
        return out
    out.update(link_faults())
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=N_FRAMES)
    ap.add_argument("--seeds", default="7", help="comma-separated injector seeds (default 7)")
    ap.add_argument("--no-link", action="store_true", help="skip the part through real ptys")
    a = ap.parse_args()
    seeds = tuple(int(x) for x in a.seeds.split(","))

    def show(r):
        print("seed %d: %d frames, %d corrupted, %d corrupted accepted, %d refused by the "
              "check alone (CRC-16 passed; %d of them a CRC-16 receiver would accept as 1.2, %d "
              "a 1.1 host), %d losses miscounted" % (
                  r["seed"], r["fault_frames_total"], r["fault_frames_injected"],
                  r["corrupted_frames_accepted"], r["crc16_passed_check_refused"],
                  r["crc16_alone_would_accept"], r["v1_1_host_would_accept"],
                  r["lost_frames_miscounted"]), flush=True)

    for k, v in run(a.frames, seeds, link=not a.no_link,
                    report=show if len(seeds) > 1 else None).items():
        print("%-36s %s" % (k, v))
