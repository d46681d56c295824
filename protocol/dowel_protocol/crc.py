"""CRC-16/CCITT-FALSE (also catalogued as CRC-16/IBM-3740): poly 0x1021, init 0xFFFF,
no reflection, no final XOR; check value 0x29B1 for b"123456789".

On CPython the C implementation in binascii is used; MicroPython uses the table below.
Both are tested against the same vectors.
"""

from .compat import crc_hqx

CRC_NAME = "CRC-16/CCITT-FALSE"
CRC_INIT = 0xFFFF


def _make_table():
    t = []
    for i in range(256):
        c = i << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) if c & 0x8000 else (c << 1)
        t.append(c & 0xFFFF)
    return tuple(t)


_TABLE = _make_table()


def crc16_table(buf, n, crc=CRC_INIT):
    """CRC over buf[0:n] with the lookup table; allocates nothing."""
    t = _TABLE
    i = 0
    while i < n:
        crc = ((crc << 8) & 0xFFFF) ^ t[((crc >> 8) ^ buf[i]) & 0xFF]
        i += 1
    return crc


if crc_hqx is not None:

    def crc16(data):
        """CRC-16/CCITT-FALSE of a bytes-like object."""
        return crc_hqx(data, CRC_INIT)

else:

    def crc16(data):
        """CRC-16/CCITT-FALSE of a bytes-like object."""
        return crc16_table(data, len(data))
