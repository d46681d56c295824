"""The live session: one object between the serial link and every front end.

LiveSession (session.py) takes the link's batches and events and owns the session clock, the
pipeline, the stored session, gaps, restarts, the dowel's TEXT and the clock check; it tells
its front end what happened through the plain events of events.py and the values of state.py.
The clinic screen (tui.feed) and `dowel record` (store.record) are its two front ends.
"""

from . import events  # noqa: F401
from .session import LiveSession  # noqa: F401
from .state import LinkStatus, Snapshot  # noqa: F401
