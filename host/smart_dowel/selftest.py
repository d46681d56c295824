"""`dowel selftest [--port PORT]`: the first thing to run on a newly built dowel.

Checks, each with one PASS or FAIL line: the handshake (firmware and protocol version); every
rate from 100 Hz up to the fastest the protocol allows, with the firmware's own busy time per
slot and its overruns; that a rate above that is refused; the IMU present and its tilt
responding; each pad responding when pressed (it asks for the head, mid-back and tailbone in
turn). Exit status 0 when every check passed, 1 otherwise, 2 when no dowel could be reached.
"""

import math
import queue
import sys
import time

import dowel_protocol as P

from .link import SerialLink
from .link.types import CommandRejected, CommandTimeout

RATES_HZ = tuple(r for r in (100, 200, 500) if r <= P.RATE_MAX_HZ)
BUSY_LIMIT = 0.8  # of a slot: above this a rate is too close to what the board can do
RATE_TOLERANCE = 0.03  # samples received vs the rate, over the measuring window
RATE_SETTLE_S = 1.2  # after SET_RATE: the first STATUS covering a whole second at the new rate
RATE_MEASURE_S = 2.2
TILT_DEG = 20.0  # the accelerometer's direction must move this far
PAD_RISE_COUNTS = 4000  # ADC counts (u16) above the level before the prompt
PROMPT_TIMEOUT_S = 15.0
PADS = (("head", 0), ("mid-back", 1), ("tailbone", 2))


class _Collector:
    """Messages from the link's reader thread, consumed here in order."""

    def __init__(self):
        self.q = queue.Queue()

    def on_batch(self, batch):
        self.q.put(batch)

    def drain(self, seconds, until=None):
        """Messages over the next `seconds` (or until until(msg) is true); returns the list."""
        end = time.monotonic() + seconds
        out = []
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return out
            try:
                batch = self.q.get(timeout=min(left, 0.1))
            except queue.Empty:
                continue
            for m in batch.messages:
                out.append(m)
                if until is not None and until(m):
                    return out


