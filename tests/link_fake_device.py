"""A small fake dowel on the master side of a real pseudo-terminal, for the serial link tests,
which can also misbehave on purpose (issue 17's cases).

It speaks dowel_protocol: GET_INFO -> INFO + ACK, PING/START/STOP/SET_RATE/GET_STATUS -> ACK
(or the NACK a test asks for), and streams SAMPLE frames whose fields follow sample_fields(k),
the first after START with RESYNC, with a STATUS heartbeat every second. All frames it sends
share one sequence counter, as the firmware's do. protocol=0x10 plays a 1.0 device (no boot id
in INFO and STATUS, 0x10 headers).

Misbehaviour: restart() (a reboot, into idle or straight back to streaming), nack_start() (with
a TEXT saying why), text(), malform_frames() (every frame with bytes appended, same version),
garbage() (the line turns to junk), lie_about_rate() (a clock and rate that disagree with what
INFO says), skip() (frames lost), pause() (a stalled line).
"""

import os
import random
import select
import threading
import time
import tty

import dowel_protocol as P
from dowel_protocol import cobs
from dowel_protocol.crc import crc16, crc32_into

BOARD_ID = bytes.fromhex("e6614103e7452d2f")
STATUS_EVERY_S = 1.0


def sample_fields(k, t_us, flags=0):
    """The SAMPLE values of the k-th sample (k counts from 0 over the device's life)."""
    return (
        t_us & 0x3FFFFFFF,
        k & 0xFFFF, 1000 + (k % 7), 2000 + (k % 11),
        (k % 50) - 25, -(k % 30), 1000, (k % 9) - 4, 3, -3,
        flags,
    )


