"""Stage 4, rep segmentation: a Schmitt trigger on an adaptive baseline.

A rep is a rise of at least H above the lowest inclination since the last rep, followed by a
fall of at least H from its peak. H = max(min_rise_deg, 0.3 x the recent reps' depth), capped
at max_rise_deg: deep reps are not split by a wobble at the bottom, a rebound after the return
is not a rep of its own, and shallow reps still count. Nothing here needs a calibrated upright
or a still pause between reps: the baseline is wherever the person came back to. Times are
the samples' own timestamps, never sample counts, so every rate segments alike.

The rep ends where the return bottoms out: once the angle has risen `end_rise_deg` above the
lowest point after the fall, or has not found a new low for `end_settle_s`.
"""

import math

import numpy as np

from .jit import kernel

BASE, UP, DOWN = 0, 1, 2

# event kinds returned by update(): (kind, sample index in the batch, payload)
STARTED = "started"  # payload: (t_rise_start_s, base_deg)
COMPLETED = "completed"  # payload: dict(start_s, bottom_s, end_s, peak_deg, base_deg)
CANCELLED = "cancelled"  # payload: reason


FINISH_BACK = 0.25  # at the end of the data, a return this close (of the depth) to its start is a rep

REASONS = ("gap in the data", "the dowel left the back", "a new pose: held long, then hinged from",
           "too long for a rep", "too far from standing for a hinge")
R_GAP, R_LEFT, R_STILL, R_LONG, R_DEEP = range(5)
K_STARTED, K_COMPLETED, K_CANCELLED = range(3)

# the state between calls, one float64 array (low is NaN before any sample); the baseline's
# window of candidates (t, x), increasing x, lives in W[0:2, head:tail]
(G_MODE, G_LOW, G_T_LOW, G_PEAK, G_T_PEAK, G_T_NEAR, G_VALLEY, G_T_VALLEY, G_T_VALLEY_NEW,
 G_HAS_T, G_T, G_N_DEPTHS, G_DEPTHS, G_T_LAST_REP, G_H, G_H_UNTIL, G_ACTIVE, G_ANCHOR,
 G_T_ANCHOR, G_SETTLING, G_HEAD, G_TAIL, G_HELD, G_HELD_X, G_T_HELD) = (
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26)
G_LEN = 27
# the configuration, in this order, as one float64 array
CFG = ("gap_cancel_s", "home_band_deg", "settle_after_rest_s", "base_window_s", "min_rise_deg",
       "max_rise_deg", "rise_fraction", "max_fall_deg", "home_idle_s", "max_rep_s",
       "max_depth_deg", "end_new_low_deg", "end_rise_deg", "end_settle_s", "depth_memory_s")


@kernel
def _restart_window(S, W, x, t):
    S[G_HEAD] = 0.0
    S[G_TAIL] = 1.0
    W[0, 0], W[1, 0] = t, x


@kernel
def _cancel(S, W, x, t, reason, ev_kind, ev_i, ev_val, n_ev, i):
    if S[G_ACTIVE] != 0.0:
        ev_kind[n_ev], ev_i[n_ev], ev_val[n_ev, 0] = K_CANCELLED, i, reason
        n_ev += 1
    S[G_ACTIVE] = 0.0
    S[G_MODE] = BASE
    S[G_HELD] = 0.0
    S[G_LOW], S[G_T_LOW] = x, t
    S[G_T_NEAR] = t
    _restart_window(S, W, x, t)
    return n_ev


@kernel
def _rise_deg(S, C, t):
    if t > S[G_H_UNTIL]:
        return C[4]
    return S[G_H]


