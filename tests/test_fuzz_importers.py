"""Fuzzing the file importers: whatever bytes a file holds, `dowel analyze` either reads it or
says clearly what is wrong (InputFileError naming the file); it never crashes or hangs."""

import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dowel_protocol as P
from smart_dowel.analyze import load_input
from smart_dowel.errors import InputFileError
from smart_dowel.recording import MAGIC

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _load(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    try:
        samples, _cal, source = load_input(str(path))
    except InputFileError as e:
        assert str(path) in str(e)  # the message names the file
        return None
    assert len(samples.t_s) == len(samples.ax_g)
    return samples


@FUZZ
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_as_a_file(tmp_path, data):
    _load(tmp_path, "any.bin", data)


HEADER = "t,ax,ay,az,gx,gy,gz,head,midback,tailbone\n"
cell = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10**6, 10**6).map(str),
    st.sampled_from(["", "nan", "x", "1e999", "--1", " ", '"3"', "1,2"]),
)


@FUZZ
@given(st.lists(st.lists(cell, min_size=0, max_size=12), max_size=40))
def test_csv_with_arbitrary_cells(tmp_path, rows):
    text = HEADER + "".join(",".join(r) + "\n" for r in rows)
    _load(tmp_path, "f.csv", text.encode())


@FUZZ
@given(st.text(max_size=600))
def test_csv_with_arbitrary_text(tmp_path, text):
    _load(tmp_path, "t.csv", (HEADER + text).encode("utf-8", "surrogatepass"))


def _frames(n):
    return b"".join(
        P.pack(P.SAMPLE, i, (i * 10000, 100, 200, 300, 0, 0, 1000, 0, 0, 0, 0)) for i in range(n)
    )


@FUZZ
@given(st.binary(max_size=300), st.binary(max_size=800), st.booleans())
def test_recording_with_broken_header_or_body(tmp_path, header, body, valid_header):
    if valid_header:
        header = json.dumps({"format": 1}).encode() + b"\n"
    data = MAGIC + header + _frames(5) + body + _frames(5)
    samples = _load(tmp_path, "r.rec", data)
    if valid_header and samples is not None:
        # the good frames on either side of the junk are all read
        assert len(samples.t_s) >= 5


def test_recording_cut_mid_frame_keeps_every_whole_sample(tmp_path):
    data = MAGIC + b'{"format": 1}\n' + _frames(50)
    samples = _load(tmp_path, "cut.rec", data[:-13])
    assert len(samples.t_s) == 49
    assert np.all(np.diff(samples.t_s) > 0)
