"""Protocol v1.2: the one table of message types, their layouts, and frame packing/unpacking.

A frame on the wire is COBS(body) followed by one 0x00. The body is
header (version, type, seq) + payload + CRC-16/CCITT-FALSE of everything before it; from
minor version 2 on, the payload's last 4 bytes are the check: a CRC-32 of the header and the
fields before it. All integers are little-endian. See ../SPEC.md for the normative description.
"""

import struct

from .cobs import decode as cobs_decode
from .cobs import encode_into as cobs_encode_into
from .compat import const
from .crc import CHECK_LEN, check_ok, crc16, crc16_buf, crc32_into
from .errors import CheckError, CrcError, FrameError, UnknownTypeError, VersionError

PROTOCOL_MAJOR = const(1)
PROTOCOL_MINOR = const(2)
PROTOCOL_VERSION = const(0x12)  # high nibble major, low nibble minor
# From this minor on, every frame's payload ends with the 4-byte check (crc.CHECK_LEN): the
# CRC-32 of the body before it. Fields a later minor appends go before the check.
CHECK_SINCE_MINOR = const(2)

HEADER_FMT = "<BBH"  # version, type, seq
HEADER_LEN = const(4)
CRC_LEN = const(2)
MAX_PAYLOAD = const(240)  # fields and check
MAX_BODY = const(246)  # HEADER_LEN + MAX_PAYLOAD + CRC_LEN
MAX_ENCODED = const(247)  # COBS adds exactly one byte to bodies shorter than 254 bytes
MAX_FRAME = const(248)  # MAX_ENCODED + the 0x00 delimiter
MAX_TEXT = const(200)

# --- device -> host (0x01..0x7F) -------------------------------------------------------------
SAMPLE = const(0x01)
INFO = const(0x02)
STATUS = const(0x03)
ACK = const(0x04)
NACK = const(0x05)
TEXT = const(0x06)
# --- host -> device (0x80..0xFF) -------------------------------------------------------------
CMD_PING = const(0x81)
CMD_GET_INFO = const(0x82)
CMD_START = const(0x83)
CMD_STOP = const(0x84)
CMD_SET_RATE = const(0x85)
CMD_GET_STATUS = const(0x86)
CMD_RESET = const(0x87)

# type -> (name, struct format of the payload, field names). TEXT has a variable tail.
MESSAGES = {
    SAMPLE: (
        "sample",
        "<IHHHhhhhhhB",
        (
            "t_us", "head", "midback", "tailbone",
            "ax_mg", "ay_mg", "az_mg", "gx_ddps", "gy_ddps", "gz_ddps", "flags",
        ),
    ),
    INFO: (
        "info",
        "<BBBB8sBBHBBI",
        (
            "fw_major", "fw_minor", "fw_patch", "protocol", "board_id",
            "sensors", "imu_type", "rate_hz", "oversample", "streaming",
            "boot_id",
        ),
    ),
    STATUS: (
        "status",
        "<IIIIIIHBBIII",
        (
            "uptime_ms", "samples", "overruns", "drops", "imu_errors",
            "loop_errors", "rate_hz", "flags", "last_error",
            "boot_id", "busy_mean_us", "busy_max_us",
        ),
    ),
    ACK: ("ack", "<BH", ("cmd_type", "cmd_seq")),
    NACK: ("nack", "<BHB", ("cmd_type", "cmd_seq", "error")),
    TEXT: ("text", "<B", ("level", "text")),
    CMD_PING: ("ping", "<", ()),
    CMD_GET_INFO: ("get_info", "<", ()),
    CMD_START: ("start", "<", ()),
    CMD_STOP: ("stop", "<", ()),
    CMD_SET_RATE: ("set_rate", "<H", ("rate_hz",)),
    CMD_GET_STATUS: ("get_status", "<", ()),
    CMD_RESET: ("reset", "<", ()),
}

# Fields appended by a minor version: type -> (the minor that appended them, the payload format
# before it). A frame whose header carries an older minor has the older, shorter payload; the
# fields it lacks decode as None.
APPENDED = {
    INFO: (1, "<BBBB8sBBHBB"),  # 1.1: boot_id
    STATUS: (1, "<IIIIIIHBB"),  # 1.1: boot_id, busy_mean_us, busy_max_us
}

