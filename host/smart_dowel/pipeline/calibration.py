"""Calibration: FSR zero and scale per contact point, and the upright pose of the dowel.

The store saves it with a session (`to_dict`/`from_dict`); the pipeline updates it on
`zero_contacts()` and `calibrate_upright()`.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from .. import fsr
from .types import CONTACTS


@dataclass
class SensorCalibration:
    """One FSR: ADC counts read with no load, and a multiplier on the modelled force."""

    zero_counts: float = 0.0
    scale: float = 1.0

    def to_newtons(self, counts):
        """Force in N from ADC counts (scalar or numpy array)."""
        return fsr.counts_to_newtons(counts, self.zero_counts, self.scale)

    def counts_at(self, newtons):
        """The ADC reading (float) that to_newtons turns into `newtons` (a scalar)."""
        return fsr.counts_at(newtons, self.zero_counts, self.scale)


@dataclass
class Calibration:
    """Per-sensor FSR calibration plus the upright gravity direction in the sensor frame.

    `upright` is a unit 3-vector (what the accelerometer reads, normalised, when the patient
    stands tall with the dowel on the back) or None when not yet captured. `gyro_bias_dps`
    is subtracted from gyro readings.
    """

    sensors: dict = field(default_factory=lambda: {c: SensorCalibration() for c in CONTACTS})
    upright: tuple = None
    gyro_bias_dps: tuple = (0.0, 0.0, 0.0)

    def set_upright(self, gravity):
        """Set the upright pose from a gravity (accelerometer) vector in any units."""
        g = np.asarray(gravity, dtype=float).reshape(3)
        n = float(np.linalg.norm(g))
        if not math.isfinite(n) or n < 1e-6:
            raise ValueError("upright gravity vector must be non-zero and finite")
        self.upright = tuple(float(x) for x in g / n)

    def zero_from_counts(self, counts_by_point):
        """Take the given no-load ADC counts (dict point -> counts) as each sensor's zero."""
        for point, counts in counts_by_point.items():
            self.sensors[point].zero_counts = float(counts)

    def copy(self):
        return Calibration.from_dict(self.to_dict())

    def to_dict(self):
        return {
            "sensors": {
                c: {"zero_counts": s.zero_counts, "scale": s.scale} for c, s in self.sensors.items()
            },
            "upright": list(self.upright) if self.upright is not None else None,
            "gyro_bias_dps": list(self.gyro_bias_dps),
        }

    @classmethod
    def from_dict(cls, d):
        """Inverse of to_dict; missing keys take their defaults."""
        d = d or {}
        cal = cls()
        for c, s in (d.get("sensors") or {}).items():
            if c in cal.sensors:
                cal.sensors[c] = SensorCalibration(
                    float(s.get("zero_counts", 0.0)), float(s.get("scale", 1.0))
                )
        if d.get("upright") is not None:
            cal.set_upright(d["upright"])
        bias = d.get("gyro_bias_dps")
        if bias is not None:
            cal.gyro_bias_dps = tuple(float(x) for x in bias)
        return cal
