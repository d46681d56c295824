"""Stage 2, inclination: the signed angle of the dowel in its plane of motion, from gravity.

The dowel tips about one axis (the hips' axis, fixed in the sensor frame however the IMU is
mounted): gravity, seen from the sensor, turns in the plane perpendicular to it. That axis is
learnt from the data: every TICK_S of data time, the turn of gravity since the last tick
(a cross product) is added to a scatter matrix that forgets with PLANE_TAU_S; its principal
direction is the axis. The angle is then atan2 in that plane, measured from a reference
direction (the first gravity reading), so it is signed and continuous: leaning a little the
other way reads negative instead of as more inclination.

Which side is "hinging" is decided elsewhere (the pipeline: the side that goes farthest from
where the person stands); this stage only supplies theta and, for a known upright pose, its
angle in the same plane.
"""

import bisect
import math

import numpy as np

from .jit import kernel

RAD = 180.0 / math.pi
TICK_S = 0.1  # the plane is learnt from gravity's turn over this much data time
PLANE_UPDATE_TICKS = 5  # the axis is re-estimated every 0.5 s of data
PLANE_TAU_S = 10.0  # older turns are forgotten with this time constant
PLANE_SETTLED_TURN = (30.0 / RAD) ** 2  # until this much turn, the axis is re-learnt every tick
HANDLED_COS = math.cos(4.0 / RAD)  # gravity staying within this of where it was...
HANDLED_SETTLE_S = 1.0  # ... for this long after the dowel was away: on the back again
PLANE_MIN_TURN = (6.0 / RAD) ** 2  # more than a person's sway: a real movement  # rad^2 of turn before the plane is known
# Before any plane, the person settling after the dowel arrived on the back (off it before:
# not when the data begins with it there): a pose held still (within REBASE_CALM_COS for
# HANDLED_SETTLE_S) further than REBASE_COS from the reference, within REBASE_WITHIN_S of taking
# it, becomes the reference, if nothing since went further from it than REBASE_MAX_COS (the
# hold at the bottom of a slow first rep is no new reference). A pause on the way down of a
# first rep, right after the data began, is no new reference either
REBASE_COS = math.cos(3.0 / RAD)
REBASE_CALM_COS = math.cos(1.5 / RAD)
REBASE_WITHIN_S = 2.0
REBASE_MAX_COS = math.cos(10.0 / RAD)
# Before any plane, the angle from the reference is signed. The first pose held (within
# LEAD_HOLD_COS for LEAD_HOLD_S) further than LEAD_COS from it gives the way that reads
# positive (a reading the onset of a movement throws the other way, or the dowel still moving
# as it arrives, gives none); each excursion further than LEAD_COS takes its sign as it leaves
# and keeps it until it is back within: negative when it leaves within LEAD_BACK_COS of the
# opposite way, positive any other way (within LEAD_COS, the same rule sample by sample; all
# positive before the way is known). A person who settles back a few degrees, then hinges
# forward through the reference, reads one continuous angle; a turn far from the reference
# never changes sign (no jump of twice the angle at the bottom of a rep)
LEAD_COS = math.cos(4.0 / RAD)
LEAD_HOLD_COS = math.cos(1.5 / RAD)
LEAD_HOLD_S = 0.3
LEAD_BACK_COS = 0.5
SIN_LEAD = math.sqrt(1.0 - LEAD_COS * LEAD_COS)
# the state of _pre_angles between calls: the positive way (3), whether there is one, the sign
# of the excursion under way (0: within LEAD_COS), the farthest reading (3), its cosine to the
# reference and sign, whether there is one; the pose being held (3), since when, whether any
P_LEAD, P_HAS_LEAD, P_SIGN, P_FAR, P_FAR_C, P_FAR_SIGN, P_HAS_FAR = 0, 3, 4, 5, 8, 9, 10
P_HOLD, P_HOLD_T, P_HAS_HOLD = 11, 14, 15
P_LEN = 16


# the tick loop's state between calls: the scatter matrix (xx xy xz yy yz zz), the last
# tick's gravity and time, ticks taken; handling (back from off the back, not yet held still)
# and the gravity it has stayed near since when
T_M, T_HAS_V, T_V, T_T, T_TICKS, T_HANDLING, T_HAS_CALM, T_CALM, T_CALM_T = (
    0, 6, 7, 10, 11, 12, 13, 14, 17)
T_LEN = 18


