"""The clinic screen's front end of a live session: what the LiveSession emits leaves as posted
Textual messages (never a redraw), and the screen's keys call the session.

All the work (the link's callbacks, session time, pipeline, store, gaps, restarts, TEXT) is the
LiveSession's (smart_dowel.live), shared with `dowel record`; this module only translates.
"""

from __future__ import annotations

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
    """

    def __init__(self, post, *, store=None, patient=None, source="dowel",
                 target_depth_deg=DEFAULT_TARGET_DEPTH_DEG, target_reps=DEFAULT_TARGET_REPS,
                 config=None, feedback="every"):
        self._post = post
        self.live = LiveSession(self._on_event, store=store, patient=patient, source=source,
                                target_depth_deg=target_depth_deg, target_reps=target_reps,
                                config=config, pipeline_version=_pipeline_version(),
                                feedback=feedback)

    def _on_event(self, ev):
        if isinstance(ev, E.SnapshotChanged):
            self._post(M.SnapshotUpdated(ev.snapshot))
        elif isinstance(ev, E.StatusChanged):
            self._post(M.LinkStatusUpdated(ev.status))
        elif isinstance(ev, E.RepCounted):
            self._post(M.RepCounted(ev.rep, ev.number, ev.set_number, ev.in_set))
        elif isinstance(ev, E.SetFinished):
            self._post(M.SetFinished(ev.set_number, ev.reps, ev.target_reps, ev.reason,
                                     ev.rows, ev.feedback_schedule))
        elif isinstance(ev, E.Notice):
            self._post(M.LinkNotice(ev.title, ev.text, ev.severity))

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
        self.live.close()

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
