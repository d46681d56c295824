"""End to end: the serial link against the simulated dowel (the real firmware on a pty)."""

import os
import time

import dowel_protocol as P
from link_helpers import Consumer

from smart_dowel.link import CONNECTED, SerialLink
from smart_dowel.sim.server import SimulatedDowel


def test_streams_from_the_simulated_dowel_at_the_rate_asked():
    c = Consumer()
    with SimulatedDowel(scenario="good", seed=3, rate_hz=100) as sim:
        link = SerialLink(sim.port, on_batch=c.on_batch, on_event=c.on_event)
        try:
            info = link.connect(rate_hz=200)
            assert info.imu_name == "simulated" and info.rate_hz == 200 and info.streaming
            c.wait_for(lambda: len(c.samples()) >= 300, what="300 samples from the simulator")
            status = link.get_status()
        finally:
            link.close()
        s = link.stats()  # after close: every decoded sample has reached the consumer
        samples = c.samples()
    # the rate shown is the one the dowel's own clock says: samples in its last second
    assert len(samples) == s.samples
    t = [m.t_us for m in samples]
    in_last_s = [x for x in t if t[-1] - x <= 1_000_000]
    expected = (len(in_last_s) - 1) / ((in_last_s[-1] - in_last_s[0]) / 1e6)
    assert abs(s.sample_rate_hz - expected) < 0.02 * expected
    seqs = [m.seq for m in c.samples()]
    assert seqs == sorted(seqs)
    assert s.lost_frames == 0 and s.crc_errors == 0 and s.malformed == 0
    assert status.rate_hz == 200 and status.streaming
    assert all(m.flags & P.FLAG_IMU_MISSING == 0 for m in c.samples())


def test_reconnects_to_a_replugged_simulated_dowel(tmp_path):
    port = tmp_path / "ttyDOWEL"
    c = Consumer()
    sim = SimulatedDowel(scenario="good", seed=4, rate_hz=100)
    sim.start()
    os.symlink(sim.port, port)
    link = SerialLink(str(port), on_batch=c.on_batch, on_event=c.on_event)
    sim2 = None
    try:
        link.connect(rate_hz=150)
        c.wait_for(lambda: len(c.samples()) >= 50, what="samples before the unplug")
        os.unlink(port)  # first: a freed pty number may soon belong to another test's device
        sim.stop()  # the pty closes: the cable is pulled
        c.wait_for(lambda: link.state != CONNECTED, what="the link to notice the unplug")
        # the same dowel (its board id comes from the seed), power-cycled
        sim2 = SimulatedDowel(scenario="good", seed=4, rate_hz=100)
        sim2.start()
        n = len(c.samples())
        replugged = time.monotonic()
        os.symlink(sim2.port, port)
        c.wait_for(lambda: len(c.samples()) >= n + 50, timeout_s=3.0,
                   what="streaming to resume within 3 s")
        assert time.monotonic() - replugged < 3.0
        status = link.get_status()
    finally:
        link.close()
        if sim2 is not None:
            sim2.stop()
    gap = link.gaps[0]
    assert gap.device_restarted and gap.duration_s > 0
    assert status.rate_hz == 150 and status.streaming
    assert link.stats().reconnects == 1
