"""RFC 5626 flow policies (keepalive jitter, §4.5 recovery, refresh) and the flow table."""
import obnames as ob
from tinysip.outbound import keepalive_wait, recovery_wait, refresh_wait, transition

STATES = (ob.IDLE, ob.CONNECTING, ob.REGISTERING, ob.UP, ob.BACKOFF, ob.STOPPED, ob.STANDBY)
INPUTS = (ob.START, ob.CONNECTED, ob.CONNECT_FAILED, ob.CONNECTION_LOST, ob.REGISTERED,
          ob.REGISTER_FAILED, ob.PONG_TIMEOUT, ob.RETRY_DUE, ob.STOP, ob.REFORM,
          ob.NEXT_TARGET, ob.HOLD, ob.PROMOTE)
R16 = (0, 1, 255, 256, 12345, 32767, 32768, 40000, 65534, 65535)


# -- keepalive_wait (§4.4.1: 80-100 % of the interval) -------------------------------------
def test_keepalive_wait_endpoints():
    assert keepalive_wait(30000, 0) == 24000
    assert keepalive_wait(30000, 65535) == 30000
    assert keepalive_wait(120000, 0) == 96000
    assert keepalive_wait(120000, 65535) == 120000
    assert keepalive_wait(25000, 0) == 20000
    assert keepalive_wait(25000, 65535) == 25000


def test_keepalive_wait_midpoint():
    # half way through the 20 % window
    assert keepalive_wait(30000, 32768) == 27000
    assert keepalive_wait(100000, 32768) == 90000


def test_keepalive_wait_bounds_for_many_draws():
    for interval in (1000, 1001, 7777, 25000, 30000, 95000, 120000, 86400000):
        low = interval * 8 // 10
        prev = -1
        for r in range(0, 65536, 97):
            w = keepalive_wait(interval, r)
            assert low <= w <= interval, (interval, r, w)
            assert w >= prev  # monotone in the draw
            prev = w
        assert keepalive_wait(interval, 65535) == interval
        assert keepalive_wait(interval, 0) == low
        assert isinstance(keepalive_wait(interval, 1234), int)


def test_keepalive_wait_is_at_least_80_percent_exactly():
    # 80 % of the interval, computed without floats
    for interval in (1000, 30000, 120000):
        assert keepalive_wait(interval, 0) * 10 >= interval * 8
        assert keepalive_wait(interval, 0) * 10 < interval * 8 + 10


# -- recovery_wait (§4.5) ---------------------------------------------------------------------
def _bound(failures, base, max_ms=1800000):
    w = base
    for _ in range(failures):
        w *= 2
    return min(w, max_ms)


def test_recovery_wait_all_down_failures_0_to_10():
    expected_w = (30000, 60000, 120000, 240000, 480000, 960000, 1800000, 1800000, 1800000,
                  1800000, 1800000)
    for f in range(11):
        w = expected_w[f]
        assert _bound(f, 30000) == w
        assert recovery_wait(f, True, 65535) == w, f
        assert recovery_wait(f, True, 0) == w // 2, f
        for r in R16:
            d = recovery_wait(f, True, r)
            assert w // 2 <= d <= w, (f, r, d)


def test_recovery_wait_some_up_failures_0_to_10():
    expected_w = (90000, 180000, 360000, 720000, 1440000, 1800000, 1800000, 1800000, 1800000,
                  1800000, 1800000)
    for f in range(11):
        w = expected_w[f]
        assert recovery_wait(f, False, 65535) == w, f
        assert recovery_wait(f, False, 0) == w // 2, f
        for r in R16:
            d = recovery_wait(f, False, r)
            assert w // 2 <= d <= w, (f, r, d)


def test_recovery_wait_some_up_is_longer_than_all_down():
    for f in range(5):
        assert recovery_wait(f, False, 40000) > recovery_wait(f, True, 40000)


def test_recovery_wait_custom_bases_and_cap():
    assert recovery_wait(0, True, 65535, 1000, 5000, 60000) == 1000
    assert recovery_wait(0, False, 65535, 1000, 5000, 60000) == 5000
    assert recovery_wait(3, True, 65535, 1000, 5000, 60000) == 8000
    assert recovery_wait(3, False, 65535, 1000, 5000, 60000) == 40000
    assert recovery_wait(4, False, 65535, 1000, 5000, 60000) == 60000  # capped
    assert recovery_wait(4, False, 0, 1000, 5000, 60000) == 30000
    # the cap is an upper bound of the window, the delay still lands in 50-100 % of it
    for r in R16:
        d = recovery_wait(9, True, r, 1000, 5000, 60000)
        assert 30000 <= d <= 60000


