"""Fixed example pictures of the clinic screen (connected mid-rep, a contact lost, a fault,
reconnecting) and synthetic link batches: deterministic data for the tests, the snapshot
tests and anyone who wants to look at a state without a dowel.
"""

from __future__ import annotations

import time

from ..pipeline.types import CUES
from .state import Contact, LinkStatus, RepRow, Snapshot

ROWS = (
    RepRow(1, 58.0, 2.1, 1.6, ()),
    RepRow(2, 61.0, 2.3, 1.5, ()),
    RepRow(3, 55.0, 1.9, 1.4, ("tailbone_contact_lost",)),
    RepRow(4, 38.0, 0.8, 1.1, ("shallow", "rushed")),
    RepRow(5, 60.0, 2.2, 1.7, ()),
)
TRACE = tuple(
    [1.0] * 10
    + [min(60.0, 3.0 * i) for i in range(21)]
    + [60.0] * 10
    + [max(2.0, 60.0 - 4.0 * i) for i in range(15)]
    + [2.0] * 12
    + [min(52.0, 2.6 * i) for i in range(20)]
)


def contacts(head=3.1, midback=14.6, tailbone=8.2):
    """Contacts with these pressures (N); None means lost."""
    out = []
    for point, n in (("head", head), ("midback", midback), ("tailbone", tailbone)):
        out.append(Contact(point, n is not None, 0.0 if n is None else float(n)))
    return tuple(out)


def connected_status(port="/dev/ttyACM0", source="dowel"):
    return LinkStatus(source=source, state="connected", port=port, sample_rate_hz=100.0,
                      lost_frames=0, crc_errors=0, imu="MPU-6050", imu_ok=True)


def reconnecting_status(port="/dev/ttyACM0"):
    return LinkStatus(source="dowel", state="reconnecting", port=port, sample_rate_hz=0.0,
                      lost_frames=12, imu="MPU-6050", imu_ok=True, since_rx_s=2.0,
                      message="The port %s failed: device disconnected; reconnecting." % port)


def connected_snapshot(**kw):
    """Mid-rep, all three contacts on, set 2 with five reps done."""
    base = dict(
        t_s=42.0, hinge_deg=52.0, contacts=contacts(), has_data=True, phase="descent",
        upright=True, trace=TRACE, target_depth_deg=45.0, target_reps=10, group="set",
        set_number=2, set_running=True, rows=ROWS, total_reps=15, patient="Jane Doe",
        session_id=7, saving=True, seq=4200, samples=4200,
    )
    base.update(kw)
    return Snapshot(**base)


def lost_snapshot():
    """The tailbone contact lost mid-rep: the lumbar-flexion fault with its cue."""
    return connected_snapshot(
        contacts=contacts(tailbone=None), fault_id="tailbone_contact_lost",
        cue=CUES["tailbone_contact_lost"],
    )


def fault_snapshot():
    """A rep ended too shallow (no contact lost): an amber banner."""
    return connected_snapshot(hinge_deg=4.0, phase="standing", fault_id="shallow",
                              cue=CUES["shallow"])


def synthetic_batches(duration_s=30.0, rate_hz=100, reps=4, batch=2, seed=0,
                      tailbone_lost_reps=(), depth_deg=60.0):
    """link.LinkBatch objects of a synthetic hinge session (store.synthetic), `batch` samples
    each, as the link would hand them over (no serial port). depth_deg: one depth, or one
    per rep (cycled)."""
    from ..link.types import LinkBatch
    from ..store.synthetic import synthetic_records, to_messages

    rec, raw_t, _truth = synthetic_records(duration_s, rate_hz=rate_hz, reps=reps, seed=seed,
                                           tailbone_lost_reps=tailbone_lost_reps,
                                           depth_deg=depth_deg)
    msgs = to_messages(rec, raw_t)
    out = []
    now = time.monotonic()
    for i in range(0, len(msgs), batch):
        part = msgs[i:i + batch]
        out.append(LinkBatch(i // batch, part, [now] * len(part), b"", time.time(), now))
    return out