class SelfTest:
    """The checks, against one dowel; report(line) prints, prompt(what) asks the person."""

    def __init__(self, port, report=print, prompt=None, prompt_timeout_s=PROMPT_TIMEOUT_S):
        self.port = port
        self.report = report
        self.prompt = prompt or report
        self.prompt_timeout_s = prompt_timeout_s
        self.results = []  # (name, passed)
        self._c = _Collector()
        self.link = None

    def _line(self, name, passed, detail):
        self.results.append((name, passed))
        self.report("%s %s: %s" % ("PASS" if passed else "FAIL", name, detail))

    def run(self):
        self.link = SerialLink(self.port, on_batch=self._c.on_batch)
        info = self.link.connect(stream=False)
        try:
            self._handshake(info)
            for rate in RATES_HZ:
                self._rate(rate)
            self._refused_rate()
            self.link.set_rate(100)
            self._imu(info)
            for name, ch in PADS:
                self._pad(name, ch)
        finally:
            self.link.close()
        return all(p for _n, p in self.results)

    # ----------------------------------------------------------------------------- checks

    def _handshake(self, info):
        major, minor = (int(x) for x in info.protocol_version.split("."))
        ok = major == P.PROTOCOL_MAJOR and minor >= 1
        self.proto_minor = minor
        detail = "firmware %s, protocol %s, board %s, IMU %s" % (
            info.fw_version, info.protocol_version, info.board_id, info.imu_name)
        if not ok:
            detail += " (this host needs protocol %d.1 or newer for the busy time: reflash " \
                      "with `dowel flash`)" % P.PROTOCOL_MAJOR
        self._line("handshake", ok, detail)

    def _rate(self, rate):
        name = "rate %d Hz" % rate
        try:
            self.link.set_rate(rate)
            self.link.start()
        except (CommandRejected, CommandTimeout) as e:
            self._line(name, False, str(e))
            return
        self._c.drain(RATE_SETTLE_S)
        msgs = self._c.drain(RATE_MEASURE_S)
        self.link.stop()
        ok, detail = rate_verdict(rate, msgs, RATE_MEASURE_S)
        self._line(name, ok, detail)

    def _refused_rate(self):
        rate = P.RATE_MAX_HZ + 100
        name = "rate %d Hz refused" % rate
        try:
            self.link.set_rate(rate)
        except CommandRejected as e:
            ok = e.code == P.ERR_OUT_OF_RANGE
            self._line(name, ok, "NACK %s, as it should" % e.error if ok else str(e))
            return
        except CommandTimeout as e:
            self._line(name, False, str(e))
            return
        self._line(name, False, "the dowel accepted %d Hz, faster than it can hold" % rate)

    def _imu(self, info):
        present = bool(info.sensors & P.SENSOR_IMU)
        self.link.start()
        msgs = self._c.drain(0.5)
        samples = [m for m in msgs if m.type == P.SAMPLE]
        missing = [m for m in samples if m.flags & P.FLAG_IMU_MISSING]
        if not present or not samples or missing:
            self.link.stop()
            self._line("IMU present", False,
                       "no IMU answers (INFO: %s); check its wiring (hardware_docs/wiring.md)"
                       % info.imu_name)
            self._line("IMU tilt", False, "no IMU to tilt")
            return
        self._line("IMU present", True, "%s, %d samples with IMU readings"
                   % (info.imu_name, len(samples)))
        ref = _direction(samples[-1])
        self.prompt("Tilt the dowel forward by about 45 degrees, then back.")
        moved = [0.0]

        def tilted(m):
            if m.type != P.SAMPLE or m.flags & (P.FLAG_IMU_MISSING | P.FLAG_IMU_STALE):
                return False
            moved[0] = max(moved[0], _angle(ref, _direction(m)))
            return moved[0] >= TILT_DEG

        self._c.drain(self.prompt_timeout_s, until=tilted)
        self.link.stop()
        ok = moved[0] >= TILT_DEG
        self._line("IMU tilt", ok, "the accelerometer turned %.0f degrees%s"
                   % (moved[0], "" if ok else " (at least %.0f needed)" % TILT_DEG))

    def _pad(self, name, ch):
        self.link.start()
        before = [m for m in self._c.drain(0.5) if m.type == P.SAMPLE]
        if not before:
            self.link.stop()
            self._line("pad %s" % name, False, "no samples")
            return
        level = sorted(m.values[1 + ch] for m in before)[len(before) // 2]
        self.prompt("Press the %s pad firmly with a thumb, then let go." % name)
        peak = [level]

        def pressed(m):
            if m.type != P.SAMPLE:
                return False
            peak[0] = max(peak[0], m.values[1 + ch])
            return peak[0] >= level + PAD_RISE_COUNTS

        self._c.drain(self.prompt_timeout_s, until=pressed)
        self.link.stop()
        ok = peak[0] >= level + PAD_RISE_COUNTS
        self._line("pad %s" % name, ok, "reading rose from %d to %d counts%s"
                   % (level, peak[0], "" if ok else " (no press seen: check its wiring)"))


def rate_verdict(rate, msgs, window_s):
    """(passed, detail) of a rate from the messages of window_s seconds of streaming at it."""
    samples = [m for m in msgs if m.type == P.SAMPLE]
    status = [m for m in msgs if m.type == P.STATUS and m.rate_hz == rate]
    slot_us = 1e6 / rate
    if not status:
        return False, "no STATUS from the dowel in %.1f s" % window_s
    got_hz = len(samples) / window_s
    overruns = max((status[-1].overruns - status[0].overruns) % (1 << 30),
                   sum(1 for m in samples if m.flags & P.FLAG_LATE))
    busy_mean = status[-1].busy_mean_us
    problems = []
    if busy_mean is None:
        busy = "busy time not reported"
        problems.append("the firmware does not report its busy time (protocol 1.0)")
    else:
        busy_max = max(m.busy_max_us for m in status)
        busy = "busy %d us mean, %d us max of a %d us slot (%.0f%% at most)" % (
            busy_mean, busy_max, slot_us, 100 * busy_max / slot_us)
        if busy_max > BUSY_LIMIT * slot_us:
            problems.append("a slot was %.0f%% busy (limit %.0f%%)"
                            % (100 * busy_max / slot_us, 100 * BUSY_LIMIT))
    if overruns:
        problems.append("%d overruns" % overruns)
    if abs(got_hz - rate) > RATE_TOLERANCE * rate:
        problems.append("%.0f samples/s arrived" % got_hz)
    detail = "%s; %d overruns; %.0f samples/s" % (busy, overruns, got_hz)
    if problems:
        detail += " -- " + "; ".join(problems)
    return not problems, detail


def _direction(m):
    return (m.ax_mg, m.ay_mg, m.az_mg)


def _angle(a, b):
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(x * x for x in b))
    if not na or not nb:
        return 0.0
    c = sum(x * y for x, y in zip(a, b)) / (na * nb)
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


def run(args, out=None):
    out = out or sys.stdout

    def say(line):
        print(line, file=out, flush=True)

    test = SelfTest(args.port, report=say)
    ok = test.run()  # PortError (no dowel, port busy): one line on stderr, exit 2, by the CLI
    passed = sum(1 for _n, p in test.results if p)
    say("selftest: %d of %d checks passed%s" % (
        passed, len(test.results), "" if ok else "; see the FAIL lines above and "
        "hardware_docs/flashing.md (troubleshooting)"))
    return 0 if ok else 1
