"""`dowel selftest` against the simulated dowel on its pty: the firmware under test is the real
one on the simulated board. The test plays the person: when selftest asks for a pad, that pad of
the simulated board is pressed; the tilt comes from the simulated patient's reps."""

import re
import subprocess
import sys
import threading

import pytest

import dowel_protocol as P
from smart_dowel.selftest import RATES_HZ, SelfTest, rate_verdict
from smart_dowel.sim.server import SimulatedDowel

RELEASED = 800  # ADC counts of an unloaded pad
PRESSED = 30000


def _pads_on_request(sim):
    """The simulated board's pads read as released, except the one selftest asked for."""
    board = sim.board
    pressed = {"ch": None}
    real = board.read_fsr

    def read_fsr(ch):
        real(ch)  # keep the body model and the noise going
        return PRESSED if pressed["ch"] == ch else RELEASED

    board.read_fsr = read_fsr
    return pressed


def _run_selftest(press=True, prompt_timeout_s=8.0):
    lines = []
    with SimulatedDowel(scenario="good", seed=5, rate_hz=100, endless=True) as sim:
        pressed = _pads_on_request(sim)

        def prompt(text):
            lines.append("ASK " + text)
            m = re.search(r"Press the (\S+) pad", text)
            if m and press:
                ch = {"head": 0, "mid-back": 1, "tailbone": 2}[m.group(1)]
                # a person reads the prompt, then presses, a little later
                threading.Timer(0.4, lambda: pressed.__setitem__("ch", ch)).start()
                threading.Timer(1.5, lambda: pressed.__setitem__("ch", None)).start()

        t = SelfTest(sim.port, report=lines.append, prompt=prompt,
                     prompt_timeout_s=prompt_timeout_s)
        ok = t.run()
    return ok, t.results, lines


def test_selftest_passes_on_the_simulated_dowel_with_each_pad_pressed_when_asked():
    ok, results, lines = _run_selftest()
    text = "\n".join(lines)
    print(text)
    names = [n for n, _p in results]
    assert names == (["handshake"] + ["rate %d Hz" % r for r in RATES_HZ]
                     + ["rate 600 Hz refused", "IMU present", "IMU tilt",
                        "pad head", "pad mid-back", "pad tailbone"]), text
    passed = dict(results)
    assert passed["handshake"] and "protocol 1.2" in text, text
    # the simulator shares this process's CPU with the test (its busy time shows it): each rate
    # line reports the firmware's busy time; whether it passes is rate_verdict's, tested below
    for r in RATES_HZ:
        assert re.search(r"(PASS|FAIL) rate %d Hz: busy \d+ us mean, \d+ us max of a %d us "
                         r"slot" % (r, 1000000 // r), text), text
    assert re.search(r"rate 100 Hz: .*; (9[7-9]|10[0-3]) samples/s", text), text
    assert passed["rate 600 Hz refused"] and "out_of_range" in text, text
    assert passed["IMU present"] and passed["IMU tilt"], text
    for pad in ("head", "mid-back", "tailbone"):
        assert passed["pad " + pad], text
        assert "ASK Press the %s pad" % pad in text
    # the prompts come in turn: head, mid-back, tailbone
    asks = [ln for ln in lines if ln.startswith("ASK Press")]
    assert [a.split()[3] for a in asks] == ["head", "mid-back", "tailbone"]


def test_selftest_fails_a_pad_that_is_never_pressed():
    ok, results, lines = _run_selftest(press=False, prompt_timeout_s=2.0)
    passed = dict(results)
    assert not ok
    assert not passed["pad head"] and not passed["pad tailbone"]
    assert any(ln.startswith("FAIL pad head: reading rose from") for ln in lines)


def test_dowel_selftest_without_a_dowel_is_one_line_and_exit_2(tmp_path):
    port = str(tmp_path / "ttyACM-nothing")
    proc = subprocess.run([sys.executable, "-m", "smart_dowel", "selftest", "--port", port],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and port in proc.stderr
    assert "Traceback" not in proc.stderr


def _status(rate, busy_mean, busy_max, overruns=0, samples=0):
    return P.unpack(P.pack(P.STATUS, 1, (1000, samples, overruns, 0, 0, 0, rate, 3, 0, 7,
                                         busy_mean, busy_max)))


def _samples(rate, seconds, late=0):
    return [P.unpack(P.pack(P.SAMPLE, i, (i, 0, 0, 0, 0, 0, 1000, 0, 0, 0,
                                         P.FLAG_LATE if i < late else 0)))
            for i in range(int(rate * seconds))]


def test_rate_verdict_passes_a_rate_held_with_room_to_spare():
    msgs = _samples(200, 2) + [_status(200, 1800, 2600), _status(200, 1700, 2900)]
    ok, detail = rate_verdict(200, msgs, 2.0)
    assert ok and detail.startswith("busy 1700 us mean, 2900 us max of a 5000 us slot (58%")


def test_rate_verdict_fails_a_slot_over_80_percent_busy_overruns_or_missing_samples():
    assert not rate_verdict(500, _samples(500, 2) + [_status(500, 900, 1700)], 2.0)[0]
    ok, detail = rate_verdict(200, _samples(200, 2, late=2)
                              + [_status(200, 900, 1000, 0), _status(200, 900, 1000, 2)], 2.0)
    assert not ok and "2 overruns" in detail
    ok, detail = rate_verdict(100, _samples(100, 1.5) + [_status(100, 500, 900)], 2.0)
    assert not ok and "75 samples/s arrived" in detail


def test_rate_verdict_of_a_protocol_1_0_dowel_says_the_busy_time_is_missing():
    old = P.unpack(P.pack(P.STATUS, 1, (1000, 0, 0, 0, 0, 0, 100, 3, 0), 0x10))
    ok, detail = rate_verdict(100, _samples(100, 2) + [old], 2.0)
    assert not ok and "does not report its busy time" in detail
