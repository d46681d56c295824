# Protocol v1 tests as plain functions: pytest runs them under CPython, and
# test_protocol_micropython.py runs the same file under the real MicroPython interpreter.
import json

import dowel_protocol as p
from dowel_protocol import cobs
from dowel_protocol.crc import crc16, crc16_table, crc32, crc32_into, crc32_into_plain

try:
    import micropython
except ImportError:
    micropython = None


def _repo():
    f = __file__
    for _ in range(3):
        f = f[: f.rfind("/")]
    return f


def _vectors():
    with open(_repo() + "/protocol/vectors.json") as fh:
        return json.load(fh)


def _values(vec):
    names = p.MESSAGES[vec["type"]][2]
    out = []
    for n in names:
        v = vec["fields"][n]
        if n == "board_id":
            v = bytes.fromhex(v)
        out.append(v)
    return tuple(out)


def _raises(exc, func, *args):
    try:
        func(*args)
    except exc:
        return
    raise AssertionError("%s did not raise %s" % (func, exc))


def test_crc_check_value():
    assert crc16(b"123456789") == 0x29B1
    assert crc16_table(b"123456789", 9) == 0x29B1
    assert _vectors()["crc"] == "CRC-16/CCITT-FALSE"


def test_every_message_type_has_a_vector():
    types = set(v["type"] for v in _vectors()["vectors"])
    for t in p.MESSAGES:
        assert t in types, "no vector for type 0x%02x" % t


def test_vectors_pack_to_exact_bytes():
    for vec in _vectors()["vectors"]:
        frame = p.pack(vec["type"], vec["seq"], _values(vec))
        assert frame == bytes.fromhex(vec["frame_hex"]), vec["name"]


def test_vectors_unpack_to_fields():
    for vec in _vectors()["vectors"]:
        msg = p.unpack(bytes.fromhex(vec["frame_hex"]))
        assert msg.type == vec["type"], vec["name"]
        assert msg.seq == vec["seq"], vec["name"]
        assert msg.values == _values(vec), vec["name"]


def test_cobs_vectors():
    for vec in _vectors()["cobs_vectors"]:
        raw = bytes.fromhex(vec["decoded_hex"])
        enc = bytes.fromhex(vec["encoded_hex"])
        assert cobs.encode(raw) == enc, vec["name"]
        assert cobs.decode(enc) == raw, vec["name"]
        assert 0 not in enc, vec["name"]


def test_cobs_length_edges():
    for n in (0, 1, 253, 254, 255, 256, 508, 509):
        for fill in ("nonzero", "zeros", "mixed"):
            if fill == "nonzero":
                raw = bytes((i % 255) + 1 for i in range(n))
            elif fill == "zeros":
                raw = bytes(n)
            else:
                raw = bytes(i % 7 for i in range(n))
            enc = cobs.encode(raw)
            assert 0 not in enc
            assert len(enc) <= cobs.max_encoded_len(n)
            assert cobs.decode(enc) == raw, (n, fill)
    # a run of exactly 254 non-zero bytes needs a second code byte
    assert len(cobs.encode(bytes([1] * 254))) == 256
    assert len(cobs.encode(bytes([1] * 253))) == 254


def test_sample_frame_size_is_fixed():
    assert p.payload_size(p.SAMPLE) == p.SAMPLE_PAYLOAD_LEN
    frame = p.pack(p.SAMPLE, 1, (0,) * 11)
    assert len(frame) == p.SAMPLE_FRAME_LEN == 35  # 31 in 1.1, plus the 4-byte check
    assert len(p.pack(p.SAMPLE, 1, (0,) * 11, 0x11)) == 31
    assert p.max_frame_len() == p.MAX_FRAME


def test_longest_message_fits_max_frame():
    frame = p.pack(p.TEXT, 1, (p.LEVEL_ERROR, "x" * (p.MAX_TEXT + 50)))
    assert len(frame) <= p.MAX_FRAME
    assert p.unpack(frame).values[1] == "x" * p.MAX_TEXT


