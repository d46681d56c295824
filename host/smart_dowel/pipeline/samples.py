"""Samples: a columnar batch of sensor readings in physical units, and the conversion from
wire SAMPLE messages (t_us unwrapping, ADC counts to newtons, milli-g and 0.1 deg/s scaling).
"""

import numpy as np

from dowel_protocol import (
    ACCEL_LSB_G,
    FLAG_IMU_MISSING,
    GYRO_LSB_DPS,
    SAMPLE,
    T_US_MODULUS,
)

from .calibration import Calibration
from .types import CONTACTS

FLOAT_COLUMNS = (
    "t_s",
    "head_n", "midback_n", "tailbone_n",
    "ax_g", "ay_g", "az_g",
    "gx_dps", "gy_dps", "gz_dps",
)
COUNT_COLUMNS = ("head_counts", "midback_counts", "tailbone_counts")


class Samples:
    """A batch of samples, one numpy array per column, all the same length.

    t_s: seconds (float64, non-decreasing); head_n/midback_n/tailbone_n: contact force in N;
    ax_g/ay_g/az_g: accelerometer in g; gx_dps/gy_dps/gz_dps: gyroscope in deg/s.
    has_gyro / has_force say whether those columns carry data (a CSV may lack them; then
    they are zeros). imu_ok (bool array) is False where the device reported no IMU reading.
    head_counts/... (optional) keep the raw ADC counts of wire data, for zeroing the FSRs.
    """

    __slots__ = FLOAT_COLUMNS + COUNT_COLUMNS + ("imu_ok", "has_gyro", "has_force")

    def __init__(self, t_s, ax_g, ay_g, az_g, gx_dps=None, gy_dps=None, gz_dps=None,
                 head_n=None, midback_n=None, tailbone_n=None, imu_ok=None,
                 has_gyro=None, has_force=None, counts=None):
        t = np.ascontiguousarray(t_s, dtype=np.float64).reshape(-1)
        n = len(t)

        def col(x):
            if x is None:
                return np.zeros(n)
            a = np.ascontiguousarray(x, dtype=np.float64).reshape(-1)
            if len(a) != n:
                raise ValueError("column length %d, expected %d" % (len(a), n))
            return a

        self.t_s = t
        self.ax_g, self.ay_g, self.az_g = col(ax_g), col(ay_g), col(az_g)
        self.has_gyro = bool(gx_dps is not None) if has_gyro is None else bool(has_gyro)
        self.gx_dps, self.gy_dps, self.gz_dps = col(gx_dps), col(gy_dps), col(gz_dps)
        self.has_force = bool(head_n is not None) if has_force is None else bool(has_force)
        self.head_n, self.midback_n, self.tailbone_n = col(head_n), col(midback_n), col(tailbone_n)
        self.imu_ok = np.ones(n, dtype=bool) if imu_ok is None else np.asarray(imu_ok, dtype=bool).reshape(-1)
        if len(self.imu_ok) != n:
            raise ValueError("imu_ok length %d, expected %d" % (len(self.imu_ok), n))
        if counts is None:
            self.head_counts = self.midback_counts = self.tailbone_counts = None
        else:
            self.head_counts, self.midback_counts, self.tailbone_counts = (
                np.asarray(c, dtype=np.float64).reshape(-1) for c in counts
            )

    # --- construction ---------------------------------------------------------------------

    @classmethod
    def from_arrays(cls, columns, has_gyro=None, has_force=None):
        """From a mapping of column name -> array (e.g. the body model's render()).

        Accepts `t` or `t_s`; gyro and force columns are optional.
        """
        t = columns["t_s"] if "t_s" in columns else columns["t"]
        get = columns.get
        return cls(
            t, get("ax_g"), get("ay_g"), get("az_g"),
            get("gx_dps"), get("gy_dps"), get("gz_dps"),
            get("head_n"), get("midback_n"), get("tailbone_n"),
            imu_ok=get("imu_ok"), has_gyro=has_gyro, has_force=has_force,
        )

    @classmethod
    def from_raw(cls, records, calibration=None):
        """From raw samples as the store keeps them: a structured array with t_us (already
        unwrapped, int) and the wire fields head, midback, tailbone (ADC counts), ax_mg..az_mg,
        gx_ddps..gz_ddps and flags. t_s is t_us / 1e6 as given (not re-based)."""
        cal = calibration if calibration is not None else Calibration()
        r = records
        counts = [np.asarray(r[c]) for c in CONTACTS]  # (integers: see fsr.counts_to_newtons)
        forces = [np.atleast_1d(cal.sensors[c].to_newtons(counts[i])) for i, c in enumerate(CONTACTS)]
        flags = np.asarray(r["flags"], dtype=np.int64)
        return cls(
            np.asarray(r["t_us"], dtype=np.float64) * 1e-6,
            np.asarray(r["ax_mg"], dtype=np.float64) * ACCEL_LSB_G,
            np.asarray(r["ay_mg"], dtype=np.float64) * ACCEL_LSB_G,
            np.asarray(r["az_mg"], dtype=np.float64) * ACCEL_LSB_G,
            np.asarray(r["gx_ddps"], dtype=np.float64) * GYRO_LSB_DPS,
            np.asarray(r["gy_ddps"], dtype=np.float64) * GYRO_LSB_DPS,
            np.asarray(r["gz_ddps"], dtype=np.float64) * GYRO_LSB_DPS,
            forces[0], forces[1], forces[2],
            imu_ok=(flags & FLAG_IMU_MISSING) == 0, has_gyro=True, has_force=True, counts=counts,
        )

    @classmethod
    def empty(cls, has_gyro=True, has_force=True):
        z = np.zeros(0)
        return cls(z, z, z, z, z, z, z, z, z, z, has_gyro=has_gyro, has_force=has_force)

    @classmethod
    def from_messages(cls, messages, calibration=None):
        """One-shot conversion of SAMPLE messages (others are skipped); t_s starts at 0."""
        return SampleConverter(calibration).convert(messages)

    @classmethod
    def concat(cls, batches):
        """Join batches end to end (their flags must agree; the first one's win)."""
        batches = [b for b in batches if len(b)]
        if not batches:
            return cls.empty()
        first = batches[0]
        kw = {c: np.concatenate([getattr(b, c) for b in batches]) for c in FLOAT_COLUMNS}
        counts = None
        if all(b.head_counts is not None for b in batches):
            counts = [np.concatenate([getattr(b, c) for b in batches]) for c in COUNT_COLUMNS]
        return cls(
            kw["t_s"], kw["ax_g"], kw["ay_g"], kw["az_g"], kw["gx_dps"], kw["gy_dps"], kw["gz_dps"],
            kw["head_n"], kw["midback_n"], kw["tailbone_n"],
            imu_ok=np.concatenate([b.imu_ok for b in batches]),
            has_gyro=first.has_gyro, has_force=first.has_force, counts=counts,
        )

    # --- access ---------------------------------------------------------------------------

    def __len__(self):
        return len(self.t_s)

    def __getitem__(self, index):
        """A slice (or boolean/integer index array) of the batch, as a new Samples."""
        if isinstance(index, int):
            raise TypeError("index Samples with a slice or an array")
        counts = None
        if self.head_counts is not None:
            counts = [getattr(self, c)[index] for c in COUNT_COLUMNS]
        return Samples(
            self.t_s[index], self.ax_g[index], self.ay_g[index], self.az_g[index],
            self.gx_dps[index], self.gy_dps[index], self.gz_dps[index],
            self.head_n[index], self.midback_n[index], self.tailbone_n[index],
            imu_ok=self.imu_ok[index], has_gyro=self.has_gyro, has_force=self.has_force,
            counts=counts,
        )

    def columns(self):
        """Dict of column name -> array (float columns only)."""
        return {c: getattr(self, c) for c in FLOAT_COLUMNS}

    def force(self, point):
        """Force array (N) of a contact point: "head", "midback" or "tailbone"."""
        return getattr(self, point + "_n")

    @property
    def duration_s(self):
        return float(self.t_s[-1] - self.t_s[0]) if len(self) > 1 else 0.0

    @property
    def sample_rate_hz(self):
        """Median sample rate (Hz), or 0.0 with fewer than two distinct times."""
        if len(self) < 2:
            return 0.0
        dt = np.diff(self.t_s)
        dt = dt[dt > 0]
        return float(1.0 / np.median(dt)) if len(dt) else 0.0

    def __repr__(self):
        return "Samples(%d, %.1f s, gyro=%s, force=%s)" % (
            len(self), self.duration_s, self.has_gyro, self.has_force)


