"""A tiny fake dowel on the master side of a real pseudo-terminal, for the serial link tests.

It speaks dowel_protocol: GET_INFO -> INFO + ACK, PING/START/STOP/SET_RATE/GET_STATUS -> ACK
(or the NACK a test asks for), and streams SAMPLE frames whose fields follow sample_fields(k).
All frames it sends share one sequence counter, as the firmware's do.
"""

import os
import select
import threading
import time
import tty

import dowel_protocol as P

BOARD_ID = bytes.fromhex("e6614103e7452d2f")


def sample_fields(k, t_us):
    """The SAMPLE values of the k-th sample (k counts from 0 over the device's life)."""
    return (
        t_us & 0x3FFFFFFF,
        k & 0xFFFF, 1000 + (k % 7), 2000 + (k % 11),
        (k % 50) - 25, -(k % 30), 1000, (k % 9) - 4, 3, -3,
        0,
    )


class FakeDowel:
    def __init__(self, rate_hz=100, seq=0, sample_index=0, t_us=0, streaming=False,
                 board_id=BOARD_ID, fw=(1, 2, 3), silent=False, boot_id=0xB007_1D01):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        self.rate_hz = rate_hz
        self.seq = seq
        self.k = sample_index
        self.t_us = t_us
        self.streaming = streaming
        self.board_id = board_id
        self.boot_id = boot_id  # protocol 1.1: INFO and STATUS carry it
        self.fw = fw
        self.silent = silent  # reads commands, answers nothing
        self.paused = False  # streaming, but no sample leaves (a stalled line); see pause()
        self.nack = {}  # cmd_type -> NACK error code
        self.commands = []  # every command Message received, in order
        self.sent_samples = []  # (seq, k) of every SAMPLE written
        self.written_seqs = []  # sequence number of every frame written
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._decoder = P.StreamDecoder()
        self._thread = threading.Thread(target=self._run, daemon=True, name="fake-dowel")
        self._thread.start()

    # -- what a test does to the device
    def inject(self, raw):
        """Write raw bytes onto the line (garbage, a corrupted frame, ...)."""
        with self._lock:
            self._write(raw)

    def skip(self, n):
        """Lose the next n frames: their sequence numbers are used but nothing is written."""
        with self._lock:
            self.seq = (self.seq + n) & 0xFFFF

    def pause(self):
        """Stop writing samples without being told to: the line stalls, the port stays open."""
        with self._lock:
            self.paused = True

    def unpause(self):
        """Write samples again (from now on, none for the stalled stretch)."""
        with self._lock:
            self.paused = False
            self._next_sample = time.monotonic()

    def commands_of(self, cmd_type):
        return [m for m in list(self.commands) if m.type == cmd_type]

    def unplug(self):
        """Close both ends of the pty: the port vanishes, as when the USB cable is pulled."""
        self._stop.set()
        self._thread.join(timeout=2)
        os.close(self.master)
        os.close(self.slave)

    # -- internals
    def _write(self, data):
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.master, view)
            except BlockingIOError:
                select.select([], [self.master], [], 0.05)
                continue
            view = view[n:]

    def _send(self, msg_type, values=()):
        self._write(P.pack(msg_type, self.seq, values))
        self.written_seqs.append(self.seq)
        self.seq = (self.seq + 1) & 0xFFFF

    def _info_values(self):
        return (
            self.fw[0], self.fw[1], self.fw[2], P.PROTOCOL_VERSION, self.board_id,
            0x0F, P.IMU_SIMULATED, self.rate_hz, 4, 1 if self.streaming else 0, self.boot_id,
        )

    def _answer(self, cmd):
        self.commands.append(cmd)
        if self.silent:
            return
        code = self.nack.get(cmd.type)
        if code is not None:
            self._send(P.NACK, (cmd.type, cmd.seq, code))
            return
        if cmd.type == P.CMD_GET_INFO:
            self._send(P.INFO, self._info_values())
        elif cmd.type == P.CMD_GET_STATUS:
            self._send(P.STATUS, (12345, self.k, 2, 1, 3, 0, self.rate_hz,
                                  (1 if self.streaming else 0) | P.STATUS_IMU_PRESENT, 0,
                                  self.boot_id, 900, 1500))
        elif cmd.type == P.CMD_START:
            self.streaming = True
            self._next_sample = time.monotonic()
        elif cmd.type == P.CMD_STOP:
            self.streaming = False
        elif cmd.type == P.CMD_SET_RATE:
            self.rate_hz = cmd.values[0]
        self._send(P.ACK, (cmd.type, cmd.seq))

    def _run(self):
        self._next_sample = time.monotonic()
        while not self._stop.is_set():
            sending = self.streaming and not self.paused
            wait = max(0.0, self._next_sample - time.monotonic()) if sending else 0.02
            ready, _, _ = select.select([self.master], [], [], min(wait, 0.02))
            with self._lock:
                if ready:
                    try:
                        data = os.read(self.master, 4096)
                    except BlockingIOError:
                        data = b""
                    for m in self._decoder.feed(data):
                        self._answer(m)
                now = time.monotonic()
                while self.streaming and not self.paused and now >= self._next_sample:
                    self.sent_samples.append((self.seq, self.k))
                    self._send(P.SAMPLE, sample_fields(self.k, self.t_us))
                    self.k += 1
                    self.t_us += 1_000_000 // self.rate_hz
                    self._next_sample += 1.0 / self.rate_hz
