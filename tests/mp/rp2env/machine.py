"""Stand-in for the rp2 `machine` module, enough for dowel_device/board.py: pins, ADC, an I2C
bus with scripted devices that can hold SDA low, the watchdog (its control register in mem32,
a model that counts expiries), unique_id and reset. Time is the stand-in `time` module's."""

import time

# --- the I2C bus and its devices ----------------------------------------------------------


class Bus:
    def __init__(self):
        self.devices = {}  # address -> bytearray(256) of registers
        self.stuck = 0  # SDA held low until this many SCL pulses
        self.pulses = 0
        self.made = []  # (freq, timeout_us) of every machine.I2C made
        self.ops = 0

    def add(self, address, regs):
        r = bytearray(256)
        for k in regs:
            r[k] = regs[k]
        self.devices[address] = r
        return r


BUS = Bus()
SDA_GPIO = 4
SCL_GPIO = 5


class I2C:
    def __init__(self, ident, sda=None, scl=None, freq=400000, timeout=50000):
        self.freq = freq
        self.timeout = timeout
        BUS.made.append((freq, timeout))

    def _check(self, addr):
        BUS.ops += 1
        if BUS.stuck:
            time.advance(self.timeout)
            raise OSError(110)  # ETIMEDOUT, as the rp2 port reports a held bus
        if addr not in BUS.devices:
            raise OSError(5)  # EIO: no ACK
        return BUS.devices[addr]

    def readfrom_mem_into(self, addr, reg, buf):
        regs = self._check(addr)
        i = 0
        n = len(buf)
        while i < n:
            buf[i] = regs[(reg + i) & 0xFF]
            i += 1

    def writeto_mem(self, addr, reg, buf):
        regs = self._check(addr)
        regs[reg] = buf[0]


# --- pins and the ADC ---------------------------------------------------------------------


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    PULL_UP = 1

    def __init__(self, ident, mode=None, pull=None, value=None):
        self.ident = ident
        self.level = 1 if value is None else value

    def init(self, mode=None, pull=None, value=None):
        if value is not None:
            self.value(value)

    def value(self, v=None):
        if v is None:
            if self.ident == SDA_GPIO:
                return 0 if BUS.stuck else 1
            return self.level
        if self.ident == SCL_GPIO and BUS.stuck and self.level == 0 and v:
            BUS.pulses += 1  # a rising SCL edge clocks the stuck device one bit on
            BUS.stuck -= 1
        self.level = v
        return None


class ADC:
    def __init__(self, pin):
        self.pin = pin

    def read_u16(self):
        return 1234


# --- the watchdog -------------------------------------------------------------------------

WATCHDOG_CTRL = 0x40058000
WATCHDOG_CTRL_CLR = 0x4005B000


class Watchdog:
    def __init__(self):
        self.enabled = False
        self.timeout_us = 0
        self.fed_at = 0
        self.expired = 0  # times it would have reset the board
        self.feeds = 0

    def check(self, now):
        if self.enabled and time.ticks_diff(now, self.fed_at) > self.timeout_us:
            self.expired += 1
            self.fed_at = now


WATCHDOG = Watchdog()
time.listeners.append(WATCHDOG.check)


class WDT:
    def __init__(self, id=0, timeout=5000):
        WATCHDOG.enabled = True
        WATCHDOG.timeout_us = timeout * 1000
        WATCHDOG.fed_at = time.ticks_us()

    def feed(self):
        WATCHDOG.feeds += 1
        WATCHDOG.fed_at = time.ticks_us()


class _Mem32:
    def __getitem__(self, addr):
        if addr == WATCHDOG_CTRL:
            return (1 << 30) if WATCHDOG.enabled else 0
        return 0

    def __setitem__(self, addr, value):
        if addr == WATCHDOG_CTRL_CLR and value & (1 << 30):
            WATCHDOG.enabled = False


mem32 = _Mem32()
resets = [0]


def unique_id():
    return b"\xe6\x61\x41\x04\x03\x2f\x5a\x2b"


def reset():
    resets[0] += 1
