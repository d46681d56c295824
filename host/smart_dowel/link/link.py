"""The serial link to a dowel: one reader thread owns the port, decodes frames and hands the
consumer batches of messages; commands go out from any thread and wait for their ACK/NACK.

After an unplug it reopens the same port (or finds the same board by its id), resumes streaming
and reports the gap. Until the dowel that answers after a reconnect has confirmed its board id,
its data is held back; a different dowel's data is discarded and its port released.
Consumer callbacks run on the reader thread and must not block.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections import deque

import dowel_protocol as P
import serial

from ..errors import PortError
from .detect import find_dowel, list_serial_ports
from .serialport import open_serial
from .types import (
    CLOSED,
    CONNECTED,
    CONNECTING,
    RECONNECTING,
    CommandRejected,
    CommandReply,
    CommandTimeout,
    DeviceInfo,
    DeviceStatus,
    Gap,
    LinkBatch,
    LinkDown,
    LinkEvent,
    LinkStats,
)

COMMAND_NAMES = {t: P.MESSAGES[t][0].upper() for t in P.MESSAGES if t >= 0x80}
# A read returns with the first byte that comes, or empty after this long: the longest the
# reader sleeps before it looks at its commands' deadlines and the open batch again. Longer
# than a sample's slot at 100 Hz, so a streaming dowel wakes the reader once a frame (8 ms
# woke it twice, each time at a cost).
_READ_TIMEOUT_S = 0.02
_HANDSHAKE_RETRY_S = 1.0
_DETECT_EVERY_S = 1.0
_RATE_WINDOW_US = 1_000_000
_T_JUMP_US = 5_000_000  # a device-clock jump this large means the dowel restarted
_EXTRA_FRAMES = 64  # INFO/ACK/STATUS frames the device may send besides samples in a gap
_HOLD_S = 2.0  # data held back while a reconnect waits for the board id: at most this old ...
_HOLD_MAX_MSGS = int(_HOLD_S * P.RATE_MAX_HZ) + _EXTRA_FRAMES  # ... and at most this many messages
_HANDSHAKE_TYPES = (P.INFO, P.ACK, P.NACK)  # handled as they arrive, even while held back
_STALL_S = 1.5  # a connected, streaming dowel silent for longer than this is "stalled"
# A dowel that should stream and has sent no sample for this long is asked who it is and told
# START again (a restart into idle, a watchdog reset, a START it never got); then again after
# 1 s, 2 s, ... while it stays silent.
_SILENT_S = 0.5
_SILENT_BACKOFF_MAX_S = 4.0
# A NACKed START is sent again after this, doubling up to the maximum.
_REFUSED_RETRY_S = 0.25
_REFUSED_RETRY_MAX_S = 4.0
_TEXTS_KEPT = 16  # the latest TEXT messages, to explain a NACK
_RESYNC_ANSWER_S = 2.0  # a RESYNC this long after a START or SET_RATE is its answer
_LEVELS = {P.LEVEL_INFO: "info", P.LEVEL_WARNING: "warning", P.LEVEL_ERROR: "error"}


def _reason(reply):
    """A NACK's error name, with the TEXT the dowel sent to explain it."""
    if reply.texts:
        return "%s: %s" % (reply.error, "; ".join('"%s"' % t for _level, t in reply.texts))
    return reply.error


class _Pending:
    """A command waiting for its ACK/NACK (and, for GET_INFO/GET_STATUS, its INFO/STATUS)."""

    __slots__ = (
        "cmd_type", "seq", "sent_mono", "deadline", "done", "reply", "payload",
        "needs_payload", "on_done", "error", "reply_mono", "texts",
    )

    def __init__(self, cmd_type, seq, timeout_s, on_done=None):
        self.cmd_type = cmd_type
        self.seq = seq
        self.sent_mono = time.monotonic()
        self.deadline = self.sent_mono + timeout_s
        self.done = threading.Event()
        self.reply = None
        self.payload = None
        self.needs_payload = cmd_type in (P.CMD_GET_INFO, P.CMD_GET_STATUS)
        self.on_done = on_done  # background commands: called on the reader thread
        self.error = None  # LinkDown if the port dropped while waiting
        self.reply_mono = None
        self.texts = []  # TEXT messages (level name, text) that came while it was pending

    def to_reply(self):
        ack = self.reply
        ok = ack.type == P.ACK
        code = 0 if ok else ack.error
        return CommandReply(
            cmd_type=self.cmd_type,
            cmd_seq=self.seq,
            ok=ok,
            error_code=code,
            error="" if ok else P.ERROR_NAMES.get(code, "error %d" % code),
            round_trip_s=(self.reply_mono or time.monotonic()) - self.sent_mono,
            reply=self.payload,
            texts=tuple(self.texts),
        )


