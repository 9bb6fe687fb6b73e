"""tinysip.jitter's RTCP (formerly tinysip.rtcp):
SR/RR/SDES/BYE compound packets, their checks, RTT and the interval."""
import gc
import struct

from testutil import MICROPYTHON, FakeRandom

from tinysip.voice import build, parse
from tinysip.voicesetup import Jitter, Rtcp, block, ntp, stats

BUF = 20  # the RTCP session list's packet and next report time (voice's _R_BUF, _R_NEXT)
NEXT = 21


def interval(r, first=False):
    """The interval a session drawing from r schedules: its first, or one after a report."""
    c = Rtcp(A_SSRC, b"x", r, 0)
    if not first:
        build(c, 0, WALL, None)
    return c[NEXT]

A_SSRC = 0x11223344
B_SSRC = 0x55667788
WALL = 1767225600000  # 2026-01-01 00:00:00 UTC, ms since 1970
NTP_1970 = 2208988800


def ntp64(h):
    """The 64-bit NTP value of ntp()'s four halves."""
    return h[0] << 48 | h[1] << 32 | h[2] << 16 | h[3]


def pair():
    a = Rtcp(A_SSRC, b"alice@example.org", FakeRandom(1), 0)
    b = Rtcp(B_SSRC, b"bob", FakeRandom(2), 0)
    return a, b


def packet(r, n):
    return bytes(r[BUF][:n])


def test_ntp_from_ms_since_1970():
    assert ntp64(ntp(0)) == NTP_1970 << 32
    assert ntp64(ntp(1500)) == (NTP_1970 + 1) << 32 | 0x80000000
    for ms in (1, 999, 123456789, WALL + 1, WALL + 250, WALL + 999):
        s, r = divmod(ms, 1000)
        assert ntp64(ntp(ms)) == (s + NTP_1970) << 32 | (r << 32) // 1000, ms


