"""Frames that pin down protocol 1.2's receiver rules and command replies (SPEC sections 3, 4,
5 and 9): what make_vectors.py writes to vectors.json as receiver_vectors and command_vectors,
and what `dowel conformance` sends to a device. Host-side only: a subpackage, so it is not one
of the board's files (device/manifest.py lists dowel_protocol's own modules).
"""

from .. import cobs
from .. import messages as p
from ..crc import CHECK_LEN, crc16, crc32_into

BOARD_ID = bytes.fromhex("e6614104032f5a2b")
BOOT_ID = 0xC3A59E17
BOOT_ID_2 = 0x5EED0002  # the same dowel after a restart


def _recrc(body_without_crc):
    c = crc16(body_without_crc)
    return bytes(body_without_crc) + bytes((c & 0xFF, c >> 8))


def _seal(head_and_fields):
    """The body for a header and fields: the check (if its version has one), then the CRC."""
    b = bytearray(head_and_fields)
    if p.has_check(b[0]):
        b += bytes(CHECK_LEN)
        crc32_into(b, len(b) - CHECK_LEN)
    return _recrc(bytes(b))


def _fields(frame):
    """Header and fields of a frame: its body without the CRC and without the check."""
    body = cobs.decode(frame[:-1])[:-2]
    return body[:-CHECK_LEN] if p.has_check(body[0]) else body


def _wire(body):
    return cobs.encode(body) + b"\x00"


def _sample(seq, flags=0, version=p.PROTOCOL_VERSION):
    return p.pack(p.SAMPLE, seq, (seq * 10000, 8000, 21000, 15000, 0, 0, 1000, 0, 0, 0, flags),
                  version)


def _status(seq, boot_id):
    return p.pack(p.STATUS, seq, (61000, 6100, 0, 0, 0, 0, 100, p.STATUS_STREAMING, 0,
                                  boot_id, 1840, 2650))


def _appended(frame, extra=b"\x5a\xa5", version=None):
    """The frame with bytes appended to its fields (before the check: SPEC 10), and if given
    another version byte."""
    body = bytearray(_fields(frame))
    if version is not None:
        body[0] = version
    return _wire(_seal(bytes(body) + extra))


def _other_major(frame):
    body = bytearray(cobs.decode(frame[:-1])[:-2])
    body[0] = 0x21
    return _wire(_recrc(bytes(body)))


def _unknown_type(seq):
    body = bytearray(_fields(_sample(seq)))
    body[1] = 0x7E
    return _wire(_seal(bytes(body)))


def _check_flipped(frame):
    """A 1.2 frame whose check is wrong and whose CRC-16 is right: only the check sees it."""
    body = bytearray(cobs.decode(frame[:-1])[:-2])
    body[-1] ^= 0x04
    return _wire(_recrc(bytes(body)))


def _as_version(frame, version):
    """The same message under another version byte (an older minor: no check)."""
    body = bytearray(_fields(frame))
    body[0] = version
    return _wire(_seal(bytes(body)))


def _crc_flipped(frame):
    body = bytearray(cobs.decode(frame[:-1]))
    body[-1] ^= 0x40
    return _wire(bytes(body))


def _text_extended(seq):
    """A TEXT from a newer minor whose text is 201 bytes: TEXT can never be extended."""
    body = _fields(p.pack(p.TEXT, seq, (p.LEVEL_INFO, "x" * p.MAX_TEXT)))
    return _wire(_seal(b"\x15" + body[1:] + b"y"))


