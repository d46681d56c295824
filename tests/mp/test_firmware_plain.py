# Firmware tests as plain test_* functions: run under the real MicroPython interpreter and
# under CPython (tests/test_firmware_micropython.py), with a scripted fake board.
from dowel_protocol import StreamDecoder
from dowel_protocol.messages import (
    ACK,
    CMD_GET_INFO,
    CMD_GET_STATUS,
    CMD_PING,
    CMD_RESET,
    CMD_SET_RATE,
    CMD_START,
    CMD_STOP,
    ERR_BAD_FRAME,
    ERR_BAD_LENGTH,
    ERR_BAD_VERSION,
    ERR_OUT_OF_RANGE,
    ERR_UNKNOWN_COMMAND,
    FLAG_IMU_MISSING,
    FLAG_IMU_STALE,
    FLAG_LATE,
    FLAG_RESYNC,
    IMU_MPU6050,
    IMU_NONE,
    INFO,
    LEVEL_ERROR,
    LEVEL_WARNING,
    NACK,
    PROTOCOL_VERSION,
    SAMPLE,
    SAMPLE_FRAME_LEN,
    STATUS,
    STATUS_IMU_PRESENT,
    STATUS_STREAMING,
    STATUS_WATCHDOG,
    TEXT,
    pack,
)
from dowel_protocol.cobs import encode as cobs_encode
from dowel_protocol.crc import crc16, crc32_into
import struct

from dowel_device.config import IMU_RETRY_MS, WATCHDOG_TIMEOUT_MS
from dowel_device.firmware import Firmware
from fakeboard import TICKS_PERIOD, FakeBoard


def decode(board):
    dec = StreamDecoder()
    msgs = dec.feed(board.take_output())
    assert dec.rejected() == 0, dec.counters()
    return msgs


def of_type(msgs, t):
    return [m for m in msgs if m.type == t]


def command(board, fw, cmd_type, seq, values=()):
    board.host_send(pack(cmd_type, seq, values))
    fw.poll()
    return decode(board)


def raw_frame(body_wo_crc, check=True):
    """Header and fields on the wire: the check (a 1.2 header, unless check=False), the CRC."""
    b = bytearray(body_wo_crc)
    if check and (b[0] & 0x0F) >= 2:
        b.extend(bytes(4))
        crc32_into(b, len(b) - 4)
    c = crc16(b)
    body = bytes(b) + bytes((c & 0xFF, c >> 8))
    return cobs_encode(body) + b"\x00"


def started(board=None, **kw):
    board = board or FakeBoard()
    fw = Firmware(board, **kw)
    msgs = command(board, fw, CMD_START, 1)
    assert of_type(msgs, ACK)[0].values == (CMD_START, 1)
    return board, fw, msgs


def run_samples(fw, n):
    start = fw.samples
    polls = 0
    while fw.samples < start + n:
        fw.poll()
        polls += 1
        assert polls < 10 * n + 100, "the firmware stopped sampling"


# --- commands: good ----------------------------------------------------------------------


def test_ping_is_acked_with_its_type_and_sequence():
    board = FakeBoard()
    fw = Firmware(board)
    msgs = command(board, fw, CMD_PING, 0x1234)
    assert len(msgs) == 1
    assert msgs[0].type == ACK and msgs[0].values == (CMD_PING, 0x1234)
    assert msgs[0].seq == 0


def test_get_info_sends_info_then_ack():
    board = FakeBoard()
    fw = Firmware(board, rate_hz=200, oversample=8)
    msgs = command(board, fw, CMD_GET_INFO, 7)
    assert [m.type for m in msgs] == [INFO, ACK]
    info = msgs[0].fields()
    assert info["fw_major"] == 1 and info["protocol"] == PROTOCOL_VERSION
    assert info["board_id"] == b"FAKE0001"
    assert info["sensors"] == 0x0F
    assert info["imu_type"] == IMU_MPU6050
    assert info["rate_hz"] == 200 and info["oversample"] == 8
    assert info["streaming"] == 0
    assert msgs[1].values == (CMD_GET_INFO, 7)
    assert [m.seq for m in msgs] == [0, 1]


