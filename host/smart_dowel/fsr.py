"""Force-sensitive resistor model: ADC counts <-> newtons for the dowel's divider circuit.

The FSR (Interlink 402 class) runs from 3V3 to the ADC pin, a fixed resistor from the pin to
GND. The FSR's resistance falls with force roughly as a power law, R = R_1N * F**-ALPHA, which
is what the conversion inverts. hardware_docs/wiring.md derives the numbers; per-sensor
calibration (zero offset and scale) is applied on top by the pipeline.
"""

import numpy as np

ADC_FULL_SCALE = 65535  # machine.ADC.read_u16() scale, as sent on the wire
DIVIDER_OHMS = 3300.0  # same as dowel_device.config.FSR_DIVIDER_OHMS
FSR_OHMS_AT_1N = 10000.0  # typical FSR 402 resistance under 1 N
FSR_ALPHA = 0.9  # power-law exponent of resistance against force
MAX_FORCE_N = 100.0  # beyond the sensor's useful range; readings are clipped here


def counts_to_newtons(counts, zero_counts=0.0, scale=1.0):
    """Force in N from ADC counts (scalar or array), after removing the no-load offset.

    Integers (the readings as they come off the wire, one or an array) are looked up in a
    table of every reading for this zero and scale, built once with the same formula: a
    batch's conversion is then one indexing instead of a dozen numpy operations."""
    if isinstance(counts, np.ndarray) and counts.dtype.kind in "iu" and counts.ndim:
        return _table(float(zero_counts), float(scale))[np.clip(counts, 0, ADC_FULL_SCALE)]
    if isinstance(counts, int):  # one reading (the link's contact check): no numpy
        return float(_table(float(zero_counts), float(scale))[min(max(counts, 0), ADC_FULL_SCALE)])
    return _convert(counts, zero_counts, scale)


def _convert(counts, zero_counts, scale):
    c = np.asarray(counts, dtype=float) - zero_counts
    x = np.clip(c / ADC_FULL_SCALE, 1e-6, 1 - 1e-6)
    r_fsr = DIVIDER_OHMS * (1.0 - x) / x
    f = (FSR_OHMS_AT_1N / r_fsr) ** (1.0 / FSR_ALPHA)
    f = np.where(c <= 0, 0.0, f)
    f = np.clip(f * scale, 0.0, MAX_FORCE_N)
    return float(f) if np.ndim(f) == 0 else f


_TABLES = {}  # (zero, scale) -> force at every ADC reading; a few calibrations at a time


def _table(zero_counts, scale):
    key = (zero_counts, scale)
    table = _TABLES.get(key)
    if table is None:
        if len(_TABLES) >= 12:
            _TABLES.clear()
        table = _convert(np.arange(ADC_FULL_SCALE + 1, dtype=float), zero_counts, scale)
        table.flags.writeable = False
        _TABLES[key] = table
    return table


def counts_at(force_n, zero_counts=0.0, scale=1.0):
    """The ADC reading (float, unrounded) at which counts_to_newtons gives force_n: its inverse
    for 0 < force_n < MAX_FORCE_N, a scalar."""
    f = float(force_n) / scale
    if f <= 0.0:
        return float(zero_counts)
    r_fsr = FSR_OHMS_AT_1N * f ** -FSR_ALPHA
    return zero_counts + ADC_FULL_SCALE * DIVIDER_OHMS / (DIVIDER_OHMS + r_fsr)


def newtons_to_counts(force_n):
    """ADC counts an ideal sensor reads under a force in N (the simulator's sensor model)."""
    f = np.clip(np.asarray(force_n, dtype=float), 0.0, MAX_FORCE_N)
    with np.errstate(divide="ignore"):
        r_fsr = np.where(f > 0, FSR_OHMS_AT_1N * np.power(np.maximum(f, 1e-9), -FSR_ALPHA), np.inf)
    x = np.where(np.isinf(r_fsr), 0.0, DIVIDER_OHMS / (DIVIDER_OHMS + np.where(np.isinf(r_fsr), 1.0, r_fsr)))
    c = np.round(x * ADC_FULL_SCALE)
    return int(c) if np.ndim(c) == 0 else c.astype(int)
