"""`dowel record --port PORT --patient NAME [--duration S] [--out FILE]`: a headless session.

The dowel's stream goes through the same link, pipeline and store as a session run from the
TUI: one set from start to end, reps and faults found live, every sample stored, reconnect
gaps marked. With --out the raw wire bytes also go to a recording file. Ctrl-C (or SIGTERM)
ends the session cleanly.
"""

from __future__ import annotations

import queue
import signal
import sys
import threading
import time

from .. import __version__
from ..errors import StoreError
from ..private import check_target
from .db import Store

PROGRESS_EVERY_S = 10.0


def pipeline_version():
    from .. import pipeline

    return "smart-dowel %s" % getattr(pipeline, "__version__", __version__)


class Recorder:
    """Glue between a SerialLink's callbacks (reader thread) and the store and pipeline
    (the recording thread): batches and events pass through one queue, in stream order."""

    def __init__(self, session, pipe, recording=None, out=sys.stdout, err=sys.stderr):
        self.session = session
        self.pipe = pipe
        self.recording = recording
        self.out = out
        self.err = err
        self.queue = queue.Queue()
        self.samples = 0
        self.reps = 0
        self.gaps = 0
        self._store_error_shown = None

    # called on the link's reader thread: hand over, nothing else
    def on_batch(self, batch):
        self.queue.put(("batch", batch))

    def on_event(self, event):
        self.queue.put(("event", event))

    def on_store_error(self, error):
        self.queue.put(("store_error", error))

    def drain(self, timeout_s):
        """Handle what arrived, waiting up to timeout_s for the first item."""
        try:
            item = self.queue.get(timeout=timeout_s)
        except queue.Empty:
            return
        while True:
            self._handle(*item)
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                return

    def _handle(self, kind, item):
        if kind == "batch":
            if self.recording is not None:
                self._to_file(self.recording.write, item.raw)
            records = self.session.add_batch(item)
            self.samples += len(records)
            if len(records):
                self._push(records)
        elif kind == "event":
            self._event(item)
        elif kind == "store_error":
            self._store_error(item)

    def _to_file(self, write, *args):
        """Write to the --out recording; a failing file (a full disk) is closed and reported
        once, and the session goes on: the database keeps every sample."""
        try:
            write(*args)
        except OSError as e:
            rec, self.recording = self.recording, None
            print("dowel record: Output file: writing %s stopped (%s); the session goes on and "
                  "every sample is still saved in the database" % (rec.path, e.strerror or e),
                  file=self.err, flush=True)
            try:
                rec.close()
            except OSError:
                pass  # the file has already been reported as stopped

    def flush_file(self):
        if self.recording is not None:
            self._to_file(self.recording.flush)

    def _push(self, records):
        from ..pipeline import RepCompleted, UprightCaptured
        from .replay import to_samples

        for ev in self.pipe.push(to_samples(records, self.pipe.calibration)):
            if isinstance(ev, RepCompleted):
                self.reps += 1
                self.session.add_rep(ev.rep)
                rep = ev.rep
                faults = ", ".join(f.id for f in rep.faults) or "no faults"
                print("rep %d: depth %.0f°, down %.1f s, up %.1f s, %s" % (
                    self.reps, rep.depth_deg, rep.descent_s, rep.ascent_s, faults),
                    file=self.out, flush=True)
            elif isinstance(ev, UprightCaptured):
                self.session.set_calibration(self.pipe.calibration)

    def _event(self, ev):
        if ev.kind == "gap" and ev.gap is not None:
            self.gaps += 1
            self.session.add_gap(ev.gap)
            print("link: %s" % ev.message, file=self.err, flush=True)
        elif ev.kind in ("state", "error", "warning"):
            print("link: %s" % ev.message, file=self.err, flush=True)

    def _store_error(self, error):
        # the writer keeps the samples in memory and retries; say so once per distinct problem
        text = str(error)
        if text != self._store_error_shown:
            self._store_error_shown = text
            print("dowel record: %s: %s (the samples are kept in memory and saving is retried)"
                  % (error.title, text), file=self.err, flush=True)


