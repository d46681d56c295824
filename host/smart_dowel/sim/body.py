"""Body model of the simulated dowel: what its three contact pads and its IMU feel while a
virtual patient practises the hip hinge, with the ground truth of every rep.

The trunk tilts about the hips (smooth descent, a short hold at the bottom, ascent); contact
forces follow the spine's shape and drop out for the faults; the accelerometer sees gravity plus
the motion's own acceleration, rotated into an arbitrarily mounted sensor frame.
"""

import bisect
import math
import threading

import numpy as np

from .scenarios import SCENARIOS

FAULT_IDS = (
    "head_contact_lost",
    "midback_contact_lost",
    "tailbone_contact_lost",
    "shallow",
    "squat_pattern",
    "rushed",
)
# Actions accepted by BodyModel.queue (live control); "rest" cancels what was queued.
ACTIONS = ("good", "lumbar-flexion", "thoracic-rounding", "head-forward", "squat", "shallow",
           "rushed", "rest")
TARGET_DEPTH_DEG = 45.0  # default hinge target: shallower reps are faulted `shallow`
RUSHED_DESCENT_S = 1.0  # a descent quicker than this is faulted `rushed`
DEFAULT_REPS = 5
DEFAULT_MIXED_REPS = 10
G = 9.80665
DEG = math.pi / 180.0

# rep kind -> faults recorded in the truth
KIND_FAULTS = {
    "good": (),
    "lumbar-flexion": ("tailbone_contact_lost",),
    "thoracic-rounding": ("midback_contact_lost",),
    "head-forward": ("head_contact_lost",),
    "squat": ("squat_pattern",),
    "shallow": ("shallow",),
    "rushed": ("rushed",),
}
# which pad a contact fault takes away: index into (head, midback, tailbone)
LOST_PAD = {"head-forward": 0, "thoracic-rounding": 1, "lumbar-flexion": 2}

BLOCK_S = 0.25  # sensors_at() renders this much ahead at once (live control waits for it)
BLOCK_HZ = 1000
REACTION_S = 0.4  # delay between a live-control key and the start of the movement
LEAD_IN_S = 3.0  # standing still before the first rep (room for calibration)
TAIL_S = 2.5  # standing still after the last rep

# Output keys of render() / sensors_at(), in order
KEYS = ("t", "head_n", "midback_n", "tailbone_n", "ax_g", "ay_g", "az_g",
        "gx_dps", "gy_dps", "gz_dps", "hinge_deg")


def _min_jerk(tau):
    """Minimum-jerk ramp 0->1 on tau in [0, 1]: position, d/dtau, d2/dtau2 (flat outside)."""
    tau = np.clip(tau, 0.0, 1.0)
    t2 = tau * tau
    s = t2 * tau * (10.0 - 15.0 * tau + 6.0 * t2)
    v = 30.0 * t2 * (1.0 - tau) ** 2
    a = 60.0 * tau * (1.0 - tau) * (1.0 - 2.0 * tau)
    return s, v, a


def _bump(tau):
    """sin^4(pi tau): 0 -> 1 -> 0 with zero slope and curvature at both ends."""
    tau = np.clip(tau, 0.0, 1.0)
    sn = np.sin(np.pi * tau)
    cs = np.cos(np.pi * tau)
    b = sn ** 4
    v = 4.0 * np.pi * sn ** 3 * cs
    a = 4.0 * np.pi ** 2 * sn * sn * (3.0 * cs * cs - sn * sn)
    return b, v, a


class _Sway:
    """A sum of slow sinusoids (postural sway, breathing): value and first two derivatives."""

    def __init__(self, rng, amp, f_lo, f_hi, n=3):
        self.a = rng.uniform(0.4, 1.0, n)
        self.a *= amp / math.sqrt(float(np.sum(self.a ** 2)) / 2.0)  # amp is the rms * sqrt(2)
        self.w = 2.0 * np.pi * rng.uniform(f_lo, f_hi, n)
        self.p = rng.uniform(0.0, 2.0 * np.pi, n)

    def __call__(self, t):
        ph = np.outer(t, self.w) + self.p
        s = np.sin(ph)
        c = np.cos(ph)
        return s @ self.a, c @ (self.a * self.w), -(s @ (self.a * self.w * self.w))


