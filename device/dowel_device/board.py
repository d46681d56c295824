"""The Raspberry Pi Pico board of the dowel: the only module that imports `machine`.

Hardware (pins in config.py): FSRs through voltage dividers on ADC0-ADC2 (GP26 head, GP27
mid-back, GP28 tailbone); the IMU on I2C0 at 400 kHz, SDA GP4, SCL GP5 (an MPU-6050 at 0x68/0x69
or an LSM6DSOX at 0x6A/0x6B, probed in that order); the on-board LED; the USB CDC serial port
(MicroPython's sys.stdin/sys.stdout) carries protocol v1.

The board interface, which the firmware uses and the simulated board and test fakes implement:

    board.board_id -> bytes (8)             machine.unique_id()
    board.ticks_us() -> int                 time.ticks_* semantics (the RP2040 wraps at 2**30)
    board.ticks_add(t, delta_us) -> int
    board.ticks_diff(a, b) -> int
    board.sleep_us(us)
    board.read_fsr(ch) -> int               ch 0 head, 1 mid-back, 2 tailbone; one ADC read,
                                            0..65535 (ADC.read_u16 scale)
    board.imu_probe() -> int                dowel_protocol IMU_* constant of the IMU found
                                            (IMU_NONE if none); never raises
    board.imu_read(out) -> None             fills a preallocated array('h', 6): ax, ay, az in
                                            milli-g, gx, gy, gz in 0.1 deg/s; OSError on failure
    board.write(buf) -> bool                non-blocking; False if the USB link cannot take the
                                            frame now (the firmware drops and counts it)
    board.read_into(buf) -> int             non-blocking read of host bytes into a preallocated
                                            bytearray; 0 if none
    board.led(on)
    board.watchdog_start(timeout_ms)        start the hardware watchdog (it cannot be stopped)
    board.watchdog_feed()
    board.set_streaming(on)                 the firmware started or stopped streaming
    board.reset()                           hard reset

Ctrl-C: a 0x03 byte inside a command must never interrupt the firmware, and commands arrive
while idle as well as while streaming, so this board disables the keyboard interrupt
(micropython.kbd_intr(-1)) in both states. mpremote still gets in: it sends "\\r\\x03", which no
command frame can start with; the firmware recognises it, stops streaming and raises
KeyboardInterrupt, and main.py hands the port to the REPL with the rest of mpremote's bytes
still unread (read_into stops after a 0x03). Pressing BOOTSEL during the first second after
power-up skips the firmware (held while plugging in, it starts the UF2 bootloader instead).
"""

import sys
import time

import machine
import micropython
import rp2
import select

from dowel_protocol.messages import IMU_LSM6DSOX, IMU_MPU6050, IMU_NONE

from . import config
from .lsm6dsox import LSM6DSOX
from .mpu6050 import MPU6050

_IMU_DRIVERS = (
    (IMU_MPU6050, MPU6050, (0x68, 0x69)),
    (IMU_LSM6DSOX, LSM6DSOX, (0x6A, 0x6B)),
)

_DELIMITER = b"\x00"
_RESET_DRAIN_MS = 100  # lets the ACK of a RESET command leave the USB FIFO first
_ENODEV = 19
_SAFE_MODE_WINDOW_MS = 1000


