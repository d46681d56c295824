"""The streaming pipeline: samples in, events and a live picture out, built from stages.

    orientation (gravity) -> inclination (signed, in the plane of motion) -> polarity
    contacts (pads on/off)                                               -> segmentation (reps)
                                                                          -> scoring (faults)

Every stage is causal and keeps its state between calls, and every decision is taken on the
samples' own timestamps, so pushing a recording in batches of any size gives the same reps as
`analyze()` (batch.py) over the whole file.

Counting needs no upright pose: a rep is an excursion of the inclination from where the person
keeps coming back to. The upright pose, when known (taken by the clinician with `c`, found
automatically while the patient stands still with every pad on, or stored with a session),
calibrates the hinge angle and depth; without it depth is measured from the rep's own start and
the rep says `uncalibrated`.

Which side of the plane is hinging is not assumed either (the IMU may be mounted any way): it is
the side that goes farthest from where the person stands. Both sides are segmented all along, so
when the evidence changes sides (data that joined a set under way, then a long stand) the reps
of the right side are already there.
"""

import math

import numpy as np

from .calibration import Calibration
from .config import PipelineConfig
from .contacts import Contacts
from .faults import rep_faults, rep_phases, vertical_drop_m
from .inclination import Inclination
from .lever import LeverArm, standing_of
from .orientation import Orientation
from .samples import SampleConverter
from .segmenter import CANCELLED, COMPLETED, R_STILL, REASONS, STARTED, Segmenter
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

_CONTACT_OF_FAULT = {CONTACT_FAULT[c]: k for k, c in enumerate(CONTACTS)}
_CUE_RANK = {fid: i for i, fid in enumerate(CUE_PRIORITY)}
HISTORY_S = 50.0  # samples kept for scoring the rep under way (> max_rep_s + look-back)
SIDES = (1, -1)
_LEFT = object()  # a keyed event: the dowel left the back at this sample
_FLIP = object()  # ... (_FLIP, shift): the angle so far was mirrored (see _run)
DWELL_HALF_S = 120.0  # the stillness that says where home is: half its weight after this
DWELL_BOUT_S = 0.5  # stillness counts once held this long
OFF_PLANE_SIN = math.sin(math.radians(35.0))  # gravity this far out of the hinge's plane: handled
IN_PLANE_SIN = math.sin(math.radians(15.0))  # ... once it has turned this close to it...
IN_PLANE_TURN_DEG = 10.0  # ... by this much, since it was away
# the lever arm decides between two poses whose cosines to it differ at least this much (a
# 26-degree hinge with standing along it; shallower reps leave the side to the poses held)
LEVER_MARGIN = 0.1
# a still stand this far behind an upright the lever arm confirmed is a lean back, not a stance
LEAN_BACK_DEG = 8.0
# data that begins with this long a still stand, every pad on, began with the person standing
LONG_STAND_S = 3.0
# a pose held still on the way up from a rep's low, within this share of its rise, is where it began
HELD_SHARE = 0.35
HELD_S = 0.6  # ... held this long (a stand; a squat's pause on the way down is shorter)


class _History:
    """The last HISTORY_S of per-sample values, as numpy columns (t, theta, on x3, adev).

    `data` is a view of the rows kept in a buffer that grows by doubling (a push appends its
    rows in place instead of copying the whole history); a view handed out stays valid, as
    the buffer is only ever replaced, never moved within."""

    def __init__(self):
        self._buf = np.zeros((0, 6))
        self._lo = self._hi = 0

    @property
    def data(self):
        return self._buf[self._lo:self._hi]

    def add(self, t, theta, on, adev):
        n = len(t)
        lo, hi = self._lo, self._hi
        if hi + n > len(self._buf):
            buf = np.zeros((max(1024, 2 * (hi - lo + n)), 6))
            buf[:hi - lo] = self._buf[lo:hi]
            self._buf, self._lo, hi = buf, 0, hi - lo
        b = self._buf
        b[hi:hi + n, 0] = t
        b[hi:hi + n, 1] = theta
        b[hi:hi + n, 2:5] = on
        b[hi:hi + n, 5] = adev
        self._hi = hi + n

    def trim(self):
        t = self.data[:, 0]
        if len(t) and t[-1] - t[0] > HISTORY_S * 1.5:
            k = int(np.searchsorted(t, t[-1] - HISTORY_S))
            self._lo += k

    def mirror_before(self, t, shift):
        """theta -> -theta - shift for the samples before time t (a mirrored turn)."""
        k = int(np.searchsorted(self.data[:, 0], t))
        self.data[:k, 1] = -self.data[:k, 1] - shift

    def between(self, t0, t1):
        t = self.data[:, 0]
        return self.data[int(np.searchsorted(t, t0)):int(np.searchsorted(t, t1, side="right"))]


class _Side:
    """One side of the plane treated as hinging: its segmenter, reps and live faults."""

    def __init__(self, config, sign):
        self.sign = sign
        self.seg = Segmenter(config)
        self.reps = []
        self.start_s = None  # the confirmed rep under way: its start
        self.live_faults = {}


