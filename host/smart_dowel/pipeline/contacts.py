"""Stage 3, contacts: each pad on or off the back, with hysteresis and a minimum duration.

Two readings of the same forces:
- `raw`: the pad's state with hysteresis only, for the screen and the sound cue the moment
  it changes (what the patient needs to see mid-rep);
- `on`: the same state once it has lasted contact_min_s, for faults and events (a dip of a
  few tens of ms is not a lost contact; a fault further needs contact_fault_min_s).
Losses are judged against the pad's own standing pressure (learnt while it is on), so a light
head contact and a firm mid-back contact are judged alike. All pads off for dowel_away_s means
the dowel left the back.
"""

import math

import numpy as np

from .jit import kernel
from .types import CONTACTS, ContactChanged


# the state between calls, one float64 array: per pad [on, raw, pending?, pending since, ref]
P_ON, P_RAW, P_HAS_PEND, P_PEND, P_REF = 0, 1, 2, 3, 4
(C_STARTED, C_FORCE_SEEN, C_HAS_ALL_OFF, C_ALL_OFF, C_AWAY, C_HAS_T, C_T, C_HAS_FIRST, C_FIRST,
 C_ON_BACK, C_ARRIVED, C_HAS_TWO, C_TWO) = range(15, 28)
C_LEN = 28


@kernel
def _contacts(t, fh, fm, ft, on_n, off_n, on_frac, off_frac, c_min, away_s, tau, arrive_s,
              absent_s, S, on_out, raw_out, away_out, arrived_out, ev_i, ev_k, ev_t, ev_f):
    """The pads over one batch (see Contacts); S carries the state. Fills the outputs;
    returns the number of ContactChanged events written to ev_* (on = S's state then)."""
    n_ev = 0
    f3 = np.zeros(3)
    for i in range(len(t)):
        ti = t[i]
        f3[0], f3[1], f3[2] = fh[i], fm[i], ft[i]
        dt = 0.0
        if S[C_HAS_T] != 0.0:
            d = ti - S[C_T]
            dt = d if d > 0.0 else 0.0
        S[C_HAS_T] = 1.0
        S[C_T] = ti
        if S[C_STARTED] == 0.0:
            S[C_STARTED] = 1.0
            for k in range(3):
                b = 5 * k
                on = f3[k] >= on_n
                S[b + P_ON] = S[b + P_RAW] = 1.0 if on else 0.0
                if on:
                    S[C_FORCE_SEEN] = 1.0
                    S[b + P_REF] = f3[k]
        else:
            al = 1.0 - math.exp(-dt / tau)
            for k in range(3):
                b = 5 * k
                f = f3[k]
                ref = S[b + P_REF]
                if S[b + P_RAW] != 0.0:
                    if f < off_n or f < off_frac * ref:
                        S[b + P_RAW] = 0.0
                    else:
                        S[b + P_REF] = ref + al * (f - ref)
                elif f >= on_n and f >= on_frac * ref:
                    S[b + P_RAW] = 1.0
                    if ref <= 0.0:
                        S[b + P_REF] = f
                if S[b + P_RAW] != S[b + P_ON]:
                    if S[b + P_HAS_PEND] == 0.0:
                        S[b + P_HAS_PEND] = 1.0
                        S[b + P_PEND] = ti
                    if ti - S[b + P_PEND] >= c_min:
                        S[b + P_ON] = S[b + P_RAW]
                        ev_i[n_ev], ev_k[n_ev], ev_t[n_ev], ev_f[n_ev] = i, k, S[b + P_PEND], f
                        n_ev += 1
                        S[b + P_HAS_PEND] = 0.0
                        if S[b + P_ON] != 0.0:
                            S[C_FORCE_SEEN] = 1.0
                else:
                    S[b + P_HAS_PEND] = 0.0
        if S[C_HAS_FIRST] == 0.0:
            S[C_HAS_FIRST] = 1.0
            S[C_FIRST] = ti
        # the dowel is on the back once two pads or more have been on for arrive_s, and
        # off it once every pad has been off for dowel_away_s
        n_on = 0
        for k in range(3):
            if S[5 * k + P_ON] != 0.0:
                n_on += 1
        if n_on >= 2:
            S[C_HAS_ALL_OFF] = 0.0
            if S[C_HAS_TWO] == 0.0:
                S[C_HAS_TWO] = 1.0
                S[C_TWO] = ti
            if ti - S[C_TWO] >= arrive_s and S[C_ON_BACK] == 0.0:
                S[C_ON_BACK] = 1.0
                S[C_ARRIVED] = ti
        else:
            S[C_HAS_TWO] = 0.0
            if n_on == 0:
                if S[C_HAS_ALL_OFF] == 0.0:
                    S[C_HAS_ALL_OFF] = 1.0
                    S[C_ALL_OFF] = ti
                if ti - S[C_ALL_OFF] >= away_s:
                    S[C_ON_BACK] = 0.0
        if S[C_ON_BACK] != 0.0:
            S[C_AWAY] = 0.0
        elif S[C_FORCE_SEEN] != 0.0:
            S[C_AWAY] = 1.0
        else:
            # never touched: a dowel on a table, or pads not connected (after
            # force_absent_s the rest goes on without contacts)
            S[C_AWAY] = 1.0 if ti - S[C_FIRST] < absent_s else 0.0
        for k in range(3):
            on_out[i, k] = S[5 * k + P_ON] != 0.0
            raw_out[i, k] = S[5 * k + P_RAW] != 0.0
        away_out[i] = S[C_AWAY] != 0.0
        if S[C_ON_BACK] != 0.0:
            arrived_out[i] = S[C_ARRIVED]
    return n_ev


