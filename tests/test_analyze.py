"""`dowel analyze` on recordings and CSV files: content detection, product.md's JSON, clear
errors naming the file and line for malformed input, and the recording file format."""

import json

import numpy as np
import pytest

from dowel_protocol import INFO, SAMPLE, T_US_MODULUS, pack
from smart_dowel import fsr
from smart_dowel.cli import main
from smart_dowel.csvfile import read_csv, write_csv
from smart_dowel.errors import InputFileError
from smart_dowel.pipeline import Calibration, Samples, analyze
from smart_dowel.recording import MAGIC, RecordingWriter, read_recording
from smart_dowel.sim.body import make_body


def wire_frames(data, t0_us=0, seq0=0):
    """SAMPLE frames of body-model arrays, as the firmware would send them."""
    counts = [fsr.newtons_to_counts(data[k]) for k in ("head_n", "midback_n", "tailbone_n")]
    frames = []
    for i in range(len(data["t"])):
        t_us = (t0_us + int(round(data["t"][i] * 1e6))) % T_US_MODULUS
        vals = (
            t_us, int(counts[0][i]), int(counts[1][i]), int(counts[2][i]),
            *(int(round(data[k][i] * 1000)) for k in ("ax_g", "ay_g", "az_g")),
            *(int(round(data[k][i] * 10)) for k in ("gx_dps", "gy_dps", "gz_dps")),
            0,
        )
        frames.append(pack(SAMPLE, (seq0 + i) & 0xFFFF, vals))
    return frames


@pytest.fixture(scope="module")
def good_body():
    body = make_body("good", seed=3)
    return body, body.render(100)


def write_recording(path, data, junk=False, meta=None):
    frames = wire_frames(data, t0_us=T_US_MODULUS - 4_000_000)  # the clock wraps 4 s in
    info = pack(INFO, 0, (1, 0, 0, 0x11, b"pico-sim", 0x0F, 3, 100, 4, 1, 0x5EED))
    with RecordingWriter(path, meta or {"port": "/dev/ttyACM0"}) as rec:
        rec.write(info)
        for k in range(0, len(frames), 10):
            chunk = b"".join(frames[k:k + 10])
            if junk and k == 500:
                chunk = b"\x13\x37garbage" + chunk[:20] + b"\x00" + chunk  # a torn frame
            rec.write(chunk)
        rec.flush()


def test_recording_round_trip_with_clock_wrap_and_junk(tmp_path, good_body):
    body, data = good_body
    path = tmp_path / "set.dowelrec"
    write_recording(path, data, junk=True)
    meta, samples, counters = read_recording(path)
    assert meta["port"] == "/dev/ttyACM0" and meta["format"] == 1
    assert meta["device"]["rate_hz"] == 100
    assert counters["frames"] == len(data["t"]) + 1
    assert counters["malformed"] + counters["crc_errors"] >= 1
    assert len(samples) == len(data["t"])
    assert np.allclose(np.diff(samples.t_s), 0.01, atol=2e-6)  # unwrapped across 2**30 us
    assert np.allclose(samples.az_g, np.round(data["az_g"] * 1000) / 1000)
    assert np.allclose(samples.midback_n, data["midback_n"], rtol=0.02, atol=0.05)
    result = analyze(samples)
    assert result.rep_count == len(body.truth["reps"])


