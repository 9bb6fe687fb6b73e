"""io.clock: the core sees monotonic integer milliseconds on every runtime."""
from tinysip.io.clock import Clock


def test_clock_is_monotonic_integer_ms():
    c = Clock()
    a = c.now()
    b = c.now()
    assert isinstance(a, int) and isinstance(b, int)
    assert 0 <= a <= b < 60000  # starts near zero at creation



def test_clock_advances_with_time():
    import time

    c = Clock()
    a = c.now()
    time.sleep(0.05)
    b = c.now()
    assert 40 <= b - a < 5000


def test_wall_clock_is_the_calendar_time_or_none():
    import time

    from tinysip.io import clock

    assert abs(clock.wall() - int(time.time())) <= 1  # the host's clock is set
    assert clock.wall(1000.0) is None  # an RTC that was never set
    assert clock.wall(1760000000.5) in (1760000000, 1760000000 + 946684800)
