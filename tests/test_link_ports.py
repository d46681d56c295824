"""`dowel ports`: the listing, with and without a dowel."""

from link_fake_device import FakeDowel

from smart_dowel.cli import main
from smart_dowel.link import DOWEL_VID, PortEntry, SerialLink, list_serial_ports, probe_ports
from smart_dowel.link.ports import format_ports


def test_dowel_ports_without_a_dowel(capsys):
    # no dowel is plugged into this machine: whatever ports it has, none is marked as one
    assert not any(e.looks_like_dowel for e in list_serial_ports())
    assert main(["ports"]) == 0
    out = capsys.readouterr().out
    assert "No dowel found" in out or "No serial ports found" in out
    assert "dowel demo" in out
    assert "yes:" not in out


def test_listing_with_no_ports_at_all():
    (line,) = format_ports([], [])
    assert line.startswith("No serial ports found.")


def test_listing_marks_the_dowel_that_answered_and_the_busy_one():
    dev = FakeDowel()
    busy = FakeDowel()
    holder = SerialLink(busy.path)
    try:
        holder.connect(stream=False)
        entries = [
            PortEntry("/dev/ttyS0"),
            PortEntry(dev.path, DOWEL_VID, 0x0005, "Board in FS mode"),
            PortEntry(busy.path, DOWEL_VID, 0x0005, "Board in FS mode"),
        ]
        lines = format_ports(entries, probe_ports(entries, timeout_s=0.5))
    finally:
        holder.close()
        dev.unplug()
        busy.unplug()
    text = "\n".join(lines)
    assert lines[0].split() == ["PORT", "USB", "ID", "DESCRIPTION", "DOWEL"]
    row = [ln for ln in lines if ln.startswith(dev.path + " ")][0]
    assert "2e8a:0005" in row
    assert "yes: firmware 1.2.3, board e6614103e7452d2f" in row
    busy_row = [ln for ln in lines if ln.startswith(busy.path + " ")][0]
    assert "maybe" in busy_row and "in use by another program" in busy_row
    serial_row = [ln for ln in lines if ln.startswith("/dev/ttyS0")][0]
    assert serial_row.rstrip().endswith("no")
    assert "1 dowel(s) found" in text
