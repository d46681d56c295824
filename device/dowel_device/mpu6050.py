"""MPU-6050 / MPU-6500 driver (GY-521 breakouts carry either): accelerometer in milli-g,
gyroscope in 0.1 deg/s.

The I2C bus is handed in; the chip is set to +-4 g, +-500 deg/s and a 44 Hz low-pass filter
(the MPU-6500 has the same registers for all of that, plus a separate accelerometer filter).
`read_into` does one 14-byte burst read into a buffer allocated once, and converts with integer
arithmetic only, so the sampling loop can call it without touching the heap. `probe` checks
for the chip without allocating either (the firmware re-probes once a second while it is gone).
"""

from micropython import const

ADDRESS = const(0x68)  # AD0 low; 0x69 with AD0 high
WHO_AM_I_VALUE = const(0x68)
WHO_AM_I_MPU6500 = const(0x70)  # many GY-521 boards now carry an MPU-6500

_SMPLRT_DIV = const(0x19)
_CONFIG = const(0x1A)
_GYRO_CONFIG = const(0x1B)
_ACCEL_CONFIG = const(0x1C)
_ACCEL_XOUT_H = const(0x3B)  # 14 bytes: ax ay az temp gx gy gz, big-endian int16
_PWR_MGMT_1 = const(0x6B)
_WHO_AM_I = const(0x75)
_ACCEL_CONFIG2 = const(0x1D)  # MPU-6500 only: accelerometer low-pass filter
_A_DLPF_45HZ = const(0x03)

_CLKSEL_PLL_XGYRO = const(0x01)  # wake up, clocked from the X gyro PLL (steadier than 8 MHz RC)
_DLPF_44HZ = const(0x03)  # accel 44 Hz / gyro 42 Hz bandwidth, 1 kHz internal rate
_GYRO_FS_500DPS = const(0x08)  # FS_SEL=1: 65.5 LSB per deg/s
_ACCEL_FS_4G = const(0x08)  # AFS_SEL=1: 8192 LSB per g
_BURST_LEN = const(14)


def _s16(buf, i):
    """Big-endian signed 16-bit integer at buf[i]."""
    v = (buf[i] << 8) | buf[i + 1]
    if v & 0x8000:
        v -= 0x10000
    return v


class MPU6050:
    """An MPU-6050 or MPU-6500 on an I2C bus; raises OSError if it is absent or another chip.

    With check=False nothing is read or written: `probe` and `configure` do it later, without
    allocating (the board builds its drivers once and probes them again and again).
    """

    def __init__(self, i2c, address=ADDRESS, check=True):
        self.i2c = i2c
        self.address = address
        self.who_am_i = 0
        self._buf = bytearray(_BURST_LEN)
        self._reg = bytearray(1)
        if check:
            who = self._read_reg(_WHO_AM_I)
            if who != WHO_AM_I_VALUE and who != WHO_AM_I_MPU6500:
                raise OSError(
                    "MPU-6050 not found at I2C address 0x%02x: WHO_AM_I is 0x%02x, expected "
                    "0x%02x (or 0x%02x for an MPU-6500)"
                    % (address, who, WHO_AM_I_VALUE, WHO_AM_I_MPU6500)
                )
            self.who_am_i = who
            self.configure()

    def probe(self, address):
        """True if an MPU-6050 or MPU-6500 answers at address (kept for later calls)."""
        self.address = address
        try:
            who = self._read_reg(_WHO_AM_I)
        except OSError:  # nothing answered: raised by the bus, caught here
            return False
        if who == WHO_AM_I_VALUE or who == WHO_AM_I_MPU6500:
            self.who_am_i = who
            return True
        return False

    def configure(self):
        """Write every setting (OSError if the chip stops answering)."""
        # Every setting is written explicitly, so no reset (and no 100 ms wait) is needed when
        # the firmware re-probes a chip that dropped off the bus mid-stream.
        self._write_reg(_PWR_MGMT_1, _CLKSEL_PLL_XGYRO)
        self._write_reg(_SMPLRT_DIV, 0)
        self._write_reg(_CONFIG, _DLPF_44HZ)
        self._write_reg(_GYRO_CONFIG, _GYRO_FS_500DPS)
        self._write_reg(_ACCEL_CONFIG, _ACCEL_FS_4G)
        if self.who_am_i == WHO_AM_I_MPU6500:
            self._write_reg(_ACCEL_CONFIG2, _A_DLPF_45HZ)

    def _read_reg(self, reg):
        self.i2c.readfrom_mem_into(self.address, reg, self._reg)
        return self._reg[0]

    def _write_reg(self, reg, value):
        self._reg[0] = value
        self.i2c.writeto_mem(self.address, reg, self._reg)

    def read_into(self, out):
        """Fill out[0:6] with ax, ay, az (milli-g) and gx, gy, gz (0.1 deg/s); no allocation."""
        b = self._buf
        self.i2c.readfrom_mem_into(self.address, _ACCEL_XOUT_H, b)
        # 8192 LSB/g: mg = raw * 1000 / 8192 = raw * 125 / 1024
        out[0] = (_s16(b, 0) * 125) >> 10
        out[1] = (_s16(b, 2) * 125) >> 10
        out[2] = (_s16(b, 4) * 125) >> 10
        # 65.5 LSB/(deg/s): 0.1 deg/s = raw * 10 / 65.5 = raw * 20 / 131
        out[3] = (_s16(b, 8) * 20) // 131
        out[4] = (_s16(b, 10) * 20) // 131
        out[5] = (_s16(b, 12) * 20) // 131
