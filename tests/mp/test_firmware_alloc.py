# Zero heap allocation on the firmware's sampling path, proven under the real MicroPython
# interpreter with micropython.heap_lock() (any allocation raises MemoryError, which poll()
# would count in loop_errors) and with gc.mem_alloc() deltas. MicroPython only.
import gc

import micropython

from dowel_protocol.messages import CMD_SET_RATE, CMD_START, IMU_NONE, pack
from dowel_device.firmware import Firmware
from fakeboard import FakeBoard


def steady(board, rate_hz=100):
    fw = Firmware(board)
    board.host_send(pack(CMD_SET_RATE, 1, (rate_hz,)) + pack(CMD_START, 2))
    # warm up: past the first STATUS and IMU retry, so every path has run once
    while fw.samples < 2 * rate_hz and fw.loop_errors == 0:
        fw.poll()
    assert fw.loop_errors == 0, fw.last_exception
    return fw


def locked_run(fw, n):
    target = fw.samples + n
    errors = fw.loop_errors
    gc.collect()
    micropython.heap_lock()
    try:
        # an allocation raises MemoryError, which poll() counts: stop there
        while fw.samples < target and fw.loop_errors == errors:
            fw.poll()
    finally:
        micropython.heap_unlock()


def test_heap_lock_catches_an_allocation():
    micropython.heap_lock()
    caught = False
    try:
        bytearray(100)
    except MemoryError:
        caught = True
    finally:
        micropython.heap_unlock()
    assert caught


def test_no_allocation_over_10000_samples_at_100_hz():
    board = FakeBoard(capture=False)
    fw = steady(board)
    frames0 = board.frames_out
    samples0 = fw.samples
    locked_run(fw, 10000)
    assert fw.loop_errors == 0, fw.last_exception
    assert fw.samples - samples0 == 10000
    status_frames = board.frames_out - frames0 - 10000
    assert 99 <= status_frames <= 101  # STATUS once a second went out too, heap locked


def test_no_allocation_over_10000_samples_at_500_hz():
    board = FakeBoard(capture=False)
    fw = steady(board, 500)
    locked_run(fw, 10000)
    assert fw.loop_errors == 0, fw.last_exception
    assert fw.rate_hz == 500


def test_no_allocation_with_no_imu_and_a_host_not_reading():
    board = FakeBoard(imu_type=IMU_NONE, capture=False)
    fw = steady(board)
    board.refuse = -1
    drops0 = fw.drops
    locked_run(fw, 10000)
    assert fw.loop_errors == 0, fw.last_exception
    assert fw.drops - drops0 >= 10000
    assert board.probes > 50  # the IMU kept being looked for (once a second)


def test_no_allocation_by_gc_mem_alloc_delta():
    board = FakeBoard(capture=False)
    fw = steady(board)
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        target = fw.samples + 10000
        while fw.samples < target and fw.loop_errors == 0:
            fw.poll()
        after = gc.mem_alloc()
    finally:
        gc.enable()
    assert after - before == 0, after - before
