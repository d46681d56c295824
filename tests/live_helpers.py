"""Shared pieces of the live-session tests: `dowel record` in a subprocess against a port, and
the clinic screen's source (LinkSource + Feed, no terminal) in a thread against the same."""

import os
import signal
import subprocess
import sys
import threading
import time

from smart_dowel.store import Store


_RUNNING = []


def kill_leftovers():
    """Kill every `dowel record` a failed test left running (it would hold its pty)."""
    while _RUNNING:
        rec = _RUNNING.pop()
        if rec.proc.poll() is None:
            rec.proc.kill()
            rec.proc.wait()


class Record:
    """`dowel record --port PORT` running in a subprocess; its output collected line by line."""

    def __init__(self, port, *extra, patient="Case Patient"):
        _RUNNING.append(self)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "smart_dowel", "record", "--port", str(port),
             "--patient", patient, *map(str, extra)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.out = []
        self.err = []
        self._cond = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for t in self._readers:
            t.start()
        self._dog = threading.Timer(120, self.proc.kill)  # a hang fails the test, not the run
        self._dog.daemon = True
        self._dog.start()

    def _read(self, stream, into):
        for line in stream:
            with self._cond:
                into.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_for(self, predicate, timeout_s=15.0, what="a line"):
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None and not predicate(self):
                    raise AssertionError("dowel record never showed %s\nstdout:\n%s\nstderr:\n%s"
                                         % (what, "\n".join(self.out), "\n".join(self.err)))
                self._cond.wait(min(left, 0.1))

    def stderr_has(self, text):
        return any(text in ln for ln in list(self.err))

    def wait_err(self, text, timeout_s=15.0):
        self.wait_for(lambda r: r.stderr_has(text), timeout_s, repr(text))

    def samples_reported(self):
        return [ln for ln in self.out if ln.startswith("rep ")]

    @property
    def session_id(self):
        self.wait_for(lambda r: any(ln.startswith("SESSION ") for ln in r.out), what="SESSION")
        return int([ln for ln in self.out if ln.startswith("SESSION ")][0].split()[1])

    def stop(self, sig=signal.SIGTERM, timeout_s=30):
        """Send `sig` and wait for the exit; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout_s)
        finally:
            self._dog.cancel()
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        for t in self._readers:
            t.join(timeout=5)
        return code

    def text(self):
        return "\n".join(self.out + self.err)


def stored(session_id):
    """(session dict, samples) of a stored session, from the test's data directory."""
    with Store.open() as store:
        return store.session(session_id), store.load_samples(session_id)


class Screen:
    """The clinic screen's data path without a terminal: LinkSource.run(feed, stop) in a thread,
    every message the Feed posts kept (what the app would show)."""

    def __init__(self, port, store):
        from smart_dowel.tui.feed import Feed
        from smart_dowel.tui.sources import LinkSource

        self.posted = []
        self.feed = Feed(self.posted.append, store=store, patient="Case Patient")
        self.source = LinkSource(port)
        self.stop_event = threading.Event()
        self.error = None
        self.session_id = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            self.source.run(self.feed, self.stop_event)
        except BaseException as e:  # kept for the test to see
            self.error = e

    def wait_session(self, timeout_s=10.0):
        wait_until(lambda: self.feed.writer is not None, timeout_s, "the screen's session")
        self.session_id = self.feed.writer.id
        return self.session_id

    def stop(self):
        if self.session_id is None and self.feed.writer is not None:
            self.session_id = self.feed.writer.id
        self.stop_event.set()
        self.thread.join(timeout=15)
        assert not self.thread.is_alive()
        self.feed.close()
        if self.error is not None:
            raise self.error

    def notices(self):
        from smart_dowel.tui import messages as M

        return [m for m in list(self.posted) if isinstance(m, M.LinkNotice)]

    def statuses(self):
        from smart_dowel.tui import messages as M

        return [m.status for m in list(self.posted) if isinstance(m, M.LinkStatusUpdated)]


def wait_until(predicate, timeout_s=10.0, what="a condition"):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out after %.1f s waiting for %s" % (
            timeout_s, what)
        time.sleep(0.02)


def env_with(**kw):
    env = dict(os.environ)
    env.update({k: str(v) for k, v in kw.items()})
    return env
