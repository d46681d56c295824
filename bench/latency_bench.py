"""Sensor-to-screen latency, end to end through the pty.

The simulated dowel runs its firmware on a pty; the clinic app (the real DowelApp, with the
real link, pipeline and store) runs in a child process whose terminal is another pty, under
Textual's own Linux driver, exactly as `dowel demo` runs in a terminal; this process is the
terminal: it drains the screen output and types `q` at the end.

For every sample: from the moment the device took it (its t_us stamp mapped to host
monotonic time by SimulatedDowel.produced_monotonic: the simulated board's clock is the
host's monotonic clock) to the moment the first screen frame showing it has been written
to the terminal (Textual's output thread returned from writing and flushing that frame into
the pty). A frame "shows" a redraw when every widget the redraw changed was repainted in it
(or in an earlier frame); a frame shows a sample when it shows a redraw of a snapshot that
includes it. Prints p50/p95/p99 in ms, a breakdown, and the redraw rate.

Two setups: the simulator in its own process (like hardware: its CPU use is not the app's),
and the simulator in the app's process, which is what `dowel demo` does (SimSource).

    .venv/bin/python bench/latency_bench.py [seconds]
    .venv/bin/python bench/latency_bench.py --screen [seconds]   # every sample to the screen
    .venv/bin/python bench/latency_bench.py --cue [seconds]   # the lost-contact cue only
    .venv/bin/python bench/latency_bench.py --sound [seconds]   # cue to tone (and screen)
    .venv/bin/python bench/latency_bench.py --cpu [seconds]   # the screen's own CPU use
    .venv/bin/python bench/latency_bench.py --cpu-record [seconds]   # dowel record's, to compare
    .venv/bin/python bench/latency_bench.py --cpu-demo [seconds]   # dowel demo's (simulator inside)
    .venv/bin/python bench/latency_bench.py --cpu-demo [seconds] [runs]   # the mean of runs
    .venv/bin/python bench/latency_bench.py --cpu-chatter [seconds]   # dowel ui, a pad flickering every sample
"""

import json
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

WARMUP_S = 3.0
DURATION_S = 15.0
SIZE = (120, 36)  # terminal columns, rows


def _pct(values, q):
    return round(float(np.percentile(np.asarray(values, dtype=float), q)), 1) if len(values) else None


def _percentiles(values_ms, prefix="latency_ms"):
    out = {"%s_p%d" % (prefix, q): _pct(values_ms, q) for q in (50, 95, 99)}
    out["%s_max" % prefix] = round(float(max(values_ms)), 1) if values_ms else None
    return out


# ---------------------------------------------------------------------------------- terminal


def _run_child(setup, duration_s):
    """Run the app in a child on a pty of SIZE; return its figures."""
    import fcntl
    import struct
    import termios

    master, slave = os.openpty()
    cols, rows = SIZE
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    rfd, wfd = os.pipe()
    env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor",
               COLUMNS=str(cols), LINES=str(rows))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    proc = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--child", setup, str(duration_s), str(wfd)],
        stdin=slave, stdout=slave, stderr=slave, pass_fds=(wfd,), env=env,
        start_new_session=True, close_fds=True)
    os.close(slave)
    os.close(wfd)
    screen = {"bytes": 0, "tail": b""}

    def drain():  # the terminal: reads everything the app writes, as fast as it comes
        while True:
            try:
                data = os.read(master, 1 << 16)
            except OSError:
                return
            if not data:
                return
            screen["bytes"] += len(data)
            screen["tail"] = (screen["tail"] + data)[-4000:]

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    reply = b""
    try:
        ready = _read_line(rfd, 60.0)
        if ready != b"ready":
            raise RuntimeError("the app did not start: %r\n%s" % (
                ready, screen["tail"].decode("utf-8", "replace")))
        time.sleep(WARMUP_S + duration_s)
        os.write(master, b"q")  # the clinician presses q
        deadline = time.monotonic() + 60.0
        while time.monotonic() < deadline:
            r, _, _ = select.select([rfd], [], [], 1.0)
            if r:
                chunk = os.read(rfd, 1 << 20)
                if not chunk:
                    break
                reply += chunk
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(rfd)
        os.close(master)
    lines = reply.strip().splitlines() or [b""]
    if not lines[-1].strip():
        raise RuntimeError("no figures from the app (exit %s):\n%s" % (
            proc.returncode, screen["tail"].decode("utf-8", "replace")))
    out = json.loads(lines[-1])
    if "error" in out:
        raise RuntimeError("the app failed:\n" + out["error"])
    out["terminal_bytes"] = screen["bytes"]
    return out