def test_info_without_imu_reports_fsrs_only():
    board = FakeBoard(imu_type=IMU_NONE)
    fw = Firmware(board)
    info = command(board, fw, CMD_GET_INFO, 1)[0].fields()
    assert info["sensors"] == 0x07 and info["imu_type"] == IMU_NONE


def test_get_status_sends_status_then_ack():
    board = FakeBoard()
    fw = Firmware(board)
    msgs = command(board, fw, CMD_GET_STATUS, 3)
    assert [m.type for m in msgs] == [STATUS, ACK]
    st = msgs[0].fields()
    assert st["samples"] == 0 and st["rate_hz"] == 100
    assert st["flags"] == STATUS_IMU_PRESENT
    assert msgs[1].values == (CMD_GET_STATUS, 3)


def test_start_acks_then_streams_and_stop_ends_the_stream():
    board, fw, msgs = started()
    assert fw.streaming and board.led_on and board.streaming_calls[-1] is True
    run_samples(fw, 5)
    msgs = command(board, fw, CMD_STOP, 2)
    assert msgs[-1].type == ACK and msgs[-1].values == (CMD_STOP, 2)
    assert not fw.streaming and not board.led_on and board.streaming_calls[-1] is False
    n = fw.samples
    for _ in range(50):
        fw.poll()
    assert fw.samples == n
    assert decode(board) == []


def test_reset_acks_before_resetting():
    board = FakeBoard()
    fw = Firmware(board)
    board.host_send(pack(CMD_RESET, 9))
    fw.poll()
    assert board.resets == 1
    assert board.out_len_at_reset == len(board.out) > 0
    msgs = decode(board)
    assert msgs[0].type == ACK and msgs[0].values == (CMD_RESET, 9)


def test_one_sequence_counter_for_every_message_type():
    board, fw, msgs = started()
    run_samples(fw, 3)
    board.host_send(pack(CMD_PING, 50))
    run_samples(fw, 2)
    msgs += decode(board)
    assert [m.seq for m in msgs] == list(range(len(msgs)))
    assert fw.seq == len(msgs)


# --- commands: bad -----------------------------------------------------------------------


def test_bad_crc_is_nacked_as_bad_frame():
    board = FakeBoard()
    fw = Firmware(board)
    frame = bytearray(pack(CMD_PING, 5))
    frame[2] ^= 0x40
    board.host_send(frame)
    fw.poll()
    msgs = decode(board)
    assert len(msgs) == 1 and msgs[0].type == NACK
    assert msgs[0].values == (0, 0, ERR_BAD_FRAME)
    assert fw.last_error == ERR_BAD_FRAME


def test_broken_cobs_and_too_short_frames_are_bad_frames():
    board = FakeBoard()
    fw = Firmware(board)
    board.host_send(b"\x05\x10\x81\x00")  # COBS block runs past the end
    board.host_send(cobs_encode(b"\x10\x81") + b"\x00")  # shorter than a header and CRC
    fw.poll()
    msgs = decode(board)
    assert [m.values for m in msgs] == [(0, 0, ERR_BAD_FRAME), (0, 0, ERR_BAD_FRAME)]


def test_wrong_payload_length_is_nacked_bad_length():
    board = FakeBoard()
    fw = Firmware(board)
    short_rate = struct.pack("<BBHB", PROTOCOL_VERSION, CMD_SET_RATE, 11, 50)
    long_ping = struct.pack("<BBHB", PROTOCOL_VERSION, CMD_PING, 12, 0)
    board.host_send(raw_frame(short_rate) + raw_frame(long_ping))
    fw.poll()
    msgs = decode(board)
    assert [m.values for m in msgs] == [
        (CMD_SET_RATE, 11, ERR_BAD_LENGTH),
        (CMD_PING, 12, ERR_BAD_LENGTH),
    ]
    assert fw.rate_hz == 100


