"""Stored sessions back into the pipeline: re-analysis and replay at 1x or faster.

`load_samples(session_id)` gives the pipeline's Samples of a whole session (what
`dowel analyze session:ID` needs); `iter_batches()` plays one back in timed batches, as the
link would deliver them, for the TUI's replay mode.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from dowel_protocol import ACCEL_LSB_G, FLAG_IMU_MISSING, GYRO_LSB_DPS

from ..errors import StoreError
from .db import Store

BATCH_S = 0.02  # the link batches every 10-20 ms
MAX_GAP_WAIT_S = 2.0  # a reconnect gap replays as at most this long a pause


def calibration_of(session):
    """The pipeline Calibration stored with a session (dict from Store.session())."""
    from ..pipeline.calibration import Calibration

    return Calibration.from_dict(session.get("calibration") or {})


def to_samples(records, calibration=None):
    """Pipeline Samples from stored records (SAMPLE_DTYPE): session seconds, newtons via the
    calibration's FSR zero and scale, g and deg/s, and the raw counts kept for re-zeroing."""
    from ..pipeline.calibration import Calibration
    from ..pipeline.samples import Samples
    from ..pipeline.types import CONTACTS

    cal = calibration if calibration is not None else Calibration()
    counts = [records[c] for c in CONTACTS]  # (integers: see fsr.counts_to_newtons)
    forces = [np.atleast_1d(cal.sensors[c].to_newtons(counts[i])) for i, c in enumerate(CONTACTS)]
    if not len(records):
        forces = [np.zeros(0)] * 3
    return Samples(
        records["t_us"].astype(np.float64) * 1e-6,
        records["ax_mg"] * ACCEL_LSB_G,
        records["ay_mg"] * ACCEL_LSB_G,
        records["az_mg"] * ACCEL_LSB_G,
        records["gx_ddps"] * GYRO_LSB_DPS,
        records["gy_ddps"] * GYRO_LSB_DPS,
        records["gz_ddps"] * GYRO_LSB_DPS,
        forces[0], forces[1], forces[2],
        imu_ok=(records["flags"] & FLAG_IMU_MISSING) == 0,
        has_gyro=True,
        has_force=True,
        counts=counts,
    )


def _open(store):
    return (store, False) if store is not None else (Store.open(readonly=True), True)


def load_session(session_id, store=None):
    """(Samples, Calibration, session dict) of a stored session; StoreError if it is missing."""
    st, owned = _open(store)
    try:
        session = st.session(session_id)
        records = st.load_samples(session_id)
    finally:
        if owned:
            st.close()
    cal = calibration_of(session)
    return to_samples(records, cal), cal, session


def load_samples(session_id, store=None):
    """The pipeline Samples of a whole stored session, with its stored calibration applied.

    This is the hook for `dowel analyze session:ID`.
    """
    samples, _cal, session = load_session(session_id, store)
    if not len(samples):
        raise StoreError("session %s has no samples to analyse" % session["id"])
    return samples


@dataclass
class ReplayBatch:
    """One batch of a replay: the samples (pipeline Samples), their raw records, and the
    session time (s) at the batch's end."""

    samples: object
    records: np.ndarray
    t_s: float


def iter_batches(session_id, speed=1.0, batch_s=BATCH_S, store=None, calibration=None,
                 sleep=time.sleep, clock=time.monotonic, max_gap_wait_s=MAX_GAP_WAIT_S):
    """Play a stored session back as timed batches, like the link delivers them live.

    speed: 1 is real time, 4 four times faster, 0 (or inf) as fast as the consumer takes them.
    A reconnect gap pauses at most max_gap_wait_s (scaled by speed). The samples are loaded
    once; iterating does no further I/O.
    """
    if speed is None or speed < 0:
        raise ValueError("speed must be 0 (as fast as possible) or positive")
    st, owned = _open(store)
    try:
        session = st.session(session_id)
        records = st.load_samples(session_id)
    finally:
        if owned:
            st.close()
    cal = calibration if calibration is not None else calibration_of(session)
    return _paced(records, cal, speed, batch_s, sleep, clock, max_gap_wait_s)


def _paced(records, cal, speed, batch_s, sleep, clock, max_gap_wait_s):
    n = len(records)
    if n == 0:
        return
    t = records["t_us"] / 1e6
    # replay time: session time with long gaps shortened, so the pacing skips dead air
    dt = np.diff(t, prepend=t[0])
    dt = np.minimum(dt, max(max_gap_wait_s, batch_s))
    play_t = np.cumsum(dt)
    realtime = speed and np.isfinite(speed)
    # batches on a fixed grid of batch_s of (replay) time, as the link's batching interval
    slot = np.floor(play_t / batch_s + 1e-6).astype(np.int64)
    edges = np.concatenate(([0], np.flatnonzero(np.diff(slot)) + 1, [n]))
    start = clock()
    for i, j in zip(edges[:-1], edges[1:]):
        if realtime:
            wait = start + play_t[j - 1] / speed - clock()
            if wait > 0:
                sleep(wait)
        rec = records[i:j]
        yield ReplayBatch(to_samples(rec, cal), rec, float(t[j - 1]))
