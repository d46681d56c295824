"""The streaming pipeline: one causal pass per sample (hinge-angle filter, contact hysteresis,
rep state machine), so pushing a recording in batches of any size gives the same reps.

`analyze()` in batch.py runs this same loop over a whole file; only the per-rep fault
analysis (faults.py) works on numpy arrays of the rep's samples.
"""

import math
from collections import deque

import numpy as np

from .calibration import Calibration
from .config import PipelineConfig
from .faults import RISE_FRACTION, rep_faults, rep_phases, rise_time_s, vertical_drop_m
from .samples import SampleConverter
from .types import (
    CONTACT_FAULT,
    CONTACTS,
    CUE_PRIORITY,
    PHASE_ASCENT,
    PHASE_BOTTOM,
    PHASE_DESCENT,
    PHASE_NOT_READY,
    PHASE_STANDING,
    ContactChanged,
    Fault,
    FaultCleared,
    FaultRaised,
    LiveState,
    Rep,
    RepCancelled,
    RepCompleted,
    RepStarted,
    UprightCaptured,
)

DEG = math.pi / 180.0
RAD = 180.0 / math.pi

# Rep state machine states
_NO_UPRIGHT = 0  # no upright pose yet: nothing is counted
_IDLE = 1  # standing (within the standing band of the baseline)
_DESCENT = 2
_ASCENT = 3
_SETTLE = 4  # back near upright, waiting for the angle to settle
_WAIT = 5  # after a cancelled rep: waiting to be upright again

_CONTACT_OF_FAULT = {CONTACT_FAULT[c]: k for k, c in enumerate(CONTACTS)}
_CUE_RANK = {fid: i for i, fid in enumerate(CUE_PRIORITY)}

HISTORY_LEN = 32768  # samples kept for the rep being analysed (> 30 s at 1 kHz)
START_LOOKBACK_S = 5.0  # how far before leaving the standing band a rep's start is sought


