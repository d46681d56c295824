"""Streaming decoder: bytes in any chunking go in, messages come out.

It never raises on bytes from the wire. Every frame it cannot use is counted under one reason,
lost frames are counted from sequence-number gaps, and a run of junk without a delimiter is
dropped once it exceeds the largest possible frame, so the buffer stays bounded.
"""

from .cobs import decode as cobs_decode

try:  # on the host, the C implementation of the same COBS (PyPI `cobs`) is much faster
    from cobs.cobs import DecodeError as _FastCobsError
    from cobs.cobs import decode as _fast_cobs_decode
except ImportError:  # MicroPython, or the package is absent: the pure implementation
    _fast_cobs_decode = None
from .errors import CobsError, CrcError, FrameError, UnknownTypeError
from .messages import MAX_ENCODED, unpack_body


class StreamDecoder:
    """Turns a byte stream into Message objects and keeps link counters.

    Counters (all ints): frames (decoded), crc_errors, malformed (bad COBS, length or
    version), unknown_type, oversize (junk runs longer than a frame), bytes_discarded,
    lost_frames (sum of forward sequence gaps, 1..32767), gaps (how many gaps), restarts
    (the sequence jumped backwards: the sender restarted, counted as no loss).
    With report_errors=True, feed() also returns the ProtocolError of each rejected frame,
    in stream order (the firmware uses this to NACK a broken command).
    """

    def __init__(self, report_errors=False):
        self.report_errors = report_errors
        self._buf = bytearray()
        self._discarding = False
        self._expect_seq = -1
        self.frames = 0
        self.crc_errors = 0
        self.malformed = 0
        self.unknown_type = 0
        self.oversize = 0
        self.bytes_discarded = 0
        self.lost_frames = 0
        self.gaps = 0
        self.restarts = 0

    def resync(self):
        """Forget the sequence baseline (after a reconnect or a device reset)."""
        self._expect_seq = -1

    def rejected(self):
        """Frames rejected for any reason."""
        return self.crc_errors + self.malformed + self.unknown_type + self.oversize

    def counters(self):
        return {
            "frames": self.frames,
            "crc_errors": self.crc_errors,
            "malformed": self.malformed,
            "unknown_type": self.unknown_type,
            "oversize": self.oversize,
            "bytes_discarded": self.bytes_discarded,
            "lost_frames": self.lost_frames,
            "gaps": self.gaps,
            "restarts": self.restarts,
        }

    def _track_seq(self, seq):
        exp = self._expect_seq
        if exp >= 0 and seq != exp:
            gap = (seq - exp) & 0xFFFF
            if gap < 0x8000:
                self.lost_frames += gap
                self.gaps += 1
            else:
                # the sequence went backwards: the sender restarted, nothing was lost here
                self.restarts += 1
        self._expect_seq = (seq + 1) & 0xFFFF

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
                msg = unpack_body(body)
            except CrcError as e:
                self.crc_errors += 1
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
                if self.report_errors:
                    out.append(e)
                continue
            self.frames += 1
            self._track_seq(msg.seq)
            out.append(msg)
        return out

    def _drop_junk(self, n):
        if not self._discarding:
            self.oversize += 1
            self._discarding = True
        self.bytes_discarded += n
