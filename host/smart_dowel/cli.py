"""The `dowel` command line: argument parsing and dispatch only.

Each command lives in its own module and is imported when used, so `dowel ports` does not
load Textual and `dowel analyze` does not load pyserial.
"""

import argparse
import importlib
import os
import sys

from .errors import DowelError
from .sim.scenarios import SCENARIOS


# command -> "module:function"; each function takes the parsed args and returns an exit code
COMMANDS = {
    "demo": "smart_dowel.tui.launch:run_demo",
    "ui": "smart_dowel.tui.launch:run_ui",
    "simulate": "smart_dowel.sim.cli:run",
    "record": "smart_dowel.store.record:run",
    "analyze": "smart_dowel.analyze:run",
    "sessions": "smart_dowel.store.cli:run",
    "report": "smart_dowel.report:run",
    "flash": "smart_dowel.flash:run",
    "ports": "smart_dowel.link.ports:run",
}


def build_parser():
    p = argparse.ArgumentParser(
        prog="dowel",
        description="smart-dowel: live hip-hinge feedback from an instrumented dowel.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    d = sub.add_parser("demo", help="the clinic screen on the built-in simulated dowel")
    d.add_argument("--scenario", choices=SCENARIOS, default="mixed")
    d.add_argument("--seed", type=int, default=None)
    d.add_argument("--patient", default=None)

    u = sub.add_parser("ui", help="the clinic screen; auto-detects a dowel without --port")
    u.add_argument("--port", default=None, help="serial port of the dowel, e.g. /dev/ttyACM0")
    u.add_argument("--simulate", action="store_true", help="use the simulated dowel")
    u.add_argument("--scenario", choices=SCENARIOS, default="mixed")
    u.add_argument("--seed", type=int, default=None)
    u.add_argument("--patient", default=None)
    u.add_argument("--replay", type=int, default=None, metavar="SESSION_ID",
                   help="play a stored session through the screen")
    u.add_argument("--speed", type=float, default=1.0, help="replay speed (1 = real time)")

    s = sub.add_parser("simulate", help="run the simulated dowel on a virtual serial port")
    s.add_argument("--scenario", choices=SCENARIOS, default="good")
    s.add_argument("--reps", type=int, default=None, help="reps in the scenario")
    s.add_argument("--seed", type=int, default=None)
    s.add_argument("--rate", type=int, default=100, help="sample rate in Hz")
    s.add_argument("--runtime", choices=("cpython", "micropython"), default="cpython")
    s.add_argument("--truth", default=None, metavar="FILE", help="write ground truth JSON")
    s.add_argument("--speed", type=float, default=1.0, help="time scale (2 = twice real time)")
    s.add_argument("--autostart", action="store_true",
                   help="stream from power-up instead of waiting for a start command")

    r = sub.add_parser("record", help="headless capture of a dowel's stream")
    r.add_argument("--port", required=True)
    r.add_argument("--patient", default=None)
    r.add_argument("--out", default=None, metavar="FILE", help="also write a recording file")
    r.add_argument("--force", action="store_true", help="replace an existing --out file")
    r.add_argument("--duration", type=float, default=None, metavar="S")

    a = sub.add_parser("analyze", help="count reps and faults in a recording, CSV or session")
    a.add_argument("file", metavar="FILE", help="a recording, a CSV file, or session:ID")
    a.add_argument("--json", action="store_true")

    ss = sub.add_parser("sessions", help="session history")
    ssub = ss.add_subparsers(dest="sessions_command", metavar="ACTION", required=True)
    sl = ssub.add_parser("list", help="list sessions")
    sl.add_argument("--json", action="store_true")
    sl.add_argument("--patient", default=None)
    sh = ssub.add_parser("show", help="show one session")
    sh.add_argument("id", type=int)
    se = ssub.add_parser("export", help="export one session")
    se.add_argument("id", type=int)
    se.add_argument("--format", choices=("csv", "json"), required=True)
    se.add_argument("--out", default=None, metavar="FILE")
    se.add_argument("--force", action="store_true", help="replace an existing --out file")

    rp = sub.add_parser("report", help="an HTML report of a session")
    rp.add_argument("id", type=int)
    rp.add_argument("--out", required=True, metavar="FILE.html")
    rp.add_argument("--force", action="store_true", help="replace an existing --out file")

    f = sub.add_parser("flash", help="compile the firmware and install it on the board")
    f.add_argument("--port", default=None)

    sub.add_parser("ports", help="list serial ports, marking dowels")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    target = COMMANDS[args.command]
    module_name, func_name = target.split(":")
    try:
        func = getattr(importlib.import_module(module_name), func_name)
        code = func(args)
    except DowelError as e:
        print("dowel %s: %s: %s" % (args.command, e.title, e), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader of our output went away (e.g. `dowel analyze F --json | head`)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
