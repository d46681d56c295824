"""Session store figures: the samples/s it sustains (compressing, inserting and committing
with WAL and synchronous=FULL in 0.5 s blocks, as during a live session) and the disk size of
an hour of session at 100 Hz.

    python bench/store_bench.py
"""

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from smart_dowel.store import Store  # noqa: E402
from smart_dowel.store import synthetic as syn  # noqa: E402

RATE_HZ = 100
HOUR_S = 3600
BLOCK_S = 0.5  # the writer's flush interval
MESSAGES_S = 300  # the live path (SAMPLE messages in, device clock unwrapped) over 5 minutes


def _dir_bytes(path):
    return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))


def run():
    with tempfile.TemporaryDirectory(prefix="dowel-store-bench-") as tmp:
        store = Store.open(tmp)
        # an hour of synthetic samples: reps every 5 s, sensor noise, tailbone lost now and then
        rec, raw, truth = syn.synthetic_records(HOUR_S, RATE_HZ,
                                                tailbone_lost_reps=range(0, 720, 7), seed=1)
        reps = syn.truth_reps(truth["reps"], tailbone_lost_reps=set(range(0, 720, 7)))
        s = store.start_session("Bench Patient", {"rate_hz": RATE_HZ}, flush_interval_s=0)
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
        elapsed = time.perf_counter() - t0
        store.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        hour_bytes = _dir_bytes(tmp)
        ok = store.integrity_check()
        n_kept = len(store.load_samples(s.id))
        assert n_kept == len(rec) and ok == "ok"

        msgs = syn.to_messages(rec[: MESSAGES_S * RATE_HZ], raw[: MESSAGES_S * RATE_HZ])
        s2 = store.start_session("Bench Patient", None, flush_interval_s=0)
        t1 = time.perf_counter()
        for i in range(0, len(msgs), step):
            s2.add_samples(msgs[i:i + step])
            s2.flush()
        s2.close()
        elapsed_msgs = time.perf_counter() - t1
        store.close()
    return {
        "store_samples_per_s": int(len(rec) / elapsed),
        "store_samples_per_s_from_messages": int(len(msgs) / elapsed_msgs),
        "store_commits_per_s": round(len(rec) / step / elapsed, 1),
        "store_hour_mb": round(hour_bytes / 1e6, 2),
        "store_hour_samples": len(rec),
        "store_bytes_per_sample": round(hour_bytes / len(rec), 1),
        "store_hour_reps": len(reps),
    }


if __name__ == "__main__":
    for k, v in run().items():
        print("%-36s %s" % (k, v))
