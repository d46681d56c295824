"""Stage 1, orientation: the direction of gravity in the sensor frame, sample by sample.

A complementary filter: the gyroscope turns the estimate between samples, the accelerometer
pulls it back towards what it reads, with a time constant. Without a gyroscope the estimate is
a low-pass of the accelerometer's direction. Causal, one small loop; its state carries across
calls, so a stream cut anywhere gives the batch result.

What real sensors do, and what this stage does about it:
- a sender that repeats a sample (sample-and-hold, a stalled bus) gives exact copies: they are
  missing data (NaN out, the state untouched), never stillness;
- an impact (|a| far from 1 g, or its direction jumping further than a body turns) is not
  gravity: the accelerometer is blanked, never trusted (without a gyro, a spell longer than an
  impact is a fast movement and counts again at a reduced weight: see LONG_BLANK_S);
- the gyroscope's sign against the accelerometer's frame is not assumed: it is learnt from the
  data (the turn the gyro predicts against the turn the accelerometer sees) before the gyro is
  used, so a reversed or left-handed gyro frame works;
- a slow gyro bias is integrated out while the accelerometer is trusted, four times faster while
  the rate is held steady (so a 20 deg/s offset of an uncalibrated MEMS gyro, which reads as a
  fast turn, is learnt out too: in about 20 s of standing and reps), and while the
  accelerometer's own direction turns slowly, whatever the gyro reads;
- a gyro that keeps disagreeing with the accelerometer in the same direction (an offset of
  30-50 deg/s not learnt yet: the filter would sit tens of degrees off) is not followed until
  it agrees again: the output is the accelerometer's own estimate meanwhile;
- a gap longer than max_gap_s restarts the filter at the next accelerometer reading.
"""

import math

import numpy as np

from .jit import kernel

DEG = math.pi / 180.0
REST_TAU_S = 0.4  # the gyro's variance is taken over about this long...
REST_VAR = (0.4 * DEG) ** 2  # ... below this (rad/s)^2 (sensor noise; people: 0.9 deg/s and up)
REST_S = 1.5  # ... for this long: the dowel lies on something
REST_ACC_COS = math.cos(2.0 * DEG)  # ... with gravity (the accelerometer) within this of where it was
REST_VAR_CAP = (1.5 * DEG) ** 2  # a deviation beyond this is movement (see update())
FAST_TURN2 = (30.0 * DEG) ** 2  # (rad/s)^2: at this turn rate the accelerometer counts half
BIAS_RATE_MAX2 = (20.0 * DEG) ** 2  # the gyro bias is learnt below this turn rate (rad/s)^2
STEADY_VAR = (1.0 * DEG) ** 2  # a rate this steady is held still (or turning evenly): bias is learnt
STEADY_KI = 4.0  # ... this many times faster than while moving
STEADY_MAX_DT = 0.04  # (s) the most one reading teaches it
INNOVATION_TAU_S = 1.0  # the two signs' filters are compared over about this long
INNOVATION_MIN = (2.0 * DEG) ** 2  # below this both explain the accelerometer: keep the sign
SIGN_RATIO = 3.0  # the other sign must explain it this much better to take over...
SIGN_HOLD_S = 0.3  # ... for this long
INNOVATION_SETTLED = (8.0 * DEG) ** 2  # the wrong sign's filter is this far off, and
SETTLED_RATIO = 20.0  # this much worse than the right one's,
SETTLED_S = 5.0  # for this long in all: it is dropped
SLOW_TAU_S = 1.0  # the accelerometer's slow direction (its fast one: accel_ref_tau_s)...
ACC_SLOW_COS = math.cos(10.0 * DEG)  # ... and the fast one this close: it turns slowly (about
# 12 deg/s at most), so while the gyro is not followed (below) it is a reference the bias is
# learnt against, whatever the gyro reads (a 30-50 deg/s offset reads as a fast turn, which
# alone would keep the bias from being learnt). Not otherwise: at the turnarounds of very fast
# reps it learnt their own acceleration as bias (an outside tester's fast set, 10 -> 9 reps)

