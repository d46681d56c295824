"""MicroPython board of the simulated dowel: the firmware's board interface on a pre-rendered
sensor stream, with the pty master as stdin/stdout (the host side is the pty's slave).

The stream file (written by smart_dowel.sim.stream on CPython) is a header then one row per
millisecond of scenario time; the board picks the row for its own clock, so the firmware's
timing is real MicroPython timing. Scenario time 0 is the first START, as on CPython.
"""

import select
import struct
import sys
import time

from dowel_protocol.messages import IMU_SIMULATED

MAGIC = b"DWLS"
HEADER_FMT = "<4sBHI"  # magic, version, rows per second, rows
HEADER_LEN = 11
ROW_FMT = "<HHHhhhhhh"  # head, midback, tailbone (ADC counts before ADC noise), IMU x6
ROW_LEN = 18
TICKS_MASK = (1 << 30) - 1
ADC_OFFSET_COUNTS = 40
ADC_NOISE_COUNTS = 24  # rms


class BoardReset(BaseException):
    """The board was reset (RESET command or watchdog); simmain starts the firmware again."""


class MpSimBoard:
    def __init__(self, stream_path, seed=1, speed=1.0):
        self._f = open(stream_path, "rb")
        hdr = self._f.read(HEADER_LEN)
        magic, version, self._rows_per_s, self._rows = struct.unpack(HEADER_FMT, hdr)
        if magic != MAGIC or version != 1:
            raise ValueError("not a dowel sensor stream: %s" % stream_path)
        self._row = bytearray(ROW_LEN)
        self._row_i = -1
        self._vals = (0, 0, 0, 0, 0, 0, 0, 0, 0)
        self.board_id = b"SIMD" + struct.pack(">I", seed & 0xFFFFFFFF)
        self._speed = speed
        self._raw_last = time.ticks_us()
        self._raw_acc = 0  # real microseconds since power-up
        self._rand = (seed * 2654435761 + 12345) & 0xFFFFFFFF or 1
        self._in = sys.stdin.buffer
        self._out = sys.stdout.buffer
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)
        self._pend = bytearray(512)
        self._pend_n = 0
        self._watchdog_us = 0
        self._fed = 0
        self._tick0 = 0  # ticks restart from 0 after a reset, like the RP2040's
        self.stream_start = -1
        self.streaming = False
        self.led_on = False

    # --- time ------------------------------------------------------------------------------
    def _now(self):
        raw = time.ticks_us()
        self._raw_acc += time.ticks_diff(raw, self._raw_last)
        self._raw_last = raw
        if self._speed == 1.0:
            return self._raw_acc
        return int(self._raw_acc * self._speed)

    def ticks_us(self):
        now = self._now()
        if self._watchdog_us and now - self._fed > self._watchdog_us:
            self._watchdog_us = 0
            self.reset()
        return (now - self._tick0) & TICKS_MASK

    def ticks_add(self, t, d):
        return (t + d) & TICKS_MASK

    def ticks_diff(self, a, b):
        return ((a - b + (1 << 29)) & TICKS_MASK) - (1 << 29)

    def sleep_us(self, us):
        if us > 0:
            time.sleep_us(int(us / self._speed) if self._speed != 1.0 else us)

    def finished(self):
        """The scenario has played to its end (only after streaming began)."""
        if self.stream_start < 0:
            return False
        return (self._now() - self.stream_start) * self._rows_per_s // 1000000 >= self._rows

    # --- sensors ---------------------------------------------------------------------------
    def _load(self):
        i = 0
        if self.stream_start >= 0:
            i = (self._now() - self.stream_start) * self._rows_per_s // 1000000
            if i >= self._rows:
                i = self._rows - 1
        if i != self._row_i:
            self._row_i = i
            self._f.seek(HEADER_LEN + i * ROW_LEN)
            self._f.readinto(self._row)
            self._vals = struct.unpack(ROW_FMT, self._row)
        return self._vals

    def _noise(self):
        # xorshift32; the sum of four uniforms is close enough to a Gaussian for ADC noise
        total = 0
        for _ in range(4):
            x = self._rand
            x ^= (x << 13) & 0xFFFFFFFF
            x ^= x >> 17
            x ^= (x << 5) & 0xFFFFFFFF
            self._rand = x
            total += x & 0xFFFF
        # four uniforms on 0..65535 have a mean of 131070 and an rms of about 37837
        return (total - 131070) * ADC_NOISE_COUNTS // 37837

    def read_fsr(self, ch):
        c = self._load()[ch] + ADC_OFFSET_COUNTS + self._noise()
        return 0 if c < 0 else (65535 if c > 65535 else c)

    def imu_probe(self):
        return IMU_SIMULATED

    def imu_read(self, out):
        v = self._load()
        out[0] = v[3]
        out[1] = v[4]
        out[2] = v[5]
        out[3] = v[6]
        out[4] = v[7]
        out[5] = v[8]

    # --- host link (the pty master) ---------------------------------------------------------
    def write(self, buf):
        out = self._out
        if self._pend_n:
            r = out.write(memoryview(self._pend)[: self._pend_n])
            if r:
                self._pend[: self._pend_n - r] = self._pend[r : self._pend_n]
                self._pend_n -= r
            if self._pend_n:
                return False
        r = out.write(buf)
        if r is None:
            return False  # the pty is full: nobody is reading, the frame is dropped
        n = len(buf)
        if r < n:
            # part of the frame went out: the rest goes first next time, frames stay whole
            self._pend[: n - r] = buf[r:]
            self._pend_n = n - r
        return True

    def read_into(self, buf):
        if not self._poll.poll(0):
            return 0
        n = self._in.readinto(buf)
        return n or 0

    def rx_pending(self):
        return bool(self._poll.poll(0))

    def watchdog_running(self):
        return False  # a simulated power-on starts with the watchdog off

    # --- the rest --------------------------------------------------------------------------
    def led(self, on):
        self.led_on = bool(on)

    def watchdog_start(self, timeout_ms):
        self._watchdog_us = timeout_ms * 1000
        self._fed = self._now()

    def watchdog_feed(self):
        self._fed = self._now()

    def set_streaming(self, on):
        self.streaming = bool(on)
        if on and self.stream_start < 0:
            self.stream_start = self._now()

    def reset(self):
        self._watchdog_us = 0
        self.streaming = False
        self._tick0 = self._now()
        raise BoardReset()
