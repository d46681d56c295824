"""The rp2 port's USB CDC stdout as MicroPython 1.24-1.28 has it, on a fake board's clock.

TX FIFO of 256 bytes; POLLOUT while at least one byte is free (or while no host has the port
open); a write goes in pieces of at most 64 bytes and waits, up to 500 ms per piece, until the
whole piece fits, then writes what fits; the stream layer calls it again for the rest while it
makes progress (mp_usbd_cdc_tx_strn and mp_stream_rw). A draining host takes min(64, what the
FIFO holds) every 100 us, as TinyUSB hands the FIFO to the IN endpoint. Every write's blocking
time (virtual) is recorded, beyond the WRITE_COST_US that every call takes on the Pico.
"""

CAPACITY = 256
EP_SIZE = 64
TX_TIMEOUT_US = 500000
DRAIN_EVERY_US = 100
POLLOUT = 4
WRITE_COST_US = 10  # CPU time of one write call on the Pico (about 1,000 instructions)


class FakeCdc:
    def __init__(self, board, fill=b"", sink=None):
        self.board = board
        self.fifo = bytearray(fill)
        self.connected = True
        self.draining = True
        self.sink = sink  # called with each piece the host reads, in order
        self.max_block_us = 0
        self.writes = 0
        self._last = board.now
        self._ready = ((self, POLLOUT),)

    # the host side
    def service(self):
        b = self.board
        while b.ticks_diff(b.now, self._last) >= DRAIN_EVERY_US:
            self._last = b.ticks_add(self._last, DRAIN_EVERY_US)
            if self.draining and self.connected and self.fifo:
                n = min(EP_SIZE, len(self.fifo))
                if self.sink is not None:
                    self.sink(bytes(self.fifo[:n]))
                self.fifo = self.fifo[n:]
        if not self.draining:
            self._last = b.now

    def free(self):
        return CAPACITY - len(self.fifo)

    # select.poll on stdout for POLLOUT
    def ipoll(self, timeout):
        self.service()
        if not self.connected or self.free() > 0:
            return self._ready
        return ()

    # sys.stdout.buffer
    def _tx(self, buf, start):
        b = self.board
        i = start
        n_all = len(buf)
        while i < n_all:
            n = min(EP_SIZE, n_all - i)
            if self.connected:
                t0 = b.now
                while n > self.free() and b.ticks_diff(b.now, t0) < TX_TIMEOUT_US:
                    b.advance(1000)  # mp_event_wait_ms(1)
                    self.service()
                n = min(n, self.free())
                if n == 0:
                    break
            self.fifo.extend(buf[i : i + n])
            if len(self.fifo) > CAPACITY:  # not connected: the FIFO keeps the latest bytes
                self.fifo = self.fifo[len(self.fifo) - CAPACITY :]
            i += n
        return i - start

    def write(self, buf):
        self.writes += 1
        b = self.board
        b.advance(WRITE_COST_US)
        self.service()
        t0 = b.now
        done = 0
        while done < len(buf):
            r = self._tx(buf, done)
            if r == 0:
                break
            done += r
        block = b.ticks_diff(b.now, t0)
        if block > self.max_block_us:
            self.max_block_us = block
        return done


class NoInput:
    """stdin with nothing to read."""

    def ipoll(self, timeout):
        return ()

    def readinto(self, buf):
        return 0