# A gyro whose predictions keep missing the accelerometer in the same direction (the error's
# average over PERSIST_TAU_S, u x v: under 4 deg on every real and simulated recording, 13 deg
# at most with 10 Hz stalls, 10-60 deg with a 30-50 deg/s offset not yet learnt; a fast
# movement's own acceleration misleads it back and forth, and averages out) is not followed:
# the output moves over to the accelerometer's own estimate between these two (the sine of
# the average error's angle)
PERSIST_TAU_S = 2.0
UNTRUSTED_FROM = math.sin(10.0 * DEG)
UNTRUSTED_FULL = math.sin(20.0 * DEG)
UNTRUSTED_KI = 4.0  # meanwhile its bias is learnt this many times faster

# A jolt whose |a| happens to be near 1 g (a 1.5 g knock against gravity at 125-155 deg) is
# told by its direction: further from the last reading taken as gravity than a body turns
# (JOLT_DEG, and JOLT_RATE_DPS for the time since) is not gravity, until the readings come back
# within that, or for JOLT_MAX_S at most (then the dowel is somewhere else now)
JOLT_DEG = 30.0
JOLT_RATE_DPS = 300.0
JOLT_MAX_S = 0.25
# Without a gyro, |a| far from 1 g for longer than an impact lasts is a fast movement's own
# acceleration (a rep done in a second reads 1.4-1.9 g at a trunk-worn sensor for most of it):
# blanking it all would hold the angle still through the rep. After LONG_BLANK_S such
# readings count again, at LONG_BLANK_TRUST of a still one's weight (up to 1 g off)
LONG_BLANK_S = 0.15
LONG_BLANK_TRUST = 0.3


@kernel
def _turn(vx, vy, vz, wx, wy, wz, dt):
    """v' = R(-w dt) v: a world-fixed vector seen from a sensor turning at w (rad/s)."""
    wn = math.sqrt(wx * wx + wy * wy + wz * wz)
    th = wn * dt
    if th < 1e-12:
        return vx, vy, vz
    kx, ky, kz = -wx / wn, -wy / wn, -wz / wn
    c, s = math.cos(th), math.sin(th)
    kd = (kx * vx + ky * vy + kz * vz) * (1.0 - c)
    cx, cy, cz = ky * vz - kz * vy, kz * vx - kx * vz, kx * vy - ky * vx
    return (vx * c + cx * s + kx * kd, vy * c + cy * s + ky * kd, vz * c + cz * s + kz * kd)


# the filter's state between calls: one float64 array (flags 0/1 where a value may be absent)
(S_HAS_T, S_T, S_RAW_N, S_RAW, S_HAS_Q, S_Q, S_INN, S_HAS_PG, S_PG, S_HAS_BETTER, S_BETTER,
 S_N_ACTIVE, S_ACTIVE, S_SETTLED, S_A_REST, S_SIGN, S_HAS_GM, S_GM, S_GVAR, S_HAS_REST,
 S_REST, S_REST_Q, S_HAS_QS, S_QS, S_E, S_HAS_UT, S_UT, S_UT_T, S_OK_T) = (
    0, 1, 2, 3, 9, 10, 13, 15, 16, 19, 20, 21, 22, 23, 24, 25, 26, 27, 30, 31, 32, 33, 36, 37,
    40, 43, 44, 47, 48)
S_LEN = 49


