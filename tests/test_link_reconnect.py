"""Unplug and replug: the link reconnects by itself within 3 s, resumes streaming and marks the gap.

The port is a symlink we control (like a udev name), re-pointed at a new pty after the "replug".
"""

import os
import time

import dowel_protocol as P
import pytest
from link_fake_device import FakeDowel
from link_helpers import Consumer, wait_until

from smart_dowel.link import (
    CONNECTED,
    CONNECTING,
    DOWEL_VID,
    RECONNECTING,
    LinkDown,
    PortEntry,
    SerialLink,
)

UNPLUGGED_S = 0.6


def point(link_path, target):
    tmp = str(link_path) + ".new"
    os.symlink(target, tmp)
    os.replace(tmp, link_path)


@pytest.fixture
def port(tmp_path):
    return tmp_path / "ttyDOWEL"


def states(consumer):
    return [e.state for e in consumer.events_of("state")]


def test_replug_of_a_dowel_that_kept_running_counts_the_frames_lost(port):
    dev = FakeDowel(rate_hz=200)
    point(port, dev.path)
    c = Consumer()
    link = SerialLink(str(port), on_batch=c.on_batch, on_event=c.on_event)
    devices = [dev]
    try:
        link.connect()
        c.wait_for(lambda: len(c.samples()) >= 20, what="samples before the unplug")

        os.unlink(port)  # the port vanishes with the cable (first: a freed pty number
        dev.unplug()     # may soon belong to another process's pty)
        c.wait_for(lambda: link.state == RECONNECTING, what="the reconnecting state")
        time.sleep(UNPLUGGED_S)
        # the same dowel, still streaming, with the frames it sent meanwhile lost
        lost = 37
        dev2 = FakeDowel(rate_hz=200, seq=dev.seq + lost, sample_index=dev.k + lost,
                         t_us=dev.t_us + lost * 5000, streaming=True)
        devices.append(dev2)
        n_before = len(c.samples())
        replugged = time.monotonic()
        point(port, dev2.path)

        c.wait_for(lambda: c.events_of("gap") and link.state == CONNECTED, timeout_s=3.0,
                   what="the reconnect (the product promises 3 s)")
        assert time.monotonic() - replugged < 3.0
        c.wait_for(lambda: len(c.samples()) >= n_before + 20, what="samples after the replug")
    finally:
        link.close()
        for d in devices[1:]:
            d.unplug()

    gap = c.events_of("gap")[0].gap
    # lost: the frames never written, and those written while no one was reading the port
    received = {m.seq for m in c.messages()}
    unread = [s for s in dev.written_seqs + dev2.written_seqs if s not in received]
    assert gap.lost_frames == lost + len(unread)
    assert not gap.device_restarted
    assert gap.port == str(port)
    assert gap.end_time - gap.start_time >= UNPLUGGED_S
    assert "failed" in gap.reason
    assert link.gaps == [gap]
    s = link.stats()
    assert s.reconnects == 1 and s.gaps == 1
    assert s.lost_frames == gap.lost_frames
    # reopening a port that is streaming may cut one frame in half; nothing else is damaged
    assert s.crc_errors + s.malformed <= 1
    assert states(c)[:4] == [CONNECTING, CONNECTED, RECONNECTING, CONNECTED]
    reconnecting = [e for e in c.events_of("state") if e.state == RECONNECTING][0]
    assert reconnecting.error is not None
    # the device was still streaming: the link asked who it is, and did not restart it
    sent = [m.type for m in dev2.commands]
    assert sent[0] == P.CMD_GET_INFO and P.CMD_START not in sent
    # every sample the dowel wrote after the first one read arrived, in order (the INFO and
    # ACK of the handshake share the sequence counter, so the samples' numbers may skip them)
    after = [m.seq for m in c.samples()][n_before:]
    sent_seqs = [s for s, _ in dev2.sent_samples]
    first = sent_seqs.index(after[0])
    assert after == sent_seqs[first:first + len(after)]


