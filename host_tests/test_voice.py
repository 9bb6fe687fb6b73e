"""tinysip.voice: one call's media both ways between two engines, in memory (sans-IO): G.711
frames through the jitter buffer, SRTP on and off, RFC 4733 digits, RTCP reports, hold, and
no allocation per frame in steady state (MicroPython)."""
import gc
import math

from testutil import FakeRandom

from tinysip.compat import MICROPYTHON
from tinysip.voicesetup import Voice, stats

KEY_A = bytes(range(30))
KEY_B = bytes(range(100, 130))


def params(codec=b"PCMU", suite=80, mine=KEY_A, theirs=KEY_B, direction=b"sendrecv", te=101):
    pt = 0 if codec == b"PCMU" else 8
    return [pt, codec, te, 20, b"127.0.0.1", 4000, suite if suite else 0,
            mine if suite else None, theirs if suite else None, direction]


def pair(suite=80, codec=b"PCMU", a_dir=b"sendrecv"):
    a = Voice(params(codec, suite, KEY_A, KEY_B, a_dir), FakeRandom(1), 0)
    b = Voice(params(codec, suite, KEY_B, KEY_A), FakeRandom(2), 0)
    return a, b


def tone(buf, hz, start):
    """A sine at hz in buf (16-bit LE), continuing from sample `start`."""
    n = len(buf) // 2
    for i in range(n):
        v = int(8000 * math.sin(2 * math.pi * hz * (start + i) / 8000))
        buf[2 * i] = v & 0xFF
        buf[2 * i + 1] = (v >> 8) & 0xFF


def run(a, b, frames, hz=400, digits=None, lose=()):
    """a sends `frames` frames of a tone to b (20 ms apart); returns ((frequency by zero
    crossings, largest, smallest sample) over b's last 20 frames played, digits b heard,
    gains). No sample lists: the MicroPython pass runs on a 256 KB heap."""
    heard = []
    gains = []
    z = 0
    hi = lo = prev = 0
    if digits:
        a.dtmf(digits)
    for k in range(frames):
        now = 20 * k
        tone(a.buf, hz, 160 * k)
        n = a.send(now)
        if n and k not in lose:
            b.rx[0:n] = a.tx[0:n]
            d = b.receive(n, now + 5)
            if d:
                heard.append(chr(d))
        gains.append(b.get(now + 5))
        if k >= frames - 20:
            out = b.buf
            for i in range(0, len(out), 2):
                v = out[i] | out[i + 1] << 8
                if v & 0x8000:
                    v -= 0x10000
                if (v < 0) != (prev < 0):
                    z += 1
                prev = v
                hi = max(hi, v)
                lo = min(lo, v)
    return (z * 8000 / (2 * 20 * 160), hi, lo), heard, gains


def test_tone_goes_through_with_and_without_srtp_and_both_codecs():
    for suite in (80, 32, 0):
        for codec in (b"PCMU", b"PCMA"):
            a, b = pair(suite, codec)
            played, heard, gains = run(a, b, 60)
            assert gains.count(256) >= 50, (suite, codec, gains)
            f, hi, lo = played  # the last 20 frames: steady play-out
            assert abs(f - 400) < 4, (suite, codec, f)
            assert hi > 7000 and lo < -7000  # G.711 keeps the level
            assert stats(a)["sent"] == 60 and stats(b)["refused"] == 0


def test_srtp_packets_are_encrypted_and_a_wrong_key_is_refused():
    a, b = pair(80)
    tone(a.buf, 400, 0)
    n = a.send(0)
    assert n == 12 + 160 + 10  # the 80-bit tag
    plain = Voice(params(suite=0), FakeRandom(1), 0)
    tone(plain.buf, 400, 0)
    m = plain.send(0)
    assert a.tx[12:172] != plain.tx[12:172]  # same SSRC seed, yet the payload differs
    wrong = Voice(params(suite=80, mine=KEY_B, theirs=bytes(30)), FakeRandom(3), 0)
    wrong.rx[0:n] = a.tx[0:n]
    assert wrong.receive(n, 1) == 0 and stats(wrong)["refused"] == 1
    assert m == 172


