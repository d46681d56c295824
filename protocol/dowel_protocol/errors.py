"""The one family of errors the protocol raises."""


class ProtocolError(ValueError):
    """Base class: the bytes are not a valid protocol v1 frame or message.

    msg_type and seq are the frame's header fields when the header could be trusted (its CRC
    passed), else None: a device uses them to NACK the very command that was wrong.
    """

    def __init__(self, message, msg_type=None, seq=None):
        super().__init__(message)
        self.msg_type = msg_type
        self.seq = seq


class CobsError(ProtocolError):
    """The COBS encoding is broken (a zero inside, or a block running past the end)."""


class CrcError(ProtocolError):
    """The CRC-16/CCITT-FALSE over the frame body does not match."""


class CheckError(CrcError):
    """A 1.2 frame whose CRC-16 passed but whose 32-bit check (CRC-32) does not match, or
    that has no room for it: a corruption the CRC-16 alone would have let through. body: the
    frame body."""

    def __init__(self, message, body=None):
        super().__init__(message)
        self.body = body


class FrameError(ProtocolError):
    """Wrong length, wrong protocol major version, or a payload that does not fit its type."""


class VersionError(FrameError):
    """The frame's major protocol version is not one this implementation speaks."""


class UnknownTypeError(ProtocolError):
    """A well-formed frame whose message type this implementation does not know."""
