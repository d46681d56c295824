"""Stand-in for the rp2 `time` module on a virtual clock (tests/mp/rp2env is put first on the
path only by tests that run the real board.py). Ticks wrap at 2**30 like the RP2040's."""

_MASK = 0x3FFFFFFF
_HALF = 0x20000000
now_us = [1000]
listeners = []  # called with the new time after every advance (the watchdog model)


def advance(us):
    now_us[0] = ticks_add(now_us[0], us)
    for f in listeners:
        f(now_us[0])


def ticks_us():
    return now_us[0]


def ticks_ms():
    return (now_us[0] // 1000) & _MASK


def ticks_add(t, delta):
    return (t + delta) & _MASK  # t < 2**30 and |delta| < 2**29 in every caller here


def ticks_diff(a, b):
    d = (a - b) & _MASK
    if d >= _HALF:
        d -= _HALF
        d -= _HALF
    return d


def sleep_us(us):
    if us > 0:
        advance(us)


def sleep_ms(ms):
    if ms > 0:
        advance(ms * 1000)
