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
from collections import deque

BASE, UP, DOWN = 0, 1, 2

# event kinds returned by update(): (kind, sample index in the batch, payload)
STARTED = "started"  # payload: (t_rise_start_s, base_deg)
COMPLETED = "completed"  # payload: dict(start_s, bottom_s, end_s, peak_deg, base_deg)
CANCELLED = "cancelled"  # payload: reason


class Segmenter:
    def __init__(self, config):
        self.cfg = config
        self.mode = BASE
        self.low = None  # lowest angle since the last rep (the baseline)
        self.t_low = 0.0
        self.peak = 0.0
        self.t_peak = 0.0
        self.t_near = 0.0  # the last time the angle was near the baseline
        self.valley = 0.0
        self.t_valley = 0.0
        self.t_valley_new = 0.0
        self.last_t = None
        self.depths = deque(maxlen=3)  # the recent reps' depths above their baseline
        self.t_last_rep = -math.inf
        self._h = config.min_rise_deg
        self._h_until = -math.inf  # H falls back to min_rise_deg after this time
        self.active = False  # a rep is confirmed and under way
        self.anchor = 0.0  # a pose held within home_band_deg since t_anchor
        self.t_anchor = 0.0
        self.window = deque()  # (t, x) candidates for the baseline, increasing x
        self.settling = False
        self.settling_flags = []

    def rise_deg(self, t):
        """H, the rise (and fall) that makes a rep, at time t."""
        if t > self._h_until:
            return self.cfg.min_rise_deg
        return self._h

    def _remember_depth(self, depth, t):
        cfg = self.cfg
        self.depths.append(depth)
        self.t_last_rep = t
        d = sorted(self.depths)[len(self.depths) // 2]
        self._h = min(cfg.max_rise_deg, max(cfg.min_rise_deg, cfg.rise_fraction * d))
        self._h_until = t + cfg.depth_memory_s


    def fall_deg(self, t):
        """The fall from the peak that completes the rep under way: H, or more for a deep rep
        (a wobble at the bottom of a deep first rep is not two reps)."""
        cfg = self.cfg
        own = cfg.rise_fraction * (self.peak - self.low)
        return max(self.rise_deg(t), min(cfg.max_fall_deg, own))

    def cancel(self, x, t, reason, out, i):
        if self.active:
            out.append((CANCELLED, i, reason))
        self.active = False
        self.mode = BASE
        self.low, self.t_low = x, t
        self.t_near = t
        self._restart_window(x, t)

    def _restart_window(self, x, t):
        self.window.clear()
        if x is not None:
            self.window.append((t, x))

    def update(self, t, x, blocked, settle_after_block=False):
        """t, x, blocked: lists (s; deg, NaN = missing; True while the dowel is off the back).
        Returns (events in order, standing: list of bool, True by the baseline with no rep
        under way)."""
        cfg = self.cfg
        out = []
        standing = [False] * len(t)
        settling = self.settling_flags = [False] * len(t)
        gap = cfg.gap_cancel_s
        for i in range(len(t)):
            xi = x[i]
            if xi != xi:  # NaN: missing sample
                continue
            ti = t[i]
            if self.last_t is not None and ti - self.last_t > gap and self.mode != BASE:
                self.cancel(xi, ti, "gap in the data", out, i)
            self.last_t = ti
            if blocked[i]:
                if self.mode != BASE:
                    self.cancel(xi, ti, "the dowel left the back", out, i)
                self.low, self.t_low, self.t_near = xi, ti, ti
                self._restart_window(xi, ti)
                self.settling = settle_after_block
                self.anchor, self.t_anchor = xi, ti
                continue
            if self.settling:
                # picked up from where it lay: no rep until it has been held still (within
                # the home band) for a moment, where the person stands with it
                if abs(xi - self.anchor) > cfg.home_band_deg:
                    self.anchor, self.t_anchor = xi, ti
                if ti - self.t_anchor < cfg.settle_after_rest_s:
                    settling[i] = True
                    continue
                self.settling = False
                self.low, self.t_low, self.t_near = xi, ti, ti
                self._restart_window(xi, ti)
            mode = self.mode
            if mode == BASE:
                # the baseline: the lowest angle since the last rep, over at most base_window_s
                # (a person who settles in a new pose is standing there now)
                win = self.window
                while win and win[-1][1] >= xi:
                    win.pop()
                win.append((ti, xi))
                while win[0][0] < ti - cfg.base_window_s:
                    win.popleft()
                self.t_low, self.low = win[0]
                h = self.rise_deg(ti)
                if xi - self.low <= 0.25 * h:
                    self.t_near = ti  # still by the baseline: a rep has not begun
                    standing[i] = True
                elif xi - self.low >= h:
                    self.mode = UP
                    self.active = True
                    self.peak, self.t_peak = xi, ti
                    self.anchor, self.t_anchor = xi, ti
                    out.append((STARTED, i, (self.t_low, self.low)))
                continue
            if mode == UP:
                if xi > self.peak:
                    self.peak, self.t_peak = xi, ti
                if abs(xi - self.anchor) > cfg.home_band_deg:
                    self.anchor, self.t_anchor = xi, ti
                if ti - self.t_anchor >= cfg.home_idle_s:
                    # nobody holds the bottom of a rep this long: a new pose to stand in
                    self.cancel(xi, ti, "still too long for the bottom of a rep", out, i)
                elif ti - self.t_near > cfg.max_rep_s:
                    self.cancel(xi, ti, "too long for a rep", out, i)
                elif self.peak - self.low > cfg.max_depth_deg:
                    self.cancel(xi, ti, "too far from standing for a hinge", out, i)
                elif self.peak - xi >= self.fall_deg(ti):
                    self.mode = DOWN
                    self.valley, self.t_valley, self.t_valley_new = xi, ti, ti
                continue
            # DOWN: find where the return bottoms out
            if xi < self.valley - cfg.end_new_low_deg:
                self.valley, self.t_valley, self.t_valley_new = xi, ti, ti
            elif xi < self.valley:
                self.valley, self.t_valley = xi, ti
            if xi - self.valley >= cfg.end_rise_deg or ti - self.t_valley_new >= cfg.end_settle_s:
                out.append((COMPLETED, i, {
                    "rise_s": self.t_low, "bottom_s": self.t_peak, "end_s": self.t_valley,
                    "peak_deg": self.peak, "base_deg": self.low, "valley_deg": self.valley,
                }))
                self.active = False
                self._remember_depth(self.peak - min(self.low, self.valley), ti)
                self.mode = BASE
                self.low, self.t_low = self.valley, self.t_valley
                self.t_near = ti
                self._restart_window(self.valley, self.t_valley)
                if xi < self.low:
                    self.low, self.t_low = xi, ti
                    self._restart_window(xi, ti)
        return out, standing

