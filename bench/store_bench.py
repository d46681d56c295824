"""Session store figures on both backends: the samples/s each commits (compressing, inserting
and committing in 0.5 s blocks, as during a live session: SQLite with WAL and
synchronous=FULL, PostgreSQL with its defaults, fsync and synchronous_commit on), the size of
an hour of session at 100 Hz, and four writers at once into one server.

    python bench/store_bench.py                       # SQLite, and PostgreSQL on a throwaway
                                                      # cluster (initdb/pg_ctl must be installed)
    python bench/store_bench.py --database URL        # PostgreSQL: a real server's empty database
"""

import argparse
import os
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))  # pg_helpers: the cluster

from smart_dowel.store import Store  # noqa: E402
from smart_dowel.store import synthetic as syn  # noqa: E402

RATE_HZ = 100
HOUR_S = 3600
BLOCK_S = 0.5  # the writer's flush interval
MESSAGES_S = 300  # the live path (SAMPLE messages in, device clock unwrapped) over 5 minutes
WRITERS = 4  # rooms writing into one server at once
WRITERS_S = 600  # of data each, as fast as they can


def _dir_bytes(path):
    return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))


def _hour():
    # an hour of synthetic samples: reps every 5 s, sensor noise, tailbone lost now and then
    rec, raw, truth = syn.synthetic_records(HOUR_S, RATE_HZ,
                                            tailbone_lost_reps=range(0, 720, 7), seed=1)
    reps = syn.truth_reps(truth["reps"], tailbone_lost_reps=set(range(0, 720, 7)))
    return rec, raw, reps


def _write_session(store, rec, reps=(), patient="Bench Patient"):
    """Write records in 0.5 s blocks, a commit each; returns (session id, seconds)."""
    s = store.start_session(patient, {"rate_hz": RATE_HZ}, flush_interval_s=0)
    s.start_set(target_depth_deg=45)
    step = int(BLOCK_S * RATE_HZ)
    next_rep = 0
    t0 = time.perf_counter()
    for i in range(0, len(rec), step):
        s.add_samples(rec[i:i + step])
        t_now = (i + step) / RATE_HZ
        while next_rep < len(reps) and reps[next_rep]["end_s"] <= t_now:
            s.add_rep(reps[next_rep])
            next_rep += 1
        s.flush()
    s.close()
    return s.id, time.perf_counter() - t0


def _figures(prefix, n, elapsed, hour_bytes, n_reps, msgs_rate):
    step = int(BLOCK_S * RATE_HZ)
    return {
        prefix + "samples_per_s": int(n / elapsed),
        prefix + "samples_per_s_from_messages": msgs_rate,
        prefix + "commits_per_s": round(n / step / elapsed, 1),
        prefix + "hour_mb": round(hour_bytes / 1e6, 2),
        prefix + "hour_samples": n,
        prefix + "bytes_per_sample": round(hour_bytes / n, 1),
        prefix + "hour_reps": n_reps,
    }


def _from_messages(store, rec, raw):
    msgs = syn.to_messages(rec[: MESSAGES_S * RATE_HZ], raw[: MESSAGES_S * RATE_HZ])
    s = store.start_session("Bench Patient", None, flush_interval_s=0)
    step = int(BLOCK_S * RATE_HZ)
    t1 = time.perf_counter()
    for i in range(0, len(msgs), step):
        s.add_samples(msgs[i:i + step])
        s.flush()
    s.close()
    return int(len(msgs) / (time.perf_counter() - t1))


def run_sqlite(rec, raw, reps):
    with tempfile.TemporaryDirectory(prefix="dowel-store-bench-") as tmp:
        store = Store.open(tmp)
        sid, elapsed = _write_session(store, rec, reps)
        store.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        hour_bytes = _dir_bytes(tmp)
        assert len(store.load_samples(sid)) == len(rec) and store.integrity_check() == "ok"
        msgs_rate = _from_messages(store, rec, raw)
        store.close()
    return _figures("store_", len(rec), elapsed, hour_bytes, len(reps), msgs_rate)


def run_postgres(url, rec, raw, reps):
    store = Store.open(url=url)

    def db_bytes():
        with store.lock:
            return store.connection.execute("SELECT pg_database_size(current_database())"
                                            ).fetchone()[0]

    before = db_bytes()
    sid, elapsed = _write_session(store, rec, reps)
    hour_bytes = db_bytes() - before
    assert len(store.load_samples(sid)) == len(rec)
    msgs_rate = _from_messages(store, rec, raw)
    out = _figures("store_pg_", len(rec), elapsed, hour_bytes, len(reps), msgs_rate)
    # four rooms at once, each committing its 0.5 s blocks as fast as the server takes them
    part = rec[: WRITERS_S * RATE_HZ]
    stores = [Store.open(url=url) for _ in range(WRITERS)]
    times = [None] * WRITERS

    def one(k):
        times[k] = _write_session(stores[k], part, patient="Room %d" % k)[1]

    threads = [threading.Thread(target=one, args=(k,)) for k in range(WRITERS)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    for st in stores:
        st.close()
    store.close()
    out["store_pg_%d_writers_samples_per_s" % WRITERS] = int(WRITERS * len(part) / wall)
    return out


def run(database=None):
    rec, raw, reps = _hour()
    out = run_sqlite(rec, raw, reps)
    if database:
        out.update(run_postgres(database, rec, raw, reps))
        return out
    import pg_helpers

    bindir = pg_helpers.find_bindir()
    if bindir is None:
        out["store_pg"] = "skipped: " + pg_helpers.INSTALL_HINT
        return out
    with pg_helpers.running_cluster(bindir) as cluster:
        name = cluster.new_database()
        out.update(run_postgres(cluster.url(database=name), rec, raw, reps))
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--database", metavar="URL", default=None,
                   help="an empty database at today's schema on a real server "
                        "(postgresql://USER@HOST/DB; the password from ~/.pgpass)")
    for k, v in run(p.parse_args().database).items():
        print("%-40s %s" % (k, v))