def test_lost_frames_are_concealed_with_a_fade():
    a, b = pair(0)
    played, heard, gains = run(a, b, 40, lose=(20, 21, 22, 23, 24))
    conceal = [g for g in gains[20:32] if 0 < g < 256]
    assert conceal[:3] == [192, 128, 64], gains
    assert gains[-1] == 256


def test_digits_are_sent_as_rfc4733_events_and_heard_once():
    for suite in (80, 0):
        a, b = pair(suite)
        played, heard, gains = run(a, b, 120, digits="15#")
        assert heard == ["1", "5", "#"], (suite, heard)


def test_a_peer_without_telephone_event_gets_no_digits():
    a = Voice(params(suite=0, te=-1), FakeRandom(1), 0)
    assert a.dtmf("1") is False


def test_on_hold_nothing_is_sent_but_time_goes_on():
    a, b = pair(0, a_dir=b"recvonly")
    for k in range(5):
        assert a.send(20 * k) == 0
    a.params[9] = b"sendrecv"  # resumed
    n = a.send(100)
    assert n == 172
    ts = a.tx[4] << 24 | a.tx[5] << 16 | a.tx[6] << 8 | a.tx[7]
    st = a.state
    assert (ts + 160) & 0xFFFFFFFF == (st[3] << 16 | st[4])  # 6 frames of time advanced


def test_rtcp_reports_go_both_ways_and_give_an_rtt():
    a, b = pair(80)
    wall = 1760000000000
    for k in range(600):  # 12 s
        now = 20 * k
        tone(a.buf, 400, 160 * k)
        tone(b.buf, 600, 160 * k)
        for x, y in ((a, b), (b, a)):
            n = x.send(now)
            if n:
                y.rx[0:n] = x.tx[0:n]
                y.receive(n, now + 3)
            y.get(now + 3)
            n = x.report(now, wall + now)
            if n:
                y.parse(n, now, wall + now, x.rtcp[20])
    s = stats(a)
    assert s["rtt_ms"] is not None and 0 <= s["rtt_ms"] <= 20, s
    assert s["peer_lost"] == 0 and s["refused"] == 0 and s["received"] > 500


def test_srtcp_fits_the_report_buffer_and_crosses_the_wire_whole():
    # interop (baresip 1.0.0): the buffer held the RTCP compound only, so SRTCP's 14 bytes
    # (E|index, 80-bit tag) went past its end (viper: written out of bounds; CPython: the
    # buffer grew) and a socket send of the buffer cut the tag: every SRTCP was refused
    for suite in (80, 32):
        a, b = pair(suite)
        size = len(a.rtcp[20])
        wall = 1760000000000
        n = 0
        for k in range(400):  # until a's first report (2.5 s x 0.5..1.5): an SR with a
            now = 20 * k       # report block (a hears b) and SDES, the largest there is
            for x, y in ((a, b), (b, a)):
                tone(x.buf, 400, 160 * k)
                m = x.send(now)
                y.rx[0:m] = x.tx[0:m]
                y.receive(m, now + 3)
            n = a.report(now, wall + now)
            if n:
                break
        assert n and len(a.rtcp[20]) == size and n <= size, (suite, n, size, len(a.rtcp[20]))
        wire = bytearray(bytes(a.rtcp[20][0:n]))  # what a datagram of the buffer carries
        b.parse(n, now, wall + now, wire)
        got = stats(b.rtcp)
        assert (got["received"], got["refused"], stats(b)["refused"]) == (1, 0, 0), got


class _Clock:
    t = 1000

    def now(self):
        return self.t


class _Cfg:
    media_ip = b"127.0.0.1"
    media_port = 47800
    media_port_max = 47898


class _UA:
    cfg = _Cfg()
    wall_ms = None

    def __init__(self):
        self.rng = FakeRandom(7)

    def media_rx(self, cid, now):
        pass

    def media_dtmf(self, cid, digit, now):
        pass


class _Driver:
    def __init__(self, ptime_seen):
        from tinysip.io.wav import ToneSource

        self.ua = _UA()
        self.clock = _Clock()
        self.audio = lambda ptime: (ptime_seen.append(ptime) or ToneSource(440, 8000, ptime),
                                    None)

    def add_media(self, key, port):  # the RTCP socket's reader (io.driver polls it)
        pass

    def remove_media(self, key):
        pass