@kernel
def _ticks(G, TK, AW, j0, has_axis, settle_after_away, R, S, due_j, due_m):
    """The ticks from j0 on (gravity G at times TK, AW: off the back): the turns' scatter
    matrix, forgetting with PLANE_TAU_S. Writes (tick, matrix) where the axis is due to be
    re-estimated; returns (ticks done, due points written, -1 or the tick where the dowel has
    been held still with no axis known, settling): settling False, held still again after it
    was handled; True, held still after arriving, away from the reference R[:3] (R[3] set:
    there is one, taken at time R[4]; see REBASE_COS). Without an axis it returns at the first
    due point or such tick: what follows is the caller's to say."""
    nd = 0
    M = S
    for j in range(j0, len(TK)):
        v0, v1, v2 = G[j, 0], G[j, 1], G[j, 2]
        if v0 != v0:
            continue
        if AW[j]:
            # off the back (on a table, being handled): not the plane of the hinge
            S[T_HAS_V] = 0.0
            S[T_HANDLING] = 1.0 if settle_after_away else 0.0
            S[T_HAS_CALM] = 0.0
            continue
        if S[T_HANDLING] != 0.0:
            # picked up and brought to the back: that turn is not the hinge's either,
            # until the dowel has been held still (within a few degrees) for a moment
            settled = False
            if S[T_HAS_CALM] == 0.0 or \
                    S[T_CALM] * v0 + S[T_CALM + 1] * v1 + S[T_CALM + 2] * v2 < HANDLED_COS:
                S[T_HAS_CALM] = 1.0
                S[T_CALM], S[T_CALM + 1], S[T_CALM + 2] = v0, v1, v2
                S[T_CALM_T] = TK[j]
            elif TK[j] - S[T_CALM_T] >= HANDLED_SETTLE_S:
                S[T_HANDLING] = 0.0
                settled = True
            S[T_HAS_V] = 1.0
            S[T_V], S[T_V + 1], S[T_V + 2] = v0, v1, v2
            S[T_T] = TK[j]
            if settled and not has_axis:
                return j + 1, nd, j, False
            continue
        if S[T_HAS_V] != 0.0:
            # the turn since the last tick, as a rotation vector (cross product)
            t0, t1, t2 = S[T_V], S[T_V + 1], S[T_V + 2]
            d0 = t1 * v2 - t2 * v1
            d1 = t2 * v0 - t0 * v2
            d2 = t0 * v1 - t1 * v0
            dt = TK[j] - S[T_T]
            if 0.0 > dt:  # (as max(dt, 0.0))
                dt = 0.0
            f = math.exp(-dt / PLANE_TAU_S)
            M[0] = M[0] * f + d0 * d0
            M[1] = M[1] * f + d0 * d1
            M[2] = M[2] * f + d0 * d2
            M[3] = M[3] * f + d1 * d1
            M[4] = M[4] * f + d1 * d2
            M[5] = M[5] * f + d2 * d2
        S[T_HAS_V] = 1.0
        S[T_V], S[T_V + 1], S[T_V + 2] = v0, v1, v2
        S[T_T] = TK[j]
        S[T_TICKS] += 1.0
        trace = M[0] + M[3] + M[5]
        # every tick until the plane has settled, then every PLANE_UPDATE_TICKS
        due = (not has_axis or trace < PLANE_SETTLED_TURN
               or int(S[T_TICKS]) % PLANE_UPDATE_TICKS == 0)
        if due and trace >= PLANE_MIN_TURN:
            due_j[nd] = j
            due_m[nd, 0, 0], due_m[nd, 0, 1], due_m[nd, 0, 2] = M[0], M[1], M[2]
            due_m[nd, 1, 0], due_m[nd, 1, 1], due_m[nd, 1, 2] = M[1], M[3], M[4]
            due_m[nd, 2, 0], due_m[nd, 2, 1], due_m[nd, 2, 2] = M[2], M[4], M[5]
            nd += 1
            if not has_axis:
                return j + 1, nd, -1, False
        if not has_axis and R[3] != 0.0 and TK[j] - R[4] <= REBASE_WITHIN_S:
            # no plane yet: the angle is the plain one from the reference, which may have been
            # taken while the person was still settling (arriving on the back); a pose held
            # still elsewhere is where they stand, and the angle is measured from there
            if S[T_HAS_CALM] == 0.0 or \
                    S[T_CALM] * v0 + S[T_CALM + 1] * v1 + S[T_CALM + 2] * v2 < REBASE_CALM_COS:
                S[T_HAS_CALM] = 1.0
                S[T_CALM], S[T_CALM + 1], S[T_CALM + 2] = v0, v1, v2
                S[T_CALM_T] = TK[j]
            elif TK[j] - S[T_CALM_T] >= HANDLED_SETTLE_S and \
                    R[0] * v0 + R[1] * v1 + R[2] * v2 < REBASE_COS:
                S[T_HAS_CALM] = 0.0
                return j + 1, nd, j, True
    return len(TK), nd, -1, False