# Sample flags
FLAG_IMU_MISSING = const(0x01)  # no IMU answered: the six IMU fields are 0
FLAG_IMU_STALE = const(0x02)  # the IMU read failed: IMU fields repeat the last good reading
FLAG_LATE = const(0x04)  # taken after its slot had passed (an overrun)
FLAG_RESYNC = const(0x08)  # first sample after start or a rate change

# INFO.sensors bits
SENSOR_HEAD = const(0x01)
SENSOR_MIDBACK = const(0x02)
SENSOR_TAILBONE = const(0x04)
SENSOR_IMU = const(0x08)

# INFO.imu_type
IMU_NONE = const(0)
IMU_MPU6050 = const(1)
IMU_LSM6DSOX = const(2)
IMU_SIMULATED = const(3)
IMU_NAMES = {IMU_NONE: "none", IMU_MPU6050: "MPU-6050", IMU_LSM6DSOX: "LSM6DSOX", IMU_SIMULATED: "simulated"}

# STATUS.flags bits
STATUS_STREAMING = const(0x01)
STATUS_IMU_PRESENT = const(0x02)
STATUS_WATCHDOG = const(0x04)

# NACK.error codes
ERR_BAD_FRAME = const(1)  # COBS, CRC or header unreadable; cmd_type and cmd_seq are 0
ERR_UNKNOWN_COMMAND = const(2)
ERR_BAD_LENGTH = const(3)
ERR_OUT_OF_RANGE = const(4)
ERR_BAD_VERSION = const(5)
ERR_NOT_ALLOWED = const(6)
ERR_INTERNAL = const(7)
ERROR_NAMES = {
    ERR_BAD_FRAME: "bad_frame",
    ERR_UNKNOWN_COMMAND: "unknown_command",
    ERR_BAD_LENGTH: "bad_length",
    ERR_OUT_OF_RANGE: "out_of_range",
    ERR_BAD_VERSION: "bad_version",
    ERR_NOT_ALLOWED: "not_allowed",
    ERR_INTERNAL: "internal",
}

# TEXT levels
LEVEL_INFO = const(0)
LEVEL_WARNING = const(1)
LEVEL_ERROR = const(2)

# Scales of the sample fields
ADC_FULL_SCALE = const(65535)  # FSR readings use machine.ADC.read_u16()'s 0..65535 scale
ACCEL_LSB_G = 0.001  # ax_mg: milli-g
GYRO_LSB_DPS = 0.1  # gx_ddps: tenths of a degree per second
T_US_MODULUS = const(0x40000000)  # t_us wraps at 2**30 (the RP2040's ticks_us period)

RATE_MIN_HZ = const(10)
# The fastest rate a dowel holds (bench/firmware_bench.py: RP2040 estimate per rate); SET_RATE
# above it is refused with OUT_OF_RANGE.
RATE_MAX_HZ = const(500)

SAMPLE_PAYLOAD_LEN = const(23)  # the fields; a 1.2 frame adds the 4-byte check after them
SAMPLE_BODY_LEN = const(33)  # header 4, fields 23, check 4, CRC 2
SAMPLE_FRAME_LEN = const(35)  # COBS adds one byte, then the delimiter


def has_check(version):
    """True if a frame with this header version carries the 32-bit check (minor >= 2)."""
    return (version & 0x0F) >= CHECK_SINCE_MINOR


def max_frame_len():
    """Largest frame on the wire, delimiter included; size receive buffers with this."""
    return MAX_FRAME


def payload_size(msg_type):
    """Fixed payload size of a type (for TEXT, the size without its text)."""
    return struct.calcsize(MESSAGES[msg_type][1])