class _Sock:
    """A port's RTP socket, watched: what it sends (sent: bytes, or their length with
    lengths=True) and the addresses it connects to (peers: (ip, port))."""

    def __init__(self, sock, sent, peers=None, lengths=False):
        self.sock = sock
        self.sent = sent
        self.peers = peers
        self.lengths = lengths

    def connect(self, addr):
        if self.peers is not None:  # CPython's (ip, port), MicroPython's sockaddr_in bytes
            self.peers.append((addr[0], addr[1]) if isinstance(addr, tuple) else
                              (".".join([str(x) for x in addr[4:8]]), addr[2] << 8 | addr[3]))
        self.sock.connect(addr)

    def write(self, b, off, n):  # MicroPython's path (io.voiceport)
        self.sent.append(n if self.lengths else bytes(b[off:off + n]))

    def send(self, m):  # CPython's
        self.sent.append(len(m) if self.lengths else bytes(m))

    def close(self):
        self.sock.close()


def test_voiceport_sends_the_tone_from_its_first_frame_when_the_loop_runs_late():
    # interop (baresip 1.0.0): the microphone was paced by the loop's `now` while the frame
    # clock ran from the call's start, so a first tick late by a few ms made the tone's
    # second frame "not due yet" and the port sent a frame of silence in its place
    from tinysip.io.voiceport import VoicePort

    sent = []
    seen = []
    d = _Driver(seen)
    port = VoicePort(d, b"cid", 47800)
    port.sock = _Sock(port.sock, sent)
    try:
        port.start(params(suite=0))  # the Voice's frame clock starts at 1000
        for t in [1015] + list(range(1020, 1400, 20)) + [1405, 1410, 1420]:  # late, jittery
            d.clock.t = t
            port.handle_timer(t)
    finally:
        port.close()
    assert seen == [20] and len(sent) >= 20
    silent = [k for k, p in enumerate(sent) if p[12:] == bytes([p[12]]) * (len(p) - 12)]
    assert not silent, silent  # every frame carries the tone (PCMU silence: all 0xFF)


def test_voiceport_update_follows_hold_resume_and_a_new_address_keeping_srtp():
    # a re-INVITE (tinysip.audio.reinvite / tinysip.hold) gives the running port new params
    from tinysip.io.voiceport import VoicePort

    sent = []
    peers = []
    d = _Driver([])
    port = VoicePort(d, b"cid", 47800)
    port.sock = _Sock(port.sock, sent, peers, True)
    try:
        port.start(params())
        v = port.voice
        enc, dec = v.srtp
        for t in range(1000, 1100, 20):
            port.handle_timer(t)
        n = len(sent)
        assert n == 5
        port.start(params(direction=b"recvonly"))  # the peer holds: we send nothing
        # ROC, replay window go on
        assert port.voice is v and v.srtp[0] is enc and v.srtp[1] is dec
        for t in range(1100, 1200, 20):
            port.handle_timer(t)
        assert len(sent) == n
        p = params(theirs=KEY_A)  # resumed, with a new key of the peer's, from a new port
        p[5] = 4010
        port.start(p)
        assert port.voice is v and v.srtp[0] is enc and v.srtp[1] is not dec
        assert peers == [("127.0.0.1", 4000), ("127.0.0.1", 4010)]
        for t in range(1200, 1300, 20):
            port.handle_timer(t)
        assert len(sent) == n + 5
        port.start(params(codec=b"PCMA"))  # a new codec: a new Voice on the same socket
        assert port.voice is not v and port.voice.params[1] == b"PCMA"
    finally:
        port.close()


def test_no_allocation_per_frame_in_steady_state():
    if not MICROPYTHON:
        return
    for suite in (0, 80):
        a, b = pair(suite)
        b.rx = a.tx  # the wire: b reads what a wrote (a socket read allocates on its own)
        tone(a.buf, 400, 0)
        for k in range(50):  # warm up: the jitter buffer anchors, views are made
            n = a.send(20 * k)
            b.receive(n, 20 * k + 5)
            b.get(20 * k + 5)
        gc.collect()
        gc.disable()
        try:
            before = gc.mem_alloc()
            for k in range(50, 250):
                n = a.send(20 * k)
                b.receive(n, 20 * k + 5)
                b.get(20 * k + 5)
            after = gc.mem_alloc()
        finally:
            gc.enable()
        assert after - before == 0, (suite, after - before)