def _read_line(fd, timeout_s):
    buf = b""
    deadline = time.monotonic() + timeout_s
    while not buf.endswith(b"\n") and time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            c = os.read(fd, 1)
            if not c:
                break
            buf += c
    return buf.strip()


# ---------------------------------------------------------------------------------- the app


def _sim_process(conn):
    """The simulated dowel in its own process; answers produced_monotonic queries."""
    from smart_dowel.sim.server import SimulatedDowel

    sim = SimulatedDowel(scenario="good", seed=5, endless=True).start()
    conn.send(sim.port)
    while True:
        msg = conn.recv()
        if msg[0] == "produced":
            conn.send([sim.produced_monotonic(t) for t in msg[1]])
        else:
            break
    sim.stop()


def _child(setup, duration_s, fd):
    """In the child, on the pty: run the app under Textual's Linux driver, instrumented."""
    out = os.fdopen(fd, "w", buffering=1)
    try:
        figures = _child_measure(setup, duration_s, out)
    except BaseException:
        import traceback

        figures = {"error": traceback.format_exc()}
    out.write(json.dumps(figures) + "\n")
    out.close()


class _Tagged(str):
    """A piece of terminal output that belongs to screen frame number `frame`."""

    frame = None


class _TimedFile:
    """The terminal file under Textual's output thread: notes when each frame is out."""

    def __init__(self, f, written):
        self._f = f
        self._written = written
        self._pending = set()

    def write(self, text):
        n = self._f.write(text)
        frame = getattr(text, "frame", None)
        if frame is not None:
            self._pending.add(frame)
        return n

    def flush(self):
        self._f.flush()
        if self._pending:
            now = time.monotonic()
            for frame in self._pending:
                self._written[frame] = now  # its last piece written and flushed
            self._pending.clear()

    def __getattr__(self, name):
        return getattr(self._f, name)


