"""io/driver: what the loop tells the UA when an adapter fails (fake UA, no sockets)."""
from testutil import ACT_CONNECT, ACT_MEDIA
import tinysip.io.driver as drv


class _Cfg:
    connect_timeout_ms = 5000


class _UA:
    """Queues one connect action; records what the driver reports back."""

    cfg = _Cfg()

    def __init__(self):
        self.actions = [(ACT_CONNECT, 7, "192.0.2.1", 5061, True, "edge.test", None, False)]
        self.failed = []
        self.ok = []

    def pop_action(self):
        return self.actions.pop(0) if self.actions else None

    def pop_event(self):
        return None

    def connection_failed(self, conn, now, reason, tls=False):
        self.failed.append((conn, reason, tls))

    def connected(self, conn, now):
        self.ok.append(conn)


class _Clock:
    def now(self):
        return 1000


def _exhausted(*args):
    raise MemoryError("test: heap exhausted")


def test_a_connect_the_heap_cannot_hold_fails_the_connection_instead_of_the_loop():
    ua = _UA()
    d = drv.Driver(ua, _Clock(), None, lambda e: None)
    real = drv.StreamConn
    drv.StreamConn = _exhausted
    try:
        d.pump()
    finally:
        drv.StreamConn = real
    # the UA hears of it (its flow backs off and retries) instead of waiting forever
    assert ua.failed == [(7, "connect 192.0.2.1:5061: out of memory", False)]
    assert ua.ok == [] and d.conns == {}


def test_a_mirror_the_heap_cannot_hold_refuses_the_call_instead_of_losing_it():
    import sys


    class _MediaCfg(_Cfg):
        media_ip = b"127.0.0.1"
        media_port = 40000
        media_port_max = 40998

    ua = _UA()
    ua.cfg = _MediaCfg()
    ua.rng = lambda n: bytes(n)
    ua.actions = [(ACT_MEDIA, b"call-1", 1, 100, 40000, b"127.0.0.1", 4000, 0)]
    ua.media = []
    ua.media_failed = lambda cid, reason, now: ua.media.append((cid, reason))
    import tinysip.io.media as media

    real = media.MediaPort
    media.MediaPort = _exhausted
    try:
        drv.Driver(ua, _Clock(), None, lambda e: None).pump()
    finally:
        media.MediaPort = real
    # the UA refuses the call (500) instead of leaving it ringing with the action lost
    assert len(ua.media) == 1 and ua.media[0][0] == b"call-1"
    assert "MemoryError" in ua.media[0][1] and "heap exhausted" in ua.media[0][1]
    assert sys.modules.get("tinysip.io.media") is media


def test_the_mirror_reads_what_the_offer_ptime_carries_not_a_whole_mtu():
    # MicroPython reads each RTP datagram with recv(k): a k-byte scratch 50 times a second,
    # which a fragmented heap lacks first (issue 16); k follows the offer's a=ptime (20 ms
    # when absent): a G.711 packet with room for CSRCs and an extension, at most the MTU
    import tinysip.io.media as media

    made = []

    def _record(mir, *args):
        made.append(mir)
        raise MemoryError("test: recorded")

    class _MediaCfg(_Cfg):
        media_ip = b"127.0.0.1"
        media_port = 40000
        media_port_max = 40998

    real = media.MediaPort
    media.MediaPort = _record
    try:
        for mode, ptime in ((1, 0), (2, 0), (1, 40), (2, 150), (1, 200)):
            ua = _UA()
            ua.cfg = _MediaCfg()
            ua.rng = lambda n: bytes(n)
            ua.actions = [(ACT_MEDIA, b"c", mode, 100, 40000, b"127.0.0.1", 4000, ptime)]
            ua.media_failed = lambda cid, reason, now: None
            drv.Driver(ua, _Clock(), None, lambda e: None).pump()
    finally:
        media.MediaPort = real
    # the view is one byte longer than the largest datagram taken (a longer one is dropped):
    # encaprtp's replies carry the packet plus 12 B, so it takes 12 B less
    assert [len(m.view) for m in made] == [513, 525, 673, 1473, 1461]
