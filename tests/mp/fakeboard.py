"""A scripted board for firmware tests, under MicroPython and CPython alike.

Virtual clock (sleep_us advances it; ticks wrap at 2**30 like the RP2040's), scripted FSR and
IMU values, an IMU that can fail and come back, a host that can stop reading, and the bytes
sent captured for decoding. Nothing here allocates on the sampling path when capture is off.
"""

from dowel_protocol.messages import IMU_MPU6050, IMU_NONE

TICKS_PERIOD = 1 << 30
_MASK = TICKS_PERIOD - 1
_HALF = TICKS_PERIOD >> 1


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
        return (t + delta) & _MASK

    def ticks_diff(self, a, b):
        return ((a - b + _HALF) & _MASK) - _HALF

    def sleep_us(self, us):
        if us > 0:
            self.now = (self.now + us) & _MASK
            self.slept_us += us

    def advance(self, us):
        self.now = (self.now + us) & _MASK

    # sensors
    def read_fsr(self, ch):
        if self.fsr_error is not None:
            e = self.fsr_error
            self.fsr_error = None
            raise e
        if self.stall_us:
            self.now = (self.now + self.stall_us) & _MASK
            self.stall_us = 0
        if self.adc_cost_us:
            self.now = (self.now + self.adc_cost_us) & _MASK
        vals = self.fsr[ch]
        i = self._fsr_i[ch]
        self._fsr_i[ch] = i + 1
        self.adc_reads += 1
        return vals[i % len(vals)]

    def imu_probe(self):
        self.probes += 1
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
        self.imu_reads += 1

    # host link
    def write(self, buf):
        if self.refuse:
            if self.refuse > 0:
                self.refuse -= 1
            self.refused += 1
            return False
        self.frames_out += 1
        self.bytes_out += len(buf)
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
        self.feeds += 1

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