def _child_measure(setup, duration_s, out):
    import multiprocessing
    import tempfile

    from textual.drivers.linux_driver import LinuxDriver

    from smart_dowel.store import Store
    from smart_dowel.tui import make_app
    from smart_dowel.tui.sources import LinkSource, SimSource

    written = {}  # frame number -> monotonic time its last byte was flushed to the pty

    class TimedDriver(LinuxDriver):
        frame = None

        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self._file = _TimedFile(self._file, written)

        def write(self, data):
            if self.frame is not None:
                data = _Tagged(data)
                data.frame = self.frame
            super().write(data)

    data_dir = tempfile.TemporaryDirectory(prefix="dowel-latency-")
    store = Store.open(data_dir.name)
    conn = child = None
    if setup == "process":
        ctx = multiprocessing.get_context("spawn")
        conn, child_conn = ctx.Pipe()
        child = ctx.Process(target=_sim_process, args=(child_conn,), daemon=True)
        child.start()
        source = LinkSource(conn.recv())
    else:
        source = SimSource("good", seed=5)
    app = make_app(None, source=source, store=store, open_store=False)
    app.driver_class = TimedDriver

    samples = []  # (t_us raw, monotonic its last byte was read, monotonic the feed posted it)
    live = app.feed.live  # the link hands its batches to the live session
    feed_on_batch = live.on_batch

    def on_batch(batch):
        rx = [(m.values[0], t) for m, t in zip(batch.messages, batch.rx_mono) if m.type == 1]
        feed_on_batch(batch)
        done = time.monotonic()
        samples.extend((t_us, t, done) for t_us, t in rx)

    live.on_batch = on_batch  # the link looks the callback up when it is created

    # redraws not yet fully on screen: [t_us, start mono, widgets still to repaint]
    pending = []
    frames = []  # (frame number, display mono, redraw start mono, newest t_us shown)
    state = {"frame": 0, "shown": None, "dropped": 0}
    redraw = app._redraw

    redraw_times = []
    current = {"t": None}

    def register():
        """What this redraw changed: every widget with a repaint, layout or style update
        pending; the redraw is on screen once a written frame has repainted them all."""
        if current["t"] is None:
            return
        screen = app.screen_stack[0]
        todo = {w for w in screen.walk_children()
                if w._repaint_required or w._layout_required or w._refresh_styles_required}
        todo.update(getattr(screen, "_dirty_widgets", ()))
        pending.append([app.snapshot.t_us, current["t"], todo])
        current["t"] = None

    def traced_redraw():
        current["t"] = t = time.monotonic()
        redraw_times.append(t)
        redraw()
        register()

    app._redraw = traced_redraw
    paint_now = getattr(app, "_paint_now", None)
    if paint_now is not None:  # the app paints its frame within the redraw: note it before
        def traced_paint_now():
            register()
            paint_now()

        app._paint_now = traced_paint_now
    display = app._display

    def traced_display(screen, renderable):
        driver = app._driver
        if renderable is None or not isinstance(driver, TimedDriver):
            return display(screen, renderable)
        dirty = screen._dirty_widgets
        now = time.monotonic()
        for p in pending:
            if screen in dirty:
                p[2].clear()
            else:
                p[2] -= dirty
                if now - p[1] > 1.0 and p[2]:  # a widget that never repaints (hidden)
                    state["dropped"] += 1
                    p[2].clear()
        while pending and not pending[0][2]:
            state["shown"] = pending.pop(0)[:2]
        state["frame"] += 1
        driver.frame = state["frame"]
        try:
            display(screen, renderable)
        finally:
            driver.frame = None
        if state["shown"] is not None:
            frames.append((state["frame"], now, state["shown"][1], state["shown"][0]))

    app._display = traced_display

    def watch():  # tell the terminal (the parent) when samples stream
        while app.snapshot.samples < 10:
            time.sleep(0.05)
        watch.t0 = time.monotonic()
        out.write("ready\n")

    watch.t0 = None
    threading.Thread(target=watch, daemon=True).start()
    app.run()
    t_end = time.monotonic()
    store.close()
    redraws = app.redraws

    t_us_list = [s[0] for s in samples]
    if conn is not None:
        conn.send(("produced", t_us_list))
        produced = conn.recv()
        conn.send(("stop",))
        child.join(10)
    else:
        sim = source.sim
        produced = [sim.produced_monotonic(t) for t in t_us_list]
    data_dir.cleanup()

    start = watch.t0 + WARMUP_S
    frames = [(written[n], disp, r0, t_us) for n, disp, r0, t_us in frames if n in written]
    # the newest sample shown never goes back: the first frame showing sample i is the first
    # frame whose newest sample was produced no earlier than sample i
    prod_of = {}
    for (t_us, _, _), p in zip(samples, produced):
        prod_of[t_us] = p
    frame_prod = [prod_of.get(f[3]) for f in frames]
    lat, wire, feed, wait, render, out_ms = [], [], [], [], [], []
    j = 0
    for (t_us, rx, done), p in zip(samples, produced):
        if p < start:
            continue
        while j < len(frames) and (frame_prod[j] is None or frame_prod[j] < p):
            j += 1
        if j == len(frames):
            break
        w_t, disp, r0, _ = frames[j]
        lat.append((w_t - p) * 1000.0)
        wire.append((rx - p) * 1000.0)
        feed.append((done - rx) * 1000.0)
        wait.append((r0 - done) * 1000.0)
        render.append((disp - r0) * 1000.0)
        out_ms.append((w_t - disp) * 1000.0)
    res = _percentiles(lat)
    for name, vals in (("to_host", wire), ("feed", feed), ("until_redraw", wait),
                       ("redraw_to_display", render), ("display_to_written", out_ms)):
        res[name + "_ms_p50"] = _pct(vals, 50)
        res[name + "_ms_p95"] = _pct(vals, 95)
    res["to_host_ms_min"] = round(float(min(wire)), 2) if wire else None  # >= 0: a sane clock map
    res["samples_measured"] = len(lat)
    measured_s = t_end - watch.t0
    out_times = sorted(t for t in written.values() if t >= watch.t0)
    res["frames_written_per_s"] = round(len(out_times) / measured_s, 1)
    res["redraws_per_s"] = round(sum(1 for t in redraw_times if t >= watch.t0) / measured_s, 1)
    res["redraws_total"] = redraws
    gaps = np.diff(out_times) * 1000.0
    res["frame_gap_ms_min"] = round(float(gaps.min()), 1) if len(gaps) else None
    res["unshown_widgets_dropped"] = state["dropped"]
    return res


