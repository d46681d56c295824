"""A dowel that speaks protocol 1.0 (today's firmware as it was, tests/fixtures/firmware_v1_0.py,
on the simulated board) still works with the 1.1 host: `dowel record` stores its session, and a
restart, which a 1.0 dowel cannot announce with a boot id, is still found and handled."""

import sys
import time
from pathlib import Path

import pytest
from live_helpers import Record, Screen, kill_leftovers, stored, wait_until
from store_helpers import data_dir  # noqa: F401

import dowel_protocol as P
from smart_dowel.sim.server import SimulatedDowel
from smart_dowel.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
import firmware_v1_0  # noqa: E402


@pytest.fixture
def sim_1_0():
    sim = SimulatedDowel(scenario="good", reps=3, seed=3, speed=1,
                         firmware=firmware_v1_0.Firmware)
    sim.start()
    yield sim
    kill_leftovers()
    sim.stop()


def test_dowel_record_stores_a_1_0_dowels_session(sim_1_0, data_dir):
    rec = Record(sim_1_0.port)
    sid = rec.session_id
    rec.wait_for(lambda r: len(r.samples_reported()) >= 2, 60.0, "two reps")
    assert rec.stop() == 0, rec.text()
    session, samples = stored(sid)
    assert session["device"]["protocol_version"] == "1.0"
    assert session["device"]["boot_id"] is None
    assert session["rep_count"] >= 2
    assert session["gaps"] == [] and session["lost_frames"] == 0
    assert len(samples) > 500


def test_a_1_0_dowel_that_restarts_is_started_again_and_the_gap_marked(sim_1_0, data_dir):
    store = Store.open()
    try:
        screen = Screen(sim_1_0.port, store)
        sid = screen.wait_session()
        link = screen.feed.live.link
        wait_until(lambda: link.stats().samples > 150, 10.0, "samples")
        n = link.stats().samples
        reset_at = time.monotonic()
        link.reset()  # it comes back idle, with its sequence and clock from 0, and says nothing
        wait_until(lambda: link.stats().samples > n + 150, 10.0, "samples after the restart")
        back_after = time.monotonic() - reset_at
        screen.stop()
        session = store.session(sid)
        t = store.load_samples(sid)["t_us"] / 1e6
    finally:
        store.close()
    assert back_after < 1.0 + 150 / 100 + 1.0
    (gap,) = session["gaps"]
    assert gap["cause"] == "restarted" and gap["lost_frames"] is None
    assert "stopped streaming by itself" in gap["reason"] or "RESYNC" in gap["reason"]
    assert session["lost_frames"] == 0
    assert (t[1:] > t[:-1]).all()
    assert [n for n in screen.notices() if "restarted" in n.text]
    assert P.PROTOCOL_VERSION == 0x12  # the host speaks 1.2 all along (its check unread by 1.0)
