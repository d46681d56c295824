"""The simulated dowel's serial port: a pseudo-terminal whose slave path any serial client opens
like /dev/ttyACM0, while the device side writes frames to and reads commands from the master.
"""

import os
import select
import tty


class PtyLink:
    """A raw pty. write() never blocks: when the client is not reading and the pty's buffer is
    full, the frame is refused (False), like a USB CDC port nobody drains. A frame that only
    partly fits is finished before anything else is sent, so no frame is ever cut."""

    def __init__(self):
        self.master, self.slave = os.openpty()
        # raw: no echo, no CR/LF translation, no signal characters, 8-bit clean
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        self._pending = b""
        self.refused = 0
        self.closed = False

    def write(self, buf):
        if self._pending and not self._flush():
            self.refused += 1
            return False
        try:
            n = os.write(self.master, buf)
        except BlockingIOError:
            self.refused += 1
            return False
        if n < len(buf):
            self._pending = bytes(buf[n:])
        return True

    def _flush(self):
        try:
            n = os.write(self.master, self._pending)
        except BlockingIOError:
            return False
        self._pending = self._pending[n:]
        return not self._pending

    def rx_pending(self):
        """True if the client's bytes are waiting (none is read)."""
        return bool(select.select([self.master], [], [], 0)[0])

    def read_into(self, buf):
        try:
            return os.readv(self.master, [buf])
        except BlockingIOError:
            return 0

    def close(self):
        if not self.closed:
            self.closed = True
            os.close(self.master)
            os.close(self.slave)
