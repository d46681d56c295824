"""Issue 14 (4): every integer the sampling path computes, stores or packs fits a 31-bit small
int, as on the RP2040 (anything from 2**30 up, or below -2**30, is a heap-allocated big int
there, which the 64-bit unix port and CPython never show).

The firmware, the protocol code it runs and the fake board are rewritten (ast) so that every
intermediate result, every value loaded and every value stored passes a range check, then run
on CPython at 10, 100, 200 and 500 Hz (and 1000 Hz, above what SET_RATE accepts, should the
limit ever rise) across a wrap of the 2**30 us clock, with every counter started just below its
own wrap, a stalled loop, a host that stops reading and an IMU that fails and comes back.
"""

import ast
import copy
import subprocess
import sys

from conftest import MP_DIR, REPO

GUARD = '''
LIMIT_LO = -0x40000000
LIMIT_HI = 0x3FFFFFFF
ON = [False]


class Int31Error(BaseException):  # not an Exception: Firmware.poll must not swallow it
    pass


def _chk(v):
    if ON[0] and type(v) is int and not LIMIT_LO <= v <= LIMIT_HI:
        raise Int31Error(v)
    return v
'''


class _Wrap(ast.NodeTransformer):
    def _chk(self, node):
        return ast.copy_location(ast.Call(ast.Name("_chk", ast.Load()), [node], []), node)

    def visit_BinOp(self, node):
        self.generic_visit(node)
        return self._chk(node)

    visit_UnaryOp = visit_BinOp

    def visit_Call(self, node):
        self.generic_visit(node)
        return self._chk(node)

    def visit_Name(self, node):
        return self._chk(node) if isinstance(node.ctx, ast.Load) else node

    def visit_Attribute(self, node):
        self.generic_visit(node)
        return self._chk(node) if isinstance(node.ctx, ast.Load) else node

    visit_Subscript = visit_Attribute

    def visit_AugAssign(self, node):
        load = copy.deepcopy(node.target)
        for n in ast.walk(load):
            if hasattr(n, "ctx"):
                n.ctx = ast.Load()
        value = ast.BinOp(load, node.op, node.value)
        new = ast.Assign([node.target], value)
        ast.copy_location(new, node)
        ast.fix_missing_locations(new)
        self.generic_visit(new)
        return new


def guarded(source):
    tree = ast.parse(source)
    tree = _Wrap().visit(tree)
    tree.body.insert(0, ast.parse("from int31_guard import _chk").body[0])
    return ast.unparse(ast.fix_missing_locations(tree))


def build(tmp_path):
    (tmp_path / "int31_guard.py").write_text(GUARD)
    for folder, package in (("protocol/dowel_protocol", "dowel_protocol"),
                            ("device/dowel_device", "dowel_device")):
        (tmp_path / package).mkdir()
        for src in (REPO / folder).glob("*.py"):
            if src.name in ("native.py", "board.py", "usbserial.py"):
                continue  # viper (machine words); the real board; not on the fake's path
            (tmp_path / package / src.name).write_text(guarded(src.read_text()))
    (tmp_path / "fakeboard.py").write_text(guarded((MP_DIR / "fakeboard.py").read_text()))


SCENARIO = r'''
import sys
import int31_guard as G
from dowel_protocol.messages import CMD_SET_RATE, CMD_START, pack
from dowel_device.firmware import Firmware
from fakeboard import FakeBoard

MASK = 0x3FFFFFFF
rate = int(sys.argv[1])
board = FakeBoard(start_us=MASK - 4500000, capture=False)  # wraps 2-2.5 s into the run
board.fsr = [[65535], [65535, 0], [40000]]
board.imu_values = [32767, -32768, 32767, -32768, 32767, -32768]
fw = Firmware(board)
board.host_send(pack(CMD_SET_RATE, 1, (min(rate, 500),)) + pack(CMD_START, 2))
while fw.samples < 2 * min(rate, 500) + 5:
    fw.poll()
if rate > 500:
    fw._set_rate(rate)  # beyond SET_RATE's limit, for the arithmetic only
# every counter just below its own wrap
fw.samples = MASK - 3 * rate
fw.overruns = MASK - 1
fw.drops = MASK - 3
fw.imu_errors = MASK
fw.loop_errors = MASK - 1
fw._up_ms = MASK - 2500
if sys.argv[2:] == ["control"]:
    fw.samples = MASK + 1  # what the guard must catch
G.ON[0] = True
t_wrap = 0
start = board.now
period = 1000000 // rate
def run_us(us):
    global t_wrap
    end = board.ticks_add(board.now, us)
    while board.ticks_diff(end, board.now) > 0:
        before = board.now
        fw.poll()
        if board.now < before:
            t_wrap += 1
run_us(1000000)
board.stall_us = 3 * period + 17  # a late loop: overruns
run_us(1000000)
board.refuse = 5 * rate // 10 + 3  # the host stops reading: drops
run_us(1000000)
board.imu_fail = True  # the IMU goes: an IMU error, then re-probes
run_us(1500000)
board.imu_fail = False
run_us(1500000)
G.ON[0] = False
assert t_wrap == 1, t_wrap
assert fw.loop_errors == MASK - 1, fw.last_exception
assert fw.samples < 5 * rate + 100  # wrapped through 0
assert fw.overruns < 10 and fw.drops < rate and fw.imu_errors < 10, (fw.overruns, fw.drops, fw.imu_errors)  # wrapped too
print("ok", rate, fw.samples, fw.overruns, fw.drops, fw.imu_errors)
'''


def _run(tmp_path, *args):
    build(tmp_path)
    return subprocess.run([sys.executable, "-c", SCENARIO, *args], cwd=str(tmp_path),
                          env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=600)


def _check(tmp_path, rate):
    proc = _run(tmp_path, str(rate))
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert proc.stdout.startswith("ok %d" % rate)


def test_31_bit_integers_at_10_hz_across_the_wraps(tmp_path):
    _check(tmp_path, 10)


def test_31_bit_integers_at_100_hz_across_the_wraps(tmp_path):
    _check(tmp_path, 100)


def test_31_bit_integers_at_500_hz_across_the_wraps(tmp_path):
    _check(tmp_path, 500)


def test_31_bit_integers_at_1000_hz_across_the_wraps(tmp_path):
    _check(tmp_path, 1000)


def test_the_guard_catches_a_value_that_would_be_a_big_int(tmp_path):
    proc = _run(tmp_path, "100", "control")
    assert proc.returncode != 0 and "Int31Error: 1073741824" in proc.stderr, proc.stderr[-2000:]
