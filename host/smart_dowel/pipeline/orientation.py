"""Stage 1, orientation: the direction of gravity in the sensor frame, sample by sample.

A complementary filter: the gyroscope turns the estimate between samples, the accelerometer
pulls it back towards what it reads, with a time constant. Without a gyroscope the estimate is
a low-pass of the accelerometer's direction. Causal, one small loop; its state carries across
calls, so a stream cut anywhere gives the batch result.

What real sensors do, and what this stage does about it:
- a sender that repeats a sample (sample-and-hold, a stalled bus) gives exact copies: they are
  missing data (NaN out, the state untouched), never stillness;
- an impact (|a| far from 1 g) is not gravity: the accelerometer is blanked, never trusted;
- the gyroscope's sign against the accelerometer's frame is not assumed: it is learnt from the
  data (the turn the gyro predicts against the turn the accelerometer sees) before the gyro is
  used, so a reversed or left-handed gyro frame works;
- a slow gyro bias is integrated out while the accelerometer is trusted;
- a gap longer than max_gap_s restarts the filter at the next accelerometer reading.
"""

import math

import numpy as np

DEG = math.pi / 180.0
REST_TAU_S = 0.75  # the gyro's variance is taken over about this long...
REST_VAR = (0.4 * DEG) ** 2  # ... below this (rad/s)^2 (sensor noise; people: 0.9 deg/s and up)
REST_S = 1.5  # ... for this long: the dowel lies on something
REST_VAR_CAP = (4.0 * DEG) ** 2  # a deviation beyond this is movement (see update())
FAST_TURN2 = (30.0 * DEG) ** 2  # (rad/s)^2: at this turn rate the accelerometer counts half
BIAS_RATE_MAX2 = (20.0 * DEG) ** 2  # the gyro bias is learnt below this turn rate (rad/s)^2
INNOVATION_TAU_S = 1.0  # the two signs' filters are compared over about this long
INNOVATION_MIN = (2.0 * DEG) ** 2  # below this both explain the accelerometer: keep the sign
SIGN_RATIO = 3.0  # the other sign must explain it this much better to take over...
SIGN_HOLD_S = 0.3  # ... for this long
INNOVATION_SETTLED = (8.0 * DEG) ** 2  # the wrong sign's filter is this far off, and
SETTLED_RATIO = 20.0  # this much worse than the right one's,
SETTLED_S = 5.0  # for this long in all: it is dropped


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


