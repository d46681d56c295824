"""`dowel conformance --port PORT`: checks any device against protocol/SPEC.md, rule by rule.

It sends every command and every malformed frame the spec describes (the command vectors of
dowel_protocol.vectors, which vectors.json also holds), checks each reply and every rule it can
observe from outside (sequence numbers, version bytes, layouts, the boot id, the order of ACK
and SAMPLE, RESYNC, the rate and the clock, the STATUS heartbeat, RESET), and prints one PASS
or FAIL line per rule with its SPEC section. Exit status 0 when every rule passed, 1 when one
failed, 2 when the port cannot be used (the CLI prints why).

Each device is checked in its own version (INFO's `protocol`): the command frames are that
version's, and rules that only a newer device must follow (the boot id and busy time of 1.1,
the check of 1.2) are skipped, and said to be, for an older one.
"""

from __future__ import annotations

import queue
import statistics
import sys
import time

import dowel_protocol as P
from dowel_protocol.vectors import command_vectors

from .link import SerialLink
from .link.types import CommandRejected, CommandTimeout, LinkDown

REPLY_S = 1.0  # a device answers a command within this
QUIET_S = 0.3  # how long to watch for frames that must not come
STREAM_S = 3.2  # how long the stream is measured
CLOCK_TOLERANCE = 0.05  # device clock, host clock and rate agree this well (SPEC 9.1)
TEST_RATE_HZ = 200
RESET_BACK_S = 10.0


class _Seen:
    """Every message the link hands over, in order, with its receive time."""

    def __init__(self):
        self.q = queue.Queue()
        self.all = []  # (rx_mono, Message), everything pulled so far
        self._left = []  # pulled from the queue, not yet handed out

    def on_batch(self, batch):
        self.q.put(list(zip(batch.rx_mono, batch.messages)))

    def pull(self, seconds, until=None):
        """Messages arriving over `seconds` (or up to the first for which until(msg)); returns
        [(rx, msg)]. Nothing is skipped: what comes after is kept for the next pull."""
        end = time.monotonic() + seconds
        out = []
        while True:
            while self._left:
                rx, m = self._left.pop(0)
                out.append((rx, m))
                if until is not None and until(m):
                    return out
            left = end - time.monotonic()
            if left <= 0:
                return out
            try:
                items = self.q.get(timeout=min(left, 0.05))
            except queue.Empty:
                continue
            self.all.extend(items)
            self._left.extend(items)

    def drain(self):
        return self.pull(0.05)


def _is_reply(m, seq=None):
    return m.type in (P.ACK, P.NACK) and (seq is None or m.values[1] == seq)


