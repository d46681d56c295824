"""The `dowel` command line: argument parsing and dispatch only.

Each command lives in its own module and is imported when used, so `dowel ports` does not
load Textual and `dowel analyze` does not load pyserial.
"""

import argparse
import errno
import importlib
import math
import os
import sys

from .errors import DowelError
from .sim.scenarios import SCENARIOS


MAX_ID = 2 ** 63 - 1  # SQLite's largest integer: a larger id cannot name a session or patient
MAX_REPS = 10_000  # a simulated scenario is built up front: this bounds it to a few MB
MAX_SPEED = 1000.0


class Parser(argparse.ArgumentParser):
    """argparse with its errors on one line: `dowel analyze: error: ... (dowel analyze -h)`."""

    def error(self, message):
        self.exit(2, "%s: error: %s (see %s -h)\n" % (self.prog, message, self.prog))


def _int_in(lo, hi, what):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError("%r is not a whole number" % text[:40]) from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError("%s must be from %d to %d, got %s"
                                             % (what, lo, hi, text[:40]))
        return value
    parse.__name__ = what
    return parse


def _float_in(lo, hi, what, lo_open=True):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError("%r is not a number" % text[:40]) from None
        if not math.isfinite(value) or value < lo or (lo_open and value == lo) or value > hi:
            raise argparse.ArgumentTypeError("%s must be a number %s %g and at most %g, got %s"
                                             % (what, "above" if lo_open else "from", lo, hi,
                                                text[:40]))
        return value
    parse.__name__ = what
    return parse


_session_id = _int_in(1, MAX_ID, "a session number")
_patient_id = _int_in(1, MAX_ID, "a patient number")
_speed = _float_in(0.0, MAX_SPEED, "the speed")
_seconds = _float_in(0.0, 1e7, "a time in seconds")
_reps = _int_in(0, MAX_REPS, "the number of reps")
_seed = _int_in(0, 2 ** 64 - 1, "the seed")
_rate = _int_in(1, 2000, "the sample rate in Hz")


def _out_path(text):
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty file name (give a file, or a directory to "
                                         "write into)")
    return text


_out_path.__name__ = "file name"


def _units(text):
    from .csvfile import parse_units

    try:
        return parse_units(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


_units.__name__ = "units"


def _database_url(text):
    """A store URL from the command line: postgresql://... or sqlite:///PATH, with no password
    in it (other users see the command line in `ps`)."""
    from .errors import StoreError
    from .store import db, postgres

    try:
        kind, _target = db.parse_database_url(text)
    except StoreError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if kind == "postgresql" and postgres.has_password(text):
        raise argparse.ArgumentTypeError(
            "a password does not belong on the command line, where other users can see it: "
            "put it in ~/.pgpass (chmod 600) or a service file and leave it out of the URL")
    return text


_database_url.__name__ = "database URL"


def _add_database(parser, dest="database", flag="--database", help=None):
    parser.add_argument(
        flag, dest=dest, type=_database_url, default=None, metavar="URL",
        help=help or "the session store: postgresql://USER@HOST[:PORT]/DB for the clinic's "
                     "server, sqlite:///PATH for a file (default: $DOWEL_DATABASE_URL, else the "
                     "data directory's SQLite file)")


def _add_screen_options(parser):
    """--feedback, --sound and --voice of `dowel demo` and `dowel ui`."""
    from .feedback import DESCRIPTIONS, EVERY, SCHEDULES

    parser.add_argument(
        "--feedback", choices=SCHEDULES, default=EVERY, metavar="SCHEDULE",
        help="which reps of a set get live feedback (f cycles it in the screen): "
             + "; ".join("%s: %s" % (k, DESCRIPTIONS[k]) for k in SCHEDULES)
             + " (default %s)" % EVERY)
    parser.add_argument(
        "--sound", choices=("on", "off"), default=None,
        help="tones when a contact is lost and back, chimes for a good rep and a finished "
             "set (m toggles it); default: on where there is an audio output")
    parser.add_argument(
        "--voice", action="store_true",
        help="also speak the screen's cues (needs espeak-ng and sound on)")


def _add_patient(parser):
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--patient", default=None, metavar="NAME",
                     help="the patient's name (visible to other users in `ps`: prefer "
                          "--patient-id or choosing in the screen)")
    who.add_argument("--patient-id", type=_patient_id, default=None, metavar="N",
                     help="the patient by number (`dowel sessions list --json` shows them)")


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
    "selftest": "smart_dowel.selftest:run",
    "conformance": "smart_dowel.conformance:run",
    "db": "smart_dowel.store.admin:run",
}