def run(args):
    from ..link import SerialLink
    from ..pipeline import Pipeline, PipelineConfig

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    if args.out:
        check_target(args.out, getattr(args, "force", False))  # before a session is started
    old_term = signal.signal(signal.SIGTERM, on_signal)
    store = Store.open()
    recording = None
    link = None
    session = None
    try:
        config = PipelineConfig()
        pipe = Pipeline(config)
        recorder = Recorder(None, pipe)
        link = SerialLink(args.port, on_batch=recorder.on_batch, on_event=recorder.on_event)
        info = link.connect()
        if args.out:  # before the session, so a file that cannot be created stores nothing
            recording = open_recording(args.out, info, args.port, pipe.calibration,
                                       force=getattr(args, "force", False))
            recorder.recording = recording
        session = store.start_session(
            args.patient, info, source="dowel", port=args.port,
            calibration=pipe.calibration.to_dict(), pipeline_version=pipeline_version(),
            on_error=recorder.on_store_error,
        )
        recorder.session = session
        session.start_set(target_depth_deg=config.target_depth_deg)
        print("recording session %d for %s from %s%s; Ctrl-C ends it" % (
            session.id, args.patient or "an unassigned patient", args.port,
            " for %.0f s" % args.duration if args.duration else ""), file=sys.stderr, flush=True)
        print("SESSION %d" % session.id, flush=True)
        t_end = None if args.duration is None else time.monotonic() + args.duration
        next_progress = time.monotonic() + PROGRESS_EVERY_S
        next_file_flush = time.monotonic() + 1.0
        try:
            while not stop.is_set():
                now = time.monotonic()
                if t_end is not None and now >= t_end:
                    break
                wait = 0.1 if t_end is None else max(0.0, min(0.1, t_end - now))
                recorder.drain(wait)
                if time.monotonic() >= next_file_flush:
                    next_file_flush = time.monotonic() + 1.0
                    recorder.flush_file()
                if time.monotonic() >= next_progress:
                    next_progress += PROGRESS_EVERY_S
                    print("%d samples, %d reps, %d committed" % (
                        recorder.samples, recorder.reps, session.committed_samples),
                        file=sys.stderr, flush=True)
        except KeyboardInterrupt:
            pass  # Ctrl-C is how a headless recording is ended: save it below
        link.close()
        link = None
        recorder.drain(0.0)  # what the reader handed over before it stopped
        session.close()
        print("session %d stored: %d samples, %d reps, %d gap(s)" % (
            session.id, session.committed_samples, recorder.reps, recorder.gaps),
            file=sys.stderr, flush=True)
        return 0
    finally:
        signal.signal(signal.SIGTERM, old_term)
        if link is not None:
            link.close(stop_streaming=False)
        if recording is not None:
            recorder.flush_file()  # a full disk is reported once, not raised
            if recorder.recording is not None:
                recorder.recording.close()
        if session is not None and not session._closed:
            _close_quietly(session)
        store.close()


def _close_quietly(session):
    """After a failure elsewhere: save what can be saved; a store error is reported, not
    raised over the original one."""
    try:
        session.close()
    except StoreError as e:
        print("dowel record: %s: %s" % (e.title, e), file=sys.stderr)


def open_recording(path, info, port, calibration=None, force=False):
    """The recording file for --out (smart_dowel.recording; the writer creates it 0600 like
    all patient data)."""
    import dataclasses

    from .. import recording

    device = dataclasses.asdict(info) if dataclasses.is_dataclass(info) else dict(info or {})
    meta = {"device": device, "port": port}
    if calibration is not None:
        meta["calibration"] = calibration
    try:
        return recording.RecordingWriter(path, meta, force=force)
    except OSError as e:
        raise StoreError("cannot write the recording %s (%s)" % (path, e.strerror or e)) from e
