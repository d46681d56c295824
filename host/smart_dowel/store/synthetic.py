"""Synthetic hinge sessions as raw samples, for the store's tests and benchmark.

A deliberately simple body: the trunk hinges to a depth and back in smooth reps, the IMU
sees gravity rotate (plus noise) and the hinge rate on one gyro axis, the three FSRs see
light/firm/steady pressure, with the tailbone contact lost in chosen reps. Not a substitute
for the simulated dowel; it needs no pipeline and no serial port.
"""

import math

import numpy as np

from dowel_protocol import SAMPLE, T_US_MODULUS, Message, MESSAGES

from .. import fsr
from .samples import SAMPLE_DTYPE


def hinge_profile(t, reps, first_s=2.0, period_s=5.0, rep_s=3.5, depth_deg=60.0):
    """Hinge angle (deg) at times t: `reps` smooth reps, one every period_s from first_s."""
    theta = np.zeros_like(t)
    depths = np.atleast_1d(depth_deg).astype(float)
    for k in range(reps):
        start = first_s + k * period_s
        phase = (t - start) / rep_s
        inside = (phase >= 0) & (phase <= 1)
        d = depths[k % len(depths)]
        theta[inside] = d * 0.5 * (1 - np.cos(2 * math.pi * phase[inside]))
    return theta


def synthetic_records(duration_s, rate_hz=100, reps=None, period_s=5.0, depth_deg=60.0,
                      tailbone_lost_reps=(), seed=0, t0_raw_us=0):
    """(records SAMPLE_DTYPE with t_us from 0, raw device t_us wrapping at 2**30, truth dict)."""
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * rate_hz))
    t = np.arange(n) / rate_hz
    if reps is None:
        reps = max(0, int((duration_s - 2.0 - 3.5) // period_s) + 1)
    theta = hinge_profile(t, reps, period_s=period_s, depth_deg=depth_deg)
    th = np.radians(theta)
    rec = np.zeros(n, dtype=SAMPLE_DTYPE)
    rec["t_us"] = np.round(t * 1e6).astype(np.int64)
    rec["seq"] = np.arange(n) & 0xFFFF
    noise = lambda s: rng.normal(0.0, s, n)  # noqa: E731
    rec["ax_mg"] = np.round(1000 * np.cos(th) + noise(8)).astype(np.int16)
    rec["ay_mg"] = np.round(1000 * np.sin(th) + noise(8)).astype(np.int16)
    rec["az_mg"] = np.round(noise(8)).astype(np.int16)
    rate = np.gradient(theta, t) if n > 1 else np.zeros(n)
    rec["gx_ddps"] = np.round(noise(3)).astype(np.int16)
    rec["gy_ddps"] = np.round(noise(3)).astype(np.int16)
    rec["gz_ddps"] = np.round(-rate * 10 + noise(3)).astype(np.int16)
    head = 2.0 + noise(0.1)
    mid = 8.0 + noise(0.3)
    tail = 5.0 + noise(0.2)
    for k in tailbone_lost_reps:
        start = 2.0 + k * period_s + 0.8
        tail[(t >= start) & (t < start + 1.5)] = 0.0
    rec["head"] = fsr.newtons_to_counts(np.clip(head, 0, None))
    rec["midback"] = fsr.newtons_to_counts(np.clip(mid, 0, None))
    rec["tailbone"] = fsr.newtons_to_counts(np.clip(tail, 0, None))
    raw_t = (rec["t_us"] + int(t0_raw_us)) % T_US_MODULUS
    truth = {"reps": reps, "theta_deg": theta}
    return rec, raw_t, truth


def to_messages(records, raw_t_us):
    """SAMPLE messages carrying the records (as the link's decoder would produce them)."""
    name = MESSAGES[SAMPLE][0]
    cols = [raw_t_us] + [records[c] for c in ("head", "midback", "tailbone", "ax_mg", "ay_mg",
                                              "az_mg", "gx_ddps", "gy_ddps", "gz_ddps", "flags")]
    rows = np.stack([np.asarray(c, dtype=np.int64) for c in cols], axis=1).tolist()
    return [Message(SAMPLE, int(s), name, tuple(r)) for s, r in zip(records["seq"], rows)]


def truth_reps(reps, period_s=5.0, rep_s=3.5, depth_deg=60.0, tailbone_lost_reps=(),
               first_s=2.0):
    """The reps of hinge_profile as the pipeline reports them (dicts), faults included."""
    depths = np.atleast_1d(depth_deg).astype(float)
    out = []
    for k in range(reps):
        start = first_s + k * period_s
        faults = []
        if k in tailbone_lost_reps:
            faults.append({"id": "tailbone_contact_lost", "phase": "descent",
                           "start_s": start + 0.8, "duration_s": 1.5,
                           "cue": "Hips back: keep the stick touching your tailbone."})
        d = float(depths[k % len(depths)])
        if d < 45.0:
            faults.append({"id": "shallow", "phase": "bottom", "start_s": start + rep_s / 2,
                           "duration_s": 0.0,
                           "cue": "Go a little lower, until the backs of your legs stretch."})
        out.append({"index": k + 1, "start_s": start, "bottom_s": start + rep_s / 2,
                    "end_s": start + rep_s, "depth_deg": d, "descent_s": rep_s / 2,
                    "ascent_s": rep_s / 2, "faults": faults})
    return out


def store_session(store, patient, duration_s=60.0, rate_hz=100, depth_deg=60.0,
                  tailbone_lost_reps=(), target_reps=None, seed=0, flush_interval_s=0,
                  period_s=5.0):
    """A closed session of synthetic samples and their true reps in one set; returns its id."""
    rec, raw, truth = synthetic_records(duration_s, rate_hz, period_s=period_s,
                                        depth_deg=depth_deg,
                                        tailbone_lost_reps=tailbone_lost_reps, seed=seed)
    session = store.start_session(patient, {"fw_version": "1.0.0", "imu_name": "synthetic",
                                            "rate_hz": rate_hz, "board_id": "00synthetic0"},
                                  source="synthetic", flush_interval_s=flush_interval_s)
    session.start_set(target_depth_deg=45.0, target_reps=target_reps or truth["reps"], start_s=0.0)
    session.add_samples(to_messages(rec, raw))
    for rep in truth_reps(truth["reps"], period_s=period_s, depth_deg=depth_deg,
                          tailbone_lost_reps=tailbone_lost_reps):
        session.add_rep(rep)
    session.close()
    return session.id
