"""Stage: the lever arm, which says where the hips are from the sensor's own accelerations.

A hinge turns the trunk about the hips: the sensor, some 20 to 70 cm up the back, moves on a
circle about them and feels, besides gravity, the circle's tangential and centripetal
accelerations, a = alpha x r + omega x (omega x r), with r the vector from the hips to the
sensor (sensor frame, fixed however the IMU is mounted). Fitting r by least squares to the
accelerometer minus gravity says which way is up the back: standing, gravity's reading (the
upward specific force) lies along r; hinged, it has turned away from it. That tells standing
from the bottom of a rep without any pose having been seen first: data that joins a set in
the hold at the bottom of a rep (the hold held longer than the stand, as a seated trunk bend
is) is told right side up.

The rotation is gravity's own, seen from the sensor: omega = -f x df/dt from the orientation
stage's gravity f (bias-corrected, whatever the gyro's sign), alpha its derivative, both over
TICK_S of data time (the same at 25 and 500 Hz). Only with a gyroscope, whose gravity does
not follow the accelerations being measured, and at TICK_MIN_SAMPLES or more readings per
tick (a 10 Hz sample-and-hold stream has too few). Each tick adds one row to the normal
equations; a turn of the gyro's sign (the orientation took the other filter) starts them
again. The fit is causal and the same whatever the batches: per sample, the r in force, and
its covariance from what it leaves unexplained (sensor noise, hips that travel, a gyro offset
not yet learnt): slow turns carry accelerations of a few hundredths of a g, and a verdict
waits until the fit is sure of it (SURE_Z).
"""

import math

import numpy as np

from .jit import kernel

TICK_S = 0.1
TICK_MIN_SAMPLES = 2  # readings in a tick (of at most 1.5 TICK_S): at least 20 a second
MIN_RATE = 0.2  # rad/s: slower turns carry too little of either term
MIN_ROWS = 15  # ticks of such turning (1.5 s) before r is given
R_MIN_M = 0.2  # a shorter r is too weak to trust (no sensor on a back sits closer to the hips)
SETTLE_S = 1.0  # the orientation's gravity is trusted this long after its data began (or
# resumed after a hole it restarts at), not before: it starts from an accelerometer reading
# and takes about a second (its gyro time constant) to shed that reading's accelerations
RESTART_GAP_S = 0.75  # (the orientation's max_gap_s)
G = 9.80665
# standing_of tells only when the two poses' cosines to r differ by this many standard
# deviations of r's fit: slow turns under a noisy accelerometer (4-6 s down and as long up,
# 0.01 g of noise, a 1.5-5 deg/s gyro offset not yet learnt) gave wrong verdicts at 1.8-5.2,
# some beyond what r's scatter says (the offset misleads it alike from row to row); right ones
# came at 3 to 200. Those sets begin with the patient standing still, and the pipeline never
# lets the lever arm overturn a long still stand the data began with (core.LONG_STAND_S); this
# gate keeps out the fits whose scatter alone says they cannot tell
SURE_Z = 2.0
STAND_COS = 0.2  # standing, gravity's reading lies within about 80 degrees of r, or r is not the back's

# state: last tick (has, t, f xyz), the readings' sum since (y xyz, count), the previous
# half-tick (has, t, omega xyz, y xyz), normal equations (AtA 9, Atb 3), rows, the first time
L_HAS, L_T, L_F = 0, 1, 2
L_YS, L_YN = 5, 8
L_HAS_H, L_HT, L_HW, L_HY = 9, 10, 11, 14
L_AA, L_AB, L_ROWS = 17, 26, 29
L_R = 30  # the r in force (xyz) and whether there is one
L_HAS_R = 33
L_T0, L_HAS_T0, L_LAST = 34, 35, 36  # since when the gravity is trusted; the last reading
L_YY = 37  # the sum of |y|^2 (for the residual)
L_C = 38  # the covariance of r in force (xx, xy, xz, yy, yz, zz)
L_LEN = 44


