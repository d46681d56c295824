"""The Raspberry Pi Pico board of the dowel: the only module that imports `machine`.

Hardware (pins in config.py): FSRs through voltage dividers on ADC0-ADC2 (GP26 head, GP27
mid-back, GP28 tailbone); the IMU on I2C0, SDA GP4, SCL GP5 (an MPU-6050 or MPU-6500 at
0x68/0x69, or an LSM6DSOX at 0x6A/0x6B, probed in that order at 400 kHz; the bus then runs at
1 MHz for the LSM6DSOX); the on-board LED; the USB CDC serial port (MicroPython's
sys.stdin/sys.stdout, see usbserial.py) carries protocol v1.

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
    board.rx_pending() -> bool              host bytes are waiting (none is read)
    board.watchdog_running() -> bool        the hardware watchdog is already counting (it
                                            survives a soft reset)
    board.led(on)
    board.watchdog_start(timeout_ms)        start the hardware watchdog (it cannot be stopped)
    board.watchdog_feed()
    board.set_streaming(on)                 the firmware started or stopped streaming
    board.reset()                           hard reset

Ctrl-C: a 0x03 byte inside a command must never interrupt the firmware, and commands arrive
while idle as well as while streaming, so the keyboard interrupt is off (main.py switches it
off in its first statement; set_streaming restates it). mpremote still gets in: the firmware
recognises its "\\r\\x03", stops streaming and raises KeyboardInterrupt, and main.py hands the
port to the REPL (release_console, which also stops the watchdog) with the rest of mpremote's
bytes still unread (read_into stops after a 0x03). Pressing BOOTSEL during the first second
after power-up skips the firmware (held while plugging in, it starts the UF2 bootloader).

I2C: a device that holds SDA low (reset mid-transfer) blocks every transfer; imu_probe sees SDA
low and clocks the bus free (up to nine SCL pulses, then a STOP) and makes the bus again. A
transfer gives up after I2C_TIMEOUT_US instead of the port's 50 ms.
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
from .usbserial import UsbSerial

_RESET_DRAIN_MS = 100  # lets the ACK of a RESET command leave the USB FIFO first
_ENODEV = 19
_ETIMEDOUT = 110
_SAFE_MODE_WINDOW_MS = 1000
# RP2040 watchdog control register: bit 30 is ENABLE; +0x3000 is its atomic bit-clear alias
_WATCHDOG_CTRL = 0x40058000
_WATCHDOG_CTRL_CLR = 0x4005B000
_BUS_PULSES = 9  # a slave mid-byte releases SDA within nine clocks
_BUS_HALF_PERIOD_US = 5  # 100 kHz while clocking the bus free


class Board:
    """The real dowel hardware (see the module docstring for the interface).

    usb: a UsbSerial for the host link; by default MicroPython's own USB console.
    """

    def __init__(self, usb=None):
        # First: a watchdog left running by the previous firmware (a soft reset does not stop
        # it) resets the board within its timeout unless it is fed from now on.
        self._wdt = None
        if self.watchdog_running():
            self._wdt = machine.WDT(timeout=config.WATCHDOG_TIMEOUT_MS)
        self.board_id = bytes(machine.unique_id())
        # time.ticks_* are bound once: calling them through the instance allocates nothing
        self.ticks_us = time.ticks_us
        self.ticks_add = time.ticks_add
        self.ticks_diff = time.ticks_diff
        self.sleep_us = time.sleep_us
        self._adc = tuple(machine.ADC(machine.Pin(gpio)) for gpio in config.FSR_GPIOS)
        self._led = machine.Pin("LED", machine.Pin.OUT)
        self._sda = machine.Pin(config.I2C_SDA_GPIO)  # read without changing its function
        self._i2c_freq = config.I2C_FREQ_HZ
        self._i2c = self._make_bus(config.I2C_FREQ_HZ)
        self.bus_recoveries = 0
        # drivers are made once: probing must not allocate (it runs once a second while the
        # IMU is missing)
        self._mpu = MPU6050(self._i2c, check=False)
        self._lsm = LSM6DSOX(self._i2c, check=False)
        self._imu = None
        if usb is None:
            poll_in = select.poll()
            poll_in.register(sys.stdin, select.POLLIN)
            poll_out = select.poll()
            poll_out.register(sys.stdout, select.POLLOUT)
            usb = UsbSerial(sys.stdin.buffer, sys.stdout.buffer, poll_in, poll_out)
        self._usb = usb
        micropython.kbd_intr(-1)  # already off (main.py); restated for a Board made elsewhere

    # --- time: bound in __init__ (ticks_us, ticks_add, ticks_diff, sleep_us) -----------

    # --- sensors ---------------------------------------------------------------------------

    def read_fsr(self, ch):
        """One ADC conversion of FSR channel ch, 0..65535."""
        return self._adc[ch].read_u16()

    def _make_bus(self, freq):
        return machine.I2C(
            config.I2C_ID,
            sda=machine.Pin(config.I2C_SDA_GPIO),
            scl=machine.Pin(config.I2C_SCL_GPIO),
            freq=freq,
            timeout=config.I2C_TIMEOUT_US,
        )

    def _use_bus(self, i2c):
        self._i2c = i2c
        self._mpu.i2c = i2c
        self._lsm.i2c = i2c

    def recover_bus(self):
        """Clock a stuck bus free (up to nine SCL pulses until SDA is released, then a STOP)
        and make the I2C bus again."""
        self.bus_recoveries += 1
        pin = machine.Pin
        scl = pin(config.I2C_SCL_GPIO, pin.OPEN_DRAIN, value=1)  # takes SCL from the I2C block
        sda = pin(config.I2C_SDA_GPIO, pin.IN, pin.PULL_UP)
        i = 0
        while i < _BUS_PULSES and not sda.value():
            scl.value(0)
            time.sleep_us(_BUS_HALF_PERIOD_US)
            scl.value(1)
            time.sleep_us(_BUS_HALF_PERIOD_US)
            i += 1
        # STOP: SDA rises while SCL is high
        sda.init(pin.OPEN_DRAIN, value=0)
        time.sleep_us(_BUS_HALF_PERIOD_US)
        sda.value(1)
        time.sleep_us(_BUS_HALF_PERIOD_US)
        self._use_bus(self._make_bus(self._i2c_freq))

    def imu_probe(self):
        """Find and configure the IMU; the IMU_* type found, IMU_NONE if none. Never raises,
        allocates nothing while no IMU answers."""
        self._imu = None
        if not self._sda.value():  # a device holds SDA low: nothing can get through
            self.recover_bus()
        if self._i2c_freq != config.I2C_FREQ_HZ:  # probe every chip at the speed all take
            self._i2c_freq = config.I2C_FREQ_HZ
            self._use_bus(self._make_bus(self._i2c_freq))
        mpu = self._mpu
        lsm = self._lsm
        if mpu.probe(0x68) or mpu.probe(0x69):
            return self._configure(mpu, IMU_MPU6050, config.I2C_FREQ_HZ)
        if lsm.probe(0x6A) or lsm.probe(0x6B):
            return self._configure(lsm, IMU_LSM6DSOX, config.I2C_FAST_FREQ_HZ)
        return IMU_NONE

    def _configure(self, imu, imu_type, freq):
        try:
            imu.configure()
            if freq != self._i2c_freq:
                self._i2c_freq = freq
                self._use_bus(self._make_bus(freq))
        except OSError:  # it went away between WHO_AM_I and the settings
            return IMU_NONE
        self._imu = imu
        return imu_type

    def imu_read(self, out):
        """ax, ay, az (milli-g), gx, gy, gz (0.1 deg/s) into out; OSError if the IMU fails."""
        imu = self._imu
        if imu is None:
            raise OSError(_ENODEV)
        imu.read_into(out)

    # --- USB serial (see usbserial.py) ---------------------------------------------------

    def write(self, buf):
        """Queue one frame for the host without blocking; False if it cannot go now."""
        return self._usb.write(buf)

    def read_into(self, buf):
        """Host bytes into buf without blocking; stops after a 0x03 (see the module doc)."""
        return self._usb.read_into(buf)

    def rx_pending(self):
        return self._usb.rx_pending()

    # --- the rest --------------------------------------------------------------------------

    def led(self, on):
        self._led.value(1 if on else 0)

    def watchdog_running(self):
        """True if the hardware watchdog is counting (left by the firmware before a soft
        reset, or started here)."""
        return bool((machine.mem32[_WATCHDOG_CTRL] >> 30) & 1)

    def watchdog_start(self, timeout_ms):
        # rp2040: at most 8388 ms
        if self._wdt is None:
            self._wdt = machine.WDT(timeout=timeout_ms)

    def watchdog_feed(self):
        wdt = self._wdt
        if wdt is not None:
            wdt.feed()

    def watchdog_stop(self):
        """Stop the hardware watchdog (MicroPython has no call for it; the SDK clears ENABLE
        the same way): only when the port is handed to a person at the REPL."""
        machine.mem32[_WATCHDOG_CTRL_CLR] = 1 << 30
        self._wdt = None

    def set_streaming(self, on):
        # Ctrl-C stays off in both states (see the module docstring); restated here because
        # code run from the REPL before main.py (or a soft reset) may have turned it back on.
        micropython.kbd_intr(-1)

    def release_console(self):
        """Give the USB console back to the REPL: Ctrl-C on again, and the watchdog stopped
        so that the board is not reset under mpremote or a person typing."""
        self.watchdog_stop()
        micropython.kbd_intr(3)

    def safe_mode(self, window_ms=_SAFE_MODE_WINDOW_MS):
        """True if BOOTSEL is pressed within window_ms of boot: main.py then skips the
        firmware and leaves the REPL free."""
        t0 = time.ticks_ms()
        while time.ticks_diff(time.ticks_ms(), t0) < window_ms:
            self.watchdog_feed()  # a watchdog from before a soft reset keeps running
            if rp2.bootsel_button():
                return True
            time.sleep_ms(20)
        return False

    def reset(self):
        time.sleep_ms(_RESET_DRAIN_MS)
        machine.reset()