class Orientation:
    """update(t, ax, ay, az, gx, gy, gz, ok, has_gyro) -> ((n, 3) unit gravity vectors, NaN
    where missing; (n,) |a| - its resting value).

    With a gyroscope two filters run side by side, one taking the gyro as it is and one with
    its sign reversed; the output follows the one whose predictions explain the accelerometer
    (the gyro as it is until one clearly does better), so neither sign convention ever runs on
    the accelerometer alone.
    """

    def __init__(self, config, gyro_bias_dps=(0.0, 0.0, 0.0)):
        self.tau_gyro_s = config.gyro_tau_s
        self.tau_accel_s = config.accel_only_tau_s
        self.tau_accel_ref_s = config.accel_ref_tau_s
        self.impact_g = config.impact_g
        self.max_gap_s = config.max_gap_s
        self.last_t = None
        self.last_raw = None
        self.a_rest = 1.0  # |a| at rest: absorbs the accelerometer's scale error
        self.gyro_sign = 0  # 0: not judged yet (the gyro is taken as it is), else +1 / -1
        b = tuple(x * DEG for x in gyro_bias_dps)
        # state per filter: [vx, vy, vz, bx, by, bz]; q: the accelerometer's own estimate
        self.f = None
        self.q = None
        self.bias0 = b
        self.innovation = [0.0, 0.0]  # mean squared innovation of each sign's filter
        self.better_since = None
        self.active = (0, 1)  # the filters still running (one once the sign is beyond doubt)
        self.settled_s = 0.0
        self.prev_gyro = None  # the last gyro reading (rad/s), for the trapezoid
        self.gyro_mean = None  # the gyro's recent mean and variance, for "lying on a table"
        self.gyro_var = 0.0
        self.rest_since = None
        self.resting = np.zeros(0, dtype=bool)

    def update(self, t, ax, ay, az, gx, gy, gz, ok, has_gyro):
        n = len(t)
        out = np.full((n, 3), np.nan)
        acc = np.full((n, 3), np.nan)  # the accelerometer's own estimate (no gyro in it)
        # lying on something (a table), not held by a person: the gyro shows only its own
        # noise, far below the tremor and sway of anyone holding it still
        resting = np.zeros(n, dtype=bool)
        gm, gvar, rest_since = self.gyro_mean, self.gyro_var, self.rest_since
        self.switched = []  # indices where the output changed to the other sign's filter
        adev = np.zeros(n)
        T, AX, AY, AZ = t.tolist(), ax.tolist(), ay.tolist(), az.tolist()
        if has_gyro:
            GX, GY, GZ = ((g * DEG).tolist() for g in (gx, gy, gz))
        OK = ok.tolist()
        sqrt, exp = math.sqrt, math.exp
        turn = _turn
        last_t, last_raw = self.last_t, self.last_raw
        q, f = self.q, self.f
        inn = self.innovation
        pg = self.prev_gyro
        better_since = self.better_since
        active, settled_s = self.active, self.settled_s
        if q is not None:
            qx, qy, qz = q
        a_rest, sign = self.a_rest, self.gyro_sign
        tau_g, imp, max_gap = self.tau_gyro_s, self.impact_g, self.max_gap_s
        # the accelerometer's own estimate: the whole answer without a gyro (slower, so a
        # walk's sway does not read as tilt), a quick reference beside one
        tau_a = self.tau_accel_s if not has_gyro else self.tau_accel_ref_s
        ki = 0.05 / (tau_g * tau_g)  # bias integrator: slow against the filter itself
        for i in range(n):
            if not OK[i]:
                continue
            raw = (AX[i], AY[i], AZ[i], GX[i], GY[i], GZ[i]) if has_gyro else (AX[i], AY[i], AZ[i])
            if raw == last_raw:
                continue  # a repeated sample: missing data, never stillness
            last_raw = raw
            ti = T[i]
            dt = 0.0 if last_t is None else ti - last_t
            if dt < 0.0:
                continue  # time going backwards: not a usable sample
            if dt > max_gap and q is not None:
                q = f = pg = None
                active, settled_s = (0, 1), 0.0
            last_t = ti
            a0, a1, a2 = raw[0], raw[1], raw[2]
            na = sqrt(a0 * a0 + a1 * a1 + a2 * a2)
            if na < 0.1:
                continue  # free fall or a dead accelerometer: nothing to go on
            ux, uy, uz = a0 / na, a1 / na, a2 / na
            dev = abs(na - a_rest)
            trust = 1.0 - dev / imp  # 1 at rest, 0 at an impact: never trusted beyond it
            if q is None:
                if trust <= 0.0:
                    continue
                qx, qy, qz = ux, uy, uz
                q = True
                if has_gyro:
                    b = self.bias0
                    f = [[ux, uy, uz, b[0], b[1], b[2]], [ux, uy, uz, -b[0], -b[1], -b[2]]]
                out[i] = (ux, uy, uz)
                continue
            if trust > 0.0:
                k = trust * (1.0 - exp(-dt / tau_a))
                qx += k * (ux - qx)
                qy += k * (uy - qy)
                qz += k * (uz - qz)
                nq = sqrt(qx * qx + qy * qy + qz * qz)
                qx, qy, qz = qx / nq, qy / nq, qz / nq
                a_rest += (1.0 - exp(-dt / 30.0)) * (na - a_rest)
            adev[i] = na - a_rest
            acc[i] = (qx, qy, qz)
            if not has_gyro:
                out[i] = (qx, qy, qz)
                continue
            # the turn over the interval: the mean of the rates at its two ends (trapezoid)
            n0, n1, n2 = raw[3], raw[4], raw[5]
            if pg is None:
                pg = (n0, n1, n2)
            g0, g1, g2 = 0.5 * (pg[0] + n0), 0.5 * (pg[1] + n1), 0.5 * (pg[2] + n2)
            pg = (n0, n1, n2)
            if gm is None:
                gm, gvar = [n0, n1, n2], 0.0
            else:
                kr = 1.0 - exp(-dt / REST_TAU_S)
                d0, d1, d2 = n0 - gm[0], n1 - gm[1], n2 - gm[2]
                dd = d0 * d0 + d1 * d1 + d2 * d2
                if dd > REST_VAR_CAP:
                    # moving: the mean jumps to the rate and the variance is capped, so both
                    # forget a swing within seconds once it stops (put down on a table)
                    gm[0], gm[1], gm[2] = n0, n1, n2
                    dd = REST_VAR_CAP
                else:
                    gm[0] += kr * d0
                    gm[1] += kr * d1
                    gm[2] += kr * d2
                gvar += kr * (dd - gvar)
            if gvar < REST_VAR:
                if rest_since is None:
                    rest_since = ti
                resting[i] = ti - rest_since >= REST_S
            else:
                rest_since = None
            # the bias is learnt only near rest: a fast movement's linear acceleration would
            # be learnt as bias; and while turning fast the gyro is trusted over the
            # accelerometer (whose reading then carries the turn's own acceleration)
            wm = g0 * g0 + g1 * g1 + g2 * g2
            kf = trust * (1.0 - exp(-dt / tau_g)) / (1.0 + wm / FAST_TURN2) if trust > 0.0 else 0.0
            ka = 1.0 - exp(-dt / INNOVATION_TAU_S)
            kb = ki * dt if trust > 0.8 and wm < BIAS_RATE_MAX2 else 0.0
            for j in active:
                fj = f[j]
                s = 1.0 if j == 0 else -1.0
                vx, vy, vz = turn(fj[0], fj[1], fj[2], s * g0 - fj[3], s * g1 - fj[4], s * g2 - fj[5], dt)
                if kf > 0.0:
                    # how well this sign's prediction explains the accelerometer (a linear
                    # acceleration misleads both hypotheses alike, a wrong sign only one)
                    ex, ey, ez = ux - vx, uy - vy, uz - vz
                    inn[j] += ka * (ex * ex + ey * ey + ez * ez - inn[j])
                    # bias: the part of the correction that keeps coming back (e = u x v
                    # turns v towards u)
                    fj[3] -= kb * (uy * vz - uz * vy)
                    fj[4] -= kb * (uz * vx - ux * vz)
                    fj[5] -= kb * (ux * vy - uy * vx)
                    vx += kf * (ux - vx)
                    vy += kf * (uy - vy)
                    vz += kf * (uz - vz)
                nv = sqrt(vx * vx + vy * vy + vz * vz)
                fj[0], fj[1], fj[2] = vx / nv, vy / nv, vz / nv
            cur, other = (0, 1) if sign >= 0 else (1, 0)
            if inn[cur] > INNOVATION_MIN and inn[other] * SIGN_RATIO < inn[cur]:
                # the other sign explains the accelerometer better, and keeps doing so (a
                # movement's first jerk can favour the wrong one for a moment)
                if better_since is None:
                    better_since = ti
                if ti - better_since >= SIGN_HOLD_S:
                    if sign != 0 or other != 0:
                        self.switched.append(i)
                    sign = 1 if other == 0 else -1
                    cur = other
                    better_since = None
            else:
                better_since = None
            if len(active) == 2:
                # the sign settled beyond doubt (the other far worse, for long): stop the other
                if inn[other] > INNOVATION_SETTLED and inn[other] > SETTLED_RATIO * inn[cur]:
                    settled_s += dt  # (summed over the movements that show it)
                    if settled_s >= SETTLED_S:
                        active = (cur,)
            fo = f[cur]
            out[i] = (fo[0], fo[1], fo[2])
        self.q = (qx, qy, qz) if q is not None else None
        self.f = f
        self.last_t, self.last_raw = last_t, last_raw
        self.a_rest, self.gyro_sign = a_rest, sign
        self.better_since = better_since
        self.prev_gyro = pg
        self.active, self.settled_s = active, settled_s
        self.gyro_mean, self.gyro_var, self.rest_since = gm, gvar, rest_since
        self.resting = resting
        return out, adev, acc
