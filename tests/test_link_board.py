"""After a replug the link accepts only this session's dowel (by board id); a stalled line shows.

As in test_link_reconnect, the port is a symlink we control, re-pointed at a new pty on "replug".
"""

import os

import dowel_protocol as P
import pytest
from link_fake_device import BOARD_ID, FakeDowel
from link_helpers import Consumer, wait_until

from smart_dowel.errors import PortError
from smart_dowel.link import (
    CONNECTED,
    DOWEL_VID,
    RECONNECTING,
    LinkDown,
    PortEntry,
    SerialLink,
    open_serial,
)

OTHER_ID = bytes.fromhex("0123456789abcdef")
OTHER_SEQ = 30000  # the other dowel's sequence numbers: far from ours, to tell its frames apart


def point(link_path, target):
    tmp = str(link_path) + ".new"
    os.symlink(target, tmp)
    os.replace(tmp, link_path)


def can_take(path):
    """True if we can open the port exclusively (the link does not hold it right now)."""
    try:
        ser = open_serial(str(path), read_timeout_s=0.01)
    except PortError as e:
        assert "in use" in str(e), e
        return False
    ser.close()
    return True


@pytest.fixture
def port(tmp_path):
    return tmp_path / "ttyDOWEL"


def unplug_ours(link, dev, port, c):
    os.unlink(port)  # the port vanishes with the cable (first: a freed pty number
    dev.unplug()     # may soon belong to another process's pty)
    c.wait_for(lambda: link.state == RECONNECTING, what="the reconnecting state")


def plug_other(port):
    other = FakeDowel(rate_hz=200, board_id=OTHER_ID, seq=OTHER_SEQ, sample_index=OTHER_SEQ,
                      streaming=True)
    point(port, other.path)
    return other


def assert_refused_once(c, port):
    (err,) = c.events_of("error")
    assert OTHER_ID.hex() in err.message and BOARD_ID.hex() in err.message
    assert str(port) in err.message and "start a new session" in err.message


def test_a_different_dowel_on_the_port_is_refused_until_ours_comes_back(port):
    dev = FakeDowel(rate_hz=200)
    point(port, dev.path)
    c = Consumer()
    link = SerialLink(str(port), on_batch=c.on_batch, on_event=c.on_event, list_ports=lambda: [])
    devices = [dev]
    try:
        link.connect()
        c.wait_for(lambda: len(c.samples()) >= 20, what="samples before the unplug")
        unplug_ours(link, dev, port, c)
        n_messages, n_batches, n_raw = len(c.messages()), len(c.batches), len(c.raw())

        other = plug_other(port)
        devices.append(other)
        c.wait_for(lambda: c.events_of("error"), what="the different-dowel error")
        # the link keeps asking at its usual interval, and lets go of the port in between
        wait_until(lambda: len(other.commands_of(P.CMD_GET_INFO)) >= 4, what="more handshakes")
        wait_until(lambda: can_take(port), what="the link to release the other dowel's port")
        with pytest.raises(LinkDown, match="reconnecting"):
            link.ping()

        assert link.state == RECONNECTING
        assert_refused_once(c, port)
        # nothing of the other dowel reached the consumer, and the gap is still open
        assert len(c.messages()) == n_messages and len(c.raw()) == n_raw
        assert link.gaps == [] and not c.events_of("gap")
        assert link.info.board_id == BOARD_ID.hex()
        assert {m.type for m in other.commands} == {P.CMD_GET_INFO}  # not restarted or reset
        assert not link.stats().stalled

        # ours comes back on the same path, still streaming; the other one is gone
        other.unplug()
        devices.remove(other)
        dev2 = FakeDowel(rate_hz=200, seq=dev.seq + 10, sample_index=dev.k + 10,
                         t_us=dev.t_us + 10 * 5000, streaming=True)
        devices.append(dev2)
        n_before = len(c.samples())
        point(port, dev2.path)
        c.wait_for(lambda: c.events_of("gap") and link.state == CONNECTED, timeout_s=3.0,
                   what="the reconnect to our dowel")
        c.wait_for(lambda: len(c.samples()) >= n_before + 20, what="samples after the replug")
    finally:
        link.close()
        for d in devices[1:]:
            d.unplug()

    gap_event = c.events_of("gap")[0]
    gap = gap_event.gap
    assert link.gaps == [gap]
    assert not gap.device_restarted and gap.lost_frames >= 10
    assert gap.end_time > gap.start_time
    assert link.stats().reconnects == 1
    assert link.info.board_id == BOARD_ID.hex()
    assert_refused_once(c, port)
    # the gap was closed by the first frame of ours, before the link reported itself connected
    connected = [e for e in c.events_of("state") if e.state == CONNECTED][-1]
    assert c.events.index(gap_event) < c.events.index(connected)
    # every sample after the replug is ours, in the order our dowel wrote them
    after = [m.seq for m in c.samples()[n_before:]]
    assert all(m.seq < OTHER_SEQ for m in c.messages())
    sent = [s for s, _ in dev2.sent_samples]
    first = sent.index(after[0])
    assert after == sent[first:first + len(after)]
    # and the raw bytes handed out after the replug are exactly what was decoded from them
    raw_after = b"".join(b.raw for b in c.batches[n_batches:])
    decoded = [(m.type, m.seq) for m in P.StreamDecoder().feed(raw_after)]
    assert decoded == [(m.type, m.seq) for m in c.messages()[n_messages:]]


