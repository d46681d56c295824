"""Inputs that used to give a silently wrong count, a traceback or a hang (issue 13, items 4-12,
14 and 16): each now gives the right result, saying what it assumed, or one line on stderr
and exit 2 with nothing written."""

import json
import math
import os
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
from store_helpers import data_dir, dowel, dowel_as_user, open_tmp  # noqa: F401
from test_analyze import wire_frames

from dowel_protocol import INFO, pack
from smart_dowel.csvfile import write_csv
from smart_dowel.errors import StoreError
from smart_dowel.pipeline import Samples
from smart_dowel.recording import MAGIC, RecordingWriter
from smart_dowel.sim.body import make_body
from smart_dowel.store import Store, clean_patient_name
from smart_dowel.store import synthetic as syn

G = 9.80665
REPS = 12


def one_line(r):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    return r.stderr


@pytest.fixture(scope="module")
def twelve(tmp_path_factory):
    """A CSV of 12 good reps at 100 Hz, as header and rows of text."""
    body = make_body("good", reps=REPS, seed=5)
    d = body.render(100)
    assert len(body.truth["reps"]) == REPS
    path = tmp_path_factory.mktemp("csv") / "good.csv"
    write_csv(path, Samples.from_arrays(d))
    lines = path.read_text().splitlines()
    return lines[0].split(","), [ln.split(",") for ln in lines[1:]]


