"""Value types of the pipeline: faults with their coaching cues, reps, and streaming events.

Plain dataclasses with `to_dict()`; the UI, the store and `dowel analyze` all read these.
"""

from dataclasses import dataclass, field

HEAD_CONTACT_LOST = "head_contact_lost"
MIDBACK_CONTACT_LOST = "midback_contact_lost"
TAILBONE_CONTACT_LOST = "tailbone_contact_lost"
SHALLOW = "shallow"
SQUAT_PATTERN = "squat_pattern"
RUSHED = "rushed"

# The public fault identifiers of product.md, in display order.
FAULT_IDS = (
    HEAD_CONTACT_LOST,
    MIDBACK_CONTACT_LOST,
    TAILBONE_CONTACT_LOST,
    SHALLOW,
    SQUAT_PATTERN,
    RUSHED,
)

# Contact points, in wire order, with their on-screen names.
CONTACTS = ("head", "midback", "tailbone")
CONTACT_LABELS = {"head": "Head", "midback": "Mid-back", "tailbone": "Tailbone"}
CONTACT_FAULT = {
    "head": HEAD_CONTACT_LOST,
    "midback": MIDBACK_CONTACT_LOST,
    "tailbone": TAILBONE_CONTACT_LOST,
}

# One short cue per fault, said to the patient (readable from 2-3 m: a few words first).
CUES = {
    HEAD_CONTACT_LOST: "Head back to the stick: tuck your chin a little.",
    MIDBACK_CONTACT_LOST: "Chest proud: keep the stick between your shoulder blades.",
    TAILBONE_CONTACT_LOST: "Hips back: keep the stick touching your tailbone.",
    SHALLOW: "Go a little lower, until the backs of your legs stretch.",
    SQUAT_PATTERN: "Less knee bend: send your hips back, not down.",
    RUSHED: "Slow down: take about two seconds on the way down.",
}

# Which cue to show when a rep has several faults: the low back first, then the rest.
CUE_PRIORITY = (
    TAILBONE_CONTACT_LOST,
    MIDBACK_CONTACT_LOST,
    HEAD_CONTACT_LOST,
    SQUAT_PATTERN,
    SHALLOW,
    RUSHED,
)

# Rep phases (a fault happens in one of the last three).
PHASE_STANDING = "standing"
PHASE_DESCENT = "descent"
PHASE_BOTTOM = "bottom"
PHASE_ASCENT = "ascent"
PHASE_NOT_READY = "not_ready"  # no upright pose yet, or the dowel is off the back


@dataclass
class Fault:
    """One fault in one rep: which, in what phase it began, when (s) and for how long (s)."""

    id: str
    phase: str
    start_s: float
    duration_s: float
    cue: str = ""

    def __post_init__(self):
        if self.id not in CUES:
            raise ValueError("unknown fault id %r" % (self.id,))
        if not self.cue:
            self.cue = CUES[self.id]

    def to_dict(self):
        return {
            "id": self.id,
            "phase": self.phase,
            "start_s": round(self.start_s, 3),
            "duration_s": round(self.duration_s, 3),
            "cue": self.cue,
        }

    @classmethod
    def from_dict(cls, d):
        return cls(d["id"], d["phase"], float(d["start_s"]), float(d["duration_s"]), d.get("cue", ""))


@dataclass
class Rep:
    """One counted rep. Times in seconds on the samples' clock; depth = peak hinge angle (deg)."""

    index: int
    start_s: float
    bottom_s: float
    end_s: float
    depth_deg: float
    descent_s: float
    ascent_s: float
    faults: list = field(default_factory=list)  # of Fault, at most one per id
    drop_m: float = 0.0  # estimated vertical drop of the IMU during the rep (squat check)
    # no upright pose was known: depth is measured from the rep's own start
    uncalibrated: bool = False

    @property
    def fault_ids(self):
        return [f.id for f in self.faults]

    def to_dict(self):
        """The JSON shape of product.md, plus descent/ascent times and fault details."""
        return {
            "index": self.index,
            "start_s": round(self.start_s, 3),
            "bottom_s": round(self.bottom_s, 3),
            "end_s": round(self.end_s, 3),
            "depth_deg": round(self.depth_deg, 1),
            "uncalibrated": self.uncalibrated,
            "faults": self.fault_ids,
            "descent_s": round(self.descent_s, 3),
            "ascent_s": round(self.ascent_s, 3),
            "drop_m": round(self.drop_m, 3),
            "fault_details": [f.to_dict() for f in self.faults],
        }

    @classmethod
    def from_dict(cls, d):
        details = d.get("fault_details")
        if details is not None:
            faults = [Fault.from_dict(f) for f in details]
        else:
            faults = [Fault(fid, PHASE_BOTTOM, float(d["bottom_s"]), 0.0) for fid in d.get("faults", [])]
        return cls(
            int(d["index"]), float(d["start_s"]), float(d["bottom_s"]), float(d["end_s"]),
            float(d["depth_deg"]), float(d.get("descent_s", d["bottom_s"] - d["start_s"])),
            float(d.get("ascent_s", d["end_s"] - d["bottom_s"])), faults, float(d.get("drop_m", 0.0)),
            bool(d.get("uncalibrated", False)),
        )


# --- streaming events (Pipeline.push returns them in time order) ------------------------------


@dataclass
class RepStarted:
    """A descent deep enough to be a rep began at t_s; `index` is the number it will get."""

    index: int
    t_s: float


@dataclass
class RepCompleted:
    """A rep finished (standing again); `rep` holds its times, depth and faults."""

    rep: Rep

    @property
    def t_s(self):
        return self.rep.end_s


@dataclass
class RepCancelled:
    """A started rep turned out not to be one (dowel put down, held too long, data gap)."""

    index: int
    t_s: float
    reason: str


@dataclass
class FaultRaised:
    """A fault began in the current rep (contact faults live; depth, speed and squat at the
    bottom or at the end of the rep)."""

    fault: Fault
    rep_index: int

    @property
    def t_s(self):
        return self.fault.start_s


@dataclass
class FaultCleared:
    """A live contact fault ended (the contact came back, or the rep ended)."""

    fault_id: str
    rep_index: int
    t_s: float


@dataclass
class ContactChanged:
    """A contact point went on or off (after hysteresis and minimum duration)."""

    point: str  # "head", "midback" or "tailbone"
    on: bool
    t_s: float
    pressure_n: float


@dataclass
class UprightCaptured:
    """The upright pose (0 degrees) was set, automatically or by calibrate_upright()."""

    t_s: float
    gravity: tuple  # unit vector in the sensor frame
    automatic: bool


@dataclass
class ContactState:
    """Live state of one contact point."""

    on: bool = False  # debounced: what faults and events use
    pressure_n: float = 0.0
    raw_on: bool = False  # the state this very sample (hysteresis only), for an instant cue


@dataclass
class LiveState:
    """What the screen shows, updated by every Pipeline.push()."""

    t_s: float = 0.0
    hinge_deg: float = None  # None until an upright pose exists
    contacts: dict = field(default_factory=lambda: {c: ContactState() for c in CONTACTS})
    rep_count: int = 0
    phase: str = PHASE_NOT_READY
    # what to correct now: a contact fault while that contact is off (cleared as soon as it
    # is back), else a depth, speed or squat fault of the current or last rep (cleared when
    # the next rep starts); None when there is nothing to correct
    fault: Fault = None
    cue: str = ""  # its coaching cue ("" when nothing to correct)
    target_depth_deg: float = 45.0
    upright: bool = False  # whether an upright pose is set
