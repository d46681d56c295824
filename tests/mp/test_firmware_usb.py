# The firmware's USB output (dowel_device/usbserial.py) against a stdout that behaves like the
# rp2 port's (tests/mp/fakecdc.py): a host that stops draining must cost no blocking write,
# keep the sampling schedule and leave only whole frames and counted drops.
from dowel_protocol import StreamDecoder
from dowel_protocol.messages import CMD_SET_RATE, CMD_START, LEVEL_INFO, SAMPLE, STATUS, TEXT, pack
from dowel_device.firmware import Firmware
from dowel_device.usbserial import CHUNK, UsbSerial
from fakeboard import FakeBoard
from fakecdc import CAPACITY, FakeCdc, NoInput


class Host:
    """What the host reads: decoded as it arrives, counted, the STATUS frames kept."""

    def __init__(self):
        self.dec = StreamDecoder()
        self.samples = 0
        self.status = []
        self.texts = []

    def feed(self, data):
        for m in self.dec.feed(data):
            if m.type == SAMPLE:
                self.samples += 1
            elif m.type == STATUS:
                self.status.append(m)
            elif m.type == TEXT:
                self.texts.append(m)


class CdcBoard(FakeBoard):
    """The fake board with its host link replaced by UsbSerial over the modelled rp2 CDC."""

    def __init__(self, fill=b""):
        FakeBoard.__init__(self, capture=False)
        self.host = Host()
        self.cdc = FakeCdc(self, fill, self.host.feed)
        self.usb = UsbSerial(NoInput(), self.cdc, NoInput(), self.cdc)

    def write(self, buf):
        return self.usb.write(buf)


def streaming(board, rate_hz):
    fw = Firmware(board)
    board.host_send(pack(CMD_SET_RATE, 1, (rate_hz,)) + pack(CMD_START, 2))
    return fw


def run_for(fw, board, seconds):
    end = board.ticks_add(board.now, int(seconds * 1000000))
    while board.ticks_diff(end, board.now) > 0:
        fw.poll()


def check_stall(rate_hz):
    board = CdcBoard()
    fw = streaming(board, rate_hz)
    run_for(fw, board, 2)
    assert fw.drops == 0
    board.cdc.draining = False  # the PC stops reading (asleep, busy) with the port open
    run_for(fw, board, 30)
    dropped_in_stall = fw.drops
    board.cdc.draining = True
    run_for(fw, board, 3)
    host = board.host
    dec = host.dec
    # the schedule held: every slot of the 35 s was sampled, none late
    assert fw.overruns == 0, fw.overruns
    assert abs(fw.samples - 35 * rate_hz) <= 2, fw.samples
    # no write waited for the host (the modelled port blocks up to 500 ms per piece)
    assert board.cdc.max_block_us <= 1000, board.cdc.max_block_us
    assert board.usb.short_writes == 0
    # what the host got: whole frames only; the rest counted as drops and seen as gaps
    assert dec.rejected() == 0, dec.counters()
    assert dropped_in_stall >= 30 * rate_hz - CAPACITY // CHUNK
    assert dec.lost_frames == fw.drops, (dec.lost_frames, fw.drops)
    assert host.samples + len(host.status) + fw.drops >= fw.samples
    # and streaming came back after the stall: the last STATUS counts every sample
    assert fw.drops == dropped_in_stall
    assert host.status[-1].samples >= fw.samples - rate_hz and host.status[-1].drops == fw.drops
    return fw


def test_a_host_that_stops_draining_for_30_s_at_100_hz():
    check_stall(100)


def test_a_host_that_stops_draining_for_30_s_at_500_hz():
    check_stall(500)


def test_the_model_blocks_like_rp2_on_a_write_that_does_not_fit():
    # the fake must show the hazard, or the tests above prove nothing
    board = FakeBoard(capture=False)
    cdc = FakeCdc(board, fill=bytes(CAPACITY - 8))
    cdc.draining = False
    assert cdc.ipoll(0)  # POLLOUT: 8 bytes are free
    t0 = board.now
    n = cdc.write(bytes(31))
    assert n == 8
    assert board.ticks_diff(board.now, t0) >= 1000000  # two 500 ms waits, as on 1.24+


def test_boot_messages_left_in_the_fifo_are_aligned_away_without_blocking():
    # "MPY: soft reboot" and the like: any number of bytes may be waiting at start-up
    board = CdcBoard(fill=b"MPY: soft reboot\r\n")
    board.cdc.draining = False
    fw = streaming(board, 100)
    run_for(fw, board, 5)
    assert board.cdc.max_block_us <= 1000
    assert board.usb.short_writes == 0
    assert len(board.cdc.fifo) == CAPACITY
    board.cdc.draining = True
    run_for(fw, board, 2)
    assert board.host.dec.rejected() <= 1  # the boot text in front of the first delimiter
    assert fw.overruns == 0 and board.host.samples >= 150


def test_every_frame_but_text_is_one_chunk():
    # SAMPLE (35 bytes with protocol 1.2's check) and STATUS (52) go out in one write each
    board = CdcBoard()
    fw = streaming(board, 500)
    run_for(fw, board, 1.01)
    assert board.host.samples >= 500 and len(board.host.status) == 1
    assert not board.usb.pending() and board.cdc.max_block_us <= 1000


def test_a_long_frame_goes_out_whole_or_waits_whole():
    board = CdcBoard()
    fw = streaming(board, 500)
    run_for(fw, board, 0.5)
    board.cdc.draining = False
    run_for(fw, board, 0.002)  # one sample (one chunk) waits in the FIFO
    fw._send_text(LEVEL_INFO, "x" * 190)  # a TEXT of 203 bytes: 4 chunks, 3 of them fit
    assert board.usb.pending()  # its first chunks are in the FIFO, the rest waits
    drops = fw.drops
    run_for(fw, board, 0.3)
    assert fw.drops - drops >= 140  # samples wait behind it, refused and counted
    board.cdc.draining = True
    run_for(fw, board, 1.0)
    assert board.host.dec.rejected() == 0  # the TEXT arrived whole
    assert [m.values[1] for m in board.host.texts] == ["x" * 190]
    assert board.cdc.max_block_us <= 1000


def test_no_host_connected_never_blocks():
    board = CdcBoard()
    board.cdc.connected = False
    fw = streaming(board, 200)
    run_for(fw, board, 3)
    assert board.cdc.max_block_us == 0 and fw.overruns == 0