@kernel
def _orientation(t, ax, ay, az, gx, gy, gz, ok, has_gyro, tau_a, tau_g, imp, max_gap, ki,
                 bias0, S, F, out, acc, adev, resting, switched):
    """The filter over one batch (see Orientation); S, F (the two sign filters' [v, bias])
    carry the state. Fills out, acc, adev, resting; returns how many indices it wrote to
    switched."""
    n_sw = 0
    nraw = 6 if has_gyro else 3
    raw = np.zeros(6)
    for i in range(len(t)):
        if not ok[i]:
            continue
        raw[0], raw[1], raw[2] = ax[i], ay[i], az[i]
        if has_gyro:
            raw[3], raw[4], raw[5] = gx[i], gy[i], gz[i]
        if S[S_RAW_N] == nraw:
            same = True
            for k in range(nraw):
                if raw[k] != S[S_RAW + k]:
                    same = False
                    break
            if same:
                continue  # a repeated sample: missing data, never stillness
        S[S_RAW_N] = nraw
        for k in range(nraw):
            S[S_RAW + k] = raw[k]
        ti = t[i]
        dt = 0.0 if S[S_HAS_T] == 0.0 else ti - S[S_T]
        if dt < 0.0:
            continue  # time going backwards: not a usable sample
        if dt > max_gap and S[S_HAS_Q] != 0.0:
            S[S_HAS_Q] = 0.0
            S[S_HAS_PG] = 0.0
            S[S_N_ACTIVE] = 2.0
            S[S_SETTLED] = 0.0
        S[S_HAS_T] = 1.0
        S[S_T] = ti
        a0, a1, a2 = raw[0], raw[1], raw[2]
        na = math.sqrt(a0 * a0 + a1 * a1 + a2 * a2)
        if na < 0.1:
            continue  # free fall or a dead accelerometer: nothing to go on
        ux, uy, uz = a0 / na, a1 / na, a2 / na
        a_rest = S[S_A_REST]
        dev = abs(na - a_rest)
        trust = 1.0 - dev / imp  # 1 at rest, 0 at an impact: never trusted beyond it
        if trust > 0.0:
            S[S_OK_T] = ti
        elif not has_gyro and S[S_HAS_Q] != 0.0 and ti - S[S_OK_T] > LONG_BLANK_S and dev < 1.0:
            trust = LONG_BLANK_TRUST
        if trust > 0.0 and S[S_HAS_UT] != 0.0:
            el = ti - S[S_UT_T]
            if el <= JOLT_MAX_S and ux * S[S_UT] + uy * S[S_UT + 1] + uz * S[S_UT + 2] < \
                    math.cos((JOLT_DEG + JOLT_RATE_DPS * el) * DEG):
                trust = 0.0  # a jolt, not gravity
        if trust > 0.0:
            S[S_HAS_UT] = 1.0
            S[S_UT], S[S_UT + 1], S[S_UT + 2] = ux, uy, uz
            S[S_UT_T] = ti
        if S[S_HAS_Q] == 0.0:
            if trust <= 0.0:
                continue
            S[S_Q], S[S_Q + 1], S[S_Q + 2] = ux, uy, uz
            S[S_HAS_Q] = 1.0
            if has_gyro:
                for j in range(2):
                    F[j, 0], F[j, 1], F[j, 2] = ux, uy, uz
                F[0, 3], F[0, 4], F[0, 5] = bias0[0], bias0[1], bias0[2]
                F[1, 3], F[1, 4], F[1, 5] = -bias0[0], -bias0[1], -bias0[2]
            out[i, 0], out[i, 1], out[i, 2] = ux, uy, uz
            continue
        qx, qy, qz = S[S_Q], S[S_Q + 1], S[S_Q + 2]
        if trust > 0.0:
            k = trust * (1.0 - math.exp(-dt / tau_a))
            qx += k * (ux - qx)
            qy += k * (uy - qy)
            qz += k * (uz - qz)
            nq = math.sqrt(qx * qx + qy * qy + qz * qz)
            qx, qy, qz = qx / nq, qy / nq, qz / nq
            S[S_Q], S[S_Q + 1], S[S_Q + 2] = qx, qy, qz
            a_rest += (1.0 - math.exp(-dt / 30.0)) * (na - a_rest)
            S[S_A_REST] = a_rest
        adev[i] = na - a_rest
        acc[i, 0], acc[i, 1], acc[i, 2] = qx, qy, qz
        # the accelerometer's slow direction (a fast one near it: turning slowly)
        if S[S_HAS_QS] == 0.0:
            S[S_HAS_QS] = 1.0
            S[S_QS], S[S_QS + 1], S[S_QS + 2] = qx, qy, qz
        elif trust > 0.0:
            kq = trust * (1.0 - math.exp(-dt / SLOW_TAU_S))
            sx = S[S_QS] + kq * (qx - S[S_QS])
            sy = S[S_QS + 1] + kq * (qy - S[S_QS + 1])
            sz = S[S_QS + 2] + kq * (qz - S[S_QS + 2])
            ns = math.sqrt(sx * sx + sy * sy + sz * sz)
            S[S_QS], S[S_QS + 1], S[S_QS + 2] = sx / ns, sy / ns, sz / ns
        if not has_gyro:
            out[i, 0], out[i, 1], out[i, 2] = qx, qy, qz
            continue
        # the turn over the interval: the mean of the rates at its two ends (trapezoid)
        n0, n1, n2 = raw[3], raw[4], raw[5]
        if S[S_HAS_PG] == 0.0:
            S[S_HAS_PG] = 1.0
            S[S_PG], S[S_PG + 1], S[S_PG + 2] = n0, n1, n2
        g0 = 0.5 * (S[S_PG] + n0)
        g1 = 0.5 * (S[S_PG + 1] + n1)
        g2 = 0.5 * (S[S_PG + 2] + n2)
        S[S_PG], S[S_PG + 1], S[S_PG + 2] = n0, n1, n2
        if S[S_HAS_GM] == 0.0:
            S[S_HAS_GM] = 1.0
            S[S_GM], S[S_GM + 1], S[S_GM + 2] = n0, n1, n2
            S[S_GVAR] = 0.0
        else:
            kr = 1.0 - math.exp(-dt / REST_TAU_S)
            d0, d1, d2 = n0 - S[S_GM], n1 - S[S_GM + 1], n2 - S[S_GM + 2]
            dd = d0 * d0 + d1 * d1 + d2 * d2
            if dd > REST_VAR_CAP:
                # moving: the mean jumps to the rate and the variance is capped, so both
                # forget a swing within seconds once it stops (put down on a table)
                S[S_GM], S[S_GM + 1], S[S_GM + 2] = n0, n1, n2
                dd = REST_VAR_CAP
            else:
                S[S_GM] += kr * d0
                S[S_GM + 1] += kr * d1
                S[S_GM + 2] += kr * d2
            S[S_GVAR] += kr * (dd - S[S_GVAR])
        if S[S_GVAR] < REST_VAR and S[S_HAS_REST] != 0.0 and \
                qx * S[S_REST_Q] + qy * S[S_REST_Q + 1] + qz * S[S_REST_Q + 2] < REST_ACC_COS:
            # the gyro shows no turn but gravity moves: not lying still (a dead gyro, or one
            # read in the wrong units, says nothing)
            S[S_HAS_REST] = 0.0
        if S[S_GVAR] < REST_VAR:
            if S[S_HAS_REST] == 0.0:
                S[S_HAS_REST] = 1.0
                S[S_REST] = ti
                S[S_REST_Q], S[S_REST_Q + 1], S[S_REST_Q + 2] = qx, qy, qz
            resting[i] = ti - S[S_REST] >= REST_S
        else:
            S[S_HAS_REST] = 0.0
        # the bias is learnt only near rest: a fast movement's linear acceleration would
        # be learnt as bias; and while turning fast the gyro is trusted over the
        # accelerometer (whose reading then carries the turn's own acceleration). The turn
        # rate is the gyro's less the bias learnt so far (by the sign in use): a large
        # constant offset is no turn, and is learnt out like a small one
        jc = 0 if S[S_SIGN] >= 0.0 else 1
        sc = 1.0 if jc == 0 else -1.0
        c0, c1, c2 = sc * g0 - F[jc, 3], sc * g1 - F[jc, 4], sc * g2 - F[jc, 5]
        wm = c0 * c0 + c1 * c1 + c2 * c2
        kf = trust * (1.0 - math.exp(-dt / tau_g)) / (1.0 + wm / FAST_TURN2) if trust > 0.0 else 0.0
        ka = 1.0 - math.exp(-dt / INNOVATION_TAU_S)
        kb = 0.0
        if trust > 0.8:
            if S[S_GVAR] < STEADY_VAR:
                # held steady: the accelerometer is at its most reliable (after a stall, one
                # reading is no more evidence than any other)
                kb = STEADY_KI * ki * (dt if dt < STEADY_MAX_DT else STEADY_MAX_DT)
            else:
                # (not followed as of the last sample: the average error below)
                untrusted = S[S_E] * S[S_E] + S[S_E + 1] * S[S_E + 1] + S[S_E + 2] * S[S_E + 2] > \
                    UNTRUSTED_FROM * UNTRUSTED_FROM
                if wm < BIAS_RATE_MAX2 or untrusted and \
                        qx * S[S_QS] + qy * S[S_QS + 1] + qz * S[S_QS + 2] > ACC_SLOW_COS:
                    kb = ki * dt
                    if untrusted:
                        kb *= UNTRUSTED_KI  # the gyro not followed: its offset is what to learn
        n_active = int(S[S_N_ACTIVE])
        for jj in range(n_active):
            j = jj if n_active == 2 else int(S[S_ACTIVE])
            s = 1.0 if j == 0 else -1.0
            vx, vy, vz = _turn(F[j, 0], F[j, 1], F[j, 2], s * g0 - F[j, 3], s * g1 - F[j, 4],
                               s * g2 - F[j, 5], dt)
            if kf > 0.0:
                # how well this sign's prediction explains the accelerometer (a linear
                # acceleration misleads both hypotheses alike, a wrong sign only one)
                ex, ey, ez = ux - vx, uy - vy, uz - vz
                S[S_INN + j] += ka * (ex * ex + ey * ey + ez * ez - S[S_INN + j])
                # bias: the part of the correction that keeps coming back (e = u x v
                # turns v towards u)
                F[j, 3] -= kb * (uy * vz - uz * vy)
                F[j, 4] -= kb * (uz * vx - ux * vz)
                F[j, 5] -= kb * (ux * vy - uy * vx)
                vx += kf * (ux - vx)
                vy += kf * (uy - vy)
                vz += kf * (uz - vz)
            nv = math.sqrt(vx * vx + vy * vy + vz * vz)
            F[j, 0], F[j, 1], F[j, 2] = vx / nv, vy / nv, vz / nv
        sign = S[S_SIGN]
        cur, other = (0, 1) if sign >= 0.0 else (1, 0)
        if S[S_INN + cur] > INNOVATION_MIN and S[S_INN + other] * SIGN_RATIO < S[S_INN + cur]:
            # the other sign explains the accelerometer better, and keeps doing so (a
            # movement's first jerk can favour the wrong one for a moment)
            if S[S_HAS_BETTER] == 0.0:
                S[S_HAS_BETTER] = 1.0
                S[S_BETTER] = ti
            if ti - S[S_BETTER] >= SIGN_HOLD_S:
                if sign != 0.0 or other != 0:
                    switched[n_sw] = i
                    n_sw += 1
                S[S_SIGN] = 1.0 if other == 0 else -1.0
                cur = other
                S[S_HAS_BETTER] = 0.0
        else:
            S[S_HAS_BETTER] = 0.0
        if n_active == 2:
            # the sign settled beyond doubt (the other far worse, for long): stop the other
            # (`other` is still the one compared above: just after a switch, the same as cur)
            if S[S_INN + other] > INNOVATION_SETTLED and S[S_INN + other] > SETTLED_RATIO * S[S_INN + cur]:
                S[S_SETTLED] += dt  # (summed over the movements that show it)
                if S[S_SETTLED] >= SETTLED_S:
                    S[S_N_ACTIVE] = 1.0
                    S[S_ACTIVE] = cur
        vx, vy, vz = F[cur, 0], F[cur, 1], F[cur, 2]
        if trust > 0.0:
            kp = 1.0 - math.exp(-dt / PERSIST_TAU_S)
            S[S_E] += kp * (uy * vz - uz * vy - S[S_E])
            S[S_E + 1] += kp * (uz * vx - ux * vz - S[S_E + 1])
            S[S_E + 2] += kp * (ux * vy - uy * vx - S[S_E + 2])
        e = math.sqrt(S[S_E] * S[S_E] + S[S_E + 1] * S[S_E + 1] + S[S_E + 2] * S[S_E + 2])
        if e > UNTRUSTED_FROM:
            w = (e - UNTRUSTED_FROM) / (UNTRUSTED_FULL - UNTRUSTED_FROM)
            w = 1.0 if w > 1.0 else w
            vx += w * (qx - vx)
            vy += w * (qy - vy)
            vz += w * (qz - vz)
            nv = math.sqrt(vx * vx + vy * vy + vz * vz)
            vx, vy, vz = vx / nv, vy / nv, vz / nv
        out[i, 0], out[i, 1], out[i, 2] = vx, vy, vz
    return n_sw


