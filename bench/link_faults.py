"""Fault injection through real ptys: simulated dowel -> proxy -> host SerialLink.

The simulated dowel (the real firmware on the simulated board) streams on its own pty. A proxy
opens that port like a cable would and re-serves the stream on a second pty, reached through a
symlink that the host's SerialLink opens exactly as it would /dev/ttyACM0. The proxy then
corrupts frames (bit flips, dropped bytes, garbage, bursts), stalls the line (the device's
buffer fills and it drops frames), unplugs (closes the host's pty) and replugs (a new pty,
the symlink re-pointed). Every frame the device sent is known to the proxy; every frame the
host accepted is checked against it.
"""

import os
import random
import select
import sys
import tempfile
import threading
import time
import tty

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import dowel_protocol as P  # noqa: E402

from bench.faults_bench import corrupt  # noqa: E402
from smart_dowel.link import CONNECTED, SerialLink  # noqa: E402
from smart_dowel.sim.server import SimulatedDowel  # noqa: E402

RATE_HZ = 500


class Proxy:
    """A cable with faults, between the simulated dowel's pty and a second pty for the host."""

    def __init__(self, upstream, link_path, seed=11):
        self.rng = random.Random(seed)
        self.link_path = link_path
        self.up = os.open(upstream, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.up)
        self.mode = "pass"  # pass | faults | stall | unplugged
        self.fault_rate = 0.05
        self.sent = {}  # device seq (unwrapped) -> original frame
        self.injected = 0
        self.kinds = {}
        self._partial = bytearray()
        self._last_seq = None
        self._abs = -1
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.master = None
        self.plug()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def plug(self):
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        name = os.ttyname(slave)
        os.close(slave)  # the host opens it by name, as it would a real port
        tmp = self.link_path + ".new"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(name, tmp)
        os.replace(tmp, self.link_path)
        with self._lock:
            self.master = master
            if self.mode == "unplugged":
                self.mode = "pass"

    def unplug(self):
        with self._lock:
            self.mode = "unplugged"
            m, self.master = self.master, None
        if m is not None:
            os.close(m)
        os.unlink(self.link_path)

    def stop(self):
        self._stop.set()
        self._thread.join(2)
        for fd in (self.up, self.master):
            if fd is not None:
                os.close(fd)

    def _corrupt(self, f):
        kind, f, spill = corrupt(self.rng, f)
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        # a burst's spill-over becomes trailing junk on the line
        return f + bytes(self.rng.getrandbits(8) for _ in range(min(spill, 40)))

    def _frames_from_device(self, data):
        self._partial += data
        parts = bytes(self._partial).split(b"\x00")
        self._partial = bytearray(parts.pop())
        out = []
        for part in parts:
            if not part:
                continue
            frame = part + b"\x00"
            msg = P.unpack(frame)  # the device's own stream is clean
            seq = msg.seq
            if self._last_seq is None:
                self._abs = 0
            else:
                self._abs += (seq - self._last_seq) & 0xFFFF
            self._last_seq = seq
            self.sent[self._abs] = frame
            out.append(frame)
        return out

    def _run(self):
        while not self._stop.is_set():
            with self._lock:
                master, mode = self.master, self.mode
            fds = [] if mode == "stall" else [self.up]
            if master is not None:
                fds.append(master)
            r, _, _ = select.select(fds, [], [], 0.01)
            if self.up in r:
                data = os.read(self.up, 65536)
                out = bytearray()
                for f in self._frames_from_device(data):
                    if mode == "unplugged":
                        continue
                    if mode == "faults" and self.rng.random() < self.fault_rate:
                        self.injected += 1
                        f = self._corrupt(f)
                    out += f
                if out and master is not None:
                    try:
                        os.write(master, bytes(out))
                    except BlockingIOError:
                        pass  # the host is not reading: the bytes are lost, as on a cable
                    except OSError:
                        pass  # unplugged under us
            if master is not None and master in r:
                try:
                    cmd = os.read(master, 4096)
                except OSError:
                    cmd = b""
                if cmd:
                    os.write(self.up, cmd)


def link_faults(seed=11):
    dowel = SimulatedDowel(scenario="good", reps=400, seed=seed, rate_hz=RATE_HZ)
    dowel.start()
    tmp = tempfile.mkdtemp(prefix="dowel-faults-")
    link_path = os.path.join(tmp, "ttyDOWEL")
    proxy = Proxy(dowel.port, link_path, seed=seed)
    received = []
    states = []

    def on_batch(b):
        received.extend(b.messages)

    def on_event(e):
        states.append((time.monotonic(), e.kind, e.state, e.gap))

    link = SerialLink(link_path, on_batch=on_batch, on_event=on_event)
    link.connect(rate_hz=RATE_HZ)
    try:
        time.sleep(3)
        proxy.mode = "faults"
        time.sleep(15)
        proxy.mode = "pass"
        time.sleep(2)
        proxy.mode = "stall"
        time.sleep(5)
        proxy.mode = "pass"
        time.sleep(3)
        proxy.unplug()
        time.sleep(1.5)
        t_replug = time.monotonic()
        proxy.plug()
        deadline = t_replug + 10
        reconnect_s = None
        while time.monotonic() < deadline and reconnect_s is None:
            for t, kind, state, _gap in list(states):
                if t >= t_replug and kind == "state" and state == CONNECTED:
                    reconnect_s = t - t_replug
                    break
            time.sleep(0.02)
        time.sleep(3)
        stats = link.stats()
        gaps = link.gaps
    finally:
        link.close()
        proxy.stop()
        dowel.stop()

    # every accepted message against what the device sent
    by_seq = {}
    for abs_i, frame in proxy.sent.items():
        by_seq.setdefault(abs_i & 0xFFFF, []).append((abs_i, frame))
    intact = set()
    corrupted = 0
    for m in received:
        frame = P.pack(m.type, m.seq, m.values)
        hits = [a for a, f in by_seq.get(m.seq, ()) if f == frame]
        if hits:
            intact.add(hits[0])
        else:
            corrupted += 1
    first, last = min(intact), max(intact)
    sent_in_window = last - first + 1
    true_lost = sent_in_window - len([a for a in intact if first <= a <= last])
    return {
        "link_frames_sent": sent_in_window,
        "link_fault_frames_injected": proxy.injected,
        "link_corrupted_frames_accepted": corrupted,
        "link_frames_lost": true_lost,
        "link_frames_lost_counted": stats.lost_frames,
        "link_lost_frames_miscounted": abs(true_lost - stats.lost_frames),
        "reconnect_s": None if reconnect_s is None else round(reconnect_s, 3),
        "states_after_unplug": [
            "%+.3f %s" % (t - t_replug, st) for t, kind, st, _g in states
            if kind == "state" and t >= t_replug - 2
        ],
        "gaps_recorded": len(gaps),
        "gap_lost_frames": [g.lost_frames for g in gaps],
        "gap_durations_s": [round(g.duration_s, 2) for g in gaps],
    }


if __name__ == "__main__":
    for k, v in link_faults().items():
        print("%-32s %s" % (k, v))