def test_newer_minor_version_may_append_fields():
    board = FakeBoard()
    fw = Firmware(board)
    body = struct.pack("<BBHHB", PROTOCOL_VERSION + 1, CMD_SET_RATE, 13, 250, 99)
    board.host_send(raw_frame(body))
    fw.poll()
    msgs = decode(board)
    assert msgs[0].type == ACK and fw.rate_hz == 250


def test_a_command_whose_check_fails_is_nacked_bad_frame_and_not_executed():
    # protocol 1.2: a CRC-16 that passes is not enough; the CRC-32 check must match too
    board = FakeBoard()
    fw = Firmware(board)
    frame = bytearray(raw_frame(struct.pack("<BBHH", PROTOCOL_VERSION, CMD_SET_RATE, 15, 250),
                                check=False))
    body = struct.pack("<BBHH", PROTOCOL_VERSION, CMD_SET_RATE, 15, 250) + b"\x01\x02\x03\x04"
    board.host_send(raw_frame(body, check=False))  # a wrong check under a right CRC-16
    board.host_send(bytes(frame))  # no room for the check at all
    fw.poll()
    msgs = decode(board)
    assert [m.values for m in msgs] == [(0, 0, ERR_BAD_FRAME), (0, 0, ERR_BAD_FRAME)]
    assert fw.rate_hz == 100


def frames_of(data):
    """Each frame decoded on its own (a 1.2 host's StreamDecoder would refuse a 1.1 TEXT
    once it has seen the check: these tests play an older host)."""
    from dowel_protocol.messages import unpack

    return [unpack(f) for f in data.split(b"\x00") if f]


def test_a_1_0_or_1_1_host_is_served_and_gets_text_without_the_check():
    # an older host's commands have no check; TEXT, which can never be extended, goes to it
    # as a 1.1 frame, and to a 1.2 host as a 1.2 frame with the check
    board = FakeBoard()
    board.imu_values = [1, 2, 3, 4, 5, 6]
    fw = Firmware(board)
    assert fw.host_minor == 2  # before any command: a host of its own version is assumed
    board.host_send(raw_frame(struct.pack("<BBH", 0x10, CMD_START, 1)))
    fw.poll()
    run_samples(fw, 5)
    board.imu_fail = True
    run_samples(fw, 5)
    board.imu_fail = False
    msgs = frames_of(board.take_output())
    assert of_type(msgs, ACK)[0].values == (CMD_START, 1)
    texts = of_type(msgs, TEXT)
    assert len(texts) == 1 and texts[0].version == 0x11 and "IMU" in texts[0].values[1]
    assert all(m.version == 0x12 for m in msgs if m.type != TEXT)
    assert fw.host_minor == 0
    # a 1.2 command: from now on TEXT carries the check as well
    board.host_send(pack(CMD_PING, 2))
    fw.poll()
    run_samples(fw, 200)  # the IMU re-probe: "IMU ... found"
    msgs = frames_of(board.take_output())
    texts = of_type(msgs, TEXT)
    assert texts and all(m.version == 0x12 for m in texts) and fw.host_minor == 2


def test_every_frame_of_the_firmware_ends_with_its_check():
    from dowel_protocol.cobs import decode as cobs_decode
    from dowel_protocol.crc import crc32

    board = FakeBoard()
    fw = Firmware(board)
    board.host_send(pack(CMD_START, 1))
    fw.poll()
    run_samples(fw, 120)  # samples and a STATUS
    board.host_send(pack(CMD_GET_INFO, 2) + pack(CMD_SET_RATE, 3, (5,)))  # INFO, ACK, NACK
    fw.poll()
    fw.poll()
    frames = [f for f in board.take_output().split(b"\x00") if f]
    types = set()
    for f in frames:
        body = cobs_decode(f)
        assert body[0] == 0x12
        c = crc32(body[:-6])
        assert body[-6:-2] == bytes(((c >> k) & 0xFF for k in (0, 8, 16, 24))), body[1]
        types.add(body[1])
    assert types >= set((SAMPLE, STATUS, INFO, ACK, NACK))


