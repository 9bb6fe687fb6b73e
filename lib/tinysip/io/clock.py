"""Monotonic milliseconds for the core, on every runtime.

MicroPython's ticks_ms wraps (after ~12.4 days on ESP32): the clock accumulates ticks_diff
into a Python int so the core only ever sees an ever-growing integer.
"""
import time

if hasattr(time, "ticks_ms"):

    class Clock:
        def __init__(self):
            self._last = time.ticks_ms()
            self._now = 0

        def now(self):
            t = time.ticks_ms()
            self._now += time.ticks_diff(t, self._last)
            self._last = t
            return self._now

else:

    class Clock:
        def __init__(self):
            self._start = time.monotonic_ns()

        def now(self):
            return (time.monotonic_ns() - self._start) // 1000000


def wall_time():
    """Seconds since the Unix epoch (ESP32 counts from 2000: boards convert)."""
    return int(time.time())