def test_sr_with_block_sdes_layout():
    a, b = pair()
    rx = (B_SSRC >> 16, B_SSRC & 0xFFFF, 1, 0x0203, 70000, 69000, 321)
    n = build(a, 5000, WALL, rx, tx=(0xAABB, 0xCCDD, 100000, 16000000))
    p = packet(a, n)
    assert p[0] == 0x81 and p[1] == 200 and struct.unpack(">H", p[2:4])[0] == 12
    ssrc, msw, lsw, ts, pk, oc = struct.unpack(">IIIIII", p[4:28])
    assert (ssrc, msw, lsw) == (A_SSRC, WALL // 1000 + NTP_1970, 0)
    assert (ts, pk, oc) == (0xAABBCCDD, 100000, 16000000)
    s1, fl, hi, jit, lsr, dlsr = struct.unpack(">IIIIII", p[28:52])
    assert s1 == B_SSRC and fl >> 24 == (1000 << 8) // 70000 and fl & 0xFFFFFF == 1000
    assert (hi, jit, lsr, dlsr) == (0x10203, 321, 0, 0)  # no SR from bob yet
    # SDES: one chunk, CNAME, END, padded to 32 bits; the compound's lengths add up
    assert p[52] == 0x81 and p[53] == 202
    words = struct.unpack(">H", p[54:56])[0] + 1
    assert 52 + 4 * words == n and n % 4 == 0
    assert struct.unpack(">I", p[56:60])[0] == A_SSRC
    assert p[60] == 1 and p[61] == 17 and p[62:79] == b"alice@example.org" and p[79] == 0


def test_rr_without_reception_is_empty_then_bye():
    a, b = pair()
    n = build(a, 5000, WALL, None)
    p = packet(a, n)
    assert p[:8] == b"\x80\xc9\x00\x01" + struct.pack(">I", A_SSRC)
    n = build(a, 6000, WALL, None, end=True)
    p = packet(a, n)
    assert p[-8:] == b"\x81\xcb\x00\x01" + struct.pack(">I", A_SSRC)
    assert parse(b, p, n, 10, WALL) == "" and stats(b)["peer_bye"]


def test_round_trip_sr_rr_and_rtt():
    a, b = pair()
    one_way = 40
    # alice sends an SR at wall time WALL (now 1000); bob gets it 40 ms later
    n = build(a, 1000, WALL, None, tx=(0, 0, 50, 8000))
    assert parse(b, packet(a, n), n, 2000 + one_way, WALL + one_way) == ""
    # bob reports 1,234 ms later about alice's stream; alice gets it 40 ms later
    rx = (A_SSRC >> 16, A_SSRC & 0xFFFF, 0, 5000, 250, 245, 80)
    n = build(b, 2000 + one_way + 1234, WALL + one_way + 1234, rx)
    p = packet(b, n)
    lsr, dlsr = struct.unpack(">II", p[24:32])
    assert lsr == (ntp64(ntp(WALL)) >> 16) & 0xFFFFFFFF
    assert abs(dlsr - 1234 * 65536 // 1000) <= 1
    assert parse(a, p, n, 9999, WALL + 2 * one_way + 1234) == ""
    s = stats(a)
    assert abs(s["rtt_ms"] - 2 * one_way) <= 1 and s["rtt_min"] == s["rtt_max"] == s["rtt_ms"]
    assert s["peer_lost"] == 5 and s["peer_fraction"] == (5 * 256 // 250) * 100 / 256
    assert s["peer_jitter"] == 80 and s["peer_jitter_ms"] == 10
    assert (s["sent"], s["received"], s["refused"]) == (1, 1, 0)
    assert stats(b)["rtt_ms"] is None  # bob never sent an SR


def test_rtt_of_rfc3550_figure_2():
    # RFC 3550 §6.4.1 Fig. 2: LSR 0xb705:2030, DLSR 0x0005:4000, A 0xb710:8000 -> "6.125 s"
    # (the figure's decimals are rounded: 0x2030 / 65536 is .1257, so exactly 6.1243 s)
    a, b = pair()
    secs = (NTP_1970 + 0xFFFF) & ~0xFFFF | 0xB710  # an NTP second whose low 16 bits are b710
    wall = (secs - NTP_1970) * 1000 + 500  # fraction 0x8000....: half a second
    assert ntp(wall)[1:3] == (0xB710, 0x8000)
    rr = struct.pack(">BBHI", 0x81, 201, 7, B_SSRC) + struct.pack(
        ">IIIIII", A_SSRC, 0, 0, 0, 0xB7052030, 0x00054000)
    assert parse(a, rr, len(rr), 0, wall) == ""
    assert stats(a)["rtt_ms"] == 6124


def test_fraction_lost_is_per_interval():
    a, b = pair()
    src = (B_SSRC >> 16, B_SSRC & 0xFFFF, 0, 0)
    fl = []
    for exp, rec in ((100, 100), (200, 150), (300, 250), (300, 250)):
        build(a, 0, WALL, src + (exp, rec, 0))  # an RR: its block's fraction at byte 12
        fl.append(a[BUF][12])
    assert fl == [0, 128, 0, 0]
    build(a, 0, WALL, (1, 2, 0, 0, 10, 5, 0))  # another source: its own interval
    assert a[BUF][12] == 128
    build(a, 0, WALL, src + (100, 200, 0))  # more received than expected: negative
    assert a[BUF][13:16] == b"\xff\xff\x9c"


def test_report_block_from_the_jitter_buffer():
    jb = Jitter(0)
    for i in range(50):
        if i != 20:
            seq = 65530 + i
            pkt = struct.pack(">BBHII", 0x80, 0, seq & 0xFFFF, i * 160, B_SSRC) + bytes(160)
            jb.put(pkt, len(pkt), 1000 + i * 20 + (i % 3) * 4)
    a, b = pair()
    n = build(a, 2000, WALL, block(jb))
    s1, fl, hi, jit = struct.unpack(">IIII", a[BUF][8:24])
    assert s1 == B_SSRC and fl & 0xFFFFFF == 1 and hi == 0x10000 | (65530 + 49 - 65536)
    assert jit == stats(jb)["jitter"] and fl >> 24 == 256 // 49


def test_interval_is_randomised_around_5_s():
    r = FakeRandom(7)
    vals = [interval(r) for _ in range(400)]
    assert 2500 <= min(vals) and max(vals) < 7500
    assert 4700 < sum(vals) / len(vals) < 5300
    firsts = [interval(r, True) for _ in range(100)]
    assert 1250 <= min(firsts) and max(firsts) < 3750
    a = Rtcp(A_SSRC, b"x", FakeRandom(3), 10000)
    assert 11250 <= a[NEXT] < 13750
    d0 = a[NEXT]
    build(a, d0, WALL, None)
    assert 2500 <= a[NEXT] - d0 < 7500


def test_malformed_packets_are_refused_with_a_reason():
    a, b = pair()
    n = build(b, 0, WALL, (A_SSRC >> 16, A_SSRC & 0xFFFF, 0, 9, 10, 9, 3),
                tx=(0, 0, 1, 2))
    good = packet(b, n)
    rr = good[:4]
    cases = [
        (b"", "shorter than a header"),
        (good[:7], "shorter than a header"),
        (b"\x40" + good[1:], "not version 2"),
        (good[:52] + b"\x01" + good[53:], "not version 2"),  # the SDES packet's version
        (good[:-4], "length field past the end"),
        (good + b"\x00\x00", "bytes after the last packet"),
        (good[:1] + b"\xca" + good[2:], "not starting with SR or RR"),  # SDES first
        (b"\x80\xc9\x00\x00" + good[52:], "report count past the packet's length"),  # no SSRC
        (b"\x9f\xc9\x00\x01" + good[4:8], "report count past the packet's length"),
        (b"\xa1" + good[1:], "padding before the last packet"),
        (good[:52] + b"\xa1" + good[53:-1] + b"\x00", "padding longer than its packet"),
        (good[:52] + b"\xa1" + good[53:-1] + b"\xff", "padding longer than its packet"),
        (rr + b"\x00\x00\x00", "shorter than a header"),
    ]
    for data, why in cases:
        got = parse(a, data, len(data), 100, WALL)
        assert got.startswith("RTCP: ") and why in got, (data, got, why)
    s = stats(a)
    assert (s["received"], s["refused"]) == (0, len(cases))
    assert s["peer_lost"] is None and s["rtt_ms"] is None  # nothing kept
    assert a[3] == -1  # no LSR either
    padded = good[:52] + b"\xa1" + good[53:-1] + b"\x04"  # a real padding of 4 (the END+pad)
    assert parse(a, padded, len(padded), 100, WALL) == ""
    assert stats(a)["peer_lost"] == 1


def test_garbage_never_raises():
    a, b = pair()
    r = FakeRandom(9)
    n = build(b, 0, WALL, (A_SSRC >> 16, A_SSRC & 0xFFFF, 0, 9, 10, 9, 3), tx=(0, 0, 1, 2))
    good = packet(b, n)
    refused = 0
    for k in range(300):
        data = bytearray(good)
        for j in range(1 + k % 4):  # flip a few bytes
            x = r(2)
            data[x[0] % len(data)] = x[1]
        data = bytes(data[:max(0, len(data) - k % 7)])
        got = parse(a, data, len(data), k, WALL + k)
        refused += got != ""
    assert refused > 100


def test_build_allocates_no_buffer():
    if not MICROPYTHON:
        return
    a, b = pair()
    rx = (1, 2, 0, 9, 10, 9, 3)
    build(a, 0, 100000, rx)
    gc.collect()
    before = gc.mem_alloc()
    for i in range(50):
        build(a, i, 100000, rx)
    gc.collect()
    assert gc.mem_alloc() - before < 64  # nothing kept per report


def test_cname_limits():
    for bad in (b"", b"x" * 256):
        try:
            Rtcp(1, bad, FakeRandom(1), 0)
        except ValueError:
            continue
        raise AssertionError("CNAME of %d bytes accepted" % len(bad))
    r = Rtcp(1, b"x" * 255, FakeRandom(1), 0)
    n = build(r, 0, WALL, (1, 2, 3, 4, 5, 6, 7), tx=(0, 0, 0, 0), end=True)
    assert n == len(r[BUF])