def test_other_major_version_is_nacked():
    board = FakeBoard()
    fw = Firmware(board)
    body = struct.pack("<BBH", 0x20, CMD_PING, 14)
    board.host_send(raw_frame(body))
    fw.poll()
    assert decode(board)[0].values == (CMD_PING, 14, ERR_BAD_VERSION)


def test_unknown_and_device_to_host_types_are_nacked_unknown_command():
    board = FakeBoard()
    fw = Firmware(board)
    unknown = struct.pack("<BBH", PROTOCOL_VERSION, 0x9F, 21)
    board.host_send(raw_frame(unknown))
    board.host_send(pack(STATUS, 22, (0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 0, 0)))
    board.host_send(pack(ACK, 23, (CMD_PING, 1)))
    fw.poll()
    fw.poll()  # a STATUS is long: the three frames take two reads
    msgs = decode(board)
    assert [m.values for m in msgs] == [
        (0x9F, 21, ERR_UNKNOWN_COMMAND),
        (STATUS, 22, ERR_UNKNOWN_COMMAND),
        (ACK, 23, ERR_UNKNOWN_COMMAND),
    ]


def test_rate_outside_the_range_is_nacked_and_ignored():
    board = FakeBoard()
    fw = Firmware(board)
    for seq, rate in ((31, 9), (32, 501), (33, 1000), (34, 0), (35, 65535)):
        msgs = command(board, fw, CMD_SET_RATE, seq, (rate,))
        assert msgs[0].values == (CMD_SET_RATE, seq, ERR_OUT_OF_RANGE), rate
    assert fw.rate_hz == 100


def test_rates_the_board_holds_are_taken_and_above_200_hz_fsrs_are_read_once():
    board = FakeBoard()
    fw = Firmware(board)  # oversample 4 by default
    for seq, rate, oversample in ((1, 200, 4), (2, 500, 1), (3, 201, 1), (4, 100, 4)):
        msgs = command(board, fw, CMD_SET_RATE, seq, (rate,))
        assert msgs[0].values == (CMD_SET_RATE, seq), rate
        info = command(board, fw, CMD_GET_INFO, 10 + seq)[0]
        assert (info.rate_hz, info.oversample) == (rate, oversample)
    for seq, rate in ((35, 10), (36, 500), (37, 499)):
        assert command(board, fw, CMD_SET_RATE, seq, (rate,))[0].values == (CMD_SET_RATE, seq)
        assert fw.rate_hz == rate


def test_every_command_gets_exactly_one_reply_in_a_burst():
    board = FakeBoard()
    fw = Firmware(board)
    burst = (pack(CMD_PING, 1) + b"\x00garbage\x00" + pack(CMD_SET_RATE, 2, (5,))
             + pack(CMD_GET_STATUS, 3) + pack(CMD_PING, 4))
    board.host_send(burst)
    fw.poll()
    msgs = decode(board)
    replies = [m for m in msgs if m.type in (ACK, NACK)]
    assert [m.values for m in replies] == [
        (CMD_PING, 1),
        (0, 0, ERR_BAD_FRAME),
        (CMD_SET_RATE, 2, ERR_OUT_OF_RANGE),
        (CMD_GET_STATUS, 3),
        (CMD_PING, 4),
    ]


def test_junk_longer_than_a_frame_is_dropped_and_the_next_command_works():
    board = FakeBoard()
    fw = Firmware(board)
    board.host_send(b"\x55" * 600 + b"\x00" + pack(CMD_PING, 77))
    for _ in range(12):
        fw.poll()
    msgs = decode(board)
    assert msgs[0].values == (0, 0, ERR_BAD_FRAME)
    assert msgs[-1].type == ACK and msgs[-1].values == (CMD_PING, 77)
    assert len(msgs) == 2


def test_a_ctrl_c_byte_inside_a_command_does_not_interrupt():
    board, fw, _ = started()
    msgs = command(board, fw, CMD_PING, 0x0303)
    assert fw.streaming
    assert (CMD_PING, 0x0303) in [m.values for m in of_type(msgs, ACK)]