class _Dwell:
    """Where the angle has been held still longest: seconds of stillness per 3-degree bin,
    recent seconds weighing more (half-life DWELL_HALF_S), with the bin and its neighbours
    taken together. add() returns the new home (mean angle of the best bins) when it moved."""

    BIN = 3.0

    def __init__(self):
        self.clear()

    def clear(self):
        self.w = {}
        self.sx = {}
        self.best = None
        self.t0 = None

    def add(self, x, dt, t):
        if self.t0 is None:
            self.t0 = t
        wt = dt * 2.0 ** ((t - self.t0) / DWELL_HALF_S)
        if wt > 1e100:  # renormalise (after days of data)
            k = 2.0 ** (-(t - self.t0) / DWELL_HALF_S)
            self.w = {b: v * k for b, v in self.w.items()}
            self.sx = {b: v * k for b, v in self.sx.items()}
            self.t0, wt = t, dt
        b = int(math.floor(x / self.BIN))
        w, sx = self.w, self.sx
        w[b] = w.get(b, 0.0) + wt
        sx[b] = sx.get(b, 0.0) + wt * x
        best = self.best
        moved = False
        for c in (b - 1, b, b + 1):
            if best is None or (c != best and self._sum(c) > self._sum(best)):
                best = c
                moved = True
        self.best = best
        if moved or best in (b - 1, b, b + 1):
            tw = self._sum(best)
            return (sx.get(best - 1, 0.0) + sx.get(best, 0.0) + sx.get(best + 1, 0.0)) / tw
        return None

    def _sum(self, c):
        w = self.w
        return w.get(c - 1, 0.0) + w.get(c, 0.0) + w.get(c + 1, 0.0)


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
        cfg = self.config
        self.orientation = Orientation(cfg, self.calibration.gyro_bias_dps)
        self.inclination = Inclination()
        self.lever = LeverArm()
        self._lever_off = False  # the clinician said where the patient stands: that holds
        self._upright_auto = False  # the upright was taken by this pipeline from the data
        self.contacts = Contacts(cfg)
        self.sides = {s: _Side(cfg, s) for s in SIDES}
        self.side = 1
        self.cancelled = []
        self.state = LiveState(target_depth_deg=cfg.target_depth_deg)
        self._history = _History()
        self._last_counts = None
        self._has_force = None
        self._was_away = False
        self._near_lo = self._near_hi = math.nan  # theta's range in the plane since last away
        self._pick = None  # while just picked up: [anchor angle, since]
        self._has_gyro = True
        self._theta = None  # the latest inclination (deg, raw side)
        self._g = None  # the latest gravity estimate
        self._t = None
        # polarity evidence: extremes of theta while on the back, and a home pose
        self._hi = -math.inf
        self._lo = math.inf
        # the extremes the lever arm judges (settled on the back) and gravity there
        self._lever_x = (-math.inf, math.inf, None, None)
        self._told = 0  # the side the lever arm told, once it could (0: not yet)
        self._home = None
        self._dwell = _Dwell()
        self._rep_peaks = {1: -math.inf, -1: -math.inf}  # each side's farthest rep (its terms)
        self._rep_n = {1: 0, -1: 0}  # ... and how many rep-sized excursions each side made
        self._restart_t = -math.inf  # when the angle was last re-based
        self._prev_x = self._prev_xt = self._bout = None
        self._opening = None  # the first pose and when it was taken, until `joined` is known
        self._joined = None  # whether the data began with the person moving (a set under way)
        # whether it began with the person standing still for LONG_STAND_S or more, every pad
        # on (None: not known yet)
        self._stood = None
        self._idle_anchor = self._idle_since = None
        self._idle_sum, self._idle_n = 0.0, 0
        self._seen_from = []  # where the angle's data began: the start, and after each long gap
        self._last_valid_t = None
        # the automatic upright pose: a still spell standing with every pad on
        self._still_since = None
        self._still_g = (0.0, 0.0, 0.0)
        self._prev_g = self._prev_t = None
        self._reps_seen = {1: 0, -1: 0}
        self._refining = False  # the first upright is being averaged over its still spell
        self._upright_request = False
        self._cue_faults = {}
        self._last_up = math.nan  # the upright's theta at the last sample (NaN: none)

    # --- public control -------------------------------------------------------------------

    @property
    def reps(self):
        return self.sides[self.side].reps

    def push_messages(self, messages):
        """Convert SAMPLE messages (others are ignored) with this pipeline's calibration and
        push them; returns the events."""
        return self.push(self.converter.convert(messages))

    def push(self, samples, record=None):
        """Consume a Samples batch; returns the list of events it caused.

        record (internal, used by analyze()): a dict of preallocated arrays 'hinge_deg' and
        'head_on'/'midback_on'/'tailbone_on' filled for these samples from record['offset'].
        """
        if len(samples) == 0:
            return []
        if samples.head_counts is not None:
            self._last_counts = np.stack(
                [samples.head_counts[-32:], samples.midback_counts[-32:], samples.tailbone_counts[-32:]], 1)
        events = self._run(samples, record)
        self._update_live()
        return events

    def finish(self):
        """The data has ended (the end of a file, a session closed): a rep whose return had
        come most of the way back is complete, though its end was not seen settling. Returns
        the events; nothing is pushed after this."""
        events = []
        for side in self.sides.values():
            c = side.seg.finish()
            if c is not None:
                self._score(side, c, self._last_up, events)
        if events:
            self._update_live()
        return events

    def calibrate_upright(self):
        """Take the current pose as upright (0 deg), now; returns True if it could. Without
        any IMU data yet it returns False and the pose is taken at the next sample."""
        if self._g is None:
            self._upright_request = True
            return False
        events = []
        self._set_upright(self._g, self._t, False, events)
        if self._theta is not None:
            # the clinician says the patient stands here: that is home, whatever the data
            # suggested (data that joined a set in the hold at the bottom of a rep reads the
            # bottom as where the person stands); the evidence of the hinging side starts again
            self._home = self._theta
            self._joined = False
            self._opening = None
            self._stood = None
            self._idle_anchor = None
            self._lever_off = True
            self._hi, self._lo = -math.inf, math.inf
            self._lever_x = (-math.inf, math.inf, None, None)
            self._told = 0
            self._rep_peaks = {1: -math.inf, -1: -math.inf}
            self._rep_n = {1: 0, -1: 0}
            self._dwell.clear()
            self._prev_x = self._bout = None
        self._update_live()
        return True

    def zero_contacts(self):
        """Take the FSR readings of the last samples (no load on the pads) as their zero.

        Needs raw counts, i.e. data pushed with push_messages(); raises ValueError otherwise.
        """
        if self._last_counts is None:
            raise ValueError("no raw FSR counts seen yet: zeroing needs live data from the dowel")
        mean = self._last_counts.mean(axis=0)
        self.calibration.zero_from_counts(dict(zip(CONTACTS, mean)))
        return dict(zip(CONTACTS, (float(x) for x in mean)))

    def set_target_depth(self, depth_deg):
        """Reps shallower than this (deg) are flagged `shallow` from now on."""
        self.config.target_depth_deg = float(depth_deg)
        self.state.target_depth_deg = float(depth_deg)

    def new_set(self, recapture_upright=False):
        """Start a new set: the rep count restarts at 0 (and optionally the upright pose is
        captured again at the next still moment)."""
        events = []
        for side in self.sides.values():
            side.reps = []
            if side.start_s is not None:
                self._cancel_side(side, self._t or 0.0, "new set", events)
            side.seg.cancel(side.sign * self._theta if self._theta is not None else None,
                            self._t or 0.0, "new set", [], 0)
        self._cue_faults = {}
        if recapture_upright:
            self.calibration.upright = None
            self._refining = False
            self._still_since = None
        self._update_live()

    # --- internals ------------------------------------------------------------------------

    def _theta_up(self):
        """theta of the upright pose in the current plane, or None."""
        up = self.calibration.upright
        return self.inclination.angle_of(up) if up is not None else None

    def _set_upright(self, g, t, automatic, events):
        n = float(np.linalg.norm(g))
        if not n > 1e-9:
            return
        up = tuple(float(x) / n for x in g)
        self.calibration.upright = up
        self._upright_auto = automatic
        self._upright_request = False
        if events is not None:
            events.append(UprightCaptured(t, up, automatic))

    def _cancel_side(self, side, t, reason, events):
        if side.start_s is None:
            return
        idx = len(side.reps) + 1
        if side.sign == self.side:
            ev = RepCancelled(idx, t, reason)
            events.append(ev)
            self.cancelled.append(ev)
            del self.cancelled[:-100]
            for fid in side.live_faults:
                events.append(FaultCleared(fid, idx, t))
            self._cue_faults = {}
        side.start_s = None
        side.live_faults = {}

    def _raise(self, side, fid, phase, t, events):
        if fid in side.live_faults:
            return
        f = Fault(fid, phase, t, 0.0)
        side.live_faults[fid] = f
        if side.sign == self.side:
            self._cue_faults[fid] = f
            events.append(FaultRaised(f, len(side.reps) + 1))

    def _reject(self, side, t, reason, events):
        """A completed segment that is not a rep after all."""
        if side.start_s is None:
            side.start_s = t  # so that _cancel_side reports it
        self._cancel_side(side, t, reason, events)
        return None

    def _score(self, side, c, up, events, up_known=True):
        """A completed segment of one side -> a Rep with its faults. up: the upright's angle at
        its end (NaN: none); up_known: whether that upright is known to be standing (given by
        the clinician or a saved calibration, or taken here and confirmed by the lever arm)."""
        cfg = self.config
        s = side.sign
        peak, bottom_s, end_s = c["peak_deg"], c["bottom_s"], c["end_s"]
        hist = self._history.between(c["rise_s"] - cfg.drop_lead_s, end_s)
        t = hist[:, 0]
        x = s * hist[:, 1]
        # the start: the last moment before the peak within a small band of the rep's low
        k_peak = int(np.searchsorted(t, bottom_s, side="right"))
        k_rise = int(np.searchsorted(t, c["rise_s"]))
        base = float(np.nanmin(x[k_rise:k_peak])) if k_peak > k_rise else c["base_deg"]
        band = base + max(0.75, 0.02 * (peak - base))
        near = np.flatnonzero(x[k_rise:k_peak] <= band)
        start_s = float(t[k_rise + near[-1]]) if len(near) else c["rise_s"]
        # ... unless the patient held still on the way up from that low, as one who leans
        # back, stands, then hinges: the rep begins where they last held still (its descent,
        # and whether it was rushed, are measured from there; so is its depth without an upright)
        k_low = k_rise + (int(near[-1]) if len(near) else 0)
        lvl = self._held_on_the_way(t, x, k_low, k_peak, base, peak)
        if lvl > base:
            near = np.flatnonzero(x[k_rise:k_peak] <= lvl + max(0.75, 0.02 * (peak - lvl)))
            start_s = float(t[k_rise + near[-1]])
        # the bottom: where the rep first reached (nearly) its deepest point
        # the bottom: the middle of the span spent (nearly) at the deepest point
        k_end = int(np.searchsorted(t, end_s, side="right"))
        deep = np.flatnonzero(x[k_rise:k_end] >= peak - max(1.0, 0.02 * (peak - base)))
        if len(deep):
            bottom_s = 0.5 * float(t[k_rise + deep[0]] + t[k_rise + deep[-1]])
        if self._joined_under_way(t, x, k_rise, base, peak):
            # the angle was already on its way down when the data began: a rep of a set under
            # way, whose start (and depth) nobody saw
            return self._reject(side, end_s, "begun before the data: its start was not seen", events)
        after = x[k_peak:int(np.searchsorted(t, end_s, side="right"))]
        if not self.contacts.force_seen and len(after) and np.isfinite(after).any() and \
                base - float(np.nanmin(after)) > max(cfg.max_overshoot_deg, peak - base):
            # a return from a hinge comes back by where it began; this one went far beyond
            # (with pads, the dowel leaving the back says so first)
            return self._reject(side, end_s, "turned far past its start: put down, not a rep", events)
        if end_s - start_s < cfg.min_rep_s or peak - base < cfg.min_rep_rise_deg:
            return self._reject(side, end_s, "a jolt, a wobble or sway: not a rep", events)
        uncal = not up == up  # NaN: no upright known at this sample
        depth = peak - lvl if uncal else peak - s * up
        if depth < cfg.min_rep_rise_deg:
            # sway swings about the upright, within a rep's least rise of it either way; an
            # upright taken here and not yet confirmed by the lever arm may be the bottom of a
            # rep the data joined in: a rise from further below it is a rep
            sway = up_known or base >= s * up - cfg.min_rep_rise_deg
            if sway and peak - base < 2.0 * cfg.min_rep_rise_deg:
                return self._reject(side, end_s, "sway about the upright, not a hinge", events)
            # a clear rep that ends up by the upright: the upright is wrong (taken at the
            # bottom of a rep the data joined in, or stale); measure this one from its own start
            uncal = True
            depth = peak - lvl
        ref = lvl if uncal else s * up
        k0 = int(np.searchsorted(t, start_s))
        rt, rx = t[k0:], x[k0:] - ref
        on = hist[k0:, 2:5] > 0.5
        if self._has_force and self.contacts.force_seen and (~on.any(axis=1)).any():
            return self._reject(side, end_s, "every pad left the back: the dowel was handled", events)
        ok = np.isfinite(rx)
        rt, rx, on = rt[ok], rx[ok], on[ok]
        # from standing still before the rep to the middle of its bottom (still there too)
        pre = hist[:int(np.searchsorted(t, bottom_s, side="right"))]
        pre = pre[pre[:, 0] >= start_s - cfg.drop_lead_s]
        drop_m = vertical_drop_m(pre[:, 0], pre[:, 5])
        phases = rep_phases(rt, rx, depth, lvl - ref, cfg)
        faults = rep_faults(rt, rx, on, drop_m, phases, start_s, bottom_s, end_s, depth,
                            lvl - ref, self.contacts.force_seen, cfg)
        side.start_s = None
        rep = Rep(
            index=len(side.reps) + 1, start_s=start_s, bottom_s=float(bottom_s),
            end_s=float(end_s), depth_deg=float(depth), descent_s=float(bottom_s - start_s),
            ascent_s=float(end_s - bottom_s), faults=faults, drop_m=float(drop_m),
            uncalibrated=uncal,
        )
        side.reps.append(rep)
        if side.sign == self.side:
            for fid in side.live_faults:
                events.append(FaultCleared(fid, rep.index, end_s))
            events.append(RepCompleted(rep))
            self._cue_faults = {
                f.id: f for f in faults
                if f.id not in _CONTACT_OF_FAULT or not self.contacts.on[_CONTACT_OF_FAULT[f.id]]
            }
        side.live_faults = {}
        return rep

    def _run(self, s, record):
        n = len(s)
        t = s.t_s
        g, adev, g_acc = self.orientation.update(t, s.ax_g, s.ay_g, s.az_g, s.gx_dps, s.gy_dps,
                                          s.gz_dps, s.imu_ok, s.has_gyro)
        T = t.tolist()
        if self._has_force is None:
            self._has_force = s.has_force
        self._has_gyro = s.has_gyro
        if s.has_force:
            c_events, on, raw, away = self.contacts.update(
                T, (s.head_n.tolist(), s.midback_n.tolist(), s.tailbone_n.tolist()))
        else:
            # no pads to say the dowel left the back: with a gyro, lying on a table does
            c_events, on, raw = [], np.ones((n, 3), dtype=bool), np.ones((n, 3), dtype=bool)
            away = self.orientation.resting.copy() if s.has_gyro and len(self.orientation.resting) == n \
                else np.zeros(n, dtype=bool)
        # the plane from the accelerometer alone: it holds whatever the gyro's sign turns out
        theta, signed = self.inclination.update(t, g, away, g_acc, settle_after_away=not s.has_force)
        self._note_data_starts(t, theta)
        self._raw_on = raw[-1].tolist()
        self._history.add(t, theta, on, adev)
        # segmentation of both sides; events keyed by sample index to merge in time order
        keyed = [(i, 0, ev) for i, ev in c_events]
        # the dowel leaving the back ends the count of the side hinging until then: the other
        # side takes it over (after the table, the person may hinge to the other side of a
        # plane learnt again)
        aw = np.asarray(away, dtype=bool)
        left = np.flatnonzero(aw & ~np.concatenate(([self._was_away], aw[:-1])))
        keyed.extend((int(i), 0, _LEFT) for i in left)
        if n:
            self._was_away = bool(aw[-1])
        TH = theta.tolist()
        blocked = away.tolist()
        # where the angle was re-based (picked up from a table, measured from the pose it is
        # held in now), it jumps: no rep spans that
        for k in self.inclination.rebased:
            blocked[k] = True
        handled = self._handled(T, TH, theta, signed, away, s.has_force)
        for k in np.flatnonzero(handled).tolist():
            blocked[k] = True
        # where the orientation took the other gyro sign's filter, or the angle was re-based,
        # it jumps: what went before is no evidence of a rep or of the hinging side
        restart = set(self.orientation.switched) | set(self.inclination.rebased)
        # the lever arm, from the readings on the back (its equations start again where the
        # gyro's sign turned: the gravity before was the wrong filter's)
        clear = np.zeros(n, dtype=bool)
        clear[[k for k in self.orientation.switched if 0 <= k < n]] = True
        lever = self.lever.update(t, g, np.stack((s.ax_g, s.ay_g, s.az_g), axis=1), adev,
                                  s.has_gyro, ~np.asarray(blocked, dtype=bool), clear)
        # where the other sign's filter took over, the angle so far was that of a mirrored
        # turn (the gyro's sign was wrong): the rep under way, and the reps so far, are the
        # other side's. Each side's segmenter takes the other's state there, mirrored, and
        # the segmentation runs in pieces between such points
        flips = sorted(k for k in set(self.orientation.switched) if 0 <= k < n)
        flipped = set()
        bounds = [0] + [k for k in flips if k > 0] + [n]
        standing = {1: [], -1: []}
        settling = {1: [], -1: []}
        lows = {1: [], -1: []}
        for a, b in zip(bounds[:-1], bounds[1:]):
            if a in flips:
                shift = self._mirror_shift(theta, a)
                if shift is not None:
                    s1, s2 = self.sides[1].seg, self.sides[-1].seg
                    st1, w1, st2, w2 = s1.state, s1.window, s2.state, s2.window
                    s2.take_mirrored(st1, w1, shift)
                    s1.take_mirrored(st2, w2, -shift)
                    keyed.append((a, 0, (_FLIP, shift)))
                    flipped.add(a)
            for sign, side in self.sides.items():
                x = [sign * v for v in TH[a:b]] if sign < 0 else TH[a:b]
                seg_events, st = side.seg.update(T[a:b], x, blocked[a:b],
                                                 settle_after_block=not s.has_force)
                standing[sign].extend(st)
                settling[sign].extend(side.seg.settling_flags)
                lows[sign].append(side.seg.lows)
                for kind, i, payload in seg_events:
                    keyed.append((a + i, 1 if kind != STARTED else 2, (side, kind, payload)))
        for sign, side in self.sides.items():
            side.seg.settling_flags = settling[sign]
            side.seg.lows = np.concatenate(lows[sign]) if lows[sign] else np.zeros(0)
        keyed.sort(key=lambda e: (e[0], e[1]))
        events = []
        # which side is hinging needs the upright; the upright (taken automatically) needs to
        # know which side is hinging: taken on the side decided before this batch, per sample
        done, rehomed, held_out = {}, {}, set()
        for i, _, ev in keyed:
            if isinstance(ev, tuple) and ev[1] == COMPLETED:
                done.setdefault(i, []).append((ev[0].sign, ev[2]["peak_deg"], ev[2]["rise_s"]))
            elif isinstance(ev, tuple) and ev[1] == CANCELLED and ev[2] == REASONS[R_STILL]:
                held_out.add((i, ev[0].sign))
            elif isinstance(ev, tuple) and ev[1] == STARTED and (i, ev[0].sign) in held_out:
                # a rise from a long-held pose: the person stands there now (that side's terms)
                rehomed[i] = (ev[0].sign, ev[2][1])
        sides, up_theta, up_known = self._side_and_upright(
            t, T, TH, g, g_acc, theta, signed, on, away, standing, done, restart, flipped,
            events, rehomed, lever)
        UP = up_theta.tolist()
        if n:
            self._last_up = UP[-1]
        prev_side = self.side
        for i, _, ev in keyed:
            self.side = int(sides[i])
            if isinstance(ev, tuple) and ev[0] is _FLIP:
                # the mirrored angle so far: its reps, the rep under way and its faults are
                # the other side's, and so is the history they are scored on
                a, b = self.sides[1], self.sides[-1]
                a.reps, b.reps = b.reps, a.reps
                a.start_s, b.start_s = b.start_s, a.start_s
                a.live_faults, b.live_faults = b.live_faults, a.live_faults
                self._history.mirror_before(T[i], ev[1])
                continue
            if ev is _LEFT:
                kept = self.sides[self.side].reps
                for side in self.sides.values():
                    if side.sign != self.side:
                        side.reps = list(kept)
                continue
            if isinstance(ev, ContactChanged):
                events.append(ev)
                fid = CONTACT_FAULT[ev.point]
                for side in self.sides.values():
                    if side.start_s is None:
                        continue
                    if not ev.on and self.contacts.force_seen:
                        self._raise(side, fid, PHASE_DESCENT, ev.t_s, events)
                if ev.on:
                    self._cue_faults.pop(fid, None)
                continue
            side, kind, payload = ev
            if kind == STARTED:
                side.start_s = payload[0]
                if side.sign == self.side:
                    events.append(RepStarted(len(side.reps) + 1, payload[0]))
                    self._cue_faults = {}
                if self.contacts.force_seen:
                    for k in range(3):
                        if not on[i, k]:
                            self._raise(side, CONTACT_FAULT[CONTACTS[k]], PHASE_DESCENT, T[i], events)
            elif kind == CANCELLED:
                self._cancel_side(side, T[i], payload, events)
            else:
                self._score(side, payload, UP[i], events, up_known[i])
        self._history.trim()
        self.side = int(sides[-1])
        if self.side != prev_side:
            self._cue_faults = {}
        # the live picture
        valid = np.flatnonzero(np.isfinite(theta))
        if len(valid):
            self._theta = float(theta[valid[-1]])
        gv = np.flatnonzero(np.isfinite(g[:, 0]))
        if len(gv):
            self._g = g[gv[-1]].copy()
        self._t = T[-1]
        if record is not None:
            j = record["offset"]
            record["hinge_deg"][j:j + n] = self._hinge(theta, g, up_theta, sides, blocked=blocked)
            for k, c in enumerate(CONTACTS):
                record[c + "_on"][j:j + n] = on[:, k]
        return events

    def _held_on_the_way(self, t, x, k0, k_peak, base, peak):
        """The pose last held still (HELD_S within 2 degrees) between k0 and the peak, at least
        home_band_deg above the rep's low and in the lowest HELD_SHARE of its rise; else base."""
        cfg = self.config
        tt, xx = t[k0:k_peak], x[k0:k_peak]
        ok = np.isfinite(xx)
        tt, xx = tt[ok], xx[ok]
        lo, hi = base + cfg.home_band_deg, base + HELD_SHARE * (peak - base)
        if len(tt) < 2 or hi <= lo:
            return base
        ends = np.searchsorted(tt, tt + HELD_S)
        cand = (ends < len(tt)) & (xx >= lo - 2.0) & (xx <= hi + 2.0)
        cand[cand] &= np.abs(xx[ends[cand]] - xx[cand]) <= 2.0
        for j in np.flatnonzero(cand)[::-1].tolist():
            w = xx[j:ends[j] + 1]
            m = float(w.mean())
            if w.max() - w.min() <= 2.0 and lo <= m <= hi:
                return m
        return base

    def _joined_under_way(self, t, x, k_rise, base, peak):
        """Whether the data began during this rep: from the data's start (or a long hole) to
        halfway down, the angle was never held still (join_s within 2 degrees)."""
        t_rise = float(t[k_rise]) if k_rise < len(t) else math.inf
        seen = [s0 for s0 in self._seen_from if s0 <= t_rise]
        if not seen or seen[-1] < t[0]:
            return False  # the data began well before this rep
        half = np.flatnonzero(x[k_rise:] >= base + 0.5 * (peak - base))
        k_half = k_rise + int(half[0]) if len(half) else len(t)
        k0 = int(np.searchsorted(t, seen[-1]))
        tt, xx = t[k0:k_half], x[k0:k_half]
        ok = np.isfinite(xx)
        tt, xx = tt[ok], xx[ok]
        ends = np.searchsorted(tt, tt + self.config.join_s)
        for j in np.flatnonzero(ends < len(tt)):
            w = xx[j:ends[j] + 1]
            if w.max() - w.min() <= 2.0:
                return False
        return True

    def _handled(self, T, TH, theta, signed, away, has_force):
        """Per sample: the dowel is being handled (put down on a table), whatever the pads say.
        A hinge turns gravity in its plane; tipped far out of it, it is not a hinge. Only once
        a movement has been seen in the plane since the dowel was last away (picked up, it may
        be held turned about its length: the plane learnt before is stale until it is learnt
        again; standing alone proves nothing, every plane of a hinge holds the standing pose)."""
        off = self.inclination.off_plane
        aw = np.asarray(away, dtype=bool)
        near = np.isfinite(off) & (off < IN_PLANE_SIN) & signed & ~aw
        if not has_force:
            near &= ~self._picked_up(T, TH, aw)  # (the pick-up's own turn is no such movement)
        n = len(T)
        in_use = np.zeros(n, dtype=bool)
        cuts = np.flatnonzero(aw)
        lo_x, hi_x = self._near_lo, self._near_hi
        start = 0
        for c in cuts.tolist() + [n]:
            if c > start:
                xs = np.where(near[start:c], theta[start:c], np.nan)
                run_hi = np.fmax.accumulate(np.concatenate(([hi_x], xs)))[1:]
                run_lo = np.fmin.accumulate(np.concatenate(([lo_x], xs)))[1:]
                in_use[start:c] = (run_hi - run_lo) >= IN_PLANE_TURN_DEG
                hi_x, lo_x = float(run_hi[-1]), float(run_lo[-1])
            if c < n:
                lo_x, hi_x = math.nan, math.nan  # away: the plane is to be seen in use again
            start = c + 1
        self._near_lo, self._near_hi = lo_x, hi_x
        return (off > OFF_PLANE_SIN) & in_use

    def _picked_up(self, T, TH, aw):
        """Per sample: just back from away (no pads: picked up off a table) and not yet held
        still (within home_band_deg for settle_after_rest_s), as the segmenter judges it."""
        cfg = self.config
        band, need = cfg.home_band_deg, cfg.settle_after_rest_s
        out = [False] * len(T)
        st = self._pick
        for i, a in enumerate(aw.tolist()):
            if a:
                st = [None, None]
                continue
            if st is None:
                continue
            x = TH[i]
            if x != x:
                out[i] = True
                continue
            if st[0] is None or abs(x - st[0]) > band:
                st = [x, T[i]]
            if T[i] - st[1] >= need:
                st = None
            else:
                out[i] = True
        self._pick = st
        return np.array(out, dtype=bool)

    def _mirror_shift(self, theta, k):
        """At a switch to the other sign's filter at sample k: the angle was mirrored about
        where the two filters last agreed (a), theta_before = 2a - theta_true; returns -2a,
        from the jump itself (None when either side of it is missing, or the jump is small)."""
        before = theta[:k][np.isfinite(theta[:k])]
        tb = float(before[-1]) if len(before) else self._theta
        after = theta[k:][np.isfinite(theta[k:])]
        if tb is None or not len(after):
            return None
        ta = float(after[0])
        if abs(ta - tb) < self.config.min_rise_deg:
            # the two filters had not drifted apart (a slow movement, the accelerometer
            # holding both): nothing was mirrored
            return None
        return -(tb + ta)

    def _note_data_starts(self, t, theta):
        """Where the angle's data began: its first sample, and the first after each hole
        longer than gap_cancel_s (a rep then under way was cancelled)."""
        tv = t[np.isfinite(theta)]
        if not len(tv):
            return
        prev = np.empty_like(tv)
        prev[1:] = tv[:-1]
        prev[0] = self._last_valid_t if self._last_valid_t is not None else -math.inf
        starts = tv[tv - prev > self.config.gap_cancel_s].tolist()
        if starts:
            self._seen_from = (self._seen_from + starts)[-8:]
        self._last_valid_t = float(tv[-1])

    def _hinge(self, theta, g, up_theta, sides, blocked=None):
        """Hinge angle (deg) shown per sample: from the upright if known, else from the
        current side's baseline (where the person came back to). Before the plane of motion
        is known (nothing has moved yet), the plain angle from a known upright.
        blocked: None for the live value (from the baseline now); else these are the samples
        of the last update with their blocked flags, each measured from the baseline at that
        sample (none while blocked or settling)."""
        theta = np.asarray(theta, dtype=float)
        up_theta = np.asarray(up_theta, dtype=float)
        s = np.asarray(sides, dtype=float)
        if blocked is None:
            low = self.sides[self.side].seg.low
            low = low if low is not None else np.nan
        else:
            # per sample: the baseline of the side hinging then (in that side's terms)
            low = np.where(s > 0, self.sides[1].seg.lows, self.sides[-1].seg.lows)
            # off the back, or just picked up and not yet held still: no baseline to measure from
            unsure = np.asarray(blocked, dtype=bool) | np.where(
                s > 0, self.sides[1].seg.settling_flags, self.sides[-1].seg.settling_flags)
            low = np.where(unsure, np.nan, low)
        out = s * theta - low
        known = np.isfinite(up_theta)
        out[known] = (s * (theta - up_theta))[known]
        upv = self.calibration.upright
        if upv is not None:
            g = np.asarray(g, dtype=float)
            upv = np.asarray(upv, dtype=float)
            c = g[:, 0] * upv[0] + g[:, 1] * upv[1] + g[:, 2] * upv[2]  # (the bits of any batching)
            plain = np.degrees(np.arccos(np.clip(c, -1.0, 1.0)))
            no_plane = ~known & np.isfinite(plain)
            out[no_plane] = plain[no_plane]
        return out

    def _side_and_upright(self, t_arr, T, TH, g, g_acc, theta, signed, on, away, standing, done,
                          restart, flipped, events, rehomed, lever):
        """Per sample: which side of the plane is hinging, and the upright pose.

        The side: once reps are found, the side whose reps go farthest from home (the upright,
        else the pose of the last long stand); before that, the side the angle has gone
        farthest on; switched only on clear evidence.
        The upright (forces only): taken at the first still stand with every pad on, then
        again at each still stand between reps once the hinging side has shown two reps (a
        pose taken while joining a set under way, or a patient who settles differently, is
        corrected). The two need each other, so they are decided in one pass.
        done: sample index -> [(side, peak in that side's terms)] of segments completed there.
        flipped: indices where the angle so far was found mirrored (the hinging side flips).
        rehomed: sample index -> (side, pose in that side's terms) where a side's segmenter
        found a long-held pose to be where the person stands now (a rise from it).
        lever: (n, 9) the lever arm in force per sample and its covariance (NaN: none): once
        it tells which of the two farthest poses is standing, that decides the side (see
        lever.py), whatever the poses held suggested; unless the clinician said where the
        patient stands, or the data began with a long still stand it would overturn.
        Returns (sides int8 array, theta of the upright per sample, NaN where unknown, and
        per sample whether that upright is known to be standing: not taken here, or the lever
        arm has told the side since)."""
        cfg = self.config
        n = len(T)
        ups = []  # (from index, upright) as it changes; up_theta computed from it at the end
        arrived = self.contacts.arrived.tolist() if self._has_force else [math.nan] * n
        GAX, GAY, GAZ = (g_acc[:, k].tolist() for k in range(3))  # (columns: 6x faster than rows)
        GX, GY, GZ = (g[:, k].tolist() for k in range(3))
        RX, RY, RZ = (lever[:, k].tolist() for k in range(3))
        RC = lever[:, 3:].tolist()
        lhi, llo, lhi_g, llo_g = self._lever_x
        told, lever_on = self._told, not self._lever_off
        settle_s = cfg.upright_settle_s
        if self.calibration.upright is not None:
            ups.append((0, self.calibration.upright))
        request = self._upright_request
        auto = cfg.auto_upright and self._has_force
        # still, every pad on, on the back: a candidate moment for the upright (vectorised;
        # gravity turning slower than still_rate_dps since the previous valid reading)
        valid = np.isfinite(g[:, 0])
        cand = np.zeros(n, dtype=bool)
        idx = np.flatnonzero(valid)
        if auto and len(idx):
            gv = g[idx]
            prev = np.empty_like(gv)
            prev[1:] = gv[:-1]
            tprev = np.empty(len(idx))
            tprev[1:] = t_arr[idx[:-1]]
            if self._prev_g is not None:
                prev[0], tprev[0] = self._prev_g, self._prev_t
            else:
                prev[0], tprev[0] = gv[0], t_arr[idx[0]]
            # (element by element: the same bits whatever the batch's length)
            dots = gv[:, 0] * prev[:, 0] + gv[:, 1] * prev[:, 1] + gv[:, 2] * prev[:, 2]
            turn_ok = dots >= np.cos(math.radians(cfg.still_rate_dps) * (t_arr[idx] - tprev))
            cand[idx] = turn_ok & on[idx].all(axis=1) & ~away[idx]
            self._prev_g, self._prev_t = gv[-1].copy(), float(t_arr[idx[-1]])
        CAND = cand.tolist()
        ALLON = on.all(axis=1).tolist() if self._has_force else [True] * n
        AWAY = away.tolist()
        if not self._has_force:
            # without pads: lying on a table and being picked up off it say nothing about
            # where the person stands; after each such spell the evidence starts again
            settle = self.sides[1].seg.settling_flags
            AWAY = [a or b for a, b in zip(AWAY, settle)]
        home, side, hi, lo, peaks = self._home, self.side, self._hi, self._lo, self._rep_peaks
        rep_n = self._rep_n
        dwell, px, pxt, bout = self._dwell, self._prev_x, self._prev_xt, self._bout
        opening, joined, stood = self._opening, self._joined, self._stood
        anchor, since, isum, inum = self._idle_anchor, self._idle_since, self._idle_sum, self._idle_n
        still_rate, band, idle_s = cfg.still_rate_dps, cfg.home_band_deg, cfg.home_idle_s
        ratio, min_rise = cfg.side_switch_ratio, cfg.min_rise_deg
        reps = self._reps_seen
        sides = [0] * n
        known = [True] * n
        for i in range(n):
            x = TH[i]
            if request and GAX[i] == GAX[i]:
                self._set_upright((GAX[i], GAY[i], GAZ[i]), T[i], False, events)
                ups.append((i, self.calibration.upright))
                request = False
            done_here = done.get(i)
            if done_here:
                for sg, _, _ in done_here:
                    reps[sg] += 1
            # --- the side ---
            if i in flipped:
                side = -side  # the side hinging so far, seen through the mirror
                reps[1], reps[-1] = reps[-1], reps[1]
            if i in restart:
                hi, lo, peaks = -math.inf, math.inf, {1: -math.inf, -1: -math.inf}
                lhi, llo, lhi_g, llo_g = -math.inf, math.inf, None, None
                told = 0
                self._rep_peaks = peaks
                rep_n = self._rep_n = {1: 0, -1: 0}
                dwell.clear()
                px = bout = None
                if joined:
                    home = None
                self._restart_t = T[i]
            if AWAY[i]:
                # off the back (lying on a table, being handled): where the person stands, and
                # which side they hinge to, are found again once it is back
                home, hi, lo, px, bout, opening, joined = None, -math.inf, math.inf, None, None, None, None
                stood = None
                lhi, llo, lhi_g, llo_g = -math.inf, math.inf, None, None
                told = 0
                peaks = self._rep_peaks = {1: -math.inf, -1: -math.inf}
                rep_n = self._rep_n = {1: 0, -1: 0}
                dwell.clear()
            elif x == x:
                ti = T[i]
                if home is None:
                    home = x
                if joined is None:
                    # how the data began: with the person standing still (a still spell with
                    # every pad on before any rep-sized movement: the first pose is where they
                    # stand), or moving (data that joined a set under way, maybe at the bottom
                    # of a rep, where a pad may be off)
                    if opening is None:
                        opening = (x, ti, x)
                    if abs(x - opening[2]) >= min_rise:
                        joined = True
                    elif abs(x - opening[0]) > band or not ALLON[i]:
                        opening = (x, ti, opening[2])
                    elif ti - opening[1] >= cfg.first_still_s:
                        # home is where they held still (the data may have begun as they
                        # came up the last few degrees, or as the orientation settled)
                        joined = False
                        home = x
                elif joined is False and stood is None and opening is not None:
                    # (no hold at the bottom of a rep lasts this long)
                    if abs(x - opening[0]) > band or not ALLON[i]:
                        stood = False
                    elif ti - opening[1] >= LONG_STAND_S:
                        stood = True
                if joined:
                    # home is then where the person keeps coming back to and stays: the pose
                    # held still longest, recent stillness counting most
                    if px is not None and ti > pxt and abs(x - px) <= still_rate * (ti - pxt):
                        if bout is None:
                            bout = pxt  # held, not passing through a rep's turn
                        if ti - bout >= DWELL_BOUT_S:
                            h = dwell.add(x, ti - pxt, ti)
                            if h is not None:
                                home = h
                    else:
                        bout = None
                    px, pxt = x, ti
                else:
                    # a long stand (no movement beyond the band for home_idle_s) is where
                    # home is: where the person stood first, or stood still longest since
                    # (not the upright, which may be stale or taken at the wrong moment)
                    if anchor is None or abs(x - anchor) > band or not standing[side][i]:
                        # (held in a rep under way is no stand: the bottom of a long hold)
                        anchor, since, isum, inum = x, ti, 0.0, 0
                    isum += x
                    inum += 1
                    if ti - since >= idle_s:
                        home = isum / inum
                    moved = rehomed.get(i)
                    if moved is not None and moved[0] == side:
                        home = side * moved[1]
                if x > hi:
                    hi = x
                if x < lo:
                    lo = x
                arr = arrived[i]
                if not told and (arr != arr or ti - arr >= settle_s):
                    # (not the poses of the dowel being put on the back)
                    if x > lhi:
                        lhi, lhi_g = x, (GX[i], GY[i], GZ[i])
                    if x < llo:
                        llo, llo_g = x, (GX[i], GY[i], GZ[i])
                if done_here:
                    for sg, peak, rise_s in done_here:
                        if rise_s < self._restart_t:
                            continue  # begun before the angle was re-based: no evidence
                        if peak > peaks[sg]:
                            peaks[sg] = peak
                        if peak - sg * home >= min_rise:
                            rep_n[sg] += 1
                if peaks[1] > -math.inf or peaks[-1] > -math.inf:
                    pos, neg = peaks[1] - home, peaks[-1] + home  # each at least 0 (as max(0.0, x))
                    pos, neg = (pos if pos > 0.0 else 0.0), (neg if neg > 0.0 else 0.0)
                else:
                    pos, neg = hi - home, home - lo
                rx = RX[i]
                if not told and lever_on and rx == rx and lhi - llo >= min_rise:
                    # the lever arm says which of the farthest poses is standing (+1: the
                    # lowest angle, so reps go up from it); the first time it can, it decides
                    # until the evidence starts again (a later extreme may be the dowel
                    # coming off the back, not yet seen away)
                    told = standing_of((rx, RY[i], RZ[i]), llo_g, lhi_g, LEVER_MARGIN, RC[i])
                    if told and told != side and stood:
                        # the data began with a long still stand: that was standing, and a
                        # lever arm that says otherwise is misled (slow reps, with a gyro
                        # offset not yet learnt: an outside tester's 4 of 5 in 4 of 80 sets)
                        told = 0
                    if told and told != side and self.calibration.upright is not None \
                            and self._upright_auto:
                        # the upright this pipeline took is on the side now found hinging (in
                        # the hold at the bottom of a rep the data joined): taken again at the
                        # next stand (one given, from a saved calibration, stays)
                        self.calibration.upright = None
                        self._refining = False
                        self._still_since = None
                        ups.append((i, None))
                if told:
                    side = told
                # (one odd excursion, a stretch between sets, does not outweigh a set of reps)
                elif side > 0 and neg > ratio * pos and neg >= min_rise and \
                        (rep_n[1] <= 1 or rep_n[-1] >= max(2, rep_n[1] // 3)):
                    side = -1
                elif side < 0 and pos > ratio * neg and pos >= min_rise and \
                        (rep_n[-1] <= 1 or rep_n[1] >= max(2, rep_n[-1] // 3)):
                    side = 1
            sides[i] = side
            known[i] = told != 0 or not self._upright_auto
            # --- the upright ---
            if not valid[i]:
                continue  # a missing (or repeated) reading: neither still nor moving
            if not CAND[i]:
                if self._refining and valid[i]:
                    self._finish_refining(T[i], i, ups, events)
                self._still_since = None
                continue
            first = self.calibration.upright is None or self._refining
            # standing: not yet moved at all, or by the baseline with no rep under way as seen
            # from both sides (the hold at the bottom of a rep is by the baseline of the other);
            # later, by the baseline of the side that has shown two reps or more
            if first:
                # (or once the side has shown two reps, by its baseline alone: the other side
                # sees a long stand as the hold at the bottom of one of its own)
                still = not signed[i] or (standing[side][i] and (standing[-side][i]
                                                                 or reps[side] >= 2))
            else:
                still = signed[i] and standing[side][i] and reps[side] >= 2
            if self._refining and (not still or self._still_since is None
                                   or T[i] - self._still_since >= cfg.upright_refine_s):
                self._finish_refining(T[i], i, ups, events)
                continue
            if not still:
                self._still_since = None
                continue
            if self._still_since is None:
                self._still_since = T[i]
                self._still_g = (0.0, 0.0, 0.0)
            gax = GAX[i]
            if gax == gax:
                sg = self._still_g
                self._still_g = (sg[0] + gax, sg[1] + GAY[i], sg[2] + GAZ[i])
            if self._refining:
                continue
            arr = arrived[i]
            settled = arr != arr or T[i] - arr >= cfg.upright_settle_s
            if self.calibration.upright is None and settled and \
                    T[i] - self._still_since >= cfg.upright_still_s:
                self._set_upright(self._still_g, T[i], True, events)
                ups.append((i + 1, self.calibration.upright))
                self._refining = True
            elif not first and T[i] - self._still_since >= cfg.upright_refresh_s:
                self._still_since = None
                # (an upright taken here and confirmed by the lever arm is standing: a stand
                # held far behind it is a lean back or a stretch, not a new stance)
                if self._moved(self.calibration.upright, self._still_g) and not (
                        told and self._upright_auto and self._leans_back(self._still_g, i, side)):
                    self._set_upright(self._still_g, T[i], True, events)
                    ups.append((i + 1, self.calibration.upright))
        self._upright_request = request
        self._home, self.side, self._hi, self._lo = home, self.side, hi, lo
        self._lever_x, self._told = (lhi, llo, lhi_g, llo_g), told
        self._prev_x, self._prev_xt, self._bout = px, pxt, bout
        self._opening, self._joined, self._stood = opening, joined, stood
        self._idle_anchor, self._idle_since, self._idle_sum, self._idle_n = anchor, since, isum, inum
        return np.array(sides, dtype=np.int8), self.inclination.angles_from(ups, theta), known

    def _finish_refining(self, t, i, ups, events):
        """The first pose, averaged over the whole still spell it was taken in."""
        self._refining = False
        self._still_since = None
        self._set_upright(self._still_g, t, True, events)
        ups.append((i, self.calibration.upright))

    def _leans_back(self, g, i, side):
        """Whether the pose of gravity g, at sample i, is further than LEAN_BACK_DEG behind the
        upright (away from the side that hinges): a lean or a stretch, not a stance."""
        a = self.inclination.angle_at(g, i)
        b = self.inclination.angle_at(self.calibration.upright, i)
        d = (a - b + 180.0) % 360.0 - 180.0
        return side * d < -LEAN_BACK_DEG

    def _moved(self, old, g):
        """Whether gravity g is further than upright_moved_deg from the upright `old`."""
        c = float(np.clip(np.dot(old, g) / np.linalg.norm(g), -1.0, 1.0))
        return math.degrees(math.acos(c)) > self.config.upright_moved_deg

    def _shown_fault(self):
        """The fault the patient should correct now, or None (see CUE_PRIORITY)."""
        best = None
        for fid, f in self._cue_faults.items():
            k = _CONTACT_OF_FAULT.get(fid)
            if k is not None and self.contacts.on[k]:
                continue
            if best is None or _CUE_RANK[fid] < _CUE_RANK[best.id]:
                best = f
        return best

    def _live_phase(self):
        side = self.sides[self.side]
        seg = side.seg
        if self.contacts.away:
            return PHASE_NOT_READY
        if seg.mode == 1:
            return PHASE_DESCENT if seg.peak - (self.side * self._theta) < 3.0 else PHASE_BOTTOM
        if seg.mode == 2:
            return PHASE_ASCENT
        return PHASE_STANDING if self._theta is not None else PHASE_NOT_READY

    def _update_live(self):
        st = self.state
        st.t_s = self._t if self._t is not None else 0.0
        st.hinge_deg = None
        if self._theta is not None or self._g is not None:
            th = self._theta if self._theta is not None else math.nan
            g = self._g if self._g is not None else np.full(3, math.nan)
            up = self._theta_up()
            if up is not None and th == th:
                up += 360.0 * round((th - up) / 360.0)
            st.hinge_deg = float(self._hinge([th], [g], [up if up is not None else math.nan],
                                             [self.side])[0])
        if st.hinge_deg is not None and not math.isfinite(st.hinge_deg):
            st.hinge_deg = None
        st.rep_count = len(self.reps)
        st.phase = self._live_phase()
        st.upright = self.calibration.upright is not None
        st.target_depth_deg = self.config.target_depth_deg
        shown = self._shown_fault()
        st.fault = shown
        st.cue = shown.cue if shown is not None else ""
        lf = self.contacts.last_force
        raw = getattr(self, "_raw_on", None)
        for k, c in enumerate(CONTACTS):
            cs = st.contacts[c]
            cs.on = self.contacts.on[k]
            cs.raw_on = raw[k] if raw is not None and self._has_force else cs.on
            cs.pressure_n = float(lf[k])