class Message:
    """A decoded message: its type, sequence number, name and field values (a tuple)."""

    __slots__ = ("type", "seq", "name", "values", "version")

    def __init__(self, msg_type, seq, name, values, version=PROTOCOL_VERSION):
        self.type = msg_type
        self.seq = seq
        self.name = name
        self.values = values
        self.version = version

    def fields(self):
        """The values as a dict keyed by the field names of the message table."""
        names = MESSAGES[self.type][2]
        d = {}
        for i in range(len(names)):
            d[names[i]] = self.values[i]
        return d

    def __getattr__(self, field):
        entry = MESSAGES.get(self.type)
        if entry is not None:
            names = entry[2]
            for i in range(len(names)):
                if names[i] == field:
                    return self.values[i]
        raise AttributeError(field)

    def __eq__(self, other):
        return (
            isinstance(other, Message)
            and self.type == other.type
            and self.seq == other.seq
            and self.values == other.values
        )

    def __repr__(self):
        return "Message(%s, seq=%d, %r)" % (self.name, self.seq, self.values)


def _format_for(msg_type, fmt, version):
    """The payload format a frame of this version carries (older minors: fewer fields)."""
    older = APPENDED.get(msg_type)
    if older is not None and (version & 0x0F) < older[0]:
        return older[1]
    return fmt


def pack_body(msg_type, seq, values=(), version=PROTOCOL_VERSION):
    """The frame body (header, payload, CRC) for a message; raises FrameError if it cannot.

    version: the header's protocol version; an older minor packs that minor's layout (for
    tests and tools that play an older device), its values without the appended fields.
    """
    entry = MESSAGES.get(msg_type)
    if entry is None:
        raise UnknownTypeError("unknown message type 0x%02x" % msg_type)
    fmt = _format_for(msg_type, entry[1], version)
    if msg_type == TEXT:
        level, text = values
        if isinstance(text, str):
            text = text.encode()
        if len(text) > MAX_TEXT:
            # cut on a UTF-8 character boundary (SPEC 5.1): never half a character
            cut = MAX_TEXT
            while cut > 0 and (text[cut] & 0xC0) == 0x80:
                cut -= 1
            text = text[:cut]
        payload = struct.pack(fmt, level) + bytes(text)
    else:
        try:
            payload = struct.pack(fmt, *values)
        except (struct.error, TypeError, OverflowError, ValueError) as e:
            raise FrameError("cannot pack %s: %s" % (entry[0], e))
    body = struct.pack(HEADER_FMT, version, msg_type, seq & 0xFFFF) + payload
    if has_check(version):
        # 1.2: the CRC-32 of header and fields ends the payload
        body = bytearray(body) + bytearray(CHECK_LEN)
        crc32_into(body, len(body) - CHECK_LEN)
        body = bytes(body)
    c = crc16(body)
    return body + bytes((c & 0xFF, c >> 8))


