"""Pilot tests of the clinic screen: its states (connected, contact lost, fault, reconnecting)
driven by synthetic messages posted to the app, and its controls driven by keys, with the real
pipeline and store fed synthetic link batches (no serial port)."""

import asyncio
import functools
import threading

import pytest

from smart_dowel.store import Store
from smart_dowel.tui import examples as X
from smart_dowel.tui import messages as M
from smart_dowel.tui.app import SIM_KEYS, make_app
from smart_dowel.tui.screens import HelpScreen, HistoryScreen, PatientScreen, TargetScreen
from smart_dowel.tui.sources import IdleSource, Source
from smart_dowel.tui.widgets import (
    ContactBar,
    FaultBanner,
    RepTable,
    SideView,
    StatusLine,
)
from textual.widgets import DataTable, Digits

SIZE = (120, 36)


def sync(coro_fn):
    """Run an async test with asyncio.run (pytest here has no asyncio plugin)."""

    @functools.wraps(coro_fn)
    def wrapper(*args, **kw):
        return asyncio.run(coro_fn(*args, **kw))

    return wrapper


def screen_text(app):
    """What the terminal shows, as plain text lines."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def settle(pilot, rounds=3):
    """Let posted messages arrive and the (at most 30 Hz) redraw run."""
    for _ in range(rounds):
        await pilot.pause(0.05)


async def wait_for(pilot, predicate, what, rounds=600):
    for _ in range(rounds):
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError("the screen never showed " + what)


async def show(app, pilot, snapshot=None, status=None):
    if status is not None:
        app.post_message(M.LinkStatusUpdated(status))
    if snapshot is not None:
        app.post_message(M.SnapshotUpdated(snapshot))
    await settle(pilot)


def idle_app(simulated=False, store=None):
    return make_app(None, source=IdleSource(simulated), store=store, open_store=False)


class ScriptSource(Source):
    """Synthetic link batches handed to the feed on the data thread, like the link does;
    starts a stored session first. Batches flow once `go` is set."""

    source = "dowel"

    def __init__(self, batches):
        self.batches = batches
        self.go = threading.Event()
        self.port = "/dev/ttySYNTH"

    def run(self, feed, stop):
        feed.begin_session(None, self.port)
        feed.update_status(X.connected_status(self.port))
        while not self.go.wait(0.02):
            if stop.is_set():
                return
        for b in self.batches:
            if stop.is_set():
                return
            feed.on_batch(b)
        stop.wait()


# ---------------------------------------------------------------------------- states


@sync
async def test_connected_state_shows_contacts_hinge_reps_and_status():
    app = idle_app()
    async with app.run_test(size=SIZE) as pilot:
        await show(app, pilot, X.connected_snapshot(), X.connected_status())
        text = screen_text(app)
        for word in ("Head", "Mid-back", "Tailbone", "Hinge", "Reps"):
            assert word in text
        assert "14.6 N" in text and "3.1 N" in text and "8.2 N" in text
        assert app.query_one("#hinge-digits", Digits).value == "52"
        assert app.query_one("#reps-digits", Digits).value == "5"
        assert "Set 2 · 5 / 10" in text
        assert "target 45-65°" in text
        assert not any(bar.has_class("-lost") for bar in app.query(ContactBar))
        assert "LOST" not in text
        status = app.query_one(StatusLine)
        assert status.has_class("-connected")
        assert "connected /dev/ttyACM0 · 100 Hz · lost 0 · IMU MPU-6050 ok" in text
        assert "Jane Doe" in text
        # the rep table lists the set's reps with depth, tempo and faults
        table = app.query_one(RepTable)
        assert table.row_count == 5
        assert "Tailbone lost" in text and "shallow, rushed" in text


@sync
async def test_contact_lost_state_and_cue_cleared_when_corrected():
    app = idle_app()
    async with app.run_test(size=SIZE) as pilot:
        await show(app, pilot, X.lost_snapshot(), X.connected_status())
        bars = {bar.point: bar for bar in app.query(ContactBar)}
        assert bars["tailbone"].has_class("-lost")
        assert not bars["head"].has_class("-lost") and not bars["midback"].has_class("-lost")
        text = screen_text(app)
        assert "Tailbone LOST" in text  # the side view's caption
        assert "LOST" in bars["tailbone"].render().plain
        banner = app.query_one(FaultBanner)
        assert banner.has_class("-fault")
        assert "TAILBONE LOST" in text
        assert "Hips back: keep the stick touching your tailbone." in text
        assert app.query_one(SideView).lost == ("tailbone",)

        # the patient corrects: the contact comes back and the cue goes away
        await show(app, pilot, X.connected_snapshot())
        text = screen_text(app)
        assert not bars["tailbone"].has_class("-lost")
        assert not banner.has_class("-fault")
        assert "TAILBONE LOST" not in text
        assert "keep the stick touching your tailbone" not in text


@sync
async def test_fault_banner_shows_the_fault_and_its_cue():
    app = idle_app()
    async with app.run_test(size=SIZE) as pilot:
        await show(app, pilot, X.fault_snapshot(), X.connected_status())
        banner = app.query_one(FaultBanner)
        assert banner.has_class("-warn") and not banner.has_class("-fault")
        text = screen_text(app)
        assert "TOO SHALLOW" in text
        assert "Go a little lower, until the backs of your legs stretch." in text


@sync
async def test_reconnecting_state_is_loud_and_clears_on_reconnect():
    app = idle_app()
    async with app.run_test(size=SIZE) as pilot:
        await show(app, pilot, X.connected_snapshot(), X.reconnecting_status())
        status = app.query_one(StatusLine)
        assert status.has_class("-reconnecting")
        text = screen_text(app)
        assert "RECONNECTING" in text
        assert "lost 12 frames" in text
        assert app.query_one(FaultBanner).has_class("-link")
        assert "plug the dowel back in" in text

        await show(app, pilot, status=X.connected_status())
        assert not status.has_class("-reconnecting")
        assert "RECONNECTING" not in screen_text(app)


@sync
async def test_a_silent_cable_is_shown_as_no_data():
    from dataclasses import replace

    app = idle_app()
    async with app.run_test(size=SIZE) as pilot:
        stalled = replace(X.connected_status(), stalled=True, since_rx_s=2.4)
        await show(app, pilot, X.connected_snapshot(), stalled)
        text = screen_text(app)
        assert "NO DATA for 2 s" in text
        assert "check the cable" in text
        assert app.query_one(FaultBanner).has_class("-link")

        await show(app, pilot, status=X.connected_status())
        assert "NO DATA" not in screen_text(app)


@sync
async def test_floods_of_snapshots_are_coalesced_and_the_newest_is_shown():
    app = idle_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = app.redraws
        for i in range(300):
            app.post_message(M.SnapshotUpdated(X.connected_snapshot(hinge_deg=float(i % 90),
                                                                    seq=i)))
        await settle(pilot, rounds=6)
        assert app.shown_seq == 299
        assert app.query_one("#hinge-digits", Digits).value == str(299 % 90)
        assert app.redraws - before < 30  # coalesced: far fewer redraws than messages


def screen_strips(app):
    """What the terminal shows, with styles: one list of (text, style) per line."""
    return [[(seg.text, seg.style) for seg in strip] for strip in
            (s.simplify() for s in app.screen._compositor.render_strips())]


@sync
async def test_partial_repaints_end_on_the_same_screen_as_a_full_paint():
    # the drawings repaint only the lines that changed: after a series of pictures the
    # screen must be exactly what a fresh screen shows for the last one
    final = X.lost_snapshot()
    pictures = [
        X.connected_snapshot(hinge_deg=5.0, trace=X.TRACE[:40]),
        X.connected_snapshot(hinge_deg=75.0, contacts=X.contacts(head=None, midback=29.0)),
        X.fault_snapshot(),
        X.connected_snapshot(hinge_deg=None, trace=X.TRACE[10:]),
        final,
    ]
    app = idle_app()
    async with app.run_test(size=SIZE) as pilot:
        for snap in pictures:
            await show(app, pilot, snap, X.connected_status())
        repainted = screen_strips(app)
    fresh = idle_app()
    async with fresh.run_test(size=SIZE) as pilot:
        await show(fresh, pilot, final, X.connected_status())
        painted = screen_strips(fresh)
    assert repainted == painted


@sync
async def test_rep_table_keeps_the_last_rows_of_endless_practice():
    rows = tuple(X.RepRow(i + 1, 50.0, 2.0, 1.5, ()) for i in range(RepTable.MAX_ROWS + 12))
    app = idle_app()
    async with app.run_test(size=SIZE) as pilot:
        await show(app, pilot, X.connected_snapshot(group="practice", rows=rows[:30]))
        await show(app, pilot, X.connected_snapshot(group="practice", rows=rows))
        table = app.query_one(RepTable)
        assert table.row_count == RepTable.MAX_ROWS
        assert table.get_row_at(0)[0] == "13"
        assert table.get_row_at(table.row_count - 1)[0] == str(len(rows))
        assert app.query_one("#reps-digits", Digits).value == str(len(rows))


@sync
async def test_narrow_terminal_keeps_every_part():
    app = idle_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await show(app, pilot, X.lost_snapshot(), X.connected_status())
        text = screen_text(app)
        for word in ("Head", "Mid-back", "Tailbone", "Hinge", "Reps", "TAILBONE LOST",
                     "Set 2 · 5 / 10", "connected"):
            assert word in text


# ---------------------------------------------------------------------------- controls


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path)
    yield s
    s.close()


@sync
async def test_set_targets_calibration_and_reps_with_real_pipeline_and_store(store):
    source = ScriptSource(X.synthetic_batches(duration_s=24.0, reps=4, batch=5))
    app = make_app(None, source=source, store=store, open_store=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.snapshot.session_id is not None, "a session")
        assert "Practice" in screen_text(app)
        await pilot.press("right_square_bracket", "right_square_bracket",
                          "left_square_bracket")
        await pilot.press("minus", "plus", "plus")
        await settle(pilot)
        assert app.feed.target_reps == 11
        assert app.feed.target_depth_deg == 50.0
        assert "target 50-70°" in screen_text(app)

        await pilot.press("s")
        await settle(pilot)
        assert app.snapshot.set_running and app.snapshot.set_number == 1
        assert "Set 1 · 0 / 11" in screen_text(app)

        source.go.set()
        await wait_for(pilot, lambda: app.snapshot.samples >= 2400, "all samples")
        await settle(pilot)
        assert app.snapshot.rep_count == 4
        assert app.query_one("#reps-digits", Digits).value == "4"
        assert "Set 1 · 4 / 11" in screen_text(app)
        assert app.query_one(RepTable).row_count == 4

        await pilot.press("c")  # calibrate upright while standing
        await pilot.press("z")  # zero the pads
        await settle(pilot)
        assert app.snapshot.upright

        await pilot.press("s")  # stop the set
        await settle(pilot)
        assert not app.snapshot.set_running
        assert "Set 1 done · 4 / 11" in screen_text(app)
        sid = app.snapshot.session_id
        await pilot.press("q")
    assert app.return_code == 0
    session = store.session(sid)
    assert [s["number"] for s in session["sets"]] == [1]
    assert session["sets"][0]["target_reps"] == 11
    assert session["sets"][0]["target_depth_deg"] == 50.0
    assert len(session["sets"][0]["reps"]) == 4
    assert session["calibration"]["upright"] is not None


@sync
async def test_set_ends_by_itself_at_the_target(store):
    source = ScriptSource(X.synthetic_batches(duration_s=24.0, reps=4, batch=5))
    app = make_app(None, source=source, store=store, open_store=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.snapshot.session_id is not None, "a session")
        for _ in range(8):
            await pilot.press("left_square_bracket")  # down to 2 reps per set
        await pilot.press("s")
        source.go.set()
        await wait_for(pilot, lambda: app.snapshot.total_reps == 4, "four reps")
        await settle(pilot)
        snap = app.snapshot
        assert app.feed.target_reps == 2
        # the set closed at 2 reps; the next reps count as practice
        assert not snap.set_running
        assert snap.group == "practice" and snap.rep_count == 2
        assert "Practice" in screen_text(app)


@sync
async def test_patient_screen_adds_and_chooses_patients(store):
    store.patient_id("Bob Stone")
    source = ScriptSource([])
    app = make_app(None, source=source, store=store, open_store=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.snapshot.session_id is not None, "a session")
        first = app.snapshot.session_id
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, PatientScreen)
        assert "Bob Stone" in screen_text(app)
        app.screen.query_one("#patient-new").focus()
        await pilot.press(*"Ann Smith")
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, PatientScreen)
        assert app.feed.patient == "Ann Smith"
        assert "Ann Smith" in screen_text(app)
        assert app.snapshot.session_id != first  # a new session for the new patient

        await pilot.press("p")
        await settle(pilot)
        await pilot.press("enter")  # the highlighted first entry: Ann Smith
        await settle(pilot)
        assert app.feed.patient == "Ann Smith"
        await pilot.press("p", "down", "enter")
        await settle(pilot)
        assert app.feed.patient == "Bob Stone"
    names = [p["name"] for p in store.patients()]
    assert "Ann Smith" in names and "Bob Stone" in names
    assert store.session(first)["patient"] is not None


@sync
async def test_help_screen_lists_every_key():
    app = idle_app(simulated=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        table = app.screen.query_one(DataTable)
        keys = [table.get_row_at(i)[0] for i in range(table.row_count)]
        for key in ("q", "?", "s", "c", "z", "p", "h", "+", "-", "]", "[", "t", "ctrl+p",
                    *SIM_KEYS):
            assert key in keys, key
        text = screen_text(app)
        assert "lumbar flexion (Tailbone lost)" in text
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, HelpScreen)


@sync
async def test_simulated_patient_keys_move_the_virtual_patient():
    app = idle_app(simulated=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*SIM_KEYS)
        await settle(pilot)
    assert app.source.actions == [action for action, _ in SIM_KEYS.values()]


@sync
async def test_patient_keys_do_nothing_with_a_real_dowel():
    app = idle_app(simulated=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("1", "2", "0")
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert "lumbar flexion" not in screen_text(app)
    assert app.source.actions == []


@sync
async def test_targets_dialog_sets_depth_and_reps():
    app = idle_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t")
        await settle(pilot)
        assert isinstance(app.screen, TargetScreen)
        depth = app.screen.query_one("#target-depth")
        depth.value = "60"
        reps = app.screen.query_one("#target-reps")
        reps.value = "8"
        reps.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, TargetScreen)
        assert app.feed.target_depth_deg == 60.0 and app.feed.target_reps == 8
        assert "target 60-80°" in screen_text(app)


@sync
async def test_history_screen_shows_the_patients_sessions(store):
    source = ScriptSource(X.synthetic_batches(duration_s=14.0, reps=2, batch=10))
    app = make_app(None, source=source, store=store, open_store=False)
    app.feed.patient = "Cara Lee"
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.snapshot.session_id is not None, "a session")
        source.go.set()
        await wait_for(pilot, lambda: app.snapshot.total_reps == 2, "two reps")
        app.feed.writer.flush()
        await pilot.press("h")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)
        table = app.screen.query_one("#history-table", DataTable)
        assert table.row_count == 1
        assert "History · Cara Lee" in screen_text(app)
        assert table.get_row_at(0)[2] == "2"  # two reps in the session
        await pilot.press("escape")


@sync
async def test_command_palette_runs_clinic_actions():
    app = idle_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"Start or stop a set")
        await settle(pilot, rounds=6)
        await pilot.press("enter")
        await settle(pilot)
        assert app.snapshot.set_running and app.snapshot.set_number == 1


@sync
async def test_q_quits_with_status_zero_and_stops_the_data_thread():
    app = idle_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        worker = app.data_worker
        await pilot.press("q")
    assert app.return_code == 0
    assert worker.is_finished


@sync
async def test_a_failing_source_is_shown_as_an_error_with_its_title():
    from smart_dowel.errors import PortError

    class Broken(Source):
        def run(self, feed, stop):
            raise PortError("No serial port at /dev/ttyNOPE: check that the dowel is plugged in.")

    app = make_app(None, source=Broken(), open_store=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, rounds=6)
        notes = list(app._notifications)
        assert any(n.title == "Serial port" and n.severity == "error" and "ttyNOPE" in n.message
                   for n in notes)
        assert app.status.state == "closed"
        await pilot.press("q")
    assert app.return_code == 0
