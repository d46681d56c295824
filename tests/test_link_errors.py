"""Opening a port the user cannot use gives one clear sentence, never a traceback."""

import errno
import os
import subprocess
import sys
import textwrap

import pytest
import serial
from link_fake_device import FakeDowel

from smart_dowel.errors import PortError
from smart_dowel.link import DOWEL_VID, PortEntry, SerialLink, find_dowel, port_error, probe_port
from smart_dowel.link.serialport import open_serial


def test_missing_port_names_the_path(tmp_path):
    path = str(tmp_path / "ttyACM7")
    with pytest.raises(PortError, match="No serial port at %s" % path) as e:
        SerialLink(path).connect()
    assert "dowel ports" in str(e.value)
    assert e.value.title == "Serial port"


def test_busy_port_says_it_is_in_use():
    dev = FakeDowel()
    first = SerialLink(dev.path)
    try:
        first.connect(stream=False)
        with pytest.raises(PortError, match="%s is in use by another program" % dev.path):
            SerialLink(dev.path).connect()
    finally:
        first.close()
        dev.unplug()


def test_permission_denied_says_how_to_join_dialout():
    e = port_error("/dev/ttyACM0", serial.SerialException(errno.EACCES, "could not open port"),
                   platform="linux")
    assert str(e).startswith("Permission denied opening /dev/ttyACM0")
    assert "sudo usermod -aG dialout $USER" in str(e) and "log out" in str(e)
    other = port_error("COM3", PermissionError(errno.EACCES, "denied"), platform="win32")
    assert "dialout" not in str(other) and "COM3" in str(other)


def test_permission_denied_on_a_real_port_without_access(tmp_path):
    dev = FakeDowel()
    try:
        os.chmod(dev.path, 0)
        if os.geteuid() != 0:
            with pytest.raises(PortError, match="Permission denied") as e:
                open_serial(dev.path)
            message = str(e.value)
        else:
            # root ignores file modes: drop to an unprivileged user (after the imports, since
            # the interpreter's own files may not be readable by that user) and open it then
            code = textwrap.dedent("""
                import os, sys
                from smart_dowel.errors import PortError
                from smart_dowel.link.serialport import open_serial
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
                try:
                    open_serial(sys.argv[1])
                except PortError as e:
                    print(e)
            """)
            out = subprocess.run(
                [sys.executable, "-c", code, dev.path],
                capture_output=True, text=True, check=True, cwd=str(tmp_path),
            )
            message = out.stdout.strip()
        assert message.startswith("Permission denied opening %s" % dev.path), message
        assert "sudo usermod -aG dialout $USER" in message
    finally:
        dev.unplug()


def test_other_failures_map_to_one_sentence(tmp_path):
    plain = tmp_path / "not-a-port"
    plain.write_text("hello")
    with pytest.raises(PortError, match="is not a serial port"):
        open_serial(str(plain))
    e = port_error("/dev/ttyACM0", serial.SerialException(errno.EBUSY, "busy"))
    assert "in use by another program" in str(e)


def test_auto_detect_without_a_dowel_says_so():
    with pytest.raises(PortError, match="No dowel found: no serial port has the Raspberry Pi USB id"):
        SerialLink(None, list_ports=lambda: [PortEntry("/dev/ttyS0")]).open()


def test_auto_detect_skips_a_port_that_does_not_answer():
    quiet = FakeDowel(silent=True)
    try:
        entries = [PortEntry(quiet.path, DOWEL_VID, 0x0005, "Board in FS mode")]
        with pytest.raises(PortError, match="No dowel found: %s: No answer to GET_INFO" % quiet.path):
            find_dowel(ports=entries, timeout_s=0.3)
        with pytest.raises(PortError, match="No dowel answered on %s" % quiet.path):
            SerialLink(quiet.path).connect(timeout_s=0.5)
    finally:
        quiet.unplug()


def test_auto_detect_finds_the_dowel_by_usb_id_and_info():
    other = FakeDowel(silent=True)
    dev = FakeDowel(rate_hz=100)
    try:
        entries = [
            PortEntry(other.path, None, None, "some modem"),  # not a Raspberry Pi: never probed
            PortEntry(dev.path, DOWEL_VID, 0x0005, "Board in FS mode"),
        ]
        assert probe_port(dev.path).fw_version == "1.2.3"
        link = SerialLink(None, list_ports=lambda: entries)
        try:
            info = link.connect(stream=False)
            assert link.port == dev.path
            assert info.board_id == "e6614103e7452d2f"
        finally:
            link.close()
        assert other.commands == []
    finally:
        other.unplug()
        dev.unplug()
