"""The dowel's main loop: a drift-free fixed-rate sampler streaming protocol 1.2, and the host's
commands. It talks to hardware only through a board object (see board.py for the interface), so
the same code runs on the Pico, in the simulated dowel on CPython, and against test fakes.

Nothing on the sampling path allocates: SAMPLE and STATUS frames are packed into buffers made
once, FSR oversampling and the schedule use small-int arithmetic, and reading the host costs
nothing while no bytes are waiting.
"""

import struct
from array import array

from os import urandom  # rp2: bits from the ring oscillator; also on CPython and the unix port

from dowel_protocol.cobs import decode as cobs_decode
from dowel_protocol.cobs import encode_into as cobs_encode_into
from dowel_protocol.crc import CHECK_LEN, crc16_buf, crc32_into
from dowel_protocol.errors import ProtocolError, UnknownTypeError, VersionError
from dowel_protocol.messages import (
    ACK,
    APPENDED,
    CHECK_SINCE_MINOR,
    CMD_GET_INFO,
    CMD_GET_STATUS,
    CMD_PING,
    CMD_RESET,
    CMD_SET_RATE,
    CMD_START,
    CMD_STOP,
    CRC_LEN,
    ERR_BAD_FRAME,
    ERR_BAD_LENGTH,
    ERR_BAD_VERSION,
    ERR_INTERNAL,
    ERR_OUT_OF_RANGE,
    ERR_UNKNOWN_COMMAND,
    FLAG_IMU_MISSING,
    FLAG_IMU_STALE,
    FLAG_LATE,
    FLAG_RESYNC,
    HEADER_FMT,
    HEADER_LEN,
    IMU_NAMES,
    IMU_NONE,
    INFO,
    LEVEL_ERROR,
    LEVEL_INFO,
    LEVEL_WARNING,
    MAX_ENCODED,
    MESSAGES,
    NACK,
    PROTOCOL_VERSION,
    RATE_MAX_HZ,
    RATE_MIN_HZ,
    SENSOR_HEAD,
    SENSOR_IMU,
    SENSOR_MIDBACK,
    SENSOR_TAILBONE,
    STATUS,
    STATUS_IMU_PRESENT,
    STATUS_STREAMING,
    STATUS_WATCHDOG,
    TEXT,
    SampleWriter,
    pack,
    unpack_body,
)

from dowel_protocol.compat import const
from .config import (
    DEFAULT_OVERSAMPLE,
    DEFAULT_RATE_HZ,
    FW_MAJOR,
    FW_MINOR,
    FW_PATCH,
    IMU_RETRY_MS,
    OVERSAMPLE_MAX_RATE_HZ,
    STATUS_PERIOD_MS,
    WATCHDOG_TIMEOUT_MS,
)

# Longest sleep inside one poll(): host commands are looked at least this often.
MAX_SLEEP_US = const(5000)
# Sleep per poll() while idle.
IDLE_SLEEP_US = const(1000)
# Bytes read from the host per poll(); a command frame is at most 14 bytes on the wire.
RX_CHUNK = const(64)

# IMU states
_IMU_OK = const(0)
_IMU_STALE = const(1)  # the last read failed: its fields repeat the last good reading
_IMU_MISSING = const(2)  # no IMU answered: its fields are 0

# mpremote breaks in with "\r" then Ctrl-C (older versions: "\r\x03\x03"), then waits before
# sending more. A command frame can never start with 0x0D (its COBS code byte is at most 10), so
# "\r\x03" right after a frame delimiter is a break-in. Anywhere else (inside a partial frame,
# or in junk being skipped) it is one when nothing follows it: a host writes a command frame in
# one go, so the bytes after a "\r\x03" that is command data are already waiting. Ctrl-C itself
# is off while the firmware runs, so a 0x03 inside a command is just data.
_CR = const(0x0D)
_CTRL_C = const(0x03)

# Counters wrap at 2**30, as STATUS sends them: on the RP2040 a MicroPython small int holds 31
# bits, and anything wider (even the constant 0xFFFFFFFF) is a heap-allocated big int.
_SMALL_MASK = const(0x3FFFFFFF)
# Busy sums are clamped here (about 100 s), far inside the small-int range.
_BUSY_CAP_US = const(100000000)