class Orientation:
    """update(t, ax, ay, az, gx, gy, gz, ok, has_gyro) -> ((n, 3) unit gravity vectors, NaN
    where missing; (n,) |a| - its resting value; (n, 3) the accelerometer's own estimate).

    With a gyroscope two filters run side by side, one taking the gyro as it is and one with
    its sign reversed; the output follows the one whose predictions explain the accelerometer
    (the gyro as it is until one clearly does better), so neither sign convention ever runs on
    the accelerometer alone. After update(): `switched`, the indices where the output changed
    to the other sign's filter; `resting`, per sample, whether the dowel lies on something.
    """

    def __init__(self, config, gyro_bias_dps=(0.0, 0.0, 0.0)):
        self.tau_gyro_s = config.gyro_tau_s
        self.tau_accel_s = config.accel_only_tau_s
        self.tau_accel_ref_s = config.accel_ref_tau_s
        self.impact_g = config.impact_g
        self.max_gap_s = config.max_gap_s
        self.bias0 = np.array([x * DEG for x in gyro_bias_dps], dtype=float)
        self.state = np.zeros(S_LEN)
        self.state[S_A_REST] = 1.0  # |a| at rest: absorbs the accelerometer's scale error
        self.state[S_N_ACTIVE] = 2.0  # the filters still running (one once the sign is beyond doubt)
        self.filters = np.zeros((2, 6))  # per sign: [vx, vy, vz, bx, by, bz]
        self.switched = []
        self.resting = np.zeros(0, dtype=bool)

    @property
    def gyro_sign(self):
        """0: not judged yet (the gyro is taken as it is), else +1 / -1."""
        return int(self.state[S_SIGN])

    def update(self, t, ax, ay, az, gx, gy, gz, ok, has_gyro):
        n = len(t)
        out = np.full((n, 3), np.nan)
        acc = np.full((n, 3), np.nan)  # the accelerometer's own estimate (no gyro in it)
        adev = np.zeros(n)
        # lying on something (a table), not held by a person: the gyro shows only its own
        # noise, far below the tremor and sway of anyone holding it still
        resting = np.zeros(n, dtype=bool)
        switched = np.zeros(n, dtype=np.int64)
        f64 = _f64
        has_gyro = bool(has_gyro)
        if has_gyro:
            gx, gy, gz = (f64(g) * DEG for g in (gx, gy, gz))
        else:
            gx = gy = gz = _EMPTY
        tau_g = self.tau_gyro_s
        # the accelerometer's own estimate: the whole answer without a gyro (slower, so a
        # walk's sway does not read as tilt), a quick reference beside one
        tau_a = self.tau_accel_s if not has_gyro else self.tau_accel_ref_s
        ki = 0.05 / (tau_g * tau_g)  # bias integrator: slow against the filter itself
        n_sw = _orientation(f64(t), f64(ax), f64(ay), f64(az), gx, gy, gz,
                            np.ascontiguousarray(ok, dtype=np.bool_), has_gyro, float(tau_a),
                            float(tau_g), float(self.impact_g), float(self.max_gap_s), ki,
                            self.bias0, self.state, self.filters, out, acc, adev, resting,
                            switched)
        self.switched = switched[:n_sw].tolist()
        self.resting = resting
        return out, adev, acc


_EMPTY = np.zeros(0)


def _f64(x):
    return np.ascontiguousarray(x, dtype=np.float64)