def _good_body():
    return p.pack_body(p.SAMPLE, 3, (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0))


def _malformed_frames():
    body = _good_body()
    flipped = bytearray(body)
    flipped[6] ^= 0x01
    wrong_major = bytearray(body)
    wrong_major[0] = 0x20
    c = crc16(bytes(wrong_major[:-2]))
    wrong_major[-2] = c & 0xFF
    wrong_major[-1] = c >> 8
    short_payload = _seal(_fields(p.pack_body(p.ACK, 1, (p.CMD_PING, 1)))[:-1])
    # each entry: (name, on-wire bytes without the delimiter)
    return [
        ("empty", b""),
        ("one_byte", b"\x01"),
        ("cobs_code_past_end", b"\x09\x10\x01"),
        ("crc_bit_flip", cobs.encode(bytes(flipped))),
        ("crc_missing", cobs.encode(body[:-2])),
        ("truncated", cobs.encode(body[:-4])),
        ("header_only", cobs.encode(body[:4])),
        ("wrong_major_version", cobs.encode(bytes(wrong_major))),
        ("payload_too_short", cobs.encode(bytes(short_payload))),
        ("too_long", b"\x05" * (p.MAX_ENCODED + 1)),
        ("payload_too_long_same_version", cobs.encode(_seal(_fields(body) + b"\x01"))),
    ]


def _recrc(body_without_crc):
    c = crc16(body_without_crc)
    return body_without_crc + bytes((c & 0xFF, c >> 8))


def _fields(body):
    """Header and fields of a body: without its CRC-16 and, from 1.2 on, its check."""
    body = bytes(body[:-2])
    return body[:-4] if p.has_check(body[0]) else body


def _seal(fields):
    """A body for header and fields: the check where the version has one, then the CRC-16."""
    b = bytearray(fields)
    if p.has_check(b[0]):
        b.extend(bytes(4))
        crc32_into(b, len(b) - 4)
    return _recrc(bytes(b))


def test_malformed_frames_are_rejected():
    for name, frame in _malformed_frames():
        _raises(p.ProtocolError, p.unpack, frame)


def test_decoder_counts_each_malformed_frame_and_keeps_good_ones():
    d = p.StreamDecoder()
    good = p.pack(p.SAMPLE, 0, (0,) * 11)
    stream = bytearray(good)
    bad = _malformed_frames()
    for _name, frame in bad:
        stream.extend(frame)
        stream.append(0)
    stream.extend(p.pack(p.SAMPLE, 4, (0,) * 11))
    msgs = d.feed(bytes(stream))
    assert [m.seq for m in msgs] == [0, 4]
    # the empty frame is an idle delimiter, not an error
    assert d.rejected() == len(bad) - 1
    assert d.crc_errors == 3  # bit flip, CRC missing, truncated
    # the two frames whose CRC passed (payload too short, seq 1; too long, seq 3) used their
    # sequence numbers (SPEC section 4): only seq 2 is missing
    assert d.bad_payload == 2
    assert d.lost_frames == 1


def test_unknown_type_is_skipped_and_counted():
    body = bytearray(_fields(p.pack_body(p.SAMPLE, 5, (0,) * 11)))
    body[1] = 0x7E
    body = _seal(bytes(body))
    d = p.StreamDecoder()
    msgs = d.feed(cobs.encode(bytes(body)) + b"\x00" + p.pack(p.SAMPLE, 6, (0,) * 11))
    assert [m.seq for m in msgs] == [6]
    assert d.unknown_type == 1
    assert d.lost_frames == 0  # the unknown frame still used its sequence number