@kernel
def _segment(t, x, blocked, settle_after_block, C, S, W, standing, settling, low_out, ev_kind,
             ev_i, ev_val):
    """The Schmitt trigger over one batch (see Segmenter); S and W carry the state. Fills
    standing and settling; returns the number of events written to ev_* (kind, index,
    payload: STARTED (t_low, low), COMPLETED (rise, bottom, end, peak, base, valley),
    CANCELLED (reason code))."""
    (gap, band, settle_s, base_window, min_rise, max_rise, rise_fraction, max_fall, idle_s,
     max_rep_s, max_depth, end_new_low, end_rise, end_settle, depth_memory) = (
        C[0], C[1], C[2], C[3], C[4], C[5], C[6], C[7], C[8], C[9], C[10], C[11], C[12], C[13],
        C[14])
    n_ev = 0
    for i in range(len(t)):
        if i > 0:
            low_out[i - 1] = S[G_LOW]  # the baseline after each sample
        xi = x[i]
        if xi != xi:  # NaN: missing sample
            continue
        ti = t[i]
        if S[G_HAS_T] != 0.0 and ti - S[G_T] > gap and S[G_MODE] != BASE:
            n_ev = _cancel(S, W, xi, ti, R_GAP, ev_kind, ev_i, ev_val, n_ev, i)
        S[G_HAS_T] = 1.0
        S[G_T] = ti
        if blocked[i]:
            if S[G_MODE] != BASE:
                n_ev = _cancel(S, W, xi, ti, R_LEFT, ev_kind, ev_i, ev_val, n_ev, i)
            S[G_LOW], S[G_T_LOW], S[G_T_NEAR] = xi, ti, ti
            _restart_window(S, W, xi, ti)
            S[G_SETTLING] = 1.0 if settle_after_block else 0.0
            S[G_ANCHOR], S[G_T_ANCHOR] = xi, ti
            continue
        if S[G_SETTLING] != 0.0:
            # picked up from where it lay: no rep until it has been held still (within
            # the home band) for a moment, where the person stands with it
            if abs(xi - S[G_ANCHOR]) > band:
                S[G_ANCHOR], S[G_T_ANCHOR] = xi, ti
            if ti - S[G_T_ANCHOR] < settle_s:
                settling[i] = True
                continue
            S[G_SETTLING] = 0.0
            S[G_LOW], S[G_T_LOW], S[G_T_NEAR] = xi, ti, ti
            _restart_window(S, W, xi, ti)
        mode = S[G_MODE]
        if mode == BASE:
            # the baseline: the lowest angle since the last rep, over at most base_window_s
            # (a person who settles in a new pose is standing there now)
            head, tail = int(S[G_HEAD]), int(S[G_TAIL])
            while tail > head and W[1, tail - 1] >= xi:
                tail -= 1
            W[0, tail], W[1, tail] = ti, xi
            tail += 1
            while W[0, head] < ti - base_window:
                head += 1
            S[G_HEAD], S[G_TAIL] = head, tail
            S[G_T_LOW], S[G_LOW] = W[0, head], W[1, head]
            h = _rise_deg(S, C, ti)
            if xi - S[G_LOW] <= 0.25 * h:
                S[G_T_NEAR] = ti  # still by the baseline: a rep has not begun
                standing[i] = True
            elif xi - S[G_LOW] >= h:
                S[G_MODE] = UP
                S[G_ACTIVE] = 1.0
                S[G_HELD] = 0.0
                S[G_PEAK], S[G_T_PEAK] = xi, ti
                S[G_ANCHOR], S[G_T_ANCHOR] = xi, ti
                ev_kind[n_ev], ev_i[n_ev] = K_STARTED, i
                ev_val[n_ev, 0], ev_val[n_ev, 1] = S[G_T_LOW], S[G_LOW]
                n_ev += 1
            continue
        if mode == UP:
            if xi > S[G_PEAK]:
                S[G_PEAK], S[G_T_PEAK] = xi, ti
            if abs(xi - S[G_ANCHOR]) > band:
                S[G_ANCHOR], S[G_T_ANCHOR] = xi, ti
            if S[G_HELD] == 0.0 and ti - S[G_T_ANCHOR] >= idle_s:
                # held this long away from the baseline: the bottom of a long hold, or a new
                # pose to stand in. The movement that follows tells: a fall back completes
                # the rep, a further rise of H is a rep from the held pose
                S[G_HELD], S[G_HELD_X], S[G_T_HELD] = 1.0, S[G_ANCHOR], ti
            if S[G_HELD] != 0.0 and S[G_HELD_X] - band <= xi < S[G_HELD_X]:
                S[G_HELD_X], S[G_T_HELD] = xi, ti  # the held pose's lowest point
            if S[G_HELD] != 0.0 and xi - S[G_HELD_X] >= _rise_deg(S, C, ti):
                # a rise from the held pose: it was where the person stands now
                held_x, t_held = S[G_HELD_X], S[G_T_HELD]
                n_ev = _cancel(S, W, held_x, t_held, R_STILL, ev_kind, ev_i, ev_val, n_ev, i)
                S[G_MODE] = UP
                S[G_ACTIVE] = 1.0
                S[G_PEAK], S[G_T_PEAK] = xi, ti
                S[G_ANCHOR], S[G_T_ANCHOR] = xi, ti
                ev_kind[n_ev], ev_i[n_ev] = K_STARTED, i
                ev_val[n_ev, 0], ev_val[n_ev, 1] = t_held, held_x
                n_ev += 1
            elif ti - S[G_T_NEAR] > max_rep_s:
                n_ev = _cancel(S, W, xi, ti, R_LONG, ev_kind, ev_i, ev_val, n_ev, i)
            elif S[G_PEAK] - S[G_LOW] > max_depth:
                n_ev = _cancel(S, W, xi, ti, R_DEEP, ev_kind, ev_i, ev_val, n_ev, i)
            else:
                # the fall that completes the rep: H, or more for a deep rep (a wobble at
                # the bottom of a deep first rep is not two reps)
                h = _rise_deg(S, C, ti)
                own = rise_fraction * (S[G_PEAK] - S[G_LOW])
                own = own if own < max_fall else max_fall
                if S[G_PEAK] - xi >= (own if own > h else h):
                    S[G_MODE] = DOWN
                    S[G_VALLEY], S[G_T_VALLEY], S[G_T_VALLEY_NEW] = xi, ti, ti
            continue
        # DOWN: find where the return bottoms out
        if xi < S[G_VALLEY] - end_new_low:
            S[G_VALLEY], S[G_T_VALLEY], S[G_T_VALLEY_NEW] = xi, ti, ti
        elif xi < S[G_VALLEY]:
            S[G_VALLEY], S[G_T_VALLEY] = xi, ti
        if xi - S[G_VALLEY] >= end_rise or ti - S[G_T_VALLEY_NEW] >= end_settle:
            ev_kind[n_ev], ev_i[n_ev] = K_COMPLETED, i
            ev_val[n_ev, 0], ev_val[n_ev, 1], ev_val[n_ev, 2] = S[G_T_LOW], S[G_T_PEAK], S[G_T_VALLEY]
            ev_val[n_ev, 3], ev_val[n_ev, 4], ev_val[n_ev, 5] = S[G_PEAK], S[G_LOW], S[G_VALLEY]
            n_ev += 1
            S[G_ACTIVE] = 0.0
            # the recent reps' depths (the last 3) and their median: H from now on
            low, valley = S[G_LOW], S[G_VALLEY]
            depth = S[G_PEAK] - (valley if valley < low else low)
            nd = int(S[G_N_DEPTHS])
            if nd == 3:
                S[G_DEPTHS], S[G_DEPTHS + 1] = S[G_DEPTHS + 1], S[G_DEPTHS + 2]
                nd = 2
            S[G_DEPTHS + nd] = depth
            nd += 1
            S[G_N_DEPTHS] = nd
            S[G_T_LAST_REP] = ti
            a, b, c = S[G_DEPTHS], S[G_DEPTHS + 1], S[G_DEPTHS + 2]
            if nd == 1:
                d = a
            elif nd == 2:
                d = b if b > a else a
            else:
                d = max(min(a, b), min(max(a, b), c))
            d = rise_fraction * d
            d = d if d > min_rise else min_rise
            S[G_H] = d if d < max_rise else max_rise
            S[G_H_UNTIL] = ti + depth_memory
            S[G_MODE] = BASE
            S[G_LOW], S[G_T_LOW] = S[G_VALLEY], S[G_T_VALLEY]
            S[G_T_NEAR] = ti
            _restart_window(S, W, S[G_VALLEY], S[G_T_VALLEY])
            if xi < S[G_LOW]:
                S[G_LOW], S[G_T_LOW] = xi, ti
                _restart_window(S, W, xi, ti)
    if len(t):
        low_out[len(t) - 1] = S[G_LOW]
    return n_ev