def test_mpremote_break_in_stops_streaming_and_raises_keyboard_interrupt():
    board, fw, _ = started()
    run_samples(fw, 3)
    board.host_send(b"\x00\r\x03\r\x01")
    raised = False
    try:
        fw.poll()
    except KeyboardInterrupt:
        raised = True
    assert raised
    assert not fw.streaming and board.streaming_calls[-1] is False and not board.led_on


def breaks_in(fw):
    try:
        fw.poll()
    except KeyboardInterrupt:
        return True
    return False


def test_break_in_inside_a_partial_frame_is_recognised():
    # mpremote can arrive while a command is half received, or in the middle of junk
    board, fw, _ = started()
    run_samples(fw, 3)
    board.host_send(pack(CMD_PING, 7)[:5])  # a frame cut short (an unplugged host)
    fw.poll()
    assert fw.streaming
    board.host_send(b"\r\x03")
    assert breaks_in(fw) and fw.broke_in and not fw.streaming


def test_older_mpremote_break_in_with_two_ctrl_c_inside_junk_is_recognised():
    board, fw, _ = started()
    board.host_send(b"\x05\x99\x42\r\x03\x03\r\x01")  # junk, then "\r\x03\x03" and more
    assert breaks_in(fw) and fw.broke_in


def test_a_command_containing_cr_ctrl_c_is_data_not_a_break_in():
    board, fw, _ = started()
    frame = pack(CMD_PING, 0x030D)  # its header's seq bytes are 0D 03
    assert b"\r\x03" in frame[1:-1]
    msgs = command(board, fw, CMD_PING, 0x030D)
    assert fw.streaming and not fw.broke_in
    assert (CMD_PING, 0x030D) in [m.values for m in of_type(msgs, ACK)]


# --- the stream --------------------------------------------------------------------------


def test_samples_carry_oversampled_fsrs_imu_values_and_exact_fields():
    board = FakeBoard()
    board.fsr = [[100, 200, 300, 401], [65535], [0, 0, 0, 7]]
    board.imu_values = [-1000, 2, 998, -5000, 0, 123]
    board, fw, msgs = started(board)  # START takes the first sample at once
    run_samples(fw, 2)
    samples = of_type(msgs + decode(board), SAMPLE)
    assert len(samples) == 3
    s = samples[0].fields()
    assert s["head"] == 250  # (100+200+300+401) // 4
    assert s["midback"] == 65535
    assert s["tailbone"] == 1  # 7 // 4
    assert (s["ax_mg"], s["ay_mg"], s["az_mg"]) == (-1000, 2, 998)
    assert (s["gx_ddps"], s["gy_ddps"], s["gz_ddps"]) == (-5000, 0, 123)
    assert s["flags"] == FLAG_RESYNC
    assert [x.fields()["flags"] for x in samples[1:]] == [0, 0]
    assert board.adc_reads == 3 * 3 * 4


def test_sample_frames_are_fixed_length_on_the_wire():
    board = FakeBoard()
    fw = Firmware(board, autostart=True)
    run_samples(fw, 1)
    assert len(board.out) == SAMPLE_FRAME_LEN


def test_timestamps_are_exactly_one_period_apart_and_start_at_start():
    board = FakeBoard(start_us=5000)
    board, fw, msgs = started(board)
    t_start = board.now
    run_samples(fw, 249)
    samples = of_type(msgs + decode(board), SAMPLE)
    t = [m.fields()["t_us"] for m in samples]
    assert len(t) == 250 and t[0] == t_start
    assert [b - a for a, b in zip(t, t[1:])] == [10000] * 249
    assert fw.overruns == 0


def test_rate_change_while_streaming_is_honoured():
    board, fw, msgs = started(FakeBoard())
    run_samples(fw, 10)
    msgs += command(board, fw, CMD_SET_RATE, 5, (500,))
    run_samples(fw, 20)
    msgs += decode(board)
    samples = of_type(msgs, SAMPLE)
    after = [m for m in samples if m.seq > of_type(msgs, ACK)[-1].seq]
    assert after[0].fields()["flags"] == FLAG_RESYNC
    t = [m.fields()["t_us"] for m in after]
    assert [b - a for a, b in zip(t, t[1:])] == [2000] * (len(t) - 1)
    assert len(after) >= 19