def test_analyze_recording_and_csv_give_product_json(tmp_path, capsys, good_body):
    body, data = good_body
    rec = tmp_path / "set.bin"
    write_recording(rec, data)
    csv_path = tmp_path / "set.csv"
    write_csv(csv_path, Samples.from_arrays(data))
    outputs = []
    for path in (rec, csv_path):
        assert main(["analyze", str(path), "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        outputs.append(out)
        assert out["rep_count"] == len(body.truth["reps"]) == len(out["reps"])
        for i, r in enumerate(out["reps"], start=1):
            assert r["index"] == i
            assert r["start_s"] < r["bottom_s"] < r["end_s"]
            assert set(r) >= {"index", "start_s", "bottom_s", "end_s", "depth_deg", "faults"}
            assert r["faults"] == []
    assert outputs[0]["source"]["kind"] == "recording"
    assert outputs[1]["source"]["kind"] == "csv"
    assert main(["analyze", str(csv_path)]) == 0
    table = capsys.readouterr().out
    assert "%d reps" % len(body.truth["reps"]) in table and "depth" in table


def test_analyze_reports_faults_in_json(tmp_path, capsys):
    body = make_body("lumbar-flexion", seed=2)
    path = tmp_path / "lf.csv"
    write_csv(path, Samples.from_arrays(body.render(50)))
    assert main(["analyze", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert all(r["faults"] == ["tailbone_contact_lost"] for r in out["reps"])
    detail = out["reps"][0]["fault_details"][0]
    assert detail["phase"] in ("descent", "bottom", "ascent") and detail["cue"]
    assert out["fault_counts"]["tailbone_contact_lost"] == len(out["reps"])


@pytest.mark.parametrize("text, line, words", [
    ("t,ax,ay,az\n0,0,0,1\n0.01,0,zero,1\n", 3, "not a number"),
    ("t,ax,ay,az\n0,0,0,1\n0.01,0,0\n", 3, "fields"),
    ("time,ax,ay,az\n0,0,0,1\n", 1, "missing column"),
    ("t,ax,ay,az,gx\n0,0,0,1,0\n", 1, "all or none"),
    ("t,ax,ay,az\n0,0,0,1\n\n# note\n0.02,0,0,1\n0.01,0,0,1\n", 6, "backwards"),
    ("t,ax,ay,az\n0,0,0,1\n0.01,0,0,nan\n", 3, "finite"),
])
def test_malformed_csv_names_the_line_and_exits_2(tmp_path, capsys, text, line, words):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputFileError) as e:
        read_csv(path)
    assert str(path) in str(e.value) and ("line %d" % line) in str(e.value) and words in str(e.value)
    assert main(["analyze", str(path)]) == 2
    err = capsys.readouterr().err
    assert "line %d" % line in err and len(err.strip().splitlines()) == 1


def test_csv_extra_columns_units_and_semicolons(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("t [s];note;ax [g];ay_g;AZ;head;midback;tailbone\n"
                    "0.00;a;0;0;1;2;10;8\n0.01;b;0;0;1.01;2;10;8\n")
    s = read_csv(path)
    assert len(s) == 2 and s.has_force and not s.has_gyro
    assert s.az_g.tolist() == [1.0, 1.01] and s.midback_n.tolist() == [10.0, 10.0]


def test_other_bad_inputs(tmp_path, capsys):
    assert main(["analyze", str(tmp_path / "missing.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\x00\x01\x02\xff" * 100)
    assert main(["analyze", str(binary)]) == 2
    assert "line 1" in capsys.readouterr().err
    torn = tmp_path / "torn.rec"
    torn.write_bytes(MAGIC + b'{"format": 1, "port": ')
    assert main(["analyze", str(torn)]) == 2
    assert "line 2" in capsys.readouterr().err
    empty = tmp_path / "empty.rec"
    RecordingWriter(empty, {}).close()
    assert main(["analyze", str(empty)]) == 2
    assert "no samples" in capsys.readouterr().err
    assert main(["analyze", "session:abc"]) == 2
    assert "session" in capsys.readouterr().err


def test_recording_calibration_is_applied(tmp_path, good_body):
    body, data = good_body
    cal = Calibration()
    cal.sensors["midback"].scale = 0.5
    path = tmp_path / "cal.rec"
    write_recording(path, data, meta={"calibration": cal})
    meta, samples, _ = read_recording(path)
    assert meta["calibration"]["sensors"]["midback"]["scale"] == 0.5
    assert np.allclose(samples.midback_n, 0.5 * data["midback_n"], rtol=0.03, atol=0.05)


def test_from_messages_unwraps_and_zeroes(good_body):
    from dowel_protocol import StreamDecoder
    from smart_dowel.pipeline import Pipeline
    _, data = good_body
    msgs = StreamDecoder().feed(b"".join(wire_frames(data, t0_us=T_US_MODULUS - 1_000_000)))
    s = Samples.from_messages(msgs)
    assert s.t_s[0] == 0.0 and np.allclose(np.diff(s.t_s), 0.01, atol=2e-6)
    pipe = Pipeline()
    pipe.push_messages(msgs[:300])
    zero = pipe.zero_contacts()
    assert set(zero) == {"head", "midback", "tailbone"} and zero["midback"] > 0
    pipe.push_messages(msgs[300:400])
    assert pipe.state.contacts["midback"].pressure_n < 0.5  # today's load is the new zero


def test_recordings_are_readable_by_the_user_only(tmp_path):
    import os
    import stat

    from smart_dowel.recording import RecordingWriter

    path = tmp_path / "r.rec"
    path.write_bytes(b"old")
    os.chmod(path, 0o644)  # an existing, world-readable file is replaced by a private one
    with RecordingWriter(path, {"port": "/dev/ttyACM0"}, force=True) as rec:
        rec.write(b"\x00")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    new = tmp_path / "new.rec"
    RecordingWriter(new).close()
    assert stat.S_IMODE(os.stat(new).st_mode) == 0o600
