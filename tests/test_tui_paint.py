"""The screen written line by line, judged from outside: `dowel ui` on a pty read by a terminal
emulator (pyte), a fake dowel whose pad forces move every sample and whose head pad comes and
goes. The app writes only the lines that changed (hundreds of partial frames); once the
dowel holds still, the terminal must show exactly what a full redraw of the same picture
shows (the window resized away and back), character by character with its colours. And the
pacing: far fewer frames than samples, none skipped for a contact change."""

import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pyte
from link_fake_device import FakeDowel

import dowel_protocol as P

REPO = Path(__file__).resolve().parents[1]
COLS, ROWS = 120, 36
LIVE_ROWS = 18  # the contacts, side view, hinge and reps panels, and the banner under them
ON = 40000  # raw counts of a pad firmly on (about 5.6 N with the default calibration)


class MovingDowel(FakeDowel):
    """Pads moving every sample, the head pad off for 0.3 s every 0.9 s; `hold()` keeps
    every value of the last sample from then on (the gyro and accelerometer too)."""

    def __init__(self):
        self.held = None
        self.hold_now = False
        self.t0 = None
        super().__init__(rate_hz=100)

    def hold(self):
        self.hold_now = True

    def _send(self, msg_type, values=()):
        if msg_type != P.SAMPLE:
            return super()._send(msg_type, values)
        v = list(values)
        if self.held is not None:
            v[1:10] = self.held
        else:
            now = time.monotonic()
            self.t0 = now if self.t0 is None else self.t0
            k = self.k
            head_off = (now - self.t0) % 0.9 > 0.6
            v[1] = 0 if head_off else ON + (k * 997) % 15000
            v[2] = ON + (k * 613) % 20000
            v[3] = ON + (k * 331) % 9000
            if self.hold_now:
                v[1] = ON
                self.held = tuple(v[1:10])
        super()._send(msg_type, tuple(v))


class Terminal:
    """A pty of COLS x ROWS read by pyte on a thread, as a terminal would."""

    def __init__(self):
        self.master, self.slave = os.openpty()
        self.screen = pyte.Screen(COLS, ROWS)
        self.stream = pyte.ByteStream(self.screen)
        self.lock = threading.Lock()
        self.bytes = 0
        self._size(COLS, ROWS)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _size(self, cols, rows):
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def _read(self):
        while True:
            r, _, _ = select.select([self.master], [], [], 0.2)
            if not r:
                continue
            try:
                data = os.read(self.master, 1 << 16)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.bytes += len(data)
                self.stream.feed(data)

    def resize(self, cols, rows, pid):
        with self.lock:
            self.screen.resize(rows, cols)
        self._size(cols, rows)
        os.kill(pid, signal.SIGWINCH)  # the app is not on its controlling terminal

    def cells(self, rows):
        """(character, colour, background, bold, reverse) of every cell of the first rows."""
        with self.lock:
            return [[(c.data, c.fg, c.bg, c.bold, c.reverse)
                     for c in (self.screen.buffer[y][x] for x in range(self.screen.columns))]
                    for y in range(rows)]

    def text(self):
        with self.lock:
            return "\n".join(self.screen.display)


def wait(predicate, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.05)


def test_the_lines_written_one_by_one_add_up_to_a_full_redraw(tmp_path):
    dev = MovingDowel()
    term = Terminal()
    env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor",
               DOWEL_DATA_DIR=str(tmp_path / "data"))
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "smart_dowel", "ui", "--port", dev.path, "--sound", "off"],
        stdin=term.slave, stdout=term.slave, stderr=term.slave, env=env,
        start_new_session=True, close_fds=True)
    try:
        wait(lambda: "Head" in term.text() and dev.k > 50, 30, "the screen streaming")
        seen_lost = set()  # the head pad drawn lost and back while it moves
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline:
            seen_lost.add("LOST" in term.text().splitlines()[1])
            time.sleep(0.03)
        assert seen_lost == {True, False}, "the head pad never showed lost and back"
        dev.hold()
        time.sleep(2.5)  # still: the trace fills with the same angle, nothing moves
        partial = term.cells(LIVE_ROWS)
        before = term.bytes
        time.sleep(0.5)
        assert term.bytes - before < 4000, "the screen keeps changing while the dowel is still"
        term.resize(COLS - 1, ROWS, proc.pid)
        time.sleep(1.0)
        term.resize(COLS, ROWS, proc.pid)
        time.sleep(1.5)
        full = term.cells(LIVE_ROWS)
        for y in range(LIVE_ROWS):
            assert partial[y] == full[y], "row %d differs from a full redraw:\n%s\n%s" % (
                y, "".join(c[0] for c in partial[y]), "".join(c[0] for c in full[y]))
    finally:
        if proc.poll() is None:
            os.write(term.master, b"q")
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        dev.unplug()
        os.close(term.master)
        os.close(term.slave)
    assert proc.returncode == 0


def test_the_feed_paces_frames_and_posts_every_contact_change_at_once():
    from smart_dowel.tui import examples as X
    from smart_dowel.tui import messages as M
    from smart_dowel.tui.feed import FRAME_S, Feed

    posted = []  # (monotonic, snapshot) of every SnapshotUpdated
    feed = Feed(lambda m: posted.append((time.monotonic(), m.snapshot))
                if isinstance(m, M.SnapshotUpdated) else None)
    batches = X.synthetic_batches(duration_s=10.0, reps=3, batch=1, tailbone_lost_reps=(1,))
    changes = 0
    t0 = time.monotonic()
    try:
        lost = None
        for b in batches:  # at twice real time, one sample per batch
            feed.on_batch(b)
            now = feed.snapshot()
            if now.lost != lost:
                # a contact lost or back: posted before on_batch returned, not held
                changes += 1
                lost = now.lost
                assert posted[-1][1].seq == now.seq and posted[-1][1].lost == now.lost
            time.sleep(0.005)
        wall = time.monotonic() - t0
        last = feed.snapshot()
        wait(lambda: posted[-1][1].samples == last.samples, 1.0,
             "the newest snapshot after the stream stopped")
    finally:
        feed.close()
    assert changes >= 3, "the tailbone never came and went"
    # 1000 batches, a frame every FRAME_S, plus the changes (contacts, phases, reps)
    assert len(posted) < wall / FRAME_S + 80, (len(posted), wall)
    gaps = [b[0] - a[0] for a, b in zip(posted, posted[1:])]
    assert sum(1 for g in gaps if g > 0.9 * FRAME_S) > wall / FRAME_S * 0.6