def test_recovery_wait_midpoint_and_monotone():
    assert recovery_wait(1, True, 32768) == 30000 + 30000 * 32768 // 65535
    prev = -1
    for r in range(0, 65536, 1000):
        d = recovery_wait(2, True, r)
        assert d >= prev
        prev = d


def test_recovery_wait_many_failures_stays_capped_and_cheap():
    for f in (11, 20, 21, 64, 1000, 100000):
        assert recovery_wait(f, True, 65535) == 1800000
        assert recovery_wait(f, False, 0) == 900000


def test_recovery_wait_huge_failure_count_reaches_a_large_max():
    # config allows base 10 ms and max 86400 s: the window must still reach the max
    # (2^20 * 10 ms is only ~10485 s)
    assert recovery_wait(30, True, 65535, 10, 10, 86400000) == 86400000
    assert recovery_wait(1000, True, 65535, 10, 10, 86400000) == 86400000
    assert recovery_wait(23, True, 65535, 10, 10, 86400000) == 10 * (1 << 23)


# -- refresh_wait ------------------------------------------------------------------------------
def test_refresh_wait_values():
    assert refresh_wait(3600) == 3240000  # 90 %
    assert refresh_wait(600) == 540000
    assert refresh_wait(60) == 54000
    assert refresh_wait(49) == 44000  # at least 5 s early
    assert refresh_wait(30) == 25000
    assert refresh_wait(10) == 5000
    assert refresh_wait(6) == 1000
    assert refresh_wait(5) == 1000  # never sooner than 1 s
    assert refresh_wait(0) == 1000


def test_refresh_wait_before_expiry_and_not_too_early():
    for s in range(2, 20000, 7):
        w = refresh_wait(s)
        assert w < s * 1000, s  # before expiry
        if s >= 50:
            assert w >= s * 900, s  # not before 90 %
        assert w >= 1000
    assert refresh_wait(0xFFFFFFFF) < 0xFFFFFFFF * 1000


# -- the transition table -----------------------------------------------------------------------
EXPECTED = (
    (ob.IDLE, ob.START, ob.CONNECTING, ob.A_CONNECT),
    (ob.CONNECTING, ob.CONNECTED, ob.REGISTERING, ob.A_REGISTER),
    (ob.CONNECTING, ob.CONNECT_FAILED, ob.BACKOFF, ob.A_FAIL_BACKOFF),
    (ob.CONNECTING, ob.CONNECTION_LOST, ob.BACKOFF, ob.A_FAIL_BACKOFF),
    (ob.CONNECTING, ob.REFORM, ob.CONNECTING, ob.A_FAIL_RETRY_NOW),
    (ob.REGISTERING, ob.REGISTERED, ob.UP, ob.A_UP),
    (ob.REGISTERING, ob.REGISTER_FAILED, ob.BACKOFF, ob.A_FAIL_BACKOFF),
    (ob.REGISTERING, ob.CONNECTION_LOST, ob.BACKOFF, ob.A_FAIL_BACKOFF),
    (ob.REGISTERING, ob.PONG_TIMEOUT, ob.BACKOFF, ob.A_FAIL_BACKOFF),
    (ob.REGISTERING, ob.REFORM, ob.CONNECTING, ob.A_FAIL_RETRY_NOW),
    (ob.UP, ob.REGISTERED, ob.UP, ob.A_UP),
    (ob.UP, ob.CONNECTION_LOST, ob.CONNECTING, ob.A_FAIL_RETRY_NOW),
    (ob.UP, ob.PONG_TIMEOUT, ob.CONNECTING, ob.A_FAIL_RETRY_NOW),
    (ob.UP, ob.REGISTER_FAILED, ob.BACKOFF, ob.A_FAIL_BACKOFF),
    (ob.UP, ob.REFORM, ob.CONNECTING, ob.A_FAIL_RETRY_NOW),
    (ob.BACKOFF, ob.RETRY_DUE, ob.CONNECTING, ob.A_CONNECT),
    (ob.BACKOFF, ob.REFORM, ob.CONNECTING, ob.A_CONNECT),
    # RFC 3263 failover: the next target at once, no backoff, while targets are left
    (ob.CONNECTING, ob.NEXT_TARGET, ob.CONNECTING, ob.A_FAIL_RETRY_NOW),
    (ob.REGISTERING, ob.NEXT_TARGET, ob.CONNECTING, ob.A_FAIL_RETRY_NOW),
    # a plain registrar keeps one binding: the other connected flows wait as standby
    (ob.REGISTERING, ob.HOLD, ob.STANDBY, ob.A_STANDBY),
    (ob.STANDBY, ob.PROMOTE, ob.REGISTERING, ob.A_REGISTER),
    (ob.STANDBY, ob.CONNECTION_LOST, ob.CONNECTING, ob.A_FAIL_RETRY_NOW),
    (ob.STANDBY, ob.PONG_TIMEOUT, ob.CONNECTING, ob.A_FAIL_RETRY_NOW),
    (ob.STANDBY, ob.REFORM, ob.CONNECTING, ob.A_FAIL_RETRY_NOW),
)