class Board:
    """The real dowel hardware (see the module docstring for the interface)."""

    def __init__(self):
        self.board_id = bytes(machine.unique_id())
        # time.ticks_* are bound once: calling them through the instance allocates nothing
        self.ticks_us = time.ticks_us
        self.ticks_add = time.ticks_add
        self.ticks_diff = time.ticks_diff
        self.sleep_us = time.sleep_us
        self._adc = tuple(machine.ADC(machine.Pin(gpio)) for gpio in config.FSR_GPIOS)
        self._led = machine.Pin("LED", machine.Pin.OUT)
        self._i2c = machine.I2C(
            config.I2C_ID,
            sda=machine.Pin(config.I2C_SDA_GPIO),
            scl=machine.Pin(config.I2C_SCL_GPIO),
            freq=config.I2C_FREQ_HZ,
        )
        self._imu = None
        self._wdt = None
        self._out = sys.stdout.buffer
        self._in = sys.stdin.buffer
        # Separate pollers: ipoll(0) answers without blocking and without allocating.
        self._poll_in = select.poll()
        self._poll_in.register(sys.stdin, select.POLLIN)
        self._poll_out = select.poll()
        self._poll_out.register(sys.stdout, select.POLLOUT)
        self._byte = bytearray(1)
        self._torn = False  # a frame went out only in part: end it with a delimiter first
        micropython.kbd_intr(-1)

    # --- time: bound in __init__ (ticks_us, ticks_add, ticks_diff, sleep_us) -----------

    # --- sensors ---------------------------------------------------------------------------

    def read_fsr(self, ch):
        """One ADC conversion of FSR channel ch, 0..65535."""
        return self._adc[ch].read_u16()

    def imu_probe(self):
        """Find and configure the IMU; the IMU_* type found, IMU_NONE if none. Never raises."""
        self._imu = None
        for imu_type, driver, addresses in _IMU_DRIVERS:
            for address in addresses:
                try:
                    self._imu = driver(self._i2c, address)
                except OSError:
                    continue  # nothing (or another chip) at this address: try the next one
                return imu_type
        return IMU_NONE

    def imu_read(self, out):
        """ax, ay, az (milli-g), gx, gy, gz (0.1 deg/s) into out; OSError if the IMU fails."""
        imu = self._imu
        if imu is None:
            raise OSError(_ENODEV)
        imu.read_into(out)

    # --- USB serial ------------------------------------------------------------------------

    def _writable(self):
        for _ in self._poll_out.ipoll(0):
            return True
        return False

    def write(self, buf):
        """Queue one frame for the host without blocking; False if the link has no room.

        POLLOUT on the rp2 USB CDC only says the TX FIFO has some room (or that no host has
        the port open, when the FIFO keeps the latest bytes): when a frame goes out only in
        part, it is counted as dropped and the next frame starts with a 0x00 so the host
        loses just the torn one.
        """
        if not self._writable():
            return False
        if self._torn:
            if self._out.write(_DELIMITER) == 0:
                return False
            self._torn = False
        n = self._out.write(buf)
        if n is not None and n != len(buf):
            self._torn = True
            return False
        return True

    def read_into(self, buf):
        """Host bytes into buf without blocking; the count (0 if none).

        Stops after a 0x03 so that, on an mpremote break-in, the bytes that follow stay for
        the REPL.
        """
        n = 0
        cap = len(buf)
        one = self._byte
        poller = self._poll_in
        while n < cap:
            ready = False
            for _ in poller.ipoll(0):
                ready = True
            if not ready:
                break
            if not self._in.readinto(one):
                break
            c = one[0]
            buf[n] = c
            n += 1
            if c == 0x03:
                break
        return n

    # --- the rest --------------------------------------------------------------------------

    def led(self, on):
        self._led.value(1 if on else 0)

    def watchdog_start(self, timeout_ms):
        # rp2040: at most 8388 ms; once running it cannot be stopped or changed
        if self._wdt is None:
            self._wdt = machine.WDT(timeout=timeout_ms)

    def watchdog_feed(self):
        wdt = self._wdt
        if wdt is not None:
            wdt.feed()

    def set_streaming(self, on):
        # Ctrl-C stays off in both states (see the module docstring); restated here because
        # code run from the REPL before main.py (or a soft reset) may have turned it back on.
        micropython.kbd_intr(-1)

    def release_console(self):
        """Give the USB console back to the REPL (Ctrl-C on again)."""
        micropython.kbd_intr(3)

    def safe_mode(self, window_ms=_SAFE_MODE_WINDOW_MS):
        """True if BOOTSEL is pressed within window_ms of boot: main.py then skips the
        firmware and leaves the REPL free."""
        t0 = time.ticks_ms()
        while time.ticks_diff(time.ticks_ms(), t0) < window_ms:
            if rp2.bootsel_button():
                return True
            time.sleep_ms(20)
        return False

    def reset(self):
        time.sleep_ms(_RESET_DRAIN_MS)
        machine.reset()