def test_non_integer_periods_truncate_to_whole_microseconds():
    board, fw, msgs = started(FakeBoard(), rate_hz=300)
    run_samples(fw, 4)
    t = [m.fields()["t_us"] for m in of_type(msgs + decode(board), SAMPLE)]
    assert [b - a for a, b in zip(t, t[1:])] == [3333] * 4


def test_schedule_survives_the_2_30_tick_wrap():
    board = FakeBoard(start_us=TICKS_PERIOD - 35000)
    board, fw, msgs = started(board)
    run_samples(fw, 9)
    t = [m.fields()["t_us"] for m in of_type(msgs + decode(board), SAMPLE)]
    assert t[0] > t[-1]  # wrapped
    assert [(b - a) % TICKS_PERIOD for a, b in zip(t, t[1:])] == [10000] * 9


def test_a_late_loop_skips_and_counts_missed_slots_and_stays_on_the_grid():
    board, fw, msgs = started(FakeBoard(start_us=0))
    run_samples(fw, 5)  # samples at 0 .. 50 ms
    board.stall_us = 35000  # the ADC read of the 60 ms sample blocks for 3.5 periods
    run_samples(fw, 5)
    samples = of_type(msgs + decode(board), SAMPLE)
    t = [m.fields()["t_us"] for m in samples]
    flags = [m.fields()["flags"] for m in samples]
    assert fw.overruns == 2  # the 70 and 80 ms slots; the 90 ms one is taken late, at 95
    assert flags.count(FLAG_LATE) == 1
    late_i = flags.index(FLAG_LATE)
    assert t[late_i - 1] == 60000 and t[late_i] == 95000
    after = t[late_i + 1:]
    assert all(x % 10000 == 0 for x in after)  # back on the original grid, no drift
    assert [b - a for a, b in zip(after, after[1:])] == [10000] * (len(after) - 1)


def test_frames_the_host_does_not_take_are_dropped_counted_and_leave_a_sequence_gap():
    board, fw, msgs = started()
    run_samples(fw, 10)
    board.refuse = 7
    run_samples(fw, 20)
    assert fw.drops == 7 and board.refused == 7
    assert fw.samples == 31
    dec = StreamDecoder()
    out = dec.feed(pack_prefix(msgs) + board.take_output())
    assert dec.lost_frames == 7 and dec.gaps == 1
    assert len(of_type(out, SAMPLE)) == 24


def pack_prefix(msgs):
    return b"".join(pack(m.type, m.seq, m.values) for m in msgs)


def test_status_once_a_second_while_streaming_with_counters():
    board, fw, msgs = started(FakeBoard(start_us=0))
    run_samples(fw, 250)
    board.refuse = 2
    run_samples(fw, 60)
    msgs += decode(board)
    status = of_type(msgs, STATUS)
    assert len(status) == 3  # at 1 s, 2 s and 3 s after start
    st = status[-1].fields()
    assert st["flags"] == STATUS_STREAMING | STATUS_IMU_PRESENT | STATUS_WATCHDOG
    assert st["rate_hz"] == 100 and st["drops"] == 2
    assert 300 <= st["samples"] <= 310
    assert 2990 <= st["uptime_ms"] <= 3010
    samples_before = [m for m in of_type(msgs, SAMPLE) if m.seq < status[0].seq]
    assert len(samples_before) == 101  # samples at 0, 10, ..., 1000 ms


def test_boot_id_is_drawn_at_power_up_and_sent_in_info_and_status():
    board = FakeBoard()
    fw = Firmware(board)
    other = Firmware(FakeBoard())
    assert len(fw.boot_id) == 4 and fw.boot_id != other.boot_id  # 1 in 2**32 to collide
    expected = struct.unpack("<I", fw.boot_id)[0]
    info = command(board, fw, CMD_GET_INFO, 1)[0]
    assert info.version == PROTOCOL_VERSION == 0x12
    assert info.boot_id == expected
    st = command(board, fw, CMD_GET_STATUS, 2)[0]
    assert st.boot_id == expected
    fixed = Firmware(FakeBoard(), boot_id=b"\xff\xff\xff\xfe")  # above 2**30
    assert command(fixed.board, fixed, CMD_GET_STATUS, 3)[0].boot_id == 0xFEFFFFFF


