"""The lost-contact cue: drawn from the pad's state this very sample (no debounce), while
the faults keep the debounced state; and, from outside the app, `dowel ui` on a pty read by a
terminal emulator shows a fake dowel's head pad going and coming back within a loose bound
(the figures themselves: bench/latency_bench.py --cue)."""

import os
import sys
import time
from dataclasses import replace

from smart_dowel.live.state import Contact
from smart_dowel.tui import examples as X
from smart_dowel.tui import messages as M
from smart_dowel.tui.widgets import ContactBar, FaultBanner, SideView
from test_tui_app import SIZE, idle_app, screen_text, settle, show, sync

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _head(snap, on, raw_on):
    contacts = tuple(Contact(c.point, on, 0.0 if not raw_on else c.pressure_n, raw_on)
                     if c.point == "head" else c for c in snap.contacts)
    return replace(snap, contacts=contacts)


@sync
async def test_a_pad_off_this_sample_shows_lost_before_the_debounce_and_raises_no_fault():
    app = idle_app()
    async with app.run_test(size=SIZE) as pilot:
        # debounced state still on, the pad off this very sample: LOST at once, no fault
        await show(app, pilot, _head(X.connected_snapshot(), True, False),
                   X.connected_status())
        bars = {bar.point: bar for bar in app.query(ContactBar)}
        assert bars["head"].has_class("-lost")
        assert "LOST" in bars["head"].render().plain
        assert app.query_one(SideView).lost == ("head",)
        assert "Head LOST" in screen_text(app)
        assert not app.query_one(FaultBanner).has_class("-fault")
        # back on this sample, though the debounced state is still off: drawn on again
        await show(app, pilot, _head(X.connected_snapshot(), False, True))
        assert not bars["head"].has_class("-lost")
        assert "LOST" not in screen_text(app)


def test_contact_without_an_instant_state_shows_the_debounced_one():
    assert Contact("head", False, 0.0).now_on is False
    assert Contact("head", True, 3.0).now_on is True
    assert Contact("head", True, 0.0, raw_on=False).now_on is False


def test_dowel_ui_on_a_pty_shows_head_lost_and_back_within_a_loose_bound():
    from bench.latency_bench import measure_cue

    m = measure_cue(duration_s=5.0)
    assert m["changes"] >= 6, m
    assert m["missed"] == 0, m
    assert m["exit"] == 0, m  # q quits cleanly
    assert len(m["lost_ms"]) >= 3 and len(m["back_ms"]) >= 3, m
    # loose: a loaded CI machine; the debounce alone would be 100 ms, the target is 60 ms p99
    assert max(m["lost_ms"] + m["back_ms"]) < 400.0, m


def test_a_dip_under_150_ms_shows_at_once_and_flags_no_fault():
    import time

    from smart_dowel.link.types import LinkBatch
    from smart_dowel.live import LiveSession
    from smart_dowel.live import events as E
    from smart_dowel.store.synthetic import synthetic_records, to_messages

    rec, raw_t, _ = synthetic_records(20.0, reps=3)
    t = rec["t_us"] / 1e6
    dip_s = 2.0 + 5.0 + 1.2  # rep 2, in its descent
    dip = (t >= dip_s) & (t < dip_s + 0.08)
    rec["tailbone"][dip] = 0
    events = []
    live = LiveSession(events.append)
    shown = []  # session time of every snapshot with the tailbone drawn lost
    now = time.monotonic()
    for i, m in enumerate(to_messages(rec, raw_t)):
        live.on_batch(LinkBatch(i, [m], [now], b"", time.time(), now))
        snap = live.snapshot()
        if "tailbone" in snap.lost:
            shown.append(snap.t_s)
            assert snap.fault_id is None  # drawn lost, but not (yet) a fault
    live.close()
    reps = [e.rep for e in events if isinstance(e, E.RepCounted)]
    assert len(reps) == 3
    assert all(not r.fault_ids for r in reps), [r.fault_ids for r in reps]
    # on screen from the dip's first sample to its last, and nowhere else
    assert shown and abs(shown[0] - dip_s) < 0.011 and shown[-1] < dip_s + 0.09, shown


