"""`dowel conformance --port PORT` against the simulated dowel on both runtimes (every rule
passes), against today's firmware as it spoke protocol 1.0 (the 1.1 rules skipped, the rest
pass), against a fake device that breaks rules (they fail, exit 1), and with no device (one
line, exit 2)."""

import subprocess
import sys
from pathlib import Path

import pytest
from link_fake_device import FakeDowel
from store_helpers import dowel

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))


def start_sim(runtime):
    sim = subprocess.Popen(
        [sys.executable, "-m", "smart_dowel", "simulate", "--runtime", runtime, "--seed", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    line = sim.stdout.readline()
    assert line.startswith("PORT "), line + sim.stderr.read()
    return sim, line.split()[1]


def lines(out, mark):
    return [ln for ln in out.splitlines() if ln.startswith(mark)]


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_the_simulated_dowel_passes_every_rule(runtime):
    sim, port = start_sim(runtime)
    try:
        r = dowel("conformance", "--port", port, timeout=120)
    finally:
        sim.terminate()
        sim.wait(timeout=10)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not lines(r.stdout, "FAIL"), r.stdout
    passed = lines(r.stdout, "PASS")
    assert len(passed) >= 40
    sections = {ln.split()[1] for ln in passed}
    assert {"§1", "§3", "§4", "§5.1", "§5.2", "§6", "§7", "§8", "§9.1", "§10"} <= sections
    assert "protocol 1.2" in r.stdout
    assert any("CRC-32 check" in ln for ln in passed)
    assert any("check under a good crc16" in ln for ln in passed)
    assert any("boot id is a new one" in ln for ln in passed)  # RESET, on both runtimes


def test_a_1_0_dowel_passes_with_the_1_1_rules_skipped():
    import firmware_v1_0

    from smart_dowel.sim.server import SimulatedDowel

    sim = SimulatedDowel(scenario="good", seed=5, firmware=firmware_v1_0.Firmware)
    sim.start()
    try:
        r = dowel("conformance", "--port", sim.port, timeout=120)
    finally:
        sim.stop()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "protocol 1.0" in r.stdout
    skipped = lines(r.stdout, "SKIP")
    assert any("boot id" in ln and "a 1.0 device" in ln for ln in skipped)
    assert any("every frame of a 1.0 device carries version 0x10" in ln
               for ln in lines(r.stdout, "PASS"))


def test_a_device_that_breaks_rules_fails_them_and_exits_1():
    dev = FakeDowel()  # it answers good commands, ignores broken ones, and has no RESYNC rule
    try:
        r = dowel("conformance", "--port", dev.path, timeout=120)
    finally:
        dev.unplug()
    assert r.returncode == 1, r.stdout + r.stderr
    failed = lines(r.stdout, "FAIL")
    assert any("a bad crc: exactly one NACK BAD_FRAME" in ln for ln in failed), r.stdout
    assert any("oversize junk" in ln for ln in failed)
    assert any(ln.startswith("FAIL  §6") for ln in failed)
    assert "failed" in r.stdout.splitlines()[-1]


def test_no_device_is_one_line_and_exit_2(tmp_path):
    r = dowel("conformance", "--port", tmp_path / "ttyNONE", timeout=30)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "No serial port" in r.stderr
    assert "Traceback" not in r.stderr