def build_parser():
    p = Parser(
        prog="dowel",
        description="smart-dowel: live hip-hinge feedback from an instrumented dowel.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    d = sub.add_parser("demo", help="the clinic screen on the built-in simulated dowel")
    d.add_argument("--scenario", choices=SCENARIOS, default="mixed")
    d.add_argument("--seed", type=_seed, default=None)
    _add_patient(d)
    _add_screen_options(d)
    _add_database(d)

    u = sub.add_parser("ui", help="the clinic screen; auto-detects a dowel without --port")
    u.add_argument("--port", default=None, help="serial port of the dowel, e.g. /dev/ttyACM0")
    u.add_argument("--simulate", action="store_true", help="use the simulated dowel")
    u.add_argument("--scenario", choices=SCENARIOS, default="mixed")
    u.add_argument("--seed", type=_seed, default=None)
    _add_patient(u)
    u.add_argument("--replay", type=_session_id, default=None, metavar="SESSION_ID",
                   help="play a stored session through the screen")
    u.add_argument("--speed", type=_speed, default=1.0, help="replay speed (1 = real time)")
    _add_screen_options(u)
    _add_database(u)

    s = sub.add_parser("simulate", help="run the simulated dowel on a virtual serial port")
    s.add_argument("--scenario", choices=SCENARIOS, default="good")
    s.add_argument("--reps", type=_reps, default=None,
                   help="reps in the scenario (at most %d)" % MAX_REPS)
    s.add_argument("--seed", type=_seed, default=None)
    s.add_argument("--rate", type=_rate, default=100, help="sample rate in Hz")
    s.add_argument("--runtime", choices=("cpython", "micropython"), default="cpython")
    s.add_argument("--truth", type=_out_path, default=None, metavar="FILE",
                   help="write ground truth JSON")
    s.add_argument("--speed", type=_speed, default=1.0, help="time scale (2 = twice real time)")
    s.add_argument("--autostart", action="store_true",
                   help="stream from power-up instead of waiting for a start command")

    r = sub.add_parser("record", help="headless capture of a dowel's stream")
    r.add_argument("--port", required=True)
    _add_patient(r)
    r.add_argument("--out", type=_out_path, default=None, metavar="FILE",
                   help="also write a recording file")
    r.add_argument("--force", action="store_true", help="replace an existing --out file")
    r.add_argument("--duration", type=_seconds, default=None, metavar="S")
    _add_database(r)

    a = sub.add_parser("analyze", help="count reps and faults in a recording, CSV or session")
    a.add_argument("file", metavar="FILE",
                   help="a recording, a CSV file, session:ID, or - for standard input")
    a.add_argument("--json", action="store_true")
    a.add_argument("--units", type=_units, default=None, metavar="UNITS",
                   help="units of a CSV's columns when they are not g, s and deg/s, e.g. "
                        "m/s^2,ms (g|m/s^2|mg, s|ms|us, deg/s|rad/s); detected if not given")
    a.add_argument("--timeout", type=_seconds, default=10.0, metavar="S",
                   help="give up on a pipe or FIFO that sends nothing for S seconds (10)")
    _add_database(a)

    ss = sub.add_parser("sessions", help="session history")
    ssub = ss.add_subparsers(dest="sessions_command", metavar="ACTION", required=True)
    sl = ssub.add_parser("list", help="list sessions")
    sl.add_argument("--json", action="store_true")
    _add_patient(sl)
    _add_database(sl)
    sh = ssub.add_parser("show", help="show one session")
    sh.add_argument("id", type=_session_id)
    _add_database(sh)
    se = ssub.add_parser("export", help="export one session")
    se.add_argument("id", type=_session_id)
    se.add_argument("--format", choices=("csv", "json"), required=True)
    se.add_argument("--out", type=_out_path, default=None, metavar="FILE")
    se.add_argument("--force", action="store_true", help="replace an existing --out file")
    _add_database(se)

    rp = sub.add_parser("report", help="an HTML report of a session")
    rp.add_argument("id", type=_session_id)
    rp.add_argument("--out", type=_out_path, required=True, metavar="FILE.html")
    rp.add_argument("--force", action="store_true", help="replace an existing --out file")
    _add_database(rp)

    f = sub.add_parser("flash", help="compile the firmware and install it on the board")
    f.add_argument("--port", default=None)

    sub.add_parser("ports", help="list serial ports, marking dowels")
    st = sub.add_parser("selftest", help="check a newly built dowel: rates, IMU, each pad")
    st.add_argument("--port", default=None)
    cf = sub.add_parser("conformance",
                        help="check any device against protocol/SPEC.md, rule by rule")
    cf.add_argument("--port", required=True, help="serial port of the device")

    dbp = sub.add_parser("db", help="create or upgrade the session store's schema; copy "
                                    "histories between stores")
    dsub = dbp.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = dsub.add_parser("upgrade", help="create or upgrade the schema (never done implicitly "
                                         "on a server)")
    _add_database(up)
    cp = dsub.add_parser("copy", help="copy every session from one store into another; what "
                                      "is already there is not copied again")
    _add_database(cp, "from_url", "--from", "the store to copy from (postgresql://... or "
                                            "sqlite:///PATH)")
    _add_database(cp, "to_url", "--to", "the store to copy into")
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "db" and args.db_command == "copy" and not (args.from_url and args.to_url):
        parser.error("dowel db copy needs --from URL and --to URL")
    if getattr(args, "database", None):
        # one place for every command: each Store.open() in this process picks it up
        os.environ["DOWEL_DATABASE_URL"] = args.database
    target = COMMANDS[args.command]
    module_name, func_name = target.split(":")
    try:
        func = getattr(importlib.import_module(module_name), func_name)
        code = func(args)
        sys.stdout.flush()  # a full disk shows here, not as a traceback at exit
    except DowelError as e:
        print("dowel %s: %s: %s" % (args.command, e.title, e), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader of our output went away (e.g. `dowel analyze F --json | head`)
        _drop_stdout()
        return 1
    except OSError as e:
        # our own output failed (`dowel sessions list > /dev/full`): say so on one line
        if e.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG, errno.EROFS):
            raise
        print("dowel %s: Output: cannot write the output%s (%s)" % (
            args.command, " to %s" % e.filename if e.filename else "", e.strerror or e),
            file=sys.stderr)
        _drop_stdout()
        return 2
    except Exception as e:  # a bug of ours: one line for the user, the traceback on request
        if os.environ.get("DOWEL_DEBUG"):
            raise
        print("dowel %s: internal error: %s: %s. This is a bug in smart-dowel: please report "
              "it with the command you ran (DOWEL_DEBUG=1 shows where it happened)."
              % (args.command, type(e).__name__, e), file=sys.stderr)
        return 70
    return int(code or 0)


def _drop_stdout():
    """Point stdout at /dev/null, so the flush at exit cannot fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass  # no stdout to redirect: nothing more can fail on it


if __name__ == "__main__":
    sys.exit(main())
