"""The clinic screen on the clinic's server: with DOWEL_DATABASE_URL naming it, the screen
opens it by itself, stores the live session there, shows the patient's history from it, and
replays a session stored there by another PC."""

import asyncio

from test_tui_app import SIZE, ScriptSource, screen_text, settle, sync, wait_for
from textual.widgets import DataTable

from smart_dowel.store import Store
from smart_dowel.store.synthetic import store_session
from smart_dowel.tui import examples as X
from smart_dowel.tui.app import make_app
from smart_dowel.tui.screens import HistoryScreen
from smart_dowel.tui.sources import ReplaySource


def test_the_screen_stores_on_the_server_and_shows_the_history_from_it(pg_url):
    with Store.open() as other_pc:  # the patient was seen in another room on Monday
        store_session(other_pc, "Cara Lee", 12.0)

    @sync
    async def run():
        source = ScriptSource(X.synthetic_batches(duration_s=14.0, reps=2, batch=10))
        app = make_app(None, source=source)  # opens the store itself, as `dowel ui` does
        app.feed.patient = "CARA LEE"
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.snapshot.session_id is not None, "a session")
            assert app.feed.store.location == pg_url
            source.go.set()
            await wait_for(pilot, lambda: app.snapshot.total_reps == 2, "two reps")
            app.feed.writer.flush()
            await pilot.press("h")
            await settle(pilot)
            await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen), "history")
            table = app.screen.query_one("#history-table", DataTable)
            await wait_for(pilot, lambda: table.row_count == 2, "both rooms' sessions")
            await pilot.press("escape")
            await pilot.press("q")

    run()
    with Store.open() as server:
        rows = server.list_sessions()
    assert [r["patient"] for r in rows] == ["Cara Lee", "Cara Lee"]  # one patient record
    assert rows[0]["rep_count"] == 2


def test_a_session_on_the_server_replays_through_the_screen(pg_url):
    with Store.open() as store:
        sid = store_session(store, "Replay Patient", duration_s=32.0, tailbone_lost_reps=(2,))
        before = len(store.list_sessions())

    async def run():
        app = make_app(None, source=ReplaySource(sid, speed=20.0))
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.snapshot.rep_count >= 6
                           and "closed replay" in screen_text(app), "the replay's end")
            count = app.snapshot.rep_count
            await pilot.press("q")
        return app.return_code, count

    assert asyncio.run(run()) == (0, 6)
    with Store.open() as store:
        assert len(store.list_sessions()) == before  # watching stores nothing