def test_status_reports_the_busy_time_per_slot_over_the_last_second():
    board = FakeBoard(start_us=0)
    board.adc_cost_us = 50  # 3 FSRs x 4 reads: 600 us of work per sample
    board, fw, msgs = started(board)
    run_samples(fw, 150)
    board.stall_us = 4000  # one slot takes 4.6 ms
    run_samples(fw, 150)
    status = of_type(msgs + decode(board), STATUS)
    assert len(status) == 3  # at 1, 2 and 3 s
    first, second = status[0].fields(), status[1].fields()
    assert first["busy_mean_us"] == 600 and first["busy_max_us"] == 600
    assert second["busy_max_us"] == 4600
    assert 600 < second["busy_mean_us"] < 700  # one slow slot in about a hundred
    assert second["overruns"] == 0  # 4.6 ms still fits a 10 ms slot


def test_busy_time_counts_the_work_of_every_poll_in_the_slot():
    # at 10 Hz the loop wakes every 5 ms to read the host: those reads belong to the slot
    board = FakeBoard(start_us=0)
    board.adc_cost_us = 100
    board.read_cost_us = 10
    board, fw, msgs = started(board, rate_hz=10)
    polls = 0
    while fw.samples < 25:
        fw.poll()
        polls += 1
    assert polls > 400  # about 20 polls per slot
    st = of_type(msgs + decode(board), STATUS)[-1].fields()
    assert st["rate_hz"] == 10
    # 1200 us of ADC reads plus 10 us per poll, about 20 polls a slot
    assert 1300 <= st["busy_mean_us"] <= 1450, st
    assert st["busy_max_us"] <= 1450, st


def test_no_status_while_idle():
    board = FakeBoard()
    fw = Firmware(board)
    for _ in range(3000):
        fw.poll()
    assert board.now > 2000000
    assert decode(board) == []


# --- IMU faults --------------------------------------------------------------------------


def test_imu_failure_keeps_fsrs_streaming_and_the_imu_comes_back():
    board = FakeBoard()
    board.imu_values = [1, 2, 3, 4, 5, 6]
    board, fw, msgs = started(board)
    run_samples(fw, 10)
    board.imu_fail = True
    run_samples(fw, 150)  # 1.5 s: one failed read, a failed re-probe
    board.imu_fail = False
    board.imu_values = [7, 8, 9, 10, 11, 12]
    run_samples(fw, 150)
    msgs += decode(board)
    samples = of_type(msgs, SAMPLE)
    assert len(samples) == 311
    assert all(m.fields()["head"] == 1000 for m in samples)
    flags = [m.fields()["flags"] & (FLAG_IMU_STALE | FLAG_IMU_MISSING) for m in samples]
    imu = [m.values[4:10] for m in samples]
    first_bad = flags.index(FLAG_IMU_STALE)
    assert first_bad == 11
    assert imu[first_bad] == (1, 2, 3, 4, 5, 6)  # stale: the last good reading repeats
    assert FLAG_IMU_MISSING in flags
    missing = [imu[i] for i in range(len(flags)) if flags[i] == FLAG_IMU_MISSING]
    assert all(v == (0, 0, 0, 0, 0, 0) for v in missing)
    assert flags[-1] == 0 and imu[-1] == (7, 8, 9, 10, 11, 12)
    back = len(flags) - flags[::-1].index(FLAG_IMU_MISSING)  # first sample after recovery
    assert all(f == 0 for f in flags[back:])
    # retried every IMU_RETRY_MS: the outage lasts less than two retry periods past the fix
    assert back - 161 <= 100 * IMU_RETRY_MS // 1000 + 1
    assert fw.imu_errors >= 2
    texts = of_type(msgs, TEXT)
    assert any(m.values[0] == LEVEL_WARNING and "IMU" in m.values[1] for m in texts)
    assert "found" in texts[-1].values[1]
    assert fw.loop_errors == 0


