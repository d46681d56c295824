"""The few names that differ between MicroPython and CPython.

Everything in dowel_protocol imports only `struct` and this shim, so the same files run on the
RP2040 and on the clinic PC.
"""

try:
    from micropython import const  # noqa: F401
except ImportError:  # CPython

    def const(x):
        return x


try:
    from binascii import crc_hqx as _crc_hqx  # CPython: C implementation of CRC-CCITT
except ImportError:  # MicroPython's binascii has no crc_hqx
    _crc_hqx = None

crc_hqx = _crc_hqx
