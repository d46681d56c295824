"""`dowel record --port PORT --patient NAME [--duration S] [--out FILE]`: a headless session.

The dowel's stream goes through the same live session (smart_dowel.live) as a session run
from the TUI: one set from start to end, reps and faults found live, every sample stored, gaps
marked with their cause. With --out the raw wire bytes also go to a recording file. Ctrl-C,
SIGTERM or SIGHUP ends the session cleanly (the dowel is told STOP).
"""

from __future__ import annotations

import queue
import signal
import sys
import threading
import time

from .. import __version__
from ..errors import StoreError
from ..live import events as E
from ..live.state import BUSY_WARN
from ..private import check_target
from .db import Store, patient_from_args

PROGRESS_EVERY_S = 10.0


def pipeline_version():
    from .. import pipeline

    return "smart-dowel %s" % getattr(pipeline, "__version__", __version__)


class Recorder:
    """`dowel record`'s front end of a LiveSession: what the session emits on the link's reader
    thread is queued, and the recording thread prints it (reps on stdout, everything the
    clinician should know on stderr) and writes the raw bytes to the recording file."""

    def __init__(self, session=None, pipe=None, recording=None, out=sys.stdout, err=sys.stderr):
        self.warned_busy = False
        self.busy = (None, None)  # the firmware's busy share of a slot: mean, max
        self.session = session  # unused; kept for callers of the old signature
        self.recording = recording
        self.out = out
        self.err = err
        self.queue = queue.Queue()
        self.reps = 0
        self._store_error_shown = None

    # called on the link's reader thread: hand over, nothing else
    def emit(self, event):
        self.queue.put(("event", event))

    def raw(self, data):
        self.queue.put(("raw", data))

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
        if kind == "raw":
            if self.recording is not None:
                self._to_file(self.recording.write, item)
        elif kind == "store_error":
            self._store_error(item.title, str(item))
        elif isinstance(item, E.RepCounted):
            self.reps += 1
            rep = item.rep
            faults = ", ".join(f.id for f in rep.faults) or "no faults"
            print("rep %d: depth %.0f°, down %.1f s, up %.1f s, %s" % (
                self.reps, rep.depth_deg, rep.descent_s, rep.ascent_s, faults),
                file=self.out, flush=True)
        elif isinstance(item, E.Notice):
            if item.kind == "store":
                self._store_error(item.title, item.text)
            elif item.kind == "text":
                print("dowel: %s: %s" % (item.title, item.text), file=self.err, flush=True)
            else:
                print("link: %s" % item.text, file=self.err, flush=True)
        elif isinstance(item, E.StatusChanged):
            # the status line is the screen's; record says once when the board runs too hot
            st = item.status
            if st.overloaded and not self.warned_busy:
                self.warned_busy = True
                print("dowel record: the dowel's firmware was busy %.0f%% of a sample slot "
                      "(over %.0f%%): it may miss samples at this rate; lower it"
                      % (100 * st.busy_max, 100 * BUSY_WARN), file=self.err, flush=True)
            self.busy = (st.busy_mean, st.busy_max)

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

    def _store_error(self, title, text):
        # the writer keeps the samples in memory and retries; say so once per distinct problem
        if text != self._store_error_shown:
            self._store_error_shown = text
            print("dowel record: %s: %s (the samples are kept in memory and saving is retried)"
                  % (title, text), file=self.err, flush=True)


TICK_S = 0.5


def run(args):
    from ..live import LiveSession

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    if args.out:
        check_target(args.out, getattr(args, "force", False))  # before a session is started
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGHUP)}
    store = Store.open()
    try:
        patient = patient_from_args(args, store)
    except BaseException:
        store.close()
        for s, h in old.items():
            signal.signal(s, h)
        raise
    recording = None
    live = None
    recorder = Recorder()
    try:
        live = LiveSession(recorder.emit, store=store, patient=patient, source="dowel",
                           target_reps=None, pipeline_version=pipeline_version(),
                           snapshots=False, raw_sink=recorder.raw)
        info = live.connect(args.port)
        if args.out:  # before the session, so a file that cannot be created stores nothing
            recording = open_recording(args.out, info, args.port, live.calibration.to_dict(),
                                       force=getattr(args, "force", False))
            recorder.recording = recording
        live.begin_session(info, live.link.port)
        live.start_streaming()
        session = live.writer
        live.start_set()
        print("recording session %d for %s from %s%s; Ctrl-C ends it" % (
            session.id, patient or "an unassigned patient", args.port,
            " for %.0f s" % args.duration if args.duration else ""), file=sys.stderr, flush=True)
        print("SESSION %d" % session.id, flush=True)
        t_end = None if args.duration is None else time.monotonic() + args.duration
        next_progress = time.monotonic() + PROGRESS_EVERY_S
        next_tick = time.monotonic() + TICK_S
        next_file_flush = time.monotonic() + 1.0
        try:
            while not stop.is_set():
                now = time.monotonic()
                if t_end is not None and now >= t_end:
                    break
                wait = 0.1 if t_end is None else max(0.0, min(0.1, t_end - now))
                recorder.drain(wait)
                now = time.monotonic()
                if live.link_failure is not None:
                    raise live.link_failure
                if now >= next_tick:
                    next_tick = now + TICK_S
                    live.tick()
                if now >= next_file_flush:
                    next_file_flush = now + 1.0
                    recorder.flush_file()
                if now >= next_progress:
                    next_progress += PROGRESS_EVERY_S
                    print("%d samples, %d reps, %d committed%s" % (
                        live.samples, recorder.reps, session.committed_samples,
                        _busy_text(recorder.busy)), file=sys.stderr, flush=True)
        except KeyboardInterrupt:
            pass  # Ctrl-C is how a headless recording is ended: save it below
        live.close()  # the set ends, the dowel is told STOP, the session is saved
        recorder.drain(0.0)  # what the reader handed over before it stopped
        print("session %d stored: %d samples, %d reps, %d gap(s), %d frames lost%s" % (
            session.id, session.committed_samples, recorder.reps, len(live.gaps),
            live.lost_frames(), _busy_text(recorder.busy)), file=sys.stderr, flush=True)
        if live.samples == 0:
            rejected = live.rejected_since_begin()
            print("dowel record: No valid data: not one sample could be read from the dowel%s."
                  % (" (%s)" % rejected if rejected else ""), file=sys.stderr, flush=True)
            return 2
        return 0
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if live is not None:
            _close_quietly(live)
        if recording is not None:
            recorder.flush_file()  # a full disk is reported once, not raised
            if recorder.recording is not None:
                recorder.recording.close()
        store.close()


def _busy_text(busy):
    """', board busy 12% of a slot (34% at most)' from the firmware's STATUS, or ''."""
    mean, most = busy
    if mean is None:
        return ""
    return ", board busy %.0f%% of a slot (%.0f%% at most)" % (100 * mean, 100 * most)


def _close_quietly(live):
    """After a failure elsewhere: save what can be saved; a store error is reported, not
    raised over the original one."""
    try:
        live.close()
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
