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
from dowel_protocol.vectors import BOOT_ID_2, command_vectors, receiver_vectors  # noqa: E402,F401

BOARD_ID = bytes.fromhex("e6614104032f5a2b")
BOOT_ID = 0xC3A5_9E17  # above 2**30 on purpose: a big int on the RP2040, packed all the same
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
    # 1.1: the fields of 1.2, without the check
    ("sample_v1_1", p.SAMPLE, 1, 0x11,
     (1234567, 8000, 21000, 15000, 12, -5, 998, 15, -3, 120, 0)),
    ("status_v1_1", p.STATUS, 300, 0x11,
     (61000, 6100, 2, 0, 1, 0, 100, p.STATUS_STREAMING | p.STATUS_IMU_PRESENT, 0,
      BOOT_ID, 1840, 2650)),
    ("text_v1_1", p.TEXT, 12, 0x11, (p.LEVEL_ERROR, "IMU read failed: [Errno 5] EIO")),
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
        "check": p.crc.CHECK_NAME,
        "check_check": {"input_ascii": "123456789", "value": "0xCBF43926"},
        "check_notes": "from minor version 2 on, the last 4 bytes of every payload are the "
                       "check: the CRC-32 of the body before them, little-endian; the CRC-16 "
                       "follows and covers the check too",
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