class Segmenter:
    """update(t, x, blocked) per batch. Between batches: `mode` (BASE, UP or DOWN), `low` (the
    baseline, None before any sample), `peak`, `active` (a rep is confirmed and under way),
    and per sample of the last batch, `settling_flags`."""

    def __init__(self, config):
        self.cfg = config
        self.state = np.zeros(G_LEN)
        self.state[G_LOW] = math.nan
        self.state[G_T_LAST_REP] = -math.inf
        self.state[G_H] = config.min_rise_deg
        self.state[G_H_UNTIL] = -math.inf  # H falls back to min_rise_deg after this time
        self.window = np.zeros((2, 64))
        self.settling_flags = []
        self.lows = np.zeros(0)  # per sample of the last update(): the baseline after it (NaN: none yet)

    @property
    def mode(self):
        return int(self.state[G_MODE])

    @property
    def low(self):
        v = float(self.state[G_LOW])
        return None if v != v else v

    @property
    def peak(self):
        return float(self.state[G_PEAK])

    @property
    def active(self):
        return bool(self.state[G_ACTIVE])

    @property
    def depths(self):
        """The recent reps' depths above their baseline (at most 3)."""
        return self.state[G_DEPTHS:G_DEPTHS + int(self.state[G_N_DEPTHS])].tolist()

    def rise_deg(self, t):
        """H, the rise (and fall) that makes a rep, at time t."""
        S = self.state
        return self.cfg.min_rise_deg if t > S[G_H_UNTIL] else float(S[G_H])

    def cancel(self, x, t, reason, out, i):
        """Back to the baseline at (t, x) (x None: no baseline); a rep under way is reported
        cancelled in out as (CANCELLED, i, reason)."""
        S = self.state
        if S[G_ACTIVE] != 0.0:
            out.append((CANCELLED, i, reason))
        S[G_ACTIVE] = 0.0
        S[G_MODE] = BASE
        S[G_HELD] = 0.0
        S[G_LOW], S[G_T_LOW], S[G_T_NEAR] = (math.nan if x is None else x), t, t
        S[G_HEAD] = S[G_TAIL] = 0.0
        if x is not None:
            self.window[:, 0] = (t, x)
            S[G_TAIL] = 1.0

    def take_mirrored(self, other_state, other_window, shift):
        """Take over another segmenter's state (its arrays, copied) with every angle moved by
        shift: the other side's view of the same movement, once the angle is known to have
        been mirrored (the gyro's sign was judged the other way: see Pipeline._run)."""
        S = other_state.copy()
        W = other_window.copy()
        for k in (G_LOW, G_PEAK, G_VALLEY, G_ANCHOR, G_HELD_X):
            S[k] += shift
        head, tail = int(S[G_HEAD]), int(S[G_TAIL])
        W[1, head:tail] += shift
        self.state, self.window = S, W

    def finish(self):
        """The data has ended. A rep whose return had come most of the way back (to within a
        quarter of its depth of where it began) is complete: returns its COMPLETED payload (as
        update() gives it), else None. Nothing after this is pushed."""
        S = self.state
        if int(S[G_MODE]) != DOWN:
            return None
        low, peak, valley = float(S[G_LOW]), float(S[G_PEAK]), float(S[G_VALLEY])
        if valley - low > FINISH_BACK * (peak - low):
            return None  # still on the way up when the data stopped: not seen to end
        S[G_MODE], S[G_ACTIVE] = BASE, 0.0
        return {"rise_s": float(S[G_T_LOW]), "bottom_s": float(S[G_T_PEAK]),
                "end_s": float(S[G_T_VALLEY]), "peak_deg": peak, "base_deg": low,
                "valley_deg": valley}

    def _room(self, n):
        """Room in the window for n more candidates (kept at the front of its buffer)."""
        S, W = self.state, self.window
        head, tail = int(S[G_HEAD]), int(S[G_TAIL])
        if tail + n + 1 <= W.shape[1]:
            return
        live = tail - head
        if live + n + 1 > W.shape[1] // 2:
            self.window = np.zeros((2, 2 * (live + n + 1)))
        self.window[:, :live] = W[:, head:tail]
        S[G_HEAD], S[G_TAIL] = 0.0, live

    def update(self, t, x, blocked, settle_after_block=False):
        """t, x, blocked: sequences (s; deg, NaN = missing; True while the dowel is off the
        back). Returns (events in order, standing: list of bool, True by the baseline with no
        rep under way)."""
        t = np.ascontiguousarray(t, dtype=np.float64)
        x = np.ascontiguousarray(x, dtype=np.float64)
        blocked = np.ascontiguousarray(blocked, dtype=np.bool_)
        n = len(t)
        self._room(n)
        standing = np.zeros(n, dtype=np.bool_)
        settling = np.zeros(n, dtype=np.bool_)
        ev_kind = np.empty(2 * n + 2, dtype=np.int64)
        ev_i = np.empty(2 * n + 2, dtype=np.int64)
        ev_val = np.empty((2 * n + 2, 6))
        C = np.array([float(getattr(self.cfg, k)) for k in CFG])
        lows = np.empty(n)
        n_ev = _segment(t, x, blocked, bool(settle_after_block), C, self.state, self.window,
                        standing, settling, lows, ev_kind, ev_i, ev_val)
        self.lows = lows
        out = []
        for kind, i, v in zip(ev_kind[:n_ev].tolist(), ev_i[:n_ev].tolist(), ev_val[:n_ev].tolist()):
            if kind == K_STARTED:
                out.append((STARTED, i, (v[0], v[1])))
            elif kind == K_COMPLETED:
                out.append((COMPLETED, i, {
                    "rise_s": v[0], "bottom_s": v[1], "end_s": v[2],
                    "peak_deg": v[3], "base_deg": v[4], "valley_deg": v[5],
                }))
            else:
                out.append((CANCELLED, i, REASONS[int(v[0])]))
        self.settling_flags = settling.tolist()
        return out, standing.tolist()
