"""CSV samples for `dowel analyze`: product.md's columns in, Samples out (and back, for
exports and tests). A malformed file raises InputFileError naming the file and the line.

Columns: t (s), ax ay az (g), optional gx gy gz (deg/s), optional head midback tailbone (N);
others are ignored. Names are matched without case, units in brackets or as a suffix
("ax [g]", "ax_g", "t_s") are accepted.
"""

import csv
import math
import re

import numpy as np

from .errors import InputFileError
from .pipeline.samples import Samples

REQUIRED = ("t", "ax", "ay", "az")
GYRO = ("gx", "gy", "gz")
FORCE = ("head", "midback", "tailbone")
_SUFFIXES = {"t": "_s", "ax": "_g", "ay": "_g", "az": "_g", "gx": "_dps", "gy": "_dps",
             "gz": "_dps", "head": "_n", "midback": "_n", "tailbone": "_n"}


def _normalise(name):
    n = re.sub(r"[\[(].*?[\])]", "", name).strip().lower().replace(" ", "")
    for base, suffix in _SUFFIXES.items():
        if n == base + suffix:
            return base
    return n


def looks_like_csv(head_bytes):
    """True if the first bytes of a file could be a text CSV header."""
    try:
        text = head_bytes.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return "\x00" not in text


def read_csv(path):
    """Samples from a CSV file; raises InputFileError (file and line) if it is malformed."""
    name = str(path)
    try:
        f = open(path, "r", encoding="utf-8-sig", newline="")
    except OSError as e:
        raise InputFileError("%s: cannot open (%s)" % (name, e.strerror or e)) from e
    with f:
        try:
            return _parse(f, name)
        except UnicodeDecodeError as e:
            raise InputFileError("%s: not a text CSV file (%s)" % (name, e.reason)) from e


def _parse(f, name):
    lines = enumerate(f, start=1)
    header = None
    for lineno, line in lines:
        if line.strip() and not line.lstrip().startswith("#"):
            header = (lineno, line)
            break
    if header is None:
        raise InputFileError("%s: empty file, expected a CSV header row" % name)
    hline_no, hline = header
    delim = max((",", ";", "\t"), key=hline.count)
    if hline.count(delim) == 0:
        delim = ","
    names = next(csv.reader([hline], delimiter=delim))
    cols = {}
    for i, raw in enumerate(names):
        n = _normalise(raw)
        if n in cols:
            raise InputFileError("%s, line %d: column %r appears twice" % (name, hline_no, raw.strip()))
        cols[n] = i
    missing = [c for c in REQUIRED if c not in cols]
    if missing:
        raise InputFileError(
            "%s, line %d: missing column%s %s (a CSV needs t, ax, ay, az; found: %s)"
            % (name, hline_no, "s" if len(missing) > 1 else "", ", ".join(missing),
               ", ".join(n.strip() for n in names) or "nothing")
        )
    has_gyro = _group(cols, GYRO, name, hline_no)
    has_force = _group(cols, FORCE, name, hline_no)
    wanted = list(REQUIRED) + (list(GYRO) if has_gyro else []) + (list(FORCE) if has_force else [])
    idx = [cols[c] for c in wanted]
    need = max(idx) + 1
    rows = []
    linenos = []
    reader = csv.reader((line for _, line in lines), delimiter=delim)
    for fields in reader:
        lineno = hline_no + reader.line_num
        if not fields or all(not x.strip() for x in fields) or fields[0].lstrip().startswith("#"):
            continue
        if len(fields) < need:
            raise InputFileError("%s, line %d: %d fields, expected at least %d (as the header)"
                                 % (name, lineno, len(fields), need))
        row = []
        for c, i in zip(wanted, idx):
            text = fields[i].strip()
            try:
                x = float(text)
            except ValueError:
                raise InputFileError("%s, line %d: column %s: %r is not a number"
                                     % (name, lineno, c, text)) from None
            if not math.isfinite(x):
                raise InputFileError("%s, line %d: column %s: %r is not a finite number"
                                     % (name, lineno, c, text))
            row.append(x)
        rows.append(row)
        linenos.append(lineno)
    if not rows:
        raise InputFileError("%s: no data rows after the header (line %d)" % (name, hline_no))
    arr = np.array(rows, dtype=np.float64)
    t = arr[:, 0]
    back = np.flatnonzero(np.diff(t) < 0)
    if len(back):
        k = int(back[0]) + 1
        raise InputFileError("%s, line %d: time goes backwards (t=%g after %g)"
                             % (name, linenos[k], t[k], t[k - 1]))
    col = {c: arr[:, j] for j, c in enumerate(wanted)}
    return Samples(
        t, col["ax"], col["ay"], col["az"],
        col.get("gx"), col.get("gy"), col.get("gz"),
        col.get("head"), col.get("midback"), col.get("tailbone"),
        has_gyro=has_gyro, has_force=has_force,
    )


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
