# Runs the instrumented start-up (module startup_main: main.py and everything it imports, see
# tests/test_firmware_startup.py) once undisturbed, then once per tick with the pending
# KeyboardInterrupt raised at that tick. Before each run it writes a marker "\x00#k#\x00" to the
# USB console (stdout) so the test can check that each run answered GET_INFO; the results go
# to stderr as "k result" lines, then "N <ticks to the first poll>".
import sys

import startup_probe as P


def run(k):
    P.reset(k)
    for name in list(sys.modules):
        if name.startswith("dowel_") or name == "startup_main":
            del sys.modules[name]
    sys.stdout.buffer.write(("\x00#%d#\x00" % k).encode())
    try:
        import startup_main  # noqa: F401
    except P.Stop:
        if P.state["armed_ticks"]:
            return "armed"  # a statement ran with Ctrl-C still armed
        if 0 < k <= P.state["count"] and not P.state["raised"]:
            return "not-raised"
        return "ok"
    except BaseException as e:  # what would have left the board at the REPL
        return "escaped-" + type(e).__name__
    return "returned"  # main() ended: safe mode or a break-in, the firmware is not running


def main():
    first = run(-1)
    n = P.state["first_poll"]
    sys.stderr.write("0 %s\n" % first)
    last = n + int(sys.argv[1]) if len(sys.argv) > 1 else n
    for k in range(1, last + 1):
        sys.stderr.write("%d %s\n" % (k, run(k)))
    sys.stderr.write("N %d\n" % n)


main()