def test_newer_minor_version_with_extra_fields_is_accepted():
    body = bytearray(_fields(p.pack_body(p.ACK, 9, (p.CMD_START, 4))))
    body[0] = 0x13  # v1.3
    body.extend(b"\x07\x08")  # fields a newer minor version appended, before the check
    msg = p.unpack(cobs.encode(_seal(bytes(body))))
    assert msg.name == "ack"
    assert msg.values == (p.CMD_START, 4)
    # the 1.3 frame ends with its check like a 1.2 one: extra bytes after it would be a
    # different check, and the frame is rejected
    body = bytearray(p.pack_body(p.ACK, 9, (p.CMD_START, 4))[:-2])
    body[0] = 0x13
    _raises(p.CrcError, p.unpack_body, _recrc(bytes(body) + b"\x07\x08"))


def _compat_values(vec):
    out = []
    for n in p.MESSAGES[vec["type"]][2]:
        v = vec["fields"][n]
        if n == "board_id":
            v = bytes.fromhex(v)
        out.append(v)
    return tuple(out)


def test_protocol_1_0_frames_still_decode_with_the_new_fields_absent():
    vecs = _vectors()["compat_vectors"]
    assert set(v["name"] for v in vecs) >= set(("info_v1_0", "status_v1_0", "sample_v1_1"))
    for vec in vecs:
        frame = bytes.fromhex(vec["frame_hex"])
        assert frame[1] == vec["version"] in (0x10, 0x11), vec["name"]  # the version byte
        msg = p.unpack(frame)
        assert msg.version == vec["version"] and msg.type == vec["type"], vec["name"]
        assert msg.values == _compat_values(vec), vec["name"]
        if vec["version"] == 0x11:
            # no check before 1.2: 4 bytes shorter than the same message from a 1.2 sender
            assert len(p.pack(msg.type, msg.seq, msg.values)) == len(frame) + 4, vec["name"]
    info = p.unpack(bytes.fromhex(vecs[0]["frame_hex"]))
    assert info.boot_id is None and info.fields()["boot_id"] is None
    assert info.rate_hz == 100
    status = p.unpack(bytes.fromhex(vecs[1]["frame_hex"]))
    assert (status.boot_id, status.busy_mean_us, status.busy_max_us) == (None, None, None)
    assert status.samples == 6100


def test_protocol_1_2_layout():
    assert p.PROTOCOL_VERSION == 0x12 and p.PROTOCOL_MINOR == 2
    assert p.MESSAGES[p.INFO][1] == "<BBBB8sBBHBBI"
    assert p.MESSAGES[p.STATUS][1] == "<IIIIIIHBBIII"
    assert p.MESSAGES[p.INFO][2][-1] == "boot_id"
    assert p.MESSAGES[p.STATUS][2][-3:] == ("boot_id", "busy_mean_us", "busy_max_us")
    frame = p.pack(p.STATUS, 5, (1, 2, 3, 4, 5, 6, 200, 1, 0, 0xFFFFFFFE, 700, 4100))
    st = p.unpack(frame)
    assert st.version == 0x12
    assert (st.boot_id, st.busy_mean_us, st.busy_max_us) == (0xFFFFFFFE, 700, 4100)
    # the payload ends with the CRC-32 of header and fields, little-endian, then the CRC-16
    body = cobs.decode(frame[:-1])
    assert len(body) == 4 + 40 + 4 + 2
    c = crc32(body[:-6])
    assert body[-6:-2] == bytes(((c >> k) & 0xFF for k in (0, 8, 16, 24)))
    assert crc16(body[:-2]) == body[-2] | (body[-1] << 8)


def test_a_payload_that_does_not_match_its_header_version_is_rejected():
    # a 1.0 header with the 1.1 length, and a 1.1 header with the 1.0 length
    v11 = bytearray(p.pack_body(p.INFO, 1, (1, 0, 0, 0x11, b"ABCDEFGH", 15, 1, 100, 4, 0, 7)))
    v11[0] = 0x10
    _raises(p.FrameError, p.unpack_body, _recrc(bytes(v11[:-2])))
    v10 = bytearray(p.pack_body(p.STATUS, 1, (0,) * 9, 0x10))
    v10[0] = 0x11
    _raises(p.FrameError, p.unpack_body, _recrc(bytes(v10[:-2])))


