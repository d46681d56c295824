"""Viper versions of the CRC-16, the CRC-32 check and the COBS encoder for the firmware's
sampling path.

Imported only where MicroPython's native emitter exists (the RP2040 and the unix port); on
CPython, or a port without the emitter, the import fails and crc.py and cobs.py keep their plain
versions, which compute exactly the same (the tests compare them). On the Pico the CRC-16 and
COBS take about 2,400 and 2,200 Thumb instructions per 1.1 SAMPLE instead of 29,000 and 34,000;
the CRC-32 about 2,200 (bench/viper_thumb.py counts them from the emitted code).

This file goes onto the board as source, not .mpy: the board's own compiler emits the native
code, so it always matches the firmware version (a .mpy with native code only loads on the
MicroPython version that made it).
"""

import micropython


@micropython.viper
def crc16(buf, n: int, table) -> int:
    """CRC-16/CCITT-FALSE of buf[0:n] with a 256-entry array('H') table."""
    if n > int(len(buf)):
        raise ValueError("n exceeds the buffer")
    p = ptr8(buf)  # noqa: F821 (a viper type)
    t = ptr16(table)  # noqa: F821
    crc = 0xFFFF
    i = 0
    while i < n:
        crc = ((crc << 8) & 0xFFFF) ^ t[((crc >> 8) ^ p[i]) & 0xFF]
        i += 1
    return crc


@micropython.viper
def cobs_encode_into(src, n: int, dst, start: int) -> int:
    """COBS-encode src[0:n] into dst[start:]; the index just past the output."""
    if n > int(len(src)) or start + n + n // 254 + 1 > int(len(dst)):
        raise ValueError("buffer too small")
    s = ptr8(src)  # noqa: F821
    d = ptr8(dst)  # noqa: F821
    code_i = start
    out = start + 1
    code = 1
    i = 0
    while i < n:
        b = s[i]
        if b == 0:
            d[code_i] = code
            code_i = out
            out += 1
            code = 1
        else:
            d[out] = b
            out += 1
            code += 1
            if code == 0xFF:
                d[code_i] = code
                code_i = out
                out += 1
                code = 1
        i += 1
    d[code_i] = code
    return out


@micropython.viper
def crc32_into(buf, n: int, table):
    """CRC-32/ISO-HDLC of buf[0:n], written little-endian into buf[n:n+4]. table: the 1,024
    bytes of crc._TABLE32 (256 little-endian u32). The CRC lives in a machine word, never in
    an int object, so nothing is allocated on the 32-bit board either."""
    if n + 4 > int(len(buf)):
        raise ValueError("no room for the check")
    p = ptr8(buf)  # noqa: F821
    t = ptr32(table)  # noqa: F821
    c = uint(0xFFFF) | (uint(0xFFFF) << 16)  # 0xFFFFFFFF, with no constant past 31 bits
    i = 0
    while i < n:
        c = uint(t[(c ^ uint(p[i])) & 0xFF]) ^ (c >> 8)
        i += 1
    c = c ^ (uint(0xFFFF) | (uint(0xFFFF) << 16))
    p[n] = c & 0xFF
    p[n + 1] = (c >> 8) & 0xFF
    p[n + 2] = (c >> 16) & 0xFF
    p[n + 3] = (c >> 24) & 0xFF
