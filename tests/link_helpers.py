"""Shared pieces of the serial link tests: a consumer that records what the link hands it."""

import threading
import time

import dowel_protocol as P


class Consumer:
    """Collects batches and events from a SerialLink, and waits for conditions on them."""

    def __init__(self):
        self.batches = []
        self.events = []
        self.cond = threading.Condition()

    def on_batch(self, batch):
        with self.cond:
            self.batches.append(batch)
            self.cond.notify_all()

    def on_event(self, event):
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def messages(self):
        with self.cond:
            return [m for b in self.batches for m in b.messages]

    def samples(self):
        return [m for m in self.messages() if m.type == P.SAMPLE]

    def raw(self):
        with self.cond:
            return b"".join(b.raw for b in self.batches)

    def events_of(self, kind):
        with self.cond:
            return [e for e in self.events if e.kind == kind]

    def wait_for(self, predicate, timeout_s=5.0, what="a condition"):
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while not predicate():
                left = deadline - time.monotonic()
                assert left > 0, "timed out after %.1f s waiting for %s" % (timeout_s, what)
                self.cond.wait(min(left, 0.05))


def wait_until(predicate, timeout_s=5.0, what="a condition"):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out after %.1f s waiting for %s" % (timeout_s, what)
        time.sleep(0.01)