@kernel
def _lever(t, F, A, rest, ok, clear, S, R):
    """Per sample i (t, gravity F, accelerometer A in g, its resting magnitude rest, ok: a
    reading to use, clear: start the equations again): R[i, :3] = the lever arm in force (m),
    R[i, 3:] its covariance (m^2: xx, xy, xz, yy, yz, zz), NaN when none."""
    n = len(t)
    for i in range(n):
        if clear[i]:
            for k in range(L_LEN):
                S[k] = 0.0
        if F[i, 0] == F[i, 0]:
            ti = t[i]
            if S[L_HAS_T0] == 0.0 or ti - S[L_LAST] > RESTART_GAP_S:
                S[L_HAS_T0] = 1.0
                S[L_T0] = ti
            S[L_LAST] = ti
        if ok[i] and F[i, 0] == F[i, 0]:
            ti = t[i]
            if S[L_HAS] == 0.0 or ti - S[L_T] > 2.0 * TICK_S:
                # the first reading, or after a hole: a new chain of ticks
                S[L_HAS] = 1.0
                S[L_T] = ti
                for k in range(3):
                    S[L_F + k] = F[i, k]
                    S[L_YS + k] = 0.0
                S[L_YN] = 0.0
                S[L_HAS_H] = 0.0
            else:
                for k in range(3):
                    S[L_YS + k] += (A[i, k] - rest[i] * F[i, k]) * G
                S[L_YN] += 1.0
                dt = ti - S[L_T]
                if dt >= TICK_S:
                    if S[L_YN] >= TICK_MIN_SAMPLES and dt <= 1.5 * TICK_S:
                        # omega over this tick: -f x df/dt
                        d0 = (F[i, 0] - S[L_F]) / dt
                        d1 = (F[i, 1] - S[L_F + 1]) / dt
                        d2 = (F[i, 2] - S[L_F + 2]) / dt
                        w0 = -(F[i, 1] * d2 - F[i, 2] * d1)
                        w1 = -(F[i, 2] * d0 - F[i, 0] * d2)
                        w2 = -(F[i, 0] * d1 - F[i, 1] * d0)
                        yn = S[L_YN]
                        y0, y1, y2 = S[L_YS] / yn, S[L_YS + 1] / yn, S[L_YS + 2] / yn
                        tm = 0.5 * (ti + S[L_T])
                        if S[L_HAS_H] != 0.0:
                            h = tm - S[L_HT]
                            a0 = (w0 - S[L_HW]) / h
                            a1 = (w1 - S[L_HW + 1]) / h
                            a2 = (w2 - S[L_HW + 2]) / h
                            m0 = 0.5 * (w0 + S[L_HW])
                            m1 = 0.5 * (w1 + S[L_HW + 1])
                            m2 = 0.5 * (w2 + S[L_HW + 2])
                            b0 = 0.5 * (y0 + S[L_HY])
                            b1 = 0.5 * (y1 + S[L_HY + 1])
                            b2 = 0.5 * (y2 + S[L_HY + 2])
                            ww = m0 * m0 + m1 * m1 + m2 * m2
                            if ww > MIN_RATE * MIN_RATE and S[L_HT] - S[L_T0] >= SETTLE_S:
                                _add_row(S, a0, a1, a2, m0, m1, m2, ww, b0, b1, b2)
                                _solve(S)
                        S[L_HAS_H] = 1.0
                        S[L_HT] = tm
                        S[L_HW], S[L_HW + 1], S[L_HW + 2] = w0, w1, w2
                        S[L_HY], S[L_HY + 1], S[L_HY + 2] = y0, y1, y2
                    else:
                        S[L_HAS_H] = 0.0  # too few readings: no rate to difference
                    S[L_T] = ti
                    for k in range(3):
                        S[L_F + k] = F[i, k]
                        S[L_YS + k] = 0.0
                    S[L_YN] = 0.0
        if S[L_HAS_R] != 0.0:
            R[i, 0], R[i, 1], R[i, 2] = S[L_R], S[L_R + 1], S[L_R + 2]
            for k in range(6):
                R[i, 3 + k] = S[L_C + k]
        else:
            for k in range(9):
                R[i, k] = np.nan


@kernel
def _add_row(S, a0, a1, a2, m0, m1, m2, ww, b0, b1, b2):
    """One row: M r = y, M = [alpha]x + [omega]x^2 = [alpha]x + omega omega' - |omega|^2 I."""
    M = np.empty(9)
    M[0] = m0 * m0 - ww
    M[1] = -a2 + m0 * m1
    M[2] = a1 + m0 * m2
    M[3] = a2 + m1 * m0
    M[4] = m1 * m1 - ww
    M[5] = -a0 + m1 * m2
    M[6] = -a1 + m2 * m0
    M[7] = a0 + m2 * m1
    M[8] = m2 * m2 - ww
    y = (b0, b1, b2)
    for j in range(3):
        for k in range(3):
            S[L_AA + 3 * j + k] += M[j] * M[k] + M[3 + j] * M[3 + k] + M[6 + j] * M[6 + k]
        S[L_AB + j] += M[j] * y[0] + M[3 + j] * y[1] + M[6 + j] * y[2]
    S[L_YY] += b0 * b0 + b1 * b1 + b2 * b2
    S[L_ROWS] += 1.0


