"""Recording files decoded in bulk (smart_dowel.filedecode) give exactly what the per-frame
decoder gives: the same SAMPLE values, other messages and decoder state after every chunk, the
same Samples bit for bit and the same counters from read_recording, over clean streams,
streams corrupted as bench/faults_bench.py corrupts them, junk, torn frames, 1.0 / 1.1 / 1.2
and newer frames mixed, restarts, sequence wraps and a 1.0 dowel's real stream."""

import random
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

import dowel_protocol as P
from dowel_device.firmware import Firmware
from dowel_protocol.cobs import encode as cobs_encode
from dowel_protocol.crc import crc16, crc32_into
from smart_dowel import recording
from smart_dowel.filedecode import feed_rows
from smart_dowel.pipeline.samples import COUNT_COLUMNS, FLOAT_COLUMNS
from smart_dowel.recording import RecordingWriter, read_recording
from smart_dowel.sim.body import make_body
from smart_dowel.sim.board import SimBoard, VirtualClock

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # bench/
sys.path.insert(0, str(HERE / "fixtures"))
import firmware_v1_0  # noqa: E402
from bench import faults_bench  # noqa: E402


def _state(dec):
    return {k: (bytes(v) if isinstance(v, bytearray) else v) for k, v in vars(dec).items()}


def _rows(msgs):
    return np.array([m.values for m in msgs if m.type == P.SAMPLE],
                    dtype=np.int64).reshape(-1, 11)


def _others(msgs):
    return [(m.type, m.seq, m.version, m.values) for m in msgs if m.type != P.SAMPLE]


def assert_same_decoding(wire, chunk_sizes):
    """feed() and feed_rows() over the same chunks: the same after every chunk (byte by byte
    over the first 20 KB only, for time)."""
    if max(chunk_sizes) < 10:
        wire = wire[:20000]
    ref, bulk = P.StreamDecoder(), P.StreamDecoder()
    i = 0
    k = 0
    while i < len(wire):
        n = chunk_sizes[k % len(chunk_sizes)]
        chunk = wire[i:i + n]
        i += n
        k += 1
        msgs = ref.feed(chunk)
        rows, others = feed_rows(bulk, chunk)
        assert rows.dtype == np.int64 and rows.shape[1] == 11
        assert np.array_equal(rows, _rows(msgs)), "chunk %d" % k
        assert [(m.type, m.seq, m.version, m.values) for m in others] == _others(msgs)
        assert _state(bulk) == _state(ref), "chunk %d" % k
    return ref.counters()


def _chunkings(n, seed):
    rng = random.Random(seed)
    return [[n], [recording.READ_CHUNK], [4096], [1], [7, 35, 34, 36, 300],
            [rng.randint(1, 3000) for _ in range(50)]]


def _sample_frame(seq, t_us, i, flags=0, version=P.PROTOCOL_VERSION):
    vals = (t_us, 1000 + i % 5000, 2000, 3000 + (i * 7) % 60000, (i * 13) % 4000 - 2000,
            -(i % 300), 1000, i % 100, -(i % 7), 0, flags)
    return P.pack(P.SAMPLE, seq, vals, version)


def _frame(header_and_fields, bad_check=False):
    """A frame of any header and fields, with a 1.2 check and the CRC-16 (both good, or the
    check wrong)."""
    body = bytearray(header_and_fields) + bytes(4)
    crc32_into(body, len(body) - 4)
    if bad_check:
        body[-1] ^= 0x40
    c = crc16(bytes(body))
    return cobs_encode(bytes(body) + bytes((c & 0xFF, c >> 8))) + b"\x00"


def _info(seq, boot, version=P.PROTOCOL_VERSION):
    vals = (1, 2, 0, version, b"pico-sim", 0x0F, 3, 100, 4, 1, boot)
    if version & 0x0F < 1:
        vals = vals[:-1]
    return P.pack(P.INFO, seq, vals, version)


@pytest.fixture(scope="module")
def clean():
    frames, _seqs, _restarts = faults_bench.clean_frames(6000, restart_every=2500)
    return frames


def test_a_clean_stream_with_status_frames_and_restarts(clean):
    wire = b"".join(clean)
    c = [assert_same_decoding(wire, sizes) for sizes in _chunkings(len(wire), 1)][0]
    assert c["frames"] == len(clean) and c["restarts"] == 2


