"""Opening a file the user names as input: regular files, and pipes or FIFOs read exactly once.

A pipe (`dowel analyze <(cat f.csv)`) or FIFO cannot be read twice, so the first bytes used
to tell a recording from a CSV are kept and handed back as the start of the stream. Reads
from a pipe, FIFO or terminal time out when nothing arrives (a FIFO nobody writes to would
otherwise wait forever). Errors are InputFileError naming the file.
"""

import errno
import io
import os
import select
import stat

from .errors import InputFileError

HEAD_BYTES = 4096
DEFAULT_TIMEOUT_S = 10.0


class _Reader(io.RawIOBase):
    """Raw reads from an fd, starting with bytes already read (`prefix`); for a pipe, FIFO or
    terminal each read waits at most timeout_s for data."""

    def __init__(self, fd, name, timeout_s, waits):
        super().__init__()
        self._fd = fd
        self._name = name
        self._timeout_ms = None if timeout_s is None else max(0, int(timeout_s * 1000))
        self._timeout_s = timeout_s
        self._prefix = b""
        self._poll = None
        if waits:
            self._poll = select.poll()
            self._poll.register(fd, select.POLLIN | select.POLLPRI)

    def readable(self):
        return True

    def unread(self, data):
        self._prefix = bytes(data) + self._prefix

    def readinto(self, buf):
        if self._prefix:
            n = min(len(buf), len(self._prefix))
            buf[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        while True:
            if self._poll is not None and not self._poll.poll(self._timeout_ms):
                raise InputFileError(
                    "%s: nothing arrived for %g s (a pipe or FIFO that no program is writing "
                    "to?); gave up waiting (--timeout sets how long to wait)"
                    % (self._name, self._timeout_s))
            try:
                data = os.read(self._fd, len(buf))
            except BlockingIOError:
                continue  # woken without data: wait again
            except OSError as e:
                raise InputFileError("%s: cannot read (%s)" % (self._name, e.strerror or e)) from e
            buf[:len(data)] = data
            return len(data)

    def close(self):
        if not self.closed:
            try:
                os.close(self._fd)
            finally:
                super().close()


def open_input(path, timeout_s=DEFAULT_TIMEOUT_S):
    """(first bytes, binary stream from the very first byte) of the file at `path` ("-":
    standard input).

    Raises InputFileError for a missing file, a directory, or one that cannot be read.
    """
    name = str(path)
    try:
        if name == "-":  # standard input (a pipe, a redirected file, a terminal)
            name = "standard input"
            try:
                fd = os.dup(0)
            except OSError as e:
                if e.errno == errno.EBADF:
                    raise InputFileError("standard input is closed: nothing to read") from None
                raise
            os.set_blocking(fd, False)
        else:
            fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise InputFileError("%s: no such file" % name) from None
    except IsADirectoryError:
        raise InputFileError("%s: is a directory, expected a recording or a CSV file" % name) from None
    except OSError as e:
        raise InputFileError("%s: cannot open (%s)" % (name, e.strerror or e)) from e
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise InputFileError("%s: is a directory, expected a recording or a CSV file" % name)
        waits = stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)
        if not waits:
            os.set_blocking(fd, True)
        raw = _Reader(fd, name, timeout_s, waits)
    except BaseException:
        os.close(fd)
        raise
    try:
        head = b""
        chunk = bytearray(HEAD_BYTES)
        while len(head) < HEAD_BYTES:
            n = raw.readinto(memoryview(chunk)[:HEAD_BYTES - len(head)])
            if not n:
                break
            head += bytes(chunk[:n])
        raw.unread(head)
    except BaseException:
        raw.close()
        raise
    return head, io.BufferedReader(raw, buffer_size=1 << 16)
