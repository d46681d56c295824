"""Recording files: exactly the bytes that came over the wire, behind a short header.

Layout: the magic line `# smart-dowel recording v1`, one line of JSON metadata (device INFO
fields, start time, port, calibration, ...), then the raw framed byte stream, appended as it
arrives. A crash loses at most the unflushed tail; a torn last frame is simply dropped by the
decoder when the file is read back.
"""

import datetime
import json
import math
import os

from dowel_protocol import INFO, StreamDecoder

from .errors import InputFileError
from .filedecode import feed_rows
from .private import create_private
from .pipeline.calibration import Calibration
from .pipeline.samples import SampleConverter, Samples

MAGIC = b"# smart-dowel recording v1\n"
FORMAT_VERSION = 1
READ_CHUNK = 1 << 20


def is_recording(head_bytes):
    """True if a file starting with these bytes is a recording."""
    return head_bytes.startswith(MAGIC)


class RecordingWriter:
    """Writes a recording: header at creation, then write(raw_bytes) as they arrive.

        with RecordingWriter(path, {"device": info.fields(), "port": port}) as rec:
            rec.write(chunk)          # bytes exactly as read from the serial port
            rec.flush()               # e.g. once a second; fsync=True for durability

    meta is any JSON-serialisable dict; `format` and `created` (UTC, ISO 8601) are added.
    A Calibration under meta["calibration"] is stored as its dict.
    """

    def __init__(self, path, meta=None, force=False):
        self.path = str(path)
        meta = dict(meta or {})
        cal = meta.get("calibration")
        if isinstance(cal, Calibration):
            meta["calibration"] = cal.to_dict()
        meta.setdefault("created", datetime.datetime.now(datetime.timezone.utc).isoformat())
        meta["format"] = FORMAT_VERSION
        header = json.dumps(meta, sort_keys=True)  # one line: json.dumps escapes newlines
        # patient data: 0600 from the start, O_EXCL|O_NOFOLLOW (nothing replaced without force)
        self._f = create_private(self.path, force=force, binary=True)
        self._f.write(MAGIC)
        self._f.write(header.encode("utf-8") + b"\n")
        self.bytes_written = 0

    def write(self, raw):
        """Append raw bytes from the wire."""
        self._f.write(raw)
        self.bytes_written += len(raw)

    def flush(self, fsync=False):
        self._f.flush()
        if fsync:
            os.fsync(self._f.fileno())

    def close(self):
        if not self._f.closed:
            self._f.flush()
            self._f.close()

    @property
    def closed(self):
        return self._f.closed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


MAX_HEADER = 1 << 20  # a header is a few hundred bytes of JSON
MAX_GYRO_BIAS_DPS = 2000.0  # the gyroscope's full range: a bias beyond it is no calibration


def read_header(f, name):
    """(meta dict, byte offset of the stream) of an open recording; InputFileError if bad."""
    magic = f.readline(len(MAGIC))
    if magic != MAGIC:
        raise InputFileError("%s, line 1: not a smart-dowel recording (no '%s' header)"
                             % (name, MAGIC.decode().strip()))
    line = f.readline(MAX_HEADER + 1)
    if len(line) > MAX_HEADER:
        raise InputFileError("%s, line 2: recording header is longer than %d KB" % (name, MAX_HEADER >> 10))
    if not line.endswith(b"\n"):
        raise InputFileError("%s, line 2: recording header is cut short" % name)
    try:
        meta = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise InputFileError("%s, line 2: recording header is not valid JSON (%s)" % (name, e)) from e
    except RecursionError:
        raise InputFileError("%s, line 2: recording header is nested too deeply to be a "
                             "recording's header" % name) from None
    if not isinstance(meta, dict):
        raise InputFileError("%s, line 2: recording header must be a JSON object" % name)
    fmt = meta.get("format")
    if fmt != FORMAT_VERSION:
        raise InputFileError("%s, line 2: recording format %r, this version reads %d"
                             % (name, fmt, FORMAT_VERSION))
    return meta, len(magic) + len(line)


def _number(value, field, name, positive=False, limit=None):
    bad = None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        bad = "%r is not a number" % (value,)
    else:
        try:
            x = float(value)
        except OverflowError:
            x = math.inf
        if not math.isfinite(x):
            bad = "%r is not a finite number" % (value,)
        elif positive and x <= 0:
            bad = "%r: it must be more than 0" % (value,)
        elif limit is not None and abs(x) > limit:
            bad = "%r is beyond %g" % (value, limit)
    if bad:
        raise InputFileError("%s, line 2: calibration field %s: %s" % (name, field, bad))
    return x


