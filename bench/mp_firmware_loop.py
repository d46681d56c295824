# Runs under MicroPython (bench/firmware_bench.py starts it): the firmware's sampling path on
# the fake board with a virtual clock, so the wall time measured is the firmware's own work.
# Prints one JSON line.
import gc
import json
import sys
import time

from dowel_protocol.messages import CMD_SET_RATE, CMD_START, SampleWriter, pack
from dowel_device.firmware import Firmware
from fakeboard import FakeBoard


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
    return dt / n, (a1 - a0) / n, fw.loop_errors


def measure_pack(n):
    w = SampleWriter()
    imu = (1, 2, 3, 4, 5, 6)
    t0 = time.ticks_us()
    i = 0
    while i < n:
        w.pack(i, i * 10000, 1000, 2000, 3000, imu, 0)
        i += 1
    return time.ticks_diff(time.ticks_us(), t0) / n


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    us100, alloc100, err100 = measure(100, n)
    us500, alloc500, err500 = measure(500, n)
    print(json.dumps({
        "firmware_us_per_sample": us100,
        "firmware_alloc_bytes_per_sample": alloc100,
        "firmware_us_per_sample_500hz": us500,
        "firmware_alloc_bytes_per_sample_500hz": alloc500,
        "firmware_pack_us_per_sample": measure_pack(n),
        "firmware_loop_errors": err100 + err500,
        "samples_measured": n,
        "micropython": sys.version,
    }))


main()