# ---------------------------------------------------------------------------------- the cue
# From the first sample with the head pad off (or back on) to "Head ... LOST" appearing (or
# going) on the screen, read by a terminal emulator (pyte) on the pty of a real `dowel ui
# --port` child, with an independent fake dowel on another pty. Nothing inside the app is
# instrumented: this is what a patient 2 m away would see, less the monitor's own lag.

CUE_ON_COUNTS = 40000  # about 5.6 N with the default calibration: a pad firmly on
CUE_HOLD_S = 0.6  # each state of the head pad is held this long (well past any debounce)
CUE_WARMUP_S = 3.0
CUE_DURATION_S = 40.0
_HEAD_LOST = re.compile(r"Head\s+LOST")


def _cue_dowel(hold_s, warmup_s):
    """A fake dowel (tests/link_fake_device.py) streaming at 100 Hz, Mid-back and Tailbone
    on, the Head pad on and off by turns; `changes` holds (monotonic time just before the
    first sample of each change was written to the pty, head on?)."""
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import dowel_protocol as P
    from link_fake_device import FakeDowel

    class CueDowel(FakeDowel):
        def __init__(self):
            self.changes = []
            self.head_on = True
            self.next_change = None
            super().__init__(rate_hz=100)

        def _send(self, msg_type, values=()):
            if msg_type != P.SAMPLE:
                return super()._send(msg_type, values)
            now = time.monotonic()
            if self.next_change is None:
                self.next_change = now + warmup_s
            changed = now >= self.next_change
            if changed:
                self.head_on = not self.head_on
                self.next_change += hold_s
            v = list(values)
            v[1] = CUE_ON_COUNTS if self.head_on else 0
            v[2] = v[3] = CUE_ON_COUNTS
            if changed:  # stamped before the write: the app may act on it at once
                self.changes.append((time.monotonic(), self.head_on))
            super()._send(msg_type, tuple(v))

    return CueDowel()


def _cue_dowel_child(hold_s, warmup_s):
    """`--cue-dowel`: the cue dowel in a process of its own (so the terminal emulator's
    parsing in the bench cannot starve it): prints PORT, then each change as `t head_on`,
    until stdin closes."""
    dev = _cue_dowel(hold_s, warmup_s)
    print("PORT", dev.path, flush=True)
    sent = 0
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    while True:
        done = stop.wait(0.05)
        changes = dev.changes[sent:]
        sent += len(changes)
        for t, on in changes:
            print("%.6f %d" % (t, on), flush=True)
        if done:
            break
    dev.unplug()


