"""Session time for a live stream, and the check of the dowel's clock against the host's.

`SessionClock` turns the dowel's 30-bit microsecond clock into microseconds since the session's
first sample. Inside one run of the device clock (from one RESYNC to the next) it follows the
device, which timed the samples; where the device clock starts again (RESYNC, a restart, a step
backwards) or jumps by much more than the host saw pass, the run is placed on the host's clock,
so session time keeps flowing at the speed of the wall clock and never jumps back.

`ClockCheck` compares, over windows of a few seconds, the device's clock, the host's clock and
the rate the dowel states; any pair more than 5% apart is reported.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from dowel_protocol import FLAG_RESYNC, T_US_MODULUS

DEFAULT_PERIOD_US = 10_000  # 100 Hz, until the stream shows its own period
# A device step this much longer or shorter than the host saw pass cannot be the device's own
# timing (the host's receive times jitter by tens of ms, a stalled reader by a second or so).
PLAUSIBLE_SLACK_US = 1_000_000
PLAUSIBLE_SHARE = 0.2

# break causes
RESYNC = "resync"  # the sample says its time base restarted
CLOCK_BACK = "clock_back"  # the device clock went backwards
CLOCK_JUMP = "clock_jump"  # the device clock moved far more (or less) than the host saw
NEW_RUN = "new_run"  # the caller said the next sample starts a new run (a gap, a restart)


@dataclass(frozen=True)
class Break:
    """Where the device time line was not followed: sample `index` of the batch was placed at
    `end_us` session time, after the previous sample at `start_us`."""

    index: int
    start_us: int
    end_us: int
    cause: str


class SessionClock:
    """Device sample times -> session microseconds: 0 at the first sample, continuous and
    increasing across restarts, RESYNCs and gaps."""

    # A live batch is one to three samples: numpy's cost per call (some 40 array operations
    # here) is then most of the clinic screen's time in this class. A batch up to this size
    # that follows the device's time line throughout is placed with the same arithmetic on
    # Python numbers (_place_regular); anything else, and any longer batch, goes through numpy.
    SHORT_BATCH = 16

    def __init__(self, modulus=T_US_MODULUS):
        self.modulus = int(modulus)
        self._last_raw = None
        self._last_t = None  # session us of the latest sample
        self._last_rx = None  # host receive time (s, monotonic) of the latest sample
        self._new_run = False
        self._first_t = 0
        self.period_us = DEFAULT_PERIOD_US  # the latest regular step between samples

    @property
    def last_t_us(self):
        """Session time of the latest sample (None before the first)."""
        return self._last_t

    @property
    def last_rx(self):
        return self._last_rx

    def start_at(self, t_us):
        """Place the first sample at t_us instead of 0 (before any sample only)."""
        if self._last_t is None:
            self._first_t = int(t_us)

    def new_run(self):
        """The next sample starts a new run (its device time says nothing about the gap)."""
        self._new_run = True

    def place(self, raw_t_us, rx_s=None, flags=None):
        """Session microseconds (int64 array) for a batch of raw device times, and the Breaks.

        rx_s: host receive times (monotonic seconds), one per sample, or None; samples read
        together share one. flags: the samples' flags (RESYNC starts a run)."""
        if (0 < len(raw_t_us) <= self.SHORT_BATCH and self._last_raw is not None
                and not self._new_run):
            t = self._place_regular(raw_t_us, rx_s, flags)
            if t is not None:
                return t, []
        raw = np.asarray(raw_t_us, dtype=np.int64) % self.modulus
        n = len(raw)
        if n == 0:
            return np.zeros(0, dtype=np.int64), []
        rx = None if rx_s is None else np.asarray(rx_s, dtype=np.float64)
        prev_raw = np.empty(n, dtype=np.int64)
        prev_raw[1:] = raw[:-1]
        prev_raw[0] = raw[0] if self._last_raw is None else self._last_raw
        steps = (raw - prev_raw) % self.modulus
        host = np.zeros(n, dtype=np.int64)
        if rx is not None:
            prev_rx = np.empty(n, dtype=np.float64)
            prev_rx[1:] = rx[:-1]
            prev_rx[0] = rx[0] if self._last_rx is None else self._last_rx
            host = np.maximum(0, np.round((rx - prev_rx) * 1e6)).astype(np.int64)
        cause = np.zeros(n, dtype=np.int8)  # 0 none, 1 resync, 2 back, 3 jump, 4 new run
        if flags is not None:
            cause[(np.asarray(flags, dtype=np.int64) & FLAG_RESYNC) != 0] = 1
        cause[(cause == 0) & (steps > self.modulus // 2)] = 2
        # Samples read together (host step 0) say nothing about the time between them.
        jump = (cause == 0) & (host > 0) & (
            np.abs(steps - host) > PLAUSIBLE_SLACK_US + PLAUSIBLE_SHARE * host)
        cause[jump] = 3
        if self._new_run:
            cause[0] = 4
            self._new_run = False
        first = self._last_raw is None
        if first:
            cause[0] = 0
            steps[0] = 0
        normal = steps[(cause == 0) & (steps > 0)]
        if len(normal):
            self.period_us = int(np.median(normal))
        breaks_at = np.flatnonzero(cause)
        for i in breaks_at:
            # a new run starts where the host says it did (never sooner than one period)
            steps[i] = max(int(host[i]), self.period_us)
        t0 = self._first_t if first else self._last_t
        t = t0 + np.cumsum(steps)
        names = {1: RESYNC, 2: CLOCK_BACK, 3: CLOCK_JUMP, 4: NEW_RUN}
        breaks = [
            Break(int(i), int(t[i - 1]) if i else int(t0), int(t[i]), names[int(cause[i])])
            for i in breaks_at
        ]
        self._last_raw = int(raw[-1])
        self._last_t = int(t[-1])
        if rx is not None:
            self._last_rx = float(rx[-1])
        return t, breaks

    def _place_regular(self, raw_t_us, rx_s, flags):
        """place() of a batch after the first sample, none of whose samples breaks the time
        line (no RESYNC flag, no step back, no jump against the host's clock), in plain
        Python: each step as numpy computes it above. None, and nothing changed, as soon as
        a sample would break it (place() then does it all again with numpy)."""
        mod = self.modulus
        half = mod // 2
        prev = self._last_raw
        prev_rx = self._last_rx
        steps = []
        raws = [int(r) % mod for r in raw_t_us]
        if flags is not None and any(int(f) & FLAG_RESYNC for f in flags):
            return None
        for i, raw in enumerate(raws):
            step = (raw - prev) % mod
            if step > half:
                return None  # the device clock went backwards
            if rx_s is not None:
                rx = float(rx_s[i])
                host = max(0, round((rx - (rx if prev_rx is None else prev_rx)) * 1e6))
                if host > 0 and abs(step - host) > PLAUSIBLE_SLACK_US + PLAUSIBLE_SHARE * host:
                    return None  # a jump
                prev_rx = rx
            steps.append(step)
            prev = raw
        normal = sorted(x for x in steps if x > 0)
        if normal:
            # np.median: the middle one, or the mean of the middle two (as a float)
            m = len(normal) // 2
            self.period_us = int(normal[m] if len(normal) % 2 else (normal[m - 1] + normal[m]) / 2)
        out = []
        t = self._last_t
        for step in steps:
            t += step
            out.append(t)
        self._last_raw = raws[-1]
        self._last_t = t
        if rx_s is not None:
            self._last_rx = prev_rx
        return np.array(out, dtype=np.int64)


@dataclass(frozen=True)
class ClockReport:
    """One window of the clock check: elapsed times and sample counts, and what disagrees."""

    host_s: float  # host time the window spanned (corrected for receive delays)
    device_s: float  # device clock time over the same samples
    frames: int  # samples received plus frames lost in the window
    stated_hz: float
    device_vs_host: float  # device_s / host_s
    rate_vs_stated: float  # (frames / host_s) / stated_hz
    step_vs_stated: float  # the median device step against 1 / stated_hz
    problems: tuple  # sentences, empty when all three agree within TOLERANCE


class ClockCheck:
    """Checks the device clock against the host clock and the stated rate, window by window.

    Host time is taken from the earliest-arriving samples at each end of a window (the minimum
    of receive time minus device time over half a second), so a reader that lags now and then
    does not look like a clock that drifts.
    """

    TOLERANCE = 0.05
    WINDOW_S = 5.0
    EDGE_S = 0.5

    def __init__(self):
        self.reset()

    def reset(self):
        """Start a new window (after a break in the device's time line)."""
        self._start = None  # (device us, min offset us) at the window's start
        self._start_until_rx = None
        self._start_rx = None
        self._recent = deque()  # (rx, batch min offset)
        self._frames = 0
        self._steps = []
        self._dev_last = None

    def add(self, dev_us, rx_s, lost, stated_hz):
        """A batch of one run: device times (unwrapped us, int64 array), receive times (s),
        frames lost with it. Returns a ClockReport when a window completes, else None."""
        if len(dev_us) == 0 or rx_s is None:
            return None
        dev = np.asarray(dev_us, dtype=np.int64)
        rx = np.asarray(rx_s, dtype=np.float64)
        off = np.round(rx * 1e6).astype(np.int64) - dev
        now = float(rx[-1])
        if self._start is None:
            self._start = [int(dev[0]), int(off.min())]
            self._start_rx = float(rx[0])
            self._start_until_rx = float(rx[0]) + self.EDGE_S
        elif now <= self._start_until_rx:
            self._start[1] = min(self._start[1], int(off.min()))
        if self._dev_last is not None:
            self._steps.append(np.diff(np.concatenate(([self._dev_last], dev))))
        elif len(dev) > 1:
            self._steps.append(np.diff(dev))
        self._dev_last = int(dev[-1])
        self._frames += len(dev) + int(lost)
        self._recent.append((now, int(off.min())))
        while self._recent and now - self._recent[0][0] > self.EDGE_S:
            self._recent.popleft()
        if now - self._start_rx < self.WINDOW_S or not stated_hz:
            return None
        end_off = min(o for _, o in self._recent)
        device_us = int(dev[-1]) - self._start[0]
        host_us = device_us + (end_off - self._start[1])
        steps = np.concatenate(self._steps) if self._steps else np.zeros(0, dtype=np.int64)
        frames = self._frames
        self.reset()
        if host_us <= 0 or device_us <= 0 or not len(steps):
            return None
        host_s, device_s = host_us / 1e6, device_us / 1e6
        step_s = float(np.median(steps)) / 1e6
        rep = ClockReport(
            host_s=host_s,
            device_s=device_s,
            frames=frames,
            stated_hz=float(stated_hz),
            device_vs_host=device_s / host_s,
            rate_vs_stated=(frames / host_s) / stated_hz,
            step_vs_stated=step_s * stated_hz,
            problems=(),
        )
        return _with_problems(rep, self.TOLERANCE)


def _with_problems(r, tol):
    out = []
    if abs(r.device_vs_host - 1) > tol:
        out.append(
            "the dowel's clock ran %s against this computer's (%.1f s of device time in %.1f s)"
            % (_pct(r.device_vs_host), r.device_s, r.host_s))
    if abs(r.rate_vs_stated - 1) > tol:
        out.append(
            "the dowel sent %.0f samples a second but states %.0f Hz"
            % (r.frames / r.host_s, r.stated_hz))
    if abs(r.step_vs_stated - 1) > tol:
        out.append(
            "the dowel's time stamps step by %.2f ms but %.0f Hz means %.2f ms"
            % (1000 * r.step_vs_stated / r.stated_hz, r.stated_hz, 1000 / r.stated_hz))
    return ClockReport(**{**r.__dict__, "problems": tuple(out)})


def _pct(ratio):
    if ratio >= 1:
        return "%.0f%% fast" % ((ratio - 1) * 100)
    return "%.0f%% slow" % ((1 - ratio) * 100)