def test_replug_of_a_restarted_dowel_restores_rate_and_streaming(port):
    dev = FakeDowel(rate_hz=100)
    point(port, dev.path)
    c = Consumer()
    link = SerialLink(str(port), on_batch=c.on_batch, on_event=c.on_event)
    dev2 = None
    try:
        link.connect(rate_hz=250)
        assert dev.rate_hz == 250
        c.wait_for(lambda: len(c.samples()) >= 20, what="samples before the unplug")
        os.unlink(port)  # first: a freed pty number may soon belong to another test's device
        dev.unplug()
        c.wait_for(lambda: link.state == RECONNECTING, what="the reconnecting state")
        # power-cycled: default rate, not streaming, sequence numbers from 0
        dev2 = FakeDowel(rate_hz=100)
        n_before = len(c.samples())
        replugged = time.monotonic()
        point(port, dev2.path)
        c.wait_for(lambda: len(c.samples()) >= n_before + 20, timeout_s=3.0,
                   what="streaming to resume (the product promises 3 s)")
        assert time.monotonic() - replugged < 3.0
    finally:
        link.close()
        if dev2 is not None:
            dev2.unplug()

    assert [m.type for m in dev2.commands][:3] == [P.CMD_GET_INFO, P.CMD_SET_RATE, P.CMD_START]
    assert dev2.commands[1].values == (250,)
    gap = link.gaps[0]
    assert gap.device_restarted and gap.lost_frames is None
    assert link.stats().reconnects == 1


def test_the_same_board_is_found_on_a_new_port_name(port, tmp_path):
    dev = FakeDowel(rate_hz=100)
    point(port, dev.path)
    other_name = tmp_path / "ttyDOWEL1"
    entries = []
    c = Consumer()
    link = SerialLink(str(port), on_batch=c.on_batch, on_event=c.on_event,
                      list_ports=lambda: list(entries))
    dev2 = None
    try:
        link.connect()
        c.wait_for(lambda: len(c.samples()) >= 10, what="samples before the unplug")
        os.unlink(port)  # first: a freed pty number may soon belong to another test's device
        dev.unplug()
        c.wait_for(lambda: link.state == RECONNECTING, what="the reconnecting state")
        # replugged while the old name was still taken: the OS gives it the next name
        dev2 = FakeDowel(rate_hz=100)
        point(other_name, dev2.path)
        entries.append(PortEntry(str(other_name), DOWEL_VID, 5, "Board in FS mode"))
        n_before = len(c.samples())
        c.wait_for(lambda: len(c.samples()) >= n_before + 10, timeout_s=4.0,
                   what="streaming on the new port name")
    finally:
        link.close()
        if dev2 is not None:
            dev2.unplug()
    assert link.port == str(other_name)
    assert link.stats().reconnects == 1


def test_a_command_during_the_unplug_fails_clearly(port):
    dev = FakeDowel(rate_hz=100)
    point(port, dev.path)
    link = SerialLink(str(port))
    try:
        link.connect(stream=False)
        os.unlink(port)  # first: a freed pty number may soon belong to another test's device
        dev.unplug()
        wait_until(lambda: link.state == RECONNECTING, what="the reconnecting state")
        with pytest.raises(LinkDown, match="reconnecting to %s" % port):
            link.start()
    finally:
        link.close()
    assert link.state == "closed"


def test_a_1_2_dowel_replugged_as_an_older_one_is_read_without_the_check(port):
    # protocol 1.2: a host that has seen the check refuses frames without it from that sender,
    # but only until the port is reopened; the board reflashed with 1.1 firmware (a new sender
    # on a new connection) streams again
    dev = FakeDowel(rate_hz=100)
    point(port, dev.path)
    c = Consumer()
    link = SerialLink(str(port), on_batch=c.on_batch, on_event=c.on_event)
    dev2 = None
    try:
        link.connect(rate_hz=100)
        c.wait_for(lambda: len(c.samples()) >= 20, what="samples from the 1.2 dowel")
        assert {m.version for m in c.samples()} == {0x12}
        os.unlink(port)
        dev.unplug()
        c.wait_for(lambda: link.state == RECONNECTING, what="the reconnecting state")
        dev2 = FakeDowel(rate_hz=100, protocol=0x11)
        n_before = len(c.samples())
        point(port, dev2.path)
        c.wait_for(lambda: len(c.samples()) >= n_before + 20, timeout_s=3.0,
                   what="the 1.1 dowel's samples")
    finally:
        link.close()
        if dev2 is not None:
            dev2.unplug()
    assert {m.version for m in c.samples()[n_before:]} == {0x11}
    assert link.stats().counters.get("downgraded", 0) == 0
    assert link.info.protocol_version == "1.1"
