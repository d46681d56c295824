"""The session store on real SQLite files: schema and migrations, the writer API, reading back,
reconnect gaps and the device clock, and what a patient's history looks like."""

import json
import sqlite3

import numpy as np
import pytest
from store_helpers import data_dir  # noqa: F401

import dowel_protocol as P
from smart_dowel.errors import StoreError
from smart_dowel.link.types import Gap
from smart_dowel.store import SAMPLE_DTYPE, Store, schema
from smart_dowel.store import db as store_db
from smart_dowel.store import samples as S
from smart_dowel.store import synthetic as syn


def sample_msgs(n, seq0=0, t0_us=0, dt_us=10000, head=20000):
    return [
        P.unpack(P.pack(P.SAMPLE, (seq0 + i) & 0xFFFF,
                        ((t0_us + i * dt_us) % P.T_US_MODULUS, head, 30000, 25000,
                         1000, -3, 7, 12, -4, 5, 0)))
        for i in range(n)
    ]


def test_a_new_store_is_created_in_the_data_directory_with_the_current_schema(data_dir):
    with Store.open() as store:
        assert store.path == data_dir / "sessions.sqlite3"
        conn = store.connection
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"patients", "sessions", "sets", "reps", "faults", "sample_blocks", "gaps"} <= tables


def test_data_dir_defaults_to_the_per_user_directory(monkeypatch):
    import platformdirs

    from smart_dowel.store import paths

    monkeypatch.delenv("DOWEL_DATA_DIR", raising=False)
    assert str(paths.data_dir()) == platformdirs.user_data_dir("smart-dowel", appauthor=False)


def test_a_session_round_trips_samples_sets_reps_and_faults(store_backend):
    with Store.open() as store:
        s = store.start_session("Jane Doe", {"fw_version": "1.0.0", "rate_hz": 100},
                                port="/dev/ttyACM0", flush_interval_s=0)
        assert s.start_set(target_depth_deg=50, target_reps=8) == 1
        recs = s.add_samples(sample_msgs(300))
        assert recs["t_us"][-1] == 2_990_000
        s.add_rep({"index": 1, "start_s": 0.5, "bottom_s": 1.2, "end_s": 2.0, "depth_deg": 52.5,
                   "descent_s": 0.7, "ascent_s": 0.8, "drop_m": 0.03,
                   "faults": [{"id": "tailbone_contact_lost", "phase": "descent",
                               "start_s": 0.9, "duration_s": 0.4, "cue": "Hips back."}]})
        s.end_set()
        s.close()
        got = store.session(s.id)
    assert got["patient"] == "Jane Doe" and got["ended"]
    assert got["device"] == {"fw_version": "1.0.0", "rate_hz": 100}
    assert got["sample_count"] == 300 and got["rep_count"] == 1
    assert got["sets"][0]["target_depth_deg"] == 50 and got["sets"][0]["target_reps"] == 8
    rep = got["reps"][0]
    assert rep["set"] == 1 and rep["depth_deg"] == 52.5 and rep["metrics"] == {"drop_m": 0.03}
    assert rep["faults"] == [{"id": "tailbone_contact_lost", "phase": "descent",
                              "start_s": 0.9, "duration_s": 0.4, "cue": "Hips back."}]
    with Store.open() as store:
        back = store.load_samples(s.id)
    assert back.dtype == SAMPLE_DTYPE and len(back) == 300
    assert list(back["seq"][:3]) == [0, 1, 2]
    assert int(back["head"][0]) == 20000 and int(back["az_mg"][5]) == 7


def test_pipeline_rep_objects_are_stored_with_their_faults(store_backend):
    from smart_dowel.pipeline import Fault, Rep

    rep = Rep(1, 1.0, 2.0, 3.0, 48.0, 1.0, 1.0,
              [Fault("rushed", "descent", 1.0, 0.6), Fault("shallow", "bottom", 2.0, 0.0)])
    with Store.open() as store:
        s = store.start_session("A", None, flush_interval_s=0)
        s.add_rep(rep)
        s.close()
        faults = store.session(s.id)["reps"][0]["faults"]
    assert [f["id"] for f in faults] == ["rushed", "shallow"]
    assert faults[0]["cue"].startswith("Slow down")


def test_block_packing_round_trips_and_is_compact():
    rec, _raw, _truth = syn.synthetic_records(10.0)
    blob = S.pack_block(rec)
    assert (S.unpack_block(blob) == rec).all()
    assert len(blob) < 0.6 * len(rec) * P.SAMPLE_FRAME_LEN  # smaller than the wire stream
    assert len(S.unpack_block(S.pack_block(rec[:0]))) == 0


