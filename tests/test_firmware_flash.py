"""`dowel flash` without a board: the manifest, the mpy-cross build and its layout, and the
errors a user sees when mpremote, mpy-cross or the board is missing."""

import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import MP_DIR, REPO, run_micropython
from smart_dowel import flash
from smart_dowel.errors import FirmwareError


def test_firmware_manifest_lists_exactly_the_board_files():
    files = flash.load_manifest()
    sources = [src for src, _dest in files]
    dests = [dest for _src, dest in files]
    assert len(set(dests)) == len(dests)
    expected = sorted(
        str(p.relative_to(REPO))
        for folder in (REPO / "protocol" / "dowel_protocol", REPO / "device" / "dowel_device")
        for p in folder.glob("*.py")
    ) + ["device/main.py"]
    assert sorted(sources) == sorted(expected)
    assert not any("sim" in s or "test" in s or "smart_dowel" in s for s in sources)
    assert ("device/main.py", "main.py") in files


def test_firmware_mpy_cross_compiles_every_device_and_protocol_file(tmp_path):
    mpy_cross = flash.find_mpy_cross()
    sources = sorted((REPO / "protocol" / "dowel_protocol").glob("*.py"))
    sources += sorted((REPO / "device").rglob("*.py"))
    assert len(sources) >= 15
    for i, src in enumerate(sources):
        out = tmp_path / ("%d.mpy" % i)
        # viper code needs the target's architecture (the board compiles it itself, see
        # manifest.SOURCE; here it is only checked to compile for the RP2040's Cortex-M0+)
        arch = ["-march=armv6m"] if src.name == "native.py" else []
        proc = subprocess.run(mpy_cross + arch + ["-o", str(out), str(src)], capture_output=True,
                              text=True)
        assert proc.returncode == 0, "%s: %s" % (src, proc.stderr)
        assert out.read_bytes()[:2] == b"M\x06", src


def test_firmware_build_layout_and_the_compiled_firmware_runs(tmp_path):
    built = flash.build(tmp_path)
    dests = sorted(dest for _local, dest in built)
    assert "main.py" in dests
    assert "lib/dowel_device/firmware.mpy" in dests
    assert "lib/dowel_protocol/messages.mpy" in dests
    assert not any(d.endswith(".py") and d not in ("main.py", "lib/dowel_protocol/native.py")
                   for d in dests)
    assert "lib/dowel_protocol/native.py" in dests  # viper: compiled by the board itself
    for local, dest in built:
        assert Path(local) == tmp_path / dest and Path(local).is_file()
    assert (tmp_path / "main.py").read_text() == (REPO / "device" / "main.py").read_text()
    # the .mpy files, not the sources, stream samples under MicroPython
    script = (
        "import sys\n"
        "sys.path[:] = [%r, %r]\n"
        "from fakeboard import FakeBoard\n"
        "import dowel_device.firmware as f\n"
        "assert f.__file__.endswith('.mpy'), f.__file__\n"
        "b = FakeBoard(); fw = f.Firmware(b, autostart=True); fw.run(max_samples=5)\n"
        "print(fw.samples, len(b.out))\n" % (str(tmp_path / "lib"), str(MP_DIR))
    )
    proc = run_micropython(["-c", script])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["5", str(5 * 35)]  # 35-byte 1.2 SAMPLE frames


def test_firmware_flash_names_the_port_when_no_board_answers(tmp_path):
    port = str(tmp_path / "ttyACM-nothing-here")
    with pytest.raises(FirmwareError) as e:
        flash.run(SimpleNamespace(port=port))
    assert port in str(e.value)
    assert "no dowel answers" in str(e.value)


def test_firmware_flash_says_how_to_get_mpremote_when_it_is_missing(monkeypatch):
    monkeypatch.setattr(flash.shutil, "which", lambda name: None)
    monkeypatch.setattr(flash, "_beside_python", lambda name: None)
    monkeypatch.setattr(flash.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FirmwareError, match="mpremote not found: install it"):
        flash.run(SimpleNamespace(port=None))
    with pytest.raises(FirmwareError, match="mpy-cross not found"):
        flash.find_mpy_cross()


def test_firmware_flash_copies_every_file_to_its_board_path(tmp_path):
    built = flash.build(tmp_path)
    args = flash.copy_args(built)
    assert args[0] == "exec" and args[-2:] == ["+", "reset"]
    landed = []
    i = 0
    while i < len(args):
        if args[i:i + 2] == ["fs", "cp"]:
            j = i + 2
            while not args[j].startswith(":"):
                j += 1
            folder = args[j][1:]
            landed += [folder + Path(local).name for local in args[i + 2:j]]
            i = j
        i += 1
    assert sorted(landed) == sorted(dest for _l, dest in built)