class _Event:
    """Something the patient does over [t0, t1); applies itself to the state arrays."""

    queued = False  # added by live control (kept when the scripted future is dropped)
    on_back_after = True  # where the dowel is once the event is over

    def __init__(self, t0, duration):
        self.t0 = float(t0)
        self.t1 = float(t0) + float(duration)

    def apply(self, body, t, st, m):
        raise NotImplementedError


class _Rep(_Event):
    """One rep: min-jerk descent, a hold that sinks a little further, min-jerk ascent."""

    def __init__(self, t0, kind, depth_deg, descent_s, hold_s, ascent_s, settle, hip_back_m,
                 hip_drop_m, loss, queued=False):
        super().__init__(t0, descent_s + hold_s + ascent_s)
        self.kind = kind
        self.depth = depth_deg * DEG
        self.td, self.tp, self.ta = descent_s, hold_s, ascent_s
        # fraction of the depth reached at the end of the descent; the rest is a slow sink
        # during the hold, kept below ~0.6 rad/s^2 (sin^4 peaks at 4 pi^2 / T^2)
        max_extra = 0.6 * hold_s ** 2 / (4.0 * math.pi ** 2)
        self.settle = max(settle, 1.0 - max_extra / self.depth)
        self.hip_back = hip_back_m
        self.hip_drop = hip_drop_m
        self.loss = loss  # None or (pad, on_frac, off_frac, ramp_s, floor)
        self.queued = queued

    @property
    def bottom_s(self):
        return self.t0 + self.td + 0.5 * self.tp

    def truth(self):
        return {
            "start_s": round(self.t0, 4),
            "bottom_s": round(self.bottom_s, 4),
            "end_s": round(self.t1, 4),
            "depth_deg": round(self.depth / DEG, 3),
            "descent_s": round(self.td, 4),
            "kind": self.kind,
            "faults": list(KIND_FAULTS[self.kind]),
        }

    def profile(self, t):
        """Rep inclination (rad) and its first two time derivatives at times t (relative)."""
        r = t - self.t0
        th = np.zeros_like(r)
        thd = np.zeros_like(r)
        thdd = np.zeros_like(r)
        kp = self.settle * self.depth
        d = r < self.td
        if d.any():
            s, v, a = _min_jerk(r[d] / self.td)
            th[d], thd[d], thdd[d] = kp * s, kp * v / self.td, kp * a / self.td ** 2
        h = (r >= self.td) & (r < self.td + self.tp)
        if h.any():
            extra = self.depth - kp
            b, v, a = _bump((r[h] - self.td) / self.tp)
            th[h] = kp + extra * b
            thd[h] = extra * v / self.tp
            thdd[h] = extra * a / self.tp ** 2
        u = r >= self.td + self.tp
        if u.any():
            s, v, a = _min_jerk((r[u] - self.td - self.tp) / self.ta)
            th[u], thd[u], thdd[u] = kp * (1.0 - s), -kp * v / self.ta, -kp * a / self.ta ** 2
        return th, thd, thdd

    def apply(self, body, t, st, m):
        tm = t[m]
        th, thd, thdd = self.profile(tm)
        st["th"][m] += th
        st["thd"][m] += thd
        st["thdd"][m] += thdd
        st["rep_th"][m] = th
        # hips travel back (and, bending the knees, down) in step with the trunk
        udd = thdd / self.depth
        udd[(tm >= self.t0 + self.td) & (tm < self.t0 + self.td + self.tp)] = 0.0  # hips still
        st["acc_x"][m] += -self.hip_back * udd
        st["acc_z"][m] += -self.hip_drop * udd
        if self.loss is not None:
            pad, on_frac, off_frac, ramp, floor = self.loss
            t_on = self.t0 + on_frac * self.td
            t_off = self.t0 + self.td + self.tp + off_frac * self.ta - ramp
            w_on, _, _ = _min_jerk((tm - t_on) / ramp)
            w_off, _, _ = _min_jerk((tm - t_off) / ramp)
            lost = w_on * (1.0 - w_off)
            st["pad_gain"][pad][m] *= 1.0 - (1.0 - floor) * lost
            # the other pads take over some of the load
            for other in range(3):
                if other != pad:
                    st["pad_gain"][other][m] *= 1.0 + 0.2 * lost


