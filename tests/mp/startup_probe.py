"""Start-up probe for tests/test_firmware_startup.py: the instrumented firmware calls tick()
before every statement, kbd() instead of micropython.kbd_intr(), poll_mark() when
Firmware.poll starts. A Ctrl-C that arrived while Ctrl-C was armed is a pending
KeyboardInterrupt, raised here at the tick the test chose (the VM raises it at its next check,
which can be anywhere later)."""


class Stop(BaseException):
    """Ends one start-up run once the firmware has polled a while."""


POLLS = 12  # polls after the (last) start before a run ends
state = {}


def reset(raise_at):
    state["count"] = 0
    state["armed"] = True  # MicroPython arms Ctrl-C before it runs main.py
    state["armed_ticks"] = 0
    state["raise_at"] = raise_at
    state["raised"] = False
    state["polls"] = 0
    state["first_poll"] = -1


def tick():
    n = state["count"] + 1
    state["count"] = n
    if state["armed"]:
        state["armed_ticks"] += 1
    if n == state["raise_at"]:
        state["raised"] = True
        state["polls"] = 0
        raise KeyboardInterrupt


def kbd(c):
    state["armed"] = c == 3


def poll_mark():
    if state["first_poll"] < 0:
        state["first_poll"] = state["count"]
    state["polls"] += 1
    if state["polls"] > POLLS:
        raise Stop()