@kernel
def _pre_angles(T, X, ref, P, out):
    """out[i] = the signed angle (deg) of X[i] (at time T[i]) from ref before any plane (see
    LEAD_COS), NaN where X[i] is; P carries the state."""
    r0, r1, r2 = ref[0], ref[1], ref[2]
    for i in range(len(X)):
        x0, x1, x2 = X[i, 0], X[i, 1], X[i, 2]
        if x0 != x0:
            out[i] = math.nan
            continue
        c = x0 * r0 + x1 * r1 + x2 * r2
        c = -1.0 if c < -1.0 else (1.0 if c > 1.0 else c)
        u0, u1, u2 = x0 - c * r0, x1 - c * r1, x2 - c * r2
        un = math.sqrt(u0 * u0 + u1 * u1 + u2 * u2)
        inside = c >= LEAD_COS
        if P[P_HAS_LEAD] == 0.0:
            if inside:
                P[P_HAS_HOLD] = 0.0
            elif P[P_HAS_HOLD] == 0.0 or \
                    x0 * P[P_HOLD] + x1 * P[P_HOLD + 1] + x2 * P[P_HOLD + 2] < LEAD_HOLD_COS:
                P[P_HAS_HOLD] = 1.0
                P[P_HOLD], P[P_HOLD + 1], P[P_HOLD + 2] = x0, x1, x2
                P[P_HOLD_T] = T[i]
            elif T[i] - P[P_HOLD_T] >= LEAD_HOLD_S:
                P[P_HAS_LEAD] = 1.0
                P[P_LEAD], P[P_LEAD + 1], P[P_LEAD + 2] = u0 / un, u1 / un, u2 / un
        sg = 1.0
        if P[P_HAS_LEAD] != 0.0 and \
                u0 * P[P_LEAD] + u1 * P[P_LEAD + 1] + u2 * P[P_LEAD + 2] < -LEAD_BACK_COS * un:
            sg = -1.0
        if inside:
            P[P_SIGN] = 0.0
        elif P[P_SIGN] == 0.0:
            P[P_SIGN] = sg  # leaving: the excursion's sign, kept until it is back
        else:
            sg = P[P_SIGN]
        if P[P_HAS_FAR] == 0.0 or c < P[P_FAR_C]:
            P[P_HAS_FAR] = 1.0
            P[P_FAR], P[P_FAR + 1], P[P_FAR + 2] = x0, x1, x2
            P[P_FAR_C], P[P_FAR_SIGN] = c, sg
        out[i] = sg * math.acos(c) * (180.0 / math.pi)


def _dot(X, v):
    """X @ v for an n x 3 X, element by element: the same bits for a sample whatever the
    length of the batch it came in (a matrix product may round by the batch's size)."""
    return X[:, 0] * v[0] + X[:, 1] * v[1] + X[:, 2] * v[2]


def _cross(a, b):
    """np.cross of two 3-vectors, the same arithmetic without its overhead."""
    a0, a1, a2 = a.tolist()
    b0, b1, b2 = b.tolist()
    return np.array((a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0))


