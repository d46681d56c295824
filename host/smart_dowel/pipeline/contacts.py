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

from .types import CONTACTS, ContactChanged


class Contacts:
    def __init__(self, config):
        self.cfg = config
        self.on = [False, False, False]
        self.raw = [False, False, False]
        self.pending = [None, None, None]  # when the raw state began to differ from `on`
        self.ref = [0.0, 0.0, 0.0]  # standing pressure of each pad (N)
        self.started = False
        self.force_seen = False  # some pad was ever touched
        self.all_off_since = None
        self.away = False
        self.last_t = None
        self.last_force = (0.0, 0.0, 0.0)
        self.t_first = None
        self.on_back = False
        self.arrived_s = None  # when the dowel last arrived on the back
        self.two_on_since = None

    def update(self, t, forces):
        """t: list (s); forces: three lists (N). Returns (events, on (n,3) bool, raw (n,3) bool,
        away (n,) bool)."""
        cfg = self.cfg
        n = len(t)
        on_out = np.zeros((n, 3), dtype=bool)
        raw_out = np.zeros((n, 3), dtype=bool)
        away_out = np.zeros(n, dtype=bool)
        arrived_out = np.full(n, np.nan)
        events = []
        on, raw, pend, ref = self.on, self.raw, self.pending, self.ref
        on_n, off_n = cfg.contact_on_n, cfg.contact_off_n
        on_frac, off_frac = cfg.contact_on_fraction, cfg.contact_off_fraction
        c_min, away_s, tau = cfg.contact_min_s, cfg.dowel_away_s, cfg.contact_ref_tau_s
        FH, FM, FT = forces
        exp = math.exp
        last_t = self.last_t
        for i in range(n):
            ti = t[i]
            f3 = (FH[i], FM[i], FT[i])
            dt = 0.0 if last_t is None else max(0.0, ti - last_t)
            last_t = ti
            if not self.started:
                self.started = True
                for k in range(3):
                    on[k] = raw[k] = f3[k] >= on_n
                    if on[k]:
                        self.force_seen = True
                        ref[k] = f3[k]
            else:
                al = 1.0 - exp(-dt / tau)
                for k in range(3):
                    f = f3[k]
                    if raw[k]:
                        if f < off_n or f < off_frac * ref[k]:
                            raw[k] = False
                        else:
                            ref[k] += al * (f - ref[k])
                    elif f >= on_n and f >= on_frac * ref[k]:
                        raw[k] = True
                        if ref[k] <= 0.0:
                            ref[k] = f
                    if raw[k] != on[k]:
                        if pend[k] is None:
                            pend[k] = ti
                        if ti - pend[k] >= c_min:
                            on[k] = raw[k]
                            events.append((i, ContactChanged(CONTACTS[k], on[k], pend[k], f)))
                            pend[k] = None
                            if on[k]:
                                self.force_seen = True
                    else:
                        pend[k] = None
            if self.t_first is None:
                self.t_first = ti
            # the dowel is on the back once two pads or more have been on for arrive_s, and
            # off it once every pad has been off for dowel_away_s
            n_on = on[0] + on[1] + on[2]
            if n_on >= 2:
                self.all_off_since = None
                if self.two_on_since is None:
                    self.two_on_since = ti
                if ti - self.two_on_since >= cfg.arrive_s and not self.on_back:
                    self.on_back = True
                    self.arrived_s = ti
            else:
                self.two_on_since = None
                if n_on == 0:
                    if self.all_off_since is None:
                        self.all_off_since = ti
                    if ti - self.all_off_since >= away_s:
                        self.on_back = False
            if self.on_back:
                self.away = False
            elif self.force_seen:
                self.away = True
            else:
                # never touched: a dowel on a table, or pads not connected (after
                # force_absent_s the rest goes on without contacts)
                self.away = ti - self.t_first < cfg.force_absent_s
            on_out[i] = on
            raw_out[i] = raw
            away_out[i] = self.away
            if self.on_back:
                arrived_out[i] = self.arrived_s
        self.last_t = last_t
        if n:
            self.last_force = (FH[-1], FM[-1], FT[-1])
        self.arrived = arrived_out
        return events, on_out, raw_out, away_out
