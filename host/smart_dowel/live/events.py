"""What a live session tells its front end, as plain values (the screen turns them into Textual
messages, `dowel record` into lines of output). Emitted on the thread that caused them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SnapshotChanged:
    """The live picture changed (a batch was processed, a set started, ...)."""

    snapshot: object  # live.state.Snapshot


@dataclass(frozen=True)
class StatusChanged:
    """The link's health changed (state, rate, lost frames, NO VALID DATA, a refusal)."""

    status: object  # live.state.LinkStatus


@dataclass(frozen=True)
class RepCounted:
    """A rep was completed; `number` is its number in the set (or in practice)."""

    rep: object  # pipeline.Rep
    number: int
    set_number: int
    in_set: bool


@dataclass(frozen=True)
class SetFinished:
    """A set ended: the target was reached (`reason` "target") or the clinician stopped it."""

    set_number: int
    reps: int
    target_reps: int
    reason: str
    rows: tuple = ()  # the set's RepRows, for its summary
    feedback_schedule: str = "every"


@dataclass(frozen=True)
class Notice:
    """A sentence for the clinician: a gap, a restart, a refusal, the dowel's TEXT, a warning.

    severity: "information", "warning" or "error" (as for App.notify). kind names what it is
    about: "gap", "restart", "refused", "text", "clock", "link", "store".
    """

    title: str
    text: str
    severity: str = "information"
    kind: str = "link"
