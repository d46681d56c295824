# The receiver rules of protocol 1.1 (SPEC sections 2, 4, 5.1 and 9) checked against the
# language-neutral vectors in protocol/vectors.json, as plain functions: pytest runs them under
# CPython (test_protocol_receiver.py) and the same file runs under the real MicroPython.
import json

import dowel_protocol as p
from dowel_protocol import cobs


def _vectors():
    f = __file__
    for _ in range(3):
        f = f[: f.rfind("/")]
    with open(f + "/protocol/vectors.json") as fh:
        return json.load(fh)


def test_every_receiver_vector_gives_its_frames_and_counters():
    vecs = _vectors()["receiver_vectors"]
    assert len(vecs) >= 12
    for vec in vecs:
        d = p.StreamDecoder()
        msgs = d.feed(bytes.fromhex(vec["stream_hex"]))
        assert [m.seq for m in msgs] == vec["accepted_seqs"], vec["name"]
        counters = d.counters()
        for key in vec["counters"]:
            assert counters[key] == vec["counters"][key], (vec["name"], key, counters[key])


def test_receiver_vectors_in_any_chunking():
    for vec in _vectors()["receiver_vectors"]:
        data = bytes.fromhex(vec["stream_hex"])
        for size in (1, 7, 64):
            d = p.StreamDecoder()
            got = []
            for i in range(0, len(data), size):
                got.extend(d.feed(data[i : i + size]))
            assert [m.seq for m in got] == vec["accepted_seqs"], (vec["name"], size)
            for key in vec["counters"]:
                assert d.counters()[key] == vec["counters"][key], (vec["name"], size, key)


def test_a_restart_named_by_the_caller_makes_the_last_break_unknown():
    d = p.StreamDecoder()
    d.feed(p.pack(p.SAMPLE, 40000, (0,) * 11) + p.pack(p.ACK, 0, (p.CMD_GET_INFO, 1)))
    assert d.lost_frames == 25535  # a break forward: it looks like a loss
    d.mark_restart()  # e.g. a 1.0 dowel's uptime started again
    assert d.lost_frames == 0 and d.unknown_loss == 1 and d.restarts == 1
    d.mark_restart()  # told twice about the same restart: still one
    assert d.restarts == 1


def test_the_boot_id_is_kept():
    d = p.StreamDecoder()
    d.feed(p.pack(p.STATUS, 1, (0, 0, 0, 0, 0, 0, 100, 1, 0, 0xDEADBEEF, 1, 2)))
    assert d.boot_id == 0xDEADBEEF
    d.feed(p.pack(p.INFO, 2, (1, 0, 0, 0x10, b"ABCDEFGH", 15, 1, 100, 4, 0), 0x10))
    assert d.boot_id == 0xDEADBEEF  # a 1.0 INFO says nothing about it


def test_cobs_after_a_254_byte_run_decodes_with_or_without_the_final_code():
    for vec in _vectors()["cobs_also_decodes"]:
        enc = bytes.fromhex(vec["encoded_hex"])
        assert cobs.decode(enc) == bytes.fromhex(vec["decoded_hex"]), vec["name"]
    full = [v for v in _vectors()["cobs_vectors"] if v["name"] == "nonzero_254"][0]
    assert full["encoded_hex"].endswith("01")  # what this implementation sends


def test_text_is_cut_on_a_utf8_boundary():
    vec = [v for v in _vectors()["vectors"] if v["name"] == "text_truncated_on_a_utf8_boundary"][0]
    sent = vec["input_text"].encode()
    kept = vec["fields"]["text"].encode()
    assert len(sent) == 201 and len(kept) == 199 and sent.startswith(kept)
    frame = p.pack(p.TEXT, vec["seq"], (vec["fields"]["level"], vec["input_text"]))
    assert frame == bytes.fromhex(vec["frame_hex"])
    assert p.unpack(frame).values[1] == vec["fields"]["text"]


def test_a_1_2_device_puts_0x12_in_every_header_and_in_info():
    assert p.PROTOCOL_VERSION == 0x12
    for vec in _vectors()["vectors"]:
        frame = bytes.fromhex(vec["frame_hex"])
        assert cobs.decode(frame[:-1])[0] == 0x12, vec["name"]
    info = [v for v in _vectors()["vectors"] if v["name"] == "info"][0]
    assert info["fields"]["protocol"] == 0x12