def test_sequence_numbers_wrap_inside_a_block():
    rec = np.zeros(5, dtype=SAMPLE_DTYPE)
    rec["seq"] = [65534, 65535, 0, 1, 2]
    rec["t_us"] = np.arange(5) * 10000
    assert list(S.unpack_block(S.pack_block(rec))["seq"]) == [65534, 65535, 0, 1, 2]


def test_the_device_clock_is_unwrapped_across_its_30_bit_wrap(store_backend):
    start = P.T_US_MODULUS - 25_000
    with Store.open() as store:
        s = store.start_session("A", None, flush_interval_s=0)
        s.add_samples(sample_msgs(3, t0_us=start))
        s.add_samples(sample_msgs(3, seq0=3, t0_us=start + 30_000))
        s.close()
        t = store.load_samples(s.id)["t_us"]
    assert list(t) == [0, 10000, 20000, 30000, 40000, 50000]


def test_an_unplug_continues_the_session_with_the_gap_recorded(store_backend):
    """A dowel that kept running: its clock is trusted across the gap."""
    with Store.open() as store:
        s = store.start_session("A", None, flush_interval_s=0)
        s.start_set()
        s.add_samples(sample_msgs(100))  # 0 .. 0.99 s
        s.add_gap(Gap("/dev/ttyACM0", 1000.0, 1003.0, 290, False, "unplugged"))
        s.add_samples(sample_msgs(50, seq0=390, t0_us=3_900_000))
        s.add_rep({"start_s": 4.0, "end_s": 4.3, "depth_deg": 20})
        s.close()
        got = store.session(s.id)
        t = store.load_samples(s.id)["t_us"] / 1e6
    assert got["sample_count"] == 150 and len(got["sets"]) == 1
    assert got["gaps"] == [{"start_s": 0.99, "end_s": pytest.approx(3.9),
                            "lost_frames": 290, "reason": "unplugged", "cause": "unplugged"}]
    assert t[100] == pytest.approx(3.9)
    assert got["reps"][0]["set"] == 1  # the set went on through the gap


def test_a_dowel_restarted_during_the_unplug_is_placed_on_the_host_clock(store_backend):
    with Store.open() as store:
        s = store.start_session("A", None, flush_interval_s=0)
        s.add_samples(sample_msgs(100, t0_us=500_000_000))
        s.add_gap(Gap("/dev/ttyACM0", 1000.0, 1005.0, None, True, "power cycled"))
        s.add_samples(sample_msgs(10, t0_us=20_000))  # its clock began again near 0
        s.close()
        t = store.load_samples(s.id)["t_us"] / 1e6
        gaps = store.session(s.id)["gaps"]
    assert np.all(np.diff(t) > 0)
    assert t[100] == pytest.approx(0.99 + 5.0)
    # a restarted dowel cannot say how many frames it lost: unknown, not 0
    assert gaps[0]["start_s"] == pytest.approx(0.99) and gaps[0]["lost_frames"] is None


def test_a_restart_seen_before_the_gap_event_uses_the_receive_times(store_backend):
    with Store.open() as store:
        s = store.start_session("A", None, flush_interval_s=0)
        s.add_samples(sample_msgs(100, t0_us=500_000_000), host_time_s=100.0)
        s.add_samples(sample_msgs(10, t0_us=20_000), host_time_s=108.0)
        s.add_gap(Gap("/dev/ttyACM0", 1000.0, 1007.0, None, True, "power cycled"))
        s.close()
        t = store.load_samples(s.id)["t_us"] / 1e6
        gaps = store.session(s.id)["gaps"]
    assert t[100] == pytest.approx(0.99 + 7.0, abs=0.05)
    assert gaps[0]["start_s"] == pytest.approx(0.99) and gaps[0]["end_s"] == pytest.approx(t[100])
    # a restarted dowel cannot say how many frames it lost: the record says so, not "0 lost"
    assert "restarted" in gaps[0]["reason"] and "unknown" in gaps[0]["reason"]


def test_sessions_are_listed_newest_first_with_counts(store_backend):
    with Store.open() as store:
        a = syn.store_session(store, "Ann", 20.0, tailbone_lost_reps=(1,))
        b = syn.store_session(store, "Bob", 12.0)
        rows = store.list_sessions()
        assert [r["id"] for r in rows] == [b, a]
        ann = store.list_sessions(patient="ann")  # names match regardless of case
    assert [r["id"] for r in ann] == [a]
    r = rows[1]
    assert (r["patient"], r["rep_count"], r["faulty_reps"], r["sample_count"]) == ("Ann", 3, 1, 2000)
    assert r["started"] and r["ended"] and r["duration_s"] == pytest.approx(19.99)


