"""Errors shown to the user: a short title and one clear sentence of what to do.

The CLI prints them as one line on stderr with a non-zero exit; the TUI shows them with
`notify(severity="error", title=...)`.
"""


class DowelError(Exception):
    """An error the user can act on. `title` names the area, the message says what to do."""

    title = "Error"

    def __init__(self, message, title=None):
        super().__init__(message)
        if title is not None:
            self.title = title

    def __str__(self):
        return str(self.args[0]) if self.args else self.title


class PortError(DowelError):
    """A serial port is missing, busy, or not ours to open."""

    title = "Serial port"


class InputFileError(DowelError):
    """A recording or CSV file cannot be read; the message names the file and line."""

    title = "Input file"


class StoreError(DowelError):
    """The session database cannot be opened or written."""

    title = "Session store"


class FirmwareError(DowelError):
    """The firmware cannot be built or installed on the board."""

    title = "Firmware"
