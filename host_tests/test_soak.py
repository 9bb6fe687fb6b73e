"""24 hours of virtual time on a fake clock with two flows, TLS (CRLF keepalive) and UDP (STUN
keepalive): the exact number of refreshes and keepalives, then the same day with faults
(server restarts, a NAT rebinding, a silent path) where every recovery delay must sit inside
its RFC 5626 §4.5 bounds, both flows must come back each time, and, on MicroPython, the
heap must not grow."""
# mpy: heap 320k
import gc
import sys

from fakeregistrar import PinnedR16, no_internal_errors, watched
from testutil import FakeRandom
import obnames as ob

MICROPYTHON = sys.implementation.name == "micropython"
FLOWS = ["sips:edge1.lab.test", "sip:edge2.lab.test;transport=udp"]
DAY = 24 * 3600 * 1000
EXTRA = {"flow.base_all_down": 30, "flow.base_some_up": 90, "flow.max_backoff": 1800}


def day(rng, faults=None):
    link, reg, ua, clock, watch = watched(2, rng=rng, outbound=FLOWS, extra=EXTRA)
    link.advance(1)  # the UDP flow's first Binding is due at once
    assert link.counts["registered"] == 2, link.names()
    return link, reg, ua, clock, watch


def test_a_day_two_flows_tls_and_udp_exact_counts():
    # r16 pinned at 0x8000: every keepalive wait is 27 s of the 30 s Flow-Timer, every
    # refresh refresh_wait(600) = 540 s, so the counts are exact
    link, reg, ua, clock, w = day(PinnedR16(0x8000))
    t_up = clock.now - 1
    link.run_until(t_up + DAY)
    refreshes = DAY // ob.refresh_wait(600)
    pings = DAY // ob.keepalive_wait(30000, 0x8000)
    assert (refreshes, pings) == (160, 3200)
    assert w.refreshes == {1: refreshes, 2: refreshes}
    assert w.registered == {1: refreshes + 1, 2: refreshes + 1}
    tls_conn, udp_conn = ua.flows[0].conn, ua.flows[1].conn
    # the UDP flow asks STUN once more: at once after registering, to learn its mapping
    assert w.pings == {tls_conn: pings, udp_conn: pings + 1}, w.pings
    assert link.counts["keepalive"] == reg.n_ping == reg.n_pong == 2 * pings + 1
    assert w.bad == [] and w.min_gap == w.max_gap == 27000
    for name in ("flow_failed", "flow_recovering", "registration_failed", "message_dropped"):
        assert link.counts.get(name, 0) == 0, name
    assert len(link.connects) == 2 and ua.ctx == {}
    no_internal_errors(link)


class Bounds:
    """Checks each flow_recovering delay against §4.5 as the flows stood at that moment."""

    def __init__(self, ua):
        self.ua = ua
        self.bad = []
        self.n = 0

    def __call__(self, now, e):
        if e.name != "flow_recovering":
            return
        self.n += 1
        others_up = False
        for g in self.ua.flows:
            if g.index != e.flow and g.state == ob.UP:
                others_up = True
        base = (90000 if others_up else 30000)
        wait = base
        for _ in range(e.failures):
            wait = min(1800000, wait * 2)
        if not wait // 2 <= e.delay_ms <= wait:
            self.bad.append((now, e.flow, e.failures, e.delay_ms, wait))


def heap(link, w):
    """Live heap (MicroPython) once the test's own logs are emptied: what the UA holds."""
    link.connects, link.closes, w.bad = [], [], []  # new objects: cleared ones keep capacity
    w.first_ping, w.last_ping, w.pings = {}, {}, {}
    gc.collect()
    return gc.mem_alloc() if MICROPYTHON else None


def both_up(ua):
    return all(f.state == ob.UP for f in ua.flows)


def test_a_day_with_faults_recovers_within_bounds_without_heap_growth():
    link, reg, ua, clock, w = day(FakeRandom(5))
    bounds = Bounds(ua)
    watch_event = link.on_event

    reasons = {}  # flow_failed reason -> count (a dict: a list would grow the heap)

    def on_event(now, e):
        watch_event(now, e)
        bounds(now, e)
        if e.name == "flow_failed":
            reasons[e.reason] = reasons.get(e.reason, 0) + 1

    link.on_event = on_event
    t0 = clock.now
    before = None
    hosts = ("edge1.lab.test", "edge2.lab.test")
    for hour in range(24):
        link.run_until(t0 + hour * 3600000)
        if hour == 1:
            before = heap(link, w)
        if hour % 6 == 2:  # the server restarts: connections cut, 20 min of refusals
            for h in hosts:
                link.connect_policy[h] = "fail"
            reg.silent, reg.answer_pongs = True, False
            for c in list(link.conns):
                link.conns.pop(c)
                reg.close(c)
                ua.connection_lost(c, clock.now)
            link.settle()
            link.advance(20 * 60000)
            for h in hosts:
                link.connect_policy[h] = "ok"
            reg.silent, reg.answer_pongs = False, True
            assert link.run_until(clock.now + 3600000 - 60000, lambda: both_up(ua)), hour
        elif hour % 6 == 4:  # the NAT rebinds the UDP flow: STUN sees a new mapping
            reg.nat_shift += 1
            n = reasons.get("stun_mapped_changed", 0)
            assert link.advance(40000, lambda: reasons.get("stun_mapped_changed", 0) > n)
            assert link.run_until(clock.now + 60000, lambda: both_up(ua))
        elif hour % 6 == 5:  # a silent path for a minute: pongs stop, keepalive notices
            reg.answer_pongs = False
            link.advance(60000)
            reg.answer_pongs = True
            assert link.run_until(clock.now + 600000, lambda: both_up(ua)), hour
    link.run_until(t0 + DAY)
    assert both_up(ua)
    after = heap(link, w)
    assert bounds.n >= 8 and bounds.bad == [], bounds.bad[:5]
    assert reasons.get("stun_mapped_changed") == 4 and "pong_timeout" in reasons, reasons
    assert w.registered[1] > 140 and w.registered[2] > 140  # refreshes went on all day
    no_internal_errors(link)
    if MICROPYTHON:  # 22 hours of keepalives, refreshes and recoveries keep no memory
        assert after - before < 4096, (before, after)