class Inclination:
    """update(t, g, away) -> (theta (deg, NaN where g is missing), signed (bool): the plane
    was known; before it, theta is the angle from the first reading on the back, signed by
    the first way gravity moved from there: see LEAD_COS)."""

    def __init__(self):
        self.tick_state = np.zeros(T_LEN)  # the turns' scatter matrix, the last tick, ticks
        self.axis = None  # unit normal of the plane of motion (sensor frame)
        self.ref = None  # reference gravity direction: theta = 0
        self._ref_t = 0.0  # when it was taken on arriving on the back (-inf: not then)
        self._away_before = False  # readings came before the reference, off the back
        self.far = None  # before any plane: the reading farthest from the reference
        self.pre_state = np.zeros(P_LEN)  # before any plane: the signed angle's (_pre_angles)
        self._pre_ref = None  # (the reference it belongs to)
        self.e1 = self.e2 = None
        self.tick = None  # index of the last tick taken
        self.last_theta = None
        self.segments = []  # (from, to, e1, e2): the plane in force over the last update()
        self.rebased = []  # indices of the last update() where the reference moved (theta jumps)
        self.off_plane = np.zeros(0)  # per sample of the last update(): |sin| of gravity out of the plane
        self._seg_hi = []

    def angle_of(self, g):
        """theta (deg) of one gravity vector, or None when it cannot be placed yet."""
        if self.e1 is None:
            return None
        g = np.asarray(g, dtype=float)
        return float(math.atan2(g @ self.e2, g @ self.e1) * RAD)

    def angles_of(self, vec, theta, lo_index=0):
        """theta (deg) of a fixed direction (the upright) per sample of the last update(), in
        the plane in force at each sample, taken on the turn nearest to that sample's theta;
        NaN where no plane was known (and before lo_index)."""
        out = np.full(len(theta), np.nan)
        self._fill_angles(out, vec, theta, lo_index, len(theta))
        return out

    def angles_from(self, changes, theta):
        """angles_of() per sample for a direction that changes: changes lists (from index,
        direction or None: none from there) in the order they were made, each in force from
        its index to the end of the batch until a later one; NaN before the first. The same values as writing
        angles_of(direction, theta, i)[i:] for each in turn, computed once per sample."""
        out = np.full(len(theta), np.nan)
        covered = len(theta)  # samples from here on are a later change's
        for lo, vec in reversed(changes):
            if lo < covered:
                if vec is not None:  # (None: from here on there is none)
                    self._fill_angles(out, vec, theta, lo, covered)
                covered = lo
        return out

    def angle_at(self, vec, i):
        """The in-plane angle (deg) of direction vec in the plane in force at sample i of the
        last update(), NaN where there is none (not put on theta's turn: for differences)."""
        k = bisect.bisect_right(self._seg_hi, i)
        if k < len(self.segments):
            lo, hi, e1, e2 = self.segments[k]
            if lo <= i < hi and e1 is not None:
                v = np.asarray(vec, dtype=float)
                return math.atan2(v @ e2, v @ e1) * RAD
        return math.nan

    def _fill_angles(self, out, vec, theta, lo_index, hi_index):
        """out[lo_index:hi_index] = angles_of(vec, theta, lo_index)[lo_index:hi_index]."""
        vec = np.asarray(vec, dtype=float)
        segs = self.segments
        k = bisect.bisect_right(self._seg_hi, lo_index)  # the first segment ending after lo_index
        for lo, hi, e1, e2 in segs[k:]:
            if lo >= hi_index:
                break
            lo = lo if lo > lo_index else lo_index
            hi = hi if hi < hi_index else hi_index
            if e1 is not None and hi > lo:
                out[lo:hi] = math.atan2(vec @ e2, vec @ e1) * RAD
        # theta is continuous through +-180: put the upright on the same turn
        o = out[lo_index:hi_index]
        th = theta[lo_index:hi_index]
        ref = np.where(np.isfinite(th), th, self.last_theta if self.last_theta is not None else 0.0)
        out[lo_index:hi_index] = o + 360.0 * np.round((ref - o) / 360.0)

    def _set_axis(self, axis, g_now):
        if self.axis is not None and axis @ self.axis < 0.0:
            axis = -axis  # keep the sign continuous
        # the in-plane zero: the old one carried into the new plane (theta stays continuous),
        # else the reference gravity, else gravity now
        for r in (self.e1, self.ref, g_now):
            if r is None:
                continue
            r = r - (r @ axis) * axis
            nr = math.sqrt(r.dot(r))  # np.linalg.norm's own arithmetic
            if nr >= 0.2:
                break
        else:
            return
        self.axis = axis
        self.e1 = r / nr
        self.e2 = _cross(axis, self.e1)

    @property
    def handling(self):
        """Back from off the back (a table), not yet held still."""
        return bool(self.tick_state[T_HANDLING])

    def _farthest(self, gp, lo, hi):
        """The reading of gp[lo:hi] (or the one kept from earlier batches) farthest from the
        reference: the movement so far, before any plane is known."""
        seg = gp[lo:hi]
        seg = seg[np.isfinite(seg[:, 0])]
        best = self.far
        if len(seg):
            c = seg[int(np.argmin(seg @ self.ref))]
            if best is None or c @ self.ref < best @ self.ref:
                best = c.copy()
        return best if best is not None else self.ref

    def _unmoved(self, gp, lo, hi):
        """No reading of gp[lo:hi] (or earlier) further from the reference than
        REBASE_MAX_COS."""
        far = self._farthest(gp, lo, hi)
        return bool(far @ self.ref >= REBASE_MAX_COS)

    def _pre(self, ref, t, x, state=None):
        """The signed angles (deg) of the readings x from ref before any plane, carrying on
        the state kept for ref (or the given one)."""
        if state is None:
            if self._pre_ref is not ref:
                self._pre_ref, self.pre_state = ref, np.zeros(P_LEN)
            state = self.pre_state
        out = np.empty(len(x))
        _pre_angles(np.ascontiguousarray(t, dtype=np.float64),
                    np.ascontiguousarray(x, dtype=np.float64),
                    np.ascontiguousarray(ref, dtype=np.float64), state, out)
        return out

    def update(self, t, g, away=None, g_plane=None, settle_after_away=False):
        """settle_after_away: after an away spell (a table, no pads to say when it is back on
        the back), turns count for the plane only once gravity has been held still again."""
        n = len(t)
        theta = np.full(n, np.nan)
        signed = np.zeros(n, dtype=bool)
        self.rebased = []
        off = np.full(n, np.nan)  # NaN: no plane, or no reading
        self.off_plane = off
        valid = np.isfinite(g[:, 0])
        if not valid.any():
            return theta, signed
        idx = np.flatnonzero(valid)
        ref_from = 0  # no angle before the reference exists (the same in any batching)
        if self.ref is None:
            on = idx if away is None else idx[~np.asarray(away, dtype=bool)[idx]]
            if len(on):
                self.ref = g[on[0]].copy()  # the first reading with the dowel on the back
                # taken as it arrived there (off the back before): the person may be settling
                arrived = self._away_before or on[0] > idx[0]
                self._ref_t = float(t[on[0]]) if arrived else -math.inf
                ref_from = int(on[0])
            else:
                self._away_before = True
                ref_from = n
        # the first valid sample of each new tick (data time, so any rate learns alike)
        ticks = np.floor(t[idx] / TICK_S).astype(np.int64)
        prev = np.empty_like(ticks)
        prev[0] = self.tick if self.tick is not None else ticks[0] - 1
        prev[1:] = ticks[:-1]
        starts = idx[ticks > prev]
        # the plane in force for each sample: piecewise constant between updates
        seg_from = [0]
        seg_axis = [(self.e1, self.e2)]
        refs = [(0, self.ref)]  # the reference in force from each index (it moves after a table)
        gp = g if g_plane is None else g_plane
        G = np.ascontiguousarray(gp[starts], dtype=np.float64)
        TK = np.ascontiguousarray(t[starts], dtype=np.float64)
        AW = np.zeros(len(starts), dtype=np.bool_) if away is None else \
            np.ascontiguousarray(np.asarray(away, dtype=bool)[starts])
        due_j = np.empty(len(starts), dtype=np.int64)
        due_m = np.empty((len(starts), 3, 3))
        j = 0
        R = np.zeros(5)
        while j < len(starts):
            if self.ref is not None:
                R[:3], R[3], R[4] = self.ref, 1.0, self._ref_t
            j, nd, calm, settling = _ticks(G, TK, AW, j, self.axis is not None,
                                           bool(settle_after_away), R, self.tick_state, due_j,
                                           due_m)
            if calm >= 0:
                k = int(starts[calm])
                if self.axis is None and np.isfinite(g[k, 0]) and (
                        not settling
                        or self._unmoved(gp, refs[-1][0] if len(refs) > 1 else ref_from, k + 1)):
                    # no plane yet: the angle is measured from here, on the back, not from
                    # where the dowel lay (or where it arrived, the person still settling)
                    self.ref = g[k].copy()
                    refs.append((k, self.ref))
                    if not settling:
                        # the angle jumps (from where the dowel lay): no rep spans it. Held
                        # still after handling, there is no settling to follow either
                        self.rebased.append(k)
                        self._ref_t = -math.inf
                    # (settling, it moves a few degrees towards 0, where the person stands:
                    # no rep starts or ends in that, so the segmentation goes on through it)
                    self.far = None
            if not nd:
                continue
            # the axis: the principal direction of the turns (one LAPACK call per matrix,
            # all of them at once)
            V = np.linalg.eigh(due_m[:nd])[1]
            for jd, Vd in zip(due_j[:nd].tolist(), V):
                k = int(starts[jd])
                before = self.e1
                axis = Vd[:, -1]
                if self.axis is None and self.ref is not None:
                    # the first plane: its sign keeps the angle as it read before (at the pose
                    # now, if it is out by the reference and in this plane; else at the farthest)
                    # or, nothing having gone out that far, makes the farthest pose positive
                    lo_ref = refs[-1][0] if len(refs) > 1 else ref_from
                    st = self.pre_state.copy() if self._pre_ref is self.ref else np.zeros(P_LEN)
                    pre = self._pre(self.ref, t[lo_ref:k + 1], gp[lo_ref:k + 1], st)
                    x, sg = st[P_FAR:P_FAR + 3], st[P_FAR_SIGN]
                    if st[P_HAS_LEAD] == 0.0:
                        x, sg = self._farthest(gp, lo_ref, k + 1), 1.0
                    elif np.isfinite(pre[-1]) and abs(np.cross(self.ref, gp[k]) @ axis) >= SIN_LEAD:
                        x, sg = gp[k], math.copysign(1.0, pre[-1])
                    if (np.cross(self.ref, x) @ axis) * sg < 0.0:
                        axis = -axis
                self._set_axis(axis, g[k])
                if self.e1 is not before:
                    seg_from.append(k)
                    seg_axis.append((self.e1, self.e2))
        self.tick = int(ticks[-1])
        if self.axis is None and self.ref is not None:
            self.far = self._farthest(gp, refs[-1][0] if len(refs) > 1 else ref_from, n)
        seg_from.append(n)
        self.segments = [(seg_from[j], seg_from[j + 1], e1, e2) for j, (e1, e2) in enumerate(seg_axis)]
        self._seg_hi = seg_from[1:]
        for j, (e1, e2) in enumerate(seg_axis):
            lo, hi = seg_from[j], seg_from[j + 1]
            if lo >= hi:
                continue
            gg = g[lo:hi]
            if e1 is None:
                lo = max(lo, ref_from)
                # no plane yet: the plain angle from the reference (of the accelerometer's own
                # estimate, which a gyro of the wrong sign cannot mislead), signed by the first
                # way it moved (LEAD_COS)
                for m, (r0, ref) in enumerate(refs):
                    a = max(lo, r0)
                    b = min(hi, refs[m + 1][0]) if m + 1 < len(refs) else hi
                    if ref is not None and b > a:
                        theta[a:b] = self._pre(ref, t[a:b], gp[a:b])
                continue
            else:
                theta[lo:hi] = np.arctan2(_dot(gg, e2), _dot(gg, e1)) * RAD
                signed[lo:hi] = True
                off[lo:hi] = np.abs(_dot(gg, _cross(e1, e2)))
        theta[~valid] = np.nan
        idx = np.flatnonzero(np.isfinite(theta))
        if not len(idx):
            return theta, signed
        # continuous through +-180 degrees (a reference taken upside down, on a table)
        vals = theta[idx]
        if len(vals) <= _UNWRAP_LOOP_MAX:
            vals = _unwrap_deg_short(vals.tolist(), self.last_theta)
            theta[idx] = vals
            self.last_theta = vals[-1]
            return theta, signed
        if self.last_theta is not None:
            vals = np.concatenate(([self.last_theta], vals))
        vals = np.degrees(np.unwrap(np.radians(vals)))
        if self.last_theta is not None:
            vals = vals[1:]
        theta[idx] = vals
        self.last_theta = float(vals[-1])
        return theta, signed


_UNWRAP_LOOP_MAX = 32  # a live batch (a few samples): a loop, not a dozen numpy calls


def _unwrap_deg_short(vals, last):
    """np.degrees(np.unwrap(np.radians([last] + vals)))[1:] (without `last` when None), for a
    short list, bit for bit: the same operations in the same order, one sample at a time
    (math.radians/degrees multiply by the same constants as numpy's, float % is np.mod, and
    the corrections add up in order as cumsum does)."""
    pi, two_pi, rad, deg = math.pi, 2.0 * math.pi, math.radians, math.degrees
    out = []
    if last is None:
        prev = rad(vals[0])
        out.append(deg(prev))
        vals = vals[1:]
    else:
        prev = rad(last)
    cum = None
    for v in vals:
        r = rad(v)
        dd = r - prev
        prev = r
        if abs(dd) < pi:
            corr = 0.0
        else:
            m = (dd + pi) % two_pi - pi
            if m == -pi and dd > 0:
                m = pi
            corr = m - dd
        cum = corr if cum is None else cum + corr
        out.append(deg(r + cum))
    return out