def test_progress_over_sessions_gives_depth_fault_rate_and_reps(store_backend):
    with Store.open() as store:
        syn.store_session(store, "Ann", 20.0, depth_deg=40.0)  # every rep shallow
        syn.store_session(store, "Ann", 30.0, depth_deg=55.0, tailbone_lost_reps=(0,))
        syn.store_session(store, "Bob", 20.0)
        prog = store.progress("Ann")
        patients = store.patients()
    assert [p["rep_count"] for p in prog] == [3, 5]
    assert [round(p["mean_depth_deg"]) for p in prog] == [40, 55]
    assert prog[0]["fault_rate"] == 1.0 and prog[1]["fault_rate"] == pytest.approx(1 / 5)
    assert prog[0]["fault_counts"] == {"shallow": 3}
    assert [(p["name"], p["session_count"]) for p in patients] == [("Ann", 2), ("Bob", 1)]


def test_sql_is_parameterised_names_are_stored_as_given(store_backend):
    name = "Robert'); DROP TABLE sessions;--"
    with Store.open() as store:
        s = store.start_session(name, None, flush_interval_s=0)
        s.close()
        assert store.list_sessions()[0]["patient"] == name
        assert store.list_sessions(patient=name)[0]["id"] == s.id


def test_unprintable_or_empty_patient_names_are_refused(store_backend):
    with Store.open() as store:
        for bad in ("", "   ", "a\x00b", "x" * 500):
            with pytest.raises(StoreError):
                store.start_session(bad, None)


def test_a_missing_session_is_a_clear_error(store_backend):
    with Store.open() as store:
        with pytest.raises(StoreError, match="no session 42"):
            store.session(42)
        with pytest.raises(StoreError, match="no session 42"):
            store.load_samples(42)


def test_migrations_run_in_order_and_keep_the_data(data_dir, monkeypatch):
    with Store.open() as store:
        sid = syn.store_session(store, "Ann", 10.0)
    extra = schema.MIGRATIONS + ["ALTER TABLE sessions ADD COLUMN room TEXT NOT NULL DEFAULT 'A';"]
    monkeypatch.setattr(store_db, "MIGRATIONS", extra)
    monkeypatch.setattr(store_db, "SCHEMA_VERSION", len(extra))
    with Store.open() as store:
        conn = store.connection
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(extra)
        assert conn.execute("SELECT room FROM sessions WHERE id = ?", (sid,)).fetchone() == ("A",)
        assert store.session(sid)["rep_count"] == 1
    with Store.open() as store:  # opening again migrates nothing more
        assert store.connection.execute("PRAGMA user_version").fetchone()[0] == len(extra)


def test_a_failing_migration_leaves_the_previous_version(data_dir, monkeypatch):
    with Store.open():
        pass
    bad = schema.MIGRATIONS + ["CREATE TABLE extra (x);\nTHIS IS NOT SQL;"]
    monkeypatch.setattr(store_db, "MIGRATIONS", bad)
    monkeypatch.setattr(store_db, "SCHEMA_VERSION", len(bad))
    with pytest.raises(StoreError):
        Store.open()
    conn = sqlite3.connect(data_dir / "sessions.sqlite3")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    assert conn.execute("SELECT name FROM sqlite_master WHERE name='extra'").fetchone() is None
    conn.close()


def test_json_columns_hold_device_and_calibration(store_backend):
    from smart_dowel.pipeline import Calibration

    cal = Calibration()
    cal.set_upright((0.0, 0.0, 1.0))
    with Store.open() as store:
        s = store.start_session("A", {"board_id": "e660"}, calibration=cal.to_dict(),
                                flush_interval_s=0)
        cal.set_upright((1.0, 0.0, 0.0))
        s.set_calibration(cal)
        s.close()
        raw = store.connection.execute(
            "SELECT device_json, calibration_json FROM sessions").fetchone()
    assert json.loads(raw[0]) == {"board_id": "e660"}
    assert json.loads(raw[1])["upright"] == [1.0, 0.0, 0.0]


def test_the_writer_thread_commits_without_being_asked(data_dir):
    """With the default flush interval, samples reach the database while the session runs."""
    import time

    with Store.open() as store:
        s = store.start_session("A", None, flush_interval_s=0.05)
        s.add_samples(sample_msgs(50))
        s.add_rep({"start_s": 0.1, "end_s": 0.4})
        for _ in range(200):  # waits for an event, not for a time: the loop ends when it happens
            if s.pending() == (0, 0):
                break
            time.sleep(0.02)
        other = sqlite3.connect(store.path)
        n = other.execute("SELECT SUM(n) FROM sample_blocks").fetchone()[0]
        reps = other.execute("SELECT COUNT(*) FROM reps").fetchone()[0]
        other.close()
        s.close()
    assert (n, reps) == (50, 1)