class FakeDowel:
    def __init__(self, rate_hz=100, seq=0, sample_index=0, t_us=0, streaming=False,
                 board_id=BOARD_ID, fw=(1, 2, 3), silent=False, boot_id=0xB007_1D01,
                 protocol=P.PROTOCOL_VERSION, status_every_s=STATUS_EVERY_S):
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
        self.protocol = protocol  # the header's version byte: 0x11, or 0x10 for a 1.0 device
        self.fw = fw
        self.silent = silent  # reads commands, answers nothing
        self.paused = False  # streaming, but no sample leaves (a stalled line); see pause()
        self.status_every_s = status_every_s
        self.nack = {}  # cmd_type -> NACK error code
        self.nack_left = {}  # cmd_type -> how many more times to NACK it (absent: always)
        self.nack_text = {}  # cmd_type -> TEXT sent just before its NACK
        self.commands = []  # every command Message received, in order
        self.command_times = []  # time.monotonic() of each, in the same order
        self.sent_samples = []  # (seq, k) of every SAMPLE written
        self.written_seqs = []  # sequence number of every frame written
        self.restarts = []  # time.monotonic() of every restart()
        self.malformed = False  # every frame gets bytes appended (see malform_frames)
        self.junk = False  # the line carries junk instead of frames (see garbage)
        self.send_rate_hz = None  # really sending at this rate (see lie_about_rate)
        self.t_step_us = None  # ... with this step of the clock between samples
        self._flags_once = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._decoder = P.StreamDecoder()
        self._rng = random.Random(1)
        self._next_status = time.monotonic() + status_every_s
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

    def restart(self, streaming=False, boot_id=None):
        """Reboot: sequence numbers from 0, the clock from near 0, a new boot id. The device
        comes back idle (as the firmware does), or with streaming=True straight back to
        streaming (a firmware that starts by itself), its first sample flagged RESYNC."""
        with self._lock:
            self.restarts.append(time.monotonic())
            self.seq = 0
            self.t_us = self._rng.randrange(1000, 50000)
            self.boot_id = boot_id if boot_id is not None else self._rng.getrandbits(32)
            self.streaming = streaming
            self._decoder = P.StreamDecoder()
            self._next_sample = time.monotonic()
            self._next_status = time.monotonic() + self.status_every_s
            self._flags_once = P.FLAG_RESYNC if streaming else 0

    def nack_start(self, times, code=P.ERR_NOT_ALLOWED, text=None):
        """NACK the next `times` START commands with `code`, each after a TEXT `text`."""
        with self._lock:
            self.nack[P.CMD_START] = code
            self.nack_left[P.CMD_START] = times
            if text is not None:
                self.nack_text[P.CMD_START] = text

    def text(self, level, message):
        """Send a TEXT message now."""
        with self._lock:
            self._send(P.TEXT, (level, message))

    def malform_frames(self, on=True):
        """Every frame from now on gets two bytes appended to its payload (same version, CRC
        recomputed): well-formed on the wire, but no receiver of this version may accept it.
        on="samples": only the SAMPLE frames."""
        with self._lock:
            self.malformed = on

    def garbage(self, on=True):
        """The line turns to junk (random bytes with a few zeros) instead of frames; the frames
        that would have been sent still use their sequence numbers."""
        with self._lock:
            self.junk = on

    def lie_about_rate(self, send_rate_hz, t_step_us):
        """Keep saying rate_hz in INFO and STATUS, but send send_rate_hz samples a second,
        stamped t_step_us apart."""
        with self._lock:
            self.send_rate_hz = send_rate_hz
            self.t_step_us = t_step_us

    def commands_of(self, cmd_type):
        return [m for m in list(self.commands) if m.type == cmd_type]

    def times_of(self, cmd_type):
        return [t for m, t in zip(list(self.commands), list(self.command_times))
                if m.type == cmd_type]

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

    def _frame(self, msg_type, values):
        if (self.protocol & 0x0F) < P.APPENDED.get(msg_type, (0,))[0]:
            values = tuple(values)[:_older_count(msg_type)]  # an older minor's payload
        body = P.pack_body(msg_type, self.seq, values, self.protocol)
        if self.malformed is True or (self.malformed == "samples" and msg_type == P.SAMPLE):
            # two bytes appended to the fields, by a device of the same minor version: a good
            # CRC (and check, from 1.2 on) over a payload one length too long
            check = P.has_check(self.protocol)
            body = bytearray(body[:-6] if check else body[:-2]) + b"\x5a\xa5"
            if check:
                body += bytes(4)
                crc32_into(body, len(body) - 4)
            c = crc16(body)
            body = bytes(body) + bytes((c & 0xFF, c >> 8))
        return cobs.encode(body) + b"\x00"

    def _send(self, msg_type, values=()):
        if self.junk:
            self._write(bytes(self._rng.randrange(256) for _ in range(31)))
        else:
            self._write(self._frame(msg_type, values))
        self.written_seqs.append(self.seq)
        self.seq = (self.seq + 1) & 0xFFFF

    def _info_values(self):
        return (
            self.fw[0], self.fw[1], self.fw[2], self.protocol, self.board_id,
            0x0F, P.IMU_SIMULATED, self.rate_hz, 4, 1 if self.streaming else 0, self.boot_id,
        )

    def busy(self, mean_us, max_us):
        """Report this busy time (us per sample slot, mean and max) in STATUS from now on."""
        self.busy_us = (mean_us, max_us)

    def _status_values(self):
        mean_us, max_us = getattr(self, "busy_us", (900, 1500))
        return (12345, self.k, 2, 1, 3, 0, self.rate_hz,
                (1 if self.streaming else 0) | P.STATUS_IMU_PRESENT, 0, self.boot_id, mean_us,
                max_us)

    def _answer(self, cmd):
        self.commands.append(cmd)
        self.command_times.append(time.monotonic())
        if self.silent:
            return
        code = self.nack.get(cmd.type)
        if code is not None:
            left = self.nack_left.get(cmd.type)
            if left is not None:
                if left <= 1:
                    del self.nack[cmd.type]
                    del self.nack_left[cmd.type]
                else:
                    self.nack_left[cmd.type] = left - 1
            text = self.nack_text.get(cmd.type)
            if text is not None:
                self._send(P.TEXT, (P.LEVEL_ERROR, text))
            self._send(P.NACK, (cmd.type, cmd.seq, code))
            return
        if cmd.type == P.CMD_GET_INFO:
            self._send(P.INFO, self._info_values())
        elif cmd.type == P.CMD_GET_STATUS:
            self._send(P.STATUS, self._status_values())
        elif cmd.type == P.CMD_START:
            if not self.streaming:
                self.streaming = True
                self._next_sample = time.monotonic()
                self._next_status = time.monotonic() + self.status_every_s
                self._flags_once = P.FLAG_RESYNC
        elif cmd.type == P.CMD_STOP:
            self.streaming = False
        elif cmd.type == P.CMD_SET_RATE:
            self.rate_hz = cmd.values[0]
            if self.streaming:
                self._flags_once = P.FLAG_RESYNC
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
                rate = self.send_rate_hz or self.rate_hz
                step = self.t_step_us or 1_000_000 // self.rate_hz
                while self.streaming and not self.paused and now >= self._next_sample:
                    self.sent_samples.append((self.seq, self.k))
                    flags, self._flags_once = self._flags_once, 0
                    self._send(P.SAMPLE, sample_fields(self.k, self.t_us, flags))
                    self.k += 1
                    self.t_us += step
                    self._next_sample += 1.0 / rate
                if self.streaming and not self.paused and now >= self._next_status:
                    self._next_status += self.status_every_s
                    self._send(P.STATUS, self._status_values())


def _older_count(msg_type):
    """How many fields the older minor's payload of this type has."""
    import struct

    fmt = P.APPENDED[msg_type][1]
    return len(struct.unpack(fmt, bytes(struct.calcsize(fmt))))
