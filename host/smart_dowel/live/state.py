"""The live picture and the link's health as plain immutable values, handed from the data
thread to whichever front end shows them (the clinic screen, `dowel record`).

`Snapshot` is the live picture (contacts, hinge, trace, reps of the set); `LinkStatus` is the
status line. Nothing here imports Textual or pyserial.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..pipeline.types import CONTACT_LABELS, CONTACTS

DEFAULT_TARGET_DEPTH_DEG = 45.0
DEFAULT_TARGET_REPS = 10
TARGET_BAND_DEG = 20.0  # the target band runs from the target depth this many degrees deeper
TRACE_S = 8.0  # seconds of hinge history on screen
TRACE_HZ = 20.0  # points per second kept for the trace


@dataclass(frozen=True)
class Contact:
    """One contact point: on the back or lost, and its pressure in N.

    `on` is the debounced state the faults are judged on; `raw_on` the pad's state this very
    sample (hysteresis only), which the screen and the sound show at once (None: not known,
    then `on`).
    """

    point: str
    on: bool
    pressure_n: float
    raw_on: bool | None = None

    @property
    def now_on(self):
        """What to show now: the instant state when known, else the debounced one."""
        return self.on if self.raw_on is None else self.raw_on

    @property
    def label(self):
        return CONTACT_LABELS[self.point]


@dataclass(frozen=True)
class RepRow:
    """One row of the rep table: number in the set, depth, tempo and fault ids."""

    number: int
    depth_deg: float
    descent_s: float
    ascent_s: float
    faults: tuple = ()
    feedback: bool | None = None  # whether the patient got live feedback on it


@dataclass(frozen=True)
class Snapshot:
    """The live picture at one instant (the latest batch processed).

    group: "set" while a set runs or after it ended, "practice" for reps outside a set.
    rows: the reps of that group, oldest first. seq/t_us: the newest sample's sequence number
    and raw device time (for the latency bench); samples: samples processed so far.
    """

    t_s: float = 0.0
    hinge_deg: float | None = None
    contacts: tuple = tuple(Contact(c, False, 0.0) for c in CONTACTS)
    has_data: bool = False
    phase: str = "not_ready"
    upright: bool = False
    fault_id: str | None = None
    cue: str = ""
    last_rep_good: bool = False
    trace: tuple = ()  # hinge_deg at TRACE_HZ, oldest first (None where unknown)
    target_depth_deg: float = DEFAULT_TARGET_DEPTH_DEG
    target_reps: int = DEFAULT_TARGET_REPS
    group: str = "practice"
    set_number: int = 0  # the running or last set; 0 before the first
    set_running: bool = False
    rows: tuple = ()
    total_reps: int = 0
    patient: str = ""
    session_id: int | None = None
    saving: bool = False
    seq: int | None = None
    t_us: int | None = None
    samples: int = 0
    feedback_schedule: str = "every"  # of the running (or last) set: smart_dowel.feedback.SCHEDULES
    feedback_next: str = "every"  # what the next set will use
    feedback_live: bool = True  # whether cues (LOST, faults, GOOD REP, sounds) show now

    @property
    def rep_count(self):
        return len(self.rows)

    def contact(self, point):
        for c in self.contacts:
            if c.point == point:
                return c
        raise KeyError(point)

    @property
    def lost(self):
        """Points whose contact is lost this very sample (only meaningful with data): what the
        screen and the sound show at once; the faults keep the debounced `Contact.on`."""
        if not self.has_data:
            return ()
        return tuple(c.point for c in self.contacts if not c.now_on)


BUSY_WARN = 0.8  # a firmware slot busier than this share of its time is a warning
SIMULATED_BOARD_ID_HEX = b"SIMD".hex()  # sim/board.py's board ids begin so


@dataclass(frozen=True)
class LinkStatus:
    """The status line: where the data comes from and how healthy the link is."""

    source: str = "dowel"  # "dowel", "simulated" or "replay"
    state: str = "connecting"  # link state: connecting / connected / reconnecting / closed
    port: str | None = None
    sample_rate_hz: float = 0.0
    lost_frames: int = 0
    crc_errors: int = 0
    imu: str = ""  # IMU name, e.g. "MPU-6050"
    imu_ok: bool | None = None  # None: not known yet
    reconnects: int = 0
    since_rx_s: float | None = None  # seconds since the last byte (while reconnecting)
    stalled: bool = False  # connected and streaming, but no data for over 1.5 s
    # bytes keep arriving but for over 1 s none of them was a usable sample: never "connected"
    no_valid_data: bool = False
    rejected: str = ""  # what arrived instead, in counts ("412 malformed, 3 CRC errors")
    refused: str = ""  # the dowel refuses to stream: the NACK and its TEXT, while it lasts
    message: str = ""  # the latest link sentence (why it dropped, ...)
    # the firmware's own busy time (protocol 1.1 STATUS): share of a sample slot, 0..1+, the
    # mean and the longest slot of the last second; None from a 1.0 device or before a STATUS
    busy_mean: float | None = None
    busy_max: float | None = None
    # the simulated dowel's board (its busy time measures the PC that runs it, not a Pico)
    simulated_board: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def overloaded(self):
        """A real board's slots ran over BUSY_WARN of their time: the rate is too high for it."""
        return self.busy_max is not None and self.busy_max > BUSY_WARN and not self.simulated_board

    @classmethod
    def from_stats(cls, stats, source="dowel", message=""):
        """From a link.LinkStats snapshot."""
        info, status = stats.info, stats.status
        imu = info.imu_name if info is not None else ""
        busy_mean = busy_max = None
        if status is not None and status.busy_max_us is not None and status.rate_hz:
            slot_us = 1e6 / status.rate_hz
            busy_mean = status.busy_mean_us / slot_us
            busy_max = status.busy_max_us / slot_us
        imu_ok = None
        if status is not None:
            imu_ok = bool(status.imu_present)
        elif info is not None:
            imu_ok = info.imu_type != 0
        return cls(
            source=source,
            state=stats.state,
            port=stats.port,
            sample_rate_hz=stats.sample_rate_hz,
            lost_frames=stats.lost_frames,
            crc_errors=stats.crc_errors,
            imu=imu,
            imu_ok=imu_ok,
            reconnects=stats.reconnects,
            since_rx_s=stats.last_rx_age_s,
            stalled=bool(getattr(stats, "stalled", False)),
            refused=getattr(stats, "refused", None) or "",
            message=message or (stats.last_error or ""),
            busy_mean=busy_mean,
            busy_max=busy_max,
            simulated_board=info is not None and (info.board_id or "").lower().startswith(
                SIMULATED_BOARD_ID_HEX),
        )
