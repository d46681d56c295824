"""The session clock's short-batch path (plain Python) gives what its numpy path gives."""

import random

import numpy as np

from dowel_protocol import FLAG_RESYNC, T_US_MODULUS
from smart_dowel.live.clock import SessionClock


class NumpyOnly(SessionClock):
    SHORT_BATCH = 0


def _stream(seed, n_batches=400):
    """Batches of (raw device times, receive times, flags) with wraps, RESYNCs, steps back,
    jumps, repeated times, stalls and new runs."""
    rnd = random.Random(seed)
    dev = rnd.randrange(T_US_MODULUS)
    host = 1000.0
    out = []
    for _ in range(n_batches):
        n = rnd.choice([1, 1, 2, 2, 3, 5, 16, 17, 40])
        raw, rx, flags = [], [], []
        together = rnd.random() < 0.3  # read at once: one receive time
        for _ in range(n):
            r = rnd.random()
            if r < 0.02:
                dev = rnd.randrange(T_US_MODULUS)  # a restart, or a jump
            elif r < 0.03:
                dev -= rnd.randrange(1, 50_000)  # backwards
            elif r < 0.05:
                pass  # the same time again
            else:
                dev += rnd.choice([10_000, 10_000, 9_990, 10_013, 5_000, 2_000_000])
            host += rnd.choice([0.0, 0.01, 0.0101, 0.0099, 0.5, 3.0])
            raw.append(dev % T_US_MODULUS + rnd.choice([0, 0, T_US_MODULUS]))
            rx.append(host if not together or not rx else rx[-1])
            flags.append(FLAG_RESYNC if rnd.random() < 0.02 else rnd.choice([0, 0, 4]))
        out.append((np.array(raw, dtype=np.int64), rx if rnd.random() < 0.9 else None,
                    np.array(flags) if rnd.random() < 0.9 else None,
                    rnd.random() < 0.02))
    return out


def test_short_batches_are_placed_as_numpy_places_them():
    for seed in range(12):
        fast, ref = SessionClock(), NumpyOnly()
        start = random.Random(seed).randrange(3) * 1_000_000
        fast.start_at(start)
        ref.start_at(start)
        for raw, rx, flags, new_run in _stream(seed):
            if new_run:
                fast.new_run()
                ref.new_run()
            t1, b1 = fast.place(raw, rx, flags)
            t2, b2 = ref.place(raw, rx, flags)
            assert t1.dtype == t2.dtype == np.int64
            assert t1.tolist() == t2.tolist()
            assert b1 == b2
            assert (fast.last_t_us, fast.last_rx, fast.period_us) == (
                ref.last_t_us, ref.last_rx, ref.period_us)


def test_a_regular_stream_takes_the_short_path():
    clock = SessionClock()
    clock.place(np.array([5, 10_005]), [1.0, 1.01], np.array([0, 0]))
    calls = []
    regular = clock._place_regular
    clock._place_regular = lambda *a: calls.append(1) or regular(*a)
    t, breaks = clock.place(np.array([20_005, 30_004]), [1.02, 1.03], np.array([0, 0]))
    assert calls and breaks == [] and t.tolist() == [20_000, 29_999]
    assert clock.period_us == 9_999  # the mean of the middle two, truncated as numpy's median
