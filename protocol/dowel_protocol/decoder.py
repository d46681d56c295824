"""Streaming decoder: bytes in any chunking go in, messages come out.

It never raises on bytes from the wire. Every frame it cannot use is counted under one reason,
lost frames are counted from sequence-number gaps, and a run of junk without a delimiter is
dropped once it exceeds the largest possible frame, so the buffer stays bounded.

Sequence numbers follow SPEC.md section 4 (protocol 1.1): a break in the sequence counts as
lost frames unless the sender restarted there, and then how many frames it lost is unknown. A
restart is known from a SAMPLE with RESYNC at most RESTART_WINDOW frames after the break, or
from a new boot id in an INFO or STATUS (or the caller's mark_restart(), for a 1.0 sender),
which names, of the breaks since the INFO or STATUS before it, the latest after which the
device clock went backwards (else the latest).

The 32-bit check (SPEC.md section 3, protocol 1.2): once a frame carrying it has been accepted,
the sender is known to speak 1.2 or later, and a frame claiming an older minor version (no
check) is rejected as malformed: a corruption cannot slip past the CRC-32 by damaging the
version byte. A new decoder (a reopened port) knows nothing about its sender again.
"""

from .cobs import decode as cobs_decode

try:  # on the host, the C implementation of the same COBS (PyPI `cobs`) is much faster
    from cobs.cobs import DecodeError as _FastCobsError
    from cobs.cobs import decode as _fast_cobs_decode
except ImportError:  # MicroPython, or the package is absent: the pure implementation
    _fast_cobs_decode = None
from .crc import crc16
from .errors import CheckError, CobsError, CrcError, FrameError, UnknownTypeError, VersionError
from .messages import (
    CHECK_SINCE_MINOR,
    FLAG_RESYNC,
    INFO,
    MAX_ENCODED,
    PROTOCOL_MAJOR,
    SAMPLE,
    STATUS,
    unpack_body,
)

# A sign of a restart this many frames after a sequence break still explains the break (the
# replies to the host's first commands to a restarted device come before its first sample).
RESTART_WINDOW = 8
MAX_BREAKS = 16  # breaks with the clock going back, remembered between two INFO/STATUS


