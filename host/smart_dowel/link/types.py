"""What the serial link hands to its consumers: batches, events, device info and statistics.

Plain frozen dataclasses, safe to pass between threads; nothing here touches the port.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dowel_protocol as P

from ..errors import PortError

# Link states, in the words the status line shows.
CONNECTING = "connecting"
CONNECTED = "connected"
RECONNECTING = "reconnecting"
CLOSED = "closed"
STATES = (CONNECTING, CONNECTED, RECONNECTING, CLOSED)


class LinkDown(PortError):
    """A command was sent while the dowel is not connected (closed, or reconnecting)."""


class CommandTimeout(PortError):
    """The dowel did not answer a command with ACK or NACK in time."""


class CommandRejected(PortError):
    """The dowel answered a command with NACK; `error` holds the protocol error name."""

    def __init__(self, message, error="", code=0):
        super().__init__(message)
        self.error = error
        self.code = code


def _board_hex(raw):
    return bytes(raw).hex()


@dataclass(frozen=True)
class DeviceInfo:
    """The INFO reply: who the dowel is and how it is set up."""

    fw_version: str  # "major.minor.patch"
    protocol_version: str  # "major.minor" of the wire protocol the firmware speaks
    board_id: str  # the RP2040's unique id, 16 hex digits
    sensors: int  # INFO.sensors bits (SENSOR_HEAD, ...)
    imu_type: int  # IMU_NONE, IMU_MPU6050, ...
    imu_name: str  # "MPU-6050", "simulated", "none", ...
    rate_hz: int
    oversample: int
    streaming: bool
    boot_id: int | None = None  # protocol 1.1: drawn at power-up; None from a 1.0 dowel

    @classmethod
    def from_message(cls, msg):
        f = msg.fields()
        proto = f["protocol"]
        return cls(
            fw_version="%d.%d.%d" % (f["fw_major"], f["fw_minor"], f["fw_patch"]),
            protocol_version="%d.%d" % (proto >> 4, proto & 0x0F),
            board_id=_board_hex(f["board_id"]),
            sensors=f["sensors"],
            imu_type=f["imu_type"],
            imu_name=P.IMU_NAMES.get(f["imu_type"], "unknown (%d)" % f["imu_type"]),
            rate_hz=f["rate_hz"],
            oversample=f["oversample"],
            streaming=bool(f["streaming"]),
            boot_id=f.get("boot_id"),
        )


@dataclass(frozen=True)
class DeviceStatus:
    """The latest STATUS message: the firmware's own health counters."""

    uptime_ms: int
    samples: int
    overruns: int
    drops: int
    imu_errors: int
    loop_errors: int
    rate_hz: int
    streaming: bool
    imu_present: bool
    watchdog_reset: bool
    last_error: int
    boot_id: int | None = None  # protocol 1.1 (None from a 1.0 dowel), as in INFO
    busy_mean_us: int | None = None  # 1.1: sampling work per slot, mean over the last second
    busy_max_us: int | None = None  # 1.1: ... the longest slot of that second

    @classmethod
    def from_message(cls, msg):
        f = msg.fields()
        flags = f["flags"]
        return cls(
            uptime_ms=f["uptime_ms"],
            samples=f["samples"],
            overruns=f["overruns"],
            drops=f["drops"],
            imu_errors=f["imu_errors"],
            loop_errors=f["loop_errors"],
            rate_hz=f["rate_hz"],
            streaming=bool(flags & P.STATUS_STREAMING),
            imu_present=bool(flags & P.STATUS_IMU_PRESENT),
            watchdog_reset=bool(flags & P.STATUS_WATCHDOG),
            last_error=f["last_error"],
            boot_id=f.get("boot_id"),
            busy_mean_us=f.get("busy_mean_us"),
            busy_max_us=f.get("busy_max_us"),
        )


@dataclass(frozen=True)
class CommandReply:
    """The device's answer to one command: ACK (ok) or NACK (error names the reason)."""

    cmd_type: int
    cmd_seq: int
    ok: bool
    error_code: int  # 0 on ACK
    error: str  # ERROR_NAMES of the NACK code, "" on ACK
    round_trip_s: float
    reply: object = None  # the INFO / STATUS message that answered GET_INFO / GET_STATUS
    texts: tuple = ()  # the TEXT messages (level name, text) the dowel sent while it was pending


