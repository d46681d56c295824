"""`dowel ui --replay ID`: a stored session plays through the same pipeline and screen."""

import asyncio

from smart_dowel.store import Store
from smart_dowel.store.synthetic import store_session
from smart_dowel.tui.app import make_app
from smart_dowel.tui.sources import ReplaySource
from smart_dowel.tui.widgets import RepTable


def screen_text(app):
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def test_a_stored_session_replays_with_its_reps_and_faults(tmp_path):
    store = Store.open(tmp_path)
    sid = store_session(store, "Replay Patient", duration_s=32.0, tailbone_lost_reps=(2,))
    stored = store.session(sid)
    stored_reps = sum(len(s["reps"]) for s in stored["sets"])
    sessions_before = len(store.list_sessions())

    async def run():
        app = make_app(None, source=ReplaySource(sid, speed=20.0), store=store, open_store=False)
        async with app.run_test(size=(120, 36)) as pilot:
            for _ in range(400):
                if app.snapshot.rep_count >= stored_reps and "closed replay" in screen_text(app):
                    break
                await pilot.pause(0.05)
            await pilot.pause(0.1)
            text = screen_text(app)
            rows = app.query_one(RepTable).row_count
            count = app.snapshot.rep_count
            await pilot.press("q")
        return app.return_code, count, rows, text

    code, count, rows, text = asyncio.run(run())
    assert code == 0
    assert count == stored_reps == 6
    assert rows == stored_reps
    assert "closed replay session %d" % sid in text  # the status line says the replay ended
    assert "Tailbone" in text and "lost" in text.lower()
    # watching a replay stores nothing new
    assert len(store.list_sessions()) == sessions_before
    store.close()
