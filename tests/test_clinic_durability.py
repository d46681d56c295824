"""Many PCs, one server: four recorders streaming 100 Hz for 60 s into one PostgreSQL server
keep every sample and rep exactly once; a server restart mid-session is a gap the recorder
rides out by itself, writing what it buffered; and a full buffer says so and is a stored gap."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from smart_dowel.errors import StoreError
from smart_dowel.store import Store
from smart_dowel.store import synthetic as syn

HERE = Path(__file__).resolve().parent
RATE_HZ = 100


def start_recorder(patient, duration_s, seed):
    return subprocess.Popen(
        [sys.executable, str(HERE / "clinic_recorder_child.py"), patient, str(duration_s),
         str(seed)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))


class Recorder:
    """A recorder child and what it said, read on a thread."""

    def __init__(self, patient, duration_s, seed):
        self.seed, self.duration_s = seed, duration_s
        self.proc = start_recorder(patient, duration_s, seed)
        self.session_id = None
        self.errors, self.done = [], None
        self.started = threading.Event()
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self):
        for line in self.proc.stdout:
            word, _, rest = line.strip().partition(" ")
            if word == "SESSION":
                self.session_id = int(rest)
                self.started.set()
            elif word == "STORE_ERROR":
                self.errors.append(rest)
            elif word == "DONE":
                self.done = tuple(int(x) for x in rest.split())

    def wait(self, timeout):
        self.proc.wait(timeout=timeout)
        self._t.join(timeout=10)
        assert self.proc.returncode == 0, self.proc.stderr.read()
        return self


def assert_stored_exactly_once(store, r):
    """Every sample the recorder handed over is stored once, in order, as it was; so is every rep."""
    sent_samples, sent_reps = r.done
    rec, _raw, truth = syn.synthetic_records(r.duration_s, RATE_HZ, seed=r.seed)
    kept = store.load_samples(r.session_id)
    assert len(kept) == sent_samples == len(rec)
    assert (kept == rec).all()  # none missing, none twice, none altered
    session = store.session(r.session_id)
    starts = [rep["start_s"] for rep in session["reps"]]
    assert len(starts) == sent_reps == len(set(starts)) >= 1
    assert session["ended"] and session["sample_count"] == sent_samples
    return session


def test_four_recorders_for_60_s_into_one_server_keep_every_sample_and_rep_once(pg_url):
    # two rooms see the same patient (spelt differently): one patient row
    recorders = [Recorder(name, 60.0, seed) for name, seed in
                 (("Ann Example", 1), ("ANN EXAMPLE", 2), ("Bob Example", 3), ("Cy Example", 4))]
    for r in recorders:
        r.wait(timeout=180)
        assert r.errors == []
    with Store.open() as store:
        for r in recorders:
            assert_stored_exactly_once(store, r)
        patients = {p["name"]: p["session_count"] for p in store.patients()}
        assert sorted(patients.values()) == [1, 1, 2] and len(patients) == 3
        assert sum(s["sample_count"] for s in store.list_sessions()) == 4 * 60 * RATE_HZ


def test_a_server_restart_mid_session_is_ridden_out_and_nothing_is_lost_or_doubled(
        pg_server, pg_url):
    r = Recorder("Ann Example", 14.0, 5)
    assert r.started.wait(60)
    time.sleep(4.0)
    pg_server.restart(down_s=3.0)  # the connection is cut; for 3 s nothing answers
    r.wait(timeout=120)
    # the recorder said what happened, in one sentence naming the server (no password)
    assert r.errors and "cannot reach the database server" in r.errors[0]
    with Store.open() as store:
        session = assert_stored_exactly_once(store, r)
    (note,) = [e for e in session["events"] if e["kind"] == "store"]
    assert 3.0 <= note["t_s"] <= 9.0 and "could not be written for" in note["message"]


def test_a_full_buffer_while_the_server_is_down_says_so_and_is_stored_as_a_gap(pg_server, pg_url):
    rec, _raw, _truth = syn.synthetic_records(10.0, RATE_HZ, seed=2)
    store = Store.open()
    errors = []
    w = store.start_session("Ann Example", None, flush_interval_s=0, on_error=errors.append)
    w.max_buffered_samples = 300
    try:
        w.add_samples(rec[:200])
        w.flush()
        pg_server.stop()
        w.add_samples(rec[200:400])
        with pytest.raises(StoreError, match="cannot reach the database server"):
            w.flush()
        for i in range(400, 700, 2):  # 20 ms batches: 100 more samples fit, then none
            w.add_samples(rec[i:i + 2])
        assert w.buffer_full_error is not None
        assert "samples are not saved until it is back" in str(w.buffer_full_error)
        assert w.pending()[0] == 300
        w.add_rep({"start_s": 5.0, "end_s": 6.5, "depth_deg": 50.0})  # reps are still kept
    finally:
        pg_server.start()
    w.close()
    got = store.session(w.id)
    kept = store.load_samples(w.id)
    store.close()
    assert len(kept) == 500 and (kept == rec[:500]).all()
    assert got["rep_count"] == 1
    (gap,) = got["gaps"]
    assert gap["cause"] == "not saved" and gap["lost_frames"] == 200
    assert gap["start_s"] == pytest.approx(5.0) and gap["end_s"] == pytest.approx(6.99)
    assert np.all(np.diff(kept["t_us"]) > 0)


def test_a_store_left_idle_across_a_server_restart_just_works(pg_server, pg_url, monkeypatch):
    from smart_dowel.store import postgres

    monkeypatch.setattr(postgres, "IDLE_CHECK_S", 0.5)
    with Store.open() as store:
        store.list_sessions()
        pg_server.restart()
        time.sleep(0.6)
        w = store.start_session("Ann Example", None, flush_interval_s=0)  # no error first
        w.close()
        assert [s["id"] for s in store.list_sessions()] == [w.id]
