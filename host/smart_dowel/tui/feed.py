"""The clinic screen's front end of a live session: what the LiveSession emits leaves as posted
Textual messages (never a redraw), and the screen's keys call the session.

All the work (the link's callbacks, session time, pipeline, store, gaps, restarts, TEXT) is the
LiveSession's (smart_dowel.live), shared with `dowel record`; this module only translates, and
paces the live picture: a batch comes every 10-15 ms at 100 Hz, the eye needs far fewer
frames, and every message wakes the screen. A snapshot goes out at once when something the
patient or the clinician acts on changed (a contact lost or back, a cue, a rep, a set), else
with the first batch once the next frame is due (its data fresh; frames are due every FRAME_S),
or by a small pacer thread a little later if no batch comes (the stream stopped, a replay
ended).
"""

from __future__ import annotations

import threading
import time

from ..live import events as E
from ..live.session import (  # noqa: F401  (re-exported for the screen and its tests)
    MAX_TARGET_DEPTH_DEG,
    MAX_TARGET_REPS,
    MIN_TARGET_DEPTH_DEG,
    ROWS_KEPT,
    LiveSession,
    rep_row,
)
from . import messages as M
from .state import DEFAULT_TARGET_DEPTH_DEG, DEFAULT_TARGET_REPS

# The live picture's frame interval when only the forces and the angle move: a frame is due
# every FRAME_S and goes with the first batch once it is, so frames come about 15 times a
# second whatever the batches' rhythm (the bars and the trace move smoothly; a change the
# patient or the clinician acts on goes at once, see _offer). At 20 a second the screen cost
# 10-13% of a core at 100 Hz, at 15 (with the sources' 20 ms batches) 8.8-9.2%
# (bench/latency_bench.py --cpu), every sample on screen p95 59 -> 79 ms. Two frames are
# never closer than FRAME_MIN_S, the screen's redraw cap (app.REDRAW_INTERVAL_S: a frame
# sooner than that waits there for a timer). A change shown at once starts the count again.
# PACER_WAIT_S: how long past a due frame the pacer waits for a batch before it posts the
# newest snapshot itself.
FRAME_S = 0.0667
FRAME_MIN_S = 0.04
PACER_WAIT_S = 0.025


def shown_at_once(snap):
    """What in a snapshot goes to the screen (and the sound) the moment it changes: the
    contacts on or lost, the cue, the phase, reps, sets, targets, patient and schedule. The
    forces, the angle and the trace wait for the next frame."""
    return (snap.lost, snap.has_data, snap.feedback_live, snap.fault_id, snap.cue, snap.phase,
            snap.upright, snap.last_rep_good, len(snap.rows), snap.group, snap.set_number,
            snap.set_running, snap.target_depth_deg, snap.target_reps, snap.patient,
            snap.session_id, snap.saving, snap.feedback_schedule, snap.feedback_next)


def _delegate(name, settable=True):
    """A property reading (and setting) the LiveSession's attribute `name`."""

    def get(self):
        return getattr(self.live, name)

    def put(self, value):
        setattr(self.live, name, value)

    return property(get, put if settable else None)


