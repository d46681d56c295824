"""Per-rep fault analysis on the rep's own samples (numpy): phases, contact losses, depth,
speed, and the squat check from the vertical drop of the IMU.
"""

import math

import numpy as np

from .types import (
    CONTACT_FAULT,
    CONTACTS,
    FAULT_IDS,
    PHASE_ASCENT,
    PHASE_BOTTOM,
    PHASE_DESCENT,
    RUSHED,
    SHALLOW,
    SQUAT_PATTERN,
    Fault,
)

G = 9.80665
# 10%-90% rise time of a smooth descent, as a fraction of the whole descent: 0.51 for a
# minimum-jerk profile, 0.59 for a raised cosine.
RISE_FRACTION = 0.5


def rep_phases(t, angle, peak, base, cfg):
    """(bottom_enter_s, bottom_exit_s): the span where the angle is within the bottom band
    (max(bottom_band_min_deg, bottom_band_fraction * depth)) of the rep's deepest point."""
    band = max(cfg.bottom_band_min_deg, cfg.bottom_band_fraction * (peak - base))
    idx = np.flatnonzero(angle >= peak - band)
    if len(idx) == 0:
        k = int(np.argmax(angle))
        return float(t[k]), float(t[k])
    return float(t[idx[0]]), float(t[idx[-1]])


def phase_at(t_s, phases):
    enter, leave = phases
    if t_s < enter:
        return PHASE_DESCENT
    if t_s <= leave:
        return PHASE_BOTTOM
    return PHASE_ASCENT


def vertical_drop_m(t, adev_g):
    """How far (m) the IMU went down between standing still and the bottom of the rep.

    Integrates twice the deviation of |a| from its resting value (|a| - 1 g is the vertical
    acceleration to first order, whatever the mounting), with the velocity forced to 0 at
    both ends (standing before, the turn at the bottom) to cancel a residual offset."""
    n = len(t)
    if n < 3 or t[-1] - t[0] <= 0:
        return 0.0
    dt = np.diff(t)
    a = adev_g * G
    vel = np.concatenate(([0.0], np.cumsum(0.5 * (a[1:] + a[:-1]) * dt)))
    frac = (t - t[0]) / (t[-1] - t[0])
    vel -= vel[-1] * frac
    z = np.concatenate(([0.0], np.cumsum(0.5 * (vel[1:] + vel[:-1]) * dt)))
    return float(max(0.0, -z.min()))


def rise_time_s(t, angle, base, peak, bottom_s):
    """Time (s) the descent took from 10% to 90% of the rep's depth (above the baseline),
    with crossing times interpolated between samples (10 Hz data stays usable).

    Robust to where exactly the rep started and to a pause at the bottom; for a smooth
    (minimum-jerk-like) descent it is about half of the whole descent.
    """
    rel = peak - base
    k_b = int(np.searchsorted(t, bottom_s, side="right"))
    a = angle[:k_b]
    if k_b < 2 or rel <= 0:
        return 0.0
    lo, hi = base + 0.1 * rel, base + 0.9 * rel
    above90 = np.flatnonzero(a >= hi)
    if len(above90) == 0:
        return 0.0
    k90 = int(above90[0])
    below10 = np.flatnonzero(a[:k90] <= lo)
    if len(below10) == 0:
        return float(t[k90] - t[0])
    k10 = int(below10[-1])
    t10 = _crossing(t, a, k10, lo)
    t90 = _crossing(t, a, k90 - 1, hi) if k90 > 0 else float(t[k90])
    return max(0.0, t90 - t10)


def _crossing(t, a, k, level):
    """Time the straight line from sample k to k+1 crosses level (a[k] <= level < a[k+1])."""
    a0, a1 = float(a[k]), float(a[k + 1])
    if a1 == a0:
        return float(t[k + 1])
    w = min(1.0, max(0.0, (level - a0) / (a1 - a0)))
    return float(t[k] + w * (t[k + 1] - t[k]))


def rep_faults(t, angle, on, drop_m, phases, start_s, bottom_s, end_s, peak, base, force_seen, cfg):
    """The faults of one rep, sorted in FAULT_IDS order.

    t, angle: the rep's samples; on: (n, 3) bool debounced contact states; drop_m: the
    IMU's vertical drop from standing to the bottom (vertical_drop_m).
    """
    found = {}
    if force_seen and len(t) > 1:
        dt = np.diff(t, append=t[-1])
        for k, point in enumerate(CONTACTS):
            off = ~on[:, k]
            if not off.any():
                continue
            # runs of consecutive off samples: [first, last] index pairs
            edges = np.diff(np.concatenate(([0], off.astype(np.int8), [0])))
            firsts = np.flatnonzero(edges == 1)
            lasts = np.flatnonzero(edges == -1)  # one past the end
            ends_t = np.where(lasts < len(t), t[np.minimum(lasts, len(t) - 1)], t[-1])
            lengths = ends_t - t[firsts]
            long_runs = np.flatnonzero(lengths >= cfg.contact_fault_min_s)
            if len(long_runs) == 0:
                continue
            first = float(t[firsts[long_runs[0]]])
            total = float(dt[off].sum())
            fid = CONTACT_FAULT[point]
            found[fid] = Fault(fid, phase_at(first, phases), first, total)

    drop = drop_m
    expected = cfg.hinge_radius_m * (1.0 - math.cos(math.radians(min(peak, 90.0))))
    squat = peak < cfg.squat_max_depth_deg and drop - expected > cfg.squat_excess_drop_m
    if squat:
        found[SQUAT_PATTERN] = Fault(SQUAT_PATTERN, PHASE_DESCENT, start_s, bottom_s - start_s)
    elif peak < cfg.target_depth_deg:
        # a squat's shallow trunk angle is part of the squat, not a separate fault
        enter, leave = phases
        found[SHALLOW] = Fault(SHALLOW, PHASE_BOTTOM, enter, leave - enter)
    if rise_time_s(t, angle, base, peak, bottom_s) < RISE_FRACTION * cfg.rushed_descent_s:
        found[RUSHED] = Fault(RUSHED, PHASE_DESCENT, start_s, bottom_s - start_s)
    return [found[f] for f in FAULT_IDS if f in found]