@kernel
def _solve(S):
    """r from the normal equations (the hinge axis, along which nothing is seen, held near 0
    by a small ridge), and its covariance from the residual (what r does not explain: sensor
    noise, and hips that do not stay put); kept if long enough, after enough rows."""
    tr = S[L_AA] + S[L_AA + 4] + S[L_AA + 8]
    lam = 1e-6 * tr + 1e-12
    a, b, c = S[L_AA] + lam, S[L_AA + 1], S[L_AA + 2]
    d, e, f = S[L_AA + 3], S[L_AA + 4] + lam, S[L_AA + 5]
    g, h, k = S[L_AA + 6], S[L_AA + 7], S[L_AA + 8] + lam
    y0, y1, y2 = S[L_AB], S[L_AB + 1], S[L_AB + 2]
    det = a * (e * k - f * h) - b * (d * k - f * g) + c * (d * h - e * g)
    S[L_HAS_R] = 0.0
    if det == 0.0 or S[L_ROWS] < MIN_ROWS:
        return
    r0 = (y0 * (e * k - f * h) - b * (y1 * k - f * y2) + c * (y1 * h - e * y2)) / det
    r1 = (a * (y1 * k - f * y2) - y0 * (d * k - f * g) + c * (d * y2 - y1 * g)) / det
    r2 = (a * (e * y2 - y1 * h) - b * (d * y2 - y1 * g) + y0 * (d * h - e * g)) / det
    if math.sqrt(r0 * r0 + r1 * r1 + r2 * r2) >= R_MIN_M:
        S[L_R], S[L_R + 1], S[L_R + 2] = r0, r1, r2
        S[L_HAS_R] = 1.0
        # residual: |y|^2 - r.(A'y) at the solution, over 3 equations a row less 3 unknowns
        ss = S[L_YY] - (r0 * y0 + r1 * y1 + r2 * y2)
        var = (ss if ss > 0.0 else 0.0) / (3.0 * S[L_ROWS] - 3.0)
        # (A'A)^-1 by cofactors (symmetric)
        S[L_C] = var * (e * k - f * h) / det
        S[L_C + 1] = var * (c * h - b * k) / det
        S[L_C + 2] = var * (b * f - c * e) / det
        S[L_C + 3] = var * (a * k - c * g) / det
        S[L_C + 4] = var * (c * d - a * f) / det
        S[L_C + 5] = var * (a * e - b * d) / det


class LeverArm:
    """update(t, g, a, adev, has_gyro, use, clear) -> (n, 9): the lever arm r (m, sensor
    frame) in force at each sample and its covariance (xx, xy, xz, yy, yz, zz), NaN where none
    is known. g: the orientation's gravity; a: the
    accelerometer (g), adev its magnitude less its resting value; use: readings on the back
    (not lying, not handled); clear: where the equations start again (the gyro's sign
    turned)."""

    def __init__(self):
        self.state = np.zeros(L_LEN)

    @property
    def r(self):
        """The latest lever arm (a 3-tuple, m) or None."""
        s = self.state
        return (float(s[L_R]), float(s[L_R + 1]), float(s[L_R + 2])) if s[L_HAS_R] else None

    def update(self, t, g, a, adev, has_gyro, use, clear):
        n = len(t)
        out = np.full((n, 9), np.nan)
        if not has_gyro or not n:
            return out
        a = np.ascontiguousarray(a, dtype=np.float64)
        rest = np.sqrt(a[:, 0] * a[:, 0] + a[:, 1] * a[:, 1] + a[:, 2] * a[:, 2]) - adev
        _lever(np.ascontiguousarray(t, dtype=np.float64), np.ascontiguousarray(g, dtype=np.float64),
               a, np.ascontiguousarray(rest, dtype=np.float64),
               np.ascontiguousarray(use, dtype=np.bool_), np.ascontiguousarray(clear, dtype=np.bool_),
               self.state, out)
        return out


def standing_of(r, g_a, g_b, margin, cov=None):
    """Which of two poses (gravity readings g_a, g_b, unit) is standing by lever arm r: +1 for
    a, -1 for b, 0 when it cannot say (neither reading within 90 degrees of r, their cosines to
    it closer than margin, or, given r's covariance cov (xx, xy, xz, yy, yz, zz), than SURE_Z
    standard deviations of their difference)."""
    nr = math.sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2])
    ca = (g_a[0] * r[0] + g_a[1] * r[1] + g_a[2] * r[2]) / nr
    cb = (g_b[0] * r[0] + g_b[1] * r[1] + g_b[2] * r[2]) / nr
    if max(ca, cb) < STAND_COS or abs(ca - cb) < margin:
        return 0
    if cov is not None:
        # var((g_a - g_b).r) / |r|^2: the difference's uncertainty (r's length aside)
        v0, v1, v2 = g_a[0] - g_b[0], g_a[1] - g_b[1], g_a[2] - g_b[2]
        var = (v0 * v0 * cov[0] + v1 * v1 * cov[3] + v2 * v2 * cov[5]
               + 2.0 * (v0 * v1 * cov[1] + v0 * v2 * cov[2] + v1 * v2 * cov[4])) / (nr * nr)
        if not abs(ca - cb) >= SURE_Z * math.sqrt(var if var > 0.0 else 0.0):
            return 0
    return 1 if ca > cb else -1
