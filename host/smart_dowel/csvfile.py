"""CSV samples for `dowel analyze`: product.md's columns in, Samples out (and back, for
exports and tests). A malformed file raises InputFileError naming the file and the line.

Columns: t (s), ax ay az (g), optional gx gy gz (deg/s), optional head midback tailbone (N);
others are ignored. Names are matched without case, units in brackets or as a suffix
("ax [m/s^2]", "ax_g", "t_ms") are read. Units are taken from --units, else the header, else
detected from the data (accelerometer: the magnitude of gravity, about 1 in g, 9.8 in m/s^2,
1000 in mg; time: the sample period; gyroscope: deg/s or rad/s, from how far it says the sensor
turned against how far the accelerometer's direction did), and always reported
(CsvReader.units). A gyroscope that reads one value throughout, or does not follow the
accelerometer's turns, is left out with a note; one whose columns follow another axis order or
sign than the accelerometer's (another device's convention) is read in the order in which its
turns match the accelerometer's, with a note.

The file is read in chunks (CsvReader.chunks()), so memory does not grow with its size.
"""

import codecs
import csv
import io
import itertools
import math
import re

import numpy as np

from .errors import InputFileError
from .pipeline.samples import Samples

REQUIRED = ("t", "ax", "ay", "az")
GYRO = ("gx", "gy", "gz")
FORCE = ("head", "midback", "tailbone")
STANDARD_GRAVITY = 9.80665
CHUNK_ROWS = 32768  # rows parsed at a time: bounds memory whatever the file's size
MAX_LINE = 1 << 20  # a sample row is well under 1 KB; a longer line is not a CSV of samples
MAX_STILL_ROWS = 1_000_000  # rows that may share one timestamp before we give up
DETECT_ROWS = 20000  # rows looked at to detect units
MIN_RATE_HZ, MAX_RATE_HZ = 1.0, 5000.0  # sample rates a CSV of a hip hinge can plausibly have
# the gyro's unit from the data: its turn across gravity against the accelerometer's turn
GYRO_WIN_S = 0.25  # compared over windows this long...
GYRO_MIN_RATE_DPS = 20.0  # ... where the accelerometer turns at least this fast
GYRO_RATIO_DEG = 0.1  # in deg/s the ratio is about 1 (at least 0.38 seen); in rad/s 1/57
GYRO_RATIO_MAX = 10.0  # beyond this, no known unit
GYRO_RAD_MAX = 15.0  # a trunk turning this fast (rad/s, 860 deg/s) is no hinge: read as deg/s
GYRO_MIN_CORR = 0.3  # a gyro in rad/s follows the accelerometer's turns (0.44 and up seen)
# the gyro's axes against the accelerometer's: how well the turn each order and sign of its
# columns predicts explains the accelerometer's (a correlation; see gyro_axes)
GYRO_AXES_MIN_R = 0.5  # another order is taken when it explains at least this much...
GYRO_AXES_MARGIN = 0.03  # ... and this much more than the file's own (either sign; a file
# correctly labelled scores its own order best, a swap of two axes it hardly turns about
# scores 0.04 less and reads depths 5-10 deg shallow),
GYRO_AXES_MIN_S = 4.0  # ... over this much turning (s): a few reps (a 10-rep set: 9-22 s; the
# 1 s of a single shallow rep at 10 Hz was once read as another order)

# unit spellings -> (quantity, unit name, factor to g / s / deg/s / N)
UNITS = {}
for _q, _name, _factor, _spellings in (
    ("accel", "g", 1.0, ("g",)),
    ("accel", "m/s^2", 1.0 / STANDARD_GRAVITY, ("m/s^2", "m/s2", "ms2", "ms^2", "m/s/s", "mps2",
                                                "m/s²", "ms-2", "m.s-2")),
    ("accel", "mg", 1e-3, ("mg", "milli-g")),
    ("time", "s", 1.0, ("s", "sec", "seconds")),
    ("time", "ms", 1e-3, ("ms", "msec", "milliseconds")),
    ("time", "us", 1e-6, ("us", "µs", "μs", "usec", "microseconds")),
    ("gyro", "deg/s", 1.0, ("deg/s", "dps", "°/s", "degs", "deg/sec")),
    ("gyro", "rad/s", 180.0 / math.pi, ("rad/s", "rads", "rad/sec", "rps")),
    ("force", "N", 1.0, ("n", "newton", "newtons")),
):
    for _s in _spellings:
        UNITS[_s] = (_q, _name, _factor)
