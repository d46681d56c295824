# The real dowel_device/board.py on stand-ins for the rp2 port's machine, rp2 and time modules
# (tests/mp/rp2env): IMU probing without allocation, the MPU-6500, the bus speed per chip, a
# stuck I2C bus clocked free, and a watchdog that survived a soft reset.
import micropython

import machine
import time
from dowel_protocol.messages import (
    CMD_START,
    FLAG_IMU_STALE,
    IMU_LSM6DSOX,
    IMU_MPU6050,
    IMU_NONE,
    STATUS_WATCHDOG,
    pack,
)
from dowel_device.board import Board
from dowel_device.config import I2C_FAST_FREQ_HZ, I2C_FREQ_HZ, I2C_TIMEOUT_US, WATCHDOG_TIMEOUT_MS
from dowel_device.firmware import Firmware
from dowel_device.usbserial import UsbSerial
from dowel_protocol import StreamDecoder

BUS = machine.BUS
WDT = machine.WATCHDOG


class Host:
    """A USB console that always has room and keeps what is written; host bytes scripted."""

    def __init__(self):
        self.out = bytearray()
        self.inbox = bytearray()
        self._ready = ((self, 4),)

    def ipoll(self, timeout):
        return self._ready

    def write(self, buf):
        self.out.extend(buf)
        return len(buf)


class HostIn:
    def __init__(self, host):
        self.host = host
        self._ready = ((self, 1),)

    def ipoll(self, timeout):
        return self._ready if self.host.inbox else ()

    def readinto(self, buf):
        buf[0] = self.host.inbox[0]
        self.host.inbox = self.host.inbox[1:]
        return 1


def fresh(devices=()):
    BUS.devices = {}
    BUS.stuck = 0
    BUS.pulses = 0
    BUS.made = []
    for address, regs in devices:
        BUS.add(address, regs)
    host = Host()
    hin = HostIn(host)
    board = Board(usb=UsbSerial(hin, host, hin, host))
    return board, host


MPU6050_REGS = {0x75: 0x68}
MPU6500_REGS = {0x75: 0x70}
LSM_REGS = {0x0F: 0x6C}


def run_for(fw, seconds):
    end = time.ticks_add(time.ticks_us(), int(seconds * 1000000))
    while time.ticks_diff(end, time.ticks_us()) > 0:
        fw.poll()


def decode(host):
    dec = StreamDecoder()
    msgs = dec.feed(bytes(host.out))
    host.out = bytearray()
    return msgs


def test_probing_a_missing_imu_allocates_nothing():
    WDT.enabled = False
    board, _ = fresh()
    assert board.imu_probe() == IMU_NONE  # warm up
    found = [0, 0, 0]
    micropython.heap_lock()
    try:
        i = 0
        while i < 3:
            found[i] = board.imu_probe()  # four addresses tried, each raising inside the bus
            i += 1
    finally:
        micropython.heap_unlock()
    assert found == [IMU_NONE, IMU_NONE, IMU_NONE]
    assert BUS.ops >= 12


def test_probing_finds_and_configures_without_allocating():
    board, _ = fresh(((0x69, MPU6050_REGS),))
    micropython.heap_lock()
    try:
        found = board.imu_probe()
    finally:
        micropython.heap_unlock()
    assert found == IMU_MPU6050
    assert BUS.devices[0x69][0x1C] == 0x08  # configured: +-4 g


def test_an_mpu6500_is_taken_for_the_mpu6050_it_replaces():
    board, _ = fresh(((0x68, MPU6500_REGS),))
    assert board.imu_probe() == IMU_MPU6050
    assert BUS.devices[0x68][0x1D] == 0x03  # its accelerometer low-pass filter


def test_the_bus_runs_at_1_mhz_for_the_lsm6dsox_and_400_khz_otherwise():
    board, _ = fresh(((0x6A, LSM_REGS),))
    assert board.imu_probe() == IMU_LSM6DSOX
    assert BUS.made[0] == (I2C_FREQ_HZ, I2C_TIMEOUT_US)
    assert BUS.made[-1] == (I2C_FAST_FREQ_HZ, I2C_TIMEOUT_US)
    board2, _ = fresh(((0x68, MPU6050_REGS),))
    assert board2.imu_probe() == IMU_MPU6050
    assert BUS.made == [(I2C_FREQ_HZ, I2C_TIMEOUT_US)]


def test_a_stuck_bus_is_clocked_free_and_made_again():
    WDT.enabled = False
    board, host = fresh(((0x68, MPU6050_REGS),))
    fw = Firmware(board)
    host.inbox.extend(pack(CMD_START, 1))
    run_for(fw, 1)
    BUS.stuck = 6  # the IMU was reset mid-byte: it holds SDA low for six more clocks
    run_for(fw, 2.5)
    msgs = decode(host)
    samples = [m for m in msgs if m.type == 1]
    assert fw.imu_errors == 1  # one failed read, then a probe that found the bus stuck
    assert board.bus_recoveries == 1 and BUS.pulses == 6 and BUS.stuck == 0
    assert len(BUS.made) == 2  # the bus was made again after the recovery
    assert fw.overruns <= 1  # one 5 ms timeout, not 50 ms per transfer
    stale = [m.seq for m in samples if m.flags & FLAG_IMU_STALE]
    assert 0 < len(stale) <= 110  # at most the one second until the re-probe
    assert not samples[-1].flags & FLAG_IMU_STALE


def test_a_bus_that_stays_stuck_gets_nine_pulses_per_try():
    WDT.enabled = False
    board, _ = fresh(((0x68, MPU6050_REGS),))
    BUS.stuck = 100
    assert board.imu_probe() == IMU_NONE
    assert BUS.pulses == 9


def test_a_watchdog_left_running_by_a_soft_reset_is_fed_from_the_start():
    WDT.enabled = False
    WDT.expired = 0
    board, host = fresh(((0x68, MPU6050_REGS),))
    fw = Firmware(board)
    host.inbox.extend(pack(CMD_START, 1))
    run_for(fw, 1)
    assert WDT.enabled and fw.watchdog_started
    # Ctrl-D: MicroPython restarts, main.py runs again, the hardware watchdog keeps counting
    board, host = fresh(((0x68, MPU6050_REGS),))
    board.safe_mode()  # the BOOTSEL second, fed too
    fw = Firmware(board)
    assert fw.watchdog_started
    run_for(fw, 10)  # idle, waiting for START, far past the 2 s timeout
    assert WDT.expired == 0
    assert WDT.timeout_us == WATCHDOG_TIMEOUT_MS * 1000
    st = [m for m in decode(host) if m.type == 3]
    host.inbox.extend(pack(0x86, 2))  # GET_STATUS
    run_for(fw, 0.01)
    st = [m for m in decode(host) if m.type == 3]
    assert st and st[0].flags & STATUS_WATCHDOG


def test_without_the_feed_that_watchdog_would_have_reset_the_board():
    # the model is not toothless: the same soft reset, nobody feeding
    WDT.enabled = True
    WDT.expired = 0
    WDT.fed_at = time.ticks_us()
    time.sleep_ms(2500)
    assert WDT.expired == 1


def test_handing_the_port_to_the_repl_stops_the_watchdog():
    board, _ = fresh()
    board.watchdog_start(2000)
    assert board.watchdog_running()
    board.release_console()
    assert not board.watchdog_running()
    WDT.expired = 0
    time.sleep_ms(5000)
    assert WDT.expired == 0
