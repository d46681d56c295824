# Runs under MicroPython (bench/firmware_bench.py starts it): the firmware's sampling path on
# the fake board with a virtual clock, so the wall time measured is the firmware's own work,
# and its parts timed alone (SAMPLE packing with the viper and the plain CRC/COBS, the fake
# board's ADC and IMU calls). Prints one JSON line.
import gc
import json
import sys
import time

from dowel_protocol import cobs, crc
from dowel_protocol.messages import CMD_SET_RATE, CMD_START, SAMPLE_BODY_LEN, SampleWriter, pack
from dowel_device.firmware import Firmware
from dowel_device.usbserial import UsbSerial
from fakeboard import FakeBoard


class _Ready:
    """A USB console that always has room (poll and stream in one), costing next to nothing."""

    def __init__(self):
        self._r = ((self, 4),)

    def ipoll(self, timeout):
        return self._r

    def write(self, buf):
        return len(buf)

    def readinto(self, buf):
        return 0


def measure(rate_hz, n):
    board = FakeBoard(capture=False)
    fw = Firmware(board)
    board.host_send(pack(CMD_SET_RATE, 1, (rate_hz,)) + pack(CMD_START, 2))
    while fw.samples < rate_hz * 2:
        fw.poll()
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    s0 = fw.samples
    target = s0 + n
    t0 = time.ticks_us()
    while fw.samples < target:
        fw.poll()
    dt = time.ticks_diff(time.ticks_us(), t0)
    a1 = gc.mem_alloc()
    gc.enable()
    return dt / n, (a1 - a0) / n, fw.loop_errors, fw.oversample


_BOARD_METHODS = ("ticks_us", "ticks_add", "ticks_diff", "sleep_us", "read_into", "write",
                  "watchdog_feed", "rx_pending", "read_fsr", "imu_read", "imu_probe")


def board_calls(rate_hz, n):
    """Calls of each fake-board method per sample (counted in a separate, slower run)."""
    board = FakeBoard(capture=False)
    counts = {}
    for name in _BOARD_METHODS:
        counts[name] = 0
        orig = getattr(board, name)

        def wrap(*a, _name=name, _orig=orig):
            counts[_name] += 1
            return _orig(*a)

        setattr(board, name, wrap)
    fw = Firmware(board)
    board.host_send(pack(CMD_SET_RATE, 1, (rate_hz,)) + pack(CMD_START, 2))
    while fw.samples < rate_hz * 2:
        fw.poll()
    for name in counts:
        counts[name] = 0
    s0 = fw.samples
    while fw.samples < s0 + n:
        fw.poll()
    for name in counts:
        counts[name] = counts[name] / n
    return counts


REPEATS = 9  # every time is the fastest of this many short runs: other load on the machine only adds


def per_call(fn, n):
    best = None
    for _ in range(REPEATS):
        t0 = time.ticks_us()
        i = 0
        while i < n:
            fn(i)
            i += 1
        dt = time.ticks_diff(time.ticks_us(), t0) / n
        best = dt if best is None or dt < best else best
    return best


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    out = {"samples_measured": n, "micropython": sys.version, "native": crc.NATIVE}
    errors = 0
    for rate in (100, 200, 500):
        runs = [measure(rate, n) for _ in range(REPEATS)]
        us = min(r[0] for r in runs)
        alloc = max(r[1] for r in runs)
        err = sum(r[2] for r in runs)
        oversample = runs[0][3]
        out["loop_us_%d" % rate] = us
        out["alloc_bytes_%d" % rate] = alloc
        out["oversample_%d" % rate] = oversample
        errors += err
    out["loop_errors"] = errors
    w = SampleWriter()
    imu = (1, 2, 3, 4, 5, 6)
    out["pack_us"] = per_call(lambda i: w.pack(i, i * 10000, 1000, 2000, 3000, imu, 0), n)
    body = w.body
    frame = w.frame
    out["crc_native_us"] = per_call(lambda i: crc.crc16_buf(body, SAMPLE_BODY_LEN - 2), n)
    out["check_native_us"] = per_call(lambda i: crc.crc32_into(body, SAMPLE_BODY_LEN - 6), n)
    out["crc_plain_us"] = per_call(lambda i: crc.crc16_table(body, SAMPLE_BODY_LEN - 2), n)
    out["cobs_native_us"] = per_call(lambda i: cobs.encode_into(body, SAMPLE_BODY_LEN, frame), n)
    out["cobs_plain_us"] = per_call(
        lambda i: cobs.encode_into_plain(body, SAMPLE_BODY_LEN, frame), n)
    out["empty_call_us"] = per_call(lambda i: None, n)
    board = FakeBoard(capture=False)
    from array import array

    arr = array("h", (0, 0, 0, 0, 0, 0))
    out["fake_adc_us"] = per_call(lambda i: board.read_fsr(0), n)
    out["fake_imu_us"] = per_call(lambda i: board.imu_read(arr), n)
    ready = _Ready()
    usb = UsbSerial(ready, ready, ready, ready)
    usb.write(frame)  # aligns first
    out["usb_write_us"] = per_call(lambda i: usb.write(frame), n)
    out["null_write_us"] = per_call(lambda i: ready.write(frame), n)
    rx = bytearray(64)
    out["usb_read_into_us"] = per_call(lambda i: usb.read_into(rx), n)
    out["null_ipoll_us"] = per_call(lambda i: ready.ipoll(0), n)
    for rate in (100, 200, 500):
        out["board_calls_%d" % rate] = board_calls(rate, n // 4)
    fb = FakeBoard(capture=False)
    buf = bytearray(64)
    cost = {
        "ticks_us": per_call(lambda i: fb.ticks_us(), n),
        "ticks_add": per_call(lambda i: fb.ticks_add(i, 100), n),
        "ticks_diff": per_call(lambda i: fb.ticks_diff(i, 100), n),
        "sleep_us": per_call(lambda i: fb.sleep_us(100), n),
        "read_into": per_call(lambda i: fb.read_into(buf), n),
        "write": per_call(lambda i: fb.write(frame), n),
        "watchdog_feed": per_call(lambda i: fb.watchdog_feed(), n),
        "rx_pending": per_call(lambda i: fb.rx_pending(), n),
        "read_fsr": per_call(lambda i: fb.read_fsr(0), n),
        "imu_read": per_call(lambda i: fb.imu_read(arr), n),
        "imu_probe": per_call(lambda i: fb.imu_probe(), n),
    }
    out["board_cost_us"] = cost
    print(json.dumps(out))


main()