class Conformance:
    """The suite against the device on `port`; report(line) prints each result."""

    def __init__(self, port, report=print):
        self.port = port
        self.report = report
        self.results = []  # (section, rule, passed or None for skipped)
        self.seen = _Seen()
        self.link = None
        self.info = None
        self.v11 = True
        self.version = P.PROTOCOL_VERSION  # the device's, from its INFO

    # -------------------------------------------------------------------- reporting

    def check(self, section, rule, passed, detail=""):
        self.results.append((section, rule, bool(passed)))
        line = "%s  §%-4s %s" % ("PASS" if passed else "FAIL", section, rule)
        if detail and not passed:
            line += ": " + detail
        self.report(line)
        return passed

    def skip(self, section, rule, why):
        self.results.append((section, rule, None))
        self.report("SKIP  §%-4s %s (%s)" % (section, rule, why))

    @property
    def failed(self):
        return [r for r in self.results if r[2] is False]

    # -------------------------------------------------------------------- the suite

    def run(self):
        self.link = SerialLink(self.port, on_batch=self.seen.on_batch)
        self.info = self.link.connect(stream=False, timeout_s=3.0)
        try:
            self.seen.pull(0.2)
            self._hello()
            self._idle()
            self._commands()
            self._rate_commands()
            self._stream()
            self._reset()
            self._every_frame()
        finally:
            try:
                self.link.close()
            except (LinkDown, CommandTimeout, CommandRejected):
                pass  # the device's state at the end is not a rule
        return not self.failed

    def _exchange(self, frame, wait_s=REPLY_S):
        """Send raw bytes; the messages up to the first ACK/NACK (or wait_s), then a moment
        more to catch a second reply that must not come."""
        self.seen.drain()
        self.link.send_raw(frame)
        got = self.seen.pull(wait_s, until=_is_reply)
        got += self.seen.pull(0.15)
        return [m for _rx, m in got]

    def _command(self, cmd_type, values=()):
        """Send a command through the link; (reply Message or None, messages up to it)."""
        self.seen.drain()
        try:
            r = self.link.send(cmd_type, values, wait=True, timeout_s=REPLY_S)
        except CommandTimeout:
            return None, [m for _rx, m in self.seen.pull(0.1)]
        got = [m for _rx, m in self.seen.pull(REPLY_S, until=lambda m: _is_reply(m, r.cmd_seq))]
        reply = next((m for m in got if _is_reply(m, r.cmd_seq)), None)
        return reply, got

    def _hello(self):
        info = self.info
        major, minor = (int(x) for x in info.protocol_version.split("."))
        self.version = (major << 4) | min(minor, 0x0F)
        self.v11 = minor >= 1
        self.report("device on %s: firmware %s, protocol %s, board %s, %d Hz" % (
            self.port, info.fw_version, info.protocol_version, info.board_id, info.rate_hz))
        reply, got = self._command(P.CMD_PING)
        self.check("5.2", "PING is answered by an ACK with its type and seq",
                   reply is not None and reply.type == P.ACK and reply.values[0] == P.CMD_PING,
                   "got %r" % (got,))
        reply, got = self._command(P.CMD_GET_INFO)
        infos = [m for m in got if m.type == P.INFO]
        self.check("5.2", "GET_INFO is answered by INFO, then ACK",
                   len(infos) == 1 and reply is not None and reply.type == P.ACK
                   and got.index(infos[0]) < got.index(reply), "got %r" % (got,))
        if infos:
            m = infos[0]
            self.check("3", "INFO's protocol field is the version byte of its header",
                       m.protocol == m.version, "protocol 0x%02x, header 0x%02x" % (
                           m.protocol, m.version))
            if self.v11:
                self.check("5.1", "INFO carries a boot id", m.boot_id is not None)
            else:
                self.skip("5.1", "INFO carries a boot id", "a 1.0 device")
        s1, got1 = self._command(P.CMD_GET_STATUS)
        st1 = [m for m in got1 if m.type == P.STATUS]
        t1 = time.monotonic()
        time.sleep(0.5)
        s2, got2 = self._command(P.CMD_GET_STATUS)
        st2 = [m for m in got2 if m.type == P.STATUS]
        t2 = time.monotonic()
        ok = len(st1) == 1 and len(st2) == 1 and s1 is not None and s1.type == P.ACK
        self.check("5.2", "GET_STATUS is answered by STATUS, then ACK", ok,
                   "got %r" % (got1,))
        if not ok:
            return
        a, b = st1[0], st2[0]
        du = (b.uptime_ms - a.uptime_ms) % (1 << 30)
        self.check("5.1", "STATUS uptime_ms counts milliseconds",
                   abs(du - (t2 - t1) * 1000) < 250 + 0.05 * (t2 - t1) * 1000,
                   "%d ms in %.0f ms" % (du, (t2 - t1) * 1000))
        if self.v11:
            boot = infos[0].boot_id if infos else None
            self.check("5.1", "STATUS carries the boot id of INFO",
                       a.boot_id is not None and a.boot_id == boot,
                       "STATUS %r, INFO %r" % (a.boot_id, boot))
            self.check("5.1", "STATUS carries the busy time (busy_mean_us <= busy_max_us)",
                       a.busy_mean_us is not None and a.busy_max_us is not None
                       and a.busy_mean_us <= a.busy_max_us,
                       "%r, %r" % (a.busy_mean_us, a.busy_max_us))
        else:
            self.skip("5.1", "STATUS carries the boot id and the busy time", "a 1.0 device")
        self._status_before = b

    def _idle(self):
        got = [m for _rx, m in self.seen.pull(QUIET_S)]
        self.check("1", "an idle device sends nothing unasked",
                   not got, "%d frames, first %r" % (len(got), got[:1]))

    def _commands(self):
        if not P.has_check(self.version):
            self.skip("3", "a command whose check fails is NACKed BAD_FRAME",
                      "a %s device has no check" % self.info.protocol_version)
        for name, section, frame, (kind, ct, cs, err) in command_vectors(self.version):
            got = self._exchange(frame)
            replies = [m for m in got if m.type in (P.ACK, P.NACK)]
            want = P.ACK if kind == "ack" else P.NACK
            ok = len(replies) == 1
            detail = "got %r" % (replies,)
            if ok:
                r = replies[0]
                ok = r.type == want and r.values[0] == ct and r.values[1] == cs
                if ok and want == P.NACK:
                    ok = P.ERROR_NAMES.get(r.values[2]) == err
            what = "ACK" if kind == "ack" else "NACK %s" % err.upper()
            self.check(section, "%s: exactly one %s" % (name.replace("_", " "), what),
                       ok, detail)
            if name == "oversize_junk":
                reply, _ = self._command(P.CMD_PING)
                self.check("8", "after oversize junk the next frame is read normally",
                           reply is not None and reply.type == P.ACK)

    def _rate_commands(self):
        reply, _ = self._command(P.CMD_SET_RATE, (TEST_RATE_HZ,))
        ok = reply is not None and reply.type == P.ACK
        if ok:
            self.link.get_info()
        self.check("5.2", "SET_RATE %d Hz is ACKed and INFO then says %d Hz" % (
            TEST_RATE_HZ, TEST_RATE_HZ), ok and self.link.info.rate_hz == TEST_RATE_HZ,
            "reply %r, INFO %s Hz" % (reply, self.link.info.rate_hz))

    def _stream(self):
        self.seen.drain()
        try:
            self.link.start(timeout_s=REPLY_S)
        except (CommandRejected, CommandTimeout) as e:
            self.check("5.2", "START is ACKed", False, str(e))
            return
        got = self.seen.pull(STREAM_S)
        msgs = [m for _rx, m in got]
        acks = [i for i, m in enumerate(msgs) if m.type == P.ACK and m.values[0] == P.CMD_START]
        samples = [(rx, m) for rx, m in got if m.type == P.SAMPLE]
        first_sample = next((i for i, m in enumerate(msgs) if m.type == P.SAMPLE), None)
        self.check("5.2", "START: the ACK comes before the first SAMPLE",
                   acks and first_sample is not None and acks[0] < first_sample,
                   "ACK at %s, first SAMPLE at %s" % (acks[:1], first_sample))
        if len(samples) < 10:
            self.check("7", "samples stream at the configured rate", False,
                       "%d samples in %.1f s" % (len(samples), STREAM_S))
            return
        self.check("5.1", "the first SAMPLE after START is flagged RESYNC, the others not",
                   samples[0][1].flags & P.FLAG_RESYNC
                   and not any(m.flags & P.FLAG_RESYNC for _rx, m in samples[1:]))
        rx = [r for r, _m in samples]
        t = [m.t_us for _r, m in samples]
        host_s = rx[-1] - rx[0]
        steps = [(b - a) % P.T_US_MODULUS for a, b in zip(t, t[1:])]
        dev_s = sum(steps) / 1e6
        rate = (len(samples) - 1) / host_s if host_s > 0 else 0.0
        self.check("7", "samples come at the configured rate (within 5%)",
                   abs(rate / TEST_RATE_HZ - 1) <= CLOCK_TOLERANCE,
                   "%.1f samples a second at %d Hz" % (rate, TEST_RATE_HZ))
        step = statistics.median(steps)
        self.check("7", "t_us steps by one period between samples",
                   abs(step * TEST_RATE_HZ / 1e6 - 1) <= 0.01,
                   "median step %d us at %d Hz" % (step, TEST_RATE_HZ))
        self.check("9.1", "the device clock agrees with the host's (within 5%)",
                   host_s > 0 and abs(dev_s / host_s - 1) <= CLOCK_TOLERANCE,
                   "%.3f s of device time in %.3f s" % (dev_s, host_s))
        statuses = [(r, m) for r, m in got if m.type == P.STATUS]
        late = sum(1 for _r, m in samples if m.flags & P.FLAG_LATE)
        before = getattr(self, "_status_before", None)
        if statuses and before is not None:
            overruns = (statuses[-1][1].overruns - before.overruns) % (1 << 30)
            late_then = sum(1 for r, m in samples if m.flags & P.FLAG_LATE
                            and r <= statuses[-1][0])
            self.check("7", "every sample flagged LATE is counted in overruns",
                       overruns >= late_then, "%d LATE, overruns up by %d" % (
                           late_then, overruns))
        if late > len(samples) // 100:
            self.report("note: %d of %d samples at %d Hz were LATE" % (
                late, len(samples), TEST_RATE_HZ))
        gaps = [b[0] - a[0] for a, b in zip(statuses, statuses[1:])]
        self.check("5.1", "STATUS comes once a second while streaming",
                   len(statuses) >= 2 and all(0.8 <= g <= 1.2 for g in gaps),
                   "%d STATUS in %.1f s, %s s apart" % (
                       len(statuses), STREAM_S, ", ".join("%.2f" % g for g in gaps)))
        if statuses:
            st = statuses[-1][1]
            self.check("5.1", "STATUS says it is streaming, at the configured rate",
                       st.flags & P.STATUS_STREAMING and st.rate_hz == TEST_RATE_HZ,
                       "flags 0x%02x, %d Hz" % (st.flags, st.rate_hz))
            if before is not None:
                seen_then = sum(1 for r, _m in samples if r <= statuses[-1][0])
                d = (st.samples - before.samples) % (1 << 30)
                self.check("5.1", "STATUS samples counts the samples taken",
                           abs(d - seen_then) <= 2, "up by %d with %d samples sent" % (
                               d, seen_then))
        # START to a streaming device: ACK, no change
        self.seen.drain()
        reply, got2 = self._command(P.CMD_START)
        more = got2 + [m for _rx, m in self.seen.pull(0.3)]
        self.check("5.2", "START while streaming is ACKed and changes nothing (no RESYNC)",
                   reply is not None and reply.type == P.ACK
                   and not any(m.type == P.SAMPLE and m.flags & P.FLAG_RESYNC for m in more))
        # SET_RATE while streaming: RESYNC
        self.link.set_rate(100)
        got3 = [m for _rx, m in self.seen.pull(0.5)]
        s3 = [m for m in got3 if m.type == P.SAMPLE]
        self.check("5.2", "SET_RATE while streaming restarts the schedule: RESYNC",
                   bool(s3) and any(m.flags & P.FLAG_RESYNC for m in s3),
                   "%d samples after it" % len(s3))
        self._sequence_rule("4", "sequence numbers run on by one over every frame, "
                            "nothing lost on a quiet line", [m for _r, m in self.seen.all])
        # STOP: nothing after its ACK
        self.seen.drain()
        try:
            reply = self.link.stop(timeout_s=REPLY_S)
        except (CommandRejected, CommandTimeout) as e:
            self.check("5.2", "STOP is ACKed", False, str(e))
            return
        after = [m for _rx, m in self.seen.pull(1.0)]
        cut = next((i for i, m in enumerate(after) if _is_reply(m, reply.cmd_seq)), None)
        late = [m for m in after[cut + 1:] if m.type == P.SAMPLE] if cut is not None else []
        self.check("5.2", "STOP: no SAMPLE after its ACK", cut is not None and not late,
                   "%d samples after the ACK" % len(late))
        self._samples_not_reset_by_start()

    def _samples_not_reset_by_start(self):
        _r, got = self._command(P.CMD_GET_STATUS)
        a = next((m for m in got if m.type == P.STATUS), None)
        self.seen.drain()
        try:
            self.link.start(timeout_s=REPLY_S)
            more = self.seen.pull(0.4)
            self.link.stop(timeout_s=REPLY_S)
        except (CommandRejected, CommandTimeout) as e:
            self.check("5.1", "STATUS samples counts from power-up, not from START", False,
                       str(e))
            return
        more += self.seen.pull(0.2)
        n = sum(1 for _rx, m in more if m.type == P.SAMPLE)
        _r, got = self._command(P.CMD_GET_STATUS)
        b = next((m for m in got if m.type == P.STATUS), None)
        ok = a is not None and b is not None and a.samples > 0 and \
            abs((b.samples - a.samples) % (1 << 30) - n) <= 2
        self.check("5.1", "STATUS samples counts from power-up, not from START", ok,
                   "%s before START, %s after %d more samples" % (
                       a.samples if a else None, b.samples if b else None, n))

    def _sequence_rule(self, section, rule, msgs):
        bad = []
        for a, b in zip(msgs, msgs[1:]):
            if b.seq != (a.seq + 1) & 0xFFFF:
                bad.append("%d then %d" % (a.seq, b.seq))
        self.check(section, rule, not bad, ", ".join(bad[:3]))

    def _reset(self):
        old_boot = self.link.info.boot_id if self.link.info is not None else None
        self.seen.drain()
        try:
            self.link.reset(timeout_s=REPLY_S)
        except (CommandRejected, CommandTimeout) as e:
            self.check("5.2", "RESET is ACKed", False, str(e))
            return
        time.sleep(0.5)
        deadline = time.monotonic() + RESET_BACK_S
        info = None
        while time.monotonic() < deadline and info is None:
            self.seen.drain()
            try:
                info = self.link.get_info(timeout_s=REPLY_S)
            except (CommandTimeout, LinkDown, CommandRejected):
                time.sleep(0.2)
        if not self.check("5.2", "after RESET the device answers again", info is not None):
            return
        self.seen.pull(0.2)
        tail = [m for _rx, m in self.seen.all]
        after = [m for m in tail if m.type == P.INFO]
        first = after[-1] if after else None
        self.check("4", "after RESET the first frame has seq 0",
                   first is not None and first.seq == 0,
                   "INFO seq %s" % (first.seq if first is not None else None))
        self.check("1", "after RESET the device is idle", not info.streaming)
        if self.v11:
            self.check("5.1", "after RESET the boot id is a new one",
                       info.boot_id is not None and info.boot_id != old_boot,
                       "%r, was %r" % (info.boot_id, old_boot))

    def _every_frame(self):
        frames = [m for _rx, m in self.seen.all]
        v = self.version
        name = "%d.%d" % (v >> 4, v & 0x0F)
        other = sorted(set("0x%02x" % m.version for m in frames if m.version != v))
        self.check("3", "every frame of a %s device carries version 0x%02x (%d frames)"
                   % (name, v, len(frames)), not other, "also " + ", ".join(other))
        c = self.link.stats().counters
        if P.has_check(v):
            # a 1.2 frame is only accepted when its check matched: all of them did, and none
            # was refused for a wrong one (the line to a device is clean)
            bad = c.get("check_errors", 0) + c.get("downgraded", 0)
            self.check("3", "every frame ends with its CRC-32 check (%d frames, none refused)"
                       % len(frames), frames and not bad and not c.get("crc_errors", 0),
                       "%d with a wrong check, %d without one, %d CRC-16 errors" % (
                           c.get("check_errors", 0), c.get("downgraded", 0),
                           c.get("crc_errors", 0)))
            self.skip("5.1", "TEXT to a host of 1.1 or older comes without the check",
                      "not observable from outside: no command makes a TEXT")
        else:
            self.skip("3", "every frame ends with its CRC-32 check",
                      "a %s device has no check" % name)
        for section, rule in (
                ("5.1", "TEXT is cut at 200 bytes on a UTF-8 boundary"),
                ("5.1", "a TEXT explaining a NACK comes before it"),
                ("7", "missed slots are skipped, not caught up"),
                ("7", "a frame the USB link refused still uses its sequence number")):
            self.skip(section, rule, "not observable from outside")


def run(args, out=None):
    out = out or sys.stdout

    def say(line):
        print(line, file=out, flush=True)

    suite = Conformance(args.port, report=say)
    ok = suite.run()  # PortError (no device, port busy): one line on stderr, exit 2
    passed = sum(1 for r in suite.results if r[2] is True)
    skipped = sum(1 for r in suite.results if r[2] is None)
    say("conformance: %d rules passed, %d failed, %d not checked" % (
        passed, len(suite.failed), skipped))
    return 0 if ok else 1
