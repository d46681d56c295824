"""Snapshot tests of the clinic screen's main states with fixed data (`make snapshots`
refreshes them after an intended change of the screen)."""

from smart_dowel.tui import examples as X
from smart_dowel.tui import messages as M
from smart_dowel.tui.app import make_app
from smart_dowel.tui.sources import IdleSource

WIDE = (120, 36)
SMALL = (80, 24)


def app_showing(snapshot, status, simulated=False):
    app = make_app(None, source=IdleSource(simulated), open_store=False)

    async def run_before(pilot):
        app.post_message(M.LinkStatusUpdated(status))
        app.post_message(M.SnapshotUpdated(snapshot))
        for _ in range(4):
            await pilot.pause(0.05)

    return app, run_before


def test_snapshot_connected_mid_rep(snap_compare):
    app, before = app_showing(X.connected_snapshot(), X.connected_status())
    assert snap_compare(app, terminal_size=WIDE, run_before=before)


def test_snapshot_tailbone_lost_with_cue(snap_compare):
    app, before = app_showing(X.lost_snapshot(), X.connected_status())
    assert snap_compare(app, terminal_size=WIDE, run_before=before)


def test_snapshot_shallow_fault(snap_compare):
    app, before = app_showing(X.fault_snapshot(), X.connected_status())
    assert snap_compare(app, terminal_size=WIDE, run_before=before)


def test_snapshot_reconnecting(snap_compare):
    app, before = app_showing(X.connected_snapshot(), X.reconnecting_status())
    assert snap_compare(app, terminal_size=WIDE, run_before=before)


def test_snapshot_small_terminal_contact_lost(snap_compare):
    app, before = app_showing(X.lost_snapshot(), X.connected_status())
    assert snap_compare(app, terminal_size=SMALL, run_before=before)


def test_snapshot_help_screen_simulated(snap_compare):
    app, before = app_showing(X.connected_snapshot(), X.connected_status("/dev/pts/3",
                                                                          "simulated"),
                              simulated=True)
    assert snap_compare(app, terminal_size=WIDE, run_before=before, press=["question_mark"])
