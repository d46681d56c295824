# IMU drivers against a fake I2C bus, under the real MicroPython interpreter: WHO_AM_I check,
# configuration written, unit conversion, and no allocation per read.
from array import array

import micropython

from dowel_device.lsm6dsox import LSM6DSOX
from dowel_device.mpu6050 import MPU6050


class FakeI2C:
    def __init__(self, address, regs):
        self.address = address
        self.regs = bytearray(256)
        for reg, value in regs.items():
            self.regs[reg] = value
        self.writes = []
        self.fail = False

    def readfrom_mem_into(self, addr, reg, buf):
        if self.fail or addr != self.address:
            raise OSError(5)
        i = 0
        while i < len(buf):
            buf[i] = self.regs[reg + i]
            i += 1

    def writeto_mem(self, addr, reg, buf):
        if addr != self.address:
            raise OSError(5)
        self.writes.append((reg, bytes(buf)))
        self.regs[reg] = buf[0]

    def put_be(self, reg, value):
        value &= 0xFFFF
        self.regs[reg] = value >> 8
        self.regs[reg + 1] = value & 0xFF

    def put_le(self, reg, value):
        value &= 0xFFFF
        self.regs[reg] = value & 0xFF
        self.regs[reg + 1] = value >> 8


def raises_oserror(fn):
    try:
        fn()
    except OSError as e:
        return str(e)
    return None


def test_mpu6050_checks_who_am_i_with_a_clear_message():
    bus = FakeI2C(0x68, {0x75: 0x72})
    msg = raises_oserror(lambda: MPU6050(bus))
    assert msg is not None and "WHO_AM_I is 0x72" in msg and "MPU-6050" in msg
    assert raises_oserror(lambda: MPU6050(FakeI2C(0x69, {0x75: 0x68}))) is not None


def test_mpu6050_configures_4g_500dps_and_low_pass():
    bus = FakeI2C(0x69, {0x75: 0x68, 0x6B: 0x40})
    MPU6050(bus, 0x69)
    regs = dict((reg, v[0]) for reg, v in bus.writes)
    assert regs[0x6B] == 0x01  # awake, PLL clock
    assert regs[0x1B] == 0x08  # +-500 deg/s
    assert regs[0x1C] == 0x08  # +-4 g
    assert regs[0x1A] == 0x03  # DLPF 44 Hz


def test_mpu6050_converts_to_milli_g_and_tenths_of_deg_per_s():
    bus = FakeI2C(0x68, {0x75: 0x68})
    imu = MPU6050(bus)
    for reg, raw in ((0x3B, 8192), (0x3D, -8192), (0x3F, 4096),
                     (0x43, 131), (0x45, -655), (0x47, 32767)):
        bus.put_be(reg, raw)
    bus.put_be(0x41, 12345)  # temperature, ignored
    out = array("h", [0] * 6)
    imu.read_into(out)
    assert list(out) == [1000, -1000, 500, 20, -100, 5002]


def test_mpu6050_read_failure_raises_oserror_and_keeps_the_old_values():
    bus = FakeI2C(0x68, {0x75: 0x68})
    imu = MPU6050(bus)
    out = array("h", [1, 2, 3, 4, 5, 6])
    bus.fail = True
    assert raises_oserror(lambda: imu.read_into(out)) is not None
    assert list(out) == [1, 2, 3, 4, 5, 6]


def test_lsm6dsox_checks_who_am_i_configures_and_converts():
    assert raises_oserror(lambda: LSM6DSOX(FakeI2C(0x6A, {0x0F: 0x6B}))) is not None
    bus = FakeI2C(0x6A, {0x0F: 0x6C})
    imu = LSM6DSOX(bus)
    regs = dict((reg, v[0]) for reg, v in bus.writes)
    assert regs[0x10] == 0x68 and regs[0x11] == 0x64 and regs[0x12] & 0x40
    for reg, raw in ((0x22, 40), (0x24, -400), (0x26, 0),
                     (0x28, 8197), (0x2A, -8197), (0x2C, 16393)):
        bus.put_le(reg, raw)
    out = array("h", [0] * 6)
    imu.read_into(out)
    assert list(out) == [1000, -1001, 1999, 7, -70, 0]


def test_driver_reads_do_not_allocate():
    mpu = MPU6050(FakeI2CNoAlloc(0x68, 0x75, 0x68))
    lsm = LSM6DSOX(FakeI2CNoAlloc(0x6A, 0x0F, 0x6C))
    out = array("h", [0] * 6)
    micropython.heap_lock()
    try:
        for _ in range(1000):
            mpu.read_into(out)
            lsm.read_into(out)
    finally:
        micropython.heap_unlock()


class FakeI2CNoAlloc:
    """Answers WHO_AM_I, then constant bytes; allocates nothing per read."""

    def __init__(self, address, who_reg, who):
        self.address = address
        self.who_reg = who_reg
        self.who = who

    def readfrom_mem_into(self, addr, reg, buf):
        v = self.who if reg == self.who_reg else 0x12
        i = 0
        n = len(buf)
        while i < n:
            buf[i] = v
            i += 1

    def writeto_mem(self, addr, reg, buf):
        pass


def test_mpu6500_is_accepted_and_gets_its_accelerometer_filter():
    # many GY-521 boards carry an MPU-6500 (WHO_AM_I 0x70): same registers, plus ACCEL_CONFIG2
    bus = FakeI2C(0x68, {0x75: 0x70})
    imu = MPU6050(bus)
    regs = dict((reg, v[0]) for reg, v in bus.writes)
    assert regs[0x1C] == 0x08 and regs[0x1B] == 0x08 and regs[0x1D] == 0x03
    bus.put_be(0x3B, 8192)
    out = array("h", [0] * 6)
    imu.read_into(out)
    assert out[0] == 1000
    # the MPU-6050 does not get the MPU-6500's register
    bus6050 = FakeI2C(0x68, {0x75: 0x68})
    MPU6050(bus6050)
    assert 0x1D not in dict((reg, v[0]) for reg, v in bus6050.writes)


def test_probe_allocates_nothing_whether_the_chip_is_there_or_not():
    absent = FakeI2C(0x69, {0x75: 0x68})  # nothing at 0x68: every read there raises OSError
    mpu = MPU6050(absent, check=False)
    lsm = LSM6DSOX(FakeI2CNoAlloc(0x6A, 0x0F, 0x6C), check=False)
    micropython.heap_lock()
    try:
        for _ in range(100):
            a = mpu.probe(0x68)
            b = mpu.probe(0x69)
            c = lsm.probe(0x6A)
            d = lsm.probe(0x6A)
            lsm.configure()
    finally:
        micropython.heap_unlock()
    assert (a, b, c, d) == (False, True, True, True)