class Pipeline:
    """Streaming hip-hinge analysis. Not thread-safe: call everything from one thread.

    push(samples) consumes a Samples batch and returns the events it caused, in time order;
    `state` (LiveState) then describes the latest sample, `reps` lists the completed reps.
    """

    def __init__(self, config=None, calibration=None):
        # a copy: set_target_depth() must not change the caller's config
        self.config = PipelineConfig.from_dict(config.to_dict()) if config is not None else PipelineConfig()
        self.calibration = calibration if calibration is not None else Calibration()
        self.converter = SampleConverter(self.calibration)
        self.reps = []
        self.cancelled = deque(maxlen=100)  # the latest RepCancelled events, for diagnostics
        self.state = LiveState(target_depth_deg=self.config.target_depth_deg)
        self._history = deque(maxlen=HISTORY_LEN)
        self._last_counts = deque(maxlen=64)  # recent raw FSR counts, for zero_contacts()
        self._init_state()

    # --- public control -------------------------------------------------------------------

    def push_messages(self, messages):
        """Convert SAMPLE messages (others are ignored) with this pipeline's calibration and
        push them; returns the events."""
        return self.push(self.converter.convert(messages))

    def push(self, samples, record=None):
        """Consume a Samples batch; returns the list of events it caused.

        record (internal, used by analyze()): a dict of preallocated arrays 'hinge_deg' and
        'head_on'/'midback_on'/'tailbone_on' filled for these samples.
        """
        if len(samples) == 0:
            return []
        if samples.head_counts is not None:
            self._last_counts.extend(
                zip(samples.head_counts[-64:], samples.midback_counts[-64:],
                    samples.tailbone_counts[-64:])
            )
        events = []
        self._run(samples, events, record)
        self._update_live()
        return events

    def calibrate_upright(self):
        """Take the current pose as upright (0 deg), now; returns True if it could.

        Uses the mean accelerometer direction while still, else the filter's gravity estimate.
        Without any IMU data yet it returns False and the pose is taken as soon as it can be
        (at the next still moment with auto_upright, else at the next sample).
        """
        if self._v is None:
            self._upright_request = True
            return False
        if self._still_n > 0 and self._still_s > 0.2:
            g = (self._still_sum[0], self._still_sum[1], self._still_sum[2])
        else:
            g = self._v
        events = []
        self._set_upright(g, self._last_t if self._last_t is not None else 0.0, False, events)
        self._update_live()
        return True

    def zero_contacts(self):
        """Take the FSR readings of the last samples (no load on the pads) as their zero.

        Needs raw counts, i.e. data pushed with push_messages(); raises ValueError otherwise.
        """
        if not self._last_counts:
            raise ValueError("no raw FSR counts seen yet: zeroing needs live data from the dowel")
        recent = np.array(list(self._last_counts)[-32:], dtype=float)
        mean = recent.mean(axis=0)
        self.calibration.zero_from_counts(dict(zip(CONTACTS, mean)))
        return dict(zip(CONTACTS, (float(x) for x in mean)))

    def set_target_depth(self, depth_deg):
        """Reps shallower than this (deg) are flagged `shallow` from now on."""
        self.config.target_depth_deg = float(depth_deg)
        self.state.target_depth_deg = float(depth_deg)

    def new_set(self, recapture_upright=False):
        """Start a new set: the rep count restarts at 0 (and optionally the upright pose is
        captured again at the next still moment)."""
        self.reps = []
        self._rep_count = 0
        self._cue_faults = {}
        if self._rs in (_DESCENT, _ASCENT, _SETTLE):
            self._cancel(self._last_t or 0.0, "new set", [])
        if recapture_upright:
            self.calibration.upright = None
            self._up = None
            self._up_verified = False
            self._rs = _NO_UPRIGHT
        self._update_live()

    # --- internals ------------------------------------------------------------------------

    def _init_state(self):
        self._last_t = None
        self._v = None  # gravity estimate (unit, sensor frame, as the accelerometer reads it)
        self._bias = [x * DEG for x in self.calibration.gyro_bias_dps]  # rad/s
        self._pg = None  # previous gyro sample (rad/s)
        self._angle = None
        # stillness
        self._mean_a = None
        self._var_a = 0.0
        self._gyro_ema = 0.0
        self._still_s = 0.0
        self._still_sum = [0.0, 0.0, 0.0]
        self._still_n = 0
        self._a_rest = 1.0  # |a| while still (absorbs the accelerometer's scale error)
        # upright
        up = self.calibration.upright
        self._up = up
        self._up_verified = up is not None
        self._up_refining = False
        self._upright_request = False
        # a stand-in upright (the pose in which the dowel arrived on the back) until a still
        # moment confirms it; see _run's upright section
        self._up_provisional = False
        self._await_provisional = False  # the dowel arrived on the back: note its pose
        self._arrival = None  # gravity where the dowel last settled on the back (standing)
        self._n_on_prev = 0
        # contacts
        self._c_on = [False, False, False]
        self._c_pend = [None, None, None]
        self._c_init = False
        self._c_ref = [0.0, 0.0, 0.0]  # standing pressure of each pad (N)
        self._force_seen = False
        self._has_force_hint = True  # whether the data carries contact forces at all
        self._no_force_s = 0.0  # time with force columns but no pad ever touched
        self._all_off_since = None
        self._away = False
        # reps
        self._rs = _IDLE if up is not None else _NO_UPRIGHT
        self._base = 0.0
        self._t_rest = None
        self._peak = 0.0
        self._t_peak = 0.0
        self._t_first = 0.0  # when the rep left the standing band
        self._confirmed = False
        self._start_est = 0.0
        self._prev_end = -math.inf
        self._bottom_passed = False
        self._settle_min = 0.0
        self._t_settle_min = 0.0
        self._t_settle = 0.0
        self._live_faults = {}
        self._rep_count = 0
        # what the banner asks the patient to correct (fault id -> Fault), see _shown_fault()
        self._cue_faults = {}

    def _set_upright(self, g, t, automatic, events):
        n = math.sqrt(g[0] * g[0] + g[1] * g[1] + g[2] * g[2])
        if n < 1e-9:
            return
        up = (g[0] / n, g[1] / n, g[2] / n)
        self._up = up
        self.calibration.upright = up
        self._up_verified = self._force_seen or not self._has_force_hint
        self._upright_request = False
        self._up_provisional = False
        if self._rs in (_DESCENT, _ASCENT, _SETTLE):
            self._cancel(t, "upright pose captured again", events)
        self._history.clear()  # angles from another upright
        self._rs = _IDLE
        self._base = 0.0
        self._t_rest = t
        events.append(UprightCaptured(t, up, automatic))

    def _upright_acceptable(self, n_on):
        """Whether the current still spell may be taken as the upright pose.

        Without pads (or before any pad was touched) and on request, any still moment is.
        With a provisional upright (the pose the dowel arrived on the back in), one while
        standing by it (no rep under way, within upright_near_deg) is; any other only after
        upright_long_still_s (it may be the hold at the bottom of a rep). With a confirmed
        upright, only a recovery from a wrong one: see below.
        """
        cfg = self.config
        if self._up is None or self._upright_request:
            return True
        ss = self._still_sum
        nn = math.sqrt(ss[0] ** 2 + ss[1] ** 2 + ss[2] ** 2)
        if nn < 1e-9:
            return False
        up = self._up
        c = (ss[0] * up[0] + ss[1] * up[1] + ss[2] * up[2]) / nn
        far = c < math.cos(cfg.upright_near_deg * DEG)
        if self._up_provisional:
            # standing by the provisional upright, or still for long wherever the dowel is
            return (self._rs == _IDLE and not far) or self._still_s >= cfg.upright_long_still_s
        # A confirmed upright far from where the patient stands still with every pad on,
        # close to the pose the dowel was put on the back in: the upright was wrong (taken
        # at the bottom of a rep, or on demand mid-movement). A long hold at the bottom of
        # a rep is far from that pose, and keeps the upright.
        if not far or n_on != 3 or self._arrival is None or \
                self._still_s < cfg.upright_recover_s:
            return False
        a = self._arrival
        c_arr = (ss[0] * a[0] + ss[1] * a[1] + ss[2] * a[2]) / nn
        return c_arr >= math.cos(cfg.upright_near_deg * DEG)

    def _cancel(self, t, reason, events):
        if self._confirmed:
            idx = self._rep_count + 1
            ev = RepCancelled(idx, t, reason)
            events.append(ev)
            self.cancelled.append(ev)
            for fid in list(self._live_faults):
                events.append(FaultCleared(fid, idx, t))
        self._live_faults = {}
        self._cue_faults = {}  # nothing to correct in a rep that did not happen
        self._confirmed = False
        self._rs = _WAIT

    def _live_phase(self):
        rs = self._rs
        if rs == _DESCENT:
            return PHASE_DESCENT if not self._bottom_passed else PHASE_BOTTOM
        if rs in (_ASCENT, _SETTLE):
            return PHASE_ASCENT
        if rs == _IDLE:
            return PHASE_STANDING
        return PHASE_NOT_READY

    def _raise(self, fid, t, events):
        if fid in self._live_faults:
            return
        f = Fault(fid, self._live_phase(), t, 0.0)
        self._live_faults[fid] = f
        self._cue_faults[fid] = f
        events.append(FaultRaised(f, self._rep_count + 1))

    def _recent(self, t_from, t_to=math.inf):
        """History entries with t_from <= t <= t_to, oldest first (walks back from the end)."""
        out = []
        for h in reversed(self._history):
            if h[0] < t_from:
                break
            if h[0] <= t_to:
                out.append(h)
        out.reverse()
        return out

    def _find_start(self, hist_t, hist_a, base, depth):
        """Time the rep began: the last moment before it left the standing band at which the
        angle was within max(1 deg, 5% of the depth) of the baseline."""
        band = base + max(1.0, 0.05 * (depth - base))
        t_first = self._t_first
        start = None
        for k in range(len(hist_t) - 1, -1, -1):
            tk = hist_t[k]
            if tk > t_first:
                continue
            if tk <= self._prev_end:
                # the previous rep ended here, without a full return to standing
                start = self._prev_end
                break
            if hist_a[k] <= band:
                start = tk
                break
        if start is None:
            start = hist_t[0] if hist_t else t_first
        return start

    def _finish(self, end_t, events):
        cfg = self.config
        idx = self._rep_count + 1
        # samples from a little before the rep left the standing band
        hist = self._recent(self._t_first - START_LOOKBACK_S - cfg.drop_lead_s, end_t)
        ht = [h[0] for h in hist]
        ha = [h[1] for h in hist]
        start = self._find_start(ht, ha, self._base, self._peak)
        duration = end_t - start
        if not self._confirmed:
            self._rs = _IDLE
            return
        if duration < cfg.min_rep_s:
            self._cancel(end_t, "too quick for a rep", events)
            self._rs = _IDLE
            return
        # from a moment before the rep (still standing) for the vertical drop
        pre = max(start - cfg.drop_lead_s, self._prev_end)
        arr = np.array([h for h in hist if h[0] >= pre], dtype=float)
        k_start = int(np.searchsorted(arr[:, 0], start))
        t = arr[k_start:, 0]
        angle = arr[k_start:, 1]
        on = arr[k_start:, 2:5] > 0.5
        peak = self._peak
        bottom_s = self._t_peak
        k_bottom = int(np.searchsorted(arr[:, 0], bottom_s, side="right"))
        drop_m = vertical_drop_m(arr[:k_bottom, 0], arr[:k_bottom, 5])
        phases = rep_phases(t, angle, peak, self._base, cfg)
        faults = rep_faults(
            t, angle, on, drop_m, phases, start, bottom_s, end_t, peak, self._base,
            self._force_seen, cfg,
        )
        rep = Rep(
            index=idx,
            start_s=float(start),
            bottom_s=float(bottom_s),
            end_s=float(end_t),
            depth_deg=float(peak),
            descent_s=float(bottom_s - start),
            ascent_s=float(end_t - bottom_s),
            faults=faults,
            drop_m=float(drop_m),
        )
        self._rep_count = idx
        self.reps.append(rep)
        for fid in list(self._live_faults):
            events.append(FaultCleared(fid, idx, end_t))
        self._live_faults = {}
        events.append(RepCompleted(rep))
        # the banner after the rep: its depth, speed and squat faults (until the next rep
        # starts); its contact faults only while that contact is still off
        self._cue_faults = {
            f.id: f for f in faults
            if f.id not in _CONTACT_OF_FAULT or not self._c_on[_CONTACT_OF_FAULT[f.id]]
        }
        self._confirmed = False
        self._rs = _IDLE
        self._t_rest = end_t
        self._prev_end = end_t

    def _shown_fault(self):
        """The fault the patient should correct now, or None.

        A contact fault shows only while that contact is off: it clears as soon as the contact
        is back. A depth, speed or squat fault of the current or last rep shows until the next
        rep starts (a good rep therefore clears the banner). Several: CUE_PRIORITY decides.
        """
        best = None
        for fid, f in self._cue_faults.items():
            k = _CONTACT_OF_FAULT.get(fid)
            if k is not None and self._c_on[k]:
                continue
            if best is None or _CUE_RANK[fid] < _CUE_RANK[best.id]:
                best = f
        return best

    def _update_live(self):
        st = self.state
        st.t_s = self._last_t if self._last_t is not None else 0.0
        st.hinge_deg = self._angle if (self._up is not None and self._angle is not None) else None
        st.rep_count = self._rep_count
        st.phase = self._live_phase()
        st.upright = self._up is not None
        st.target_depth_deg = self.config.target_depth_deg
        shown = self._shown_fault()
        st.fault = shown
        st.cue = shown.cue if shown is not None else ""
        for k, c in enumerate(CONTACTS):
            cs = st.contacts[c]
            cs.on = self._c_on[k]
            cs.pressure_n = self._last_force[k] if hasattr(self, "_last_force") else 0.0

    # --- the per-sample loop --------------------------------------------------------------

    def _run(self, s, events, record):
        cfg = self.config
        n = len(s)
        T = s.t_s.tolist()
        AX, AY, AZ = s.ax_g.tolist(), s.ay_g.tolist(), s.az_g.tolist()
        has_gyro = s.has_gyro
        if has_gyro:
            GX, GY, GZ = s.gx_dps.tolist(), s.gy_dps.tolist(), s.gz_dps.tolist()
        has_force = s.has_force
        self._has_force_hint = has_force
        if has_force:
            FH, FM, FT = s.head_n.tolist(), s.midback_n.tolist(), s.tailbone_n.tolist()
        OK = s.imu_ok.tolist()
        rec_angle = rec_on = None
        if record is not None:
            rec_angle = record["hinge_deg"]
            rec_on = [record["head_on"], record["midback_on"], record["tailbone_on"]]
            rec_off = record["offset"]

        hist = self._history
        exp = math.exp
        sqrt = math.sqrt
        acos = math.acos
        cos = math.cos
        sin = math.sin

        # configuration in locals
        max_gap = cfg.max_gap_s
        on_n, off_n, c_min = cfg.contact_on_n, cfg.contact_off_n, cfg.contact_min_s
        on_frac, off_frac = cfg.contact_on_fraction, cfg.contact_off_fraction
        ref_tau = cfg.contact_ref_tau_s
        c_ref = self._c_ref
        away_s = cfg.dowel_away_s
        force_absent_s = cfg.force_absent_s
        kp_gyro = 1.0 / cfg.gyro_tau_s
        ki_gyro = 0.25 * kp_gyro * kp_gyro * 0.2  # slow bias integrator (well damped)
        tau_acc = cfg.accel_only_tau_s
        acc_tol = cfg.accel_tolerance_g
        acc_only_tol = cfg.accel_only_tolerance_g
        still_tau = cfg.still_tau_s
        still_a2 = cfg.still_accel_g ** 2
        still_w = cfg.still_gyro_dps
        up_still = cfg.upright_still_s
        start_deg = cfg.start_deg
        rest_band = cfg.rest_band_deg
        min_depth = cfg.min_rep_depth_deg
        end_frac, end_min = cfg.end_fraction, cfg.end_min_deg
        settle_to = cfg.settle_timeout_s
        max_rep = cfg.max_rep_s
        max_depth = cfg.max_depth_deg
        base_tau = cfg.baseline_tau_s
        base_max = cfg.baseline_max_deg

        # filter state in locals
        last_t = self._last_t
        v = self._v
        if v is not None:
            vx, vy, vz = v
        bx, by, bz = self._bias
        pg = self._pg
        mean_a = self._mean_a
        var_a = self._var_a
        gyro_ema = self._gyro_ema
        a_rest = self._a_rest
        c_on = self._c_on
        c_pend = self._c_pend
        angle = self._angle
        last_force = [0.0, 0.0, 0.0]

        for i in range(n):
            t = T[i]
            if last_t is None:
                dt = 0.0
                last_t = t
            else:
                dt = t - last_t
                if dt < 0.0:
                    dt = 0.0
                else:
                    last_t = t
                if dt > max_gap:
                    # a gap in the data: restart the filters, drop any rep under way
                    v = None
                    pg = None
                    mean_a = None
                    self._still_s = 0.0
                    self._still_n = 0
                    if self._rs in (_DESCENT, _ASCENT, _SETTLE):
                        self._cancel(t, "gap in the data", events)
                    dt = 0.0

            # --- contacts: hysteresis and minimum duration ---
            if has_force:
                f3 = (FH[i], FM[i], FT[i])
                last_force = f3
                if not self._c_init:
                    self._c_init = True
                    for k in range(3):
                        c_on[k] = f3[k] >= on_n
                        if c_on[k]:
                            self._force_seen = True
                    if self._force_seen and self._up is not None and not self._up_verified:
                        self._upright_request = True
                else:
                    if self._rs == _IDLE and dt > 0.0:
                        # each pad's standing pressure: losses are judged relative to it
                        al = 1.0 - exp(-dt / ref_tau)
                        for k in range(3):
                            if c_on[k]:
                                c_ref[k] += al * (f3[k] - c_ref[k])
                    for k in range(3):
                        f = f3[k]
                        if c_on[k]:
                            if f < off_n or f < off_frac * c_ref[k]:
                                if c_pend[k] is None:
                                    c_pend[k] = t
                                if t - c_pend[k] >= c_min:
                                    c_on[k] = False
                                    t_change = c_pend[k]
                                    c_pend[k] = None
                                    events.append(ContactChanged(CONTACTS[k], False, t_change, f))
                                    if self._confirmed:
                                        self._raise(CONTACT_FAULT[CONTACTS[k]], t_change, events)
                            else:
                                c_pend[k] = None
                        else:
                            if f >= on_n and f >= on_frac * c_ref[k]:
                                if c_pend[k] is None:
                                    c_pend[k] = t
                                if t - c_pend[k] >= c_min:
                                    c_on[k] = True
                                    t_change = c_pend[k]
                                    c_pend[k] = None
                                    events.append(ContactChanged(CONTACTS[k], True, t_change, f))
                                    if not self._force_seen:
                                        self._force_seen = True
                                        if self._up is not None and not self._up_verified:
                                            self._upright_request = True
                                    fid = CONTACT_FAULT[CONTACTS[k]]
                                    self._cue_faults.pop(fid, None)  # corrected
                                    if fid in self._live_faults:
                                        events.append(FaultCleared(fid, self._rep_count + 1, t_change))
                                        del self._live_faults[fid]
                            else:
                                c_pend[k] = None
                n_on = c_on[0] + c_on[1] + c_on[2]
                if n_on == 0 and self._force_seen:
                    if self._all_off_since is None:
                        self._all_off_since = t
                    if not self._away and t - self._all_off_since >= away_s:
                        self._away = True
                        if self._rs in (_DESCENT, _ASCENT, _SETTLE):
                            self._cancel(t, "the dowel left the back", events)
                        elif self._rs == _IDLE:
                            self._rs = _WAIT
                else:
                    self._all_off_since = None
                    self._away = False
                # the dowel arrived on the back (two pads or more now on)
                if n_on >= 2 and self._n_on_prev < 2 and self._force_seen:
                    self._await_provisional = True
                elif n_on < 2:
                    self._await_provisional = False
                self._n_on_prev = n_on
                if self._force_seen:
                    contacts_ok = capture_ok = n_on >= 2
                else:
                    # pads never touched yet: a dowel on a table, or pads not connected
                    self._no_force_s += dt
                    contacts_ok = True
                    capture_ok = self._no_force_s >= force_absent_s
            else:
                n_on = 0
                contacts_ok = capture_ok = True

            # --- hinge angle: gravity direction, gyro propagated, accelerometer corrected ---
            adev = 0.0
            if OK[i]:
                ax, ay, az = AX[i], AY[i], AZ[i]
                na = sqrt(ax * ax + ay * ay + az * az)
                if na > 0.2:
                    ux, uy, uz = ax / na, ay / na, az / na
                    if v is None:
                        vx, vy, vz = ux, uy, uz
                        v = (vx, vy, vz)
                        if has_gyro:
                            pg = (GX[i] * DEG, GY[i] * DEG, GZ[i] * DEG)
                    elif dt > 0.0:
                        wa = 1.0 - abs(na - a_rest) / (acc_tol if has_gyro else acc_only_tol)
                        if wa < 0.0:
                            wa = 0.0
                        if has_gyro:
                            g_now = (GX[i] * DEG, GY[i] * DEG, GZ[i] * DEG)
                            if pg is None:
                                pg = g_now
                            # e = u x v: rotating v about e turns it towards u
                            ex = uy * vz - uz * vy
                            ey = uz * vx - ux * vz
                            ez = ux * vy - uy * vx
                            k = kp_gyro * wa
                            wx = 0.5 * (pg[0] + g_now[0]) - bx + k * ex
                            wy = 0.5 * (pg[1] + g_now[1]) - by + k * ey
                            wz = 0.5 * (pg[2] + g_now[2]) - bz + k * ez
                            pg = g_now
                            if wa > 0.5:
                                kb = ki_gyro * wa * dt
                                bx -= kb * ex
                                by -= kb * ey
                                bz -= kb * ez
                            # v' = R(-w dt) v  (a world-fixed vector seen from the rotating sensor)
                            wn = sqrt(wx * wx + wy * wy + wz * wz)
                            th = wn * dt
                            if th > 1e-12:
                                kx, ky, kz = -wx / wn, -wy / wn, -wz / wn
                                c = cos(th)
                                sn = sin(th)
                                kd = (kx * vx + ky * vy + kz * vz) * (1.0 - c)
                                cx = ky * vz - kz * vy
                                cy = kz * vx - kx * vz
                                cz = kx * vy - ky * vx
                                vx, vy, vz = (vx * c + cx * sn + kx * kd,
                                              vy * c + cy * sn + ky * kd,
                                              vz * c + cz * sn + kz * kd)
                        else:
                            alpha = wa * (1.0 - exp(-dt / tau_acc))
                            vx += alpha * (ux - vx)
                            vy += alpha * (uy - vy)
                            vz += alpha * (uz - vz)
                        nv = sqrt(vx * vx + vy * vy + vz * vz)
                        vx, vy, vz = vx / nv, vy / nv, vz / nv
                        v = (vx, vy, vz)

                    # --- stillness (for the automatic upright pose) ---
                    if mean_a is None:
                        mean_a = [ax, ay, az]
                        var_a = 0.0
                        gyro_ema = 0.0
                    else:
                        al = 1.0 - exp(-dt / still_tau) if dt > 0.0 else 0.0
                        dx, dy, dz = ax - mean_a[0], ay - mean_a[1], az - mean_a[2]
                        mean_a[0] += al * dx
                        mean_a[1] += al * dy
                        mean_a[2] += al * dz
                        var_a += al * ((dx * dx + dy * dy + dz * dz) - var_a)
                        if has_gyro:
                            gm = sqrt(GX[i] ** 2 + GY[i] ** 2 + GZ[i] ** 2)
                            gyro_ema += al * (gm - gyro_ema)
                    still = var_a < still_a2 and abs(na - 1.0) < 0.1 and (
                        not has_gyro or gyro_ema < still_w)
                    if still:
                        self._still_s += dt
                        ss = self._still_sum
                        ss[0] += ux
                        ss[1] += uy
                        ss[2] += uz
                        self._still_n += 1
                        a_rest += (1.0 - exp(-dt / 2.0)) * (na - a_rest) if dt > 0.0 else 0.0
                    else:
                        self._still_s = 0.0
                        self._still_sum = [0.0, 0.0, 0.0]
                        self._still_n = 0
                        self._up_refining = False
                    adev = na - a_rest

                    if self._await_provisional and (
                            gyro_ema < 2.0 * still_w if has_gyro else var_a < 4.0 * still_a2):
                        # The dowel was put on the back (the patient standing) and has nearly
                        # stopped moving: remember the pose. Without an upright yet, it is a
                        # stand-in until a still moment confirms it, so that a rep begun right
                        # after picking the dowel up counts.
                        self._await_provisional = False
                        self._arrival = v
                        if self._up is None and cfg.auto_upright and not self._upright_request:
                            self._up = v
                            self._up_provisional = True
                            self._rs = _IDLE
                            self._base = 0.0
                            self._t_rest = t

                    # --- the upright pose ---
                    # Taken at a still moment with the dowel on the back. Stillness alone
                    # does not tell standing from the hold at the bottom of a rep, so a
                    # moment far from the pose in which the dowel arrived on the back (the
                    # provisional upright) is taken only after a long stillness; and an
                    # upright the patient keeps standing far from is taken again.
                    if cfg.auto_upright and capture_ok and not self._away \
                            and self._still_s >= up_still and (
                                self._up is None or self._upright_request
                                or self._up_provisional or self._arrival is not None) \
                            and self._upright_acceptable(n_on):
                        self._v = v
                        self._set_upright(self._still_sum, t, True, events)
                        self._up_refining = True
                    elif self._up_refining and self._rs == _IDLE and self._still_n > 0:
                        # keep averaging the upright pose over the rest of this still spell
                        ss = self._still_sum
                        nn = sqrt(ss[0] ** 2 + ss[1] ** 2 + ss[2] ** 2)
                        self._up = (ss[0] / nn, ss[1] / nn, ss[2] / nn)
                        self.calibration.upright = self._up
                    elif self._upright_request and not cfg.auto_upright and v is not None:
                        self._set_upright(v, t, False, events)

            if v is not None and self._up is not None:
                up = self._up
                c = vx * up[0] + vy * up[1] + vz * up[2]
                if c > 1.0:
                    c = 1.0
                elif c < -1.0:
                    c = -1.0
                angle = acos(c) * RAD
            elif self._up is None:
                angle = None

            if record is not None:
                j = rec_off + i
                rec_angle[j] = angle if angle is not None else math.nan
                rec_on[0][j] = c_on[0]
                rec_on[1][j] = c_on[1]
                rec_on[2][j] = c_on[2]

            if angle is None:
                continue
            hist.append((t, angle, c_on[0], c_on[1], c_on[2], adev))

            # --- the rep state machine ---
            rs = self._rs
            base = self._base
            if rs == _IDLE:
                if dt > 0.0 and angle < base + start_deg:
                    base += (1.0 - exp(-dt / base_tau)) * (angle - base)
                    if base > base_max:
                        base = base_max
                    self._base = base
                if angle > base + start_deg and contacts_ok and not self._away:
                    self._rs = _DESCENT
                    self._peak = angle
                    self._t_peak = t
                    self._t_first = t
                    self._confirmed = False
                    self._bottom_passed = False
                    self._live_faults = {}
                continue
            if rs == _WAIT or rs == _NO_UPRIGHT:
                if rs == _WAIT and angle < base + start_deg and contacts_ok and not self._away:
                    self._rs = _IDLE
                continue

            # descent, ascent or settle: a rep (candidate) is under way
            if angle > self._peak:
                self._peak = angle
                self._t_peak = t
                if rs != _DESCENT:
                    self._rs = rs = _DESCENT
                    self._bottom_passed = False
            peak = self._peak
            rel = peak - base
            if t - self._t_first > max_rep:
                self._cancel(t, "too long for a rep", events)
                continue
            if peak > max_depth:
                self._cancel(t, "too far from upright for a hinge", events)
                continue
            if not self._confirmed:
                if peak >= min_depth and rel >= min_depth - start_deg:
                    self._confirmed = True
                    idx = self._rep_count + 1
                    recent = self._recent(self._t_first - START_LOOKBACK_S)
                    hist_t = [h[0] for h in recent]
                    hist_a = [h[1] for h in recent]
                    self._start_est = self._find_start(hist_t, hist_a, base, peak)
                    events.append(RepStarted(idx, self._start_est))
                    self._cue_faults = {}  # a new attempt: the last rep's cue is done with
                    for k in range(3):
                        if self._force_seen and not c_on[k]:
                            self._raise(CONTACT_FAULT[CONTACTS[k]], t, events)
                elif angle < base + 0.6 * start_deg:
                    self._rs = _IDLE  # sway, not a rep
                    continue
            if rs == _DESCENT:
                hyst = 0.15 * rel
                if hyst < 3.0:
                    hyst = 3.0
                if angle < peak - hyst:
                    self._rs = rs = _ASCENT
                    self._bottom_passed = True
                    if self._confirmed:
                        if peak < cfg.target_depth_deg:
                            self._raise("shallow", self._t_peak, events)
                        recent = self._recent(self._start_est)
                        ht = np.array([h[0] for h in recent])
                        ha = np.array([h[1] for h in recent])
                        rise = rise_time_s(ht, ha, base, peak, self._t_peak)
                        if rise < RISE_FRACTION * cfg.rushed_descent_s:
                            self._raise("rushed", self._start_est, events)
                elif not self._bottom_passed and angle >= peak - 1.0 and t - self._t_peak > 0.2:
                    self._bottom_passed = True
            if rs == _ASCENT:
                end_thr = end_frac * rel
                if end_thr < end_min:
                    end_thr = end_min
                if angle < base + end_thr:
                    self._rs = _SETTLE
                    self._settle_min = angle
                    self._t_settle_min = t
                    self._t_settle = t
                continue
            if rs == _SETTLE:
                if angle < self._settle_min - 0.5:
                    self._settle_min = angle
                    self._t_settle_min = t
                if angle <= base + rest_band:
                    self._finish(t, events)
                elif angle > self._settle_min + 3.0 or t - self._t_settle > settle_to:
                    self._finish(self._t_settle_min, events)
                    if self._rs == _IDLE and angle > self._base + start_deg:
                        # the next rep began without a full return
                        self._rs = _DESCENT
                        self._peak = angle
                        self._t_peak = t
                        self._t_first = t
                        self._confirmed = False
                        self._bottom_passed = False

        # store the loop state back
        self._last_t = last_t
        self._v = v
        self._bias = [bx, by, bz]
        self.calibration.gyro_bias_dps = (bx * RAD, by * RAD, bz * RAD)
        self._pg = pg
        self._mean_a = mean_a
        self._var_a = var_a
        self._gyro_ema = gyro_ema
        self._a_rest = a_rest
        self._angle = angle
        self._last_force = list(last_force)
