"""The firmware under the real MicroPython interpreter (and its plain tests under CPython too,
where the simulated dowel imports it), with a scripted fake board (tests/mp/fakeboard.py)."""

import subprocess
import sys

from conftest import MP_DIR, REPO, run_micropython, run_micropython_tests


def test_firmware_plain_tests_pass_under_micropython():
    assert run_micropython_tests("test_firmware_plain") >= 30


def test_firmware_allocates_nothing_per_sample_under_micropython():
    assert run_micropython_tests("test_firmware_alloc") == 5


def test_firmware_imu_drivers_under_micropython():
    assert run_micropython_tests("test_firmware_drivers") == 8


def _run_under_cpython(module):
    env_path = ":".join(str(p) for p in (REPO / "protocol", REPO / "device", MP_DIR))
    proc = subprocess.run(
        [sys.executable, str(MP_DIR / "mprun.py"), module],
        cwd=str(MP_DIR), env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1].endswith(" 0 failed")


def test_firmware_plain_tests_pass_under_cpython():
    _run_under_cpython("test_firmware_plain")


def test_real_board_module_on_rp2_stand_ins_under_micropython():
    # probe without allocation, MPU-6500, bus speed, stuck bus, watchdog over a soft reset
    assert run_micropython_tests("test_firmware_board", first_paths=[MP_DIR / "rp2env"]) == 9


def test_usb_output_never_blocks_on_a_host_that_stops_draining_under_micropython():
    assert run_micropython_tests("test_firmware_usb") == 7


def test_usb_output_never_blocks_on_a_host_that_stops_draining_under_cpython():
    _run_under_cpython("test_firmware_usb")


def test_firmware_modules_other_than_board_never_import_machine():
    # the simulator imports dowel_device on CPython: only board.py may touch `machine`
    for path in sorted((REPO / "device").rglob("*.py")):
        text = path.read_text()
        if path.name in ("board.py",):
            assert "import machine" in text
        else:
            assert "import machine" not in text and "from machine" not in text, path
    proc = run_micropython(["-c", "import sys; import dowel_device.firmware; "
                            "print('machine' in sys.modules)"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