class SampleConverter:
    """Turns SAMPLE messages into Samples, batch after batch, keeping the time base.

    t_us wraps at 2**30 us (about 17.9 minutes); consecutive samples are unwrapped modulo that.
    A jump of more than half the period (a device restart) continues the clock at the last
    sample period instead of jumping. t_s is 0 at the first sample seen. Forces use the
    calibration given (shared, so a later zeroing applies to later batches).
    """

    def __init__(self, calibration=None):
        self.calibration = calibration if calibration is not None else Calibration()
        self._last_raw = None
        self._t_us = 0  # unwrapped time of the last sample, us since the first
        self._last_dt_us = 10000

    def reset_time(self):
        """Forget the time base (the next sample is t_s 0 again)."""
        self._last_raw = None
        self._t_us = 0

    def convert(self, messages):
        """Samples of the SAMPLE messages among messages (the others are skipped)."""
        rows = [m.values for m in messages if m.type == SAMPLE]
        if not rows:
            return Samples.empty()
        return self.convert_values(np.array(rows, dtype=np.int64))

    def convert_values(self, a):
        """Samples of SAMPLE values as an int64 array (n, 11), one row a message's values:
        t_us head midback tailbone ax ay az gx gy gz flags (what convert() builds)."""
        n = len(a)
        if n == 0:
            return Samples.empty()
        raw_t = a[:, 0]
        t_us = np.empty(n, dtype=np.int64)
        half = T_US_MODULUS // 2
        last_raw, t_acc, last_dt = self._last_raw, self._t_us, self._last_dt_us
        # Vectorised unwrap: steps modulo 2**30; huge steps (restarts) replaced by the last period.
        prev = np.empty(n, dtype=np.int64)
        prev[1:] = raw_t[:-1]
        prev[0] = raw_t[0] if last_raw is None else last_raw
        steps = (raw_t - prev) % T_US_MODULUS
        bad = steps > half
        if bad.any():
            good = steps[~bad & (steps > 0)]
            fill = int(np.median(good)) if len(good) else last_dt
            steps[bad] = fill
        if last_raw is None:
            steps[0] = 0
        t_us = t_acc + np.cumsum(steps)
        positive = steps[steps > 0]
        if len(positive):
            self._last_dt_us = int(positive[-1])
        self._last_raw = int(raw_t[-1])
        self._t_us = int(t_us[-1])

        cal = self.calibration
        counts = [a[:, 1 + i] for i in range(3)]  # (integers: see fsr.counts_to_newtons)
        forces = [cal.sensors[c].to_newtons(counts[i]) for i, c in enumerate(CONTACTS)]
        flags = a[:, 10]
        imu_ok = (flags & FLAG_IMU_MISSING) == 0
        acc = a[:, 4:7].astype(np.float64) * ACCEL_LSB_G
        gyr = a[:, 7:10].astype(np.float64) * GYRO_LSB_DPS
        return Samples(
            t_us.astype(np.float64) * 1e-6,
            acc[:, 0], acc[:, 1], acc[:, 2], gyr[:, 0], gyr[:, 1], gyr[:, 2],
            np.atleast_1d(forces[0]), np.atleast_1d(forces[1]), np.atleast_1d(forces[2]),
            imu_ok=imu_ok, has_gyro=True, has_force=True, counts=counts,
        )
