"""LSM6DSOX driver (Adafruit/ST breakouts): accelerometer in milli-g, gyroscope in 0.1 deg/s.

The I2C bus is handed in; the chip is set to 416 Hz, +-4 g and +-500 deg/s. `read_into` does
one 12-byte burst read into a buffer allocated once and converts with integer arithmetic only;
`probe` looks for the chip without allocating. The chip takes I2C at 1 MHz (Fast-mode Plus).
"""

from micropython import const

ADDRESS = const(0x6A)  # SA0 low; 0x6B with SA0 high
WHO_AM_I_VALUE = const(0x6C)

_WHO_AM_I = const(0x0F)
_CTRL1_XL = const(0x10)
_CTRL2_G = const(0x11)
_CTRL3_C = const(0x12)
_OUTX_L_G = const(0x22)  # 12 bytes: gx gy gz ax ay az, little-endian int16

_XL_416HZ_4G = const(0x68)  # ODR_XL=0110 (416 Hz), FS_XL=10 (+-4 g: 0.122 mg/LSB)
_G_416HZ_500DPS = const(0x64)  # ODR_G=0110 (416 Hz), FS_G=01 (+-500 deg/s: 17.5 mdps/LSB)
_BDU_IF_INC = const(0x44)  # block data update, register auto-increment for burst reads
_BURST_LEN = const(12)


def _s16(buf, i):
    """Little-endian signed 16-bit integer at buf[i]."""
    v = buf[i] | (buf[i + 1] << 8)
    if v & 0x8000:
        v -= 0x10000
    return v


class LSM6DSOX:
    """An LSM6DSOX on an I2C bus; raises OSError if it is absent or is another chip.

    With check=False nothing is read or written: `probe` and `configure` do it later, without
    allocating.
    """

    def __init__(self, i2c, address=ADDRESS, check=True):
        self.i2c = i2c
        self.address = address
        self._buf = bytearray(_BURST_LEN)
        self._reg = bytearray(1)
        if check:
            who = self._read_reg(_WHO_AM_I)
            if who != WHO_AM_I_VALUE:
                raise OSError(
                    "LSM6DSOX not found at I2C address 0x%02x: WHO_AM_I is 0x%02x, expected "
                    "0x%02x" % (address, who, WHO_AM_I_VALUE)
                )
            self.configure()

    def probe(self, address):
        """True if an LSM6DSOX answers at address (kept for later calls)."""
        self.address = address
        try:
            return self._read_reg(_WHO_AM_I) == WHO_AM_I_VALUE
        except OSError:  # nothing answered: raised by the bus, caught here
            return False

    def configure(self):
        """Write every setting (OSError if the chip stops answering)."""
        self._write_reg(_CTRL3_C, _BDU_IF_INC)
        self._write_reg(_CTRL1_XL, _XL_416HZ_4G)
        self._write_reg(_CTRL2_G, _G_416HZ_500DPS)

    def _read_reg(self, reg):
        self.i2c.readfrom_mem_into(self.address, reg, self._reg)
        return self._reg[0]

    def _write_reg(self, reg, value):
        self._reg[0] = value
        self.i2c.writeto_mem(self.address, reg, self._reg)

    def read_into(self, out):
        """Fill out[0:6] with ax, ay, az (milli-g) and gx, gy, gz (0.1 deg/s); no allocation."""
        b = self._buf
        self.i2c.readfrom_mem_into(self.address, _OUTX_L_G, b)
        # 0.122 mg/LSB
        out[0] = (_s16(b, 6) * 122) // 1000
        out[1] = (_s16(b, 8) * 122) // 1000
        out[2] = (_s16(b, 10) * 122) // 1000
        # 17.5 mdps/LSB = 0.175 (0.1 deg/s)/LSB = 7/40
        out[3] = (_s16(b, 0) * 7) // 40
        out[4] = (_s16(b, 2) * 7) // 40
        out[5] = (_s16(b, 4) * 7) // 40