def test_our_dowel_is_found_on_another_port_while_a_different_one_holds_ours(port, tmp_path):
    dev = FakeDowel(rate_hz=100)
    point(port, dev.path)
    other_name = tmp_path / "ttyDOWEL1"
    entries = []
    c = Consumer()
    link = SerialLink(str(port), on_batch=c.on_batch, on_event=c.on_event,
                      list_ports=lambda: list(entries))
    devices = [dev]
    try:
        link.connect()
        c.wait_for(lambda: len(c.samples()) >= 10, what="samples before the unplug")
        unplug_ours(link, dev, port, c)
        other = plug_other(port)
        devices.append(other)
        entries.append(PortEntry(str(port), DOWEL_VID, 5, "Board in FS mode"))
        c.wait_for(lambda: c.events_of("error"), what="the different-dowel error")

        # ours, power-cycled, gets the next name while the other dowel keeps the first
        dev2 = FakeDowel(rate_hz=100)
        devices.append(dev2)
        point(other_name, dev2.path)
        entries.append(PortEntry(str(other_name), DOWEL_VID, 5, "Board in FS mode"))
        n_before = len(c.samples())
        c.wait_for(lambda: len(c.samples()) >= n_before + 10, timeout_s=4.0,
                   what="streaming from our dowel on the new port name")
    finally:
        link.close()
        for d in devices[1:]:
            d.unplug()
    assert link.port == str(other_name)
    assert link.state == "closed"
    assert len(link.gaps) == 1 and link.gaps[0].device_restarted
    assert_refused_once(c, port)
    assert all(m.seq < OTHER_SEQ for m in c.messages())
    assert {m.type for m in other.commands} == {P.CMD_GET_INFO}


def test_a_stalled_line_is_flagged(tmp_path):
    dev = FakeDowel(rate_hz=100)
    link = SerialLink(dev.path)
    try:
        link.connect(stream=False)
        # not streaming: silence is expected, not a stall
        wait_until(lambda: link.stats().last_rx_age_s > 1.7, what="a quiet line")
        assert not link.stats().stalled

        link.start()
        wait_until(lambda: link.stats().samples >= 10, what="samples")
        assert not link.stats().stalled

        dev.pause()  # the dowel stops sending although it should stream; the port stays open
        wait_until(lambda: link.stats().stalled, what="the stall to show")
        s = link.stats()
        assert s.state == CONNECTED and s.last_rx_age_s > 1.5

        dev.unpause()
        wait_until(lambda: not link.stats().stalled, what="the stall to clear")
    finally:
        link.close()
        dev.unplug()
    assert not link.stats().stalled  # closed