QUANTITY_OF = {"t": "time", "ax": "accel", "ay": "accel", "az": "accel", "gx": "gyro",
               "gy": "gyro", "gz": "gyro", "head": "force", "midback": "force", "tailbone": "force"}
QUANTITY_WORDS = {"time": "t", "accel": "accelerometer", "gyro": "gyroscope", "force": "forces"}
DEFAULT_UNIT = {"time": "s", "accel": "g", "gyro": "deg/s", "force": "N"}
FACTOR = {name: f for (_q, name, f) in UNITS.values()}


def parse_units(spec):
    """{quantity: unit name} from --units text such as "m/s^2,ms" or "g, s, rad/s".

    Raises ValueError with a one-line message for an unknown or repeated unit."""
    out = {}
    for token in (x.strip() for x in str(spec).split(",")):
        if not token:
            continue
        found = UNITS.get(token.lower()) or UNITS.get(token)
        if found is None:
            raise ValueError("unknown unit %r (known: g, m/s^2, mg; s, ms, us; deg/s, rad/s)"
                             % token)
        q, name, _f = found
        if q in out and out[q] != name:
            raise ValueError("two units for the %s: %s and %s" % (QUANTITY_WORDS[q], out[q], name))
        out[q] = name
    if not out:
        raise ValueError("no unit given (e.g. --units m/s^2,ms)")
    return out


def _column(name):
    """(base column name, unit text or None) of a header cell."""
    raw = name.strip()
    unit = None
    m = re.search(r"[\[(](.*?)[\])]", raw)
    if m:
        unit = m.group(1).strip()
    n = re.sub(r"[\[(].*?[\])]", "", raw).strip().lower().replace(" ", "")
    if n in QUANTITY_OF:
        return n, unit
    base, sep, suffix = n.partition("_")
    found = UNITS.get(suffix)
    if sep and base in QUANTITY_OF and found and found[0] == QUANTITY_OF[base] and not unit:
        return base, suffix  # "ax_g", "t_ms"; "ax_filtered" is another column
    return n, unit


def looks_like_csv(head_bytes):
    """True if the first bytes of a file could be a text CSV header."""
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head_bytes, final=False)
    except UnicodeDecodeError:
        return False
    return "\x00" not in text


def read_csv(path, units=None):
    """Samples of a whole CSV file; raises InputFileError (file and line) if it is malformed."""
    name = str(path)
    try:
        f = open(path, "rb")
    except OSError as e:
        raise InputFileError("%s: cannot open (%s)" % (name, e.strerror or e)) from e
    with f:
        reader = CsvReader(f, name, units=units)
        return Samples.concat(list(reader.chunks()))


def _lines(text, name, last=None):
    """Lines of a text stream, refusing one longer than MAX_LINE (a 50 MB field, a missing
    newline in a binary file) before it is held in memory. last (a list): its [0] is kept as
    the line yielded last."""
    lineno = 0
    while True:
        try:
            line = text.readline(MAX_LINE + 1)
        except UnicodeDecodeError as e:
            raise InputFileError("%s, line %d: not a text CSV file (%s)"
                                 % (name, lineno + 1, e.reason)) from e
        if not line:
            return
        lineno += 1
        if len(line) > MAX_LINE:
            raise InputFileError("%s, line %d: longer than %d KB, so not a row of samples (is "
                                 "this the right file?)" % (name, lineno, MAX_LINE >> 10))
        if last is not None:
            last[0] = line
        yield line