def write(path, header, rows):
    path.write_text(",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in rows))
    return path


def analyze_json(path, *extra):
    r = dowel("analyze", path, "--json", *extra)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def scaled(rows, cols, factor, fmt="%.6g"):
    return [[fmt % (float(x) * factor) if j in cols else x for j, x in enumerate(r)] for r in rows]


# --- item 4: units detected from the data, given with --units, always reported -------------------


def test_accelerometer_in_m_s2_counts_every_rep_and_says_so(tmp_path, twelve):
    header, rows = twelve
    ms2 = scaled(rows, (1, 2, 3), G)
    for name, hdr in (("plain.csv", header),
                      ("labelled.csv", ["t", "ax [m/s^2]", "ay [m/s^2]", "az [m/s^2]"] + header[4:])):
        out = analyze_json(write(tmp_path / name, hdr, ms2))
        assert out["rep_count"] == REPS, name
        assert out["source"]["units"]["accel"].startswith("m/s^2 (")
    table = dowel("analyze", tmp_path / "plain.csv").stdout
    assert "%d reps" % REPS in table
    assert "accelerometer in m/s^2 (from the data: gravity reads 9.7" in table


def test_accelerometer_in_mg_is_detected(tmp_path, twelve):
    header, rows = twelve
    out = analyze_json(write(tmp_path / "mg.csv", header, scaled(rows, (1, 2, 3), 1000.0)))
    assert out["rep_count"] == REPS and out["source"]["units"]["accel"].startswith("mg (")


def test_time_in_ms_or_us_counts_every_rep_at_the_right_rate(tmp_path, twelve):
    header, rows = twelve
    for unit, factor in (("ms", 1e3), ("us", 1e6)):
        out = analyze_json(write(tmp_path / (unit + ".csv"), header,
                                 scaled(rows, (0,), factor, "%.3f")))
        assert out["rep_count"] == REPS
        assert abs(out["sample_rate_hz"] - 100.0) < 0.5 and abs(out["duration_s"] - 75.3) < 1
        assert out["source"]["units"]["time"].startswith("%s (from the sample period" % unit)
    table = dowel("analyze", tmp_path / "ms.csv").stdout
    assert "%d reps in 75." % REPS in table and "at 100 Hz" in table and "t in ms" in table


def test_units_option_and_a_wrong_unit_is_an_error_not_a_wrong_count(tmp_path, twelve):
    header, rows = twelve
    path = write(tmp_path / "x.csv", header, scaled(scaled(rows, (1, 2, 3), G), (0,), 1e3, "%.3f"))
    out = analyze_json(path, "--units", "m/s^2,ms")
    assert out["rep_count"] == REPS
    assert out["source"]["units"]["accel"] == "m/s^2 (--units)"
    assert out["source"]["units"]["time"] == "ms (--units)"
    err = one_line(dowel("analyze", path, "--units", "g"))
    assert "with the accelerometer in g, gravity reads 9.7" in err and "--units" in err
    err = one_line(dowel("analyze", path, "--units", "m/s^2,s"))
    assert "with t in s the samples come at 0.1 Hz" in err
    err = one_line(dowel("analyze", path, "--units", "furlongs"))
    assert "unknown unit 'furlongs'" in err
    err = one_line(dowel("analyze", write(tmp_path / "h.csv", ["t", "ax [kg]", "ay", "az"],
                                          [["0", "0", "0", "1"]])))
    assert "unit 'kg' is not a unit of the accelerometer" in err


def test_gyroscope_in_rad_s_is_converted_when_said(tmp_path, twelve):
    header, rows = twelve
    rad = scaled(rows, (4, 5, 6), math.pi / 180)
    labelled = header[:4] + ["gx [rad/s]", "gy [rad/s]", "gz [rad/s]"] + header[7:]
    out = analyze_json(write(tmp_path / "rad.csv", labelled, rad))
    assert out["rep_count"] == REPS and out["source"]["units"]["gyro"] == "rad/s (header)"


def test_gyroscope_in_rad_s_is_detected_from_the_data_when_not_said(tmp_path, twelve):
    # its turns, compared with the accelerometer's (which need no unit), are 57 times too small
    header, rows = twelve
    out = analyze_json(write(tmp_path / "rad.csv", header, scaled(rows, (4, 5, 6), math.pi / 180)))
    assert out["rep_count"] == REPS and out["gyro"] is True
    assert out["source"]["units"]["gyro"].startswith("rad/s (from the data")
    out = analyze_json(write(tmp_path / "deg.csv", header, rows))
    assert out["source"]["units"]["gyro"].startswith("deg/s (from the data")
    # a gyro said to be in deg/s that turns 57 times too little: the unit is wrong, not the count
    err = one_line(dowel("analyze", tmp_path / "rad.csv", "--units", "g,s,deg/s"))
    assert "with the gyroscope in deg/s, it turns 0.0" in err and "--units" in err


@pytest.mark.parametrize("order, said", [
    ((5, 6, 4), "(gz, gx, gy)"),  # the file's gx is the accelerometer's y, ...
    ((5, -4, 6), "(-gy, gx, gz)"),  # a frame turned a quarter about z
])
def test_gyro_axes_labelled_otherwise_than_the_accelerometers_are_found_and_said(
        tmp_path, twelve, order, said):
    # another device's CSV whose gyro columns follow another axis order: taken as they are, its
    # turns explain nothing the accelerometer shows (a wrong count, silently)
    header, rows = twelve
    moved = [list(r) for r in rows]
    for r, old in zip(moved, rows):
        for j, k in zip((4, 5, 6), order):
            x = old[abs(k)]
            r[j] = x[1:] if k < 0 and x.startswith("-") else ("-" + x if k < 0 else x)
    path = write(tmp_path / "axes.csv", header, moved)
    out = analyze_json(path)
    assert out["rep_count"] == REPS and out["gyro"] is True
    assert out["source"]["units"]["gyro"].endswith("its axes read as %s" % said)
    assert "gyroscope axes taken as %s" % said in dowel("analyze", path).stdout
    # as labelled, nothing is moved
    assert "axes" not in analyze_json(write(tmp_path / "ok.csv", header, rows))["source"]["units"]["gyro"]


@pytest.mark.parametrize("how", ["zero", "constant", "noise"])
def test_a_dead_gyroscope_is_left_out_with_a_note_and_every_rep_counts(tmp_path, twelve, how):
    header, rows = twelve
    rng = np.random.default_rng(3)
    dead = [list(r) for r in rows]
    for r in dead:
        for j in (4, 5, 6):
            r[j] = {"zero": "0", "constant": "%.3f" % (j - 1.7),
                    "noise": "%.4f" % rng.normal(0, 0.5)}[how]
    path = write(tmp_path / "dead.csv", header, dead)
    out = analyze_json(path)
    assert out["rep_count"] == REPS and out["gyro"] is False
    assert out["source"]["units"]["gyro"].startswith("not used (")
    table = dowel("analyze", path).stdout
    assert "gyroscope columns not used" in table and "accelerometer alone" in table


def test_repeated_timestamps_are_spread_and_reported(tmp_path, twelve):
    header, rows = twelve
    stalled = [list(r) for r in rows]
    for i in range(1000, 3000):  # a clock that stood still for 2,000 rows
        stalled[i][0] = rows[1000][0]
    out = analyze_json(write(tmp_path / "stalled.csv", header, stalled))
    assert out["rep_count"] == REPS
    assert out["source"]["notes"] == [
        "t repeats on 1999 rows (first at line 1003): spread evenly up to the next time"]
    coarse = [list(r) for r in rows]  # a clock of half the resolution: every time twice
    for i in range(1, len(coarse), 2):
        coarse[i][0] = coarse[i - 1][0]
    out = analyze_json(write(tmp_path / "coarse.csv", header, coarse))
    assert out["rep_count"] == REPS and abs(out["sample_rate_hz"] - 100) < 1
    table = dowel("analyze", tmp_path / "stalled.csv").stdout
    assert "note: t repeats on 1999 rows" in table
    err = one_line(dowel("analyze", write(tmp_path / "same.csv", header,
                                          [["5.0"] + r[1:] for r in rows])))
    assert "line 2: t does not advance: every row has t=5" in err


def test_streaming_gives_the_batch_result(tmp_path, twelve):
    """The file is read in chunks; the reps and figures are those of the whole-file analysis."""
    from smart_dowel import analyze as A
    from smart_dowel.pipeline import analyze

    header, rows = twelve
    path = write(tmp_path / "f.csv", header, rows)
    samples, _cal, _src = A.load_input(str(path))
    batch = analyze(samples).to_dict()
    for chunk_rows in (1, 7, 1000, 100000):
        from smart_dowel import csvfile

        with open(path, "rb") as f:
            reader = csvfile.CsvReader(f, str(path), chunk_rows=chunk_rows)
            src = A.Input(reader.chunks(), None, {"kind": "csv"})
            streamed = A.analyze_input(src).to_dict()
        for key in ("rep_count", "reps", "fault_counts", "duration_s", "sample_rate_hz",
                    "samples", "gyro", "contacts"):
            assert streamed[key] == batch[key], (chunk_rows, key)


# --- item 5: a recording's calibration is checked field by field ---------------------------------


def recording_with(tmp_path, name, header_json):
    path = tmp_path / name
    body = make_body("good", reps=2, seed=1)
    frames = wire_frames(body.render(100))
    path.write_bytes(MAGIC + header_json.encode() + b"\n" + b"".join(frames))
    return path


@pytest.mark.parametrize("field, value, words", [
    ("scale", "NaN", "calibration field sensors.head.scale: nan is not a finite number"),
    ("scale", "0", "calibration field sensors.head.scale: 0: it must be more than 0"),
    ("scale", "-2", "calibration field sensors.head.scale: -2: it must be more than 0"),
    ("zero_counts", "Infinity", "sensors.head.zero_counts: inf is not a finite number"),
    ("scale", '"1"', "sensors.head.scale: '1' is not a number"),
])
def test_a_bad_fsr_calibration_is_refused_naming_the_field(tmp_path, field, value, words):
    hdr = '{"format": 1, "calibration": {"sensors": {"head": {"%s": %s}}}}' % (field, value)
    err = one_line(dowel("analyze", recording_with(tmp_path, "r.rec", hdr)))
    assert words in err and "line 2" in err


# --- item 6: the table shows corruption, lost frames and the effective rate ----------------------


def test_table_shows_lost_and_corrupted_frames_and_the_effective_rate(tmp_path):
    body = make_body("good", reps=3, seed=2)
    frames = wire_frames(body.render(100))
    kept = [f for i, f in enumerate(frames) if i % 4 != 3]  # a quarter of the frames lost
    broken = [bytes(b ^ 0x55 if k == 5 else b for k, b in enumerate(f)) if i % 100 == 7 else f
              for i, f in enumerate(kept)]  # and a few corrupted
    path = tmp_path / "lossy.rec"
    info = pack(INFO, 0, (1, 0, 0, 0x11, b"pico-sim", 0x0F, 3, 100, 4, 1, 0x5EED))
    with RecordingWriter(path, {"port": "/dev/ttyACM0"}) as rec:
        rec.write(info + b"".join(broken))
    r = dowel("analyze", path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "at 100 Hz" in lines[0]
    rate = [ln for ln in lines if ln.startswith("rate: ")]
    assert rate and rate[0].startswith("rate: 7") and "Hz effective (100 Hz nominal)" in rate[0]
    frames_line = [ln for ln in lines if ln.startswith("frames: ")][0]
    out = analyze_json(path)
    dec = out["source"]["decoder"]
    corrupted = dec["crc_errors"] + dec["malformed"] + dec["oversize"]
    assert corrupted >= 10 and dec["lost_frames"] >= len(frames) // 4
    assert frames_line.startswith("frames: %d read, %d corrupted (rejected), %d lost in %d gaps"
                                  % (dec["frames"], corrupted, dec["lost_frames"], dec["gaps"]))
    assert 70 < out["source"]["effective_rate_hz"] < 80


# --- item 7: clear errors instead of tracebacks ------------------------------------------------


def test_huge_fields_and_unbalanced_quotes_are_one_line(tmp_path):
    big = tmp_path / "big.csv"
    with open(big, "w") as f:
        f.write("t,ax,ay,az\n0,0,0,1\n0.01,0,0,")
        f.write("1" * (50 << 20))
        f.write("\n")
    err = one_line(dowel("analyze", big))
    assert "big.csv, line 3: longer than 1024 KB" in err
    quote = tmp_path / "quote.csv"
    quote.write_text('t,ax,ay,az\n0,0,0,1\n0.01,"0,0,1\n' + "0.02,0,0,1\n" * 20)
    err = one_line(dowel("analyze", quote))
    assert "quote.csv, line 3" in err and "unbalanced quote" in err
    huge_quote = tmp_path / "hq.csv"
    huge_quote.write_text('t,ax,ay,az\n0,0,0,1\n0.01,"0,0,1\n' + "0.02,0,0,1\n" * 30000)
    err = one_line(dowel("analyze", huge_quote))
    assert "hq.csv, line" in err and "unbalanced quote" in err


def test_huge_gyro_bias_and_deep_json_in_a_recording_header(tmp_path):
    err = one_line(dowel("analyze", recording_with(
        tmp_path, "bias.rec", '{"format": 1, "calibration": {"gyro_bias_dps": [1e308, 0, 0]}}')))
    assert "calibration field gyro_bias_dps[0]: 1e+308 is beyond 2000" in err
    deep = '{"format": 1, "x": ' + "[" * 100000 + "]" * 100000 + "}"
    err = one_line(dowel("analyze", recording_with(tmp_path, "deep.rec", deep)))
    assert "line 2: recording header is nested too deeply" in err


def test_overflowing_session_numbers(data_dir, tmp_path):
    huge = "99999999999999999999"
    for cmd in (("sessions", "show", huge), ("sessions", "export", huge, "--format", "csv"),
                ("report", huge, "--out", tmp_path / "r.html"), ("ui", "--replay", huge),
                ("sessions", "list", "--patient-id", huge)):
        err = one_line(dowel(*cmd))
        assert "must be from 1 to 9223372036854775807, got %s" % huge in err
    err = one_line(dowel("analyze", "session:" + huge + "999"))
    assert "no such session" in err
    assert not data_dir.exists() and not (tmp_path / "r.html").exists()


def test_output_to_a_full_device_is_one_line(data_dir):
    with Store.open() as store:
        sid = syn.store_session(store, "Ann", 10.0)
    for cmd in (("sessions", "list"), ("sessions", "list", "--json"),
                ("sessions", "show", sid), ("sessions", "export", sid, "--format", "csv")):
        with open("/dev/full", "w") as full:
            r = subprocess.run([sys.executable, "-m", "smart_dowel", *map(str, cmd)],
                               stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
        err = one_line(r)
        assert "cannot write the output (No space left on device)" in err


def test_simulate_arguments_are_checked_before_anything_starts(tmp_path):
    for value in ("nan", "inf", "-1", "0"):
        err = one_line(dowel("simulate", "--speed", value))
        assert "--speed" in err and value in err
    err = one_line(dowel("simulate", "--truth", tmp_path))
    assert "%s is a directory" % tmp_path in err
    err = one_line(dowel("simulate", "--truth", "/nonexistent/x"))
    assert "the directory /nonexistent does not exist" in err
    assert not os.path.exists("/nonexistent")


# --- item 8: pipes read once, a silent FIFO times out ------------------------------------------


def test_a_fifo_with_no_writer_times_out_with_a_message(tmp_path):
    fifo = tmp_path / "samples.fifo"
    os.mkfifo(fifo)
    t0 = time.monotonic()
    err = one_line(dowel("analyze", fifo, "--timeout", "1", timeout=30))
    assert time.monotonic() - t0 < 15
    assert "nothing arrived for 1 s" in err and str(fifo) in err


def test_process_substitution_and_stdin_pipes_are_read_once(tmp_path, twelve):
    header, rows = twelve
    path = write(tmp_path / "f.csv", header, rows)
    r = subprocess.run(["bash", "-c", '"$0" -m smart_dowel analyze <(cat "$1") --json',
                        sys.executable, str(path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["rep_count"] == REPS
    with open(path) as f:
        r = dowel("analyze", "/dev/stdin", stdin=f)
    assert r.returncode == 0 and "%d reps" % REPS in r.stdout, r.stderr
    rec = recording_with(tmp_path, "r.rec", '{"format": 1}')
    r = subprocess.run([sys.executable, "-m", "smart_dowel", "analyze", "/dev/stdin", "--json"],
                       capture_output=True, timeout=120, input=rec.read_bytes())
    assert r.returncode == 0 and json.loads(r.stdout)["source"]["kind"] == "recording"
    # and "-", as command-line tools take it (it was looked for as a file named "-")
    with open(path) as f:
        r = dowel("analyze", "-", "--json", stdin=f)
    assert r.returncode == 0 and json.loads(r.stdout)["rep_count"] == REPS, r.stderr
    r = subprocess.run([sys.executable, "-m", "smart_dowel", "analyze", "-", "--json"],
                       capture_output=True, timeout=120, input=rec.read_bytes())
    assert r.returncode == 0 and json.loads(r.stdout)["source"]["kind"] == "recording"
    with open(path) as f:
        assert dowel("analyze", "-", stdin=f).stdout.startswith("standard input: %d reps" % REPS)
    assert "standard input: empty file" in one_line(dowel("analyze", "-", stdin=subprocess.DEVNULL))
    r = subprocess.run(["bash", "-c", '"$0" -m smart_dowel analyze - <&-', sys.executable],
                       capture_output=True, text=True, timeout=120)
    assert "standard input is closed" in one_line(r)


def test_a_pipe_whose_writer_stays_silent_times_out(tmp_path):
    writer = subprocess.Popen(["sleep", "60"], stdout=subprocess.PIPE)
    try:
        err = one_line(dowel("analyze", "/dev/stdin", "--timeout", "1", stdin=writer.stdout))
        assert "nothing arrived for 1 s" in err
    finally:
        writer.kill()
        writer.wait()


# --- item 9: a failing --out recording never stops the session ---------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KB file system of its own (tmpfs; needs root, as CI has)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("a full disk of its own needs a tmpfs mount: CI must run as root")
        pytest.skip("a full disk of its own needs a tmpfs mount, which needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    assert r.returncode == 0, "mounting a small tmpfs failed: %s" % r.stderr
    yield mnt
    subprocess.run(["umount", str(mnt)], check=True)


def test_record_out_onto_a_full_disk_keeps_the_session_going(data_dir, tmp_path, small_disk):
    from test_store_record import start_sim, stop

    filler = small_disk / "filler"
    with open(filler, "wb") as f:  # leave about 40 KB: the recording fills it in a second
        f.write(b"\0" * (216 << 10))
    sim, port, truth = start_sim(tmp_path, "good", 3, speed=4)
    try:
        duration = truth["duration_s"] / 4 + 1.0
        r = dowel("record", "--port", port, "--patient", "Disk Full", "--duration", duration,
                  "--out", small_disk / "s.rec", timeout=120)
    finally:
        stop(sim)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    stopped = [ln for ln in r.stderr.splitlines() if "writing %s stopped" % (small_disk / "s.rec") in ln]
    assert len(stopped) == 1 and "No space left on device" in stopped[0], r.stderr
    assert "the session goes on" in stopped[0]
    sid = int(r.stdout.splitlines()[0].split()[1])
    with Store.open() as store:
        s = store.session(sid)
    # every rep of the scenario, to its end, is in the session; the sample count is loose
    # because a simulator at 4x speed on a loaded machine sends fewer in the same time
    assert s["ended"] and s["rep_count"] == 3
    assert s["sample_count"] > 0.6 * truth["duration_s"] * 100


# --- item 10: a stale read-only -shm is named, not the directory -------------------------------


def test_a_stale_read_only_shm_is_named_in_the_message(open_tmp):
    d = open_tmp / "data"
    d.mkdir()
    with Store.open(d) as store:
        syn.store_session(store, "Ann", 5.0)
    db = d / "sessions.sqlite3"
    if os.geteuid() == 0:
        for p in (d, db):
            os.chown(p, 65534, 65534)
    env = dict(os.environ, DOWEL_DATA_DIR=str(d))
    # a read-only open of a read-only database creates no side file to be left behind
    os.chmod(db, 0o400)
    r = dowel_as_user("sessions", "list", env=env)
    assert r.returncode == 0 and "Ann" in r.stdout, r.stderr
    assert os.listdir(d) == ["sessions.sqlite3"]
    # one left by an older program (or a read through a -wal) makes a write fail clearly
    os.chmod(db, 0o600)
    shm = d / "sessions.sqlite3-shm"
    shm.write_bytes(b"\0" * 32768)
    os.chmod(shm, 0o400)
    if os.geteuid() == 0:
        os.chown(shm, 65534, 65534)
    err = one_line(dowel_as_user("record", "--port", "/dev/nonexistent-port", env=env))
    assert "%s is read-only for you (mode 400" % shm in err
    assert "holds no sessions" in err and "delete it" in err
    assert "directory" not in err


# --- item 11: reads never create files ---------------------------------------------------------


def test_reads_never_create_the_data_directory_or_the_database(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("DOWEL_DATA_DIR", "XDG_DATA_HOME")}
    env["HOME"] = str(home)
    r = dowel("sessions", "list", env=env)
    assert r.returncode == 0 and "no sessions stored yet" in r.stdout, r.stderr
    r = dowel("sessions", "list", "--json", env=env)
    assert r.returncode == 0 and json.loads(r.stdout) == []
    for cmd in (("sessions", "show", "1"), ("report", "1", "--out", tmp_path / "r.html"),
                ("analyze", "session:1")):
        err = one_line(dowel(*cmd, env=env))
        assert "no session 1" in err
    assert list(home.iterdir()) == [] and not (tmp_path / "r.html").exists()


# --- item 12: Unicode names -------------------------------------------------------------------


def test_unicode_names_are_accepted_normalised_and_matched(tmp_path):
    with Store.open(tmp_path) as store:
        zoe = store.patient_id("Zoë Ωmega 患者 👩‍⚕️")
        persian = store.patient_id("زهرا می\u200cخواهد")  # a zero-width non-joiner inside a word
        composed = store.patient_id("Zo\u00eb")
        assert store.patient_id("Zoe\u0308") == composed  # decomposed
        assert store.patient_id("ZOË") == composed and store.patient_id("zoë") == composed
        assert store.patient_id("BASE") == store.patient_id("base")
        assert len({zoe, persian, composed}) == 3
        names = {p["name"] for p in store.patients()}
        assert "Zoë Ωmega 患者 👩‍⚕️" in names and "زهرا می\u200cخواهد" in names
        assert "Zo\u00eb" in names and "Zoe\u0308" not in names  # stored composed (NFC)
        syn.store_session(store, "Zoë", 5.0)
    r = dowel("sessions", "list", "--patient", "ZOE\u0308", env=dict(os.environ, DOWEL_DATA_DIR=str(tmp_path)))
    assert r.returncode == 0 and "Zoë" in r.stdout, r.stderr


@pytest.mark.parametrize("name, words", [
    ("evil\u202eman", "U+202E"), ("a\u2066b", "U+2066"), ("bell\x07", "U+0007"),
    ("nul\x00", "U+0000"), ("esc\x1b[31m", "U+001B"), ("\u200d", "a patient name is needed"),
])
def test_control_and_bidi_override_characters_are_refused(name, words):
    with pytest.raises(StoreError) as e:
        clean_patient_name(name)
    assert words in str(e.value)


def test_joiners_at_the_edges_of_words_are_dropped():
    assert clean_patient_name("\u200dAnn\u200c Lee") == "Ann Lee"
    assert clean_patient_name("  Ann   Lee ") == "Ann Lee"


# --- item 14: simulate --reps is bounded ---------------------------------------------------------


def test_simulate_reps_is_bounded_and_the_largest_starts_promptly(tmp_path):
    err = one_line(dowel("simulate", "--reps", "10000000"))
    assert "the number of reps must be from 0 to 10000, got 10000000" in err
    t0 = time.monotonic()
    sim = subprocess.Popen([sys.executable, "-m", "smart_dowel", "simulate", "--reps", "10000",
                            "--scenario", "mixed", "--truth", str(tmp_path / "truth.json")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = sim.stdout.readline()
        assert line.startswith("PORT "), sim.stderr.read()
        assert time.monotonic() - t0 < 30
        with open("/proc/%d/status" % sim.pid) as f:
            rss_kb = int([ln for ln in f if ln.startswith("VmRSS:")][0].split()[1])
        assert rss_kb < 300 * 1024
        assert len(json.loads((tmp_path / "truth.json").read_text())["reps"]) == 10000
    finally:
        sim.terminate()
        sim.wait(timeout=10)


# --- item 16: a private way to name the patient ------------------------------------------------


def test_patient_id_names_the_patient_without_showing_the_name(data_dir):
    with Store.open() as store:
        a = syn.store_session(store, "Ann Private", 5.0)
        syn.store_session(store, "Bob Other", 5.0)
        pid = store.session_summary(a)["patient_id"]
    r = dowel("sessions", "list", "--patient-id", pid)
    assert r.returncode == 0 and "Ann Private" in r.stdout and "Bob Other" not in r.stdout
    err = one_line(dowel("record", "--port", "/dev/nonexistent", "--patient-id", "999"))
    assert "there is no patient number 999" in err
    err = one_line(dowel("record", "--port", "/dev/x", "--patient", "A", "--patient-id", "1"))
    assert "not allowed with argument" in err
    from smart_dowel.cli import build_parser
    from smart_dowel.tui.launch import _resolve_patient

    args = build_parser().parse_args(["demo", "--patient-id", str(pid)])
    _resolve_patient(args)
    assert args.patient == "Ann Private"
    help_text = dowel("ui", "--help").stdout
    assert "visible to other users in `ps`" in help_text and "--patient-id" in help_text


def test_a_read_of_a_database_from_an_older_version_upgrades_it_first(data_dir):
    data_dir.mkdir(mode=0o700)
    db = data_dir / "sessions.sqlite3"
    sqlite3.connect(str(db)).close()  # version 0: created, never set up
    os.chmod(db, 0o600)
    r = dowel("sessions", "list")
    assert r.returncode == 0 and "no sessions stored yet" in r.stdout, r.stderr
    with Store.open(readonly=True) as store:
        assert store.connection.execute("PRAGMA user_version").fetchone()[0] >= 1
        with pytest.raises(StoreError, match="open read-only"):
            store.patient_id("Ann")


def test_a_file_that_ends_in_the_middle_of_a_row_loses_that_row_only(tmp_path, twelve):
    """A recorder that stopped while writing a row leaves it cut short, with no newline: the
    file is analysed without it, and says so (it was refused outright: everything lost). A short
    row anywhere else is still an error naming its line."""
    header, rows = twelve
    path = write(tmp_path / "torn.csv", header, rows)
    with open(path, "a") as f:
        f.write(rows[-1][0] + ",0.01")  # the start of one more row
    out = analyze_json(path)
    assert out["rep_count"] == REPS
    assert out["source"]["notes"] == [
        "line %d: the file ends in the middle of a row (2 of %d fields): that row is left out"
        % (len(rows) + 2, len(header))]
    assert "that row is left out" in dowel("analyze", path).stdout
    mid = [list(r) for r in rows]
    mid[500] = mid[500][:2]
    err = one_line(dowel("analyze", write(tmp_path / "mid.csv", header, mid)))
    assert "line 502: 2 fields, expected at least" in err


def test_a_file_too_short_to_hold_a_rep_says_so(tmp_path, twelve):
    """Three rows: 0 reps is not a finding about the patient, and the output says why."""
    header, rows = twelve
    out = analyze_json(write(tmp_path / "tiny.csv", header, rows[:3]))
    assert out["rep_count"] == 0
    assert out["source"]["notes"] == ["only 3 samples (0.02 s): too short to hold a rep"]
    full = analyze_json(write(tmp_path / "full.csv", header, rows))
    assert "notes" not in full["source"]


def test_a_file_whose_sensor_repeats_itself_says_so(tmp_path, twelve):
    """IMU readings that repeat the one before exactly are missing data to the pipeline (a held
    or stuck sensor), never stillness, so a pose or a rep held in them goes unseen: a count
    that may be short is not given silently (an outside tester's noise-free file counted 1 of
    6 reps without a word)."""
    header, rows = twelve
    imu = [j for j, h in enumerate(header) if h[:2] in ("ax", "ay", "az", "gx", "gy", "gz")]
    assert len(imu) == 6, header
    stuck = [list(r) for r in rows]
    for k in range(1000, 1300):  # 3 s stuck on one reading
        for j in imu:
            stuck[k][j] = stuck[999][j]
    out = analyze_json(write(tmp_path / "stuck.csv", header, stuck))
    assert out["source"]["notes"] == [
        "%d%% of the IMU readings repeat the one before exactly (the longest run 3.0 s): a held "
        "or stuck sensor, or data without noise; they count as missing data, not as stillness, "
        "and a pose or a rep held in them may be missed" % round(100.0 * 300 / len(rows))]
    assert "note: " in dowel("analyze", tmp_path / "stuck.csv").stdout


def test_readings_the_device_marked_missing_are_not_taken_for_a_stuck_sensor():
    """The repeated-readings note counts readings that repeat the one before; spans where the
    device said it had no IMU reading (zeros, flagged) are missing, not repeated."""
    from smart_dowel.analyze import StreamSummary

    n = 400
    t = np.arange(n) / 100.0
    rng = np.random.default_rng(1)
    ax, ay, az = (rng.normal(0, 0.01, n) for _ in range(3))
    ok = np.ones(n, dtype=bool)
    ok[100:300] = False
    for a in (ax, ay, az):
        a[100:300] = 0.0
    summary = StreamSummary()
    for off in range(0, n, 64):
        sl = slice(off, off + 64)
        summary.add(Samples(t[sl], ax[sl], ay[sl], az[sl], imu_ok=ok[sl]))
    assert summary.repeated == 0 and summary.longest_repeat_s == 0.0
    for a in (ax, ay, az):  # and a real stuck stretch after it is still seen
        a[301:350] = a[300]
    summary = StreamSummary()
    for off in range(0, n, 64):
        sl = slice(off, off + 64)
        summary.add(Samples(t[sl], ax[sl], ay[sl], az[sl], imu_ok=ok[sl]))
    assert summary.repeated == 49 and abs(summary.longest_repeat_s - 0.49) < 1e-9
