"""Issue 14 (1): a 0x03 at any point of the firmware's start-up is harmless.

MicroPython arms Ctrl-C before it runs main.py, and a host sends GET_INFO (0x03 inside) as soon
as it opens the port. main.py, everything it imports and the set-up of the board and firmware
are instrumented here (a tick before every statement, Ctrl-C switches recorded) and run under
the real MicroPython on the rp2 stand-ins (tests/mp/rp2env), with the pending KeyboardInterrupt
of such a 0x03 raised at each tick in turn. Every run must end with the firmware polling and
answering GET_INFO on the USB console, and no statement may run with Ctrl-C armed.
"""

import ast
import subprocess

from conftest import MP_DIR, REPO, micropython_binary
from dowel_protocol import messages as P
from dowel_protocol.decoder import StreamDecoder

from smart_dowel.flash import find_mpy_cross

MODULES = [("device/dowel_device", "dowel_device"), ("protocol/dowel_protocol", "dowel_protocol")]
EXTRA_TICKS = 40  # raise also this many ticks into the polling


class _Instrument(ast.NodeTransformer):
    def __init__(self, skip_first=0):
        self.skip_first = skip_first

    def _body(self, stmts, top=False):
        out = []
        for i, st in enumerate(stmts):
            self.visit(st)
            simple = not isinstance(st, (ast.FunctionDef, ast.ClassDef, ast.If, ast.For,
                                         ast.While, ast.Try, ast.With))
            if simple and not (top and i < self.skip_first):
                out.append(ast.Expr(ast.Call(ast.Name("_tick", ast.Load()), [], [])))
            out.append(st)
        return out

    def generic_visit(self, node):
        for field in ("body", "orelse", "finalbody"):
            v = getattr(node, field, None)
            if isinstance(v, list) and v and isinstance(v[0], ast.stmt):
                setattr(node, field, self._body(v))
        if isinstance(node, ast.Try):
            for h in node.handlers:
                h.body = self._body(h.body)
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.stmt, ast.excepthandler)):
                self.visit(child)  # expressions, changed in place (kbd_intr calls)
        return node

    def visit_Call(self, node):
        for child in ast.iter_child_nodes(node):
            self.visit(child)
        f = node.func
        if (isinstance(f, ast.Attribute) and f.attr == "kbd_intr"
                and isinstance(f.value, ast.Name) and f.value.id == "micropython"):
            node.func = ast.Name("_kbd", ast.Load())
        return node

    def visit_FunctionDef(self, node):
        node.body = self._body(node.body)
        if node.name == "poll":
            node.body.insert(0, ast.Expr(ast.Call(ast.Name("_poll_mark", ast.Load()), [], [])))
        return node


def instrument(source, skip_first=0):
    tree = ast.parse(source)
    t = _Instrument(skip_first)
    tree.body = t._body(tree.body, top=True)
    tree.body.insert(0, ast.parse(
        "from startup_probe import tick as _tick, kbd as _kbd, poll_mark as _poll_mark").body[0])
    return ast.unparse(ast.fix_missing_locations(tree))


def build(tmp_path, main_source):
    mpy_cross = find_mpy_cross()
    out = tmp_path / "lib"
    for folder, package in MODULES:
        (out / package).mkdir(parents=True)
        for src in sorted((REPO / folder).glob("*.py")):
            text = src.read_text()
            arch = []
            if src.name == "native.py":
                arch = ["-march=x64"]  # viper code: the unix port's native code, not ticked
            else:
                text = instrument(text)
            dst = out / package / src.name
            dst.write_text(text)
            subprocess.run(mpy_cross + arch + ["-o", str(dst.with_suffix(".mpy")), str(dst)],
                           check=True, capture_output=True)
            dst.unlink()
    main = out / "startup_main.py"
    main.write_text(instrument(main_source, skip_first=2))
    return out


def run_startup(tmp_path, main_source):
    lib = build(tmp_path, main_source)
    stdin = tmp_path / "host.bin"
    stdin.write_bytes(P.pack(P.CMD_GET_INFO, 3) * 60000)  # a host that keeps asking
    env = {"MICROPYPATH": ":".join([str(lib), str(MP_DIR / "rp2env"), str(MP_DIR)]),
           "PATH": "/usr/bin:/bin"}
    with open(stdin, "rb") as fin:
        proc = subprocess.run([micropython_binary(), str(MP_DIR / "startup_harness.py"),
                               str(EXTRA_TICKS)], stdin=fin, capture_output=True, env=env,
                              timeout=900)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    lines = proc.stderr.decode().splitlines()
    n = int(lines[-1].split()[1])
    results = dict((int(k), r) for k, r in (ln.split() for ln in lines[:-1]))
    # each run's console output, between the markers
    infos = {}
    parts = proc.stdout.split(b"\x00#")
    for part in parts[1:]:
        k, _, rest = part.partition(b"#\x00")
        msgs = StreamDecoder().feed(rest)
        infos[int(k)] = sum(1 for m in msgs if m.type == P.INFO)
    return n, results, infos


def test_a_ctrl_c_at_any_point_of_start_up_is_harmless(tmp_path):
    n, results, infos = run_startup(tmp_path, (REPO / "device" / "main.py").read_text())
    print("ticks to the first poll:", n)
    assert n >= 300, n  # the imports and set-up really were stepped through
    assert results[0] == "ok" and infos[-1] >= 1  # the undisturbed run (marker -1)
    bad = dict((k, r) for k, r in results.items() if r != "ok")
    assert not bad, sorted(bad.items())[:20]
    silent = [k for k in results if k and infos.get(k, 0) < 1]
    assert not silent, silent[:20]  # every run ended with GET_INFO answered
    assert len(results) == n + EXTRA_TICKS + 1


# The start-up before issue 14: imports first, Ctrl-C off only at the end of Board.__init__.
OLD_MAIN = '''
from dowel_device.board import Board
from dowel_device.firmware import Firmware
import micropython


def main():
    board = Board()
    if board.safe_mode():
        board.release_console()
        return
    try:
        Firmware(board).run()
    except KeyboardInterrupt:
        board.release_console()


main()
'''


def test_the_old_start_up_fails_this_test(tmp_path):
    # not toothless: with the imports ahead of kbd_intr(-1), statements run with Ctrl-C armed
    # and the interrupt escapes main.py
    _n, results, _infos = run_startup(tmp_path, "import micropython\n_kbd = None\n" + OLD_MAIN)
    assert any(r != "ok" for r in results.values())