def receiver_vectors():
    """(name, SPEC section, frames, seqs of the frames accepted, decoder counters after)."""
    info_v10 = p.pack(p.INFO, 0, (1, 0, 0, 0x10, BOARD_ID, 15, p.IMU_MPU6050, 100, 4, 0), 0x10)
    ack = lambda seq: p.pack(p.ACK, seq, (p.CMD_START, 7), 0x10)  # noqa: E731
    return [
        ("a_gap_counts_its_lost_frames", "4",
         [_sample(100), _sample(101), _sample(104)], [100, 101, 104],
         {"lost_frames": 2, "gaps": 1}),
        ("a_crc_error_is_also_counted_lost", "4",
         [_sample(0), _crc_flipped(_sample(1)), _sample(2)], [0, 2],
         {"crc_errors": 1, "lost_frames": 1}),
        ("a_good_crc_with_a_bad_length_keeps_the_sequence", "4",
         [_sample(0), _appended(_sample(1)), _sample(2)], [0, 2],
         {"malformed": 1, "bad_payload": 1, "lost_frames": 0}),
        ("another_major_version_does_not_keep_the_sequence", "4",
         [_sample(0), _other_major(_sample(1)), _sample(2)], [0, 2],
         {"malformed": 1, "lost_frames": 1}),
        ("an_unknown_type_keeps_the_sequence", "9",
         [_sample(0), _unknown_type(1), _sample(2)], [0, 2],
         {"unknown_type": 1, "lost_frames": 0}),
        ("a_newer_minor_may_append_fields", "9",
         [_appended(_sample(0), b"\x01\x02\x03\x04", version=0x15)], [0], {"malformed": 0}),
        ("a_text_can_never_be_extended", "5.1",
         [_text_extended(0)], [], {"malformed": 1}),
        ("a_restart_is_known_by_its_boot_id", "4",
         [_status(40000, BOOT_ID), _sample(40001), _status(0, BOOT_ID_2), _sample(1)],
         [40000, 40001, 0, 1], {"lost_frames": 0, "restarts": 1, "unknown_loss": 1}),
        ("a_restart_after_seq_32768_is_known_by_resync", "4",
         [_sample(40000), _sample(40001), _sample(0, p.FLAG_RESYNC), _sample(1)],
         [40000, 40001, 0, 1], {"lost_frames": 0, "gaps": 0, "unknown_loss": 1}),
        ("a_restart_into_idle_answers_before_its_resync", "4",
         [_sample(5000, version=0x10), info_v10, ack(1), ack(2),
          _sample(3, p.FLAG_RESYNC, version=0x10)],
         [5000, 0, 1, 2, 3], {"lost_frames": 0, "unknown_loss": 1}),
        ("a_restart_whose_resync_was_lost_is_known_by_the_next_status", "4",
         [_status(40000, BOOT_ID)] + [_sample(s) for s in range(40001, 40011)]
         + [_sample(s) for s in range(1, 21)] + [_status(21, BOOT_ID_2)],
         [40000] + list(range(40001, 40011)) + list(range(1, 22)),
         {"lost_frames": 0, "restarts": 1, "unknown_loss": 1}),
        ("a_loss_long_before_a_resync_stays_a_loss", "4",
         [_sample(0), _sample(3)] + [_sample(s) for s in range(4, 13)]
         + [_sample(13, p.FLAG_RESYNC)],
         [0] + list(range(3, 14)), {"lost_frames": 2, "unknown_loss": 0}),
        ("a_sequence_going_backwards_is_a_restart", "4",
         [_status(100, BOOT_ID), _status(101, BOOT_ID), _status(0, BOOT_ID)], [100, 101, 0],
         {"lost_frames": 0, "restarts": 1, "unknown_loss": 1}),
        # 1.2: the 32-bit check
        ("a_bad_check_under_a_good_crc16_is_a_crc_error", "3",
         [_sample(0), _check_flipped(_sample(1)), _sample(2)], [0, 2],
         {"crc_errors": 1, "check_errors": 1, "lost_frames": 1, "malformed": 0}),
        ("a_frame_with_no_room_for_its_check_is_a_crc_error", "3",
         [_sample(0), _wire(_recrc(b"\x12\x04\x01\x00\x04\x01")), _sample(2)], [0, 2],
         {"crc_errors": 1, "check_errors": 1, "lost_frames": 1, "bad_payload": 0}),
        ("a_newer_minor_appends_before_the_check", "10",
         [_appended(_sample(0), b"\x01\x02\x03\x04", version=0x13), _sample(1)], [0, 1],
         {"malformed": 0, "crc_errors": 0}),
        ("a_1_1_sender_is_read_without_a_check", "3",
         [_sample(0, version=0x11), _sample(1, version=0x10), _sample(2, version=0x11)],
         [0, 1, 2], {"malformed": 0, "crc_errors": 0, "lost_frames": 0}),
        ("no_frame_without_the_check_from_a_sender_of_it", "3",
         [_sample(0), _as_version(_sample(1), 0x11), _sample(2)], [0, 2],
         {"malformed": 1, "downgraded": 1, "bad_payload": 0, "lost_frames": 1}),
    ]