class StreamDecoder:
    """Turns a byte stream into Message objects and keeps link counters.

    Counters (all ints): frames (decoded), crc_errors, malformed (bad COBS, length or
    version), bad_payload (those of them whose CRC passed: their header, and so their
    sequence number, could be trusted), unknown_type, oversize (junk runs longer than a
    frame), bytes_discarded, lost_frames (frames missing from sequence gaps), gaps (how many
    gaps), restarts (the sender restarted), unknown_loss (sequence breaks at a restart: the
    frames lost there cannot be counted), check_errors (those of the crc_errors whose CRC-16
    passed but whose 32-bit check did not: what the CRC-16 alone would have let through),
    downgraded (frames of an older minor, without the check, from a sender known to send it;
    counted as malformed too). boot_id: the sender's latest boot id (None until a 1.1 INFO or
    STATUS). checked: True once a frame with the 32-bit check was accepted.
    With report_errors=True, feed() also returns the ProtocolError of each rejected frame,
    in stream order (the firmware uses this to NACK a broken command).
    """

    def __init__(self, report_errors=False):
        self.report_errors = report_errors
        self._buf = bytearray()
        self._discarding = False
        self._expect_seq = -1
        # a break: [frames it lost (0: none, or no longer counted), at frame number, a
        # restart, the device clock went backwards after it]
        self._last_break = None
        self._back_breaks = []  # breaks after which the clock went back, since the last STATUS
        self._open_break = None  # a break no sample has followed yet
        self._last_t = None  # t_us of the latest SAMPLE
        self._seen = 0  # frames that used a sequence number
        self._status_at = 0  # ... up to the latest INFO or STATUS
        self._status_at_before = 0  # ... up to the one before it
        self.boot_id = None
        self.checked = False
        self.frames = 0
        self.crc_errors = 0
        self.malformed = 0
        self.bad_payload = 0
        self.unknown_type = 0
        self.oversize = 0
        self.bytes_discarded = 0
        self.lost_frames = 0
        self.gaps = 0
        self.restarts = 0
        self.unknown_loss = 0
        self.check_errors = 0
        self.downgraded = 0

    def resync(self):
        """Forget the sequence baseline (after a reconnect or a device reset)."""
        self._expect_seq = -1
        self._last_break = None
        self._back_breaks = []
        self._open_break = None
        self._last_t = None

    def rejected(self):
        """Frames rejected for any reason."""
        return self.crc_errors + self.malformed + self.unknown_type + self.oversize

    def counters(self):
        return {
            "frames": self.frames,
            "crc_errors": self.crc_errors,
            "malformed": self.malformed,
            "bad_payload": self.bad_payload,
            "unknown_type": self.unknown_type,
            "oversize": self.oversize,
            "bytes_discarded": self.bytes_discarded,
            "lost_frames": self.lost_frames,
            "gaps": self.gaps,
            "restarts": self.restarts,
            "unknown_loss": self.unknown_loss,
            "check_errors": self.check_errors,
            "downgraded": self.downgraded,
        }

    def mark_restart(self):
        """The sender restarted, as the caller knows from a 1.0 sender's STATUS or INFO (its
        uptime or stream started again): a break since the INFO or STATUS before that one
        lost an unknown number of frames (see _restarted)."""
        self._restarted()

    def _restarted(self):
        """A restart, known from an INFO or STATUS (a new boot id, or the caller's 1.0 signs).
        Of the sequence breaks since the INFO or STATUS before it, the restart is the latest
        after which the device clock went backwards (a restarted clock starts near 0), or
        else simply the latest."""
        since = self._status_at_before
        back = [b for b in self._back_breaks if b[1] > since]
        b = back[-1] if back else self._last_break
        if b is not None and b[1] <= since:
            b = None
        if b is None or not b[2]:
            self.restarts += 1
        if b is not None:
            b[2] = True
            self._unknown_break(b)

    def _unknown_break(self, b):
        if b[0]:
            self.lost_frames -= b[0]
            self.gaps -= 1
            self.unknown_loss += 1
            b[0] = 0

    def _track_seq(self, seq):
        exp = self._expect_seq
        self._seen += 1
        if exp >= 0 and seq != exp:
            gap = (seq - exp) & 0xFFFF
            if gap < 0x8000:
                self.lost_frames += gap
                self.gaps += 1
                b = [gap, self._seen, False, None]
            else:
                # the sequence went backwards: the sender restarted; what it lost is unknown
                self.restarts += 1
                self.unknown_loss += 1
                b = [0, self._seen, True, None]
            self._last_break = b
            self._open_break = b
        self._expect_seq = (seq + 1) & 0xFFFF

    def _restart_signs(self, msg):
        t = msg.type
        if t == SAMPLE:
            t_us = msg.values[0]
            b = self._open_break
            if b is not None:
                # the first sample after a break: did the device clock go backwards there?
                self._open_break = None
                if self._last_t is not None and \
                        (t_us - self._last_t) & 0x3FFFFFFF >= 0x20000000:
                    b[3] = True
                    self._back_breaks.append(b)
                    if len(self._back_breaks) > MAX_BREAKS:
                        self._back_breaks.pop(0)
            self._last_t = t_us
            b = self._last_break
            if msg.values[10] & FLAG_RESYNC and b is not None:
                if self._seen - b[1] <= RESTART_WINDOW:
                    # its time base restarted: a restart (or a START just after a loss)
                    self._unknown_break(b)
        elif t == INFO or t == STATUS:
            self._status_at_before = self._status_at
            self._status_at = self._seen
            keep = self._status_at_before
            self._back_breaks = [b for b in self._back_breaks if b[1] > keep]
            boot = msg.values[10] if t == INFO else msg.values[9]
            if boot is not None:
                if self.boot_id is not None and boot != self.boot_id:
                    self._restarted()
                self.boot_id = boot

    def feed(self, data):
        """Consume bytes; return the list of messages completed by them."""
        out = []
        buf = self._buf
        buf.extend(data)
        if 0 not in data:
            if len(buf) > MAX_ENCODED:
                self._drop_junk(len(buf))
                self._buf = bytearray()
            return out
        parts = bytes(buf).split(b"\x00")
        self._buf = bytearray(parts.pop())
        if len(self._buf) > MAX_ENCODED:
            self._drop_junk(len(self._buf))
            self._buf = bytearray()
            # the tail is junk: the part after the next delimiter starts clean
        for part in parts:
            if self._discarding:
                # the end of a junk run: everything up to this delimiter belongs to it
                self._discarding = False
                self.bytes_discarded += len(part) + 1
                continue
            n = len(part)
            if n == 0:
                continue  # idle delimiters between frames are allowed
            if n > MAX_ENCODED:
                self.oversize += 1
                self.bytes_discarded += n + 1
                if self.report_errors:
                    out.append(FrameError("frame too long (%d bytes)" % n))
                continue
            try:
                if _fast_cobs_decode is not None:
                    try:
                        body = _fast_cobs_decode(part)
                    except _FastCobsError as e:
                        raise CobsError(str(e))
                else:
                    body = cobs_decode(part)
                if self.checked and len(body) > 6 and body[0] >> 4 == PROTOCOL_MAJOR \
                        and body[0] & 0x0F < CHECK_SINCE_MINOR \
                        and crc16(body[:-2]) == body[-2] | (body[-1] << 8):
                    # no check, from a sender that sends it: its version byte is not to be
                    # believed, nor anything else in it
                    self.downgraded += 1
                    raise FrameError("a %d.%d frame from a sender of the check"
                                     % (body[0] >> 4, body[0] & 0x0F))
                msg = unpack_body(body)
            except CrcError as e:
                self.crc_errors += 1
                if isinstance(e, CheckError):
                    self.check_errors += 1
                self.bytes_discarded += n + 1
                if self.report_errors:
                    out.append(e)
                continue
            except VersionError as e:
                # another major version: even its sequence number means nothing here
                self.malformed += 1
                self.bytes_discarded += n + 1
                if self.report_errors:
                    out.append(e)
                continue
            except UnknownTypeError as e:
                self.unknown_type += 1
                self._track_seq(e.seq)
                if self.report_errors:
                    out.append(e)
                continue
            except (CobsError, FrameError) as e:
                self.malformed += 1
                self.bytes_discarded += n + 1
                if e.seq is not None:
                    # its CRC passed, so its header is the sender's: it used this number
                    self.bad_payload += 1
                    self._track_seq(e.seq)
                if self.report_errors:
                    out.append(e)
                continue
            self.frames += 1
            if not self.checked and msg.version & 0x0F >= CHECK_SINCE_MINOR:
                self.checked = True
            self._track_seq(msg.seq)
            self._restart_signs(msg)
            out.append(msg)
        return out

    def _drop_junk(self, n):
        if not self._discarding:
            self.oversize += 1
            self._discarding = True
        self.bytes_discarded += n
