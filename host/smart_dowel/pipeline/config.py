"""Tunable constants of the pipeline, with the defaults used everywhere (UI, CLI, tests)."""

from dataclasses import asdict, dataclass, fields


@dataclass
class PipelineConfig:
    """All thresholds in the units their names say. Defaults suit 10..500 Hz data."""

    # Rep depth
    target_depth_deg: float = 45.0  # below this a rep is flagged `shallow`
    min_rep_depth_deg: float = 12.0  # shallower excursions are sway, not reps
    # Rep state machine (angles relative to the standing baseline)
    start_deg: float = 5.0  # leaving the standing band: a rep may be starting
    rest_band_deg: float = 2.0  # within this of the baseline counts as standing still
    end_fraction: float = 0.3  # back within this fraction of the depth: ascent finished
    end_min_deg: float = 4.0  # ... but never closer than this to the baseline
    settle_timeout_s: float = 0.6  # how long to wait for the return to settle
    bottom_band_fraction: float = 0.1  # the bottom phase: within this fraction of the depth
    bottom_band_min_deg: float = 2.0
    min_rep_s: float = 0.6  # shorter excursions are jolts, not reps
    max_rep_s: float = 20.0  # longer: the dowel was put down, not a rep
    max_depth_deg: float = 115.0  # beyond this the dowel is not along a hinging back
    max_gap_s: float = 0.75  # a longer gap in the data restarts the pipeline's filters
    baseline_tau_s: float = 2.0
    baseline_max_deg: float = 12.0
    # Hinge angle filter
    gyro_tau_s: float = 1.0  # complementary filter time constant with a gyroscope
    accel_tolerance_g: float = 0.15  # accelerometer trust falls to 0 this far from 1 g
    accel_only_tau_s: float = 0.1  # low-pass of the accelerometer without a gyroscope
    accel_only_tolerance_g: float = 0.75  # (gentler: there is nothing else to go on)
    # Stillness and the automatic upright pose
    still_accel_g: float = 0.03  # rms accelerometer deviation while still
    still_gyro_dps: float = 8.0
    still_tau_s: float = 0.25
    upright_still_s: float = 0.5  # stillness needed to capture the upright pose
    auto_upright: bool = True
    # "near" a pose: the provisional upright, or where the dowel was put on the back
    upright_near_deg: float = 20.0
    # a still pose far from the provisional upright is taken only after this long (it may be
    # the hold at the bottom of a rep)
    upright_long_still_s: float = 3.0
    # standing still this long with every pad on, near where the dowel was put on the back
    # but far from the upright: the upright was wrong and is taken again
    upright_recover_s: float = 2.0
    # Contacts
    contact_on_n: float = 0.5
    contact_off_n: float = 0.25
    contact_on_fraction: float = 0.4  # ... and these fractions of the pad's standing pressure
    contact_off_fraction: float = 0.25
    contact_ref_tau_s: float = 2.0  # how fast the standing pressure is learnt
    contact_min_s: float = 0.1  # a change must last this long
    contact_fault_min_s: float = 0.15  # shorter losses inside a rep are not faults
    dowel_away_s: float = 1.0  # all contacts off this long: the dowel is off the back
    force_absent_s: float = 30.0  # no pad touched for this long: go on without contacts
    # Other faults
    rushed_descent_s: float = 1.0  # a faster descent is `rushed`
    squat_excess_drop_m: float = 0.15  # drop beyond what the trunk's inclination explains
    hinge_radius_m: float = 0.5  # assumed hip-to-IMU distance along the dowel
    squat_max_depth_deg: float = 60.0  # deeper hinges are never called squats
    drop_lead_s: float = 0.5  # the drop is measured from this long before the rep starts

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (d or {}).items() if k in names})