def test_missing_imu_at_boot_streams_fsrs_then_is_found_when_plugged_in():
    board = FakeBoard(imu_type=IMU_NONE)
    board, fw, msgs = started(board)
    run_samples(fw, 50)
    board.imu_type = IMU_MPU6050
    board.imu_present = True
    run_samples(fw, 150)
    msgs += decode(board)
    samples = of_type(msgs, SAMPLE)
    assert samples[0].fields()["flags"] == FLAG_RESYNC | FLAG_IMU_MISSING
    assert samples[0].values[4:10] == (0, 0, 0, 0, 0, 0)
    assert samples[-1].fields()["flags"] == 0
    assert fw.imu_errors == 0  # never had one: an absent IMU is a configuration, not an error
    info = command(board, fw, CMD_GET_INFO, 1)[0].fields()
    assert info["imu_type"] == IMU_MPU6050 and info["sensors"] == 0x0F


# --- loop faults, watchdog ---------------------------------------------------------------


def test_an_exception_in_the_loop_is_counted_reported_and_the_loop_goes_on():
    board, fw, msgs = started()
    run_samples(fw, 5)
    board.fsr_error = ValueError("ADC exploded")
    for _ in range(5):
        fw.poll()
    run_samples(fw, 5)
    msgs += decode(board)
    assert fw.loop_errors == 1
    status = of_type(msgs, STATUS)
    text = of_type(msgs, TEXT)
    assert status[0].fields()["loop_errors"] == 1
    assert text[0].values[0] == LEVEL_ERROR and "ADC exploded" in text[0].values[1]
    assert "ValueError" in text[0].values[1]
    assert status[0].seq + 1 == text[0].seq
    # the failed slot is lost, the loop goes on on the same grid
    assert fw.streaming
    t = [m.fields()["t_us"] for m in of_type(msgs, SAMPLE)]
    assert len(t) == fw.samples >= 11
    gaps = [b - a for a, b in zip(t, t[1:])]
    assert gaps.count(20000) == 1 and gaps.count(10000) == len(gaps) - 1


def test_a_fault_on_every_sample_does_not_spin_or_flood():
    board, fw, msgs = started(FakeBoard(start_us=0))
    calls = [0]

    def broken(ch):
        calls[0] += 1
        raise OSError(5)

    board.read_fsr = broken
    t0 = board.now
    while board.now - t0 < 3000000:
        fw.poll()
    msgs = decode(board)
    assert 290 <= fw.loop_errors <= 310  # one per sample slot, not a spin
    assert 3 <= len(of_type(msgs, TEXT)) <= 4  # reported once a second


def test_watchdog_starts_on_first_start_and_is_fed_idle_or_streaming():
    board = FakeBoard()
    fw = Firmware(board)
    for _ in range(10):
        fw.poll()
    assert board.wdt_starts == 0 and board.feeds == 0
    command(board, fw, CMD_START, 1)
    assert board.wdt_starts == 1 and board.wdt_timeout_ms == WATCHDOG_TIMEOUT_MS
    run_samples(fw, 20)
    fed = board.feeds
    assert fed >= 20
    command(board, fw, CMD_STOP, 2)
    command(board, fw, CMD_START, 3)
    assert board.wdt_starts == 1
    command(board, fw, CMD_STOP, 4)
    for _ in range(10):
        fw.poll()
    assert board.feeds >= fed + 10


def test_autostart_streams_without_a_command():
    board = FakeBoard()
    fw = Firmware(board, autostart=True)
    run_samples(fw, 2)
    assert len(of_type(decode(board), SAMPLE)) == 2


def test_run_stops_after_max_samples():
    board = FakeBoard()
    fw = Firmware(board, autostart=True)
    fw.run(max_samples=42)
    assert fw.samples == 42
    assert len(of_type(decode(board), SAMPLE)) == 42
