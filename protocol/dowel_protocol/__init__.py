"""smart-dowel wire protocol v1, shared unchanged by the RP2040 firmware and the host.

COBS framing with a 0x00 delimiter, CRC-16/CCITT-FALSE, from 1.2 a CRC-32 check in every
payload, 16-bit sequence numbers.
Imports only `struct` (and `micropython.const` where present).
"""

from .errors import (  # noqa: F401
    CheckError,
    CobsError,
    CrcError,
    FrameError,
    ProtocolError,
    UnknownTypeError,
    VersionError,
)
from .messages import *  # noqa: F401,F403
from .decoder import StreamDecoder  # noqa: F401

__version__ = "1.2"
