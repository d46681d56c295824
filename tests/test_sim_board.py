"""The real firmware on the simulated board, on a virtual clock: frames at the configured rate,
commands honoured, and a whole scenario whose frames agree with its ground truth."""

from array import array

import numpy as np
import pytest

import dowel_protocol as P
from dowel_device.firmware import Firmware
from smart_dowel.fsr import counts_to_newtons
from smart_dowel.sim.body import make_body
from smart_dowel.sim.board import BoardReset, SimBoard, VirtualClock
from sim_support import check_stream_matches_truth, sample_arrays, samples


class HostBytes:
    """Bytes the host 'sent', handed to the board's read_into."""

    def __init__(self):
        self.buf = bytearray()

    def send(self, cmd, seq, values=()):
        self.buf += P.pack(cmd, seq, values)

    def __call__(self, out):
        n = min(len(out), len(self.buf))
        out[:n] = self.buf[:n]
        del self.buf[:n]
        return n


def _board(scenario="good", reps=1, seed=2, **kw):
    host = HostBytes()
    board = SimBoard(make_body(scenario, reps=reps, seed=seed), VirtualClock(), inp=host, **kw)
    return board, host


def _decode(board):
    dec = P.StreamDecoder()
    msgs = dec.feed(b"".join(board.sent))
    assert dec.rejected() == 0 and dec.lost_frames == 0
    return msgs


def _run_device_s(fw, board, seconds):
    end = board.clock.us + int(seconds * 1e6)
    while board.clock.us < end:
        fw.poll()


def test_frames_come_at_the_configured_rate_on_device_time():
    board, host = _board()
    fw = Firmware(board, rate_hz=100, autostart=True)
    _run_device_s(fw, board, 3.0)
    s = samples(_decode(board))
    t_us = np.array([m.t_us for m in s])
    assert len(s) == pytest.approx(300, abs=2)
    assert np.abs(np.diff(t_us) - 10000).max() <= 10  # the virtual clock ticks per read
    assert fw.overruns == 0
    # ADC counts in range, IMU in milli-g: gravity is ~1 g in whatever mounting
    for m in s:
        assert 0 <= m.head <= 65535 and m.midback > m.head
        assert 900 < np.linalg.norm((m.ax_mg, m.ay_mg, m.az_mg)) < 1100


def test_the_device_waits_for_start_and_honours_rate_and_stop():
    board, host = _board()
    fw = Firmware(board, rate_hz=100)
    host.send(P.CMD_GET_INFO, 1)
    _run_device_s(fw, board, 0.5)
    msgs = _decode(board)
    assert not samples(msgs)
    info = [m for m in msgs if m.name == "info"][0]
    assert info.imu_type == P.IMU_SIMULATED and info.board_id == board.board_id
    assert board.body_time_s() == 0.0  # the scenario has not started either

    host.send(P.CMD_START, 2)
    _run_device_s(fw, board, 1.0)
    host.send(P.CMD_SET_RATE, 3, (250,))
    _run_device_s(fw, board, 1.0)
    host.send(P.CMD_STOP, 4)
    _run_device_s(fw, board, 0.5)
    msgs = _decode(board)
    acks = [m.cmd_type for m in msgs if m.name == "ack"]
    assert acks == [P.CMD_GET_INFO, P.CMD_START, P.CMD_SET_RATE, P.CMD_STOP]
    s = samples(msgs)
    steps = np.diff([m.t_us for m in s])
    assert np.sum(np.abs(steps - 10000) <= 10) >= 95
    assert np.sum(np.abs(steps - 4000) <= 10) >= 245
    # nothing after the STOP's ACK
    stop_i = [i for i, m in enumerate(msgs) if m.name == "ack" and m.cmd_type == P.CMD_STOP][0]
    assert not samples(msgs[stop_i:])
    assert board.body_time_s() == pytest.approx(2.5, abs=0.02)


def test_a_whole_scenario_through_the_firmware_matches_its_truth():
    board, host = _board("lumbar-flexion", reps=3, seed=6)
    fw = Firmware(board, rate_hz=100, autostart=True)
    while not board.scenario_over():
        fw.poll()
    truth = board.body.truth
    t, acc, fsr = sample_arrays(_decode(board))
    assert t[-1] == pytest.approx(truth["duration_s"], abs=0.05)
    check_stream_matches_truth(t, acc, truth)
    tail_n = counts_to_newtons(fsr[:, 2], zero_counts=40)
    mid_n = counts_to_newtons(fsr[:, 1], zero_counts=40)
    for rep in truth["reps"]:
        bottom = np.abs(t - rep["bottom_s"]) < 0.05
        before = (t > rep["start_s"] - 0.6) & (t < rep["start_s"])
        assert np.median(tail_n[bottom]) < 0.15 * np.median(tail_n[before])
        assert np.median(mid_n[bottom]) > 0.8 * np.median(mid_n[before])


