"""`dowel analyze FILE [--json]`: the signal pipeline over a recording, a CSV file or a stored
session, printing the reps as a table or as product.md's JSON.
"""

import importlib
import json
import sys
from collections import Counter

import numpy as np

from .csvfile import CsvReader, looks_like_csv
from .errors import InputFileError
from .inputs import DEFAULT_TIMEOUT_S, open_input
from .pipeline import Calibration, Pipeline, PipelineConfig
from .pipeline.batch import CHUNK, Analysis
from .recording import RecordingReader, is_recording

SESSION_PREFIX = "session:"
# Hook for stored sessions: the store provides this function,
#   load_for_analysis(session_id: int) -> (Samples, Calibration | dict | None, source: dict)
# raising InputFileError (or StoreError) when the session cannot be read.
SESSION_LOADER = "smart_dowel.store.analysis:load_for_analysis"
MAX_SESSION_ID = 2 ** 63 - 1  # SQLite's largest integer


class Input:
    """One input, read once in chunks: `chunks()` yields Samples; `calibration`; `source`
    (completed once the chunks are read: units assumed, decoder counters, ...)."""

    def __init__(self, chunks, calibration, source, close=None, finish=None):
        self._chunks = chunks
        self.calibration = calibration
        self.source = source
        self._close = close
        self._finish = finish

    def chunks(self):
        yield from self._chunks
        if self._finish is not None:
            self._finish(self.source)

    def close(self):
        if self._close is not None:
            self._close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def display_name(spec):
    """How an input is named in messages: `-` is standard input."""
    return "standard input" if spec == "-" else spec


def open_source(spec, units=None, timeout_s=DEFAULT_TIMEOUT_S):
    """The Input for a file path (a regular file, a pipe or a FIFO) or `session:ID`."""
    if spec.startswith(SESSION_PREFIX):
        samples, cal, source = _load_session(spec[len(SESSION_PREFIX):])
        return Input((samples[i:i + CHUNK] for i in range(0, len(samples), CHUNK)), cal, source)
    head, stream = open_input(spec, timeout_s)
    name = display_name(spec)
    try:
        if is_recording(head):
            reader = RecordingReader(stream, name)
            source = {"kind": "recording", "path": spec, "device": reader.meta.get("device")}

            def finish(src):
                src["decoder"] = reader.counters()
                src["device"] = reader.meta.get("device")

            return Input(reader.chunks(), reader.calibration, source, stream.close, finish)
        if not looks_like_csv(head):
            raise InputFileError("%s, line 1: neither a smart-dowel recording nor a text CSV file"
                                 % name)
        reader = CsvReader(stream, name, units=units)
        source = {"kind": "csv", "path": spec}

        def finish_csv(src):
            src["units"] = dict(reader.units)
            if reader.notes:
                src["notes"] = list(reader.notes)

        return Input(reader.chunks(), None, source, stream.close, finish_csv)
    except BaseException:
        stream.close()
        raise


def load_input(spec, units=None):
    """(Samples, Calibration or None, source dict) for a file path or `session:ID`, whole."""
    from .pipeline import Samples

    with open_source(spec, units=units) as src:
        samples = Samples.concat(list(src.chunks()))
        return samples, src.calibration, src.source


REPEAT_NOTE_SHARE = 0.05  # this share of readings repeated exactly, or...
REPEAT_NOTE_S = 1.0  # ... a run this long, is worth a note


