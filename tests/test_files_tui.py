"""The clinic screen never waits on the session store (issue 13, item 13): while another
program holds the database's write lock, the history opens at once saying it is reading,
the screen keeps answering keys, and the history appears once the lock is released."""

import sqlite3
import threading
import time

from test_tui_app import SIZE, ScriptSource, screen_text, settle, store, sync, wait_for  # noqa: F401

from smart_dowel.tui import examples as X
from smart_dowel.tui.app import make_app
from smart_dowel.tui.screens import HistoryScreen, PatientScreen
from textual.widgets import DataTable


def held_elsewhere(lock):
    """True if another thread holds this (reentrant) lock."""
    if lock.acquire(blocking=False):
        lock.release()
        return False
    return True


@sync
async def test_history_while_another_program_holds_the_lock_does_not_freeze_the_screen(store):
    source = ScriptSource(X.synthetic_batches(duration_s=14.0, reps=2, batch=10))
    app = make_app(None, source=source, store=store, open_store=False)
    app.feed.patient = "Cara Lee"
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.snapshot.session_id is not None, "a session")
        source.go.set()
        await wait_for(pilot, lambda: app.snapshot.total_reps == 2, "two reps")
        # another program takes the write lock; our writer's next commit waits on it while
        # holding the store, as it does in the clinic when a second recorder is running
        other = sqlite3.connect(str(store.path), isolation_level=None, timeout=0)
        other.execute("BEGIN IMMEDIATE")
        app.feed.writer.add_samples(X.synthetic_batches(duration_s=0.2, reps=0, batch=5)[0].messages)
        flusher = threading.Thread(target=app.feed.writer.flush, daemon=True)
        flusher.start()
        try:
            await wait_for(pilot, lambda: held_elsewhere(store.lock), "the writer waiting")
            t0 = time.monotonic()
            await pilot.press("h")
            await settle(pilot)
            assert time.monotonic() - t0 < 5.0  # the UI thread did not wait (10 s) for the lock
            assert isinstance(app.screen, HistoryScreen) and app.screen.busy
            assert "Reading the history of Cara Lee" in screen_text(app)
            await pilot.press("escape")  # the screen still answers keys
            await settle(pilot)
            assert not isinstance(app.screen, HistoryScreen)
            await pilot.press("h")
            await settle(pilot)
            assert app.screen.busy
        finally:
            other.execute("ROLLBACK")
            other.close()
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen)
                       and not app.screen.busy, "the history once the lock was released")
        table = app.screen.query_one("#history-table", DataTable)
        assert table.row_count == 1 and table.get_row_at(0)[2] == "2"
        flusher.join(timeout=15)
        await pilot.press("escape")


@sync
async def test_patient_list_is_read_off_the_ui_thread(store):
    store.patient_id("Zoë Ωmega")
    source = ScriptSource([])
    app = make_app(None, source=source, store=store, open_store=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.snapshot.session_id is not None, "a session")
        with store.lock:  # the store is busy (a commit waiting on a lock holds it like this)
            t0 = time.monotonic()
            await pilot.press("p")
            await pilot.pause(0.6)
            assert time.monotonic() - t0 < 5.0
            assert not isinstance(app.screen, PatientScreen)
            assert any("Reading the patient list" in n.message for n in app._notifications)
        await wait_for(pilot, lambda: isinstance(app.screen, PatientScreen)
                       and "Zoë Ωmega" in screen_text(app), "the patient list")
