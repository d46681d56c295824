"""A recording process for the kill -9 test: feeds synthetic samples into a session in real
time (100 Hz, in 20 ms batches, like the link), adds each rep as it ends, and reports on
stdout what it has handed to the store (SENT n) and what the store has committed."""

import sys
import time

from smart_dowel.store import Store
from smart_dowel.store import synthetic as syn

RATE_HZ = 100
BATCH = 2


def main():
    rec, raw, truth = syn.synthetic_records(600.0, RATE_HZ, tailbone_lost_reps=(0,), seed=7)
    msgs = syn.to_messages(rec, raw)
    reps = syn.truth_reps(truth["reps"], tailbone_lost_reps=(0,))
    store = Store.open()
    session = store.start_session("Kill Test", {"fw_version": "1.0.0"}, source="synthetic")
    session.start_set(target_depth_deg=45, target_reps=10)
    print("SESSION %d" % session.id, flush=True)
    start = time.monotonic()
    next_rep = 0
    committed = (0, 0)
    for i in range(0, len(msgs), BATCH):
        due = start + i / RATE_HZ
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        session.add_samples(msgs[i:i + BATCH], host_time_s=time.monotonic())
        t_now = (i + BATCH - 1) / RATE_HZ
        while next_rep < len(reps) and reps[next_rep]["end_s"] <= t_now:
            session.add_rep(reps[next_rep])
            next_rep += 1
        print("SENT %d" % (i + BATCH), flush=True)
        now = (session.committed_samples, session.committed_reps)
        if now != committed:
            committed = now
            print("COMMITTED %d %d" % now, flush=True)
    session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