class SerialLink:
    """The link to one dowel on one serial port.

    on_batch(LinkBatch) and on_event(LinkEvent) are called on the reader thread, in stream
    order (only close() may emit a last warning from the caller's thread), and must return quickly (the TUI posts a Textual message; `dowel record` queues the
    batch for its writer). An exception raised by on_batch is reported as an "error" event;
    one raised by on_event stops the reader (kept in `failure`).

    A batch closes once it is batch_interval_s old (checked after each read), or at once after
    a read with a message for which flush_now(Message) is true: the consumer's way to have what
    it must act on at once (a contact lost) leave without waiting for the batch.

    port=None auto-detects a dowel when opened. Use as a context manager, or open()/close().

        link = SerialLink("/dev/ttyACM0", on_batch=queue.put, on_event=queue.put)
        info = link.connect(rate_hz=100)      # PortError with one sentence if it cannot
        ...                                    # link.stats(), link.set_rate(200), link.stop()
        link.close()
    """

    def __init__(
        self,
        port=None,
        *,
        on_batch=None,
        on_event=None,
        batch_interval_s=0.015,
        flush_now=None,
        reconnect_interval_s=0.25,
        command_timeout_s=1.0,
        list_ports=list_serial_ports,
    ):
        self.port = port
        self.on_batch = on_batch
        self.on_event = on_event
        self.batch_interval_s = batch_interval_s
        self.flush_now = flush_now
        self.reconnect_interval_s = reconnect_interval_s
        self.command_timeout_s = command_timeout_s
        self._list_ports = list_ports

        self._lock = threading.Lock()  # pending commands, stats windows, events
        self._wlock = threading.Lock()  # writes, and swapping the port object
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._thread = None
        self._ser = None
        self._state = CLOSED
        self.failure = None  # the exception that stopped the reader thread, if any

        self._seq = itertools.count(1)
        self._pending = {}
        self._want_streaming = None  # the user's start()/stop(); None: follow the device
        self._want_rate = None  # the user's set_rate()

        self._decoder = P.StreamDecoder()
        self._retired = {}  # counters of the decoders of earlier connections
        self._info = None
        self._status = None
        self._last_seq = None  # device sequence number of the latest frame
        self._samples = 0
        self._samples_this_conn = 0
        self._bytes_total = 0
        self._byte_window = deque()  # (mono, n)
        self._byte_window_sum = 0
        self._t_window = deque()  # unwrapped device t_us of recent samples
        self._t_prev = None
        self._t_unwrapped = 0
        self._last_sample_mono = None
        self._last_rx_mono = None
        self._last_rx_wall = None

        self._handshake_mono = None  # when the latest GET_INFO of the handshake went out
        self._resume = False  # a reconnect: resume streaming and rate after the handshake
        self._gap_open = None  # dict describing the drop until the first frame after it
        self._gaps = []
        self._reconnects = 0
        self._gap_lost = 0
        self._gap_streaming = False  # samples were arriving when the link dropped
        self._board_id = None  # this session's dowel: the board id of the first INFO
        # read after a reconnect, before the board id is confirmed: [mono, wall, raw, msgs, rx]
        self._held = deque()
        self._held_msgs = 0
        self._foreign = set()  # other dowels' board ids reported during this reconnect
        self._foreign_here = False  # the latest handshake on self.port met another dowel
        self._next_attempt = 0.0
        self._next_detect = 0.0
        self._last_reopen_error = None
        self._events = deque(maxlen=200)
        self._last_error = None
        # restarts and keeping the stream going (protocol 1.1 receiver rules, SPEC section 9)
        self._boot_id = None  # boot id of this session's dowel, from INFO and STATUS
        self._uptime_ms = None  # a 1.0 dowel's latest STATUS uptime (no boot id to compare)
        self._restarts = 0
        self._gap_restarted = False  # a reconnect met the dowel with another boot id
        self._texts = deque(maxlen=_TEXTS_KEPT)  # (mono, level name, text)
        self.last_resync_request_mono = None  # when a START or SET_RATE last went out
        self._resync_until = 0.0  # a RESYNC before this (monotonic) answers that command
        self._start_in_flight = False
        self._start_due = None  # when to send START again (after a NACK or a timeout)
        self._start_retry_s = _REFUSED_RETRY_S
        self._silent_probe_due = None
        self._silent_backoff_s = _SILENT_S
        self._stream_asked_mono = None  # when streaming was last asked for
        self._refused = None  # why the dowel refuses START, while it does

        self._batch_index = 0
        self._raw = bytearray()
        self._msgs = []
        self._rx = []
        self._batch_wall = 0.0
        self._batch_mono = 0.0

    # ---------------------------------------------------------------- lifecycle

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def state(self):
        return self._state

    @property
    def info(self):
        """The latest DeviceInfo (INFO reply), or None before the first."""
        return self._info

    @property
    def status(self):
        """The latest DeviceStatus (STATUS message), or None before the first."""
        return self._status

    @property
    def gaps(self):
        """Every Gap marked so far (a copy)."""
        with self._lock:
            return list(self._gaps)

    @property
    def events(self):
        """The latest 200 LinkEvents (a copy), for consumers that poll."""
        with self._lock:
            return list(self._events)

    def open(self):
        """Open the port (auto-detecting a dowel if none was given) and start the reader.

        Raises PortError if the port is missing, busy or forbidden, or no dowel is found.
        The link is "connecting" until the dowel answers GET_INFO (see wait_connected).
        """
        if self._thread is not None:
            raise RuntimeError("SerialLink.open() called twice")
        if self.port is None:
            self.port, self._info = find_dowel(ports=self._list_ports())
        self._ser = open_serial(self.port, read_timeout_s=_READ_TIMEOUT_S)
        self._state = CONNECTING
        self._thread = threading.Thread(target=self._run, name="dowel-link", daemon=True)
        self._thread.start()
        return self

    def wait_connected(self, timeout_s):
        """True once the dowel has answered GET_INFO on the current connection."""
        return self._connected.wait(timeout_s)

    def connect(self, rate_hz=None, stream=True, timeout_s=3.0):
        """open(), wait for the dowel's INFO, set the rate, start streaming; returns DeviceInfo.

        Raises PortError if the port cannot be opened or nothing there answers as a dowel.
        """
        self.open()
        try:
            if not self.wait_connected(timeout_s):
                if self.failure is not None:
                    raise PortError(
                        "The link to %s failed: %s." % (self.port, self.failure)
                    ) from self.failure
                raise PortError(
                    "No dowel answered on %s: the device there did not reply to GET_INFO "
                    "within %.0f s%s." % (self.port, timeout_s, self._unreadable())
                )
            if rate_hz is not None and (self._info is None or self._info.rate_hz != rate_hz):
                self.set_rate(rate_hz)
            if stream:
                self.start()
        except BaseException:
            self.close(stop_streaming=False)
            raise
        return self._info

    def _unreadable(self):
        """', and the N frames it sent could not be read (...)' when bytes came but nothing
        valid, for the sentence saying no dowel answered."""
        with self._lock:
            c = self._counters_locked()
            total = self._bytes_total
        bad = c["crc_errors"] + c["malformed"] + c["unknown_type"] + c["oversize"]
        if c["frames"] or not total:
            return ""
        parts = ["%d %s" % (c[k], w) for k, w in (
            ("malformed", "malformed"), ("crc_errors", "with a bad CRC"),
            ("unknown_type", "of an unknown type"), ("oversize", "runs of junk")) if c[k]]
        return "; %d bytes came, but not one valid frame%s" % (
            total, " (%d frames rejected: %s)" % (bad, ", ".join(parts)) if parts else "")

    def close(self, stop_streaming=True):
        """Stop streaming (if asked and connected), stop the reader and release the port.

        Called from a link callback (the reader thread), it only asks the reader to stop.
        """
        if self._thread is None:
            self._state = CLOSED
            return
        if threading.current_thread() is self._thread:
            self._stop.set()
            return
        if stop_streaming and self._state == CONNECTED:
            try:
                self._command(P.CMD_STOP, (), 0.3, retries=0)
            except (LinkDown, CommandTimeout, CommandRejected) as e:
                self._emit("warning", "Could not stop the dowel's stream while closing: %s" % e, error=e)
        self._stop.set()
        with self._wlock:
            ser = self._ser
            if ser is not None:
                ser.cancel_read()
        self._thread.join(timeout=5.0)
        if self._thread.is_alive():
            raise RuntimeError("the serial reader thread did not stop within 5 s")

    # ---------------------------------------------------------------- commands

    def send(self, cmd_type, values=(), wait=True, timeout_s=None):
        """Send one command frame; with wait, return its CommandReply (ACK or NACK).

        Raises LinkDown if the dowel is not connected, CommandTimeout if no ACK/NACK came.
        Without wait, returns the command's sequence number; a NACK becomes a "warning" event.
        """
        timeout_s = self.command_timeout_s if timeout_s is None else timeout_s
        seq = next(self._seq) & 0xFFFF
        frame = P.pack(cmd_type, seq, values)
        p = _Pending(cmd_type, seq, timeout_s, on_done=None if wait else self._report_background)
        with self._lock:
            self._pending[seq] = p
        try:
            self._write(frame, user=True)
        except LinkDown:
            with self._lock:
                self._pending.pop(seq, None)
            raise
        if not wait:
            return seq
        if not p.done.wait(timeout_s):
            with self._lock:
                self._pending.pop(seq, None)
            raise CommandTimeout(
                "The dowel on %s did not answer %s within %.1f s."
                % (self.port, COMMAND_NAMES.get(cmd_type, cmd_type), timeout_s)
            )
        if p.error is not None:
            raise p.error
        return p.to_reply()

    def send_raw(self, data):
        """Write bytes to the dowel exactly as given (malformed frames, junk): for the
        conformance suite and tests. Whatever the dowel answers arrives in the batches."""
        self._write(bytes(data), user=True)

    def _command(self, cmd_type, values=(), timeout_s=None, retries=1):
        """send() and wait, retrying after a timeout; raises CommandRejected on a NACK."""
        for attempt in range(retries + 1):
            try:
                reply = self.send(cmd_type, values, wait=True, timeout_s=timeout_s)
                break
            except CommandTimeout:
                if attempt == retries:
                    raise
        if not reply.ok:
            what = COMMAND_NAMES.get(cmd_type, str(cmd_type))
            if values:
                what += " " + " ".join(str(v) for v in values)
            raise CommandRejected(
                "The dowel refused %s (%s)." % (what, _reason(reply)), reply.error,
                reply.error_code
            )
        return reply

    def ping(self, timeout_s=None):
        """Round-trip time of a PING, in seconds."""
        return self._command(P.CMD_PING, (), timeout_s).round_trip_s

    def get_info(self, timeout_s=None):
        """Ask the dowel who it is; returns DeviceInfo (firmware, board id, IMU, rate)."""
        reply = self._command(P.CMD_GET_INFO, (), timeout_s)
        return DeviceInfo.from_message(reply.reply)

    def get_status(self, timeout_s=None):
        """Ask for the firmware's health counters; returns DeviceStatus."""
        reply = self._command(P.CMD_GET_STATUS, (), timeout_s)
        return DeviceStatus.from_message(reply.reply)

    def start(self, timeout_s=None):
        """Start streaming samples and wait for the ACK (CommandRejected on a NACK). The link
        keeps the dowel streaming from then on, as after keep_streaming()."""
        self._want_streaming = True
        self._stream_asked_mono = time.monotonic()
        self._expect_resync()
        try:
            reply = self._command(P.CMD_START, (), timeout_s)
        except CommandRejected:
            self._start_due = time.monotonic() + self._start_retry_s
            raise
        self._update_info(streaming=True)
        return reply

    def keep_streaming(self):
        """Have the dowel stream, without waiting: START goes out from the reader thread; a
        NACK is retried with back-off (each one a "refused" event with its reason), and a dowel
        that goes silent (a restart into idle) is asked again within a second."""
        now = time.monotonic()
        self._want_streaming = True
        self._stream_asked_mono = now
        self._start_due = now
        self._start_retry_s = _REFUSED_RETRY_S

    def stop(self, timeout_s=None):
        """Stop streaming samples."""
        self._want_streaming = False
        self._start_due = None
        reply = self._command(P.CMD_STOP, (), timeout_s)
        self._update_info(streaming=False)
        return reply

    def set_rate(self, rate_hz, timeout_s=None):
        """Set the sample rate in Hz (restored automatically after a reconnect)."""
        self._expect_resync()
        reply = self._command(P.CMD_SET_RATE, (int(rate_hz),), timeout_s)
        self._want_rate = int(rate_hz)
        self._update_info(rate_hz=int(rate_hz))
        return reply

    def _update_info(self, **changes):
        """Keep the cached INFO true after a command the dowel acknowledged."""
        info = self._info
        if info is not None:
            self._info = dataclasses.replace(info, **changes)

    def reset(self, timeout_s=None):
        """Reboot the dowel; the link then reconnects to it like after an unplug."""
        return self._command(P.CMD_RESET, (), timeout_s)

    def _write(self, frame, user=False):
        """user: a caller's command, refused until a reconnected dowel has confirmed who it is."""
        with self._wlock:
            ser = self._ser
            if ser is None or self._stop.is_set() or (user and self._resume):
                raise LinkDown(
                    "The dowel is not connected (%s)." % (
                        "closed" if self._stop.is_set() or self._state == CLOSED
                        else "reconnecting to %s" % self.port
                    )
                )
            try:
                ser.write(frame)
            except (serial.SerialException, OSError) as e:
                raise LinkDown("Could not send to the dowel on %s: %s." % (self.port, e)) from e

    def _send_background(self, cmd_type, values=(), on_done=None, lead=b""):
        """A command the link sends itself (handshake, resume); failures become events.
        `lead` goes out just before the frame."""
        seq = next(self._seq) & 0xFFFF
        p = _Pending(cmd_type, seq, self.command_timeout_s, on_done or self._report_background)
        with self._lock:
            self._pending[seq] = p
        try:
            self._write(lead + P.pack(cmd_type, seq, values))
        except LinkDown as e:
            with self._lock:
                self._pending.pop(seq, None)
            self._emit("warning", str(e), error=e)
            return False
        return True

    def _report_background(self, p):
        name = COMMAND_NAMES.get(p.cmd_type, str(p.cmd_type))
        if p.reply is None:
            if p.error is None:
                self._emit("warning", "The dowel did not answer %s." % name)
        elif p.reply.type == P.NACK:
            r = p.to_reply()
            self._emit("warning", "The dowel refused %s (%s)." % (name, r.error))

    # ---------------------------------------------------------------- statistics

    def stats(self):
        """A LinkStats snapshot; cheap enough to call on every screen refresh."""
        now = time.monotonic()
        with self._lock:
            c = self._counters_locked()
            self._trim_bytes(now)
            bps = self._byte_window_sum / (_RATE_WINDOW_US / 1e6)
            rate = 0.0
            w = self._t_window
            fresh = self._last_sample_mono is not None and now - self._last_sample_mono < 1.0
            if fresh and len(w) >= 2 and w[-1] > w[0]:
                rate = (len(w) - 1) * 1e6 / (w[-1] - w[0])
            age = None if self._last_rx_mono is None else now - self._last_rx_mono
            info = self._info
            streaming = self._want_streaming
            if streaming is None:
                streaming = info is not None and info.streaming
            stalled = bool(
                self._state == CONNECTED and streaming and age is not None and age > _STALL_S
            )
            return LinkStats(
                state=self._state,
                port=self.port,
                sample_rate_hz=rate,
                bytes_per_s=bps,
                frames=c["frames"],
                samples=self._samples,
                crc_errors=c["crc_errors"],
                malformed=c["malformed"] + c["oversize"],
                unknown_type=c["unknown_type"],
                lost_frames=c["lost_frames"] + self._gap_lost,
                bytes_total=self._bytes_total,
                reconnects=self._reconnects,
                gaps=len(self._gaps),
                last_rx_age_s=age,
                stalled=stalled,
                info=info,
                status=self._status,
                last_error=self._last_error,
                counters=c,
                boot_id=self._boot_id,
                restarts=self._restarts,
                unknown_loss=c.get("unknown_loss", 0),
                refused=self._refused,
            )

    def _counters_locked(self):
        c = dict(self._decoder.counters())
        for k, v in self._retired.items():
            c[k] = c.get(k, 0) + v
        return c

    def _trim_bytes(self, now):
        w = self._byte_window
        while w and now - w[0][0] > _RATE_WINDOW_US / 1e6:
            self._byte_window_sum -= w.popleft()[1]

    # ---------------------------------------------------------------- events

    def _emit(self, kind, message, error=None, gap=None):
        ev = LinkEvent(kind, self._state, message, time.time(), self.port, error, gap)
        with self._lock:
            self._events.append(ev)
            if kind in ("error", "warning"):
                self._last_error = message
        if self.on_event is not None:
            self.on_event(ev)

    def _set_state(self, state, message, error=None):
        self._state = state
        if state == CONNECTED:
            self._connected.set()
        else:
            self._connected.clear()
        self._emit("state", message, error=error)

    # ---------------------------------------------------------------- reader thread

    def _run(self):
        try:
            self._set_state(CONNECTING, "Opened %s; waiting for the dowel to answer." % self.port)
            self._begin_handshake()
            self._loop()
            self._flush()
            close_error = self._close_port()
            self._set_state(CLOSED, "Closed the link to %s." % self.port, error=close_error)
        except BaseException as e:
            self.failure = e
            self._connected.clear()
            self._state = CLOSED
            self._close_port()
            with self._lock:
                waiting = list(self._pending.values())
                self._pending.clear()
            for p in waiting:
                p.error = LinkDown("The serial link stopped: %s" % e)
                p.done.set()
            raise

    def _loop(self):
        while not self._stop.is_set():
            ser = self._ser
            if ser is None:
                self._try_reopen()
                continue
            try:
                data = ser.read(ser.in_waiting or 1)
                if len(data) == 1:
                    # the first byte of a frame woke the read: the rest has usually come
                    # with it, and is taken now rather than on another turn of the loop
                    # (each turn costs a timeout, a check of the batch and the commands)
                    more = ser.in_waiting
                    if more:
                        data += ser.read(more)
            except (serial.SerialException, OSError) as e:
                if self._stop.is_set():
                    break
                self._on_drop(e)
                continue
            now = time.monotonic()
            if data:
                self._on_data(data, now)
            self._housekeeping(now)

    def _on_data(self, data, now):
        wall = time.time()
        self._last_rx_mono = now
        self._last_rx_wall = wall
        with self._lock:
            self._bytes_total += len(data)
            self._byte_window.append((now, len(data)))
            self._byte_window_sum += len(data)
            self._trim_bytes(now)
        if self._resume:
            self._hold(data, now, wall)
            return
        if not self._raw and not self._msgs:
            self._batch_wall = wall
            self._batch_mono = now
        self._raw.extend(data)
        urgent = self.flush_now
        hit = False
        for m in self._decoder.feed(data):
            self._accept(m, now, wall)
            if urgent is not None and not hit and urgent(m):
                hit = True
        if hit:
            self._flush()

    def _accept(self, m, now, wall, handshake_done=False):
        """A message of this session's dowel: into the current batch (the first closes a gap)."""
        if self._gap_open is not None:
            self._close_gap(m, now, wall)
        self._last_seq = m.seq
        if not (handshake_done and m.type in _HANDSHAKE_TYPES):
            self._handle(m, now)
        self._msgs.append(m)
        self._rx.append(now)

    def _hold(self, data, now, wall):
        """Bytes read after a reconnect, before GET_INFO confirmed the board: held back.

        Only the handshake's INFO/ACK/NACK are acted on; confirming the board releases
        what was held (and the rest of this read goes straight through), a different
        board discards it and releases the port (the rest of this read is its too).
        """
        chunk = [now, wall, data, [], []]
        self._held.append(chunk)
        for m in self._decoder.feed(data):
            if not self._resume:  # confirmed by an earlier message of this read
                self._accept(m, now, wall)
                continue
            chunk[3].append(m)
            chunk[4].append(now)
            self._held_msgs += 1
            if m.type == P.INFO:
                self._attach_payload(P.CMD_GET_INFO, m)
            elif m.type == P.ACK or m.type == P.NACK:
                self._on_reply(m)
            if self._ser is None:
                break  # a different dowel: the port is released, its data discarded
        self._trim_held(now)

    def _trim_held(self, now):
        """Keep the held data bounded: drop the oldest reads beyond _HOLD_S / _HOLD_MAX_MSGS
        (their frames then count as lost in the gap, from the sequence numbers)."""
        h = self._held
        while len(h) > 1 and (self._held_msgs > _HOLD_MAX_MSGS or now - h[0][0] > _HOLD_S):
            self._held_msgs -= len(h.popleft()[3])

    def _release_held(self):
        """The reconnected dowel is this session's: its held data goes out, in order."""
        held, self._held = self._held, deque()
        self._held_msgs = 0
        for mono, wall, raw, msgs, rx in held:
            if not self._raw and not self._msgs:
                self._batch_wall = wall
                self._batch_mono = mono
            self._raw.extend(raw)
            for m, t in zip(msgs, rx):
                self._accept(m, t, wall + (t - mono), handshake_done=True)

    def _discard_held(self):
        self._held.clear()
        self._held_msgs = 0

    def _handle(self, m, now):
        t = m.type
        if t == P.SAMPLE:
            self._samples += 1
            self._samples_this_conn += 1
            self._track_rate(m.values[0], now)
            self._silent_backoff_s = _SILENT_S
            self._silent_probe_due = None
            if m.values[10] & P.FLAG_RESYNC:
                if self._resync_asked(now):
                    self._resync_until = 0.0  # the answer to our START or SET_RATE
                else:
                    # the time base restarted by itself: say so before this sample, and ask
                    # who is there (a new boot id is a restart; SPEC section 9)
                    self._flush()
                    self._emit("resync", "The dowel's time base restarted without a START or "
                               "SET_RATE (RESYNC): it restarted, or reset its stream.")
                    self._send_background(P.CMD_GET_INFO, on_done=lambda p: None)
        elif t == P.INFO:
            info = DeviceInfo.from_message(m)
            self._info = info
            self._attach_payload(P.CMD_GET_INFO, m)
            self._check_restart(info.boot_id, None, info.streaming)
        elif t == P.STATUS:
            st = DeviceStatus.from_message(m)
            self._status = st
            self._attach_payload(P.CMD_GET_STATUS, m)
            self._check_restart(st.boot_id, st.uptime_ms, st.streaming)
        elif t == P.ACK or t == P.NACK:
            self._on_reply(m)
        elif t == P.TEXT:
            self._note_text(m, now)

    def _note_text(self, m, now):
        level = _LEVELS.get(m.values[0], "level %d" % m.values[0])
        entry = (level, m.values[1])
        self._texts.append((now,) + entry)
        with self._lock:
            for p in self._pending.values():
                p.texts.append(entry)

    def _resync_asked(self, now):
        return now <= self._resync_until

    def _expect_resync(self):
        """A START or SET_RATE is going out: the next RESYNC within a while answers it."""
        now = time.monotonic()
        self.last_resync_request_mono = now
        self._resync_until = now + _RESYNC_ANSWER_S

    def _check_restart(self, boot_id, uptime_ms, streaming):
        """INFO or STATUS from the connected dowel: did it restart? (SPEC section 9)"""
        why = None
        if boot_id is not None:
            if self._boot_id is not None and boot_id != self._boot_id:
                why = "its boot id changed from %08x to %08x" % (self._boot_id, boot_id)
            self._boot_id = boot_id
        else:
            # a 1.0 dowel says nothing of its boots: its uptime or its stream starting
            # again by itself is the sign
            if uptime_ms is not None:
                prev = self._uptime_ms
                self._uptime_ms = uptime_ms
                # (not a wrap: the counter wraps at 2**30 ms, about 12 days)
                if prev is not None and uptime_ms < prev and prev - uptime_ms < (1 << 29):
                    why = "its uptime started again (%d ms, was %d ms)" % (uptime_ms, prev)
            if why is None and streaming is False and self._want_streaming and \
                    self._samples_this_conn and not self._start_in_flight:
                why = "it stopped streaming by itself"
            if why is not None:
                self._decoder.mark_restart()
        if why is None or self._state != CONNECTED:
            return
        self._restarts += 1
        self._flush()  # what came before the restart goes out first
        self._emit("restart", "The dowel on %s restarted: %s." % (self.port, why))
        if self._want_streaming:
            self._start_due = time.monotonic()  # a restarted dowel comes back idle

    def _track_rate(self, t_us, now):
        with self._lock:
            w = self._t_window
            if self._t_prev is None:
                self._t_unwrapped = 0
            else:
                d = (t_us - self._t_prev) % P.T_US_MODULUS
                if d > _T_JUMP_US:
                    w.clear()
                self._t_unwrapped += d
            self._t_prev = t_us
            w.append(self._t_unwrapped)
            while w[-1] - w[0] > _RATE_WINDOW_US:
                w.popleft()
            self._last_sample_mono = now

    def _attach_payload(self, cmd_type, m):
        done = []
        with self._lock:
            for p in self._pending.values():
                if p.cmd_type == cmd_type and p.payload is None:
                    p.payload = m
                    if p.reply is not None:
                        done.append(p)
        for p in done:
            self._complete(p)

    def _on_reply(self, m):
        cmd_type, cmd_seq = m.values[0], m.values[1]
        with self._lock:
            p = self._pending.get(cmd_seq)
            if p is None or p.cmd_type != cmd_type:
                p = None
            else:
                p.reply = m
                p.reply_mono = time.monotonic()
                if m.type == P.NACK or not p.needs_payload or p.payload is not None:
                    self._pending.pop(cmd_seq, None)
                else:
                    p = None  # the INFO/STATUS has not arrived yet
        if p is not None:
            self._complete(p, popped=True)
        elif m.type == P.NACK and m.values[2] == P.ERR_BAD_FRAME:
            self._emit("warning", "The dowel received a damaged command frame and dropped it.")

    def _complete(self, p, popped=False):
        if not popped:
            with self._lock:
                self._pending.pop(p.seq, None)
        p.done.set()
        if p.on_done is not None:
            p.on_done(p)

    def _housekeeping(self, now):
        if (self._raw or self._msgs) and now - self._batch_mono >= self.batch_interval_s:
            self._flush()
        expired = []
        with self._lock:
            for seq, p in list(self._pending.items()):
                if p.on_done is not None and now > p.deadline:
                    del self._pending[seq]
                    expired.append(p)
        for p in expired:
            p.done.set()
            p.on_done(p)
        if (
            self._state != CONNECTED
            and self._handshake_mono is not None
            and now - self._handshake_mono > _HANDSHAKE_RETRY_S
        ):
            self._begin_handshake()
        if self._state == CONNECTED and self._want_streaming and not self._resume:
            self._keep_streaming(now)

    # ---------------------------------------------------------------- keeping the stream going

    def _keep_streaming(self, now):
        """START again after a NACK (with back-off), and ask a silent dowel who it is."""
        if self._start_in_flight:
            return
        if self._start_due is not None:
            if now >= self._start_due:
                self._send_start(now)
            return
        last = self._last_sample_mono
        if last is None or (self._stream_asked_mono or 0) > last:
            last = self._stream_asked_mono
        if last is None or now - last <= _SILENT_S:
            return
        if self._silent_probe_due is None:
            self._silent_probe_due = now
        if now < self._silent_probe_due:
            return
        self._silent_probe_due = now + self._silent_backoff_s
        self._silent_backoff_s = min(self._silent_backoff_s * 2, _SILENT_BACKOFF_MAX_S)
        # who is there, and is it streaming? a restarted dowel has a new boot id (1.1) or
        # says it is not streaming (1.0); START follows the answer
        self._send_background(P.CMD_GET_INFO, on_done=self._on_silent_info)

    def _on_silent_info(self, p):
        if not self._want_streaming:
            return
        info = DeviceInfo.from_message(p.payload) if p.payload is not None else None
        if info is None or not info.streaming:
            self._start_due = time.monotonic()

    def _send_start(self, now):
        self._start_due = None
        self._start_in_flight = True
        self._expect_resync()
        if not self._send_background(P.CMD_START, on_done=self._on_start_done):
            self._start_in_flight = False  # it could not be sent: try again later
            self._start_due = now + self._start_retry_s

    def _on_start_done(self, p):
        self._start_in_flight = False
        now = time.monotonic()
        if not self._want_streaming:
            return
        if p.reply is not None and p.reply.type == P.ACK:
            self._update_info(streaming=True)
            self._start_retry_s = _REFUSED_RETRY_S
            self._stream_asked_mono = now
            if self._refused is not None:
                self._refused = None
                self._emit("streaming", "The dowel accepted START: it streams again.")
            return
        delay = self._start_retry_s
        self._start_retry_s = min(self._start_retry_s * 2, _REFUSED_RETRY_MAX_S)
        self._start_due = now + delay
        if p.reply is None:
            if p.error is None:
                self._emit("warning", "The dowel did not answer START; trying again in %.1f s."
                           % delay)
            return
        why = _reason(p.to_reply())
        self._refused = why
        self._emit("refused", "The dowel refused START (%s); trying again in %.1f s."
                   % (why, delay))

    def _flush(self):
        if not self._raw and not self._msgs:
            return
        batch = LinkBatch(
            self._batch_index, self._msgs, self._rx, bytes(self._raw),
            self._batch_wall, self._batch_mono,
        )
        self._batch_index += 1
        self._raw = bytearray()
        self._msgs = []
        self._rx = []
        if self.on_batch is None:
            return
        try:
            self.on_batch(batch)
        except Exception as e:  # reported to the consumer, never dropped silently
            self._emit("error", "The consumer of the dowel's data failed: %r" % e, error=e)

    # ---------------------------------------------------------------- handshake and reconnect

    def _begin_handshake(self):
        if self._ser is None:
            return
        self._handshake_mono = time.monotonic()
        # a lone 0x00 first ends any frame the dowel half-received before this connection
        self._send_background(P.CMD_GET_INFO, on_done=self._on_handshake, lead=b"\x00")

    def _on_handshake(self, p):
        if self._state == CONNECTED or self._ser is None:
            return
        if p.reply is None:
            return  # no answer yet: _housekeeping asks again every second
        info = DeviceInfo.from_message(p.payload) if p.payload is not None else None
        if p.reply.type == P.NACK:
            message = "The dowel refused GET_INFO (%s)." % p.to_reply().error
            if self._resume and self._board_id is not None:
                # who is there is unconfirmed: keep its data held back, ask again in a second
                if message != self._last_error:
                    self._emit("warning", message)
                return
            self._emit("warning", message)
        if self._resume and info is not None and self._board_id not in (None, info.board_id):
            self._refuse_board(info)
            return
        self._handshake_mono = None
        if info is not None:
            self._info = info
            if info.boot_id is not None:
                if self._resume and self._boot_id not in (None, info.boot_id):
                    self._gap_restarted = True  # known for certain: it booted again
                    self._restarts += 1
                self._boot_id = info.boot_id
        info = self._info
        if self._board_id is None and info is not None:
            self._board_id = info.board_id
        what = "dowel"
        if info is not None:
            what = "dowel %s (firmware %s, IMU %s, %d Hz)" % (
                info.board_id, info.fw_version, info.imu_name, info.rate_hz,
            )
        resumed = self._resume
        if resumed:
            self._resume = False
            self._foreign.clear()
            self._foreign_here = False
            self._release_held()  # the first held message closes the gap
        self._set_state(CONNECTED, "Connected to %s on %s." % (what, self.port))
        if resumed:
            if self._want_rate is not None and (info is None or info.rate_hz != self._want_rate):
                self._send_resume(P.CMD_SET_RATE, (self._want_rate,), rate_hz=self._want_rate)
            resume = self._want_streaming
            if resume is None:
                resume = self._gap_streaming
            if resume and (info is None or not info.streaming):
                self._want_streaming = True
                self._stream_asked_mono = time.monotonic()
                self._start_due = time.monotonic()

    def _send_resume(self, cmd_type, values, **changes):
        """A command restoring the session after a reconnect; its ACK updates the cached INFO."""
        if cmd_type == P.CMD_SET_RATE:
            self._expect_resync()

        def done(p):
            if p.reply is not None and p.reply.type == P.ACK:
                self._update_info(**changes)
            self._report_background(p)

        self._send_background(cmd_type, values, on_done=done)

    def _refuse_board(self, info):
        """A different dowel answered after a reconnect: say so (once per board), discard its
        data, release its port and keep looking for this session's dowel (the gap stays open)."""
        if info.board_id not in self._foreign:
            self._foreign.add(info.board_id)
            self._emit(
                "error",
                "A different dowel (board %s) is on %s; this session's dowel is board %s. "
                "Plug that one back in, or start a new session."
                % (info.board_id, self.port, self._board_id),
            )
        self._discard_held()
        self._handshake_mono = None
        self._foreign_here = True
        close_error = self._close_port()
        with self._lock:
            waiting = list(self._pending.values())
            self._pending.clear()
            # its frames are not this session's: a fresh decoder, its counters dropped
            self._decoder = P.StreamDecoder()
        self._start_in_flight = False
        for p in waiting:
            p.error = LinkDown("A different dowel answered on %s." % self.port)
            p.done.set()
        self._next_attempt = time.monotonic() + self.reconnect_interval_s
        if close_error is not None:
            self._emit(
                "warning", "Releasing %s also failed: %s" % (self.port, close_error),
                error=close_error,
            )

    def _close_port(self):
        """Release the port; returns the error closing it raised, if any (a dead port may)."""
        with self._wlock:
            ser, self._ser = self._ser, None
        if ser is None:
            return None
        try:
            ser.close()
        except (serial.SerialException, OSError) as e:
            return e
        return None

    def _on_drop(self, exc):
        """The port failed (unplugged): flush, release it, fail waiters, start reconnecting."""
        self._flush()
        close_error = self._close_port()
        reason = "The port %s failed: %s" % (self.port, exc)
        if close_error is not None:
            reason += " (closing it also failed: %s)" % close_error
        with self._lock:
            waiting = [p for p in self._pending.values() if p.on_done is None]
            for p in waiting:
                del self._pending[p.seq]
            self._pending.clear()
            for k, v in self._decoder.counters().items():
                self._retired[k] = self._retired.get(k, 0) + v
            # a fresh decoder forgets the sequence baseline and the half-read frame
            self._decoder = P.StreamDecoder()
            self._t_window.clear()
            self._t_prev = None
        for p in waiting:
            p.error = LinkDown("The dowel was unplugged while waiting for an answer (%s)." % exc)
            p.done.set()
        self._discard_held()  # read from a dowel that never confirmed who it is
        self._start_in_flight = False  # its START, if any, went with the port
        if self._gap_open is None:
            self._gap_open = {
                "start_wall": self._last_rx_wall if self._last_rx_wall is not None else time.time(),
                "start_mono": self._last_rx_mono if self._last_rx_mono is not None else time.monotonic(),
                "last_seq": self._last_seq,
                "reason": reason,
            }
            self._gap_streaming = self._samples_this_conn > 0
        self._samples_this_conn = 0
        self._handshake_mono = None
        self._resume = True
        self._next_attempt = time.monotonic()
        self._last_reopen_error = None
        self._set_state(RECONNECTING, "%s; reconnecting." % reason, error=exc)

    def _try_reopen(self):
        delay = self._next_attempt - time.monotonic()
        if delay > 0 and self._stop.wait(delay):
            return
        self._next_attempt = time.monotonic() + self.reconnect_interval_s
        ser = None
        if self._foreign_here:  # another dowel holds the path: look for ours elsewhere first
            ser = self._find_same_board()
        if ser is None:
            try:
                ser = open_serial(self.port, read_timeout_s=_READ_TIMEOUT_S)
            except PortError as e:
                self._note_reopen_error(e)
                ser = self._find_same_board()
                if ser is None:
                    return
        with self._wlock:
            if self._stop.is_set():
                ser.close()
                return
            self._ser = ser
        self._begin_handshake()

    def _note_reopen_error(self, open_error):
        """The port failed to reopen: report each new kind of failure once."""
        msg = str(open_error)
        if msg != self._last_reopen_error:
            self._last_reopen_error = msg
            if not msg.startswith("No serial port at"):  # a missing port is what we expect
                self._emit("warning", msg, error=open_error)

    def _find_same_board(self):
        """Look for this session's board on the other dowel-like ports (once a second)."""
        board_id = self._board_id if self._board_id is not None else (
            self._info.board_id if self._info is not None else None
        )
        now = time.monotonic()
        if board_id is None or self._list_ports is None or now < self._next_detect:
            return None
        self._next_detect = now + _DETECT_EVERY_S
        others = [e for e in self._list_ports() if e.device != self.port and e.looks_like_dowel]
        if not others:
            return None
        try:
            path, _ = find_dowel(board_id=board_id, ports=others)
            ser = open_serial(path, read_timeout_s=_READ_TIMEOUT_S)
        except PortError as e:
            if str(e) != self._last_reopen_error and "is not connected" not in str(e):
                self._last_reopen_error = str(e)
                self._emit("warning", str(e), error=e)
            return None
        self._emit("warning", "The dowel %s came back on %s (was %s)." % (board_id, path, self.port))
        self.port = path
        self._foreign_here = False
        return ser

    def _close_gap(self, m, now, wall):
        g = self._gap_open
        self._gap_open = None
        last = g["last_seq"]
        lost = None
        restarted = False
        if self._gap_restarted:
            restarted = True  # a new boot id: what it lost meanwhile is unknown
            self._gap_restarted = False
        elif last is not None:
            d = (m.seq - last - 1) & 0xFFFF
            elapsed = max(0.0, now - g["start_mono"])
            bound = elapsed * P.RATE_MAX_HZ * 1.1 + _EXTRA_FRAMES
            if d < 0x8000 and d <= bound:
                lost = d
            else:
                restarted = True
        gap = Gap(self.port, g["start_wall"], wall, lost, restarted, g["reason"])
        with self._lock:
            self._gaps.append(gap)
            self._reconnects += 1
            self._gap_lost += lost or 0
        if lost is None:
            detail = "the dowel restarted" if restarted else "frames lost unknown"
        else:
            detail = "%d frames lost" % lost
        self._emit(
            "gap",
            "The dowel is back on %s after %.1f s without data (%s)." % (self.port, gap.duration_s, detail),
            gap=gap,
        )
