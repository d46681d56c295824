"""Batch analysis of a whole recording: the streaming pipeline's loop over every sample,
keeping the per-sample hinge angle and contact states, and the JSON of `dowel analyze`.
"""

import json

import numpy as np

from .calibration import Calibration
from .config import PipelineConfig
from .core import Pipeline
from .types import CONTACTS, FAULT_IDS, RepCancelled, UprightCaptured

CHUNK = 65536  # samples per internal push (bounds temporary lists; results do not depend on it)


class Analysis:
    """The result of analyze(): reps plus per-sample traces for plots and reports.

    reps: list of Rep; t_s, hinge_deg (NaN before the upright pose), head_on/midback_on/
    tailbone_on (bool arrays); forces (dict point -> N array, if the input had them);
    events: every event the pipeline produced; calibration: the calibration it ended with.
    """

    def __init__(self, samples, reps, hinge_deg, contacts_on, events, calibration, config, source=None):
        self.samples = samples
        self.reps = reps
        self.t_s = samples.t_s
        self.hinge_deg = hinge_deg
        self.contacts_on = contacts_on
        self.events = events
        self.calibration = calibration
        self.config = config
        self.source = source or {}

    @property
    def rep_count(self):
        return len(self.reps)

    @property
    def duration_s(self):
        return self.samples.duration_s

    @property
    def sample_rate_hz(self):
        return self.samples.sample_rate_hz

    @property
    def cancelled(self):
        return [e for e in self.events if isinstance(e, RepCancelled)]

    def fault_counts(self):
        counts = {f: 0 for f in FAULT_IDS}
        for rep in self.reps:
            for fid in rep.fault_ids:
                counts[fid] += 1
        return counts

    def to_dict(self):
        """product.md's `dowel analyze --json` object: rep_count and reps, plus context."""
        upright = [e for e in self.events if isinstance(e, UprightCaptured)]
        return {
            "rep_count": self.rep_count,
            "reps": [r.to_dict() for r in self.reps],
            "fault_counts": self.fault_counts(),
            "target_depth_deg": self.config.target_depth_deg,
            "duration_s": round(self.duration_s, 3),
            "sample_rate_hz": round(self.sample_rate_hz, 2),
            "samples": len(self.samples),
            "gyro": self.samples.has_gyro,
            "contacts": self.samples.has_force,
            "upright_s": round(upright[0].t_s, 3) if upright else None,
            "source": self.source,
        }

    def to_json(self, indent=None):
        return json.dumps(self.to_dict(), indent=indent)


def analyze(samples, config=None, calibration=None, source=None):
    """Run the pipeline over a whole Samples batch; returns an Analysis.

    The calibration is copied (the caller's is not modified). Gives the same reps as pushing
    the samples into a Pipeline in batches of any size, then finish().
    """
    config = config if config is not None else PipelineConfig()
    calibration = calibration.copy() if calibration is not None else Calibration()
    pipe = Pipeline(config, calibration)
    n = len(samples)
    record = {
        "hinge_deg": np.full(n, np.nan),
        "head_on": np.zeros(n, dtype=bool),
        "midback_on": np.zeros(n, dtype=bool),
        "tailbone_on": np.zeros(n, dtype=bool),
        "offset": 0,
    }
    events = []
    for off in range(0, n, CHUNK):
        record["offset"] = off
        events.extend(pipe.push(samples[off:off + CHUNK], record=record))
    events.extend(pipe.finish())
    contacts_on = {c: record[c + "_on"] for c in CONTACTS}
    return Analysis(samples, list(pipe.reps), record["hinge_deg"], contacts_on, events,
                    pipe.calibration, config, source)