@pytest.mark.parametrize("rate,seed", [(0.001, 1), (0.05, 2), (0.3, 3), (0.9, 4)])
def test_streams_corrupted_as_the_faults_bench_does(clean, rate, seed):
    wire = faults_bench.Injector(seed, rate).run(clean)
    c = [assert_same_decoding(wire, sizes) for sizes in _chunkings(len(wire), seed)][0]
    assert c["crc_errors"] + c["malformed"] + c["oversize"] > 0


def test_restarts_past_half_the_sequence_and_the_counter_wrapping():
    # the counter passes 0xFFFF, the device restarts with it past 0x8000 (a "loss" the
    # RESYNC then explains) and near 0 (the sequence goes backwards)
    frames = [_sample_frame((0xFF00 + i) & 0xFFFF, (i * 10000) & 0x3FFFFFFF, i)
              for i in range(600)]
    frames += [_info(0x4000, 7)]
    frames += [_sample_frame(i, i * 10000, i, P.FLAG_RESYNC if i == 0 else 0) for i in range(400)]
    frames += [_sample_frame(100 + i, 5000 + i * 10000, i, P.FLAG_RESYNC if i == 0 else 0)
               for i in range(300)]
    frames += [_info(400, 8)]  # a new boot id after a break
    frames += [_sample_frame(9000 + i, (2 ** 30 - 50000 + i * 10000) & 0x3FFFFFFF, i)
               for i in range(300)]
    # a loss, and 5 frames later a RESYNC (a START just after it: the loss is not counted)
    frames += [_sample_frame(9400 + i, 7 + i * 10000, i) for i in range(5)]
    frames += [_sample_frame(9405 + i, 17 + i * 10000, i, P.FLAG_RESYNC) for i in range(10)]
    wire = b"".join(frames)
    c = [assert_same_decoding(wire, sizes) for sizes in _chunkings(len(wire), 5)][0]
    assert c["restarts"] >= 2 and c["lost_frames"] > 0


def test_junk_runs_torn_frames_and_idle_delimiters():
    rng = random.Random(9)
    good = [_sample_frame(i, i * 10000, i) for i in range(2000)]
    parts = [b"\x13\x37 junk before anything", b"\x00\x00\x00"]
    for k in range(0, len(good), 50):
        parts.extend(good[k:k + 50])
        r = rng.random()
        if r < 0.2:
            parts.append(bytes(rng.randrange(1, 256) for _ in range(rng.randint(200, 3000))))
        elif r < 0.4:
            parts.append(good[k][:rng.randint(1, 30)])  # torn: the next frame's delimiter ends it
        elif r < 0.5:
            parts.append(b"\x00" * rng.randint(1, 5))
        elif r < 0.6:
            parts.append(bytes(rng.randrange(1, 256) for _ in range(248)) + b"\x00")
    parts.append(good[0][:20])  # a torn last frame
    wire = b"".join(parts)
    sizes = _chunkings(len(wire), 6) + [[247], [248], [249]]
    c = [assert_same_decoding(wire, s) for s in sizes][0]
    assert c["oversize"] > 0 and c["bytes_discarded"] > 0


def test_versions_mixed_downgrades_newer_minors_and_unknown_types():
    frames = [_info(0, 1, 0x10)]
    frames += [_sample_frame(1 + i, i * 10000, i, version=0x10) for i in range(50)]
    frames += [_info(51, 2, 0x11)]
    frames += [_sample_frame(52 + i, i * 10000, i, version=0x11) for i in range(50)]
    frames += [_sample_frame(102 + i, i * 10000, i) for i in range(50)]  # 1.2: checked from here
    frames += [_sample_frame(152 + i, i * 10000, i, version=0x11) for i in range(5)]  # downgraded
    frames += [_sample_frame(157 + i, i * 10000, i) for i in range(50)]
    # a newer minor: the same layout with a 0x13 header, and one with a field appended
    frames += [_sample_frame(207 + i, i * 10000, i, version=0x13) for i in range(5)]
    fields = struct.pack("<IHHHhhhhhhB", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0)
    frames.append(_frame(struct.pack("<BBH", 0x13, P.SAMPLE, 212) + fields + b"\x2a\x2a"))
    frames += [P.pack(P.TEXT, 213, (1, "text \u00e9"))]
    frames += [P.pack(P.STATUS, 214, (1, 2, 3, 4, 5, 6, 100, 3, 0, 2, 40, 90))]
    frames.append(_frame(struct.pack("<BBH", 0x12, 0x7E, 215) + fields))  # an unknown type
    frames.append(_frame(struct.pack("<BBH", 0x22, P.SAMPLE, 216) + fields))  # major 2
    # the CRC-16 good, the CRC-32 not: what the 1.2 check is there for
    frames.append(_frame(struct.pack("<BBH", 0x12, P.SAMPLE, 217) + fields, bad_check=True))
    frames.append(_frame(struct.pack("<BBH", 0x12, P.SAMPLE, 218) + fields[:-1]))  # too short
    frames += [_sample_frame(219 + i, i * 10000, i) for i in range(50)]
    wire = b"".join(frames)
    c = [assert_same_decoding(wire, sizes) for sizes in _chunkings(len(wire), 7)][0]
    assert c["downgraded"] == 5 and c["unknown_type"] == 1 and c["check_errors"] == 1
    assert c["bad_payload"] == 1


