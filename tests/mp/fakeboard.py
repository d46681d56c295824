"""A scripted board for firmware tests, under MicroPython and CPython alike.

Virtual clock (sleep_us advances it; ticks wrap at 2**30 like the RP2040's), scripted FSR and
IMU values, an IMU that can fail and come back, a host that can stop reading, and the bytes
sent captured for decoding. Nothing here allocates on the sampling path when capture is off,
on a 32-bit MicroPython too: the tick arithmetic and every counter stay inside the 31-bit
small-int range (no intermediate value reaches 2**30), as tests/test_firmware_int31.py checks.
"""

from dowel_protocol.messages import IMU_MPU6050, IMU_NONE

TICKS_PERIOD = 1 << 30  # for the tests' arithmetic only: on a 32-bit build this is a big int
_MASK = 0x3FFFFFFF
_HALF = 0x20000000


def _add(t, delta):
    """(t + delta) mod 2**30 for t in 0..2**30-1 and |delta| < 2**29, like time.ticks_add."""
    if delta >= 0:
        r = (t - _MASK) + delta - 1  # t + delta - 2**30, computed without reaching 2**30
        if r >= 0:
            return r
    else:
        r = t + delta
        if r >= 0:
            return r
    return r + _MASK + 1


def _diff(a, b):
    """a - b as a signed value in -2**29..2**29-1, like time.ticks_diff."""
    d = a - b
    if d >= _HALF:
        return d - _MASK - 1
    if d < -_HALF:
        return d + _MASK + 1
    return d


def _inc(n, by=1):
    room = _MASK - n
    return n + by if by <= room else by - room - 1


class FakeBoard:
    def __init__(self, start_us=1000, imu_type=IMU_MPU6050, capture=True):
        self.board_id = b"FAKE0001"
        self.now = start_us & _MASK
        self.slept_us = 0
        # FSRs: per channel a list of ADC values, one per read, cycled
        self.fsr = [[1000], [20000], [30000]]
        self._fsr_i = [0, 0, 0]
        self.adc_reads = 0
        self.adc_cost_us = 0  # virtual time each ADC read takes
        self.stall_us = 0  # one-shot: the next ADC read takes this long (a late loop)
        self.fsr_error = None  # one-shot: the next read_fsr raises this
        # IMU
        self.imu_type = imu_type
        self.imu_present = imu_type != IMU_NONE
        self.imu_fail = False  # imu_read raises OSError while set
        self.imu_values = [10, -20, 1000, 5, -6, 7]
        self.imu_reads = 0
        self.probes = 0
        # host link
        self.capture = capture
        self.out = bytearray()
        self.frames_out = 0
        self.bytes_out = 0
        self.refuse = 0  # refuse this many writes (host not reading); -1: refuse all
        self.refused = 0
        self.inbox = bytearray()
        self.read_cost_us = 0  # virtual time each read_into takes
        # the rest
        self.led_on = False
        self.streaming_calls = []
        self.wdt_timeout_ms = None
        self.wdt_starts = 0
        self.feeds = 0
        self.resets = 0
        self.out_len_at_reset = None

    # time
    def ticks_us(self):
        return self.now

    def ticks_add(self, t, delta):
        return _add(t, delta)

    def ticks_diff(self, a, b):
        return _diff(a, b)

    def sleep_us(self, us):
        if us > 0:
            self.now = _add(self.now, us)
            self.slept_us = _inc(self.slept_us, us)

    def advance(self, us):
        self.now = _add(self.now, us)

    # sensors
    def read_fsr(self, ch):
        if self.fsr_error is not None:
            e = self.fsr_error
            self.fsr_error = None
            raise e
        if self.stall_us:
            self.now = _add(self.now, self.stall_us)
            self.stall_us = 0
        if self.adc_cost_us:
            self.now = _add(self.now, self.adc_cost_us)
        vals = self.fsr[ch]
        i = self._fsr_i[ch]
        self._fsr_i[ch] = i + 1 if i + 1 < len(vals) else 0
        self.adc_reads = _inc(self.adc_reads)
        return vals[i]

    def imu_probe(self):
        self.probes = _inc(self.probes)
        if self.imu_present and not self.imu_fail:
            return self.imu_type
        return IMU_NONE

    def imu_read(self, out):
        if self.imu_fail or not self.imu_present:
            raise OSError(5)  # EIO, as machine.I2C raises on a NACK
        v = self.imu_values
        out[0] = v[0]
        out[1] = v[1]
        out[2] = v[2]
        out[3] = v[3]
        out[4] = v[4]
        out[5] = v[5]
        self.imu_reads = _inc(self.imu_reads)

    # host link
    def write(self, buf):
        if self.refuse:
            if self.refuse > 0:
                self.refuse -= 1
            self.refused = _inc(self.refused)
            return False
        self.frames_out = _inc(self.frames_out)
        self.bytes_out = _inc(self.bytes_out, len(buf))
        if self.capture:
            self.out.extend(buf)
        return True

    def read_into(self, buf):
        if self.read_cost_us:
            self.advance(self.read_cost_us)
        if not len(self.inbox):
            return 0
        n = min(len(buf), len(self.inbox))
        buf[:n] = self.inbox[:n]
        self.inbox = self.inbox[n:]
        return n

    def rx_pending(self):
        return len(self.inbox) > 0

    def host_send(self, data):
        self.inbox.extend(data)

    # the rest
    def led(self, on):
        self.led_on = bool(on)

    def watchdog_running(self):
        return self.wdt_timeout_ms is not None  # set by watchdog_start, kept over a "soft reset"

    def watchdog_start(self, timeout_ms):
        self.wdt_starts += 1
        self.wdt_timeout_ms = timeout_ms

    def watchdog_feed(self):
        self.feeds = _inc(self.feeds)

    def set_streaming(self, on):
        self.streaming_calls.append(bool(on))

    def reset(self):
        self.resets += 1
        self.out_len_at_reset = len(self.out)

    # test helpers
    def take_output(self):
        data = bytes(self.out)
        self.out = bytearray()
        return data