class _CueDowelProcess:
    """The cue dowel in a child process: .path, .changes (as _cue_dowel's), .unplug()."""

    def __init__(self, hold_s, warmup_s):
        self.changes = []
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--cue-dowel", repr(hold_s),
             repr(warmup_s)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env=dict(os.environ, PYTHONPATH=os.pathsep.join(
                p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)))
        line = self.proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "PORT":
            self.proc.kill()
            raise RuntimeError("the cue dowel said %r" % (line,))
        self.path = line[1]
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            t, on = line.split()
            self.changes.append((float(t), on == "1"))

    def unplug(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(5)


def measure_cue(duration_s=CUE_DURATION_S, hold_s=CUE_HOLD_S, extra_args=(), sound=False):
    """Run `dowel ui --port` on a pty against the cue dowel for duration_s; returns
    {"lost_ms": [...], "back_ms": [...], "missed": n, "changes": n}.

    sound=True: the same app, built from the same command line in a child of this bench
    (`--sound-child`) with a MiniaudioSink on miniaudio's null device (no sound card here),
    also gives "sound_asked_ms" (to the sink being asked for the tone) and "sound_ms" (to
    the device pulling the tone's first samples), per change."""
    import fcntl
    import struct
    import tempfile
    import termios

    import pyte

    dev = _CueDowelProcess(hold_s, CUE_WARMUP_S)
    cols, rows = SIZE
    term = pyte.Screen(cols, rows)
    stream = pyte.ByteStream(term)
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    data_dir = tempfile.TemporaryDirectory(prefix="dowel-cue-")
    env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor",
               DOWEL_DATA_DIR=data_dir.name)
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    cmd = [sys.executable, "-m", "smart_dowel", "ui", "--port", dev.path, *extra_args]
    pass_fds = ()
    if sound:
        rfd, wfd = os.pipe()
        cmd = [sys.executable, os.path.abspath(__file__), "--sound-child", str(wfd),
               "ui", "--port", dev.path, *extra_args]
        pass_fds = (wfd,)
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env,
                            start_new_session=True, close_fds=True, pass_fds=pass_fds)
    os.close(slave)
    if sound:
        os.close(wfd)
    shown = []  # (monotonic the terminal read it, head LOST on screen?)
    lost_now = None
    t_end = time.monotonic() + CUE_WARMUP_S + 10.0 + duration_s
    try:
        while time.monotonic() < t_end:
            r, _, _ = select.select([master], [], [], 0.2)
            if not r:
                continue
            try:
                data = os.read(master, 1 << 16)
            except OSError:
                break
            t = time.monotonic()
            if not data:
                break
            stream.feed(data)
            lost = any(_HEAD_LOST.search(line) for line in term.display)
            if lost != lost_now:
                shown.append((t, lost))
                lost_now = lost
            if dev.changes and time.monotonic() - dev.changes[0][0] > duration_s:
                break
        os.write(master, b"q")
        deadline = time.monotonic() + 20.0
        while proc.poll() is None and time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    os.read(master, 1 << 16)
                except OSError:
                    break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        os.close(master)
        dev.unplug()
        data_dir.cleanup()
        heard = None
        if sound:
            with os.fdopen(rfd) as f:
                text = f.read().strip()
            heard = json.loads(text) if text else None
    changes = list(dev.changes)
    out = {"lost_ms": [], "back_ms": [], "missed": 0, "changes": len(changes),
           "exit": proc.returncode}
    if sound:
        if heard is None:
            raise RuntimeError("the sound child wrote nothing (exit %s)" % proc.returncode)
        out.update(_sound_latency(changes, heard))
    for i, (t_dev, head_on) in enumerate(changes):
        until = changes[i + 1][0] if i + 1 < len(changes) else float("inf")
        hit = next((t for t, lost in shown if t >= t_dev and lost == (not head_on)
                    and t < until), None)
        if hit is None:
            if until != float("inf"):
                out["missed"] += 1
            continue
        out["back_ms" if head_on else "lost_ms"].append((hit - t_dev) * 1000.0)
    return out


def _sound_latency(changes, heard):
    """Per change of the head pad: the first contact tone after it (lost or back, as the
    change), asked of the sink and started by the device."""
    out = {"sound_asked_ms": [], "sound_ms": [], "sound_missed": 0}
    for i, (t_dev, head_on) in enumerate(changes):
        until = changes[i + 1][0] if i + 1 < len(changes) else float("inf")
        name = "contact_back" if head_on else "contact_lost"
        for key, rows in (("sound_asked_ms", heard["asked"]), ("sound_ms", heard["started"])):
            hit = next((t for t, n in rows if n == name and t_dev <= t < until), None)
            if hit is not None:
                out[key].append((hit - t_dev) * 1000.0)
            elif key == "sound_ms" and until != float("inf"):
                out["sound_missed"] += 1
    return out


def _sound_child(fd, argv):
    """`dowel ui ...` as the CLI builds it, with a MiniaudioSink on the null device; at the
    end writes what the sink was asked and what the device started to fd."""
    import miniaudio

    from smart_dowel.cli import build_parser
    from smart_dowel.tui import make_app
    from smart_dowel.tui.sound import MiniaudioSink

    sink = MiniaudioSink(backends=[miniaudio.Backend.NULL])
    app = make_app(build_parser().parse_args(argv), sink=sink)
    try:
        app.run()
    finally:
        with os.fdopen(fd, "w") as f:
            json.dump({"asked": [(m, n) for m, _t, kind, n in sink.log if kind == "tone"],
                       "started": sink.started}, f)


