"""Tunable constants of the pipeline, with the defaults used everywhere (UI, CLI, tests)."""

from dataclasses import asdict, dataclass, fields


@dataclass
class PipelineConfig:
    """All thresholds in the units their names say. Defaults suit 10..500 Hz data."""

    # Rep depth
    target_depth_deg: float = 45.0  # below this a rep is flagged `shallow`
    # Rep segmentation (segmenter.py): a rise of H above the baseline, then a fall of H
    min_rise_deg: float = 12.0  # H at least: sway and a rebound after the return are smaller
    rise_fraction: float = 0.3  # H = this share of the recent reps' depth...
    max_rise_deg: float = 13.0  # ... but never more: a 15-degree squat after deep reps counts
    max_fall_deg: float = 18.0  # the fall that ends a rep: up to 0.3 x its own depth, at most this
    depth_memory_s: float = 30.0  # with no rep for this long, H starts again from min_rise_deg
    base_window_s: float = 10.0  # the baseline forgets lows older than this (a new pose)
    end_rise_deg: float = 3.0  # the return has bottomed out once the angle rises this much
    end_new_low_deg: float = 0.5  # ... or has found no new low (by this much)
    end_settle_s: float = 0.6  # ... for this long
    min_rep_s: float = 1.0  # shorter excursions are jolts or a wobble, not reps (a rushed rep takes 1.3 s)
    min_rep_rise_deg: float = 10.0  # a rep rises at least this far above where it began
    max_overshoot_deg: float = 40.0  # a return this far (or the rise) past the start: not a rep
    join_s: float = 0.3  # data that begins without a still spell this long joined a rep under way
    settle_after_rest_s: float = 1.0  # without pads: picked up off a table, held this still first
    max_rep_s: float = 30.0  # longer away from the baseline: put down, not a rep (holds of 25 s count)
    max_depth_deg: float = 115.0  # beyond this the dowel is not along a hinging back
    gap_cancel_s: float = 2.0  # a longer hole in the data cancels the rep under way
    bottom_band_fraction: float = 0.1  # the bottom phase: within this fraction of the depth
    bottom_band_min_deg: float = 2.0
    # Which side of the plane is hinging: the side that goes farthest from home (the upright,
    # else the pose of the last long stand), switched only on clear evidence
    home_band_deg: float = 4.0
    home_idle_s: float = 8.0  # no hold at the bottom of a rep lasts this long
    side_switch_ratio: float = 1.25
    first_still_s: float = 1.0  # data that begins this still begins with the person standing
    # Orientation (orientation.py)
    max_gap_s: float = 0.75  # a longer gap in the data restarts the orientation filter
    gyro_tau_s: float = 1.0  # complementary filter time constant with a gyroscope
    accel_only_tau_s: float = 0.3  # low-pass of the accelerometer without a gyroscope
    accel_ref_tau_s: float = 0.15  # ... and beside one (the plane, the upright, the gyro's sign)
    impact_g: float = 0.25  # |a| this far from its resting value is an impact, not gravity
    # The automatic upright pose: standing still with every pad on, no rep under way
    upright_still_s: float = 0.5
    upright_settle_s: float = 1.0  # the first pose not sooner than this after the dowel arrived
    upright_refine_s: float = 5.0  # the first pose is averaged over at most this much stillness
    upright_refresh_s: float = 1.0  # later stands: still this long between reps
    upright_moved_deg: float = 1.5  # a refreshed upright further than this is reported
    still_rate_dps: float = 5.0  # gravity turning slower than this is still
    auto_upright: bool = True
    # Contacts
    contact_on_n: float = 0.5
    contact_off_n: float = 0.25
    contact_on_fraction: float = 0.4  # ... and these fractions of the pad's standing pressure
    contact_off_fraction: float = 0.25
    contact_ref_tau_s: float = 2.0  # how fast the standing pressure is learnt
    contact_min_s: float = 0.1  # a change must last this long
    contact_fault_min_s: float = 0.15  # shorter losses inside a rep are not faults
    dowel_away_s: float = 1.0  # all contacts off this long: the dowel is off the back
    arrive_s: float = 0.2  # two pads on this long: the dowel is on the back
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
