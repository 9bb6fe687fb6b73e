"""Monotonic milliseconds for the core, on every runtime.

MicroPython's ticks_ms wraps (after ~12.4 days on ESP32): the clock accumulates ticks_diff
into a Python int so the core only ever sees an ever-growing integer. CPython gets the same
two calls from monotonic_ns (which never wraps).
"""
import time

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
