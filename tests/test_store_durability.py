"""A kill -9 of a recording process loses no committed data and at most the last second of
samples, and the database passes its integrity check afterwards: on SQLite and on the
clinic's PostgreSQL server."""

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from store_helpers import dowel

from smart_dowel.store import Store
from smart_dowel.store import synthetic as syn

HERE = Path(__file__).resolve().parent
RATE_HZ = 100


def test_kill_9_mid_set_loses_at_most_the_last_second(store_backend):
    child = subprocess.Popen(
        [sys.executable, str(HERE / "store_kill_child.py")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )
    sent = committed_samples = committed_reps = 0
    session_id = None
    kill_at = None
    try:
        for line in child.stdout:
            word, *rest = line.split()
            if word == "SESSION":
                session_id = int(rest[0])
            elif word == "SENT":
                sent = int(rest[0])
            elif word == "COMMITTED":
                committed_samples, committed_reps = int(rest[0]), int(rest[1])
            # mid-set: a rep stored, the next under way; then a moment that has nothing to do
            # with the writer's commits (0.37 s of samples later)
            if kill_at is None and committed_reps >= 1 and sent >= 650:
                kill_at = sent + 37
            if kill_at is not None and sent >= kill_at:
                os.kill(child.pid, signal.SIGKILL)
                break
        else:
            raise AssertionError("the writer ended early: %s" % child.stderr.read())
        for line in child.stdout:  # lines it wrote before it died
            word, *rest = line.split()
            if word == "SENT":
                sent = int(rest[0])
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL

    if store_backend == "sqlite":
        db = Path(os.environ["DOWEL_DATA_DIR"]) / "sessions.sqlite3"
        conn = sqlite3.connect(db)  # as the crash left it (SQLite replays the WAL on open)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()

    rec, _raw, _truth = syn.synthetic_records(600.0, RATE_HZ, tailbone_lost_reps=(0,), seed=7)
    with Store.open() as store:
        kept = store.load_samples(session_id)
        session = store.session(session_id)
        n = len(kept)
        print("sent %d samples, kept %d, lost %d (%.2f s)" % (sent, n, sent - n, (sent - n) / RATE_HZ))
        assert n >= committed_samples  # nothing committed was lost
        assert sent - RATE_HZ <= n <= sent + 2  # at most the last second (+ the batch in flight)
        assert (kept == rec[:n]).all()  # every kept sample intact, none missing in between
        assert session["rep_count"] >= committed_reps >= 1
        assert session["sets"][0]["number"] == 1 and session["ended"] is None
        assert [f["id"] for f in session["reps"][0]["faults"]] == ["tailbone_contact_lost"]
        assert store.integrity_check() == "ok"
        # the store keeps working after the crash
        s = store.start_session("Kill Test", None, flush_interval_s=0)
        s.close()
    listing = dowel("sessions", "list")
    assert listing.returncode == 0 and "not closed" in listing.stdout
