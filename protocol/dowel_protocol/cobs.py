"""Consistent Overhead Byte Stuffing: removes every 0x00 so that 0x00 can end a frame.

`encode_into` writes into a caller's buffer without allocating (the firmware's sampling loop
uses it; the viper version in native.py where MicroPython's native emitter exists, the plain one
elsewhere); `encode`/`decode` return new bytes for everything else.
"""

from .errors import CobsError


def max_encoded_len(n):
    """Worst-case COBS output length for n input bytes (no delimiter)."""
    return n + n // 254 + 1


def encode_into_plain(src, n, dst, start=0):
    """COBS-encode src[0:n] into dst[start:]; return the index just past the output.

    dst must hold max_encoded_len(n) bytes from start. No heap allocation.
    """
    code_i = start
    out = start + 1
    code = 1
    i = 0
    while i < n:
        b = src[i]
        if b == 0:
            dst[code_i] = code
            code_i = out
            out += 1
            code = 1
        else:
            dst[out] = b
            out += 1
            code += 1
            if code == 0xFF:
                dst[code_i] = code
                code_i = out
                out += 1
                code = 1
        i += 1
    dst[code_i] = code
    return out


try:
    from .native import cobs_encode_into as _encode_native
except (ImportError, SyntaxError, ValueError):  # CPython, or no native emitter
    _encode_native = None

NATIVE = _encode_native is not None

if _encode_native is not None:

    def encode_into(src, n, dst, start=0):
        """encode_into_plain's result, computed by the viper version in native.py."""
        return _encode_native(src, n, dst, start)

else:
    encode_into = encode_into_plain


def encode(data):
    """Return the COBS encoding of data (without the trailing 0x00 delimiter)."""
    n = len(data)
    out = bytearray(max_encoded_len(n))
    m = encode_into(data, n, out)
    return bytes(out[:m])


def decode(data):
    """Decode one COBS block (without its delimiter). Raises CobsError if it is malformed."""
    n = len(data)
    out = bytearray()
    i = 0
    while i < n:
        code = data[i]
        if code == 0:
            raise CobsError("zero byte inside a COBS frame")
        end = i + code
        if end > n:
            raise CobsError("COBS block runs past the end of the frame")
        block = data[i + 1 : end]
        if 0 in block:
            raise CobsError("zero byte inside a COBS frame")
        out.extend(block)
        i = end
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)
