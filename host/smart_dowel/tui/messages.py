"""Every custom Textual message of the clinic screen, in one place.

The data thread posts them with `App.post_message` (thread-safe, never blocks the reader);
the live picture and the status line are coalesced with `can_replace`, so a flood of batches
leaves only the newest in the queue.
"""

from __future__ import annotations

from textual.message import Message


class SnapshotUpdated(Message):
    """The live picture changed (a batch was processed). Only the newest one matters."""

    def __init__(self, snapshot):
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message):
        return isinstance(message, SnapshotUpdated)


class LinkStatusUpdated(Message):
    """The status line changed (link state, rate, lost frames, IMU)."""

    def __init__(self, status):
        super().__init__()
        self.status = status

    def can_replace(self, message):
        return isinstance(message, LinkStatusUpdated)


class RepCounted(Message):
    """A rep was completed; `number` is its number in the set (or in practice)."""

    def __init__(self, rep, number, set_number, in_set):
        super().__init__()
        self.rep = rep
        self.number = number
        self.set_number = set_number
        self.in_set = in_set


class SetFinished(Message):
    """A set ended: the target was reached (`reason` "target") or the clinician stopped it."""

    def __init__(self, set_number, reps, target_reps, reason, rows=(),
                 feedback_schedule="every"):
        super().__init__()
        self.set_number = set_number
        self.reps = reps
        self.target_reps = target_reps
        self.reason = reason
        self.rows = rows  # the set's RepRows (its summary)
        self.feedback_schedule = feedback_schedule


class LinkNotice(Message):
    """Something the clinician should read: a reconnect gap closed, a warning, an error.

    severity: "information", "warning" or "error" (as for App.notify).
    """

    def __init__(self, title, text, severity="information"):
        super().__init__()
        self.title = title
        self.text = text
        self.severity = severity


class DowelFailed(Message):
    """The data source could not start or stopped for good; `error` is a DowelError (or any
    exception, shown with its type)."""

    def __init__(self, error):
        super().__init__()
        self.error = error


class ReplayFinished(Message):
    """A replayed session reached its end."""

    def __init__(self, session_id):
        super().__init__()
        self.session_id = session_id


class StoreRead(Message):
    """A read of the session store done on a worker thread (the UI thread never waits on the
    database lock): `what` names the read ("history", "patients"), `result` its value, or
    `error` the StoreError that stopped it."""

    def __init__(self, what, key, result=None, error=None):
        super().__init__()
        self.what = what
        self.key = key
        self.result = result
        self.error = error