class _Host:
    def __init__(self, data):
        self.buf = bytearray(data)

    def __call__(self, out):
        n = min(len(out), len(self.buf))
        out[:n] = self.buf[:n]
        del self.buf[:n]
        return n


def _device_stream(firmware_cls, pack, seconds, seed):
    host = _Host(pack(P.CMD_GET_INFO, 1) + pack(P.CMD_START, 2))
    board = SimBoard(make_body("good", reps=2, seed=seed), VirtualClock(), inp=host)
    fw = firmware_cls(board, rate_hz=100)
    end = board.clock.us + int(seconds * 1e6)
    while board.clock.us < end:
        fw.poll()
    return b"".join(bytes(b) for b in board.sent)


def test_a_1_0_dowels_stream_then_a_1_2_dowels_after_a_restart():
    v10 = _device_stream(firmware_v1_0.Firmware, firmware_v1_0.pack, 4.0, 3)
    v12 = _device_stream(Firmware, P.pack, 4.0, 4)
    for wire in (v10, v10 + v12, v12 + v10):
        c = [assert_same_decoding(wire, sizes) for sizes in _chunkings(len(wire), 8)][0]
        assert c["frames"] > 300


def _write(path, wire):
    with RecordingWriter(path, {"port": "/dev/ttyACM0"}) as rec:
        rec.write(wire)


def _assert_same_file(path):
    m1, s1, c1 = read_recording(path, bulk=False)
    m2, s2, c2 = read_recording(path, bulk=True)
    assert c1 == c2 and m1 == m2
    assert (s1.has_gyro, s1.has_force) == (s2.has_gyro, s2.has_force)
    for col in FLOAT_COLUMNS + COUNT_COLUMNS + ("imu_ok",):
        a, b = getattr(s1, col), getattr(s2, col)
        if a is None or b is None:  # no counts in an empty Samples
            assert a is None and b is None and len(s1) == 0, col
            continue
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), col
    return s2, c2


@pytest.mark.parametrize("read_chunk", [recording.READ_CHUNK, 5000, 333])
def test_read_recording_gives_the_same_samples_bit_for_bit(tmp_path, monkeypatch, clean,
                                                           read_chunk):
    # restarts land in different chunks (the converter fills their step chunk by chunk)
    monkeypatch.setattr(recording, "READ_CHUNK", read_chunk)
    injected = faults_bench.Injector(11, 0.1).run(clean)
    v10 = _device_stream(firmware_v1_0.Firmware, firmware_v1_0.pack, 2.0, 5)
    for k, wire in enumerate((b"".join(clean), injected, v10 + injected[:30000],
                              b"", b"\x00" * 10, b"junk" * 100, _info(0, 3))):
        path = tmp_path / ("%d.dowelrec" % k)
        _write(path, wire)
        s, c = _assert_same_file(path)
        if k == 0:
            assert len(s) > 5000 and c["restarts"] == 2


def test_the_analyze_tests_recordings_decode_the_same(tmp_path):
    from test_analyze import write_recording

    body = make_body("good", seed=3)
    path = tmp_path / "set.dowelrec"
    write_recording(path, body.render(100), junk=True)
    s, c = _assert_same_file(path)
    assert c["malformed"] + c["crc_errors"] >= 1 and len(s) > 1000


def test_random_bytes_never_differ():
    rng = random.Random(12)
    good = [_sample_frame(i, i * 10000, i) for i in range(300)]
    for trial in range(30):
        frames = list(good)
        for _ in range(rng.randint(1, 40)):
            j = rng.randrange(len(frames))
            b = bytearray(frames[j])
            b[rng.randrange(len(b))] = rng.randrange(256)
            frames[j] = bytes(b)
        wire = b"".join(frames)
        assert_same_decoding(wire, [rng.randint(1, 2000) for _ in range(20)])