class CsvReader:
    """One pass over a CSV (a binary stream: a file or a pipe), in chunks of Samples.

        reader = CsvReader(stream, "f.csv", units={"time": "ms"})
        for chunk in reader.chunks(): ...
        reader.units   # {"time": "ms (from the sample period: ...)", ...} once read
        reader.notes   # what was repaired, e.g. repeated timestamps spread evenly
    """

    def __init__(self, stream, name, units=None, chunk_rows=CHUNK_ROWS):
        self.name = name
        self.given_units = dict(units or {})
        self.chunk_rows = chunk_rows
        self.units = {}
        self.notes = []
        self.rows = 0
        self._repeats = None  # [rows whose time repeats, line of the first]
        self._gyro_map = None  # 3x3 signed permutation: the gyro's columns in the accelerometer's axes
        self._first_t = None
        self._text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        self._last_line = [""]
        self._lines = _lines(self._text, name, self._last_line)
        self._header()

    # --- header --------------------------------------------------------------------------

    def _header(self):
        name = self.name
        header = None
        lineno = 0
        for lineno, line in enumerate(self._lines, start=1):
            if line.strip() and not line.lstrip().startswith("#"):
                header = line
                break
        if header is None:
            raise InputFileError("%s: empty file, expected a CSV header row" % name)
        self._hline = lineno
        delim = max((",", ";", "\t"), key=header.count)
        if header.count(delim) == 0:
            delim = ","
        self._delim = delim
        try:
            names = next(csv.reader([header], delimiter=delim))
        except csv.Error as e:
            raise InputFileError("%s, line %d: header row is not valid CSV (%s)" % (name, lineno, e)) from e
        cols, header_units = {}, {}
        for i, raw in enumerate(names):
            n, unit = _column(raw)
            if n in cols:
                raise InputFileError("%s, line %d: column %r appears twice" % (name, lineno, raw.strip()))
            cols[n] = i
            if n in QUANTITY_OF and unit:
                q = QUANTITY_OF[n]
                found = UNITS.get(unit.lower()) or UNITS.get(unit)
                if found is None or found[0] != q:
                    raise InputFileError(
                        "%s, line %d: column %r: unit %r is not a unit of the %s (use --units to "
                        "say what it is)" % (name, lineno, raw.strip(), unit, QUANTITY_WORDS[q]))
                if header_units.get(q, found[1]) != found[1]:
                    raise InputFileError("%s, line %d: the %s columns have different units (%s, %s)"
                                         % (name, lineno, QUANTITY_WORDS[q], header_units[q], found[1]))
                header_units[q] = found[1]
        self._header_units = header_units
        missing = [c for c in REQUIRED if c not in cols]
        if missing:
            raise InputFileError(
                "%s, line %d: missing column%s %s (a CSV needs t, ax, ay, az; found: %s)"
                % (name, lineno, "s" if len(missing) > 1 else "", ", ".join(missing),
                   ", ".join(n.strip() for n in names) or "nothing"))
        self.has_gyro = _group(cols, GYRO, name, lineno)
        self.has_force = _group(cols, FORCE, name, lineno)
        self.wanted = (list(REQUIRED) + (list(GYRO) if self.has_gyro else [])
                       + (list(FORCE) if self.has_force else []))
        self._idx = [cols[c] for c in self.wanted]
        self._need = max(self._idx) + 1

    # --- rows ------------------------------------------------------------------------------

    def _is_last(self, reader):
        """Whether the record just read was cut off by the end of the file: nothing follows
        it, not even its newline."""
        try:
            next(reader)
            return False
        except StopIteration:
            return not self._last_line[0].endswith(("\n", "\r"))
        except csv.Error:
            return False

    def _raw_chunks(self):
        """(float array rows x wanted, line numbers) per chunk, as written in the file."""
        name = self.name
        reader = csv.reader(self._lines, delimiter=self._delim)
        idx, need = self._idx, self._need
        rows, linenos = [], []
        while True:
            start = self._hline + reader.line_num + 1  # the line this record starts on
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as e:
                raise InputFileError("%s, line %d: %s (an unbalanced quote?)"
                                     % (name, start, e)) from None
            lineno = start
            if not fields or fields[0].lstrip().startswith("#") or all(not x.strip() for x in fields):
                continue
            if len(fields) < need:
                _check_quotes(fields, name, lineno)
                if self._is_last(reader):
                    # the file ends in the middle of a row (a recorder that stopped while
                    # writing it): that row is lost, not the file
                    self.notes.append("line %d: the file ends in the middle of a row (%d of %d "
                                      "fields): that row is left out" % (lineno, len(fields), need))
                    break
                raise InputFileError("%s, line %d: %d fields, expected at least %d (as the header)"
                                     % (name, lineno, len(fields), need))
            rows.append([fields[i] for i in idx])
            linenos.append(lineno)
            if len(rows) >= self.chunk_rows:
                yield self._numbers(rows, linenos), np.array(linenos)
                rows, linenos = [], []
        if rows:
            yield self._numbers(rows, linenos), np.array(linenos)

    def _numbers(self, rows, linenos):
        try:
            arr = np.array(rows, dtype=np.float64)
        except ValueError:
            arr = None
        if arr is None:
            for row, lineno in zip(rows, linenos):
                for c, text in zip(self.wanted, row):
                    try:
                        float(text)
                    except ValueError:
                        _check_quotes(row, self.name, lineno)
                        raise InputFileError("%s, line %d: column %s: %r is not a number"
                                             % (self.name, lineno, c, text.strip()[:40])) from None
            raise InputFileError("%s, line %d: unreadable numbers" % (self.name, linenos[0]))
        bad = ~np.isfinite(arr)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise InputFileError("%s, line %d: column %s: %r is not a finite number"
                                 % (self.name, linenos[r], self.wanted[c], rows[r][c].strip()[:40]))
        return arr

    # --- units ---------------------------------------------------------------------------

    def _decide_units(self, arr):
        """Set self.units / self._factor from --units, the header, or the data (first rows)."""
        self._factor = {}
        with np.errstate(over="ignore"):  # an absurd value reads as inf: refused below
            magnitude = float(np.median(np.sqrt(np.sum(arr[:, 1:4] ** 2, axis=1))))
        t = arr[:, 0]
        steps = np.diff(t)
        steps = steps[steps > 0]
        step = float(np.median(steps)) if len(steps) else None
        for q in ("time", "accel", "gyro", "force"):
            if q == "gyro" and not self.has_gyro or q == "force" and not self.has_force:
                continue
            if q in self.given_units:
                unit, why = self.given_units[q], "--units"
            elif q in self._header_units:
                unit, why = self._header_units[q], "header"
            elif q == "accel":
                unit = _accel_unit(magnitude)
                if unit is None:
                    raise InputFileError(
                        "%s: the accelerometer reads %.3g on average: neither about 1 (g), 9.8 "
                        "(m/s^2) nor 1000 (mg); give its unit with --units" % (self.name, magnitude))
                why = "from the data: gravity reads %.3g" % magnitude
            elif q == "time":
                unit = _time_unit(step)
                if step is None:
                    why = "default: too few distinct times to tell"
                elif unit is None:
                    raise InputFileError(
                        "%s: t advances by %.3g per sample, which is no plausible sample period "
                        "in s, ms or us; give its unit with --units" % (self.name, step))
                else:
                    why = "from the sample period: %.3g %s per sample" % (step, unit)
            elif q == "gyro":
                unit, why = self._gyro_unit(arr)
                if unit is None:
                    continue
            else:
                unit, why = DEFAULT_UNIT[q], "default"
            self._factor[q] = FACTOR[unit]
            self.units[q] = "%s (%s)" % (unit, why)
            if q == "gyro" and why in ("--units", "header"):
                self._check_gyro_unit(arr, unit)
        # explicit units are checked against the data, so a wrong one is not silently used
        g = magnitude * self._factor["accel"]
        if not 0.5 <= g <= 2.0:
            raise InputFileError(
                "%s: with the accelerometer in %s, gravity reads %.3g g (expected about 1): the "
                "unit is wrong; give the right one with --units"
                % (self.name, self.units["accel"].split(" (")[0], g))
        if step is not None:
            rate = 1.0 / (step * self._factor["time"])
            if not MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
                raise InputFileError(
                    "%s: with t in %s the samples come at %.3g Hz, outside %g to %g Hz: the unit "
                    "is wrong; give the right one with --units"
                    % (self.name, self.units["time"].split(" (")[0], rate, MIN_RATE_HZ, MAX_RATE_HZ))
            self._step_s = step * self._factor["time"]
        else:
            self._step_s = None
        if self.has_gyro:
            self._gyro_axes(arr)

    def _gyro_turn_ratio(self, arr):
        """(the gyroscope's turn across gravity / the accelerometer's, median over the moving
        stretches of arr in the file's gyro unit; correlation of the two) or None: too little
        movement to tell."""
        t = arr[:, 0] * self._factor["time"]
        return gyro_turn_ratio(t, arr[:, 1:4], arr[:, 4:7])

    def _gyro_unit(self, arr):
        """(unit, why) of gyro columns with no unit given: compared with the accelerometer's
        turns, which need no unit. (None, why): the gyroscope is not used (and self.has_gyro is
        False), with a note saying why."""
        g = arr[:, 4:7]
        if not np.isfinite(g).all() or float(np.ptp(g, axis=0).max()) == 0.0:
            return self._drop_gyro("it reads the same value throughout the first rows (dead or "
                                   "not connected)")
        found = self._gyro_turn_ratio(arr)
        if found is None:
            return "deg/s", "default: too little movement to tell"
        ratio, corr = found
        if ratio >= GYRO_RATIO_DEG:
            if ratio > GYRO_RATIO_MAX:
                return self._drop_gyro("it reads %.3g times the turn the accelerometer shows, in "
                                       "no unit known (deg/s, rad/s)" % ratio)
            return "deg/s", "from the data: its turns match the accelerometer's"
        fast = float(np.percentile(np.sqrt(np.sum(g * g, axis=1)), 99))
        if fast > GYRO_RAD_MAX:
            # no trunk turns at that many rad/s: deg/s of turns so fast that the accelerometer's
            # direction is swamped by their own acceleration
            return "deg/s", ("default: it reads up to %.0f, too fast for rad/s, though it turns "
                             "%.2g times as far as the accelerometer shows" % (fast, ratio))
        if corr < GYRO_MIN_CORR:
            return self._drop_gyro("it does not follow the turns the accelerometer shows")
        return "rad/s", ("from the data: in deg/s it would turn %.2g times as far as the "
                         "accelerometer shows" % ratio)

    def _drop_gyro(self, why):
        self.has_gyro = False
        self._factor["gyro"] = 1.0  # (converted, then left out of the samples)
        self.units["gyro"] = "not used (%s)" % why
        self.notes.append("gyroscope columns not used: %s; analysed from the accelerometer "
                          "alone" % why)
        return None, why

    def _check_gyro_unit(self, arr, unit):
        """A gyro unit given (--units, the header) is checked against the accelerometer's
        turns, so a wrong one is not silently used."""
        found = self._gyro_turn_ratio(arr)
        if found is None:
            return
        ratio = found[0] * FACTOR[unit]
        if not GYRO_RATIO_DEG <= ratio <= GYRO_RATIO_MAX:
            raise InputFileError(
                "%s: with the gyroscope in %s, it turns %.2g times as far as the accelerometer "
                "shows (expected about 1): the unit is wrong; give the right one with --units"
                % (self.name, unit, ratio))

    def _gyro_axes(self, arr):
        """The gyro's columns in another order or sign when that is how its turns match the
        accelerometer's (a file whose gyro axes are labelled differently), with a note."""
        t = arr[:, 0] * self._factor["time"]
        found = gyro_axes(t, arr[:, 1:4], arr[:, 4:7] * self._factor["gyro"])
        if found is None:
            return
        m, r_best, r_given = found
        if r_best < GYRO_AXES_MIN_R or r_best < r_given + GYRO_AXES_MARGIN:
            return
        self._gyro_map = m
        names = []
        for row in m:
            j = int(np.flatnonzero(row)[0])
            names.append(("-" if row[j] < 0 else "") + GYRO[j])
        self.units["gyro"] += "; its axes read as (%s)" % ", ".join(names)
        self.notes.append("gyroscope axes taken as (%s) for (gx, gy, gz): in that order its turns "
                          "match the accelerometer's (correlation %.2f, %.2f as labelled)"
                          % (", ".join(names), r_best, r_given))

    def _convert(self, arr):
        out = np.empty_like(arr)
        for j, c in enumerate(self.wanted):
            out[:, j] = arr[:, j] * self._factor[QUANTITY_OF[c]]
        if self._gyro_map is not None:
            out[:, 4:7] = out[:, 4:7] @ self._gyro_map.T
        return out

    # --- chunks ----------------------------------------------------------------------------

    def chunks(self):
        """Samples, chunk by chunk, in file order; InputFileError for a malformed row."""
        carry = None  # rows held back: the trailing run of one timestamp, and their lines
        last_t = None  # the last time handed out (s), and its line
        first = True
        for arr, lines in self._detect_first(self._raw_chunks()):
            first = False
            data = self._convert(arr)
            if carry is not None:
                data = np.concatenate([carry[0], data])
                lines = np.concatenate([carry[1], lines])
            t = data[:, 0]
            back = np.flatnonzero(np.diff(t) < 0)
            if len(back):
                k = int(back[0]) + 1
                raise InputFileError("%s, line %d: time goes backwards (t=%g after %g)"
                                     % (self.name, lines[k], arr_t(self, t[k]), arr_t(self, t[k - 1])))
            if last_t is not None and t[0] < last_t[0]:
                raise InputFileError("%s, line %d: time goes backwards (t=%g after %g)"
                                     % (self.name, lines[0], arr_t(self, t[0]), arr_t(self, last_t[0])))
            # hold back the rows that share the last timestamp: the next chunk says how far on
            # the next time is, which is what spreading them evenly needs
            tail = len(t) - 1
            while tail > 0 and t[tail - 1] == t[-1]:
                tail -= 1
            if tail == 0:
                if len(t) > MAX_STILL_ROWS:
                    raise InputFileError("%s, line %d: t stays at %g for more than %d rows; the "
                                         "timestamps are broken" % (self.name, lines[0],
                                                                    arr_t(self, t[0]), MAX_STILL_ROWS))
                carry = (data, lines)
                continue
            carry = (data[tail:], lines[tail:])
            out, out_lines = data[:tail], lines[:tail]
            self._spread(out, out_lines, next_t=t[tail])
            yield self._samples(out)
            last_t = (t[tail - 1], lines[tail - 1])
        if carry is None:
            if first:
                raise InputFileError("%s: no data rows after the header (line %d)"
                                     % (self.name, self._hline))
            return
        data, lines = carry
        if len(data) > 1 and (last_t is None):
            raise InputFileError("%s, line %d: t does not advance: every row has t=%g"
                                 % (self.name, lines[0], arr_t(self, data[0, 0])))
        if len(data) > 1:
            step = self._step_s
            if step is None:  # t stood still over every row used to detect units
                step = (data[0, 0] - self._first_t) / max(1, self.rows - 1)
            self._spread(data, lines, next_t=data[0, 0] + len(data) * step)
        yield self._samples(data)

    def _detect_first(self, raw):
        """Decide units on the first rows (up to DETECT_ROWS), then pass the chunks on."""
        held = []
        n = 0
        for item in raw:
            held.append(item)
            n += len(item[0])
            if n >= DETECT_ROWS:
                break
        if held:
            self._decide_units(np.concatenate([a for a, _ in held])[:DETECT_ROWS])
        yield from held
        yield from raw

    def _spread(self, data, lines, next_t):
        """Rows sharing a timestamp (a coarse or stalled clock) get times evenly spaced up to
        the next distinct time, in place; reported in self.notes."""
        t = data[:, 0]
        if len(t) < 2:
            return
        starts = np.r_[0, np.flatnonzero(np.diff(t) != 0) + 1]
        lengths = np.diff(np.r_[starts, len(t)])
        if (lengths == 1).all():
            return
        nexts = np.r_[t[starts[1:]], next_t]
        run = np.repeat(np.arange(len(starts)), lengths)
        pos = np.arange(len(t)) - starts[run]
        t += pos / lengths[run] * (nexts - t[starts])[run]
        repeated = int(np.sum(lengths[lengths > 1] - 1))
        first_line = int(lines[starts[np.argmax(lengths > 1)] + 1])
        self._note_repeats(repeated, first_line)

    def _note_repeats(self, n, first_line):
        if self._repeats is None:
            self._repeats = [0, first_line]
        self._repeats[0] += n
        self.notes[:] = [n_ for n_ in self.notes if not n_.startswith("t repeats")]
        self.notes.append("t repeats on %d row%s (first at line %d): spread evenly up to the "
                          "next time" % (self._repeats[0], "" if self._repeats[0] == 1 else "s",
                                         self._repeats[1]))

    def _samples(self, data):
        if self._first_t is None:
            self._first_t = float(data[0, 0])
        self.rows += len(data)
        col = {c: data[:, j] for j, c in enumerate(self.wanted)
               if self.has_gyro or c not in GYRO}
        return Samples(
            col["t"], col["ax"], col["ay"], col["az"],
            col.get("gx"), col.get("gy"), col.get("gz"),
            col.get("head"), col.get("midback"), col.get("tailbone"),
            has_gyro=self.has_gyro, has_force=self.has_force,
        )