def test_every_listed_transition():
    for state, inp, new, action in EXPECTED:
        assert transition(state, inp) == (new, action), (state, inp)


def test_table_has_nothing_unlisted():
    t = ob.TRANSITIONS
    rows = [tuple(t[i:i + 4]) for i in range(0, len(t), 4)]
    assert len(t) % 4 == 0
    for row in rows:
        assert row in EXPECTED, row
    assert len(rows) == len(EXPECTED)
    keys = [r[:2] for r in rows]
    for k in keys:
        assert keys.count(k) == 1, k  # one row per (state, input)


def test_unknown_inputs_leave_state_unchanged():
    listed = [(s, i) for s, i, _, _ in EXPECTED]
    n = 0
    for s in STATES:
        for i in INPUTS:
            if i == ob.STOP or (s, i) in listed:
                continue
            assert transition(s, i) == (s, ob.A_NONE), (s, i)
            n += 1
    assert n == len(STATES) * (len(INPUTS) - 1) - len(EXPECTED)
    # inputs that do not exist at all change nothing either
    assert transition(ob.UP, 99) == (ob.UP, ob.A_NONE)


def test_stop_from_any_state():
    for s in STATES:
        assert transition(s, ob.STOP) == (ob.STOPPED, ob.A_CLOSE), s


def test_stopped_ignores_everything_but_stop():
    for i in INPUTS:
        if i != ob.STOP:
            assert transition(ob.STOPPED, i) == (ob.STOPPED, ob.A_NONE)


def test_an_up_flow_failing_reforms_at_once_but_attempts_back_off():
    # §4.5: a working flow that breaks is re-formed immediately...
    for i in (ob.CONNECTION_LOST, ob.PONG_TIMEOUT):
        assert transition(ob.UP, i)[1] == ob.A_FAIL_RETRY_NOW
    # ...while a failed attempt waits
    for s, i in ((ob.CONNECTING, ob.CONNECT_FAILED), (ob.REGISTERING, ob.REGISTER_FAILED)):
        assert transition(s, i)[1] == ob.A_FAIL_BACKOFF


# -- Flow --------------------------------------------------------------------------------------
def test_flow_defaults():
    f = ob.Flow(1, None, True, "edge2.lab.test", 5061, "edge2.lab.test")
    assert f.reg_id == 2
    assert f.state == ob.IDLE
    assert f.server == "edge2.lab.test:5061"
    assert f.failures == 0
    assert f.conn is None
    assert f.next_timer() is None


def test_flow_next_timer_is_earliest_and_clear():
    f = ob.Flow(0, None, True, "edge1", 5061, "edge1")
    f.refresh_at = 5000
    assert f.next_timer() == 5000
    f.ping_at = 3000
    f.retry_at = 9000
    assert f.next_timer() == 3000
    f.pong_deadline = 2500
    assert f.next_timer() == 2500
    f.ping_at = 0  # 0 is a time, not "unset"
    assert f.next_timer() == 0
    f.ping_sent_at = 1
    f.clear_timers()
    assert f.next_timer() is None
    assert f.ping_sent_at is None
    assert (f.retry_at, f.refresh_at, f.ping_at, f.pong_deadline) == (None, None, None, None)


def test_the_names_the_tests_use_are_the_modules_numbers():
    """outbound.py and ua.py keep states, inputs and actions as private consts (folded on
    MicroPython: no interned name); on CPython const() is the identity, so both modules'
    `_NAME` values are there to compare with obnames."""
    import sys

    from tinysip import outbound
    from tinysip import ua

    assert ob.check(outbound) == [] and ob.check(ua) == []
    if sys.implementation.name != "micropython":
        assert len([n for n in ob.NAMES if hasattr(outbound, "_" + n)]) == len(ob.NAMES)
        assert len([n for n in ob.NAMES if hasattr(ua, "_" + n)]) >= 25
