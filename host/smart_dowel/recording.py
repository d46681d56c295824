"""Recording files: exactly the bytes that came over the wire, behind a short header.

Layout: the magic line `# smart-dowel recording v1`, one line of JSON metadata (device INFO
fields, start time, port, calibration, ...), then the raw framed byte stream, appended as it
arrives. A crash loses at most the unflushed tail; a torn last frame is simply dropped by the
decoder when the file is read back.
"""

import datetime
import json
import os

from dowel_protocol import INFO, StreamDecoder

from .errors import InputFileError
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


def read_header(f, name):
    """(meta dict, byte offset of the stream) of an open recording; InputFileError if bad."""
    magic = f.readline()
    if magic != MAGIC:
        raise InputFileError("%s, line 1: not a smart-dowel recording (no '%s' header)"
                             % (name, MAGIC.decode().strip()))
    line = f.readline()
    if not line.endswith(b"\n"):
        raise InputFileError("%s, line 2: recording header is cut short" % name)
    try:
        meta = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise InputFileError("%s, line 2: recording header is not valid JSON (%s)" % (name, e)) from e
    if not isinstance(meta, dict):
        raise InputFileError("%s, line 2: recording header must be a JSON object" % name)
    fmt = meta.get("format")
    if fmt != FORMAT_VERSION:
        raise InputFileError("%s, line 2: recording format %r, this version reads %d"
                             % (name, fmt, FORMAT_VERSION))
    return meta, f.tell()


def read_recording(path):
    """(meta, Samples, decoder counters) of a recording file.

    Samples use the calibration saved in meta (FSR zero/scale); meta["device"] is filled from
    the first INFO message in the stream if the header has none. Raises InputFileError.
    """
    name = str(path)
    try:
        f = open(path, "rb")
    except OSError as e:
        raise InputFileError("%s: cannot open (%s)" % (name, e.strerror or e)) from e
    with f:
        meta, _ = read_header(f, name)
        try:
            calibration = Calibration.from_dict(meta.get("calibration"))
        except (TypeError, ValueError, KeyError, AttributeError) as e:
            raise InputFileError("%s, line 2: calibration in the header is unreadable (%s)"
                                 % (name, e)) from e
        decoder = StreamDecoder()
        converter = SampleConverter(calibration)
        batches = []
        info = None
        while True:
            chunk = f.read(READ_CHUNK)
            if not chunk:
                break
            msgs = decoder.feed(chunk)
            if info is None:
                for m in msgs:
                    if m.type == INFO:
                        info = m.fields()
                        break
            batches.append(converter.convert(msgs))
    if info is not None and not meta.get("device"):
        meta["device"] = {k: (v.decode("ascii", "replace").rstrip("\x00") if isinstance(v, bytes) else v)
                          for k, v in info.items()}
    return meta, Samples.concat(batches), decoder.counters()
