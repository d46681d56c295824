"""What the clinic screen shows: the live session's picture (`Snapshot`, `LinkStatus`, defined
in smart_dowel.live.state and re-exported here) and the screen's own words for the faults.
"""

from __future__ import annotations

from ..live.state import (  # noqa: F401
    DEFAULT_TARGET_DEPTH_DEG,
    DEFAULT_TARGET_REPS,
    TARGET_BAND_DEG,
    TRACE_HZ,
    TRACE_S,
    Contact,
    LinkStatus,
    RepRow,
    Snapshot,
)

# Display words for the fault ids (banner titles, table cells); cues come from the pipeline.
FAULT_TITLES = {
    "head_contact_lost": "HEAD LOST",
    "midback_contact_lost": "MID-BACK LOST",
    "tailbone_contact_lost": "TAILBONE LOST",
    "shallow": "TOO SHALLOW",
    "squat_pattern": "SQUATTING",
    "rushed": "TOO FAST",
}
FAULT_SHORT = {
    "head_contact_lost": "Head lost",
    "midback_contact_lost": "Mid-back lost",
    "tailbone_contact_lost": "Tailbone lost",
    "shallow": "shallow",
    "squat_pattern": "squat",
    "rushed": "rushed",
}
CONTACT_FAULTS = {"head_contact_lost", "midback_contact_lost", "tailbone_contact_lost"}