@dataclass(frozen=True)
class Gap:
    """A stretch of time with no data because the link dropped (an unplug), for the store."""

    port: str
    start_time: float  # wall clock (time.time()) of the last bytes read before the drop
    end_time: float  # wall clock of the first frame read after the reconnect
    lost_frames: int | None  # frames the device sent into the gap (sequence numbers); None if unknown
    device_restarted: bool  # the sequence numbers started again: the dowel was power-cycled
    reason: str  # why the link dropped, one sentence

    @property
    def duration_s(self):
        return self.end_time - self.start_time


@dataclass(frozen=True)
class LinkEvent:
    """Something the consumer must hear about besides data.

    kind: "state" (the link state changed), "gap" (a reconnect closed a gap, see `gap`),
    "error" (the port failed, a consumer callback raised, or a different dowel answered after
    a reconnect; `error` holds the exception, if any),
    "warning" (the dowel NACKed or ignored a command the link sent on its own),
    "restart" (the connected dowel restarted: a new boot id, or for a 1.0 dowel its uptime or
    stream started again by itself),
    "resync" (a SAMPLE flagged RESYNC that no START or SET_RATE asked for: the dowel's time
    base restarted, most likely because the dowel did),
    "refused" (the dowel NACKed START; the link tries again with back-off; `message` has the
    NACK's error and any TEXT the dowel sent with it),
    "streaming" (the dowel streams again after a refusal).
    Events that describe the stream come after the batch holding the messages before them.
    """

    kind: str
    state: str
    message: str  # one sentence for the status line / log
    time: float  # wall clock
    port: str | None = None
    error: BaseException | None = None
    gap: Gap | None = None


@dataclass(frozen=True, eq=False)
class LinkBatch:
    """Messages decoded over one batching interval (10-20 ms), with the raw bytes they came from.

    `raw` is every byte read in this interval, in order: concatenating the batches of one
    connection gives the exact wire stream (a frame may straddle two batches).
    """

    index: int  # 0, 1, 2, ... over the link's life
    messages: list  # dowel_protocol.Message, in wire order
    rx_mono: list  # time.monotonic() at which each message's last byte was read
    raw: bytes
    time: float  # wall clock of the first read in this batch
    mono: float  # time.monotonic() of the same instant

    def samples(self):
        """The SAMPLE messages of the batch, in order."""
        return [m for m in self.messages if m.type == P.SAMPLE]

    def wall_time(self, i):
        """Wall-clock receive time of message i."""
        return self.time + (self.rx_mono[i] - self.mono)


@dataclass(frozen=True)
class LinkStats:
    """A snapshot of the link for the status line."""

    state: str
    port: str | None
    sample_rate_hz: float  # measured from the device's own timestamps over the last second
    bytes_per_s: float  # over the last second
    frames: int  # decoded frames, all types
    samples: int  # decoded SAMPLE frames
    crc_errors: int
    malformed: int  # bad COBS, length or version, and junk runs longer than a frame
    unknown_type: int
    lost_frames: int  # from sequence gaps, including frames sent while unplugged (when known)
    bytes_total: int
    reconnects: int  # completed reconnects
    gaps: int  # gaps marked
    last_rx_age_s: float | None  # seconds since the last byte arrived; None before any
    # connected and meant to be streaming, but no byte for more than 1.5 s: the line stalled
    stalled: bool = False
    info: DeviceInfo | None = None  # the latest INFO
    status: DeviceStatus | None = None  # the latest STATUS
    last_error: str | None = None  # the latest error or warning sentence
    counters: dict = field(default_factory=dict)  # the decoder's raw counters, summed over reconnects
    boot_id: int | None = None  # the connected dowel's boot id (protocol 1.1)
    restarts: int = 0  # restarts of the dowel seen (boot id, or for 1.0 its uptime / stream)
    unknown_loss: int = 0  # sequence breaks at a restart: frames lost there are not counted
    refused: str | None = None  # while the dowel refuses START: why (NACK error and TEXT)