class _OnTable(_Event):
    """The dowel lies on a table: horizontal, still, nothing touching the pads."""

    on_back_after = False

    def __init__(self, t0, duration, pose):
        super().__init__(t0, duration)
        self.pose = pose  # (yaw rad, spin about the dowel rad)

    def apply(self, body, t, st, m):
        yaw, spin = self.pose
        for k, v in (("th", 0.5 * np.pi), ("ph", 0.0), ("ps", yaw), ("chi", spin)):
            st[k][m] = v
        for k in ("thd", "thdd", "phd", "psd", "chid", "acc_x", "acc_z"):
            st[k][m] = 0.0
        st["contact"][m] = 0.0


class _Handling(_Event):
    """Picking the dowel up from the table and setting it along the back, or the reverse."""

    def __init__(self, t0, duration, pose, lift, pick_up, rng):
        super().__init__(t0, duration)
        self.pose = pose
        self.lift = lift  # (dx, dz) m travelled from the table to the back
        self.pick_up = pick_up
        self.on_back_after = pick_up
        self.tremor_hz = rng.uniform(4.0, 8.0, 2)
        self.tremor_amp = rng.uniform(0.6, 1.5, 2) * DEG
        # a hand brushing one pad while gripping the dowel
        self.blip_pad = int(rng.integers(0, 3))
        self.blip_t = t0 + duration * rng.uniform(0.2, 0.45)
        self.blip_n = rng.uniform(1.0, 5.0)

    def apply(self, body, t, st, m):
        tm = t[m]
        T = self.t1 - self.t0
        tau = (tm - self.t0) / T
        s, v, a = _min_jerk(tau)
        if not self.pick_up:
            s, v, a = 1.0 - s, -v, -a
        yaw, spin = self.pose
        # blend from the table pose (s=0) to the pose on the back (s=1, sway included)
        for k, kd, kdd, table in (("th", "thd", "thdd", 0.5 * np.pi), ("ph", "phd", None, 0.0),
                                  ("ps", "psd", None, yaw), ("chi", "chid", None, spin)):
            b, bd = st[k][m], st[kd][m]
            if kdd is not None:
                bdd = st[kdd][m]
                st[kdd][m] = a / T ** 2 * (b - table) + 2.0 * v / T * bd + s * bdd
            st[k][m] = (1.0 - s) * table + s * b
            st[kd][m] = v / T * (b - table) + s * bd
        env = np.sin(np.pi * tau)
        for i, k, kd in ((0, "ph", "phd"), (1, "ps", "psd")):
            w = 2.0 * np.pi * self.tremor_hz[i]
            st[k][m] += self.tremor_amp[i] * env * np.sin(w * tm)
            st[kd][m] += self.tremor_amp[i] * env * w * np.cos(w * tm)
        dx, dz = self.lift
        sgn = 1.0 if self.pick_up else -1.0
        st["acc_x"][m] = sgn * dx * a / T ** 2
        st["acc_z"][m] = sgn * dz * a / T ** 2
        # the pads touch the back only in the last (first) quarter of the movement
        c, _, _ = _min_jerk((tau - 0.72) / 0.28) if self.pick_up else _min_jerk((0.28 - tau) / 0.28)
        st["contact"][m] *= c
        blip = np.exp(-0.5 * ((tm - self.blip_t) / 0.08) ** 2) * self.blip_n
        st["blip"][self.blip_pad][m] += blip


