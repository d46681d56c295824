"""`dowel simulate`: the simulated dowel on a virtual serial port until its scenario ends.

The first line of stdout is `PORT <path>`; --truth is written before streaming can start.
"""

import signal
import sys
import threading

from ..private import check_target
from .server import SimulatedDowel

LINGER_S = 1.0  # the port stays open this long after the scenario, for the last bytes


def check_args(args):
    """Refuse what cannot work before the simulator starts (the parser has checked the
    numbers): a --truth that is a directory, a device, a symlink or in a missing directory.
    An older truth file is replaced."""
    if args.truth is not None:
        check_target(args.truth, force=True)


def run(args):
    check_args(args)
    sim = SimulatedDowel(
        scenario=args.scenario, reps=args.reps, seed=args.seed, rate_hz=args.rate,
        runtime=args.runtime, speed=args.speed, autostart=args.autostart,
    )
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        sim.start(truth_path=args.truth)
        print("PORT %s" % sim.port, flush=True)
        print("simulated dowel: scenario %s, seed %d, %d reps, %s s, %d Hz, %s runtime%s"
              % (sim.scenario, sim.body.seed, len(sim.truth["reps"]), sim.body.duration_s,
                 sim.rate_hz, sim.runtime,
                 "" if args.autostart else "; waiting for a START command"),
              file=sys.stderr, flush=True)
        while not stop.is_set() and not sim.finished:
            stop.wait(0.1)
        if not stop.is_set():
            sim.wait()  # raises what ended the firmware, if it failed
            stop.wait(LINGER_S)
    finally:
        try:
            sim.stop()
        finally:
            for s, h in old.items():
                signal.signal(s, h)
    return 0