def test_reset_command_restarts_the_board_with_fresh_ticks():
    board, host = _board()
    fw = Firmware(board, rate_hz=100, autostart=True)
    _run_device_s(fw, board, 1.0)
    host.send(P.CMD_RESET, 9)
    with pytest.raises(BoardReset):
        _run_device_s(fw, board, 0.1)
    assert board.resets == 1 and board.ticks_us() < 1000
    fw = Firmware(board, rate_hz=100)  # power-on again: waits for START
    _run_device_s(fw, board, 0.2)
    assert not fw.streaming


def test_failed_imu_is_reported_and_the_fsrs_keep_streaming():
    board, host = _board()
    fw = Firmware(board, rate_hz=100, autostart=True)
    _run_device_s(fw, board, 0.2)
    board.imu_present = False
    _run_device_s(fw, board, 0.5)
    s = samples(_decode(board))
    assert s[-1].flags & (P.FLAG_IMU_STALE | P.FLAG_IMU_MISSING)
    assert s[-1].midback > 1000
    with pytest.raises(OSError):
        board.imu_read(array("h", [0] * 6))


def test_ticks_wrap_like_the_rp2040():
    board, host = _board(ticks_start_us=(1 << 30) - 500000)
    fw = Firmware(board, rate_hz=100, autostart=True)
    _run_device_s(fw, board, 1.0)
    t_us = [m.t_us for m in samples(_decode(board))]
    assert min(t_us) < 600000 < (1 << 30) - 600000 < max(t_us)  # wrapped during the run
    assert np.abs(np.diff(t_us) % (1 << 30) - 10000).max() <= 10


def test_a_paced_clock_sends_every_slot_in_bursts_and_a_stalled_host_loses_none():
    """The demo's board (PacedClock): the firmware's schedule runs a burst at a time; every
    sample is stamped on its slot, leaves at or after that time and within about the burst,
    and a host that stalls the simulator gets the missed slots late, not dropped."""
    import time

    from smart_dowel.sim.board import PacedClock

    left = []  # (host monotonic when the frame was written, frame)

    def out(buf):
        left.append((time.monotonic(), bytes(buf)))
        return True

    clock = PacedClock(burst_s=0.03)
    board = SimBoard(make_body("good", reps=3, seed=2), clock, out=out)
    board.power_on()
    fw = Firmware(board, rate_hz=100, autostart=True)
    t0 = time.monotonic()
    stalled = False
    while time.monotonic() - t0 < 1.5:
        fw.poll()
        if not stalled and time.monotonic() - t0 > 0.5:
            time.sleep(0.3)  # the host busy elsewhere
            stalled = True
    dec = P.StreamDecoder()
    got = [(t, m) for t, f in left for m in dec.feed(f) if m.name == "sample"]
    t_us = np.array([m.t_us for _, m in got])
    assert len(got) >= 140  # 1.5 s at 100 Hz, the stall included
    steps = np.diff(t_us)
    assert np.all(np.abs(steps - 10000) < 100), sorted(set(steps.tolist()))
    assert not any(m.flags & P.FLAG_LATE for _, m in got)
    # when each left against when it was due (device time 0 is the clock's start)
    due = clock._t0 / 1e9 + t_us / 1e6
    lag = np.array([t for t, _ in got]) - due
    assert lag.min() > -0.002
    assert np.median(lag) < 0.04
    assert lag.max() > 0.2  # the stall's samples, late but there
    bursts = np.diff([t for t, _ in got]) < 0.003
    assert bursts.mean() > 0.5  # most samples leave right after another


def test_counts_at_is_the_inverse_of_the_force_conversion():
    from smart_dowel.fsr import counts_at

    for zero, scale in ((0.0, 1.0), (420.0, 1.3), (90.0, 0.7)):
        for f in (0.05, 0.5, 2.0, 9.5, 40.0):
            c = counts_at(f, zero, scale)
            assert counts_to_newtons(c, zero, scale) == pytest.approx(f, rel=1e-9)
            assert counts_to_newtons(c - 2.0, zero, scale) < f < counts_to_newtons(c + 2.0, zero,
                                                                                      scale)


def test_readings_off_the_wire_convert_to_the_same_force_however_they_come():
    # integer readings (a link batch, a stored session, the link's single-sample contact check)
    # are looked up in a table; it must give the formula's force at every reading, and follow
    # a pad re-zeroed or re-scaled
    import numpy as np

    every = np.arange(0, 65536)
    for zero, scale in ((0.0, 1.0), (812.25, 1.1), (90.0, 0.7)):
        table = counts_to_newtons(every, zero, scale)
        formula = counts_to_newtons(every.astype(float), zero, scale)
        assert np.allclose(table, formula, rtol=1e-12, atol=0.0)
        for c in (0, 1, 91, 5000, 30000, 65535):
            assert counts_to_newtons(c, zero, scale) == table[c]
            assert counts_to_newtons(np.array([c, c], dtype=np.uint16), zero, scale)[1] == table[c]
    assert counts_to_newtons(np.array([-5, 70000]), 0.0, 1.0).tolist() == \
        counts_to_newtons(np.array([0, 65535]), 0.0, 1.0).tolist()
    assert counts_to_newtons(np.array([30000]), 812.25, 1.1)[0] != counts_to_newtons(
        np.array([30000]), 0.0, 1.1)[0]
