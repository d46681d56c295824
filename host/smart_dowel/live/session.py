"""One live session: a dowel's stream through the pipeline into the store, told to a front end.

A LiveSession owns the link's callbacks, the session clock, the pipeline, the session writer,
the gaps (unplugs, restarts, silence, streams of nothing valid), the dowel's TEXT and the
clock check. The clinic screen (tui.feed) and `dowel record` (store.record) are thin front
ends: they call its methods and show what it emits (live.events), so the same bytes give the
same session in both.

It is driven from two threads, the link's reader thread (on_batch, on_link_event) and the front
end's (connect, tick, the clinician's commands, close); one lock keeps them in order. Nothing
under it waits on I/O except the rare session switch.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, replace

import numpy as np

import dowel_protocol as P

from ..pipeline import (
    CONTACTS,
    Calibration,
    PHASE_DESCENT,
    FaultRaised,
    Pipeline,
    PipelineConfig,
    RepCancelled,
    RepCompleted,
    RepStarted,
    Samples,
    UprightCaptured,
)
from . import events as E
from ..feedback import EVERY, FeedbackSchedule
from .clock import CLOCK_BACK, NEW_RUN, RESYNC, ClockCheck, SessionClock
from .state import (
    DEFAULT_TARGET_DEPTH_DEG,
    DEFAULT_TARGET_REPS,
    TARGET_BAND_DEG,
    TRACE_HZ,
    TRACE_S,
    Contact,
    LinkStatus,
    RepRow,
    Snapshot,
)

MIN_TARGET_DEPTH_DEG = 15.0
MAX_TARGET_DEPTH_DEG = 90.0
MAX_TARGET_REPS = 50
# the screen's rep table shows the latest reps only: a set has at most 50, and practice reps
# outside a set go on without end, so older rows are not kept
ROWS_KEPT = 50
# A streaming dowel that sends no usable sample for this long is in a gap (silent, or sending
# only what cannot be read).
NO_DATA_S = 1.0
# A restart the dowel confirms (a new boot id in the STATUS after its first samples) this long
# after a gap names that gap's cause.
RESTART_CONFIRM_S = 2.0
SUMMARY_EVERY_S = 5.0  # the session's lost frames and link counters are saved this often
TEXT_LEVELS = {P.LEVEL_INFO: "info", P.LEVEL_WARNING: "warning", P.LEVEL_ERROR: "error"}
_SEVERITY = {"info": "information", "warning": "warning", "error": "error"}

# gap causes, as stored
UNPLUGGED = "unplugged"
RESTARTED = "restarted"
NO_DATA = "no_data"
NO_VALID_DATA = "no_valid_data"
CLOCK = "clock"


def rep_row(number, rep, feedback=None):
    return RepRow(number, float(rep.depth_deg), float(rep.descent_s), float(rep.ascent_s),
                  tuple(rep.fault_ids), feedback)


@dataclass
class _Outage:
    """A stretch without usable samples, open until the next sample."""

    cause: str
    reason: str
    start_us: int  # session time of the last sample before it
    start_mono: float  # host time of that sample (or of the outage's start)
    lost_base: int  # the link's lost-frame count when it began
    unknown_base: int = 0  # ... and its count of sequence breaks of unknown loss
    lost: int | None = None  # frames lost in it, when the link could count them
    restarted: bool = False  # the dowel restarted inside it: how many frames it lost is unknown


_REJECTED = (
    ("malformed", "malformed frames"),
    ("crc_errors", "frames with a bad CRC"),
    ("unknown_type", "frames of an unknown type"),
    ("oversize", "runs of junk"),
    ("bytes_discarded", "bytes discarded"),
)


def _counters(stats):
    c = dict(stats.counters)
    c["bytes_total"] = stats.bytes_total
    return c


def rejected_text(now, base):
    """What arrived instead of samples between two readings of the link's counters, as one
    phrase ("412 malformed frames, 3 frames with a bad CRC"); "" when nothing did."""
    parts = []
    for key, words in _REJECTED:
        d = now.get(key, 0) - base.get(key, 0)
        if d > 0:
            parts.append("%d %s" % (d, words))
    if not parts:
        d = now.get("bytes_total", 0) - base.get("bytes_total", 0)
        if d > 0:
            parts.append("%d bytes that are not a frame yet" % d)
    return ", ".join(parts)


class LiveSession:
    """A live session. emit(event) receives the live.events objects (on the thread that caused
    them; it must not block). store: a store.Store or None (nothing is saved, and the snapshot
    says so). snapshots=False: no SnapshotChanged events (a headless front end).
    target_reps=None: sets have no target and run until stopped. raw_sink(bytes) receives
    every byte read from the dowel, in order (on the reader thread)."""

    def __init__(self, emit=None, *, store=None, patient=None, source="dowel",
                 target_depth_deg=DEFAULT_TARGET_DEPTH_DEG, target_reps=DEFAULT_TARGET_REPS,
                 config=None, pipeline_version="", snapshots=True, raw_sink=None,
                 feedback=EVERY):
        self._emit = emit if emit is not None else (lambda event: None)
        # which reps of a set get live feedback (smart_dowel.feedback); raises on an unknown name
        self.feedback = FeedbackSchedule(feedback, TARGET_BAND_DEG)
        self._raw_sink = raw_sink
        self._lock = threading.RLock()
        self.store = store
        self.patient = patient or ""
        self.source = source
        self.pipeline_version = pipeline_version
        self.snapshots = snapshots
        self.calibration = Calibration()
        cfg = config or PipelineConfig()
        cfg = replace(cfg, target_depth_deg=float(target_depth_deg))
        self.pipeline = Pipeline(cfg, self.calibration)
        self.target_depth_deg = float(target_depth_deg)
        self.target_reps = None if target_reps is None else int(target_reps)
        self.writer = None
        self.link = None
        self.device_info = None
        self.port = None
        self.clock = SessionClock()
        self.clock_check = ClockCheck()
        # per pad (raw on, ADC counts where it turns, highest reading since the last push)
        self._turn_counts = None
        self._set_number = 0
        self._set_running = False
        self._group = "practice"
        self._rows = deque(maxlen=ROWS_KEPT)
        self._rows_shown = None  # tuple(self._rows) once asked for
        self._group_reps = 0
        self._total_reps = 0
        self._last_rep_good = False
        self._trace = deque(maxlen=int(TRACE_S * TRACE_HZ))
        self._trace_shown = ()  # tuple(self._trace), made again only when a point is added
        self._trace_next_t = None
        self._seq = None
        self._t_us = None
        self.samples = 0  # usable samples received
        self.gaps = []  # (start_s, end_s, lost_frames or None, cause, reason), as stored
        self.texts = []  # (t_s, level, text) from the dowel
        self.warnings = []  # (t_s, sentence) the host found (clock, refusals)
        self._status = LinkStatus(source=source)
        self._upright_refined_unsaved = False
        self._outage = None
        self._began_mono = None
        self._last_valid_mono = None  # host time of the latest usable sample
        self._valid_counters = {}  # the link's counters at that moment
        self._begin_counters = {}  # ... and when the session began
        self._lost_base = 0
        self._lost_seen = 0
        self._unknown_seen = 0
        self._clock_warned = set()
        self._refused_shown = None
        self._last_gap_mono = None
        self._next_summary = 0.0
        self._closed = False

    # ------------------------------------------------------------------ session

    def begin_session(self, device_info=None, port=None):
        """Start a stored session for the current patient (no-op without a store)."""
        with self._lock:
            self.device_info = device_info
            self.port = port
            self._began_mono = time.monotonic()
            if self.link is not None:
                st = self.link.stats()
                self._lost_base = st.lost_frames
                self._unknown_seen = st.unknown_loss
                self._valid_counters = _counters(st)
                self._begin_counters = dict(self._valid_counters)
            self._open_writer()
        self.publish()

    def _open_writer(self):
        if self.store is None:
            return
        self.writer = self.store.start_session(
            self.patient or None, self.device_info, source=self.source, port=self.port,
            calibration=self.calibration.to_dict(), pipeline_version=self.pipeline_version,
            on_error=self._on_store_error,
        )

    def _on_store_error(self, error):
        self._emit(E.Notice(error.title, str(error), "error", "store"))

    def set_patient(self, name):
        """Switch to another patient: the open set ends and a new session starts."""
        with self._lock:
            self._end_set_locked("stopped")
            old, self.writer = self.writer, None
            self.patient = name
            self._rows = deque(maxlen=ROWS_KEPT)
            self._rows_shown = None  # tuple(self._rows) once asked for
            self._group_reps = 0
            self._group = "practice"
            self._set_number = 0
            self.pipeline.new_set()
            try:
                if old is not None:
                    old.close()
            finally:
                if self.store is not None:
                    self._open_writer()
        self.publish()

    # ------------------------------------------------------------------ the link

    def connect(self, port, *, rate_hz=None, timeout_s=5.0, batch_interval_s=0.015,
                flush_on_contact=False):
        """Open a SerialLink to `port` (None: auto-detect) with this session's callbacks and
        wait for the dowel's INFO (returned). Then begin_session() and start_streaming().
        flush_on_contact: a sample that turns a pad on or off closes the link's batch at once
        (contact_turns), so a long batch_interval_s does not delay the contact cue.
        Raises PortError if nothing answers."""
        from ..link import SerialLink

        link = SerialLink(port, on_batch=self.on_batch, on_event=self.on_link_event,
                          batch_interval_s=batch_interval_s,
                          flush_now=self.contact_turns if flush_on_contact else None)
        self.link = link
        self.update_status(LinkStatus(source=self.source, state="connecting", port=port))
        return link.connect(rate_hz=rate_hz, stream=False, timeout_s=timeout_s)

    def start_streaming(self):
        """Have the dowel stream, and keep it streaming: the link sends START (again after a
        NACK, with back-off, and to a dowel that went silent or restarted)."""
        self.link.keep_streaming()

    @property
    def link_failure(self):
        """The exception that stopped the link's reader thread, if any."""
        return None if self.link is None else self.link.failure

    def tick(self):
        """Called by the front end every half second or so: look for silence and refresh the
        status line."""
        now = time.monotonic()
        with self._lock:
            self._watch(now)
            if now >= self._next_summary:
                self._next_summary = now + SUMMARY_EVERY_S
                self._save_link_summary()
        self._publish_status()

    def rejected_since_begin(self):
        """What arrived over the session that was not usable, as one phrase ("" if nothing)."""
        if self.link is None:
            return ""
        return rejected_text(_counters(self.link.stats()), self._begin_counters)

    def lost_frames(self):
        """Frames lost over this session (sequence gaps and unplugs), as far as countable."""
        return self._lost_count()

    def _save_link_summary(self):
        if self.writer is None or self.link is None:
            return
        st = self.link.stats()
        counters = dict(st.counters)
        counters.update(restarts=st.restarts, reconnects=st.reconnects, samples=self.samples)
        self.writer.set_link_summary(st.lost_frames - self._lost_base, counters)

    def close(self):
        """End the open set, stop the dowel's stream and the link, close the session (flushing
        it to disk). The link's close sends STOP."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            # the data ends here: a rep that had come most of the way back counts, as
            # `dowel analyze` of the stored session counts it
            self._after_push(self.pipeline.finish())
            self._end_set_locked("stopped")
        link = self.link
        try:
            if link is not None:
                link.close()
        finally:
            with self._lock:
                if self._outage is not None:
                    self._end_outage_at_close()
                self._save_link_summary()
                w, self.writer = self.writer, None
            if w is not None:
                w.close()

    # ------------------------------------------------------------------ data in (reader thread)

    def on_batch(self, batch):
        """A link.LinkBatch: its samples into the session and the pipeline, its TEXT shown and
        kept, the live picture published."""
        msgs = batch.messages
        idx = [i for i, m in enumerate(msgs) if m.type == P.SAMPLE]
        if self._raw_sink is not None and batch.raw:
            self._raw_sink(batch.raw)
        with self._lock:
            for m in msgs:
                if m.type == P.TEXT:
                    self._on_text(m)
            if idx:
                rx = batch.rx_mono
                self._push_samples([msgs[i] for i in idx],
                                   [rx[i] for i in idx] if rx else None)
            elif batch.raw:
                self._watch(time.monotonic())
        if idx:
            self.publish()

    def on_samples(self, samples, t_us=None):
        """Samples from a replay (already in session time): pipeline only, nothing stored."""
        with self._lock:
            events = self.pipeline.push(samples)
            self.samples += len(samples)
            self._t_us = t_us
            self._after_push(events)
        self.publish()

    def _push_samples(self, msgs, rx):
        from ..store.samples import from_messages

        raw_t, records = from_messages(msgs)
        stats = self.link.stats() if self.link is not None else None
        if self.clock.last_t_us is None and self._outage is not None:
            # nothing usable came at first: the first sample is as late as the host saw it
            first_rx = rx[0] if rx else time.monotonic()
            self.clock.start_at(int(max(0.0, first_rx - self._outage.start_mono) * 1e6))
        t, breaks = self.clock.place(raw_t, rx, records["flags"])
        run = breaks[-1].index if breaks else 0  # where the device clock's latest run begins
        if breaks or self._outage is not None:
            self.clock_check.reset()
        lost_now = 0 if stats is None else stats.lost_frames - self._lost_base
        if self._outage is not None:
            # an open gap ends at this batch's first sample (a RESYNC there says it restarted)
            if breaks and breaks[0].index == 0:
                self._on_break(breaks.pop(0), rx[0] if rx else None, lost_now)
            self._close_outage(int(t[0]), lost_now)
        for b in breaks:
            self._on_break(b, rx[b.index] if rx else None, lost_now)
            if self._outage is not None:
                self._close_outage(b.end_us, lost_now)
        records["t_us"] = t
        if self.writer is not None:
            self.writer.add_samples(records)
        if rx is not None:
            self._check_clock(t[run:], rx[run:], lost_now - self._lost_seen)
        self._lost_seen = lost_now
        self._unknown_seen = 0 if stats is None else stats.unknown_loss
        events = self.pipeline.push(Samples.from_raw(records, self.calibration))
        last = msgs[-1]
        self._seq, self._t_us = last.seq, last.values[0]
        self.samples += len(msgs)
        self._last_valid_mono = rx[-1] if rx else time.monotonic()
        if stats is not None:
            self._valid_counters = _counters(stats)
        self._after_push(events)

    def contact_turns(self, msg):
        """True for a SAMPLE message whose force turns a pad on or off against the pads'
        states after the last push (their `raw` state, the one the screen and the sound show):
        what the link's flush_now asks. A few comparisons of ADC counts, on the reader thread.

        A pad that is on turns off below a share of its standing pressure, which the pipeline
        raises sample by sample with the force: so the threshold here follows the highest
        reading since the push (it can only flush a batch too often, never too late)."""
        levels = self._turn_counts
        if levels is None or msg.type != P.SAMPLE:
            return False
        v = msg.values
        for k in range(3):
            on, counts, peak = levels[k]
            c = v[1 + k]
            if not on:
                if c >= counts:
                    return True
                continue
            if c > peak:
                counts = max(counts, self._off_counts(k, c))
                levels[k] = (on, counts, c)
            if c < counts:
                return True
        return False

    def _off_counts(self, k, peak_counts):
        """The ADC reading below which pad k turns off once its standing pressure has come
        up to a reading of peak_counts."""
        cal = self.calibration.sensors[CONTACTS[k]]
        return cal.counts_at(self.pipeline.contacts.off_force(float(cal.to_newtons(peak_counts))))

    def _update_turn_counts(self):
        """The pads' turning points in ADC counts, from the pipeline's state and calibration
        now: after every push, and when the calibration changes (z)."""
        flips = self.pipeline.contacts.flip_forces()
        self._turn_counts = None if flips is None else [
            (on, self.calibration.sensors[c].counts_at(n), -1)
            for c, (on, n) in zip(CONTACTS, flips)]

    def _after_push(self, events):
        self._update_turn_counts()
        st = self.pipeline.state
        self._add_trace(st.t_s, st.hinge_deg)
        for ev in events:
            if isinstance(ev, RepCompleted):
                if self._upright_refined_unsaved:
                    # the pose kept being averaged over the still spell it was taken in
                    self._upright_refined_unsaved = False
                    self._save_calibration()
                self._on_rep(ev.rep)
            elif isinstance(ev, RepStarted):
                self.feedback.rep_started(self._group_reps + 1)
            elif isinstance(ev, RepCancelled):
                self.feedback.rep_cancelled(self._group_reps + 1)
            elif isinstance(ev, FaultRaised):
                self._last_rep_good = False
                self.feedback.fault_raised()
            elif isinstance(ev, UprightCaptured):
                self._save_calibration()  # taken automatically: keep it with the session
                self._upright_refined_unsaved = True
        if st.phase == PHASE_DESCENT:
            # the next rep's feedback from its first movement, before the pipeline is sure
            self.feedback.rep_started(self._group_reps + 1)
        self.feedback.hinge_now(st.hinge_deg, self.target_depth_deg)

    def _add_trace(self, t_s, hinge_deg):
        if self._trace_next_t is not None and t_s < self._trace_next_t:
            return
        if self._trace_next_t is None or t_s - self._trace_next_t > 1.0:
            self._trace_next_t = t_s
        self._trace_next_t += 1.0 / TRACE_HZ
        self._trace.append(None if hinge_deg is None else float(hinge_deg))
        self._trace_shown = None

    def _on_rep(self, rep):
        self._total_reps += 1
        self._last_rep_good = not rep.faults
        if not self._set_running and self._group == "set":
            self._group = "practice"  # a rep after a finished set starts a practice group
            self._rows = deque(maxlen=ROWS_KEPT)
            self._rows_shown = None  # tuple(self._rows) once asked for
            self._group_reps = 0
        self._group_reps += 1
        number = self._group_reps
        given = self.feedback.rep_done(number, rep.fault_ids, float(rep.depth_deg),
                                       self.target_depth_deg)
        if self.writer is not None:
            self.writer.add_rep(rep, feedback=given)
        self._rows.append(rep_row(number, rep, given))
        self._rows_shown = None
        self._emit(E.RepCounted(rep, number, self._set_number, self._set_running))
        if self._set_running and self.target_reps and number >= self.target_reps:
            self._end_set_locked("target")

    # ------------------------------------------------------------------ TEXT and warnings

    def _now_s(self):
        t = self.clock.last_t_us
        return 0.0 if t is None else t / 1e6

    def _on_text(self, m):
        level = TEXT_LEVELS.get(m.values[0], "level %d" % m.values[0])
        text = m.values[1]
        t_s = self._now_s()
        self.texts.append((t_s, level, text))
        if self.writer is not None:
            self.writer.add_event(t_s, "dowel", level, "text", text)
        self._emit(E.Notice("The dowel says (%s)" % level, text,
                            _SEVERITY.get(level, "warning"), "text"))

    def _warn(self, kind, sentence, title="Serial link"):
        """Something the host found: shown, and kept with the session."""
        t_s = self._now_s()
        self.warnings.append((t_s, kind, sentence))
        if self.writer is not None:
            self.writer.add_event(t_s, "host", "warning", kind, sentence)
        self._emit(E.Notice(title, sentence, "warning", kind))

    def _check_clock(self, t_us, rx, lost):
        stated = None
        if self.link is not None:
            st = self.link.status
            info = self.link.info
            if st is not None and st.rate_hz:
                stated = st.rate_hz
            elif info is not None:
                stated = info.rate_hz
        elif self.device_info is not None:
            stated = getattr(self.device_info, "rate_hz", None)
        report = self.clock_check.add(t_us, rx, max(0, lost), stated)
        if report is None or not report.problems:
            return
        key = tuple(p.split(" ")[2] for p in report.problems)
        if key in self._clock_warned:
            return
        self._clock_warned.add(key)
        self._warn("clock", "The dowel's timing does not add up: %s." % "; ".join(report.problems),
                   title="Dowel clock")

    # ------------------------------------------------------------------ gaps

    def _lost_count(self):
        if self.link is None:
            return 0
        return self.link.stats().lost_frames - self._lost_base

    def _unknown_count(self):
        if self.link is None:
            return 0
        return self.link.stats().unknown_loss

    def _on_break(self, b, rx, lost_now):
        """The device time line was not followed at sample b.index of the batch."""
        if self._outage is not None or b.cause in (NEW_RUN, RESYNC):
            # an open gap: its first sample closes it. A RESYNC nobody asked for came with the
            # link's "resync" event, which opened a gap; any other answers our START/SET_RATE
            return
        start_mono = self.clock.last_rx if self.clock.last_rx is not None else (rx or 0.0)
        if b.cause == CLOCK_BACK:
            cause, reason = CLOCK, "the dowel's clock went backwards"
        else:
            cause, reason = CLOCK, "the dowel's clock jumped"
        self._outage = _Outage(cause, reason, b.start_us, start_mono, lost_now,
                               self._unknown_seen, restarted=cause == RESTARTED)

    def _open_outage(self, cause, reason, now):
        """A stretch without samples begins (or an open one learns its real cause)."""
        o = self._outage
        if o is not None:
            if cause in (UNPLUGGED, RESTARTED) and o.cause in (NO_DATA, NO_VALID_DATA):
                o.cause, o.reason = cause, reason
            return o
        start_us = self.clock.last_t_us
        start_mono = self._last_valid_mono
        if start_mono is None:
            start_mono = self._began_mono if self._began_mono is not None else now
        self._outage = o = _Outage(cause, reason, 0 if start_us is None else start_us,
                                   start_mono, self._lost_count(), self._unknown_count())
        self.clock.new_run()
        return o

    def _close_outage(self, end_us, lost_now):
        o, self._outage = self._outage, None
        if o.restarted or self._unknown_count() > o.unknown_base:
            lost = None  # the dowel restarted inside it: its sequence numbers say nothing
        elif o.lost is not None:
            lost = o.lost
        else:
            lost = max(0, lost_now - o.lost_base)
        end_us = max(end_us, o.start_us)
        self._store_gap(o.start_us, end_us, lost, o.cause, o.reason)
        lost_text = "frames lost unknown" if lost is None else "%d frames lost" % lost
        self._emit(E.Notice("Data again", "Samples again after %.1f s: %s (%s)."
                            % ((end_us - o.start_us) / 1e6, o.reason, lost_text),
                            "information", "gap"))

    def _end_outage_at_close(self):
        o, self._outage = self._outage, None
        end_us = o.start_us + int(max(0.0, time.monotonic() - o.start_mono) * 1e6)
        if o.restarted or self._unknown_count() > o.unknown_base:
            lost = None
        else:
            lost = o.lost if o.lost is not None else max(0, self._lost_count() - o.lost_base)
        self._store_gap(o.start_us, end_us, lost, o.cause, o.reason)

    def _store_gap(self, start_us, end_us, lost, cause, reason):
        self.gaps.append([start_us / 1e6, end_us / 1e6, lost, cause, reason])
        self._last_gap_mono = time.monotonic()
        if self.writer is not None:
            self.writer.add_gap(start_s=start_us / 1e6, end_s=end_us / 1e6, lost_frames=lost,
                                reason=reason, cause=cause, lost_known=lost is not None)

    def _on_restart(self, message):
        """The link says the dowel restarted (a new boot id; for a 1.0 dowel, its uptime or
        stream began again). Whatever gap it made, its lost frames are unknown."""
        self._warn_kept("restart", message)
        o = self._outage
        if o is not None:
            o.cause, o.reason, o.restarted = RESTARTED, message, True
            return
        last = self._last_gap_mono
        if self.gaps and last is not None and time.monotonic() - last <= RESTART_CONFIRM_S:
            # the gap its first samples already closed (a RESYNC): now we know why
            g = self.gaps[-1]
            g[2], g[3], g[4] = None, RESTARTED, message
            if self.writer is not None:
                self.writer.amend_last_gap(cause=RESTARTED, reason=message, lost_known=False)
            return
        o = self._open_outage(RESTARTED, message, time.monotonic())
        o.restarted = True

    def _warn_kept(self, kind, message):
        t_s = self._now_s()
        self.warnings.append((t_s, kind, message))
        if self.writer is not None:
            self.writer.add_event(t_s, "host", "warning", kind, message)

    def _watch(self, now):
        """No usable sample for NO_DATA_S while the dowel should stream: a gap."""
        link = self.link
        if link is None or self._outage is not None or self._closed:
            return
        if link.state != "connected" or not self._streaming_wanted():
            return
        last = self._last_valid_mono if self._last_valid_mono is not None else self._began_mono
        if last is None or now - last <= NO_DATA_S:
            return
        text = rejected_text(_counters(link.stats()), self._valid_counters)
        if text:
            self._open_outage(NO_VALID_DATA, "no valid data: " + text, now)
            self._emit(E.Notice("NO VALID DATA", "No valid data from the dowel for %.1f s: %s."
                                % (now - last, text), "error", "gap"))
        else:
            self._open_outage(NO_DATA, "no data from the dowel", now)
            self._emit(E.Notice("NO DATA", "No data from the dowel for %.1f s." % (now - last),
                                "warning", "gap"))
        self._publish_status()

    def _streaming_wanted(self):
        link = self.link
        want = getattr(link, "_want_streaming", None)
        if want is None:
            info = link.info
            return info is not None and info.streaming
        return bool(want)

    # ------------------------------------------------------------------ link events

    def on_link_event(self, event):
        """A link.LinkEvent: unplugs and reconnects become gaps; warnings are told."""
        refused = None
        with self._lock:
            if event.kind == "state" and event.state == "reconnecting":
                self._open_outage(UNPLUGGED, event.message, time.monotonic())
            elif event.kind == "gap" and event.gap is not None:
                o = self._open_outage(UNPLUGGED, event.gap.reason, time.monotonic())
                o.lost = event.gap.lost_frames
                if event.gap.device_restarted:
                    o.restarted = True
            elif event.kind == "restart":
                self._on_restart(event.message)
            elif event.kind == "resync":
                o = self._open_outage(RESTARTED, event.message, time.monotonic())
                o.restarted = True
            elif event.kind == "refused":
                why = self.link.stats().refused if self.link is not None else event.message
                if why != self._refused_shown:
                    self._refused_shown = why
                    self._warn_kept("refused", event.message)
                    refused = event.message
            elif event.kind == "streaming":
                self._refused_shown = None
        if event.kind == "gap":
            self._emit(E.Notice("Reconnected", event.message, "information", "gap"))
        elif event.kind == "restart":
            self._emit(E.Notice("Dowel restarted", event.message, "warning", "restart"))
        elif event.kind == "refused":
            if refused is not None:
                self._emit(E.Notice("Dowel refused START", refused, "warning", "refused"))
        elif event.kind == "streaming":
            self._emit(E.Notice("Dowel streaming", event.message, "information", "refused"))
        elif event.kind == "error":
            self._emit(E.Notice("Serial link", event.message, "error", "link"))
        elif event.kind == "warning":
            self._emit(E.Notice("Serial link", event.message, "warning", "link"))
        self._publish_status(event.message)

    def update_status(self, status):
        with self._lock:
            self._status = status
        self._emit(E.StatusChanged(status))

    def _publish_status(self, message=""):
        link = self.link
        if link is None:
            return
        status = LinkStatus.from_stats(link.stats(), self.source, message)
        with self._lock:
            o = self._outage
            if o is not None and o.cause == NO_VALID_DATA:
                text = rejected_text(_counters(link.stats()), self._valid_counters)
                status = replace(status, no_valid_data=True, rejected=text or o.reason,
                                 sample_rate_hz=0.0)
        self.update_status(status)

    @property
    def status(self):
        return self._status

    # ------------------------------------------------------------------ clinician (UI thread)

    def start_set(self):
        """Start the next set (ending a running one); returns its number."""
        with self._lock:
            self._end_set_locked("stopped")
            self.feedback.start_set(self.target_reps)
            if self.writer is not None:
                self._set_number = self.writer.start_set(
                    self.target_depth_deg, self.target_reps,
                    feedback_schedule=self.feedback.schedule)
            else:
                self._set_number += 1
            self._set_running = True
            self._group = "set"
            self._rows = deque(maxlen=ROWS_KEPT)
            self._rows_shown = None  # tuple(self._rows) once asked for
            self._group_reps = 0
            self.pipeline.new_set()
            n = self._set_number
        self.publish()
        return n

    def stop_set(self):
        """End the running set; False when none was running."""
        with self._lock:
            ended = self._end_set_locked("stopped")
        self.publish()
        return ended

    def _end_set_locked(self, reason):
        if not self._set_running:
            return False
        self._set_running = False
        self.feedback.end_set()
        if self.writer is not None:
            self.writer.end_set()
        self._emit(E.SetFinished(self._set_number, self._group_reps, self.target_reps, reason,
                                 tuple(self._rows), self.feedback.schedule))
        return True

    def calibrate_upright(self):
        """Take the current pose as upright (0 degrees)."""
        with self._lock:
            self.pipeline.calibrate_upright()
            self._save_calibration()
        self.publish()

    def zero_contacts(self):
        """Take the current pad readings as no load (the dowel held off the back)."""
        with self._lock:
            self.pipeline.zero_contacts()
            self._update_turn_counts()  # the pads' thresholds in counts moved with the zero
            self._save_calibration()
        self.publish()

    def _save_calibration(self):
        # queued on the session writer, which retries a failed commit (a full disk) and
        # reports it through on_error, instead of raising into the UI or the reader thread
        if self.writer is not None:
            self.writer.set_calibration(self.calibration.to_dict())

    def set_target_depth(self, deg):
        deg = min(MAX_TARGET_DEPTH_DEG, max(MIN_TARGET_DEPTH_DEG, float(deg)))
        with self._lock:
            self.target_depth_deg = deg
            self.pipeline.set_target_depth(deg)
        self.publish()
        return deg

    def set_feedback_schedule(self, schedule):
        """The feedback schedule of the next set (and at once when no set runs); returns
        whether it waits for the next set."""
        with self._lock:
            self.feedback.choose(schedule)
            waits = self.feedback.in_set and self.feedback.schedule != schedule
        self.publish()
        return waits

    def set_target_reps(self, n):
        n = min(MAX_TARGET_REPS, max(1, int(n)))
        with self._lock:
            self.target_reps = n
        self.publish()
        return n

    # ------------------------------------------------------------------ out

    @property
    def reps(self):
        """Every rep completed in this session (the pipeline's Rep objects)."""
        return self.pipeline.reps

    @property
    def total_reps(self):
        return self._total_reps

    def snapshot(self):
        with self._lock:
            # the trace and the rows change far less often than a batch comes: their
            # tuples are kept until they do
            trace = self._trace_shown
            if trace is None:
                trace = self._trace_shown = tuple(self._trace)
            rows = self._rows_shown
            if rows is None:
                rows = self._rows_shown = tuple(self._rows)
            st = self.pipeline.state
            contacts = tuple(
                Contact(c, bool(cs.on), float(cs.pressure_n),
                        bool(getattr(cs, "raw_on", cs.on)))  # raw_on: the lead's pipeline
                for c, cs in ((c, st.contacts[c]) for c in CONTACTS)
            )
            fault = st.fault
            return Snapshot(
                t_s=float(st.t_s),
                hinge_deg=None if st.hinge_deg is None else float(st.hinge_deg),
                contacts=contacts,
                has_data=self.samples > 0,
                phase=st.phase,
                upright=bool(st.upright),
                fault_id=fault.id if (fault is not None and st.cue) else None,
                cue=st.cue,
                last_rep_good=self._last_rep_good,
                trace=trace,
                target_depth_deg=self.target_depth_deg,
                target_reps=self.target_reps,
                group=self._group,
                set_number=self._set_number,
                set_running=self._set_running,
                rows=rows,
                total_reps=self._total_reps,
                patient=self.patient,
                session_id=self.writer.id if self.writer is not None else None,
                saving=self.writer is not None,
                seq=self._seq,
                t_us=self._t_us,
                samples=self.samples,
                feedback_schedule=self.feedback.schedule,
                feedback_next=self.feedback.next_schedule,
                feedback_live=self.feedback.live,
            )

    def publish(self):
        if self.snapshots:
            self._emit(E.SnapshotChanged(self.snapshot()))
