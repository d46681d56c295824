"""The one family of errors the protocol raises."""


class ProtocolError(ValueError):
    """Base class: the bytes are not a valid protocol v1 frame or message."""


class CobsError(ProtocolError):
    """The COBS encoding is broken (a zero inside, or a block running past the end)."""


class CrcError(ProtocolError):
    """The CRC-16/CCITT-FALSE over the frame body does not match."""


class FrameError(ProtocolError):
    """Wrong length, wrong protocol major version, or a payload that does not fit its type."""


class UnknownTypeError(ProtocolError):
    """A well-formed frame whose message type this implementation does not know."""
