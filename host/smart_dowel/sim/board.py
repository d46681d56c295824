"""The simulated dowel's board: the firmware's board interface (dowel_device/board.py) driven
by a body model instead of ADCs and an IMU, on a real-time or a virtual clock.

The scenario's time 0 is the first time the firmware starts streaming, so the truth's times
line up with the first sample after START (or after power-up with autostart).
"""

import random
import struct
import time

import numpy as np

from dowel_protocol.messages import IMU_NONE, IMU_SIMULATED

from ..fsr import ADC_FULL_SCALE, newtons_to_counts

TICKS_PERIOD = 1 << 30  # the RP2040's time.ticks_us() wraps here
TICKS_MASK = TICKS_PERIOD - 1
TICKS_HALF = TICKS_PERIOD >> 1
ADC_OFFSET_COUNTS = 40  # RP2040 ADC reads a few LSB above zero with nothing connected
ADC_NOISE_COUNTS = 24.0  # rms, u16 scale (about 1.5 LSB of the 12-bit converter)
REFRESH_US = 400  # the body is looked at again after this much device time
NOISE_BLOCK = 4096
_ENODEV = 19


class BoardReset(BaseException):
    """The simulated board was reset (RESET command or watchdog); not an Exception, so the
    firmware's loop cannot catch it: the runner starts the firmware again."""


class RealClock:
    """Device time from the host's monotonic clock, optionally sped up."""

    def __init__(self, speed=1.0):
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.speed = float(speed)
        self._t0 = time.monotonic_ns()

    def now_us(self):
        return int((time.monotonic_ns() - self._t0) * self.speed) // 1000

    def sleep_us(self, us):
        if us > 0:
            time.sleep(us / 1e6 / self.speed)


class PacedClock(RealClock):
    """Device time counted from the firmware's own sleeps, kept to the host's clock in bursts.

    The firmware's sleeps move device time; the thread really sleeps only once device time is
    ahead of the host's, and then until it is `burst_s` behind, so the firmware runs that much
    of its schedule at a time: its samples leave in bursts (two at 100 Hz with 20 ms), each
    at or up to about `burst_s` after the time it is stamped with (plus however late the
    host's sleep wakes: p99 31-33 ms, max 35-47 ms at 30 ms, an outside tester's runs), every
    stamp on its slot. Far fewer wake-ups than a board sleeping until each slot (the firmware
    wakes every 5 ms at most to read commands), for a demo in the app's own process; a host
    starved for a while gets the samples late, none lost.
    """

    def __init__(self, speed=1.0, burst_s=0.02, us_per_read=1):
        super().__init__(speed)
        if burst_s <= 0:
            raise ValueError("burst_s must be > 0 (RealClock sends every sample at its time)")
        self.burst_us = int(burst_s * 1e6)
        self.us_per_read = us_per_read
        self.us = 0

    def host_us(self):
        return super().now_us()

    def now_us(self):
        self.us += self.us_per_read  # a loop that spins on the clock still gets somewhere
        return self.us

    def sleep_us(self, us):
        if us <= 0:
            return
        self.us += int(us)
        ahead = self.us - self.host_us()
        if ahead > 0:
            time.sleep((ahead + self.burst_us) / 1e6 / self.speed)


class VirtualClock:
    """Device time that moves only when the firmware sleeps (and a little per clock read, so
    a loop that spins on the clock still gets anywhere): fast, exact tests."""

    def __init__(self, us_per_read=2):
        self.us = 0
        self.us_per_read = us_per_read

    def now_us(self):
        self.us += self.us_per_read
        return self.us

    def sleep_us(self, us):
        if us > 0:
            self.us += int(us)

    def advance_s(self, s):
        self.us += int(s * 1e6)