def test_every_sample_that_turns_a_pad_closes_the_links_batch():
    """The screen's batches are long (a frame's worth, for the CPU); the sample that turns a pad
    on or off must not wait for one. LiveSession.contact_turns says which sample that is,
    against the pads' state after the last push: every sample after which the drawn state
    turns, whatever the batch it comes in (and hardly any more)."""
    import time

    from smart_dowel.link.types import LinkBatch
    from smart_dowel.live import LiveSession
    from smart_dowel.store.synthetic import synthetic_records, to_messages

    rec, raw_t, _ = synthetic_records(20.0, reps=3)
    t = rec["t_us"] / 1e6
    rec["tailbone"][(t >= 8.2) & (t < 8.28)] = 0  # a dip
    rec["head"][(t >= 12.0) & (t < 13.5)] = 0  # the head off the dowel
    rec["midback"][(t >= 15.0) & (t < 15.5)] = rec["midback"][(t >= 15.0) & (t < 15.5)] // 3
    # pressed hard for 30 ms, then let go to a light touch: the standing pressure the pad is
    # judged by rises with the press, and the light touch is then a loss (an outside tester's
    # case: the turn had waited for the batch)
    from smart_dowel.fsr import counts_at

    zeros = {"head": 300.0, "midback": 0.0, "tailbone": 150.0}
    for t0 in (16.0, 17.0, 18.0):
        rec["head"][(t >= t0) & (t < t0 + 0.03)] = int(counts_at(100.0, zeros["head"]))
        rec["head"][(t >= t0 + 0.03) & (t < t0 + 0.5)] = int(counts_at(0.7, zeros["head"]))
    msgs = to_messages(rec, raw_t)
    now = time.monotonic()

    def session():
        live = LiveSession()
        live.calibration.zero_from_counts(zeros)
        return live

    # where the drawn state turns: one sample at a time
    live, turned, before = session(), [], None
    for i, m in enumerate(msgs):
        live.on_batch(LinkBatch(i, [m], [now], b"", time.time(), now))
        drawn = live.snapshot().lost
        if before is not None and drawn != before:
            turned.append(i)
        before = drawn
    live.close()
    assert len(turned) >= 7, turned  # the dip, the head off and back, the let-gos
    # as the link batches them: 6 samples (60 ms at 100 Hz), or up to one that turns a pad
    live, batch, last_of_batch, flushed = session(), [], set(), 0
    for i, m in enumerate(msgs):
        batch.append(m)
        turns = live.contact_turns(m)
        flushed += turns
        if turns or len(batch) == 6:
            live.on_batch(LinkBatch(i, batch, [now] * len(batch), b"", time.time(), now))
            last_of_batch.add(i)
            batch = []
    live.close()
    # every turn closed its batch; a flush more than needed costs a batch, none may be late
    assert set(turned) <= last_of_batch, sorted(set(turned) - last_of_batch)
    assert flushed <= len(turned) + 3, (flushed, turned)


def test_zeroing_the_pads_while_they_are_loaded_turns_them_off_at_the_next_sample():
    """`z` takes what the pads read now as no load: the next sample reads as none, the pads
    go LOST, and that sample must close its batch (the thresholds in counts move with the
    zero; an outside tester's case: it had waited 60 ms for the batch)."""
    import time

    from smart_dowel.link.types import LinkBatch
    from smart_dowel.live import LiveSession
    from smart_dowel.store.synthetic import synthetic_records, to_messages

    rec, raw_t, _ = synthetic_records(4.0, reps=0)
    msgs = to_messages(rec, raw_t)
    live = LiveSession()
    now = time.monotonic()
    for i, m in enumerate(msgs[:300]):
        live.on_batch(LinkBatch(i, [m], [now], b"", time.time(), now))
    assert live.snapshot().lost == ()
    live.zero_contacts()
    nxt = msgs[300]
    assert live.contact_turns(nxt)
    live.on_batch(LinkBatch(300, [nxt], [now], b"", time.time(), now))
    assert live.snapshot().lost, "the pads read as no load after z"
    live.close()


def test_a_link_batch_closes_at_once_after_a_message_the_consumer_must_act_on():
    from link_fake_device import FakeDowel
    from link_helpers import Consumer

    import dowel_protocol as P
    from smart_dowel.link import SerialLink

    def urgent(m):
        return m.type == P.SAMPLE and m.values[1] % 40 == 0  # the fake's head field counts up

    dev = FakeDowel(rate_hz=100)
    consumer = Consumer()
    link = SerialLink(dev.path, on_batch=consumer.on_batch, on_event=consumer.on_event,
                      batch_interval_s=30.0, flush_now=urgent)
    try:
        link.connect()
        consumer.wait_for(lambda: sum(urgent(m) for m in consumer.samples()) >= 3,
                          timeout_s=10.0, what="three urgent samples")
        with consumer.cond:
            batches = [b for b in consumer.batches if b.samples()]
        # batches of 30 s would hold everything: each closes with the read that brought its
        # urgent sample (which may have brought a few more)
        assert len(batches) >= 3
        for b in batches[:3]:
            flags = [urgent(m) for m in b.samples()]
            assert sum(flags) == 1, flags
            assert len(flags) - 1 - flags.index(True) <= 5, flags
    finally:
        link.close()
        dev.unplug()


@sync
async def test_a_pad_flickering_every_sample_redraws_at_the_caps_rate_and_shows_its_last_state():
    # a loose connector: the head pad on and off at every sample, the snapshots arriving
    # faster than frames (10 ms apart). Each change used to be drawn at once (a frame per sample, a third of
    # a core at 100 Hz); the first still is, the rest wait for the redraw cap's next slot, and
    # the screen ends on the last state
    app = idle_app()
    async with app.run_test(size=SIZE) as pilot:
        await show(app, pilot, X.connected_snapshot(), X.connected_status())
        before = app.redraws
        snap = X.connected_snapshot()
        t0 = time.monotonic()
        for i in range(100):  # (spaced as a link's batches are: posted at once they coalesce)
            app.post_message(M.SnapshotUpdated(replace(_head(snap, True, i % 2 == 1), seq=i)))
            await pilot.pause(0.01)
        await settle(pilot)
        spent = time.monotonic() - t0
        assert app.shown_seq == 99
        assert "LOST" not in screen_text(app)  # the last sample: the pad back on
        frames = app.redraws - before
        assert 1 <= frames <= 3 + spent / 0.04, (frames, spent)  # 100 before
