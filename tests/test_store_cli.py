"""`dowel sessions list|show|export`, `dowel analyze session:ID`, and replay of a stored
session through the pipeline."""

import csv
import io
import json

import numpy as np
import pytest
from store_helpers import data_dir, dowel  # noqa: F401

from smart_dowel.pipeline import Pipeline, RepCompleted, analyze
from smart_dowel.store import Store
from smart_dowel.store import synthetic as syn
from smart_dowel.store.replay import iter_batches, load_samples


@pytest.fixture
def two_sessions(store_backend):
    with Store.open() as store:
        a = syn.store_session(store, "Ann Example", 30.0, tailbone_lost_reps=(1,))
        b = syn.store_session(store, "Bob Example", 20.0, depth_deg=40.0, seed=3)
    return a, b


def test_sessions_list_json_has_id_patient_started_rep_count(two_sessions):
    a, b = two_sessions
    r = dowel("sessions", "list", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [(x["id"], x["patient"], x["rep_count"]) for x in rows] == [
        (b, "Bob Example", 3), (a, "Ann Example", 5)]
    assert all(x["started"] for x in rows)


def test_sessions_list_table_and_patient_filter(two_sessions):
    r = dowel("sessions", "list", "--patient", "ann example")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["ID", "Patient", "Started", "Length", "Sets", "Reps", "Faulty", "Depth"]
    assert len(lines) == 2 and "Ann Example" in lines[1] and "Bob" not in r.stdout
    assert lines[1].split()[-4:] == ["1", "5", "1", "60°"]


def test_an_empty_history_says_so(store_backend):
    r = dowel("sessions", "list")
    assert r.returncode == 0 and "no sessions stored yet" in r.stdout


def test_sessions_show_prints_sets_reps_and_faults(two_sessions):
    a, _b = two_sessions
    r = dowel("sessions", "show", a)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "Session %d: Ann Example" % a in out
    assert "5 in 1 set(s), 1 with a fault" in out
    assert "Set 1 (target depth 45°, target 5 reps)" in out
    rows = [ln.split() for ln in out.splitlines() if ln.strip()[:1].isdigit()]
    assert [r[0] for r in rows] == ["1", "2", "3", "4", "5"]
    assert rows[1][-1] == "tailbone_contact_lost" and rows[0][-1] == "-"


def test_show_of_a_missing_session_is_one_clear_line(store_backend):
    r = dowel("sessions", "show", "99")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no session 99" in r.stderr


def test_json_export_carries_reps_with_fault_ids_and_cues(two_sessions, tmp_path):
    a, _b = two_sessions
    out = tmp_path / "a.json"
    r = dowel("sessions", "export", a, "--format", "json", "--out", out)
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert doc["format"] == "smart-dowel session" and doc["patient"] == "Ann Example"
    assert doc["rep_count"] == 5 and len(doc["reps"]) == 5
    f = doc["reps"][1]["faults"][0]
    assert f["id"] == "tailbone_contact_lost" and f["phase"] == "descent" and f["cue"]
    assert doc["sets"][0]["rep_count"] == 5 and "reps" not in doc["sets"][0]


def test_csv_export_is_the_analyze_format_with_rep_and_fault_columns(two_sessions):
    a, _b = two_sessions
    r = dowel("sessions", "export", a, "--format", "csv")  # to stdout
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert list(rows[0]) == ["t", "ax", "ay", "az", "gx", "gy", "gz", "head", "midback",
                             "tailbone", "rep", "faults"]
    assert len(rows) == 3000
    assert float(rows[1]["t"]) == pytest.approx(0.01)
    assert {r["rep"] for r in rows} == {"", "1", "2", "3", "4", "5"}
    lost = [r for r in rows if r["faults"]]
    assert {r["faults"] for r in lost} == {"tailbone_contact_lost"}
    assert {r["rep"] for r in lost} == {"2"}
    assert sum(float(r["tailbone"]) > 0.0 for r in lost) <= 1  # the window's edge sample
    assert len(lost) == pytest.approx(150, abs=1)
    assert float(lost[0]["t"]) == pytest.approx(7.8)


def test_csv_export_reanalyses_to_the_same_reps(two_sessions, tmp_path):
    a, _b = two_sessions
    out = tmp_path / "a.csv"
    assert dowel("sessions", "export", a, "--format", "csv", "--out", out).returncode == 0
    r = dowel("analyze", out, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["rep_count"] == 5
    assert [x["faults"] for x in doc["reps"]] == [[], ["tailbone_contact_lost"], [], [], []]


def test_analyze_session_reanalyses_the_stored_samples(two_sessions):
    a, _b = two_sessions
    r = dowel("analyze", "session:%d" % a, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["rep_count"] == 5 and doc["source"]["patient"] == "Ann Example"
    with Store.open() as store:
        stored = store.session(a)["reps"]
    for got, want in zip(doc["reps"], stored):  # the same clock as the stored reps
        assert abs(got["start_s"] - want["start_s"]) < 0.5
        assert abs(got["depth_deg"] - want["depth_deg"]) < 2.0
    missing = dowel("analyze", "session:77")
    assert missing.returncode == 2 and "no session 77" in missing.stderr


def test_replay_yields_every_sample_in_order_through_the_same_pipeline(two_sessions):
    a, _b = two_sessions
    pipe = Pipeline()
    reps = []
    n = 0
    last_t = -1.0
    for batch in iter_batches(a, speed=0):
        assert batch.samples.t_s[0] > last_t
        last_t = batch.samples.t_s[-1]
        assert batch.t_s == pytest.approx(last_t)
        n += len(batch.samples)
        reps += [e.rep for e in pipe.push(batch.samples) if isinstance(e, RepCompleted)]
    assert n == 3000
    batch_result = analyze(load_samples(a))
    assert [round(r.depth_deg, 3) for r in reps] == [round(r.depth_deg, 3) for r in batch_result.reps]
    assert len(reps) == 5


def test_replay_is_paced_at_the_requested_speed(two_sessions):
    """With a fake clock: at 1x the replay waits as long as the session lasted, at 4x a
    quarter of that; batches are 20 ms of data like the live link."""
    a, _b = two_sessions
    for speed in (1.0, 4.0):
        now = [0.0]
        slept = []

        def sleep(s):
            slept.append(s)
            now[0] += s

        batches = list(iter_batches(a, speed=speed, sleep=sleep, clock=lambda: now[0]))
        sizes = {len(b.samples) for b in batches}
        assert sizes <= {1, 2}  # 100 Hz: two samples per 20 ms
        assert now[0] == pytest.approx(29.99 / speed, rel=0.01)


def test_replay_shortens_a_long_gap(store_backend):
    from test_store_db import sample_msgs

    from smart_dowel.link.types import Gap

    with Store.open() as store:
        s = store.start_session("A", None, flush_interval_s=0)
        s.add_samples(sample_msgs(100))
        s.add_gap(Gap("p", 0.0, 60.0, 6000, False, "unplugged"))
        s.add_samples(sample_msgs(100, seq0=6100, t0_us=61_000_000))
        s.close()
    now = [0.0]

    def sleep(x):
        now[0] += x

    batches = list(iter_batches(s.id, speed=1.0, sleep=sleep, clock=lambda: now[0]))
    assert sum(len(b.samples) for b in batches) == 200
    assert batches[-1].t_s == pytest.approx(61.99)
    assert now[0] < 5.0  # the minute without data replays as a short pause


def test_load_samples_of_an_empty_session_is_a_clear_error(store_backend):
    from smart_dowel.errors import StoreError

    with Store.open() as store:
        s = store.start_session("A", None, flush_interval_s=0)
        s.close()
    with pytest.raises(StoreError, match="no samples"):
        load_samples(s.id)
    assert np.isscalar(s.id)