def run_sound(duration_s=CUE_DURATION_S):
    """Cue to sound and, in the same run, cue to screen (ms)."""
    m = measure_cue(duration_s, sound=True)
    res = {}
    res.update(_percentiles(m["sound_ms"], "cue_to_sound_ms"))
    res.update(_percentiles(m["sound_asked_ms"], "cue_to_sink_asked_ms"))
    res.update(_percentiles(m["lost_ms"] + m["back_ms"], "same_run_cue_to_screen_ms"))
    res["sound_changes"] = m["changes"]
    res["sound_missed"] = m["sound_missed"]
    return res


def run_cue(duration_s=CUE_DURATION_S):
    m = measure_cue(duration_s)
    res = {}
    res.update(_percentiles(m["lost_ms"], "cue_lost_to_screen_ms"))
    res.update(_percentiles(m["back_ms"], "cue_back_to_screen_ms"))
    res.update(_percentiles(m["lost_ms"] + m["back_ms"], "cue_to_screen_ms"))
    res["cue_changes"] = m["changes"]
    res["cue_missed"] = m["missed"]
    return res


# ---------------------------------------------------------------------------------- CPU

CPU_WARMUP_S = 5.0
CPU_DURATION_S = 30.0


def _cpu_s(pid):
    """User + system CPU seconds of process pid and its threads (Linux /proc)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_screen_cpu(duration_s=CPU_DURATION_S, scenario="good", extra_args=(),
                       command="ui"):
    """The clinic screen's own CPU use: `dowel ui --port` on a pty (drained as a terminal
    would) against `dowel simulate` at 100 Hz in its own process, a patient hinging all the
    time; CPU of the ui process over duration_s after CPU_WARMUP_S, as a share of one core.

    command="record": `dowel record --port` on the same stream instead (the link, pipeline
    and store without a screen), for comparison; its figures are named record_*.
    command="demo": `dowel demo --scenario good` (the same scenario, the simulated dowel in the
    app's own process, as shipped); its figures are named demo_*: they include the
    simulator's firmware logic and body model at 100 Hz.
    command="chatter": `dowel ui --port` against the cue dowel with its head pad on and off
    at every sample (a loose connector at 100 Hz); its figures are named chatter_*."""
    import fcntl
    import struct
    import tempfile
    import termios

    data_dir = tempfile.TemporaryDirectory(prefix="dowel-cpu-")
    env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor",
               DOWEL_DATA_DIR=data_dir.name)
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    sim = dev = None
    if command == "chatter":
        dev = _CueDowelProcess(0.005, 1.0)  # (a change at every 10 ms sample)
    elif command != "demo":
        sim = subprocess.Popen([sys.executable, "-m", "smart_dowel", "simulate", "--scenario",
                                scenario, "--reps", "10000", "--seed", "3"],
                               stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env,
                               text=True)
    master = None
    proc = None
    try:
        if dev is not None:
            cmd = [sys.executable, "-m", "smart_dowel", "ui", "--port", dev.path, "--sound",
                   "off"]
        elif sim is not None:
            line = sim.stdout.readline().split()
            if len(line) != 2 or line[0] != "PORT":
                raise RuntimeError("dowel simulate said %r" % (line,))
            cmd = [sys.executable, "-m", "smart_dowel", command, "--port", line[1]]
            cmd += ["--sound", "off"] if command == "ui" else ["--patient", "bench"]
        else:
            cmd = [sys.executable, "-m", "smart_dowel", "demo", "--scenario", scenario,
                   "--seed", "3", "--sound", "off"]
        master, slave = os.openpty()
        cols, rows = SIZE
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        proc = subprocess.Popen([*cmd, *extra_args], stdin=slave, stdout=slave, stderr=slave,
                                env=env, start_new_session=True, close_fds=True)
        os.close(slave)
        written = [0]

        def drain():
            while True:
                try:
                    data = os.read(master, 1 << 16)
                except OSError:
                    return
                if not data:
                    return
                written[0] += len(data)

        threading.Thread(target=drain, daemon=True).start()
        time.sleep(CPU_WARMUP_S)
        c0, b0, t0 = _cpu_s(proc.pid), written[0], time.monotonic()
        time.sleep(duration_s)
        c1, b1, t1 = _cpu_s(proc.pid), written[0], time.monotonic()
        if command in ("ui", "demo", "chatter"):
            os.write(master, b"q")
        else:
            proc.send_signal(signal.SIGINT)  # how a user ends a recording
        proc.wait(30)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        if master is not None:
            os.close(master)
        if sim is not None:
            sim.terminate()
            sim.wait(10)
        if dev is not None:
            dev.unplug()
        data_dir.cleanup()
    name = "screen" if command == "ui" else command
    out = {"%s_cpu_pct_of_core" % name: round(100.0 * (c1 - c0) / (t1 - t0), 1)}
    if command in ("ui", "demo", "chatter"):
        out["%s_terminal_kb_per_s" % name] = round((b1 - b0) / 1024.0 / (t1 - t0), 1)
    out["%s_cpu_seconds" % name] = round(t1 - t0, 1)
    return out


def run_screen(duration_s=DURATION_S):
    """Every sample to the screen (both setups), without the cue, sound and CPU runs."""
    out = _run_child("process", duration_s)
    demo = _run_child("inprocess", duration_s)
    for k, v in demo.items():
        out["demo_" + k] = v
    return out


def run(duration_s=DURATION_S):
    """Measure for duration_s seconds of streaming; returns the latency figures (ms).

    latency_ms_*: the simulated dowel in its own process, as hardware would be;
    demo_latency_ms_*: `dowel demo` as shipped, the simulator in the app's own process.
    """
    out = run_screen(duration_s)
    out.update(run_cue())
    out.update(run_sound())
    out.update(measure_screen_cpu())
    out.update(measure_screen_cpu(command="record"))
    out.update(measure_screen_cpu(command="demo"))
    return out


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help"):
        print(__doc__.split("\n\n    ", 1)[1].rstrip())
        sys.exit(0)
    if len(sys.argv) > 1 and sys.argv[1].startswith("-") and sys.argv[1] not in (
            "--child", "--sound-child", "--cue-dowel", "--sound", "--cpu", "--cpu-record",
            "--cpu-demo", "--cpu-chatter", "--screen", "--cue"):
        sys.exit("latency_bench: unknown option %s (--help lists them)" % sys.argv[1])
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]))
        sys.exit(0)
    if len(sys.argv) > 1 and sys.argv[1] == "--cue-dowel":
        _cue_dowel_child(float(sys.argv[2]), float(sys.argv[3]))
        sys.exit(0)
    if len(sys.argv) > 1 and sys.argv[1] == "--sound-child":
        _sound_child(int(sys.argv[2]), sys.argv[3:])
        sys.exit(0)
    if len(sys.argv) > 1 and sys.argv[1] == "--sound":
        secs = float(sys.argv[2]) if len(sys.argv) > 2 else CUE_DURATION_S
        for k, v in run_sound(secs).items():
            print("%-34s %s" % (k, v))
        sys.exit(0)
    if len(sys.argv) > 1 and sys.argv[1] in ("--cpu", "--cpu-record", "--cpu-demo",
                                             "--cpu-chatter"):
        secs = float(sys.argv[2]) if len(sys.argv) > 2 else CPU_DURATION_S
        runs = int(sys.argv[3]) if len(sys.argv) > 3 else 1
        command = {"--cpu": "ui", "--cpu-record": "record", "--cpu-demo": "demo",
                   "--cpu-chatter": "chatter"}[sys.argv[1]]
        pcts = []
        for _ in range(runs):
            res = measure_screen_cpu(secs, command=command)
            for k, v in res.items():
                print("%-34s %s" % (k, v))
                if k.endswith("cpu_pct_of_core"):
                    pcts.append(v)
        if runs > 1:
            print("%-34s %s (%s)" % ("mean_cpu_pct_of_core", round(sum(pcts) / len(pcts), 1),
                                     ", ".join("%.1f" % p for p in pcts)))
        sys.exit(0)
    if len(sys.argv) > 1 and sys.argv[1] == "--screen":
        secs = float(sys.argv[2]) if len(sys.argv) > 2 else DURATION_S
        for k, v in run_screen(secs).items():
            print("%-34s %s" % (k, v))
        sys.exit(0)
    if len(sys.argv) > 1 and sys.argv[1] == "--cue":
        secs = float(sys.argv[2]) if len(sys.argv) > 2 else CUE_DURATION_S
        for k, v in run_cue(secs).items():
            print("%-34s %s" % (k, v))
        sys.exit(0)
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else DURATION_S
    for k, v in run(secs).items():
        print("%-34s %s" % (k, v))
