"""The glue between the data and the screen: link batches into the pipeline and the store, and
the clinician's set bookkeeping; every change leaves as a posted message (never a redraw).

A Feed is driven from two threads: the link's reader thread (`on_batch`, `on_link_event`) and
the UI thread (the clinician's commands). One lock keeps them in order; nothing under it waits
on I/O except the rare session switch. It imports no Textual widget: it only posts messages.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import replace


from ..pipeline import (
    CONTACTS,
    Calibration,
    FaultRaised,
    Pipeline,
    PipelineConfig,
    RepCompleted,
    UprightCaptured,
)
from . import messages as M
from .state import (
    DEFAULT_TARGET_DEPTH_DEG,
    DEFAULT_TARGET_REPS,
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


def rep_row(number, rep):
    return RepRow(number, float(rep.depth_deg), float(rep.descent_s), float(rep.ascent_s),
                  tuple(rep.fault_ids))


# the screen's rep table shows the latest reps only: a set has at most 50, and practice reps
# outside a set go on without end, so older rows are not kept
ROWS_KEPT = 50


class Feed:
    """Turns link batches into Snapshots and store writes; holds the set state.

    post: a thread-safe callable taking a Textual message (App.post_message).
    store: a store.Store or None (then nothing is saved, and the snapshot says so).
    """

    def __init__(self, post, *, store=None, patient=None, source="dowel",
                 target_depth_deg=DEFAULT_TARGET_DEPTH_DEG, target_reps=DEFAULT_TARGET_REPS,
                 config=None):
        self._post = post
        self._lock = threading.RLock()
        self.store = store
        self.patient = patient or ""
        self.source = source
        self.calibration = Calibration()
        cfg = config or PipelineConfig()
        cfg = replace(cfg, target_depth_deg=float(target_depth_deg))
        self.pipeline = Pipeline(cfg, self.calibration)
        self.target_depth_deg = float(target_depth_deg)
        self.target_reps = int(target_reps)
        self.writer = None
        self.device_info = None
        self.port = None
        self._set_number = 0
        self._set_running = False
        self._group = "practice"
        self._rows = deque(maxlen=ROWS_KEPT)
        self._group_reps = 0
        self._total_reps = 0
        self._last_rep_good = False
        self._trace = deque(maxlen=int(TRACE_S * TRACE_HZ))
        self._trace_next_t = None
        self._seq = None
        self._t_us = None
        self._samples = 0
        self._status = LinkStatus(source=source)
        self._upright_refined_unsaved = False

    # ------------------------------------------------------------------ session

    def begin_session(self, device_info=None, port=None):
        """Start a stored session for the current patient (no-op without a store)."""
        with self._lock:
            self.device_info = device_info
            self.port = port
            self._open_writer()
        self.publish()

    def _open_writer(self):
        if self.store is None:
            return
        self.writer = self.store.start_session(
            self.patient or None, self.device_info, source=self.source, port=self.port,
            calibration=self.calibration.to_dict(), on_error=self._on_store_error,
        )

    def _on_store_error(self, error):
        self._post(M.LinkNotice(error.title, str(error), "error"))

    def set_patient(self, name):
        """Switch to another patient: the open set ends and a new session starts."""
        with self._lock:
            self._end_set_locked("stopped")
            old, self.writer = self.writer, None
            self.patient = name
            self._rows = deque(maxlen=ROWS_KEPT)
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

    def close(self):
        """End the open set and close the session (flushing it to disk)."""
        with self._lock:
            self._end_set_locked("stopped")
            w, self.writer = self.writer, None
        if w is not None:
            w.close()

    # ------------------------------------------------------------------ data in (reader thread)

    def on_batch(self, batch):
        """A link.LinkBatch: store its samples, run the pipeline, post the new picture."""
        msgs = batch.samples()
        if not msgs:
            return
        with self._lock:
            if self.writer is not None:
                records = self.writer.add_batch(batch)
                from ..store.replay import to_samples

                events = self.pipeline.push(to_samples(records, self.calibration))
            else:
                events = self.pipeline.push_messages(msgs)
            last = msgs[-1]
            self._seq, self._t_us = last.seq, last.values[0]
            self._samples += len(msgs)
            self._after_push(events)
        self.publish()

    def on_samples(self, samples, t_us=None):
        """Samples from a replay (already in session time): pipeline only, nothing stored."""
        with self._lock:
            events = self.pipeline.push(samples)
            self._samples += len(samples)
            self._t_us = t_us
            self._after_push(events)
        self.publish()

    def _after_push(self, events):
        st = self.pipeline.state
        self._add_trace(st.t_s, st.hinge_deg)
        for ev in events:
            if isinstance(ev, RepCompleted):
                if self._upright_refined_unsaved:
                    # the pose kept being averaged over the still spell it was taken in
                    self._upright_refined_unsaved = False
                    self._save_calibration()
                self._on_rep(ev.rep)
            elif isinstance(ev, FaultRaised):
                self._last_rep_good = False
            elif isinstance(ev, UprightCaptured):
                self._save_calibration()  # taken automatically: keep it with the session
                self._upright_refined_unsaved = True

    def _add_trace(self, t_s, hinge_deg):
        if self._trace_next_t is not None and t_s < self._trace_next_t:
            return
        if self._trace_next_t is None or t_s - self._trace_next_t > 1.0:
            self._trace_next_t = t_s
        self._trace_next_t += 1.0 / TRACE_HZ
        self._trace.append(None if hinge_deg is None else float(hinge_deg))

    def _on_rep(self, rep):
        self._total_reps += 1
        self._last_rep_good = not rep.faults
        if self.writer is not None:
            self.writer.add_rep(rep)
        if not self._set_running and self._group == "set":
            self._group = "practice"  # a rep after a finished set starts a practice group
            self._rows = deque(maxlen=ROWS_KEPT)
            self._group_reps = 0
        self._group_reps += 1
        number = self._group_reps
        self._rows.append(rep_row(number, rep))
        self._post(M.RepCounted(rep, number, self._set_number, self._set_running))
        if self._set_running and number >= self.target_reps:
            self._end_set_locked("target")

    def on_link_event(self, event, stats=None):
        """A link.LinkEvent: update the status line; gaps are stored and announced."""
        if event.kind == "gap" and event.gap is not None:
            with self._lock:
                if self.writer is not None:
                    self.writer.add_gap(event.gap)
            self._post(M.LinkNotice("Reconnected", event.message, "information"))
        elif event.kind == "error":
            self._post(M.LinkNotice("Serial link", event.message, "error"))
        elif event.kind == "warning":
            self._post(M.LinkNotice("Serial link", event.message, "warning"))
        if stats is not None:
            self.update_status(LinkStatus.from_stats(stats, self.source, event.message))

    def update_status(self, status):
        with self._lock:
            self._status = status
        self._post(M.LinkStatusUpdated(status))

    # ------------------------------------------------------------------ clinician (UI thread)

    def start_set(self):
        """Start the next set (ending a running one); returns its number."""
        with self._lock:
            self._end_set_locked("stopped")
            if self.writer is not None:
                self._set_number = self.writer.start_set(self.target_depth_deg, self.target_reps)
            else:
                self._set_number += 1
            self._set_running = True
            self._group = "set"
            self._rows = deque(maxlen=ROWS_KEPT)
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
        if self.writer is not None:
            self.writer.end_set()
        self._post(M.SetFinished(self._set_number, self._group_reps, self.target_reps, reason))
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

    def set_target_reps(self, n):
        n = min(MAX_TARGET_REPS, max(1, int(n)))
        with self._lock:
            self.target_reps = n
        self.publish()
        return n

    # ------------------------------------------------------------------ out

    def snapshot(self):
        with self._lock:
            st = self.pipeline.state
            contacts = tuple(
                Contact(c, bool(st.contacts[c].on), float(st.contacts[c].pressure_n))
                for c in CONTACTS
            )
            fault = st.fault
            return Snapshot(
                t_s=float(st.t_s),
                hinge_deg=None if st.hinge_deg is None else float(st.hinge_deg),
                contacts=contacts,
                has_data=self._samples > 0,
                phase=st.phase,
                upright=bool(st.upright),
                fault_id=fault.id if (fault is not None and st.cue) else None,
                cue=st.cue,
                last_rep_good=self._last_rep_good,
                trace=tuple(self._trace),
                target_depth_deg=self.target_depth_deg,
                target_reps=self.target_reps,
                group=self._group,
                set_number=self._set_number,
                set_running=self._set_running,
                rows=tuple(self._rows),
                total_reps=self._total_reps,
                patient=self.patient,
                session_id=self.writer.id if self.writer is not None else None,
                saving=self.writer is not None,
                seq=self._seq,
                t_us=self._t_us,
                samples=self._samples,
            )

    def publish(self):
        self._post(M.SnapshotUpdated(self.snapshot()))



