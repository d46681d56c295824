"""The serial link to a dowel: the only code that touches the serial port (pyserial).

SerialLink owns the port in a reader thread and hands out LinkBatch/LinkEvent objects;
detect finds a dowel by USB id and INFO reply; ports implements `dowel ports`.
"""

from .detect import (  # noqa: F401
    DOWEL_VID,
    PortEntry,
    ProbeResult,
    find_dowel,
    list_serial_ports,
    probe_port,
    probe_ports,
)
from .link import SerialLink  # noqa: F401
from .serialport import open_serial, port_error  # noqa: F401
from .types import (  # noqa: F401
    CLOSED,
    CONNECTED,
    CONNECTING,
    RECONNECTING,
    STATES,
    CommandRejected,
    CommandReply,
    CommandTimeout,
    DeviceInfo,
    DeviceStatus,
    Gap,
    LinkBatch,
    LinkDown,
    LinkEvent,
    LinkStats,
)