def _check_quotes(fields, name, lineno):
    """A field spanning lines means a quote was opened and never closed: say where."""
    if any("\n" in f or "\r" in f for f in fields):
        raise InputFileError("%s, line %d: a quote opened on this line is not closed on it (an "
                             "unbalanced quote)" % (name, lineno))


def arr_t(reader, t_s):
    """A time in the file's own unit, for messages that quote the file."""
    return t_s / reader._factor["time"]


def _turn_windows(t, acc, gyr, win_s, min_rate_dps, min_s=1.0):
    """The windows of win_s samples over which the accelerometer's direction turns faster than
    min_rate_dps with no impact at either end: (t, gyr, u, k, moving, rate), the finite samples
    only, u the unit accelerometer direction, window j from sample j to j + k; None
    with under min_s of such windows (too little movement to tell anything by)."""
    t = np.asarray(t, dtype=float)
    ok = np.isfinite(t) & np.isfinite(acc).all(axis=1) & np.isfinite(gyr).all(axis=1)
    t, acc, gyr = t[ok], acc[ok], gyr[ok]
    steps = np.diff(t)
    steps = steps[steps > 0]
    if len(steps) < 2:
        return None
    step = float(np.median(steps))
    k = max(1, int(round(win_s / step)))
    if len(t) <= k + 1:
        return None
    na = np.linalg.norm(acc, axis=1)
    if not (na > 0).all():
        return None
    u = acc / na[:, None]
    span = t[k:] - t[:-k]
    cos = np.clip(np.einsum("ij,ij->i", u[:-k], u[k:]), -1.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.degrees(np.arccos(cos)) / span
    still = np.abs(na - np.median(na)) < 0.25 * np.median(na)  # no impact at either end
    moving = (rate > min_rate_dps) & still[:-k] & still[k:] & (span > 0)
    if moving.sum() * step < min_s:
        return None
    return t, gyr, u, k, moving, rate


def _window_mean(x, k):
    """The mean of x (n, ...) over the k samples after each window's first."""
    c = np.concatenate((np.zeros((1,) + x.shape[1:]), np.cumsum(x, axis=0)))
    return (c[k + 1:] - c[1:-k]) / k


def gyro_turn_ratio(t, acc, gyr, win_s=GYRO_WIN_S, min_rate_dps=GYRO_MIN_RATE_DPS):
    """How far the gyroscope (any unit) says the sensor turned across gravity, over how far the
    accelerometer's direction turned, on windows of win_s where it turns faster than
    min_rate_dps (the median ratio), and the two's correlation; None with too little
    movement (under a second of it) to tell. About 1 for a gyro in deg/s (0.4-0.95 in the
    real and simulated recordings: a fast rep's own acceleration adds to the accelerometer's
    turn), 1/57 for one in rad/s."""
    found = _turn_windows(t, acc, gyr, win_s, min_rate_dps)
    if found is None:
        return None
    t, gyr, u, k, moving, rate = found
    across = np.linalg.norm(np.cross(gyr, u), axis=1)  # the part that turns gravity
    mean = _window_mean(across, k)
    r = mean[moving] / rate[moving]
    corr = float(np.corrcoef(mean[moving], rate[moving])[0, 1]) if moving.sum() > 2 else 0.0
    return float(np.median(r)), (corr if corr == corr else 0.0)


def _signed_permutations():
    out = []
    for p in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            m = np.zeros((3, 3))
            m[range(3), p] = signs
            out.append(m)
    return out


SIGNED_PERMUTATIONS = _signed_permutations()


def gyro_axes(t, acc, gyr_dps, win_s=GYRO_WIN_S, min_rate_dps=GYRO_MIN_RATE_DPS,
              min_s=GYRO_AXES_MIN_S):
    """Which order and signs of the gyroscope's axes explain the accelerometer's turns: over
    windows of win_s where gravity's direction turns faster than min_rate_dps, the turn the
    gyro predicts (gravity seen from a sensor turning at w moves at u x w) is correlated with
    the turn the accelerometer shows, for each of the 48 signed permutations of the gyro's
    columns (its median taken off first: an offset is no turn). Returns (the best as a 3x3
    matrix, its correlation, the better of the columns as labelled and all three reversed,
    which the pipeline tells apart itself), or None with under min_s of such turns."""
    found = _turn_windows(t, acc, gyr_dps, win_s, min_rate_dps, min_s)
    if found is None:
        return None
    t, gyr, u, k, moving, _rate = found
    du = ((u[k:] - u[:-k]) / (t[k:] - t[:-k])[:, None])[moving]
    wm = _window_mean(np.radians(gyr - np.median(gyr, axis=0)), k)[moving]
    um = (u[:-k] + u[k:])[moving]
    um /= np.maximum(np.linalg.norm(um, axis=1), 1e-9)[:, None]
    dd = float(np.sum(du * du))
    best, r_best, r_given = None, -2.0, -2.0
    for m in SIGNED_PERMUTATIONS:
        pred = np.cross(um, wm @ m.T)
        pp = float(np.sum(pred * pred))
        r = float(np.sum(du * pred)) / math.sqrt(dd * pp) if dd > 0 and pp > 0 else 0.0
        if r > r_best:
            best, r_best = m, r
        if abs(abs(np.trace(m)) - 3.0) < 1e-9:  # the columns as labelled, or all reversed
            r_given = max(r_given, r)
    return best, r_best, r_given


def _accel_unit(magnitude):
    if 0.5 <= magnitude <= 2.0:
        return "g"
    if 0.5 * STANDARD_GRAVITY <= magnitude <= 2.0 * STANDARD_GRAVITY:
        return "m/s^2"
    if 500.0 <= magnitude <= 2000.0:
        return "mg"
    return None


def _time_unit(step):
    """The unit of t from its median step: 2..5000 Hz in s, ms or us."""
    if step is None:
        return "s"
    for unit, factor in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        rate = 1.0 / (step * factor)
        if 2.0 <= rate <= MAX_RATE_HZ:
            return unit
    if 1.0 / step >= MIN_RATE_HZ:  # 1-2 Hz: slow, but only seconds can mean it
        return "s"
    return None


def _group(cols, group, name, lineno):
    present = [c for c in group if c in cols]
    if present and len(present) != len(group):
        absent = [c for c in group if c not in cols]
        raise InputFileError("%s, line %d: columns %s given without %s (all or none)"
                             % (name, lineno, ", ".join(present), ", ".join(absent)))
    return bool(present)


def write_csv(path, samples, gyro=None, force=None):
    """Write Samples as a CSV in product.md's format (gyro/force columns if the samples have
    them, unless gyro=False / force=False)."""
    gyro = samples.has_gyro if gyro is None else gyro
    force = samples.has_force if force is None else force
    names = ["t", "ax", "ay", "az"]
    cols = [samples.t_s, samples.ax_g, samples.ay_g, samples.az_g]
    if gyro:
        names += ["gx", "gy", "gz"]
        cols += [samples.gx_dps, samples.gy_dps, samples.gz_dps]
    if force:
        names += ["head", "midback", "tailbone"]
        cols += [samples.head_n, samples.midback_n, samples.tailbone_n]
    arr = np.column_stack(cols) if len(samples) else np.zeros((0, len(names)))
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(",".join(names) + "\n")
        np.savetxt(f, arr, delimiter=",", fmt=["%.6f"] + ["%.6g"] * (len(names) - 1))