def pack(msg_type, seq, values=(), version=PROTOCOL_VERSION):
    """The complete on-wire frame for a message, 0x00 delimiter included."""
    body = pack_body(msg_type, seq, values, version)
    out = bytearray(len(body) + len(body) // 254 + 2)
    n = cobs_encode_into(body, len(body), out)
    out[n] = 0
    return bytes(out[: n + 1])


def _layouts():
    out = {}
    for t in MESSAGES:
        name, fmt, _names = MESSAGES[t]
        out[t] = (name, struct.calcsize(fmt), fmt)
    return out


def _older_layouts():
    out = {}
    for t in APPENDED:
        since, fmt = APPENDED[t]
        n_old = len(struct.unpack(fmt, bytes(struct.calcsize(fmt))))
        missing = (None,) * (len(MESSAGES[t][2]) - n_old)
        out[t] = (since, struct.calcsize(fmt), fmt, missing)
    return out


_LAYOUT = _layouts()  # type -> (name, payload size, struct format)
_OLDER = _older_layouts()  # type -> (minor appending fields, older size, older format, Nones)


def unpack_body(body, check=True):
    """Decode a frame body (already COBS-decoded). Raises a ProtocolError subclass.

    check=False skips the 32-bit check of a 1.2 frame (still taken off the payload): what a
    receiver trusting the CRC-16 alone would have made of it (benchmarks only).
    """
    n = len(body)
    if n < HEADER_LEN + CRC_LEN:
        raise FrameError("frame too short (%d bytes)" % n)
    if n > MAX_BODY:
        raise FrameError("frame too long (%d bytes)" % n)
    if crc16(body[: n - 2]) != body[n - 2] | (body[n - 1] << 8):
        raise CrcError("CRC mismatch")
    version = body[0]
    end = n - CRC_LEN  # the end of the payload
    if version >> 4 == PROTOCOL_MAJOR and (version & 0x0F) >= CHECK_SINCE_MINOR:
        # 1.2 and later: nothing in the frame is trusted before its CRC-32 matches
        end -= CHECK_LEN
        if end < HEADER_LEN:
            raise CheckError("no room for the check (%d bytes)" % n, body)
        if check and not check_ok(body, end):
            raise CheckError("check mismatch", body)
    msg_type = body[1]
    seq = body[2] | (body[3] << 8)
    if version >> 4 != PROTOCOL_MAJOR:
        raise VersionError("protocol major version %d, expected %d" % (version >> 4, PROTOCOL_MAJOR),
                           msg_type, seq)
    layout = _LAYOUT.get(msg_type)
    if layout is None:
        raise UnknownTypeError("unknown message type 0x%02x" % msg_type, msg_type, seq)
    name, size, fmt = layout
    missing = ()
    older = _OLDER.get(msg_type)
    if older is not None and (version & 0x0F) < older[0]:
        # an older minor's shorter payload: the appended fields are absent (None)
        size = older[1]
        fmt = older[2]
        missing = older[3]
    plen = end - HEADER_LEN
    if plen < size or (plen > size and msg_type != TEXT and version <= PROTOCOL_VERSION):
        # extra bytes are only legal from a newer minor version, which may append fields
        raise FrameError("%s payload is %d bytes, expected %d" % (name, plen, size), msg_type, seq)
    if msg_type == TEXT and plen - size > MAX_TEXT:
        raise FrameError("text payload is %d bytes, at most %d" % (plen, size + MAX_TEXT),
                         msg_type, seq)
    values = struct.unpack_from(fmt, body, HEADER_LEN)
    if missing:
        values = values + missing
    if msg_type == TEXT:
        values = (values[0], bytes(body[HEADER_LEN + size : end]).decode("utf-8", "replace"))
    # A newer minor version may append fields: the known prefix is read, the rest ignored.
    return Message(msg_type, seq, name, values, version)


def unpack(frame):
    """Decode one frame: its COBS bytes, with or without the trailing 0x00."""
    if len(frame) and frame[len(frame) - 1] == 0:
        frame = frame[: len(frame) - 1]
    if len(frame) > MAX_ENCODED:
        raise FrameError("frame too long (%d bytes)" % len(frame))
    if len(frame) == 0:
        raise FrameError("empty frame")
    return unpack_body(cobs_decode(frame))


class SampleWriter:
    """Packs SAMPLE frames into one preallocated buffer, allocating nothing per sample.

    `frame` always holds SAMPLE_FRAME_LEN bytes after `pack` (the body never contains
    254 non-zero bytes in a row, so COBS adds exactly one byte): header and fields, the
    CRC-32 check (written as 4 bytes, never held as an int), the CRC-16.
    """

    def __init__(self):
        self.body = bytearray(SAMPLE_BODY_LEN)
        self.frame = bytearray(SAMPLE_FRAME_LEN)

    def pack(self, seq, t_us, head, midback, tailbone, imu, flags):
        """Fill `frame`. imu is a 6-item int array: ax, ay, az (mg), gx, gy, gz (0.1 deg/s)."""
        body = self.body
        struct.pack_into(
            "<BBHIHHHhhhhhhB", body, 0,
            PROTOCOL_VERSION, SAMPLE, seq & 0xFFFF, t_us & 0x3FFFFFFF,
            head, midback, tailbone,
            imu[0], imu[1], imu[2], imu[3], imu[4], imu[5], flags,
        )
        crc32_into(body, SAMPLE_BODY_LEN - CRC_LEN - CHECK_LEN)
        c = crc16_buf(body, SAMPLE_BODY_LEN - 2)
        body[SAMPLE_BODY_LEN - 2] = c & 0xFF
        body[SAMPLE_BODY_LEN - 1] = c >> 8
        frame = self.frame
        cobs_encode_into(body, SAMPLE_BODY_LEN, frame)
        frame[SAMPLE_FRAME_LEN - 1] = 0
        return frame
