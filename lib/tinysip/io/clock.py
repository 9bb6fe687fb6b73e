"""Monotonic milliseconds for the core, on every runtime.

MicroPython's ticks_ms wraps (after ~12.4 days on ESP32): the clock accumulates ticks_diff
into a Python int so the core only ever sees an ever-growing integer. CPython gets the same
two calls from monotonic_ns (which never wraps).

`wall()` is the board's calendar time when it is believable: a device whose RTC was never set
(no NTP yet) reads a date in 2000 or 1970, and a wrong clock must not judge certificates,
so that gives None and the UA waits for a REGISTER 200's Date instead.
"""
import time

from tinysip.compat import const

if hasattr(time, "ticks_ms"):
    _ticks = time.ticks_ms
    _diff = time.ticks_diff
else:
    from operator import sub as _diff

    def _ticks():
        return time.monotonic_ns() // 1000000


class Clock:
    def __init__(self):
        self._last = _ticks()
        self._now = 0

    def now(self):
        t = _ticks()
        self._now += _diff(t, self._last)
        self._last = t
        return self._now


_EPOCH_2000 = const(946684800)  # ports whose time() counts from 2000 (older ESP32 builds)
_BELIEVABLE = const(1704067200)  # 2024-01-01: an RTC before this was never set


def wall(t=None):
    """Seconds since 1970 (UTC) from the board's clock (or `t`, in the board's epoch), or
    None when it was never set."""
    t = int(time.time() if t is None else t)
    if time.gmtime(0)[0] == 2000:
        t += _EPOCH_2000
    return t if t >= _BELIEVABLE else None