class StreamSummary:
    """What the result needs to know of the whole input, gathered chunk by chunk, so a file
    of any size is analysed in bounded memory: count, first and last time, the median sample
    period (exact: a count of each step, coarsened only if there are very many distinct ones),
    and how many IMU readings repeat the one before exactly (the pipeline takes those as
    missing data, never as stillness: a held or stuck sensor, or data with no noise at all)."""

    MAX_DISTINCT_STEPS = 100_000

    def __init__(self):
        self.n = 0
        self.t_first = None
        self.t_last = None
        self.has_gyro = False
        self.has_force = False
        self._steps = Counter()
        self._round = None  # decimals steps are rounded to, once there are too many distinct
        self.t_s = np.zeros(0)  # the per-sample trace is not kept
        self.repeated = 0  # IMU readings equal to the one before, every axis
        self.longest_repeat_s = 0.0  # the longest such run, from the reading repeated
        self._prev_imu = None  # the last reading the device sent (None: none yet)
        self._run_t0 = None  # the time of the reading an open run repeats

    def add(self, s):
        if not len(s):
            return
        t = s.t_s
        if self.n == 0:
            self.t_first = float(t[0])
            self.has_gyro, self.has_force = s.has_gyro, s.has_force
            steps = np.diff(t)
        else:
            steps = np.diff(np.r_[self.t_last, t])
        steps = steps[steps > 0]
        if self._round is not None:
            steps = np.round(steps, self._round)
        values, counts = np.unique(steps, return_counts=True)
        self._steps.update(dict(zip(values.tolist(), counts.tolist())))
        if len(self._steps) > self.MAX_DISTINCT_STEPS:
            self._round = 7 if self._round is None else self._round - 1
            coarse = Counter()
            for v, c in self._steps.items():
                coarse[round(v, self._round)] += c
            self._steps = coarse
        self._count_repeats(s)
        self.n += len(s)
        self.t_last = float(t[-1])

    def _count_repeats(self, s):
        cols = [s.ax_g, s.ay_g, s.az_g] + ([s.gx_dps, s.gy_dps, s.gz_dps] if s.has_gyro else [])
        imu = np.stack([np.asarray(c, dtype=float) for c in cols], axis=1)
        t = s.t_s
        # (where the device said it had no reading, the zeros it sent are no reading either)
        imu[~s.imu_ok] = np.nan
        prev = np.empty_like(imu)
        prev[1:] = imu[:-1]
        if self._prev_imu is not None and len(self._prev_imu) == imu.shape[1]:
            prev[0] = self._prev_imu
        else:
            prev[0] = np.nan
        same = (imu == prev).all(axis=1)
        self._prev_imu = imu[-1].copy()
        self.repeated += int(same.sum())
        if not same.any():
            self._run_t0 = None
            return
        padded = np.r_[False, same, False]
        starts = np.flatnonzero(padded[1:-1] & ~padded[:-2])
        ends = np.flatnonzero(padded[1:-1] & ~padded[2:])
        t0 = np.where(starts > 0, t[np.maximum(starts - 1, 0)],
                      self._run_t0 if self._run_t0 is not None else self.t_last)
        self.longest_repeat_s = max(self.longest_repeat_s, float(np.max(t[ends] - t0)))
        self._run_t0 = float(t0[-1]) if ends[-1] == len(t) - 1 else None

    def __len__(self):
        return self.n

    @property
    def duration_s(self):
        return self.t_last - self.t_first if self.n > 1 else 0.0

    @property
    def sample_rate_hz(self):
        """The median rate, as Samples.sample_rate_hz computes it over the whole input."""
        total = sum(self._steps.values())
        if not total:
            return 0.0
        values = sorted(self._steps)
        cum = np.cumsum([self._steps[v] for v in values])
        lo = values[int(np.searchsorted(cum, (total - 1) // 2 + 1))]
        hi = values[int(np.searchsorted(cum, total // 2 + 1))]
        return float(1.0 / ((lo + hi) / 2.0))

    @property
    def effective_rate_hz(self):
        """Samples per second actually received: below the nominal rate when frames are lost."""
        return (self.n - 1) / self.duration_s if self.duration_s > 0 else 0.0


def analyze_input(src, config=None):
    """Analysis of an Input, pushed through the streaming pipeline chunk by chunk (the same
    reps as pipeline.analyze on the whole input) without keeping per-sample traces."""
    config = config if config is not None else PipelineConfig()
    calibration = src.calibration.copy() if src.calibration is not None else Calibration()
    pipe = Pipeline(config, calibration)
    summary = StreamSummary()
    events = []
    for chunk in src.chunks():
        for off in range(0, len(chunk), CHUNK):
            part = chunk[off:off + CHUNK] if len(chunk) > CHUNK else chunk
            summary.add(part)
            events.extend(pipe.push(part))
    events.extend(pipe.finish())
    if summary.n:
        src.source["effective_rate_hz"] = round(summary.effective_rate_hz, 2)
    if summary.n and (summary.repeated >= REPEAT_NOTE_SHARE * summary.n
                      or summary.longest_repeat_s >= REPEAT_NOTE_S):
        # (the pipeline is right to skip them, but its count may then be short: say so)
        src.source["notes"] = list(src.source.get("notes") or ()) + [
            "%d%% of the IMU readings repeat the one before exactly (the longest run %.1f s): a "
            "held or stuck sensor, or data without noise; they count as missing data, not as "
            "stillness, and a pose or a rep held in them may be missed" % (
                round(100.0 * summary.repeated / summary.n), summary.longest_repeat_s)]
    if summary.duration_s < config.min_rep_s:
        # 0 reps here says nothing about the person: say so
        src.source["notes"] = list(src.source.get("notes") or ()) + [
            "only %d sample%s (%.2f s): too short to hold a rep" % (
                summary.n, "" if summary.n == 1 else "s", summary.duration_s)]
    return Analysis(summary, list(pipe.reps), None, None, events, pipe.calibration, config,
                    src.source)


def _load_session(ref):
    try:
        session_id = int(ref)
    except ValueError:
        raise InputFileError("session:%s: a session is named by its number, e.g. session:12"
                             % ref[:40]) from None
    if not 1 <= session_id <= MAX_SESSION_ID:
        raise InputFileError("session:%s: no such session (session numbers start at 1)" % ref[:40])
    module_name, func_name = SESSION_LOADER.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name != module_name:
            raise
        raise InputFileError("session:%d: analysing stored sessions is not available in this "
                             "build (no %s)" % (session_id, module_name)) from e
    samples, cal, source = getattr(module, func_name)(session_id)
    if isinstance(cal, dict):
        cal = Calibration.from_dict(cal)
    return samples, cal, dict(source or {}, kind="session", session_id=session_id)


def format_table(name, result):
    """The human-readable report of an Analysis."""
    s = result.samples
    lines = ["%s: %d rep%s in %.1f s at %.0f Hz (gyroscope: %s, contacts: %s)" % (
        name, result.rep_count, "" if result.rep_count == 1 else "s", result.duration_s,
        result.sample_rate_hz, "yes" if s.has_gyro else "no", "yes" if s.has_force else "no")]
    lines.extend(_input_lines(result))
    if result.reps:
        lines.append("  rep   start  bottom     end    depth  descent   ascent  faults")
        for r in result.reps:
            lines.append("  %3d %7.2f %7.2f %7.2f %6.1f deg %6.2f s %6.2f s  %s" % (
                r.index, r.start_s, r.bottom_s, r.end_s, r.depth_deg, r.descent_s, r.ascent_s,
                ", ".join(r.fault_ids) or "-"))
        counts = {k: v for k, v in result.fault_counts().items() if v}
        if counts:
            lines.append("faults: " + ", ".join("%s x%d" % kv for kv in counts.items()))
    return "\n".join(lines)


def _input_lines(result):
    """What the table must not hide: the effective rate when it is below the nominal one,
    frames corrupted or lost on the wire, the units assumed for a CSV and what was repaired."""
    src = result.source or {}
    lines = []
    nominal, effective = result.sample_rate_hz, src.get("effective_rate_hz")
    if effective and nominal and abs(effective - nominal) > 0.02 * nominal:
        lines.append("rate: %.0f Hz effective (%.0f Hz nominal): %s"
                     % (effective, nominal, "samples are missing" if effective < nominal
                        else "the sample period varies"))
    dec = src.get("decoder")
    if dec:
        corrupted = sum(dec.get(k, 0) for k in ("crc_errors", "malformed", "oversize"))
        lines.append("frames: %d read, %d corrupted (rejected), %d lost in %d gap%s%s" % (
            dec.get("frames", 0), corrupted, dec.get("lost_frames", 0), dec.get("gaps", 0),
            "" if dec.get("gaps", 0) == 1 else "s",
            ", %d device restart%s" % (dec["restarts"], "" if dec["restarts"] == 1 else "s")
            if dec.get("restarts") else ""))
    units = src.get("units")
    if units:
        words = {"time": "t", "accel": "accelerometer", "gyro": "gyroscope", "force": "forces"}
        lines.append("units: " + ", ".join("%s in %s" % (words.get(q, q), u) for q, u in units.items()))
    for note in src.get("notes") or ():
        lines.append("note: " + note)
    return lines


def run(args):
    """Entry point of `dowel analyze`; returns the exit code (errors raise InputFileError)."""
    timeout = getattr(args, "timeout", None)
    with open_source(args.file, units=getattr(args, "units", None),
                     timeout_s=DEFAULT_TIMEOUT_S if timeout is None else timeout) as src:
        result = analyze_input(src)
    if len(result.samples) == 0:
        raise InputFileError("%s: no samples to analyse" % display_name(args.file))
    if args.json:
        json.dump(result.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(format_table(display_name(args.file), result))
    return 0