class Contacts:
    """update(t, forces) per batch; between batches `on` and `raw` (per pad, bool), `away`,
    `force_seen` (some pad was ever touched), `on_back`, `arrived_s` (when the dowel last
    arrived on the back), `last_force` (N) and, per sample of the last batch, `arrived`."""

    def __init__(self, config):
        self.cfg = config
        self.state = np.zeros(C_LEN)
        self.last_force = (0.0, 0.0, 0.0)
        self.arrived = np.zeros(0)

    def _pads(self, field):
        return [bool(self.state[5 * k + field]) for k in range(3)]

    @property
    def on(self):
        return self._pads(P_ON)

    @property
    def raw(self):
        return self._pads(P_RAW)

    @property
    def ref(self):
        """The standing pressure of each pad (N)."""
        return [float(self.state[5 * k + P_REF]) for k in range(3)]

    @property
    def force_seen(self):
        return bool(self.state[C_FORCE_SEEN])

    @property
    def away(self):
        return bool(self.state[C_AWAY])

    @property
    def on_back(self):
        return bool(self.state[C_ON_BACK])

    @property
    def arrived_s(self):
        return float(self.state[C_ARRIVED]) if self.on_back else None

    def flip_forces(self):
        """Where each pad's `raw` state turns next, from the state now: per pad (raw, N), the
        pad turning off below N when raw is on, on at N or more when off. None before the
        first sample (which sets the states without a change)."""
        S = self.state
        if S[C_STARTED] == 0.0:
            return None
        cfg = self.cfg
        out = []
        for k in range(3):
            ref = float(S[5 * k + P_REF])
            if S[5 * k + P_RAW] != 0.0:
                out.append((True, self.off_force(ref)))
            else:
                out.append((False, max(float(cfg.contact_on_n), cfg.contact_on_fraction * ref)))
        return tuple(out)

    def off_force(self, ref_n):
        """The force (N) below which a pad that is on turns off, for a standing pressure of
        ref_n (the kernel's rule; ref_n follows the force while the pad is on)."""
        return max(float(self.cfg.contact_off_n), self.cfg.contact_off_fraction * ref_n)

    def update(self, t, forces):
        """t (s); forces: three sequences (N). Returns (events, on (n,3) bool, raw (n,3) bool,
        away (n,) bool)."""
        cfg = self.cfg
        t = np.ascontiguousarray(t, dtype=np.float64)
        FH, FM, FT = (np.ascontiguousarray(f, dtype=np.float64) for f in forces)
        n = len(t)
        on_out = np.zeros((n, 3), dtype=bool)
        raw_out = np.zeros((n, 3), dtype=bool)
        away_out = np.zeros(n, dtype=bool)
        arrived_out = np.full(n, np.nan)
        ev_i = np.empty(3 * n, dtype=np.int64)
        ev_k = np.empty(3 * n, dtype=np.int64)
        ev_t = np.empty(3 * n)
        ev_f = np.empty(3 * n)
        n_ev = _contacts(t, FH, FM, FT, float(cfg.contact_on_n), float(cfg.contact_off_n),
                         float(cfg.contact_on_fraction), float(cfg.contact_off_fraction),
                         float(cfg.contact_min_s), float(cfg.dowel_away_s),
                         float(cfg.contact_ref_tau_s), float(cfg.arrive_s),
                         float(cfg.force_absent_s), self.state, on_out, raw_out, away_out,
                         arrived_out, ev_i, ev_k, ev_t, ev_f)
        events = []
        for i, k, ts, f in zip(ev_i[:n_ev].tolist(), ev_k[:n_ev].tolist(), ev_t[:n_ev].tolist(),
                               ev_f[:n_ev].tolist()):
            events.append((i, ContactChanged(CONTACTS[k], bool(on_out[i, k]), ts, f)))
        if n:
            self.last_force = (float(FH[-1]), float(FM[-1]), float(FT[-1]))
        self.arrived = arrived_out
        return events, on_out, raw_out, away_out