def command_vectors(version=p.PROTOCOL_VERSION):
    """(name, SPEC section, command frame, expected reply: ("ack"|"nack", cmd_type, cmd_seq,
    error name)). cmd_type/cmd_seq None: whatever the frame carried cannot be trusted (0).

    version: the protocol version of the device under test (its INFO's `protocol`): the
    frames are that version's commands, and the rules of the check (1.2) are left out for an
    older device, which reads the check of a newer host as bytes it does not know."""
    v = version

    def cmd(t, seq, values=()):
        return p.pack(t, seq, values, v)

    out = [
        ("ping", "5.2", cmd(p.CMD_PING, 21), ("ack", p.CMD_PING, 21, None)),
        ("a_command_with_extra_bytes", "5.2", _appended(cmd(p.CMD_PING, 22)),
         ("nack", p.CMD_PING, 22, "bad_length")),
        ("a_command_from_a_newer_minor_with_extra_bytes", "10",
         _appended(cmd(p.CMD_PING, 23), version=0x15), ("ack", p.CMD_PING, 23, None)),
        ("set_rate_with_a_short_payload", "5.2",
         _wire(_seal(_fields(cmd(p.CMD_SET_RATE, 24, (100,)))[:-1])),
         ("nack", p.CMD_SET_RATE, 24, "bad_length")),
        ("set_rate_below_the_range", "5.2", cmd(p.CMD_SET_RATE, 25, (p.RATE_MIN_HZ - 1,)),
         ("nack", p.CMD_SET_RATE, 25, "out_of_range")),
        ("set_rate_above_the_range", "5.2", cmd(p.CMD_SET_RATE, 26, (p.RATE_MAX_HZ + 1,)),
         ("nack", p.CMD_SET_RATE, 26, "out_of_range")),
        ("an_unknown_command", "6", _wire(_seal(bytes((v, 0xF0, 27, 0)))),
         ("nack", 0xF0, 27, "unknown_command")),
        ("a_device_to_host_type_sent_by_the_host", "6", _sample(28, version=v),
         ("nack", p.SAMPLE, 28, "unknown_command")),
        ("a_bad_crc", "6", _crc_flipped(cmd(p.CMD_PING, 29)), ("nack", 0, 0, "bad_frame")),
        ("bad_cobs", "6", b"\x09\x10\x01\x00", ("nack", 0, 0, "bad_frame")),
        ("a_body_shorter_than_6_bytes", "6", _wire(b"\x11\x81\x1e"),
         ("nack", 0, 0, "bad_frame")),
        ("another_major_version", "6", _other_major(cmd(p.CMD_PING, 31)),
         ("nack", p.CMD_PING, 31, "bad_version")),
        ("oversize_junk", "8", bytes((i % 255) + 1 for i in range(300)) + b"\x00",
         ("nack", 0, 0, "bad_frame")),
        ("an_older_hosts_command_without_a_check", "10", p.pack(p.CMD_PING, 32, (), 0x10),
         ("ack", p.CMD_PING, 32, None)),
    ]
    if p.has_check(v):
        out += [
            ("a_bad_check_under_a_good_crc16", "3", _check_flipped(cmd(p.CMD_PING, 33)),
             ("nack", 0, 0, "bad_frame")),
            ("a_command_with_no_room_for_its_check", "3",
             _wire(_recrc(bytes((v, p.CMD_PING, 34, 0, 0x5A)))), ("nack", 0, 0, "bad_frame")),
            ("set_rate_with_a_bad_check", "3",
             _check_flipped(cmd(p.CMD_SET_RATE, 35, (p.RATE_MIN_HZ,))),
             ("nack", 0, 0, "bad_frame")),
        ]
    return out