def test_chunking_does_not_matter():
    frames = b"".join(p.pack(p.SAMPLE, i, (i * 10000, i, 2 * i, 3 * i, -i, i, 1000, 0, 0, 0, 0)) for i in range(20))
    whole = p.StreamDecoder().feed(frames)
    for size in (1, 2, 7, 31, 64):
        d = p.StreamDecoder()
        got = []
        for i in range(0, len(frames), size):
            got.extend(d.feed(frames[i : i + size]))
        assert got == whole, size
        assert d.frames == 20


def test_resync_after_garbage_within_one_frame():
    d = p.StreamDecoder()
    garbage = bytes((i * 37 + 11) % 255 + 1 for i in range(100))  # no zero bytes
    msgs = d.feed(garbage + b"\x00" + p.pack(p.SAMPLE, 1, (0,) * 11))
    assert len(msgs) == 1  # the first frame after the garbage's delimiter decodes
    assert d.rejected() == 1


def test_junk_without_delimiter_cannot_grow_the_buffer():
    d = p.StreamDecoder()
    chunk = bytes((i % 250) + 1 for i in range(100))
    for _ in range(100):
        assert d.feed(chunk) == []
        assert len(d._buf) <= p.MAX_ENCODED
    assert d.oversize == 1
    msgs = d.feed(b"\x00" + p.pack(p.SAMPLE, 1, (0,) * 11))
    assert len(msgs) == 1
    assert d.bytes_discarded == 10001
    assert d.oversize == 1


def test_sequence_gaps_count_every_lost_frame():
    d = p.StreamDecoder()
    seqs = [65530, 65531, 65533, 65535, 0, 5, 6]
    stream = b"".join(p.pack(p.SAMPLE, s, (0,) * 11) for s in seqs)
    d.feed(stream)
    assert d.lost_frames == 1 + 1 + 4
    assert d.gaps == 3


def test_sequence_restart_is_not_a_loss():
    d = p.StreamDecoder()
    d.feed(b"".join(p.pack(p.STATUS, s, (0,) * 12) for s in (100, 101, 0, 1)))
    assert d.lost_frames == 0
    assert d.restarts == 1


def test_decoder_can_report_errors_inline():
    d = p.StreamDecoder(report_errors=True)
    out = d.feed(b"\x03\x01\x02\x00" + p.pack(p.CMD_PING, 1))
    assert isinstance(out[0], p.ProtocolError)
    assert out[1].name == "ping"


def test_sample_writer_matches_generic_pack():
    import array

    w = p.SampleWriter()
    imu = array.array("h", [12, -5, 998, 15, -3, 120])
    frame = w.pack(70000, 0x40000000 + 17, 1, 2, 3, imu, p.FLAG_LATE)
    expect = p.pack(p.SAMPLE, 70000 & 0xFFFF, (17, 1, 2, 3, 12, -5, 998, 15, -3, 120, p.FLAG_LATE))
    assert bytes(frame) == expect


def test_sample_writer_allocates_nothing():
    if micropython is None:
        return  # allocation is a MicroPython property; CPython has no heap lock
    import array
    import gc

    w = p.SampleWriter()
    imu = array.array("h", [1, 2, 3, 4, 5, 6])

    def run(n):
        i = 0
        while i < n:
            w.pack(i, i * 10000, 100, 200, 300, imu, 0)
            i += 1

    run(10)
    gc.collect()
    micropython.heap_lock()
    try:
        run(10000)
    finally:
        micropython.heap_unlock()