class Feed:
    """A LiveSession whose events are posted to the app.

    post: a thread-safe callable taking a Textual message (App.post_message).
    store: a store.Store or None (then nothing is saved, and the snapshot says so).
    frame_s: the frame interval of snapshots that differ only in what moves (forces, angle,
    trace); 0 posts every one.
    """

    def __init__(self, post, *, store=None, patient=None, source="dowel",
                 target_depth_deg=DEFAULT_TARGET_DEPTH_DEG, target_reps=DEFAULT_TARGET_REPS,
                 config=None, feedback="every", frame_s=FRAME_S):
        self._post = post
        self.frame_s = frame_s
        self._pace = threading.Condition()
        self._held = None  # the newest snapshot not posted yet
        self._posted_key = None  # shown_at_once() of the last snapshot posted
        self._next_post = 0.0  # monotonic time from which the next one may go
        self._pacer = None
        self._closed = False
        self.live = LiveSession(self._on_event, store=store, patient=patient, source=source,
                                target_depth_deg=target_depth_deg, target_reps=target_reps,
                                config=config, pipeline_version=_pipeline_version(),
                                feedback=feedback)

    def _on_event(self, ev):
        if isinstance(ev, E.SnapshotChanged):
            self._offer(ev.snapshot)
        elif isinstance(ev, E.StatusChanged):
            self._post(M.LinkStatusUpdated(ev.status))
        elif isinstance(ev, E.RepCounted):
            self._post(M.RepCounted(ev.rep, ev.number, ev.set_number, ev.in_set))
        elif isinstance(ev, E.SetFinished):
            self._post(M.SetFinished(ev.set_number, ev.reps, ev.target_reps, ev.reason,
                                     ev.rows, ev.feedback_schedule))
        elif isinstance(ev, E.Notice):
            self._post(M.LinkNotice(ev.title, ev.text, ev.severity))

    def _offer(self, snap):
        """Post `snap` now if it changes what is shown at once or a frame is due, else hold
        it for the pacer (a newer one replaces it)."""
        key = shown_at_once(snap)
        with self._pace:
            now = time.monotonic()
            if key != self._posted_key or now >= self._next_post:
                self._held = None
                self._send(snap, key, now)
                return
            if self._held is None:
                self._pace.notify()  # the pacer waits for something to hold
            self._held = snap
            if self._pacer is None and not self._closed:
                self._pacer = threading.Thread(target=self._run_pacer, daemon=True,
                                               name="dowel-screen-pacer")
                self._pacer.start()

    def _send(self, snap, key, now):
        # under self._pace: posts keep the order of the snapshots
        if key == self._posted_key and now < self._next_post + self.frame_s:
            # a frame that was due: the next one is due a frame after this one was, not after
            # this batch came (which is up to a batch later)
            self._next_post = max(self._next_post + self.frame_s,
                                  now + min(self.frame_s, FRAME_MIN_S))
        else:  # a change shown at once, or the first frame after a pause
            self._next_post = now + self.frame_s
        self._posted_key = key
        self._post(M.SnapshotUpdated(snap))

    def _run_pacer(self):
        """Post the held snapshot when no batch came for PACER_WAIT_S past its frame (the
        stream stopped, a replay ended)."""
        with self._pace:
            while not self._closed:
                if self._held is None:
                    self._pace.wait()
                    continue
                now = time.monotonic()
                due = self._next_post + PACER_WAIT_S
                if now < due:
                    self._pace.wait(due - now)
                    continue
                snap, self._held = self._held, None
                self._send(snap, shown_at_once(snap), now)

    # what the screen reads and sets: the session's own attributes
    store = _delegate("store")
    patient = _delegate("patient")
    pipeline = _delegate("pipeline", settable=False)
    calibration = _delegate("calibration", settable=False)
    writer = _delegate("writer", settable=False)
    target_depth_deg = _delegate("target_depth_deg", settable=False)
    target_reps = _delegate("target_reps", settable=False)
    feedback = _delegate("feedback", settable=False)

    # the session and its data
    def begin_session(self, device_info=None, port=None):
        self.live.begin_session(device_info, port)

    def on_batch(self, batch):
        self.live.on_batch(batch)

    def on_samples(self, samples, t_us=None):
        self.live.on_samples(samples, t_us)

    def update_status(self, status):
        self.live.update_status(status)

    def close(self):
        try:
            self.live.close()
        finally:
            with self._pace:
                self._closed = True
                self._pace.notify()

    # the clinician's keys
    def set_patient(self, name):
        self.live.set_patient(name)

    def start_set(self):
        return self.live.start_set()

    def stop_set(self):
        return self.live.stop_set()

    def calibrate_upright(self):
        self.live.calibrate_upright()

    def zero_contacts(self):
        self.live.zero_contacts()

    def set_target_depth(self, deg):
        return self.live.set_target_depth(deg)

    def set_target_reps(self, n):
        return self.live.set_target_reps(n)

    def set_feedback_schedule(self, schedule):
        return self.live.set_feedback_schedule(schedule)

    def snapshot(self):
        return self.live.snapshot()

    def publish(self):
        self.live.publish()


def _pipeline_version():
    from .. import __version__, pipeline

    return "smart-dowel %s" % getattr(pipeline, "__version__", __version__)