class _Person:
    """Everything that differs between patients (and between dowels): drawn from the seed."""

    def __init__(self, rng):
        self.depth_deg = rng.uniform(55.0, 78.0)
        self.descent_s = rng.uniform(1.7, 2.6)
        self.hold_s = rng.uniform(0.4, 1.1)
        self.ascent_s = rng.uniform(1.2, 1.9)
        self.rest_s = rng.uniform(1.2, 2.6)
        self.head_n = rng.uniform(2.0, 4.0)  # light
        self.midback_n = rng.uniform(11.0, 18.0)  # firm
        self.tailbone_n = rng.uniform(6.0, 10.0)  # steady
        self.trunk_m = rng.uniform(0.38, 0.50)  # hip joint to the IMU, along the dowel
        self.behind_m = rng.uniform(0.07, 0.12)  # the dowel sits behind the spine
        self.hip_back_m = rng.uniform(0.10, 0.16)
        self.hip_knee_drop_m = rng.uniform(0.02, 0.06)


class BodyModel:
    """A virtual patient with a dowel: a schedule of reps and handling, rendered to sensors.

    Times are seconds from the start of the scenario. Thread-safe: the simulated board reads
    sensors_at() while a UI thread may queue() live-control actions.
    """

    def __init__(self, scenario, reps=None, seed=None, endless=False):
        if scenario not in SCENARIOS:
            raise ValueError("unknown scenario %r; choose one of %s" % (scenario, ", ".join(SCENARIOS)))
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % 2 ** 31)
        if reps is None:
            reps = DEFAULT_MIXED_REPS if scenario == "mixed" else DEFAULT_REPS
        if reps < 0:
            raise ValueError("reps must be >= 0")
        self.scenario = scenario
        self.seed = int(seed)
        self.endless = bool(endless)
        self._lock = threading.RLock()
        self._now = 0.0
        rng = np.random.default_rng([self.seed, 0])
        self._plan_rng = np.random.default_rng([self.seed, 1])
        self._stream_rng = np.random.default_rng([self.seed, 2])
        self.person = _Person(rng)
        self._sway_th = _Sway(rng, 0.8 * DEG, 0.1, 0.5)
        self._sway_ph = _Sway(rng, 0.6 * DEG, 0.1, 0.6)
        self._sway_ps = _Sway(rng, 1.2 * DEG, 0.05, 0.4)
        self._breath = _Sway(rng, 1.0, 0.18, 0.3, n=1)
        self._pad_wobble = [_Sway(rng, 0.06, 0.05, 0.4) for _ in range(3)]
        # IMU: mounting rotation (columns: sensor axes in the dowel frame), bias, noise
        q = rng.normal(size=4)
        self.mounting = _quat_to_matrix(q / np.linalg.norm(q))
        self.accel_bias_g = rng.normal(0.0, 0.012, 3)
        self.gyro_bias_dps = rng.normal(0.0, 0.6, 3)
        self._gyro_bias_drift = [_Sway(rng, 0.15, 0.002, 0.01, n=1) for _ in range(3)]
        self.accel_noise_g = 0.004
        self.gyro_noise_dps = 0.08
        # FSRs: part-to-part gain, creep (drift upwards under load), reading noise
        self.pad_gain = rng.uniform(0.85, 1.15, 3)
        self.pad_creep = rng.uniform(0.04, 0.10, 3)
        self.pad_creep_tau_s = rng.uniform(60.0, 150.0, 3)
        self._events = []
        self._starts = []
        self._block = None
        self._block_keys = KEYS[1:] + ("head_true_n", "midback_true_n", "tailbone_true_n", "on_back")
        self._build(reps)

    # --- schedule ---------------------------------------------------------------------------
    def _add(self, ev):
        i = bisect.bisect_right(self._starts, ev.t0)
        self._events.insert(i, ev)
        self._starts.insert(i, ev.t0)
        return ev

    def _make_rep(self, t0, kind, queued=False):
        p, r = self.person, self._plan_rng
        tempo = r.uniform(0.85, 1.15)
        descent = max(1.35, p.descent_s * tempo)
        hold = max(0.4, p.hold_s * r.uniform(0.7, 1.3))
        ascent = max(0.9, p.ascent_s * r.uniform(0.85, 1.15))
        depth = float(np.clip(p.depth_deg + r.normal(0.0, 5.0), 48.0, 88.0))
        hip_back, hip_drop = p.hip_back_m, p.hip_knee_drop_m
        loss = None
        if kind == "shallow":
            depth = r.uniform(15.0, 35.0)
            descent = max(1.2, descent * 0.75)
            hip_back *= 0.5
        elif kind == "squat":
            depth = r.uniform(15.0, 30.0)
            hip_drop = r.uniform(0.30, 0.45)
            hip_back = r.uniform(0.08, 0.15)
            descent = r.uniform(1.3, 2.2)
            ascent = r.uniform(1.0, 1.6)
        elif kind == "rushed":
            descent = r.uniform(0.6, 0.85)
            hold = r.uniform(0.1, 0.35)
            ascent = r.uniform(0.7, 1.0)
        elif kind in LOST_PAD:
            depth = float(np.clip(depth + r.uniform(0.0, 6.0), 48.0, 88.0))
            loss = (LOST_PAD[kind], r.uniform(0.2, 0.45), r.uniform(0.55, 0.85),
                    r.uniform(0.25, 0.5), r.uniform(0.0, 0.04))
        elif kind != "good":
            raise ValueError("unknown rep kind %r" % kind)
        # the trunk sinks a last degree or so during the hold; a rushed rep bounces straight back
        settle = 1.0 if kind == "rushed" else 1.0 - r.uniform(0.6, 1.4) / depth
        return _Rep(t0, kind, depth, descent, hold, ascent, settle, hip_back, hip_drop, loss,
                    queued)

    def _rest_s(self):
        return self.person.rest_s * self._plan_rng.uniform(0.7, 1.4)

    def _table_pose(self):
        r = self._plan_rng
        return (r.uniform(-np.pi, np.pi), r.uniform(-np.pi, np.pi))

    def _lift(self):
        r = self._plan_rng
        return (r.uniform(-0.4, -0.15), r.uniform(0.3, 0.6))

    def _handle(self, t, pick_up, pose):
        dur = self._plan_rng.uniform(1.6, 2.4)
        self._add(_Handling(t, dur, pose, self._lift(), pick_up, self._plan_rng))
        return t + dur

    def _set(self, t, kinds):
        for i, kind in enumerate(kinds):
            if i:
                t += self._rest_s()
            t = self._add(self._make_rep(t, kind)).t1
        return t

    def _build(self, reps):
        r = self._plan_rng
        if self.scenario != "mixed":
            end = self._set(LEAD_IN_S, [self.scenario] * reps)
            self._end_s = end + TAIL_S
            return
        base = ["good", "lumbar-flexion", "good", "head-forward", "squat", "good",
                "thoracic-rounding", "shallow", "good", "rushed"]
        kinds = [base[i % len(base)] for i in range(reps)]
        r.shuffle(kinds)
        sets = [kinds[: (reps + 1) // 2], kinds[(reps + 1) // 2:]] if reps >= 6 else [kinds]
        t = r.uniform(2.0, 4.0)
        pose = self._table_pose()
        self._add(_OnTable(0.0, t, pose))
        for n, kinds_in_set in enumerate(sets):
            t = self._handle(t, True, pose)
            t += r.uniform(3.0, 5.0)  # settle, look at the screen
            t = self._set(t, kinds_in_set)
            t += r.uniform(1.5, 3.0)
            pose = self._table_pose()
            t = self._handle(t, False, pose)
            rest = r.uniform(6.0, 10.0) if n + 1 < len(sets) else 2.0
            self._add(_OnTable(t, math.inf if self.endless and n + 1 == len(sets) else rest, pose))
            t += rest
        self._end_s = t

    # --- live control -----------------------------------------------------------------------
    def queue(self, action):
        """Live control: the virtual patient does this next (a rep kind, or "rest").

        The first call hands the patient over to the clinician: scripted events that have not
        started yet are dropped. Each queued rep follows the previous one after a short rest.
        """
        if action not in ACTIONS:
            raise ValueError("unknown action %r; choose one of %s" % (action, ", ".join(ACTIONS)))
        with self._lock:
            now = self._now
            keep = [e for e in self._events if e.t0 <= now or (e.queued and action != "rest")]
            self._events = keep
            self._starts = [e.t0 for e in keep]
            if action == "rest":
                # stop after whatever is under way; a dowel being put down stays down
                self._after_last(now)
                return
            last = self._events[-1] if self._events else None
            t = now + REACTION_S
            on_back = True
            if last is not None:
                on_back = last.on_back_after
                if isinstance(last, _OnTable):
                    last.t1 = max(t, last.t0)  # lies there until the patient reaches for it
                    t = last.t1
                elif last.t1 > now - REACTION_S:
                    t = max(t, last.t1 + (0.8 if isinstance(last, _Rep) else 0.0))
            if not on_back:
                pose = last.pose
                if isinstance(last, _Handling):  # still being put down: lies there a moment
                    t = max(t, last.t1 + 0.5)
                    self._add(_OnTable(last.t1, t - last.t1, pose)).queued = True
                t = self._handle(t, True, pose)
                self._events[-1].queued = True
                t += 1.0
            rep = self._add(self._make_rep(t, action, queued=True))
            self._end_s = rep.t1 + TAIL_S

    def _after_last(self, now):
        last = self._events[-1] if self._events else None
        if last is not None and not last.on_back_after and not isinstance(last, _OnTable):
            self._add(_OnTable(last.t1, math.inf if self.endless else TAIL_S, last.pose))
            self._end_s = last.t1 + TAIL_S
        else:
            self._end_s = max(now, last.t1 if last is not None else 0.0) + TAIL_S

    # --- truth ------------------------------------------------------------------------------
    @property
    def duration_s(self):
        """Length of the scenario in s; None when endless (live demos)."""
        return None if self.endless else round(self._end_s, 4)

    @property
    def truth(self):
        with self._lock:
            reps = [e.truth() for e in self._events if isinstance(e, _Rep)]
            handling = []
            for e in self._events:
                if isinstance(e, _Handling):
                    handling.append({"kind": "pick_up" if e.pick_up else "put_down",
                                     "start_s": round(e.t0, 4), "end_s": round(e.t1, 4)})
                elif isinstance(e, _OnTable):
                    handling.append({"kind": "on_table", "start_s": round(e.t0, 4),
                                     "end_s": None if math.isinf(e.t1) else round(e.t1, 4)})
            m = self.mounting
        for i, rep in enumerate(reps):
            rep["index"] = i + 1
        return {
            "scenario": self.scenario,
            "seed": self.seed,
            "duration_s": self.duration_s,
            "target_depth_deg": TARGET_DEPTH_DEG,
            "reps": reps,
            "handling": handling,
            "imu_mounting": {
                "sensor_from_dowel": [[round(float(x), 6) for x in row] for row in m.T],
                "dowel_axes": "x forward (away from the back), y to the patient's left, "
                              "z along the dowel towards the head",
            },
            "person": {k: round(float(v), 4) for k, v in vars(self.person).items()},
        }

    # --- sensors ----------------------------------------------------------------------------
    def _state(self, t):
        n = len(t)
        st = {}
        st["th"], st["thd"], st["thdd"] = self._sway_th(t)
        st["ph"], st["phd"], _ = self._sway_ph(t)
        st["ps"], st["psd"], _ = self._sway_ps(t)
        for k in ("chi", "chid", "acc_x", "acc_z", "rep_th"):
            st[k] = np.zeros(n)
        st["contact"] = np.ones(n)
        st["pad_gain"] = [np.ones(n) for _ in range(3)]
        st["blip"] = [np.zeros(n) for _ in range(3)]
        lo, hi = float(t[0]), float(t[-1])
        i = max(0, bisect.bisect_right(self._starts, lo) - 1)
        for ev in self._events[i:]:
            if ev.t0 > hi:
                break
            if ev.t1 <= lo:
                continue
            m = (t >= ev.t0) & (t < ev.t1)
            if m.any():
                ev.apply(self, t, st, m)
        return st

    def _evaluate(self, t, rng):
        """All outputs at times t (array). rng=None gives noise-free sensors."""
        p = self.person
        with self._lock:
            st = self._state(t)
        th, thd, thdd = st["th"], st["thd"], st["thdd"]
        ph, phd, ps, psd, chi, chid = st["ph"], st["phd"], st["ps"], st["psd"], st["chi"], st["chid"]
        sth, cth = np.sin(th), np.cos(th)
        # translational acceleration of the IMU (world: x forward, y left, z up), m/s^2
        d, L = p.behind_m, p.trunk_m
        ax = st["acc_x"] + (d * cth - L * sth) * thd ** 2 + (d * sth + L * cth) * thdd
        az = st["acc_z"] + (-d * sth - L * cth) * thd ** 2 + (d * cth - L * sth) * thdd
        f_world = np.stack([ax, np.zeros_like(ax), az + G], axis=1) / G  # specific force, g
        R = _rot_z(ps) @ _rot_y(th) @ _rot_x(ph) @ _rot_z(chi)
        f_dowel = np.einsum("nji,nj->ni", R, f_world)
        # body rate: chain rule through the yaw-pitch-roll-spin rotations
        rz_chi, rx_ph, ry_th = _rot_z(chi), _rot_x(ph), _rot_y(th)
        w = np.einsum("nji,nj->ni", ry_th, np.stack([0 * psd, 0 * psd, psd], axis=1))
        w = w + np.stack([0 * thd, thd, 0 * thd], axis=1)
        w = np.einsum("nji,nj->ni", rx_ph, w) + np.stack([phd, 0 * phd, 0 * phd], axis=1)
        w = np.einsum("nji,nj->ni", rz_chi, w) + np.stack([0 * chid, 0 * chid, chid], axis=1)
        mt = self.mounting.T
        acc = f_dowel @ mt.T
        gyr = (w / DEG) @ mt.T
        hinge = np.degrees(np.arccos(np.clip(np.cos(th) * np.cos(ph), -1.0, 1.0)))
        # contact forces, N
        breath = self._breath(t)[0]
        contact = st["contact"]
        sr = np.sin(np.clip(st["rep_th"], 0.0, None))
        true = []
        for i, (base, shape, bk) in enumerate(((p.head_n, 1.0 - 0.25 * sr, 0.05),
                                               (p.midback_n, 1.0 + 0.3 * sr, 0.08),
                                               (p.tailbone_n, 1.0 + 0.1 * sr, 0.03))):
            f = base * shape * (1.0 + bk * breath + self._pad_wobble[i](t)[0])
            true.append(f * st["pad_gain"][i] * contact + st["blip"][i])
        out = {"t": t}
        names = ("head_n", "midback_n", "tailbone_n")
        for i, name in enumerate(names):
            creep = 1.0 + self.pad_creep[i] * (1.0 - np.exp(-t / self.pad_creep_tau_s[i]))
            sensed = true[i] * self.pad_gain[i] * creep
            if rng is not None:
                sensed = sensed * (1.0 + 0.02 * rng.standard_normal(len(t)))
                sensed = sensed + 0.03 * rng.standard_normal(len(t)) * (true[i] > 0.05)
            out[name] = np.clip(sensed, 0.0, None)
        gyro_bias = self.gyro_bias_dps + np.stack([b(t)[0] for b in self._gyro_bias_drift], axis=1)
        acc = acc + self.accel_bias_g
        gyr = gyr + gyro_bias
        if rng is not None:
            acc = acc + rng.normal(0.0, self.accel_noise_g, acc.shape)
            gyr = gyr + rng.normal(0.0, self.gyro_noise_dps, gyr.shape)
        for i, k in enumerate(("ax_g", "ay_g", "az_g")):
            out[k] = acc[:, i]
        for i, k in enumerate(("gx_dps", "gy_dps", "gz_dps")):
            out[k] = gyr[:, i]
        out["hinge_deg"] = hinge
        for i, name in enumerate(names):
            out[name.replace("_n", "_true_n")] = true[i]
        out["on_back"] = contact > 0.5
        return out

    def render(self, rate_hz, noise=True, duration_s=None):
        """The whole scenario sampled at rate_hz: dict of equal-length numpy arrays.

        Keys: t, head_n, midback_n, tailbone_n (sensed contact force, N), ax_g, ay_g, az_g
        (g, sensor frame), gx_dps, gy_dps, gz_dps (deg/s, sensor frame), hinge_deg (true
        inclination from upright), plus head_true_n, midback_true_n, tailbone_true_n (the
        force actually applied, N) and on_back (the dowel is held along the back).
        The same arguments always give the same arrays.
        """
        if duration_s is None:
            duration_s = self.duration_s
            if duration_s is None:
                raise ValueError("an endless body needs duration_s to render")
        n = int(math.floor(duration_s * rate_hz)) + 1
        t = np.arange(n) / float(rate_hz)
        rng = np.random.default_rng([self.seed, 3, int(rate_hz)]) if noise else None
        return self._evaluate(t, rng)

    def sensors_at(self, t_s):
        """The sensors at one time (s), noise from the model's own seeded stream: dict of floats.

        Served from blocks of BLOCK_S rendered at BLOCK_HZ (the sample at or just before t_s),
        so a 100 Hz board costs a few microseconds per call. A rendered block is committed:
        live control schedules after it.
        """
        t_s = float(t_s)
        blk, i = self.block_at(t_s)
        d = {k: col[i] for k, col in blk[2].items()}
        d["t"] = t_s
        return d

    def block_at(self, t_s):
        """(block, row) behind sensors_at(t_s): block is (start s, end s, {name: numpy column
        at BLOCK_HZ}), the same object for every time inside it (a board derives what it
        sends from it once per block)."""
        blk = self._block
        if blk is None or not blk[0] <= t_s < blk[1]:
            with self._lock:
                t = t_s + np.arange(int(BLOCK_S * BLOCK_HZ)) / float(BLOCK_HZ)
                self._now = max(self._now, float(t[-1]))
                out = self._evaluate(t, self._stream_rng)
                blk = self._block = (t_s, t_s + BLOCK_S, {k: out[k] for k in self._block_keys})
        return blk, min(int((t_s - blk[0]) * BLOCK_HZ), int(BLOCK_S * BLOCK_HZ) - 1)

    @property
    def now_s(self):
        """Latest time the sensors were read at (live control schedules from here)."""
        return self._now


def make_body(scenario, reps=None, seed=None, endless=False):
    """A body model for a named scenario (see SCENARIOS); seed makes it reproducible."""
    return BodyModel(scenario, reps=reps, seed=seed, endless=endless)


def _quat_to_matrix(q):
    w, x, y, z = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def _rot_x(a):
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def _rot_y(a):
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def _rot_z(a):
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)
