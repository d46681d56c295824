"""End to end through the virtual serial port: `dowel simulate` opened with pyserial like a
real dowel, on both runtimes, and the in-process SimulatedDowel the TUI uses."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dowel_protocol as P
from smart_dowel.fsr import counts_to_newtons
from smart_dowel.sim.body import make_body
from smart_dowel.sim.server import SimulatedDowel
from sim_support import Client, check_stream_matches_truth, sample_arrays, samples

SPEED = 4.0  # device seconds per real second in these tests


def _simulate(*args):
    cmd = [sys.executable, "-m", "smart_dowel", "simulate", *args]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = p.stdout.readline()
    assert first.startswith("PORT /"), (first, p.stderr.read() if p.poll() is not None else "")
    return p, first.split(" ", 1)[1].strip()


def _spacing_us(msgs):
    return np.diff([m.t_us for m in samples(msgs)]) % P.T_US_MODULUS


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_simulate_over_a_pty_matches_truth_and_honours_commands(runtime, tmp_path):
    truth_file = tmp_path / "truth.json"
    p, port = _simulate("--scenario", "good", "--reps", "1", "--seed", "21", "--runtime", runtime,
                        "--speed", str(SPEED), "--truth", str(truth_file))
    try:
        # the truth is on disk before anything can stream, and --seed reproduces it
        truth = json.loads(truth_file.read_text())
        assert truth == json.loads(json.dumps(make_body("good", reps=1, seed=21).truth))
        c = Client(port)
        reply, msgs = c.command(P.CMD_GET_INFO)
        assert reply.name == "ack" and not samples(msgs)  # waits for START like the real one
        info = [m for m in msgs if m.name == "info"][0]
        assert info.imu_type == P.IMU_SIMULATED and info.rate_hz == 100 and info.streaming == 0

        c.command(P.CMD_START)
        c.read_until(lambda m: len(samples(m)) >= 250)
        reply, _ = c.command(P.CMD_SET_RATE, (50,))
        assert reply.name == "ack"
        duration = truth["duration_s"]
        c.read_until(lambda m: samples(m) and sample_arrays(c.dec.log)[0][-1] > duration - 1.5)
        reply, _ = c.command(P.CMD_STOP)
        assert reply.name == "ack"
        _, after_stop = c.command(P.CMD_GET_STATUS)
        assert not samples(after_stop)
        status = [m for m in after_stop if m.name == "status"][0]

        log = c.dec.log
        assert c.dec.rejected() == 0
        i_rate = [i for i, m in enumerate(log) if m.name == "ack" and m.cmd_type == P.CMD_SET_RATE][0]
        before, after = _spacing_us(log[:i_rate]), _spacing_us(log[i_rate + 1:])
        assert np.median(before) == pytest.approx(10000, abs=100)
        assert np.median(after) == pytest.approx(20000, abs=100)
        # every slot of the schedule was either sampled or counted as an overrun
        t, acc, fsr = sample_arrays(log)
        slots = (t[i_rate] * 100) + (t[-1] - t[i_rate]) * 50
        assert status.samples + status.overruns == pytest.approx(slots, rel=0.03, abs=3)
        assert len(samples(log)) >= 0.5 * slots
        check_stream_matches_truth(t, acc, truth)
        c.close()
        assert p.wait(60) == 0  # the scenario ended: the simulator exits by itself
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_simulate_stops_cleanly_on_sigterm():
    p, port = _simulate("--scenario", "mixed", "--seed", "1", "--autostart")
    c = Client(port)
    c.read_until(lambda m: len(samples(m)) >= 20)
    c.close()
    p.send_signal(signal.SIGTERM)
    assert p.wait(20) == 0
    assert p.stderr.read().count("Traceback") == 0


def test_live_control_through_the_port():
    sim = SimulatedDowel("good", reps=0, seed=4, speed=SPEED, autostart=True, endless=True)
    with sim:
        c = Client(sim.port)
        c.read_until(lambda m: len(samples(m)) >= 100)
        sim.body.queue("head-forward")
        rep = sim.body.truth["reps"][0]
        assert rep["faults"] == ["head_contact_lost"]
        c.read_until(lambda m: samples(m) and samples(m)[-1].t_us > (rep["end_s"] + 0.5) * 1e6)
        c.close()
        t0_us = sim.board.stream_start_ticks
        assert t0_us < 5000  # autostart: the scenario starts at power-up, t_us ~ 0
    t, acc, fsr = sample_arrays(c.dec.log, t0_us=t0_us)
    head = counts_to_newtons(fsr[:, 0], zero_counts=40)
    at_bottom = np.abs(t - rep["bottom_s"]) < 0.1
    before = (t > rep["start_s"] - 1.0) & (t < rep["start_s"])
    assert np.median(head[at_bottom]) < 0.15 * np.median(head[before])
    check_stream_matches_truth(t, acc, sim.truth)


def test_nobody_reading_drops_frames_without_blocking_the_device():
    from dowel_device.firmware import Firmware
    from smart_dowel.sim.board import SimBoard, VirtualClock
    from smart_dowel.sim.pty_link import PtyLink

    link = PtyLink()
    try:
        board = SimBoard(make_body("good", reps=3, seed=2), VirtualClock(), out=link.write,
                         inp=link.read_into)
        fw = Firmware(board, rate_hz=100, autostart=True)
        while not board.scenario_over():  # ~25 s of frames, far more than a pty holds
            fw.poll()
        # nobody opened the port: the pty filled up, the firmware dropped and counted frames
        assert fw.drops > 0 and link.refused == fw.drops
        assert fw.samples == pytest.approx(board.body.duration_s * 100, abs=2)
        # what did fit is whole frames, which a client that opens the port now can decode
        data = os.read(link.slave, 1 << 20)
        dec = P.StreamDecoder()
        got = dec.feed(data)
        assert len(got) > 100 and dec.rejected() == 0
    finally:
        link.close()


def test_the_micropython_runtime_has_no_live_control():
    from smart_dowel.sim.server import SimulatorError

    with pytest.raises(SimulatorError):
        SimulatedDowel("good", runtime="micropython", endless=True)


def test_sim_files_for_micropython_import_nothing_from_the_host():
    mp = Path(__file__).resolve().parents[1] / "host" / "smart_dowel" / "sim" / "mp"
    for f in mp.glob("*.py"):
        imports = [ln for ln in f.read_text().splitlines()
                   if ln.lstrip().startswith(("import ", "from "))]
        for ln in imports:
            assert "numpy" not in ln and "smart_dowel" not in ln, (f, ln)
