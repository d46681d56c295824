"""A small, independent synthetic dowel for the pipeline tests: a trunk hinging about the
hips (optionally dropping, bouncing or swaying), an IMU mounted in any orientation at some
distance from the hips, three contact forces. Not the simulator's body model on purpose.
"""

import numpy as np

G = 9.80665


def rot_y(a):
    c, s = np.cos(a), np.sin(a)
    z, o = np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def random_rotation(seed):
    q = np.random.default_rng(seed).normal(size=4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def ramp(tau):
    """Minimum-jerk 0 -> 1 on [0, 1]."""
    tau = np.clip(tau, 0.0, 1.0)
    return tau ** 3 * (10 - 15 * tau + 6 * tau ** 2)


class Script:
    """Builds a timeline of trunk inclination (deg), hip drop (m) and contact forces (N)."""

    def __init__(self, rate_hz=1000.0, lead_s=3.0):
        self.segments = []  # (duration_s, fn(t_local) -> (theta_deg, drop_m, pads, extra_acc))
        self.t = lead_s
        self.reps = []  # truth: (start, bottom, end, depth)
        self.rate = rate_hz
        self.lead_s = lead_s

    def stand(self, duration_s):
        self.t += duration_s
        return self

    def rep(self, depth_deg, descent_s=1.8, hold_s=0.5, ascent_s=1.5, drop_m=0.03,
            lose=None, wobble_deg=0.0):
        t0 = self.t
        self.segments.append(("rep", t0, dict(depth=depth_deg, d=descent_s, h=hold_s,
                                                a=ascent_s, drop=drop_m, lose=lose,
                                                wobble=wobble_deg)))
        self.reps.append((t0, t0 + descent_s + hold_s / 2, t0 + descent_s + hold_s + ascent_s,
                          depth_deg))
        self.t = t0 + descent_s + hold_s + ascent_s
        return self

    def custom(self, duration_s, fn):
        """fn(t_local array) -> dict with any of theta_deg, drop_m, pads (3-tuple factor),
        acc_x/acc_z (m/s^2, world)."""
        self.segments.append(("custom", self.t, dict(dur=duration_s, fn=fn)))
        self.t += duration_s
        return self

    def render(self, tail_s=2.0, radius_m=0.45, mount=None, forces=(2.5, 14.0, 8.0),
               sway_deg=0.0, noise=True, seed=0):
        """Dict of arrays like the body model's render(): t, ax_g.., gx_dps.., head_n..,
        hinge_deg, sampled at self.rate."""
        rng = np.random.default_rng(seed)
        n = int((self.t + tail_s) * self.rate) + 1
        t = np.arange(n) / self.rate
        th = np.zeros(n)
        drop = np.zeros(n)
        acc_x = np.zeros(n)
        acc_z = np.zeros(n)
        pads = np.ones((n, 3))
        if sway_deg:
            th += sway_deg * np.sin(2 * np.pi * 0.3 * t) + 0.5 * sway_deg * np.sin(2 * np.pi * 0.71 * t + 1)
        for kind, t0, p in self.segments:
            if kind == "rep":
                r = t - t0
                d, h, a, D = p["d"], p["h"], p["a"], p["depth"]
                prof = np.where(r < d, ramp(r / d), np.where(r < d + h, 1.0, 1.0 - ramp((r - d - h) / a)))
                prof[(r < 0) | (r > d + h + a)] = 0.0
                w = p["wobble"] * np.sin(2 * np.pi * 1.5 * (r - d)) * ((r > d) & (r < d + h))
                th += D * prof + w
                drop += p["drop"] * prof
                if p["lose"] is not None:
                    k = {"head": 0, "midback": 1, "tailbone": 2}[p["lose"]]
                    lost = (r > 0.4 * d) & (r < d + h + 0.5 * a)
                    pads[lost, k] = 0.0
            else:
                m = (t >= t0) & (t < t0 + p["dur"])
                out = p["fn"](t[m] - t0)
                if "theta_deg" in out:
                    th[m] = out["theta_deg"]
                if "drop_m" in out:
                    drop[m] += out["drop_m"]
                if "pads" in out:
                    pads[m] *= np.asarray(out["pads"]).reshape(-1, 3) if np.ndim(out["pads"]) > 1 else out["pads"]
                for key, arr in (("acc_x", acc_x), ("acc_z", acc_z)):
                    if key in out:
                        arr[m] += out[key]
        thr = np.radians(th)
        dt = 1.0 / self.rate
        # IMU position: on the dowel, radius_m above the hips, hips dropping by `drop`
        px = radius_m * np.sin(thr)
        pz = radius_m * np.cos(thr) - drop
        ax = np.gradient(np.gradient(px, dt), dt) + acc_x
        az = np.gradient(np.gradient(pz, dt), dt) + acc_z
        f_world = np.stack([ax, np.zeros(n), az + G], axis=1) / G
        R = rot_y(thr)
        f_dowel = np.einsum("nji,nj->ni", R, f_world)
        w_dowel = np.stack([np.zeros(n), np.gradient(thr, dt), np.zeros(n)], axis=1)
        M = np.eye(3) if mount is None else mount
        acc = f_dowel @ M.T
        gyr = np.degrees(w_dowel) @ M.T
        if noise:
            acc = acc + rng.normal(0, 0.004, acc.shape)
            gyr = gyr + rng.normal(0, 0.1, gyr.shape) + np.array([0.5, -0.3, 0.4])
        out = {"t": t, "hinge_deg": np.abs(th)}
        for i, k in enumerate(("ax_g", "ay_g", "az_g")):
            out[k] = acc[:, i]
        for i, k in enumerate(("gx_dps", "gy_dps", "gz_dps")):
            out[k] = gyr[:, i]
        for i, k in enumerate(("head_n", "midback_n", "tailbone_n")):
            f = forces[i] * pads[:, i]
            if noise:
                f = np.clip(f + rng.normal(0, 0.03, n) * (f > 0), 0, None)
            out[k] = f
        return out


def decimate(d, rate_in, rate_out):
    step = int(round(rate_in / rate_out))
    return {k: v[::step] for k, v in d.items()}


def sample_and_hold(d, hold=3, keys=("ax_g", "ay_g", "az_g", "gx_dps", "gy_dps", "gz_dps")):
    """Every IMU reading repeated for `hold` samples (a sensor slower than the sampler)."""
    out = dict(d)
    for k in keys:
        v = d[k].copy()
        idx = (np.arange(len(v)) // hold) * hold
        out[k] = v[idx]
    return out


def drop_gyro(d):
    return {k: v for k, v in d.items() if not k.startswith("g")}
