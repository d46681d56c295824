"""Where the clinic screen's data comes from: a dowel on a serial port, the simulated dowel on
its pty (connected exactly like hardware), or a stored session played back.

Each source's `run(feed, stop)` blocks (the app runs it in a thread worker) until `stop` is
set: a dowel's source has the feed's LiveSession connect (its link hands every batch to the
session on the reader thread) and ticks it twice a second. Errors are raised, never swallowed: the worker
reports them to the app, which shows them.
"""

from __future__ import annotations

import threading

from ..errors import DowelError
from .state import LinkStatus

STATUS_EVERY_S = 0.5
# The link hands over what it read once a batch is this old, checked after each read (a read
# returns with a whole frame, or empty after the link's 20 ms read timeout), or at once after
# a sample that turns a pad on or off (LiveSession.contact_turns: the cue does not wait).
# The live session and the pipeline cost mostly per batch, not per sample (about 1 ms a batch
# on the development machine), and the screen draws at most one frame a batch: a batch of
# about a frame (feed.FRAME_S) costs what the frame needs and no more. History: at 0 every
# frame went alone (about 95 batches a second, 9.6% of a core); 9 ms, about 40 a second; 20 ms
# (about 30 a second, the cue waiting for its batch: p99 34 ms) 8.8-9.2%; 60 ms with the
# contact flush, 15 batches a second: the cue p99 35.5 -> 6.4 ms and `dowel demo` 15.7-16.0%
# -> 10.3-10.7% of a core alternating with the code before (bench/latency_bench.py --cue,
# --cpu-demo; the demo's simulator in 20 ms bursts then).
BATCH_INTERVAL_S = 0.06
# The demo's simulated dowel, in the app's own process, runs its firmware's schedule this
# much at a time (sim.board.PacedClock): each sample keeps its own time stamp and leaves up
# to about this late (plus the host's wake-up), for fewer wake-ups of the simulator and the
# reader (the simulator 4.5% -> 2.3% of a core at 20 ms; `dowel simulate`, the hardware's
# stand-in, sends every sample at its time).
SIM_BURST_S = 0.03
SIM_ACTIONS = ("good", "lumbar-flexion", "thoracic-rounding", "head-forward", "squat",
               "shallow", "rushed", "rest")


class Source:
    """A data source: `source` names it on the status line; `simulated` enables patient keys."""

    source = "dowel"
    simulated = False

    def run(self, feed, stop):  # pragma: no cover - interface
        raise NotImplementedError

    def sim_action(self, action):
        raise DowelError("only the simulated dowel takes patient moves", title="Simulated dowel")


class IdleSource(Source):
    """No data at all (tests drive the app by posting messages)."""

    source = "none"

    def __init__(self, simulated=False):
        self.simulated = simulated
        self.actions = []

    def run(self, feed, stop):
        stop.wait()

    def sim_action(self, action):
        self.actions.append(action)


class LinkSource(Source):
    """A dowel on a serial port (None: auto-detect), through link.SerialLink."""

    def __init__(self, port=None, rate_hz=None, connect_timeout_s=5.0):
        self.port = port
        self.rate_hz = rate_hz
        self.connect_timeout_s = connect_timeout_s
        self.link = None

    def run(self, feed, stop):
        live = feed.live
        try:
            info = live.connect(self.port, rate_hz=self.rate_hz,
                                timeout_s=self.connect_timeout_s,
                                batch_interval_s=BATCH_INTERVAL_S, flush_on_contact=True)
            self.link = live.link
            live.begin_session(info, live.link.port)
            live.start_streaming()
            while not stop.wait(STATUS_EVERY_S):
                if live.link_failure is not None:
                    raise DowelError("The serial reader stopped: %s" % live.link_failure,
                                     title="Serial link") from live.link_failure
                live.tick()
        finally:
            live.close()


class SimSource(LinkSource):
    """The simulated dowel on a pty, in this process; the link opens its port like hardware."""

    source = "simulated"
    simulated = True

    def __init__(self, scenario="mixed", seed=None, rate_hz=None):
        super().__init__(None, rate_hz)
        self.scenario = scenario
        self.seed = seed
        self.sim = None
        self._ready = threading.Event()

    def run(self, feed, stop):
        from ..sim.server import SimulatedDowel

        sim = SimulatedDowel(scenario=self.scenario, seed=self.seed, endless=True,
                             burst_s=SIM_BURST_S)
        sim.start()
        self.sim = sim
        self.port = sim.port
        self._ready.set()
        try:
            super().run(feed, stop)
        finally:
            sim.stop()

    def sim_action(self, action):
        if action not in SIM_ACTIONS:
            raise ValueError("unknown patient move %r" % (action,))
        if self.sim is None:
            raise DowelError("the simulated dowel is still starting", title="Simulated dowel")
        self.sim.body.queue(action)


class ReplaySource(Source):
    """A stored session played through the screen at `speed` (1 = real time)."""

    source = "replay"

    def __init__(self, session_id, speed=1.0, on_end=None):
        self.session_id = int(session_id)
        self.speed = float(speed)
        self.on_end = on_end

    def run(self, feed, stop):
        from ..store.replay import iter_batches

        port = "session %d" % self.session_id
        feed.update_status(LinkStatus(source="replay", state="connected", port=port))
        for rb in iter_batches(self.session_id, speed=self.speed, store=feed.store,
                               calibration=feed.calibration,
                               sleep=lambda s: stop.wait(s)):
            if stop.is_set():
                return
            feed.on_samples(rb.samples)
            feed.update_status(LinkStatus(source="replay", state="connected", port=port,
                                          sample_rate_hz=rb.samples.sample_rate_hz * self.speed))
        feed.update_status(LinkStatus(source="replay", state="closed", port=port,
                                      message="end of session %d" % self.session_id))
        if self.on_end is not None:
            self.on_end(self.session_id)
        stop.wait()
