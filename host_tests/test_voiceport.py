"""io/voiceport in the real driver loop (io/driver, fake UA and clock, loopback sockets):
the RTCP socket is polled with the others, so a report is stamped when it arrives and the
RTT from its LSR/DLSR is exact, not up to a frame (20 ms) high; the offer/answer modules
are dropped once the media runs."""
from testutil import ACT_MEDIA, ACT_MEDIA_STOP
import socket
import struct
import sys

from test_driver import _UA as _DriverUA
from test_voice import _UA as _VoiceUA
from test_voice import _Cfg, _Clock

from tinysip.io.driver import Driver
from tinysip.voicesetup import stats

PORT = _Cfg.media_port  # ours: RTP here (or the next even port), RTCP + 1
WALL = 1765000000000  # ms since 1970 at our clock's 0


class _UA(_VoiceUA, _DriverUA):
    """test_voice's (media) and test_driver's (the loop's queue) fake UAs in one."""

    cfg = _Cfg()
    wall_ms = WALL

    def __init__(self):
        _DriverUA.__init__(self)
        _VoiceUA.__init__(self)
        self.actions = []
        self.ready = []

    def next_timer(self):
        return None

    def media_ready(self, cid, port, now):
        self.ready.append(port)

    def media_stopped(self, cid, rx, tx, now, media):
        pass