def test_errors_name_the_command_when_the_header_can_be_trusted():
    def caught(frame):
        try:
            p.unpack(frame)
        except p.ProtocolError as e:
            return e
        raise AssertionError("accepted a bad frame")

    short = _fields(p.pack_body(p.CMD_SET_RATE, 41, (100,)))
    e = caught(cobs.encode(_seal(short[:-1])))  # payload one byte short
    assert isinstance(e, p.FrameError) and (e.msg_type, e.seq) == (p.CMD_SET_RATE, 41)
    v2 = bytearray(p.pack_body(p.CMD_PING, 42)[:-2])
    v2[0] = 0x20
    e = caught(cobs.encode(_recrc(bytes(v2))))
    assert isinstance(e, p.VersionError) and (e.msg_type, e.seq) == (p.CMD_PING, 42)
    flipped = bytearray(p.pack_body(p.CMD_PING, 43))
    flipped[4] ^= 1
    e = caught(cobs.encode(bytes(flipped)))
    assert isinstance(e, p.CrcError) and e.seq is None and e.msg_type is None
    # a 1.2 frame whose CRC-16 passes but whose check does not: nothing in it is trusted
    bad = bytearray(p.pack_body(p.CMD_PING, 44)[:-2])
    bad[4] ^= 1  # the check's first byte
    e = caught(cobs.encode(_recrc(bytes(bad))))
    assert isinstance(e, p.CheckError) and e.seq is None and e.msg_type is None


def test_crc32_check_value_and_the_plain_and_native_versions_agree():
    assert crc32(b"123456789") == 0xCBF43926
    for n in (0, 1, 9, 27, 31, 200):
        data = bytes((i * 37 + 11) & 0xFF for i in range(n))
        a = bytearray(data) + bytearray(4)
        b = bytearray(data) + bytearray(4)
        crc32_into(a, n)
        crc32_into_plain(b, n)
        c = crc32(data)
        assert a == b and a[n:] == bytes(((c >> k) & 0xFF for k in (0, 8, 16, 24))), n
    if _native_crc32():  # viper has no bounds checks: the native version checks first
        _raises(ValueError, crc32_into, bytearray(10), 7)
    assert _vectors()["check"] == "CRC-32/ISO-HDLC"


def _native_crc32():
    from dowel_protocol import crc

    return crc._crc32_native is not None


def test_the_crc_table_literal_is_the_computed_table():
    from dowel_protocol import crc

    assert crc._TABLE == crc.make_table()
    assert crc._TABLE32 == crc.make_table32()


def _has_emitter():
    try:
        exec("@micropython.viper\ndef _f(x: int) -> int:\n    return x\n", {"micropython": micropython})
    except SyntaxError:
        return False
    return True


def test_native_crc_and_cobs_are_used_where_the_emitter_exists_and_agree_with_plain():
    from dowel_protocol import cobs as c
    from dowel_protocol import crc

    assert crc.NATIVE == c.NATIVE
    if micropython is not None:
        assert crc.NATIVE == _has_emitter()
    else:
        assert not crc.NATIVE  # CPython runs the plain versions
    seed = 12345
    for n in (0, 1, 2, 29, 46, 200, 253, 254, 255, 300):
        data = bytearray(n)
        for i in range(n):
            seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
            data[i] = 0 if seed % 5 == 0 else (seed >> 8) & 0xFF
        assert crc.crc16_buf(data, n) == crc.crc16_table(data, n), n
        out1 = bytearray(c.max_encoded_len(n))
        out2 = bytearray(c.max_encoded_len(n))
        assert c.encode_into(data, n, out1) == c.encode_into_plain(data, n, out2), n
        assert out1 == out2, n


def test_native_encoder_refuses_a_buffer_too_small_instead_of_writing_past_it():
    from dowel_protocol import cobs as c

    # viper has no bounds checks of its own: the native encoder checks first (ValueError);
    # the plain one runs into Python's (IndexError)
    _raises((ValueError, IndexError), c.encode_into, b"\x01\x02\x03", 3, bytearray(3))
