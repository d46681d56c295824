"""The clinic screen against the real simulated dowel on a pty: the link opens the port like
hardware, the virtual patient is moved with the screen's keys, reps rise and are stored."""

import asyncio

from smart_dowel.store import Store
from smart_dowel.tui.app import make_app
from smart_dowel.tui.sources import SimSource
from smart_dowel.tui.widgets import StatusLine
from textual.widgets import Digits


def screen_text(app):
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def wait_for(pilot, predicate, what, rounds=1200):
    for _ in range(rounds):  # a generous deadline: the patient moves in real time
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError("never saw " + what)


def test_simulated_dowel_on_a_pty_counts_reps_and_stores_them(tmp_path):
    store = Store.open(tmp_path)

    async def run():
        source = SimSource("good", seed=11)
        app = make_app(None, source=source, store=store, open_store=False)
        app.feed.patient = "Sim Patient"
        async with app.run_test(size=(120, 36)) as pilot:
            await wait_for(pilot, lambda: app.status.state == "connected" and app.snapshot.samples > 50,
                           "a connected, streaming dowel")
            assert app.status.port.startswith("/dev/pts/")
            assert app.status.source == "simulated"
            await pilot.press("1")  # the virtual patient does a good rep
            await wait_for(pilot, lambda: app.snapshot.rep_count >= 1, "a rep counted")
            await pilot.pause(0.1)
            assert int(app.query_one("#reps-digits", Digits).value) >= 1
            text = screen_text(app)
            assert "connected simulated /dev/pts/" in text
            assert app.query_one(StatusLine).has_class("-connected")
            sid = app.snapshot.session_id
            await pilot.press("q")
        return app, sid

    app, sid = asyncio.run(run())
    assert app.return_code == 0
    summary = store.list_sessions(session_id=sid)[0]
    assert summary["sample_count"] > 100
    assert summary["rep_count"] >= 1
    assert summary["patient"] == "Sim Patient"
    assert summary["source"] == "simulated"
    store.close()
