"""A recorder standing for one clinic PC: streams synthetic 100 Hz samples in real time (20 ms
batches, like the link) into the store DOWEL_DATABASE_URL names, adds each rep as it ends, and
reports on stdout: SESSION id, STORE_ERROR text (each write failure the writer reports), and at
the end DONE samples reps (what it handed to the store).

usage: clinic_recorder_child.py PATIENT DURATION_S SEED
"""

import sys
import time

from smart_dowel.errors import StoreError
from smart_dowel.store import Store
from smart_dowel.store import synthetic as syn

RATE_HZ = 100
BATCH = 2


def main(patient, duration_s, seed):
    rec, raw, truth = syn.synthetic_records(duration_s, RATE_HZ, seed=seed)
    msgs = syn.to_messages(rec, raw)
    reps = syn.truth_reps(truth["reps"])
    store = Store.open()

    def on_error(e):
        print("STORE_ERROR %s" % e, flush=True)

    session = store.start_session(patient, {"fw_version": "1.0.0"}, source="synthetic",
                                  on_error=on_error)
    session.start_set(target_depth_deg=45, target_reps=10)
    print("SESSION %d" % session.id, flush=True)
    start = time.monotonic()
    next_rep = sent_reps = 0
    for i in range(0, len(msgs), BATCH):
        delay = start + i / RATE_HZ - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        session.add_samples(msgs[i:i + BATCH], host_time_s=time.monotonic())
        t_now = (i + BATCH - 1) / RATE_HZ
        while next_rep < len(reps) and reps[next_rep]["end_s"] <= t_now:
            session.add_rep(reps[next_rep])
            next_rep += 1
            sent_reps += 1
    for _ in range(120):  # the store may still be coming back: close() retries on failure
        try:
            session.close()
            break
        except StoreError as e:  # said, then tried again
            print("STORE_ERROR %s" % e, flush=True)
            time.sleep(0.5)
    store.close()
    print("DONE %d %d" % (len(msgs), sent_reps), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3])))
