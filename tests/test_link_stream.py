"""The serial link over a real pseudo-terminal: streaming, commands, integrity counters."""

import sys

import dowel_protocol as P
import pytest
from dowel_protocol.cobs import encode as cobs_encode
from link_fake_device import BOARD_ID, FakeDowel, sample_fields
from link_helpers import Consumer, wait_until

from smart_dowel.link import (
    CONNECTED,
    CommandRejected,
    CommandTimeout,
    DeviceStatus,
    SerialLink,
)


@pytest.fixture
def device():
    dev = FakeDowel(rate_hz=200)
    yield dev
    dev.unplug()


@pytest.fixture
def consumer():
    return Consumer()


@pytest.fixture
def link(device, consumer):
    ln = SerialLink(device.path, on_batch=consumer.on_batch, on_event=consumer.on_event)
    yield ln
    ln.close()


def test_samples_arrive_in_order_with_their_fields(device, consumer, link):
    info = link.connect()
    assert link.state == CONNECTED
    assert info.board_id == BOARD_ID.hex()
    assert info.fw_version == "1.2.3"
    assert info.imu_name == "simulated"
    assert info.rate_hz == 200
    consumer.wait_for(lambda: len(consumer.samples()) >= 100, what="100 samples")

    samples = consumer.samples()
    seqs = [m.seq for m in samples]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    sent = dict(device.sent_samples)
    for m in samples:
        k = sent[m.seq]
        assert m.values == sample_fields(k, k * 5000, P.FLAG_RESYNC if k == 0 else 0)
    # the raw wire bytes come with the batches: decoding them again gives the same messages
    again = P.StreamDecoder().feed(consumer.raw())
    assert again[: len(consumer.messages())] == consumer.messages()
    assert all(len(b.rx_mono) == len(b.messages) for b in consumer.batches)

    s = link.stats()
    assert s.state == CONNECTED and s.port == device.path
    assert (s.crc_errors, s.malformed, s.lost_frames) == (0, 0, 0)
    assert s.sample_rate_hz == pytest.approx(200, rel=0.02)
    assert s.bytes_per_s > 0 and s.samples >= 100
    assert s.info.board_id == BOARD_ID.hex()
    assert [c.type for c in device.commands][:2] == [P.CMD_GET_INFO, P.CMD_START]


def test_batches_group_messages_instead_of_one_post_per_frame(device, consumer, link):
    link.connect()
    consumer.wait_for(lambda: len(consumer.samples()) >= 200, what="200 samples")
    with_samples = [b for b in consumer.batches if b.samples()]
    # 200 Hz with batches every 15 ms: about three samples a batch, never one post per sample
    assert len(consumer.samples()) / len(with_samples) > 1.5


def test_commands_get_ack_or_nack(device, consumer, link):
    link.connect(stream=False)
    assert link.ping() > 0
    link.set_rate(50)
    assert device.rate_hz == 50
    assert link.get_info().rate_hz == 50

    status = link.get_status()
    assert isinstance(status, DeviceStatus)
    assert (status.overruns, status.drops, status.imu_errors) == (2, 1, 3)
    assert status.imu_present and not status.streaming
    assert link.stats().status == status

    device.nack[P.CMD_SET_RATE] = P.ERR_OUT_OF_RANGE
    with pytest.raises(CommandRejected, match="out_of_range") as e:
        link.set_rate(5000)
    assert e.value.error == "out_of_range"
    reply = link.send(P.CMD_SET_RATE, (5000,))
    assert not reply.ok and reply.error == "out_of_range"

    link.start()
    consumer.wait_for(lambda: len(consumer.samples()) >= 5, what="samples after START")
    link.stop()
    assert not device.streaming

    device.silent = True
    with pytest.raises(CommandTimeout, match="did not answer PING"):
        link.ping(timeout_s=0.2)


def test_garbage_on_the_line_is_counted_and_the_stream_resyncs(device, consumer, link):
    link.connect()
    consumer.wait_for(lambda: len(consumer.samples()) >= 10, what="samples")
    body = bytearray(P.pack_body(P.SAMPLE, 999, sample_fields(0, 0)))
    body[10] ^= 0x40  # a bit flip in the payload: the CRC no longer matches
    device.inject(b"\x00" + cobs_encode(bytes(body)) + b"\x00")
    device.inject(b"\x05\x11\x22\x00")  # a COBS block runs past the end: malformed
    device.inject(bytes(range(1, 200)) * 3 + b"\x00")  # a junk run longer than any frame
    n = len(consumer.samples())
    consumer.wait_for(lambda: len(consumer.samples()) >= n + 20, what="samples after garbage")

    s = link.stats()
    assert s.crc_errors == 1
    assert s.malformed >= 2
    assert s.lost_frames == 0
    seqs = [m.seq for m in consumer.samples()]
    # nothing after the garbage was lost: the first frame after it decodes
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert 999 not in seqs

    # junk that runs straight into a frame costs at most that one frame
    device.inject(bytes(range(1, 250)) * 2)
    n = len(consumer.samples())
    consumer.wait_for(lambda: len(consumer.samples()) >= n + 20, what="samples after junk")
    s = link.stats()
    assert s.malformed >= 3
    assert s.lost_frames <= 1


def test_lost_frames_are_counted_from_sequence_gaps(device, consumer, link):
    link.connect()
    consumer.wait_for(lambda: len(consumer.samples()) >= 10, what="samples")
    device.skip(7)
    n = len(consumer.samples())
    consumer.wait_for(lambda: len(consumer.samples()) >= n + 10, what="samples after the gap")
    device.skip(3)
    n = len(consumer.samples())
    consumer.wait_for(lambda: len(consumer.samples()) >= n + 10, what="samples after the gap")
    s = link.stats()
    assert s.lost_frames == 10
    assert s.counters["gaps"] == 2


def test_a_failing_consumer_is_reported_not_lost(device):
    events = []

    def broken(batch):
        raise ValueError("store is full")

    ln = SerialLink(device.path, on_batch=broken, on_event=events.append)
    try:
        ln.connect()
        wait_until(lambda: any(e.kind == "error" for e in events), what="an error event")
    finally:
        ln.close()
    err = [e for e in events if e.kind == "error"][0]
    assert isinstance(err.error, ValueError) and "store is full" in err.message
    assert ln.stats().last_error == err.message


def test_close_stops_the_stream_and_releases_the_port(device, consumer, link):
    link.connect()
    consumer.wait_for(lambda: len(consumer.samples()) >= 5, what="samples")
    link.close()
    assert link.state == "closed"
    assert not device.streaming
    assert consumer.events[-1].kind == "state" and consumer.events[-1].state == "closed"
    # the port is free again: a new link can take it
    again = SerialLink(device.path)
    again.connect(stream=False)
    again.close()


def test_importing_the_link_does_not_load_textual():
    import subprocess

    code = "import sys, smart_dowel.link; assert 'textual' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
