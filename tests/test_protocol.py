"""Protocol properties that need hypothesis: round trips and arbitrary byte streams."""

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

import dowel_protocol as p
from dowel_protocol import cobs


@given(st.binary(max_size=1200))
def test_cobs_round_trip(data):
    enc = cobs.encode(data)
    assert 0 not in enc
    assert cobs.decode(enc) == data


def _field_strategy(fmt_char):
    ranges = {
        "B": (0, 0xFF), "H": (0, 0xFFFF), "I": (0, 0x3FFFFFFF), "h": (-0x8000, 0x7FFF),
    }
    if fmt_char == "8s":
        return st.binary(min_size=8, max_size=8)
    lo, hi = ranges[fmt_char]
    return st.integers(lo, hi)


def _split_fmt(fmt):
    out = []
    i = 1
    while i < len(fmt):
        if fmt[i].isdigit():
            out.append(fmt[i : i + 2])
            i += 2
        else:
            out.append(fmt[i])
            i += 1
    return out


@st.composite
def messages(draw):
    t = draw(st.sampled_from(sorted(p.MESSAGES)))
    seq = draw(st.integers(0, 0xFFFF))
    if t == p.TEXT:
        values = (draw(st.integers(0, 2)), draw(st.text(max_size=p.MAX_TEXT // 4)))
    else:
        values = tuple(draw(_field_strategy(c)) for c in _split_fmt(p.MESSAGES[t][1]))
    return t, seq, values


@given(messages())
def test_message_round_trip(m):
    t, seq, values = m
    frame = p.pack(t, seq, values)
    assert frame.endswith(b"\x00") and 0 not in frame[:-1]
    assert len(frame) <= p.MAX_FRAME
    msg = p.unpack(frame)
    assert (msg.type, msg.seq, msg.values) == (t, seq, values)


@given(st.lists(messages(), min_size=1, max_size=30), st.lists(st.integers(1, 64), min_size=1))
def test_stream_round_trip_in_any_chunking(msgs, cuts):
    wire = b"".join(p.pack(t, i, v) for i, (t, _s, v) in enumerate(msgs))
    d = p.StreamDecoder()
    got = []
    pos = 0
    k = 0
    while pos < len(wire):
        n = cuts[k % len(cuts)]
        got.extend(d.feed(wire[pos : pos + n]))
        pos += n
        k += 1
    assert [(m.type, m.values) for m in got] == [(t, v) for t, _s, v in msgs]
    assert d.rejected() == 0 and d.lost_frames == 0


@settings(max_examples=300)
@given(st.binary(max_size=3000), st.integers(1, 300))
def test_arbitrary_bytes_never_crash_and_stay_bounded(data, chunk):
    d = p.StreamDecoder()
    for i in range(0, len(data), chunk):
        for m in d.feed(data[i : i + chunk]):
            assert isinstance(m, p.Message)
        assert len(d._buf) <= p.MAX_ENCODED
    total = d.frames + d.rejected()
    assert total <= data.count(0) + 1


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(
            st.binary(min_size=1, max_size=400).filter(lambda b: 0 not in b),
            st.integers(0, 3),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_garbage_between_frames_is_counted_once_and_the_next_frame_decodes(segments):
    """Each garbage run ends at a delimiter; the frame right after it must decode."""
    d = p.StreamDecoder()
    wire = bytearray()
    seq = 0
    expected = 0
    for junk, nframes in segments:
        wire += junk + b"\x00"
        for _ in range(nframes):
            wire += p.pack(p.SAMPLE, seq, (seq, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0))
            seq += 1
            expected += 1
    msgs = d.feed(bytes(wire))
    assert [m.seq for m in msgs] == list(range(expected))
    assert d.rejected() == len(segments)
    assert d.lost_frames == 0


@settings(max_examples=200)
@given(st.integers(0, 0xFFFF), st.lists(st.booleans(), min_size=1, max_size=300))
def test_lost_frames_are_counted_exactly(start, keep):
    wire = bytearray()
    kept = [i for i, k in enumerate(keep) if k]
    for i in kept:
        wire += p.pack(p.SAMPLE, (start + i) & 0xFFFF, (0,) * 11)
    d = p.StreamDecoder()
    d.feed(bytes(wire))
    if kept:
        assert d.lost_frames == (kept[-1] - kept[0] + 1) - len(kept)


def test_sample_field_scales_survive_the_wire():
    frame = p.pack(p.SAMPLE, 1, (123, 100, 200, 300, 1000, -1000, 0, 123, -456, 789, 0))
    m = p.unpack(frame)
    assert m.ax_mg * p.ACCEL_LSB_G == 1.0
    assert abs(m.gy_ddps * p.GYRO_LSB_DPS - (-45.6)) < 1e-9
    assert struct.calcsize(p.MESSAGES[p.SAMPLE][1]) == p.SAMPLE_PAYLOAD_LEN


def test_vectors_file_is_current(repo):
    """protocol/vectors.json is exactly what make_vectors.py builds from the code."""
    import json
    import runpy

    mod = runpy.run_path(str(repo / "protocol" / "make_vectors.py"), run_name="vectors")
    on_disk = json.loads((repo / "protocol" / "vectors.json").read_text())
    assert on_disk == mod["build"]()


@given(st.binary(max_size=300).filter(lambda b: 0 not in b))
def test_host_fast_cobs_agrees_with_the_shared_implementation(data):
    """The host decodes with the C `cobs` package; it must accept and reject exactly what
    the shared pure implementation (the one the firmware runs) does."""
    from cobs.cobs import DecodeError
    from cobs.cobs import decode as c_decode

    try:
        ours = cobs.decode(data)
    except p.CobsError:
        ours = None
    try:
        theirs = c_decode(data)
    except DecodeError:
        theirs = None
    assert ours == theirs