# STATUS is packed in three parts: the counters (the 1.0 layout), the boot id (4 bytes written
# once: as an int it would be a big int on the board), then the busy times; then the check
# (1.2: the CRC-32, written as 4 bytes) and the CRC-16.
_STATUS_COUNTERS_FMT = APPENDED[STATUS][1]
_STATUS_BOOT_ID_AT = HEADER_LEN + struct.calcsize(_STATUS_COUNTERS_FMT)
_STATUS_BUSY_FMT = "<II"
_STATUS_BUSY_AT = _STATUS_BOOT_ID_AT + 4
_STATUS_CHECK_AT = HEADER_LEN + struct.calcsize(MESSAGES[STATUS][1])
_STATUS_BODY_LEN = _STATUS_CHECK_AT + CHECK_LEN + CRC_LEN
_STATUS_FRAME_LEN = _STATUS_BODY_LEN + 2  # COBS adds one byte below 254, plus the delimiter
assert _STATUS_BUSY_AT + struct.calcsize(_STATUS_BUSY_FMT) == _STATUS_CHECK_AT
# TEXT to a host that has not spoken 1.2 (SPEC 5.1: TEXT can never be extended, so it cannot
# carry the check to an older host): a 1.1 frame, which 1.0 and 1.1 hosts read as it is.
_TEXT_VERSION_UNCHECKED = const(0x11)


def _draw_boot_id():
    """4 random bytes drawn at power-up: the host tells a restart from a lost stretch by them."""
    return bytes(urandom(4))


class BreakIn(KeyboardInterrupt):
    """mpremote broke in: the firmware stopped, the port goes to the REPL. args[0]: the board."""


class _StatusWriter:
    """Packs STATUS frames into buffers made once (STATUS goes out every second while
    streaming, so it must not allocate either)."""

    def __init__(self, boot_id):
        self.body = bytearray(_STATUS_BODY_LEN)
        self.frame = bytearray(_STATUS_FRAME_LEN)
        self.body[_STATUS_BOOT_ID_AT : _STATUS_BOOT_ID_AT + 4] = boot_id

    def pack(self, seq, uptime_ms, samples, overruns, drops, imu_errors, loop_errors,
             rate_hz, flags, last_error, busy_mean_us, busy_max_us):
        body = self.body
        struct.pack_into(HEADER_FMT, body, 0, PROTOCOL_VERSION, STATUS, seq & 0xFFFF)
        struct.pack_into(
            _STATUS_COUNTERS_FMT, body, HEADER_LEN,
            uptime_ms & _SMALL_MASK, samples & _SMALL_MASK, overruns & _SMALL_MASK,
            drops & _SMALL_MASK, imu_errors & _SMALL_MASK, loop_errors & _SMALL_MASK,
            rate_hz, flags, last_error,
        )
        struct.pack_into(_STATUS_BUSY_FMT, body, _STATUS_BUSY_AT,
                         busy_mean_us & _SMALL_MASK, busy_max_us & _SMALL_MASK)
        crc32_into(body, _STATUS_CHECK_AT)
        c = crc16_buf(body, _STATUS_BODY_LEN - CRC_LEN)
        body[_STATUS_BODY_LEN - 2] = c & 0xFF
        body[_STATUS_BODY_LEN - 1] = c >> 8
        frame = self.frame
        cobs_encode_into(body, _STATUS_BODY_LEN, frame)
        frame[_STATUS_FRAME_LEN - 1] = 0
        return frame


