"""io.clock: the core sees monotonic integer milliseconds on every runtime."""
from tinysip.io.clock import Clock, wall_time


def test_clock_is_monotonic_integer_ms():
    c = Clock()
    a = c.now()
    b = c.now()
    assert isinstance(a, int) and isinstance(b, int)
    assert 0 <= a <= b < 60000  # starts near zero at creation


def test_wall_time_is_unix_seconds():
    t = wall_time()
    assert isinstance(t, int) and t > 1600000000