def _udp(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(socket.getaddrinfo("127.0.0.1", port)[0][-1])
    return s


def _read(s):
    """One datagram waiting at s (blocking up to 2 s)."""
    s.settimeout(2)
    return s.recv(1500)


def _loop():
    """(fake UA, clock, the real driver, the peer's RTP and RTCP sockets, their port)."""
    ua = _UA()
    clock = _Clock()
    d = Driver(ua, clock, None, lambda e: None)
    for p in range(47950, 47990, 2):  # the peer's RTP and RTCP: p, p + 1
        try:
            return ua, clock, d, (_udp(p), _udp(p + 1)), p
        except OSError:
            pass
    raise AssertionError("no two free UDP ports in 47950-47990")


def _running(ua, d, p):
    """The port of call b"cid" with its media running (PCMU, 20 ms, plain RTP) to the
    peer's RTP port p, as the UA's ACT_MEDIA then ACT_VOICE make it."""
    ua.actions.append((ACT_MEDIA, b"cid", 0, 0, PORT, None, None, 0))
    d.pump()
    port = d.media[b"cid"]
    import tinysip.audio  # noqa: F401 - the offer/answer, as the UA loads it

    ua.actions.append((7, b"cid", [0, b"PCMU", 101, 20, b"127.0.0.1", p, 0, None, None,
                                   b"sendrecv"]))
    d.pump()
    return port


def _hang_up(ua, d, peer):
    """Stop call b"cid" as the UA's ACT_MEDIA_STOP does, and close the peer's sockets."""
    ua.actions.append((ACT_MEDIA_STOP, b"cid"))
    d.pump()
    for s in peer:
        s.close()


def test_an_rr_that_arrives_mid_frame_is_stamped_at_arrival_and_gives_the_exact_rtt():
    ua, clock, d, peer, p = _loop()
    try:
        ua.actions.append((ACT_MEDIA, b"cid", 0, 0, PORT, None, None, 0))
        d.pump()
        port = d.media[b"cid"]
        assert ua.ready == [port.port]
        import tinysip.audio  # noqa: F401 - the offer/answer, as the UA loads it

        ua.actions.append((7, b"cid", [0, b"PCMU", 101, 20, b"127.0.0.1", p, 0, None, None,
                                       b"sendrecv"]))
        d.pump()  # ACT_VOICE: the media runs, its sockets connected to the peer's
        # the negotiation's modules are forgotten while the media runs (their heap freed)
        assert "tinysip.audio" not in sys.modules and "tinysip.sdp" not in sys.modules
        v = port.voice
        clock.t = v.rtcp[21]  # our first report is due: an SR (a frame went out with it)
        d.step(0)
        assert _read(peer[0])[1] == 0x80  # the frame (PCMU, marker)
        sr = _read(peer[1])
        assert sr[1] == 200  # an SR
        t0 = clock.t  # when our SR left: its NTP timestamp is wall time t0
        for k in range(1, 8):  # the frame ticks: t0 + 20 .. t0 + 140 (the next at + 160)
            clock.t = t0 + 20 * k
            d.step(0)
        assert v.state[10] == t0 + 160
        # the peer's RR about our stream: LSR = the middle 32 bits of our SR's NTP
        # timestamp, DLSR = 100 ms (6554/65536 s) of its own; it reaches us at t0 + 157,
        # between two frame ticks: the RTT is 157 - 100 = 57 ms
        rr = bytearray(32)
        struct.pack_into(">BBH", rr, 0, 0x81, 201, 7)
        rr[4:8] = b"\x12\x34\x56\x78"  # the peer's SSRC
        rr[8:12] = sr[4:8]  # the report block is about our SSRC
        rr[24:28] = sr[10:14]  # LSR
        struct.pack_into(">I", rr, 28, 6554)  # DLSR
        peer[1].sendto(rr, socket.getaddrinfo("127.0.0.1", port.port + 1)[0][-1])
        clock.t = t0 + 157
        for _ in range(50):  # the datagram is on its way through the loopback interface
            d.step(20)
            if stats(v.rtcp)["received"]:
                break
        got = stats(v)["rtt_ms"]
        assert got == 57, got  # read at the next frame tick (t0 + 160) it was 60
        assert stats(v)["refused"] == 0
    finally:
        ua.actions.append((ACT_MEDIA_STOP, b"cid"))
        d.pump()  # the port's sockets closed, its RTCP reader gone from the loop too
        assert d.media == {}
        for s in peer:
            s.close()


def test_a_tick_a_ms_late_does_not_make_the_jitter_buffer_repeat_a_frame():
    """Packets every 20 ms, 1 ms after the frame clock; the frame ticks on time but one,
    1 ms late. The jitter buffer plays by the frame clock, not by when the tick ran: with
    the tick's own time the late tick's frame had 1 ms more delay than the next, which
    the buffer took for a frame played early and answered by repeating one (a gap) and
    keeping 20 ms more delay (test_voice_impaired found it, ~1 call in 25)."""
    ua, clock, d, peer, p = _loop()
    try:
        port = _running(ua, d, p)
        v = port.voice
        to = socket.getaddrinfo("127.0.0.1", port.port)[0][-1]
        base = v.state[10]
        frames = 40
        for t in range(base, base + 20 * frames):
            clock.t = t
            if (t - base) % 20 == 1:  # a packet arrives: read (stamped) now
                k = (t - base) // 20
                got = stats(v)["received"]
                peer[0].sendto(struct.pack(">BBHII", 0x80, 0, k, 160 * k, 0x4321)
                               + b"\xff" * 160, to)
                for _ in range(50):  # on its way through the loopback interface
                    d.step(2)
                    if stats(v)["received"] > got:
                        break
            elif (t - base) % 20 == 0 and t != base + 40:
                d.step(0)  # a frame tick on time (the one at base + 40 runs at + 41)
        m = stats(v)
        assert m["inserted"] == 0, m
        assert m["played"] >= frames - 4 and m["target_ms"] == 20, m
    finally:
        _hang_up(ua, d, peer)


def test_an_rtcp_compound_over_512_bytes_is_read_whole():
    # RTP reads ask for the largest frame the call takes (512 B at 20 ms: MicroPython's read
    # scratch is that size); RTCP reads take the whole buffer: baresip's compounds are
    # longer (make call counted 2 refused before)
    ua, clock, d, peer, p = _loop()
    try:
        port = _running(ua, d, p)
        v = port.voice
        rr = bytearray(8)  # an RR without report blocks, then an APP packet: 608 B in all
        struct.pack_into(">BBH", rr, 0, 0x80, 201, 1)
        rr[4:8] = b"\x12\x34\x56\x78"
        app = bytearray(600)
        struct.pack_into(">BBH", app, 0, 0x80, 204, 149)
        app[4:8] = b"\x12\x34\x56\x78"
        app[8:12] = b"test"
        peer[1].sendto(rr + app, socket.getaddrinfo("127.0.0.1", port.port + 1)[0][-1])
        for _ in range(50):
            d.step(20)
            if stats(v.rtcp)["received"]:
                break
        assert stats(v.rtcp)["received"] == 1 and stats(v)["refused"] == 0
    finally:
        _hang_up(ua, d, peer)


def test_a_voice_call_holds_early_collection_off_until_its_port_closes():
    # issue 16: the firmware collects after every 4 KB allocated (compat.collect_every), but
    # a call's datagram reads allocate, and a collection every few dozen packets held the
    # frame loop often enough for the jitter buffer to grow (test_voice_impaired): from the
    # call's port binding to its close the threshold is off, and back with the last call
    from tinysip.compat import MICROPYTHON, collect_every

    ua, clock, d, peer, p = _loop()
    threshold = __import__("gc").threshold if MICROPYTHON else lambda: None
    collect_every(4096)
    try:
        port = _running(ua, d, p)
        assert port.voice is not None
        assert threshold() == (-1 if MICROPYTHON else None)
        ua.actions.append((ACT_MEDIA_STOP, b"cid"))
        d.pump()
        assert b"cid" not in d.media
        assert threshold() == (4096 if MICROPYTHON else None)
    finally:
        _hang_up(ua, d, peer)
        collect_every(None)
