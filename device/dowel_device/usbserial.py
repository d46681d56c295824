"""The USB CDC serial port of the rp2 port as non-blocking frame output and host-byte input.

Why writes need care: on rp2 (MicroPython 1.22 to 1.28) POLLOUT on stdout only says that at
least one byte of the TX FIFO (256 bytes) is free, and a write that does not fit waits up to
500 ms per 64-byte piece for the host to drain, which a host that stopped reading never does.
So a frame must only be started when it will fit.

How this class knows it fits: every write it makes is a whole number of 64-byte chunks (each
frame is followed by enough 0x00 delimiters, which the host skips as empty frames). The FIFO's
capacity (256) is a multiple of 64 and TinyUSB drains it in pieces of min(64, what it holds),
so its fill stays a multiple of 64: whenever POLLOUT says "not full", at least 64 bytes are
free. A frame of up to 64 bytes (SAMPLE: 35, STATUS: 52, INFO, ACK, NACK) is then written at
once; a longer one (TEXT) is copied into a staging buffer and sent a chunk at a time, each
chunk only when POLLOUT allows, so it goes out whole; frames offered meanwhile are refused (the
firmware counts them as drops). (Protocol 1.1's 31-byte SAMPLE went in 32-byte chunks; 1.2's
check made it 35 bytes, and a 64-byte chunk keeps it one write instead of a staged copy.)

The fill is brought to a multiple of 64 first (boot messages may have left any amount): single
zero bytes, which always fit, until the FIFO is full or a draining host has taken more than it
holds. A write that comes back short all the same (nothing here should allow it) is counted in
`short_writes` and the alignment is redone, which also ends the torn frame.

Nothing here allocates per frame: the staging buffer, its chunk views and the padding are made
once.
"""

from dowel_protocol.compat import const

CHUNK = const(64)  # every write to the FIFO is a multiple of this
_STAGE_LEN = const(256)  # the longest frame (248 bytes) rounded up to whole chunks
_ALIGN_MAX = const(288)  # zero bytes written to align: more than the FIFO holds
_ETX = const(0x03)


class UsbSerial:
    """Frames out without ever blocking, host bytes in without blocking.

    stdin/stdout: the byte streams (sys.stdin.buffer, sys.stdout.buffer); poll_in/poll_out:
    select.poll objects with stdin registered for POLLIN and stdout for POLLOUT (ipoll(0)
    answers without blocking and without allocating).
    """

    def __init__(self, stdin, stdout, poll_in, poll_out):
        self._in = stdin
        self._out = stdout
        self._poll_in = poll_in
        self._poll_out = poll_out
        self._byte = bytearray(1)
        self._zeros = tuple(bytes(k) for k in range(CHUNK + 1))
        self._stage = bytearray(_STAGE_LEN)
        stage = memoryview(self._stage)
        self._chunks = tuple(stage[i : i + CHUNK] for i in range(0, _STAGE_LEN, CHUNK))
        self._staged = 0  # chunks of a long frame in the staging buffer
        self._next = 0  # the next of them to send
        self._aligned = False
        self.short_writes = 0
        self.align_bytes = 0

    def _writable(self):
        for _ in self._poll_out.ipoll(0):
            return True
        return False

    def _align(self):
        n = 0
        zero = self._zeros[1]
        while n < _ALIGN_MAX and self._writable():
            self._out.write(zero)  # one byte always fits while POLLOUT holds
            n += 1
        self.align_bytes += n
        self._aligned = True

    def _short(self):
        self.short_writes += 1
        self._aligned = False
        self._staged = 0
        self._next = 0

    def _send_staged(self):
        chunks = self._chunks
        while self._next < self._staged and self._writable():
            r = self._out.write(chunks[self._next])
            if r is not None and r != CHUNK:
                self._short()
                return
            self._next += 1
        if self._next >= self._staged:
            self._staged = 0
            self._next = 0

    def write(self, buf):
        """Queue one frame; False (frame not taken, nothing written) if it cannot go now."""
        if not self._aligned:
            self._align()
        if self._staged:
            self._send_staged()  # the rest of a long frame goes first
            if self._staged:
                return False
        if not self._writable():
            return False
        n = len(buf)
        if n <= CHUNK:
            r = self._out.write(buf)
            if r is not None and r != n:
                self._short()
                return False
            pad = (CHUNK - n) & (CHUNK - 1)
            if pad:
                self._out.write(self._zeros[pad])  # fits: the chunk had CHUNK bytes free
            return True
        if n > _STAGE_LEN:
            return False
        stage = self._stage
        i = 0
        while i < n:
            stage[i] = buf[i]
            i += 1
        end = (n + CHUNK - 1) & ~(CHUNK - 1)
        while i < end:
            stage[i] = 0
            i += 1
        self._staged = end // CHUNK
        self._next = 0
        self._send_staged()
        return True

    def pending(self):
        """True while the tail of a long frame waits for room."""
        return self._staged != 0

    def _readable(self):
        for _ in self._poll_in.ipoll(0):
            return True
        return False

    def rx_pending(self):
        """True if host bytes are waiting (nothing is read)."""
        return self._readable()

    def read_into(self, buf):
        """Host bytes into buf without blocking; the count (0 if none).

        Stops after a 0x03 so that, on an mpremote break-in, the bytes that follow stay for
        the REPL.
        """
        n = 0
        cap = len(buf)
        one = self._byte
        while n < cap:
            if not self._readable():
                break
            if not self._in.readinto(one):
                break
            c = one[0]
            buf[n] = c
            n += 1
            if c == _ETX:
                break
        return n
