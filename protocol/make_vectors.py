"""Regenerate protocol/vectors.json from the reference implementation.

    python protocol/make_vectors.py

Run only when SPEC.md changes on purpose; tests check the file against the code.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dowel_protocol as p  # noqa: E402
from dowel_protocol import cobs  # noqa: E402

BOARD_ID = bytes.fromhex("e6614104032f5a2b")
BOOT_ID = 0xC3A5_9E17  # above 2**30 on purpose: a big int on the RP2040, packed all the same
BOOT_ID_2 = 0x5EED_0002  # the same dowel after a restart
TEXT_TOO_LONG = "x" + "\u00e9" * 100  # 201 bytes as UTF-8

# Frames of an older minor version that a host must still decode: (name, type, seq, header
# version, values without the fields that minor lacks). The absent fields decode as None.
COMPAT_VECTORS = [
    ("info_v1_0", p.INFO, 7, 0x10,
     (1, 0, 0, 0x10, BOARD_ID,
      p.SENSOR_HEAD | p.SENSOR_MIDBACK | p.SENSOR_TAILBONE | p.SENSOR_IMU,
      p.IMU_MPU6050, 100, 4, 1)),
    ("status_v1_0", p.STATUS, 300, 0x10,
     (61000, 6100, 2, 0, 1, 0, 100, p.STATUS_STREAMING | p.STATUS_IMU_PRESENT, 0)),
    ("sample_v1_0", p.SAMPLE, 1, 0x10,
     (1234567, 8000, 21000, 15000, 12, -5, 998, 15, -3, 120, 0)),
]

MESSAGE_VECTORS = [
    ("sample_typical", p.SAMPLE, 1,
     (1234567, 8000, 21000, 15000, 12, -5, 998, 15, -3, 120, 0)),
    ("sample_all_zero_fields", p.SAMPLE, 0, (0,) * 11),
    ("sample_extremes", p.SAMPLE, 0xFFFF,
     (0x3FFFFFFF, 65535, 65535, 65535, 32767, -32768, -1, 32767, -32768, -1, 0xFF)),
    ("sample_imu_missing", p.SAMPLE, 42,
     (500000, 1200, 30000, 22000, 0, 0, 0, 0, 0, 0, p.FLAG_IMU_MISSING)),
    ("info", p.INFO, 7,
     (1, 0, 0, p.PROTOCOL_VERSION, BOARD_ID,
      p.SENSOR_HEAD | p.SENSOR_MIDBACK | p.SENSOR_TAILBONE | p.SENSOR_IMU,
      p.IMU_MPU6050, 100, 4, 1, BOOT_ID)),
    ("status", p.STATUS, 300,
     (61000, 6100, 2, 0, 1, 0, 100, p.STATUS_STREAMING | p.STATUS_IMU_PRESENT, 0,
      BOOT_ID, 1840, 2650)),
    ("ack_set_rate", p.ACK, 8, (p.CMD_SET_RATE, 3)),
    ("nack_out_of_range", p.NACK, 9, (p.CMD_SET_RATE, 4, p.ERR_OUT_OF_RANGE)),
    ("nack_bad_frame", p.NACK, 10, (0, 0, p.ERR_BAD_FRAME)),
    ("text_empty", p.TEXT, 11, (p.LEVEL_INFO, "")),
    ("text_error", p.TEXT, 12, (p.LEVEL_ERROR, "IMU read failed: [Errno 5] EIO")),
    ("text_max_length", p.TEXT, 13, (p.LEVEL_WARNING, "x" * p.MAX_TEXT)),
    # 201 bytes of UTF-8 ("x" then 100 two-byte characters): cut to 199, not mid-character
    ("text_truncated_on_a_utf8_boundary", p.TEXT, 14, (p.LEVEL_WARNING, TEXT_TOO_LONG)),
    ("cmd_ping", p.CMD_PING, 1, ()),
    ("cmd_get_info", p.CMD_GET_INFO, 2, ()),
    ("cmd_start", p.CMD_START, 3, ()),
    ("cmd_stop", p.CMD_STOP, 4, ()),
    ("cmd_set_rate_500", p.CMD_SET_RATE, 5, (500,)),
    ("cmd_get_status", p.CMD_GET_STATUS, 6, ()),
    ("cmd_reset", p.CMD_RESET, 7, ()),
]

COBS_VECTORS = [
    ("empty", b""),
    ("one_zero", b"\x00"),
    ("two_zeros", b"\x00\x00"),
    ("zero_between", b"\x11\x00\x22"),
    ("trailing_zero", b"\x11\x22\x00"),
    ("nonzero_253", bytes(range(1, 254))),
    ("nonzero_254", bytes((i % 255) + 1 for i in range(254))),
    ("nonzero_255", bytes((i % 255) + 1 for i in range(255))),
    ("zero_then_254_nonzero", b"\x00" + bytes((i % 255) + 1 for i in range(254))),
]


# --- receiver rules (SPEC sections 4 and 9): streams, and what a receiver makes of them ------


def _recrc(body_without_crc):
    c = p.crc16(body_without_crc)
    return bytes(body_without_crc) + bytes((c & 0xFF, c >> 8))


def _wire(body):
    return cobs.encode(body) + b"\x00"


def _sample(seq, flags=0, version=p.PROTOCOL_VERSION):
    return p.pack(p.SAMPLE, seq, (seq * 10000, 8000, 21000, 15000, 0, 0, 1000, 0, 0, 0, flags),
                  version)


def _status(seq, boot_id):
    return p.pack(p.STATUS, seq, (61000, 6100, 0, 0, 0, 0, 100, p.STATUS_STREAMING, 0,
                                  boot_id, 1840, 2650))


def _appended(frame, extra=b"\x5a\xa5", version=None):
    """The frame with bytes appended to its payload (and, if given, another version byte)."""
    body = bytearray(cobs.decode(frame[:-1])[:-2])
    if version is not None:
        body[0] = version
    return _wire(_recrc(bytes(body) + extra))


def _other_major(frame):
    body = bytearray(cobs.decode(frame[:-1])[:-2])
    body[0] = 0x21
    return _wire(_recrc(bytes(body)))


def _unknown_type(seq):
    body = bytearray(p.pack_body(p.SAMPLE, seq, (0,) * 11)[:-2])
    body[1] = 0x7E
    return _wire(_recrc(bytes(body)))


def _crc_flipped(frame):
    body = bytearray(cobs.decode(frame[:-1]))
    body[-1] ^= 0x40
    return _wire(bytes(body))


def _text_extended(seq):
    """A TEXT from a newer minor whose text is 201 bytes: TEXT can never be extended."""
    body = p.pack_body(p.TEXT, seq, (p.LEVEL_INFO, "x" * p.MAX_TEXT))[:-2]
    return _wire(_recrc(b"\x15" + body[1:] + b"y"))


def receiver_vectors():
    """(name, SPEC section, frames, seqs of the frames accepted, decoder counters after)."""
    info_v10 = p.pack(p.INFO, 0, (1, 0, 0, 0x10, BOARD_ID, 15, p.IMU_MPU6050, 100, 4, 0), 0x10)
    ack = lambda seq: p.pack(p.ACK, seq, (p.CMD_START, 7))  # noqa: E731
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
        ("a_loss_long_before_a_resync_stays_a_loss", "4",
         [_sample(0), _sample(3)] + [_sample(s) for s in range(4, 13)]
         + [_sample(13, p.FLAG_RESYNC)],
         [0] + list(range(3, 14)), {"lost_frames": 2, "unknown_loss": 0}),
        ("a_sequence_going_backwards_is_a_restart", "4",
         [_status(100, BOOT_ID), _status(101, BOOT_ID), _status(0, BOOT_ID)], [100, 101, 0],
         {"lost_frames": 0, "restarts": 1, "unknown_loss": 1}),
    ]


def command_vectors():
    """(name, SPEC section, command frame, expected reply: ("ack"|"nack", cmd_type, cmd_seq,
    error name)). cmd_type/cmd_seq None: whatever the frame carried cannot be trusted (0)."""
    ping = p.pack(p.CMD_PING, 21)
    return [
        ("ping", "5.2", ping, ("ack", p.CMD_PING, 21, None)),
        ("a_command_with_extra_bytes", "5.2", _appended(p.pack(p.CMD_PING, 22)),
         ("nack", p.CMD_PING, 22, "bad_length")),
        ("a_command_from_a_newer_minor_with_extra_bytes", "10",
         _appended(p.pack(p.CMD_PING, 23), version=0x15), ("ack", p.CMD_PING, 23, None)),
        ("set_rate_with_a_short_payload", "5.2",
         _wire(_recrc(p.pack_body(p.CMD_SET_RATE, 24, (100,))[:-3])),
         ("nack", p.CMD_SET_RATE, 24, "bad_length")),
        ("set_rate_below_the_range", "5.2", p.pack(p.CMD_SET_RATE, 25, (p.RATE_MIN_HZ - 1,)),
         ("nack", p.CMD_SET_RATE, 25, "out_of_range")),
        ("set_rate_above_the_range", "5.2", p.pack(p.CMD_SET_RATE, 26, (p.RATE_MAX_HZ + 1,)),
         ("nack", p.CMD_SET_RATE, 26, "out_of_range")),
        ("an_unknown_command", "6",
         _wire(_recrc(bytes((p.PROTOCOL_VERSION, 0xF0, 27, 0)))),
         ("nack", 0xF0, 27, "unknown_command")),
        ("a_device_to_host_type_sent_by_the_host", "6", _sample(28),
         ("nack", p.SAMPLE, 28, "unknown_command")),
        ("a_bad_crc", "6", _crc_flipped(p.pack(p.CMD_PING, 29)), ("nack", 0, 0, "bad_frame")),
        ("bad_cobs", "6", b"\x09\x10\x01\x00", ("nack", 0, 0, "bad_frame")),
        ("a_body_shorter_than_6_bytes", "6", _wire(b"\x11\x81\x1e"),
         ("nack", 0, 0, "bad_frame")),
        ("another_major_version", "6", _other_major(p.pack(p.CMD_PING, 31)),
         ("nack", p.CMD_PING, 31, "bad_version")),
        ("oversize_junk", "8", bytes((i % 255) + 1 for i in range(300)) + b"\x00",
         ("nack", 0, 0, "bad_frame")),
    ]


def jsonable(v):
    if isinstance(v, (bytes, bytearray)):
        return v.hex()
    return v


def build():
    """The vectors document, as a dict."""
    vectors = []
    for name, t, seq, values in MESSAGE_VECTORS:
        names = p.MESSAGES[t][2]
        frame = p.pack(t, seq, values)
        vec = {
            "name": name,
            "type": t,
            "type_name": p.MESSAGES[t][0],
            "seq": seq,
            "fields": {n: jsonable(v) for n, v in zip(names, p.unpack(frame).values)},
            "frame_hex": frame.hex(),
        }
        if t == p.TEXT and values[1] != vec["fields"]["text"]:
            vec["input_text"] = values[1]  # what the sender had: cut at 200 bytes
        vectors.append(vec)
    compat = []
    for name, t, seq, version, values in COMPAT_VECTORS:
        names = p.MESSAGES[t][2]
        full = tuple(values) + (None,) * (len(names) - len(values))
        compat.append({
            "name": name,
            "type": t,
            "type_name": p.MESSAGES[t][0],
            "seq": seq,
            "version": version,
            "fields": {n: jsonable(v) for n, v in zip(names, full)},
            "frame_hex": p.pack(t, seq, values, version).hex(),
        })
    doc = {
        "protocol": "smart-dowel wire protocol v%d.%d" % (p.PROTOCOL_MAJOR, p.PROTOCOL_MINOR),
        "crc": p.crc.CRC_NAME,
        "crc_check": {"input_ascii": "123456789", "value": "0x29B1"},
        "notes": "fields of type 8s are hex strings; frame_hex is the complete on-wire "
                 "frame, COBS-encoded body plus the trailing 00 delimiter",
        "vectors": vectors,
        "compat_notes": "frames of an older minor version (header version byte given); "
                        "fields that minor lacks are null and must decode as absent",
        "compat_vectors": compat,
        "cobs_vectors": [
            {"name": n, "decoded_hex": d.hex(), "encoded_hex": cobs.encode(d).hex()}
            for n, d in COBS_VECTORS
        ],
        # SPEC 2: an input ending exactly after a 254-byte run may be encoded with or without
        # the final 01 block; both decode to the same bytes and a receiver takes both
        "cobs_also_decodes": [
            {"name": "nonzero_254_without_the_final_01",
             "decoded_hex": COBS_VECTORS[6][1].hex(),
             "encoded_hex": cobs.encode(COBS_VECTORS[6][1])[:-1].hex()},
        ],
        "receiver_notes": "stream_hex is fed to a receiver in one piece; accepted_seqs are "
                          "the sequence numbers of the frames it must accept, in order, and "
                          "counters the values its counters (SPEC 4 and 9) must have after",
        "receiver_vectors": [
            {"name": name, "spec": section, "stream_hex": b"".join(frames).hex(),
             "accepted_seqs": seqs, "counters": counters}
            for name, section, frames, seqs, counters in receiver_vectors()
        ],
        "command_notes": "frame_hex is sent to an idle device; it must answer with exactly "
                         "one reply: ACK or NACK with these cmd_type, cmd_seq and error",
        "command_vectors": [
            {"name": name, "spec": section, "frame_hex": frame.hex(),
             "reply": {"type": kind, "cmd_type": ct, "cmd_seq": cs, "error": err}}
            for name, section, frame, (kind, ct, cs, err) in command_vectors()
        ],
    }
    return doc


def main():
    doc = build()
    vectors = doc["vectors"]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vectors.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print("wrote", path, len(vectors), "message vectors")


if __name__ == "__main__":
    main()