class Firmware:
    """The sampler and command handler of one dowel.

    Counters (ints, also sent in STATUS): samples (taken), overruns (sample slots skipped
    because the loop was late), drops (frames the USB link refused; they still use a sequence
    number, so the host counts them lost), imu_errors (failed IMU reads and failed re-probes of
    an IMU that had been present), loop_errors (exceptions caught by poll()).

    boot_id: 4 random bytes drawn when the firmware starts (little-endian u32 in INFO and
    STATUS). host_minor: the minor version of the host's latest good command (this firmware's
    own until one came): TEXT carries the check only to a host of 1.2 or later. busy_mean_us / busy_max_us: the time the loop spent working (not sleeping) per
    sample slot, mean and maximum over the last STATUS period.
    """

    def __init__(self, board, rate_hz=DEFAULT_RATE_HZ, oversample=DEFAULT_OVERSAMPLE,
                 autostart=False, boot_id=None):
        if not RATE_MIN_HZ <= rate_hz <= RATE_MAX_HZ:
            raise ValueError("rate_hz must be %d..%d" % (RATE_MIN_HZ, RATE_MAX_HZ))
        if not 1 <= oversample <= 64:
            raise ValueError("oversample must be 1..64")
        self._oversample_asked = oversample
        self.board = board
        self.rate_hz = rate_hz
        self.oversample = _oversample_at(rate_hz, oversample)
        self.streaming = False
        self.seq = 0
        self.samples = 0
        self.overruns = 0
        self.drops = 0
        self.imu_errors = 0
        self.loop_errors = 0
        self.last_error = 0
        self.last_exception = None
        # a watchdog that survived a soft reset is fed from the first poll on
        self.watchdog_started = board.watchdog_running()
        self.broke_in = False  # the loop ended on an mpremote break-in (not a stray Ctrl-C)
        self.host_minor = PROTOCOL_VERSION & 0x0F
        self.boot_id = bytes(boot_id) if boot_id is not None else _draw_boot_id()
        if len(self.boot_id) != 4:
            raise ValueError("boot_id must be 4 bytes")
        self.busy_mean_us = 0
        self.busy_max_us = 0
        self._slot_busy_us = 0  # work so far in the current slot (polls before the sample)
        self._busy_sum_us = 0  # over the current STATUS period
        self._busy_slots = 0
        self._busy_peak_us = 0

        self._period_us = 1000000 // rate_hz
        self._writer = SampleWriter()
        self._status = _StatusWriter(self.boot_id)
        self._imu = array("h", (0, 0, 0, 0, 0, 0))
        self._flags_once = 0  # FLAG_RESYNC for the first sample after start or a rate change

        # host bytes: one receive chunk, one frame being assembled
        self._rx = bytearray(RX_CHUNK)
        self._frame = bytearray(MAX_ENCODED)
        self._flen = 0
        self._discarding = False
        self._last_rx = 0  # the byte before, for "\r\x03"
        self._maybe_break = False  # "\r\x03" inside a frame with more bytes waiting

        now = board.ticks_us()
        self._next_us = now
        self._status_due = now
        self._imu_retry_due = now
        self._error_report_due = now
        self._up_mark = now
        self._up_ms = 0

        self._imu_type = board.imu_probe()
        self._imu_seen = self._imu_type != IMU_NONE
        self._imu_state = _IMU_OK if self._imu_seen else _IMU_MISSING

        board.set_streaming(False)
        board.led(False)
        if autostart:
            self._start()

    # ----------------------------------------------------------------------------- main loop

    def run(self, max_samples=None):
        """Loop forever, or until max_samples more samples have been taken."""
        if max_samples is None:
            while True:
                self.poll()
        taken = 0
        last = self.samples
        while taken < max_samples:
            self.poll()
            if self.samples != last:
                taken += (self.samples - last) & _SMALL_MASK
                last = self.samples

    def poll(self):
        """One iteration: host commands, then the next sample when its slot comes.

        An exception is counted, reported (STATUS then TEXT) and the loop goes on; the
        schedule has already moved past the failing slot, so a persistent fault cannot spin.
        KeyboardInterrupt (an mpremote break-in) is not caught.
        """
        try:
            self._poll()
        except Exception as e:  # the loop must survive anything; each one is counted and sent
            self._loop_error(e)

    def _poll(self):
        b = self.board
        t0 = b.ticks_us()
        if self.watchdog_started:
            b.watchdog_feed()
        n = b.read_into(self._rx)
        if n:
            self._receive(n)
        now = b.ticks_us()
        self._track_uptime(now)
        if not self.streaming:
            b.sleep_us(IDLE_SLEEP_US)
            return
        wait = b.ticks_diff(self._next_us, now)
        if wait > 0:
            # the work before a sleep belongs to the slot being waited for
            self._slot_busy_us += b.ticks_diff(now, t0)
            if wait > MAX_SLEEP_US:
                b.sleep_us(MAX_SLEEP_US)
                return
            b.sleep_us(wait)
            now = b.ticks_us()
            t0 = now
        self._sample(now)
        if b.ticks_diff(now, self._status_due) >= 0:
            self._status_due = b.ticks_add(self._status_due, STATUS_PERIOD_MS * 1000)
            if b.ticks_diff(now, self._status_due) >= 0:
                self._status_due = b.ticks_add(now, STATUS_PERIOD_MS * 1000)
            self._close_busy_period()
            self._send_status()
        if self._imu_state != _IMU_OK and b.ticks_diff(now, self._imu_retry_due) >= 0:
            self._retry_imu(now)
        self._close_slot(b.ticks_diff(b.ticks_us(), t0))

    def _close_slot(self, busy_us):
        busy = self._slot_busy_us + busy_us
        self._slot_busy_us = 0
        if busy > _BUSY_CAP_US:  # a stall of minutes: keep the sums small ints
            busy = _BUSY_CAP_US
        self._busy_sum_us += busy
        if self._busy_sum_us > _BUSY_CAP_US:
            self._busy_sum_us = _BUSY_CAP_US
        self._busy_slots += 1
        if busy > self._busy_peak_us:
            self._busy_peak_us = busy

    def _close_busy_period(self):
        """The busy figures STATUS reports: those of the STATUS period just ended."""
        n = self._busy_slots
        self.busy_mean_us = self._busy_sum_us // n if n else 0
        self.busy_max_us = self._busy_peak_us
        self._busy_sum_us = 0
        self._busy_slots = 0
        self._busy_peak_us = 0

    def _sample(self, now):
        b = self.board
        period = self._period_us
        flags = self._flags_once
        self._flags_once = 0
        late = b.ticks_diff(now, self._next_us)
        if late >= period:
            # whole slots were missed: skip them (no burst of catch-up samples) and count them
            missed = late // period
            self.overruns = _count(self.overruns, missed)
            flags |= FLAG_LATE
            self._next_us = b.ticks_add(self._next_us, missed * period)
        self._next_us = b.ticks_add(self._next_us, period)

        n = self.oversample
        head = self._read_fsr(0, n)
        midback = self._read_fsr(1, n)
        tailbone = self._read_fsr(2, n)

        imu = self._imu
        state = self._imu_state
        if state == _IMU_OK:
            try:
                b.imu_read(imu)
            except OSError as e:
                self._imu_failed(e, now)
                flags |= FLAG_IMU_STALE
        elif state == _IMU_STALE:
            flags |= FLAG_IMU_STALE
        else:
            flags |= FLAG_IMU_MISSING

        frame = self._writer.pack(self.seq, now, head, midback, tailbone, imu, flags)
        n = self.samples
        self.samples = n + 1 if n < _SMALL_MASK else 0  # wraps like STATUS: no big int, ever
        self._send(frame)

    def _read_fsr(self, ch, n):
        # board.read_fsr is called as a method each time: binding it to a local would
        # allocate a bound-method object on MicroPython
        b = self.board
        total = 0
        i = 0
        while i < n:
            total += b.read_fsr(ch)
            i += 1
        return total // n

    def _track_uptime(self, now):
        d = self.board.ticks_diff(now, self._up_mark)
        if d >= 1000:
            ms = d // 1000
            self._up_ms = _count(self._up_ms, ms)
            self._up_mark = self.board.ticks_add(self._up_mark, ms * 1000)

    # --------------------------------------------------------------------------------- IMU

    def _imu_failed(self, e, now):
        self.imu_errors = _count(self.imu_errors, 1)
        self._imu_state = _IMU_STALE
        self._imu_retry_due = self.board.ticks_add(now, IMU_RETRY_MS * 1000)
        self._send_text(
            LEVEL_WARNING,
            "IMU read failed (%s); FSRs keep streaming, IMU retried every %d ms"
            % (_describe(e), IMU_RETRY_MS),
        )

    def _retry_imu(self, now):
        self._imu_retry_due = self.board.ticks_add(now, IMU_RETRY_MS * 1000)
        found = self.board.imu_probe()
        if found != IMU_NONE:
            self._imu_type = found
            self._imu_state = _IMU_OK
            self._imu_seen = True
            self._send_text(LEVEL_INFO, "IMU %s found" % IMU_NAMES.get(found, "?"))
            return
        if self._imu_seen:
            self.imu_errors = _count(self.imu_errors, 1)
        if self._imu_state != _IMU_MISSING:
            # nothing answers any more: stop repeating the old reading
            self._imu_state = _IMU_MISSING
            self._imu_type = IMU_NONE
            imu = self._imu
            i = 0
            while i < 6:
                imu[i] = 0
                i += 1

    # ------------------------------------------------------------------------------ output

    def _send(self, frame):
        # the sequence number is used even when the link refuses the frame: the host sees the
        # gap and counts the frame lost
        self.seq = (self.seq + 1) & 0xFFFF
        if not self.board.write(frame):
            self.drops = _count(self.drops, 1)

    def _send_message(self, msg_type, values):
        self._send(pack(msg_type, self.seq, values))

    def _send_text(self, level, text):
        version = PROTOCOL_VERSION if self.host_minor >= CHECK_SINCE_MINOR \
            else _TEXT_VERSION_UNCHECKED
        self._send(pack(TEXT, self.seq, (level, text), version))

    def _status_flags(self):
        f = 0
        if self.streaming:
            f |= STATUS_STREAMING
        if self._imu_state == _IMU_OK:
            f |= STATUS_IMU_PRESENT
        if self.watchdog_started:
            f |= STATUS_WATCHDOG
        return f

    def _send_status(self):
        frame = self._status.pack(
            self.seq, self._up_ms, self.samples, self.overruns, self.drops, self.imu_errors,
            self.loop_errors, self.rate_hz, self._status_flags(), self.last_error,
            self.busy_mean_us, self.busy_max_us,
        )
        self._send(frame)

    def _send_info(self):
        sensors = SENSOR_HEAD | SENSOR_MIDBACK | SENSOR_TAILBONE
        if self._imu_state == _IMU_OK:
            sensors |= SENSOR_IMU
        self._send_message(INFO, (
            FW_MAJOR, FW_MINOR, FW_PATCH, PROTOCOL_VERSION, bytes(self.board.board_id),
            sensors, self._imu_type, self.rate_hz, self.oversample, 1 if self.streaming else 0,
            struct.unpack("<I", self.boot_id)[0],
        ))

    def _ack(self, cmd_type, cmd_seq):
        self._send_message(ACK, (cmd_type, cmd_seq))

    def _nack(self, cmd_type, cmd_seq, error):
        self.last_error = error
        self._send_message(NACK, (cmd_type, cmd_seq, error))

    def _loop_error(self, e):
        self.loop_errors = _count(self.loop_errors, 1)
        self.last_error = ERR_INTERNAL
        self.last_exception = e
        b = self.board
        try:
            now = b.ticks_us()
            # a fault that repeats every sample is reported once a second, counted every time
            if self.loop_errors == 1 or b.ticks_diff(now, self._error_report_due) >= 0:
                self._error_report_due = b.ticks_add(now, STATUS_PERIOD_MS * 1000)
                self._send_status()
                self._send_text(LEVEL_ERROR, "loop error: " + _describe(e))
        except Exception as e2:  # reporting itself failed (e.g. the link): keep the newest
            self.last_exception = e2

    # ----------------------------------------------------------------------------- commands

    def _receive(self, n):
        """Split host bytes into frames at 0x00 and handle each; spot an mpremote break-in."""
        rx = self._rx
        frame = self._frame
        i = 0
        while i < n:
            c = rx[i]
            i += 1
            last = self._last_rx
            self._last_rx = c
            if c == _CTRL_C:
                if last == _CR:
                    if self._flen == 1 and frame[0] == _CR and not self._discarding:
                        self._break_in()
                    if i >= n and not self.board.rx_pending():
                        self._break_in()
                    self._maybe_break = True
                elif self._maybe_break:
                    self._break_in()  # "\r\x03\x03"
            else:
                self._maybe_break = False
            if c == 0:
                if self._discarding:
                    self._discarding = False
                elif self._flen:
                    enc = bytes(frame[: self._flen])
                    self._flen = 0
                    self._handle_frame(enc)
                continue
            if self._discarding:
                continue
            if self._flen >= MAX_ENCODED:
                # longer than any frame: junk; drop it up to the next delimiter
                self._flen = 0
                self._discarding = True
                self._nack(0, 0, ERR_BAD_FRAME)
                continue
            frame[self._flen] = c
            self._flen += 1

    def _break_in(self):
        self._stop()
        self._flen = 0
        self._maybe_break = False
        self.broke_in = True
        raise BreakIn(self.board)

    def _handle_frame(self, enc):
        """Decode one command frame with the shared protocol code and NACK what is wrong."""
        try:
            msg = unpack_body(cobs_decode(enc))
        except VersionError as e:
            self._nack(e.msg_type, e.seq, ERR_BAD_VERSION)
            return
        except UnknownTypeError as e:
            self._nack(e.msg_type, e.seq, ERR_UNKNOWN_COMMAND)
            return
        except ProtocolError as e:
            if e.seq is None:  # COBS, CRC or frame length: nothing in it can be trusted
                self._nack(0, 0, ERR_BAD_FRAME)
            elif e.msg_type < 0x80:
                self._nack(e.msg_type, e.seq, ERR_UNKNOWN_COMMAND)
            else:
                self._nack(e.msg_type, e.seq, ERR_BAD_LENGTH)
            return
        self.host_minor = msg.version & 0x0F
        if msg.type < 0x80:  # a device->host type sent the wrong way
            self._nack(msg.type, msg.seq, ERR_UNKNOWN_COMMAND)
            return
        self._command(msg)

    def _command(self, msg):
        t = msg.type
        s = msg.seq
        if t == CMD_PING:
            self._ack(t, s)
        elif t == CMD_GET_INFO:
            self._send_info()
            self._ack(t, s)
        elif t == CMD_START:
            self._ack(t, s)
            self._start()
        elif t == CMD_STOP:
            self._stop()
            self._ack(t, s)
        elif t == CMD_SET_RATE:
            rate = msg.values[0]
            if not RATE_MIN_HZ <= rate <= RATE_MAX_HZ:  # RATE_MAX_HZ: what the board holds
                self._nack(t, s, ERR_OUT_OF_RANGE)
                return
            self._set_rate(rate)
            self._ack(t, s)
        elif t == CMD_GET_STATUS:
            self._send_status()
            self._ack(t, s)
        elif t == CMD_RESET:
            self._ack(t, s)
            self.board.reset()
        else:  # a host->device type in the table that this firmware does not implement
            self._nack(t, s, ERR_UNKNOWN_COMMAND)

    def _start(self):
        b = self.board
        if not self.watchdog_started:
            # The RP2040 watchdog cannot be stopped or reconfigured once started, so it is
            # only started when streaming first begins; from then on poll() feeds it, idle or
            # not, and a hang of more than WATCHDOG_TIMEOUT_MS resets the board.
            b.watchdog_start(WATCHDOG_TIMEOUT_MS)
            self.watchdog_started = True
        if self.streaming:
            return
        now = b.ticks_us()
        self.streaming = True
        self._next_us = now
        self._status_due = b.ticks_add(now, STATUS_PERIOD_MS * 1000)
        self._flags_once = FLAG_RESYNC
        self._restart_busy_period()
        if self._imu_state != _IMU_OK:
            self._imu_retry_due = now  # look for the IMU right away
        b.set_streaming(True)
        b.led(True)

    def _stop(self):
        if self.streaming:
            self.streaming = False
            self.board.set_streaming(False)
            self.board.led(False)

    def _set_rate(self, rate):
        self.rate_hz = rate
        self._period_us = 1000000 // rate
        self.oversample = _oversample_at(rate, self._oversample_asked)
        if self.streaming:
            b = self.board
            now = b.ticks_us()
            self._next_us = now
            self._flags_once = FLAG_RESYNC
            # the next STATUS reports a whole period at the new rate
            self._status_due = b.ticks_add(now, STATUS_PERIOD_MS * 1000)
            self._restart_busy_period()

    def _restart_busy_period(self):
        self._slot_busy_us = 0
        self._busy_sum_us = 0
        self._busy_slots = 0
        self._busy_peak_us = 0


def _count(value, n):
    """value + n, wrapping at 2**30 with no intermediate value outside the small-int range."""
    room = _SMALL_MASK - value
    return value + n if n <= room else n - room - 1


def _oversample_at(rate_hz, asked):
    """FSR reads averaged per sample at a rate: above OVERSAMPLE_MAX_RATE_HZ the slot has no
    room for more than one read per FSR."""
    return asked if rate_hz <= OVERSAMPLE_MAX_RATE_HZ else 1


def _describe(e):
    """'OSError: [Errno 5] EIO' style text of an exception, without a traceback."""
    return "%s: %s" % (type(e).__name__, e)
