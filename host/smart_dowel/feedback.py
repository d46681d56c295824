"""Feedback schedules (issue 15): which reps of a set get live feedback, and the summary of a
set when it ends. Feedback on every rep helps while learning but makes people lean on it;
fewer cues (faded), cues only when it goes wrong (bandwidth) or a summary afterwards
(post-set) make the skill last. The clinician picks one per set.

Pure logic, no UI: the live session asks it whether what the screen and the sound show now
is live, and tells it when a rep starts, a fault happens and a rep ends.
"""

from __future__ import annotations

from collections import Counter

EVERY = "every"
FADED = "faded"
BANDWIDTH = "bandwidth"
POST_SET = "post-set"
SCHEDULES = (EVERY, FADED, BANDWIDTH, POST_SET)

# what each schedule does, in the words of the screen and of --help
DESCRIPTIONS = {
    EVERY: "live feedback on every rep",
    FADED: "live feedback on a falling share of reps: all of the first third of the set, "
           "half of the second, a fifth of the last",
    BANDWIDTH: "live feedback only when a fault happens or depth leaves the target band",
    POST_SET: "nothing live; a summary of the set when it ends",
}


def faded_live(number, target_reps):
    """Whether rep `number` (1, 2, ...) of a set of `target_reps` gets live feedback under the
    faded schedule: every rep of the first third, every other rep of the second (its 1st, 3rd,
    ...), every fifth of the last (its 1st, 6th, ...). Reps past the target count as the last
    third; a set without a target fades over 10 reps."""
    n = max(1, int(target_reps or 10))
    i = int(number) - 1
    if i < 0:
        raise ValueError("rep numbers start at 1")
    third = min(2, i * 3 // n)
    start = -(-third * n // 3)  # its first index, ceil(third * n / 3) (never above i)
    j = i - start
    return third == 0 or (third == 1 and j % 2 == 0) or (third == 2 and j % 5 == 0)


def in_band(depth_deg, target_deg, band_deg):
    return target_deg <= depth_deg <= target_deg + band_deg


class FeedbackSchedule:
    """The schedule of the running set and whether feedback is live right now.

    Outside a set (practice reps) feedback is always live. In a set, `live` holds from the
    first movement of a rep (its descent) until the next one's, so a rep's result (its fault
    or GOOD REP) stays shown, or hidden, with the rep.
    """

    def __init__(self, schedule=EVERY, band_deg=20.0):
        check(schedule)
        self.schedule = schedule  # of the running (or last) set
        self.next_schedule = schedule  # what the next set will use
        self.band_deg = float(band_deg)
        self.in_set = False
        self.target_reps = None
        self._live = True
        self._rep_open = False

    def choose(self, schedule):
        """The schedule of the next set (and of the running one only if none runs)."""
        check(schedule)
        self.next_schedule = schedule
        if not self.in_set:
            self.schedule = schedule

    @property
    def live(self):
        return True if not self.in_set else self._live

    def start_set(self, target_reps):
        self.schedule = self.next_schedule
        self.in_set = True
        self.target_reps = target_reps
        self._rep_open = False
        self._live = self._planned(1)

    def end_set(self):
        self.in_set = False
        self._rep_open = False
        self._live = True

    def _planned(self, number):
        """Live from the start of rep `number`, before anything happens in it."""
        if self.schedule == EVERY:
            return True
        if self.schedule == FADED:
            return faded_live(number, self.target_reps)
        return False  # bandwidth: not until it goes wrong; post-set: never

    def rep_started(self, number):
        """Rep `number` of the set began its descent (called again when the pipeline confirms
        it: only the first call counts)."""
        if self._rep_open:
            return
        self._rep_open = True
        self._live = self._planned(number)

    def rep_cancelled(self, number):
        """The rep that started was not one: `number` is still the next rep's."""
        self._rep_open = False
        self._live = self._planned(number)

    def fault_raised(self):
        """A fault began in the current rep: under bandwidth, feedback goes live for it."""
        if self.in_set and self.schedule == BANDWIDTH:
            self._live = True

    def hinge_now(self, hinge_deg, target_deg):
        """The hinge angle mid-rep: under bandwidth, past the band's deep end goes live."""
        if (self.in_set and self._rep_open and self.schedule == BANDWIDTH
                and hinge_deg is not None and hinge_deg > target_deg + self.band_deg):
            self._live = True

    def rep_done(self, number, faults, depth_deg, target_deg):
        """Rep `number` of the set ended: returns whether it got live feedback (stored with
        it). Outside a set: True."""
        if not self.in_set:
            return True
        if not self._rep_open:  # ended without a start we saw (a set started mid-rep)
            self._live = self._planned(number)
        self._rep_open = False
        if self.schedule == BANDWIDTH and (
                faults or not in_band(depth_deg, target_deg, self.band_deg)):
            self._live = True
        return self._live


def check(schedule):
    if schedule not in SCHEDULES:
        raise ValueError("unknown feedback schedule %r (one of %s)"
                         % (schedule, ", ".join(SCHEDULES)))


def next_schedule(schedule):
    """The schedule after `schedule`, in the order of SCHEDULES (for the key that cycles)."""
    return SCHEDULES[(SCHEDULES.index(schedule) + 1) % len(SCHEDULES)]


def set_summary(set_number, rows, target_deg, band_deg, fault_words):
    """One sentence summing up a set from its RepRows: reps, good ones, faults, depth.

    fault_words: fault id -> the screen's short word for it.
    """
    if not rows:
        return "Set %d: no reps." % set_number
    good = sum(1 for r in rows if not r.faults)
    counts = Counter(f for r in rows for f in r.faults)
    depths = [r.depth_deg for r in rows]
    inside = sum(1 for d in depths if in_band(d, target_deg, band_deg))
    parts = ["Set %d: %d reps, %d good" % (set_number, len(rows), good)]
    if counts:
        parts.append(", ".join("%s ×%d" % (fault_words.get(f, f), n)
                               for f, n in counts.most_common()))
    parts.append("depth %.0f-%.0f° (mean %.0f°), %d of %d in the %.0f-%.0f° band" % (
        min(depths), max(depths), sum(depths) / len(depths), inside, len(rows), target_deg,
        target_deg + band_deg))
    return "; ".join(parts) + "."