def calibration_from_header(meta, name):
    """The Calibration in a recording's header, every field checked: a NaN or zero FSR scale,
    a huge gyro bias or a zero upright vector is refused naming the field."""
    d = meta.get("calibration")
    if d is None:
        return Calibration()
    if not isinstance(d, dict):
        raise InputFileError("%s, line 2: calibration must be a JSON object" % name)
    sensors = d.get("sensors") or {}
    if not isinstance(sensors, dict):
        raise InputFileError("%s, line 2: calibration field sensors must be an object" % name)
    clean = {"sensors": {}}
    for point, sc in sensors.items():
        if not isinstance(sc, dict):
            raise InputFileError("%s, line 2: calibration field sensors.%s must be an object"
                                 % (name, point))
        clean["sensors"][point] = {
            "zero_counts": _number(sc.get("zero_counts", 0.0), "sensors.%s.zero_counts" % point,
                                   name, limit=1e6),
            "scale": _number(sc.get("scale", 1.0), "sensors.%s.scale" % point, name,
                             positive=True, limit=1e6),
        }
    for key, n, limit in (("upright", 3, 1e6), ("gyro_bias_dps", 3, MAX_GYRO_BIAS_DPS)):
        v = d.get(key)
        if v is None:
            continue
        if not isinstance(v, list) or len(v) != n:
            raise InputFileError("%s, line 2: calibration field %s must be a list of %d numbers"
                                 % (name, key, n))
        clean[key] = [_number(x, "%s[%d]" % (key, i), name, limit=limit) for i, x in enumerate(v)]
    if "upright" in clean and math.hypot(*clean["upright"]) < 1e-6:
        raise InputFileError("%s, line 2: calibration field upright is a zero vector" % name)
    try:
        return Calibration.from_dict(clean)
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        raise InputFileError("%s, line 2: calibration in the header is unreadable (%s)"
                             % (name, e)) from e


class RecordingReader:
    """One pass over a recording (a binary stream: a file or a pipe), in chunks of Samples.

    meta and calibration are read at construction; counters() and info after chunks().
    """

    def __init__(self, stream, name, bulk=True):
        self.name = name
        self._f = stream
        self.meta, _ = read_header(stream, name)
        self.calibration = calibration_from_header(self.meta, name)
        self._decoder = StreamDecoder()
        self._converter = SampleConverter(self.calibration)
        self._bulk = bulk  # False: the decoder's feed(), a Message per frame (the tests compare)
        self.info = None

    def chunks(self):
        while True:
            try:
                chunk = self._f.read(READ_CHUNK)
            except OSError as e:
                raise InputFileError("%s: cannot read (%s)" % (self.name, e.strerror or e)) from e
            if not chunk:
                break
            if self._bulk:
                values, msgs = feed_rows(self._decoder, chunk)
            else:
                msgs = self._decoder.feed(chunk)
            if self.info is None:
                for m in msgs:
                    if m.type == INFO:
                        self.info = m.fields()
                        break
            if self._bulk:
                samples = self._converter.convert_values(values)
            else:
                samples = self._converter.convert(msgs)
            if len(samples):
                yield samples
        if self.info is not None and not self.meta.get("device"):
            self.meta["device"] = {
                k: (v.decode("ascii", "replace").rstrip("\x00") if isinstance(v, bytes) else v)
                for k, v in self.info.items()}

    def counters(self):
        return self._decoder.counters()


def read_recording(path, bulk=True):
    """(meta, Samples, decoder counters) of a recording file.

    Samples use the calibration saved in meta (FSR zero/scale); meta["device"] is filled from
    the first INFO message in the stream if the header has none. Raises InputFileError.
    bulk=False decodes with a Message per frame (the same result, slower).
    """
    name = str(path)
    try:
        f = open(path, "rb")
    except OSError as e:
        raise InputFileError("%s: cannot open (%s)" % (name, e.strerror or e)) from e
    with f:
        reader = RecordingReader(f, name, bulk=bulk)
        batches = list(reader.chunks())
    samples = Samples.concat(batches) if batches else reader._converter.convert([])
    return reader.meta, samples, reader.counters()