class SimBoard:
    """Board interface of the firmware on a body model (see dowel_device/board.py).

    out(buf) -> bool takes frames (False: the link cannot take it now, frame dropped);
    inp(buf) -> int fills a bytearray with host bytes (0 if none). Defaults: frames kept in
    .sent (a list of bytes), no host input.
    """

    def __init__(self, body, clock=None, out=None, inp=None, seed=None, ticks_start_us=0,
                 pending=None):
        self.body = body
        self.clock = clock if clock is not None else RealClock()
        self.sent = []
        self._out = out if out is not None else self._keep
        self._inp = inp if inp is not None else (lambda buf: 0)
        self._pending = pending if pending is not None else (lambda: False)
        seed = body.seed if seed is None else seed
        self.board_id = b"SIMD" + struct.pack(">I", seed & 0xFFFFFFFF)
        # the ADCs' noise, drawn NOISE_BLOCK values at a time (a value per reading)
        self._rng = np.random.default_rng(seed * 7919 + 17)
        self._noise = []
        self._noise_i = 0
        self._ticks_offset = int(ticks_start_us) - self.clock.now_us()
        self.imu_present = True  # tests switch it off to simulate a failed IMU
        self.led_on = False
        self.streaming = False
        self.resets = 0
        self.stream_start_us = None  # clock time of the first START: the scenario's t = 0
        self.stream_start_ticks = None  # the same instant on the firmware's ticks_us clock
        self._watchdog_ms = None
        self._watchdog_fed_us = 0
        self._sensed_us = None
        self._counts = (0, 0, 0)
        self._imu = (0, 0, 0, 0, 0, 0)
        self._block = self._block_counts = self._block_imu = None  # the body's block, as read

    def power_on(self):
        """Ticks start from 0 when the firmware starts (the runner calls this right before)."""
        self._ticks_offset = -self.clock.now_us()

    # --- time -------------------------------------------------------------------------------
    def ticks_us(self):
        now = self.clock.now_us()
        if self._watchdog_ms is not None and now - self._watchdog_fed_us > self._watchdog_ms * 1000:
            self._watchdog_ms = None
            self.reset()
        return (now + self._ticks_offset) & TICKS_MASK

    @staticmethod
    def ticks_add(t, delta):
        return (t + delta) & TICKS_MASK

    @staticmethod
    def ticks_diff(a, b):
        return ((a - b + TICKS_HALF) & TICKS_MASK) - TICKS_HALF

    def sleep_us(self, us):
        self.clock.sleep_us(us)

    def body_time_s(self):
        """Scenario time now: s since streaming first started (0 before)."""
        if self.stream_start_us is None:
            return 0.0
        return (self.clock.now_us() - self.stream_start_us) / 1e6

    def scenario_over(self):
        """True once the body's scenario has played to its end (never for an endless body)."""
        d = self.body.duration_s
        return d is not None and self.stream_start_us is not None and self.body_time_s() >= d

    # --- sensors ----------------------------------------------------------------------------
    def _sense(self, now=None):
        if now is None:
            now = self.clock.now_us()
        if self._sensed_us is not None and 0 <= now - self._sensed_us < REFRESH_US:
            return
        self._sensed_us = now
        blk, i = self.body.block_at(self.body_time_s())
        if blk is not self._block:
            # what the ADCs and the IMU read over the whole block, at once
            c = blk[2]
            self._block = blk
            self._block_counts = list(zip(*(newtons_to_counts(c[k]).tolist()
                                            for k in ("head_n", "midback_n", "tailbone_n"))))
            self._block_imu = list(zip(*(_clip16_all(c[k] * f) for k, f in _IMU_SCALE)))
        self._counts = self._block_counts[i]
        self._imu = self._block_imu[i]

    def read_fsr(self, ch):
        now = self.clock.now_us()
        sensed = self._sensed_us
        if sensed is None or not 0 <= now - sensed < REFRESH_US:
            self._sense(now)
        i = self._noise_i
        if i >= len(self._noise):
            self._noise = self._rng.normal(ADC_OFFSET_COUNTS, ADC_NOISE_COUNTS,
                                           NOISE_BLOCK).tolist()
            i = 0
        self._noise_i = i + 1
        c = self._counts[ch] + self._noise[i]
        return min(ADC_FULL_SCALE, max(0, int(c)))

    def imu_probe(self):
        return IMU_SIMULATED if self.imu_present else IMU_NONE

    def imu_read(self, out):
        if not self.imu_present:
            raise OSError(_ENODEV, "simulated IMU not answering")
        self._sense()
        v = self._imu
        for i in range(6):
            out[i] = v[i]

    # --- host link --------------------------------------------------------------------------
    def _keep(self, buf):
        self.sent.append(bytes(buf))
        return True

    def write(self, buf):
        return bool(self._out(buf))

    def read_into(self, buf):
        return self._inp(buf)

    def rx_pending(self):
        return self._pending()

    def watchdog_running(self):
        return False  # a simulated power-on starts with the watchdog off

    # --- the rest ---------------------------------------------------------------------------
    def led(self, on):
        self.led_on = bool(on)

    def watchdog_start(self, timeout_ms):
        self._watchdog_ms = int(timeout_ms)
        self._watchdog_fed_us = self.clock.now_us()

    def watchdog_feed(self):
        self._watchdog_fed_us = self.clock.now_us()

    def set_streaming(self, on):
        self.streaming = bool(on)
        if on and self.stream_start_us is None:
            self.stream_start_us = self.clock.now_us()
            self.stream_start_ticks = (self.stream_start_us + self._ticks_offset) & TICKS_MASK

    def reset(self):
        """Hard reset: the watchdog stops, ticks restart near 0, the firmware starts again."""
        self.resets += 1
        self._watchdog_ms = None
        self.streaming = False
        self.led_on = False
        self._ticks_offset = -self.clock.now_us()
        raise BoardReset()


# the IMU's registers: mg and 0.1 deg/s, in the firmware's order
_IMU_SCALE = (("ax_g", 1000.0), ("ay_g", 1000.0), ("az_g", 1000.0),
              ("gx_dps", 10.0), ("gy_dps", 10.0), ("gz_dps", 10.0))


def _clip16_all(x):
    """int16 register values of a numpy column (rounded half to even, as round() does)."""
    return np.clip(np.round(x), -32768, 32767).astype(int).tolist()
