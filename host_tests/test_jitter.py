"""tinysip.voice's jitter buffer (formerly tinysip.jitter): the adaptive jitter buffer and the
receiver statistics of RFC 3550, on a Voice made by tinysip.voicesetup.Jitter."""
import gc
import struct

from testutil import MICROPYTHON

from tinysip.voicesetup import Jitter, block, stats

SSRC = 0x5EED1234
LOUD = 0x00  # PCMU codes of the loudest segment (speech)
QUIET = 0xFF  # PCMU zero (silence)

# indexes into Voice.jitter the tests read (see voice.py), and where Voice.state holds the ring
POS = 0
CUR = 24
DLAST = 26
JPOS = 49
RING = 16


def pkt(i, seq0=1000, ts0=160000, ssrc=SSRC, pt=0, quiet=False, size=160, ptime=20):
    """Packet i of a stream: the payload starts with i (16 bits), then speech or silence."""
    seq = (seq0 + i) & 0xFFFF
    ts = (ts0 + i * ptime * 8) & 0xFFFFFFFF
    body = bytes([i >> 8 & 255, i & 255]) + bytes([QUIET if quiet else LOUD]) * (size - 2)
    return struct.pack(">BBHII", 0x80, pt, seq, ts, ssrc) + body


def put(jb, data, now):
    return jb.put(data, len(data), now)


def index(jb):
    """The stream index carried in the frame get() just gave."""
    ring, pos = jb.state[RING], jb.jitter[JPOS]
    return ring[pos] << 8 | ring[pos + 1]


def rng32(seed):
    """A deterministic xorshift32 generator: nxt() -> 32-bit int."""
    st = [seed]

    def nxt():
        x = st[0]
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        st[0] = x
        return x

    return nxt


def steady(jb, frames, start=0, t0=1000, delay=30, quiet=False, **kw):
    """Feed frames start..start+frames-1 at a constant delay, one get() per frame; returns
    the gains."""
    out = []
    for i in range(start, start + frames):
        t = t0 + i * 20
        put(jb, pkt(i, quiet=quiet, **kw), t + delay)
        out.append(jb.get(t + delay + 5))
    return out


# ------------------------------------------------------------------ the seeded trace

def trace(seed=17, frames=1250):
    """Arrivals of a 25 s call, in arrival order, as ints: arrival ms << 12 | stream index
    << 1 | duplicate?; and the lost indices (flags). 2 % loss, 10 % reordered by one, 1 %
    duplicated, delay 20 + 0..60 ms, a 150 ms delay spike at 4 s, and from 7 s a quiet
    network (0..5 ms). Ints, not tuples: the test also runs on a 256 KB heap."""
    r = rng32(seed)
    arr = []
    lost = bytearray(frames)
    for i in range(frames):
        s = i * 20
        d = 20 + r() % 61 if s < 7000 else 20 + r() % 6
        if 4000 <= s < 4150:
            d += 150 - (s - 4000)  # sent during the spike: all arrive at its end
        if i > 3 and r() % 1000 < 20:
            lost[i] = 1
        arr.append(s + d)
    for i in range(4, frames - 1):
        if r() % 100 < 10 and not lost[i + 1]:
            arr[i] = max(arr[i], arr[i + 1] + 1)  # i comes after i + 1
    events = [arr[i] << 12 | i << 1 for i in range(frames) if not lost[i]]
    for i in range(4, frames):
        if not lost[i] and r() % 100 < 1:
            events.append((arr[i] + 30) << 12 | i << 1 | 1)
    events.sort()
    return events, lost


def quiet_frame(i):
    """Speech and silence alternate every second."""
    return (i // 50) % 2 == 1


class Run:
    """What run_trace saw."""


def run_trace(seed=17, frames=1250):
    """Play the trace through a buffer, checking every get() against what was put."""
    events, lost = trace(seed, frames)
    jb = Jitter(0)
    st = jb.jitter
    stored = bytearray(frames)  # put() returned 1
    played = []
    dropped = []
    delays = []  # now << 8 | added delay, per frame played
    grown = []  # now of each frame inserted
    shrunk = []  # now of each frame dropped (missing or quiet)
    late = dups = concealed = skipped = tail = 0
    off = None
    e = 0
    end = frames * 20 + 400
    now = 10
    while now < end:
        while e < len(events) and events[e] >> 12 <= now:
            i = events[e] >> 1 & 2047
            dup = events[e] & 1
            ret = put(jb, pkt(i, quiet=quiet_frame(i)), events[e] >> 12)
            if ret == 1:
                assert not dup and not stored[i]
                stored[i] = 1
            elif i > 1:  # 0 and 1: the probation of the source
                if dup:
                    dups += 1
                else:
                    late += 1
            e += 1
        before = st[POS]
        g = jb.get(now)
        adv = st[POS] - before
        assert 0 <= adv <= 2
        if g == 256:
            i = index(jb)
            if off is None:
                off = st[POS] - 1 - i
            assert st[POS] - 1 - off == i, "played the frame of its number"
            assert stored[i], "played only what was stored"
            played.append(i)
            assert 20 <= st[DLAST] <= 200, st[DLAST]
            delays.append(now << 8 | st[DLAST])
        else:
            assert g in (0, 64, 128, 192)
            if adv and off is not None:
                k = st[POS] - 1 - off
                if k < frames:
                    assert not stored[k], "concealed a frame that was there"
                    concealed += 1
                else:  # the gets after the stream's end
                    tail += 1
        if adv == 0 and off is not None:
            grown.append(now)
        if adv == 2 and off is not None:
            shrunk.append(now)
            i = before - off
            if stored[i]:
                assert quiet_frame(i), "dropped a frame of speech to shrink"
                dropped.append(i)
            else:
                skipped += 1  # missing anyway: skipped instead of concealed
        now += 20
    assert stats(jb)["concealed"] == concealed + tail
    # every frame between the first and the last played: played, dropped or missing
    span = played[-1] - played[0] + 1
    assert concealed + skipped == span - len(played) - len(dropped), (concealed, skipped)
    r = Run()
    r.jb, r.events, r.lost, r.stored = jb, events, lost, stored
    r.played, r.dropped = played, dropped
    r.late, r.dups, r.delays, r.grown, r.shrunk = late, dups, delays, grown, shrunk
    return r


def test_trace_plays_every_frame_in_time_once_and_in_order():
    r = run_trace()
    played = r.played
    assert played == sorted(played) and len(set(played)) == len(played)
    assert sorted(played + r.dropped) == [i for i in range(len(r.stored)) if r.stored[i]], (
        "every stored frame played or dropped")
    assert len(r.dropped) <= 12
    s = stats(r.jb)
    first = played[0]
    assert s["lost"] == sum(r.lost)  # from the first valid packet (1): none lost before 4
    assert s["late"] == r.late and s["duplicates"] == r.dups and r.late > 0 and r.dups > 0
    assert s["received"] == len(set(x >> 1 & 2047 for x in r.events)) - 1  # not probation's
    assert s["reordered"] > 50
    assert s["invalid"] == 0 and s["resyncs"] == 0
    assert s["played"] == len(played) and s["dropped"] == len(r.dropped)
    missing = [i for i in range(first, played[-1]) if not r.stored[i]]
    inside = [i for i in range(first, played[-1]) if r.lost[i]]
    assert set(inside) <= set(missing) and len(missing) > len(inside)  # lost, and late ones
    assert 20 <= s["delay_min"] and s["delay_max"] <= 200
    assert 5 < s["jitter_ms"] < 40 and s["jitter"] == int(s["jitter_ms"] * 8)


def test_trace_delay_grows_after_the_spike_and_shrinks_back():
    r = run_trace()

    def top(a, b):
        return max(x & 255 for x in r.delays if a <= x >> 8 < b)

    before = top(1000, 4000)
    spike = top(4200, 7000)
    after = top(22000, 26000)
    assert 60 <= before <= 120, before
    assert spike >= before + 40 and spike <= 200, (before, spike)
    assert after <= 60 and after <= before - 20, (before, spike, after)
    assert [t for t in r.grown if 4000 <= t < 5000], "frames inserted after the late packets"
    assert r.shrunk and min(r.shrunk) > 4200


def test_other_seeds_keep_the_invariants():
    for seed in (3, 99, 2024):
        r = run_trace(seed, 600)
        assert sorted(r.played + r.dropped) == [i for i in range(600) if r.stored[i]]


# ------------------------------------------------------------------ sequence and timestamps

def test_probation_then_in_order_play():
    jb = Jitter(0)
    assert put(jb, pkt(0), 1000) == 0  # the first packet of a source: probation
    assert block(jb) is None and jb.get(1000) == 0
    assert put(jb, pkt(1), 1020) == 1
    gains = [jb.get(1025)] + steady(jb, 30, start=2, t0=960, delay=40)
    assert gains[:2] == [0, 256] and gains[-20:] == [256] * 20  # after 20 ms (the least)
    s = stats(jb)
    assert (s["received"], s["lost"], s["concealed"], s["inserted"]) == (31, 0, 0, 0)


def test_sequence_wraps_at_65535():
    jb = Jitter(0)
    gains = steady(jb, 40, seq0=65520)
    assert gains.count(256) >= 35 and 0 not in gains[5:]
    hi_cycles, hi_seq, expected, received = block(jb)[2:6]
    assert (hi_cycles, hi_seq) == (1, (65520 + 39) & 0xFFFF)
    assert expected == received == 39
    assert stats(jb)["lost"] == 0


def test_timestamp_wraps():
    jb = Jitter(8)
    gains = steady(jb, 40, ts0=0xFFFFFFFF - 3 * 160, pt=8)
    assert gains[-30:] == [256] * 30
    assert stats(jb)["concealed"] == 0 and stats(jb)["jitter"] == 0


def test_loss_counts_and_fades_then_silence():
    jb = Jitter(0)
    out = []
    for i in range(40):
        t = 1000 + i * 20
        if not 20 <= i < 26:
            assert put(jb, pkt(i), t + 30) == (i > 0)
        out.append((jb.get(t + 35), index(jb)))
    first = [k for k, (g, i) in enumerate(out) if g == 256][0]
    seq = [g for g, i in out[first:]]
    # 6 frames missing: 3 repeats of the last one, fading, then silence
    at = seq.index(192)
    assert seq[at:at + 6] == [192, 128, 64, 0, 0, 0] and seq[at + 6] == 256
    assert [i for g, i in out[first:] if g == 192 or g == 128 or g == 64] == [19, 19, 19]
    s = stats(jb)
    assert s["lost"] == 6 and s["concealed"] == 6 and s["received"] == 33


def test_duplicates_late_and_reordered():
    jb = Jitter(0)
    steady(jb, 20)
    assert put(jb, pkt(19), 1400) == 0  # a duplicate of a frame still buffered or played
    assert put(jb, pkt(5), 1401) == 0  # long played (its slot reused): the seq history
    assert put(jb, pkt(21), 1420) == 1
    assert put(jb, pkt(20), 1421) == 1  # reordered, still in time
    assert put(jb, pkt(21), 1422) == 0
    s = stats(jb)
    assert (s["duplicates"], s["reordered"], s["late"]) == (3, 1, 0)
    for i in range(22, 40):  # then 26 comes 150 ms late
        if i != 26:
            put(jb, pkt(i), 1000 + i * 20 + 30)
        jb.get(1000 + i * 20 + 35)
    assert put(jb, pkt(26), 1000 + 26 * 20 + 180) == 0
    s = stats(jb)
    assert s["late"] == 1 and s["lost"] == 0 and s["reordered"] == 2


def test_another_payload_type_is_counted_and_returned():
    jb = Jitter(0)
    steady(jb, 10)
    dtmf = struct.pack(">BBHII", 0x80, 101, 1010, 160000 + 1600, SSRC) + b"\x05\x0a\x00\xa0"
    assert put(jb, dtmf, 1230) == 2
    steady(jb, 10, start=11, seq0=1000)
    s = stats(jb)
    assert s["lost"] == 0 and s["received"] == 20 and s["invalid"] == 0


def test_invalid_packets_are_dropped_and_counted():
    jb = Jitter(0)
    steady(jb, 5)
    good = pkt(5)
    bad = [
        b"",
        good[:11],  # shorter than a header
        b"\x40" + good[1:],  # version 1
        bytes([0x80, 200]) + good[2:],  # RTCP SR on the RTP port (PT 72, marker)
        bytes([0x80, 95]) + good[2:],  # the top of RTCP's range (RFC 5761 §4)
        bytes([0x8F]) + good[1:60],  # 15 CSRCs past the end
        bytes([0x90]) + good[1:12],  # an extension header past the end
        bytes([0x90]) + good[1:12] + b"\xbe\xde\x00\x09abcd",  # extension longer than sent
        bytes([0xA0]) + good[1:-1] + b"\x00",  # padding count 0
        bytes([0xA0]) + good[1:-1] + b"\xff",  # padding longer than the payload
        good[:-1],  # 159 bytes of G.711 for a 20 ms frame
        good + b"x",
    ]
    for data in bad:
        assert put(jb, data, 1200) == 0, data
    s = stats(jb)
    assert s["invalid"] == len(bad) and s["received"] == 4
    # CSRCs, extension and padding are skipped to the payload
    ok = (bytes([0x80 | 0x20 | 0x10 | 2]) + good[1:12] + b"\x00\x00\x00\x01\x00\x00\x00\x02"
          + b"\xbe\xde\x00\x01abcd" + good[12:] + b"\x00\x00\x03")
    assert put(jb, ok, 1130) == 1


def test_a_sequence_jump_is_dropped_unless_the_next_follows():
    jb = Jitter(0)
    steady(jb, 10)
    assert put(jb, pkt(10, seq0=9000), 1230) == 0  # a jump of 8000: once is noise
    assert put(jb, pkt(10), 1231) == 1
    assert stats(jb)["invalid"] == 1
    # the sender restarts: new sequence numbers and timestamps, twice in a row
    assert put(jb, pkt(0, seq0=30000, ts0=7777), 1252) == 0
    assert put(jb, pkt(1, seq0=30000, ts0=7777), 1272) == 1
    gains = steady(jb, 20, start=2, seq0=30000, ts0=7777, t0=1232, delay=20)
    assert gains[-10:] == [256] * 10
    assert block(jb)[3] == (30000 + 21) & 0xFFFF


def test_ssrc_change_resets_after_probation():
    jb = Jitter(0)
    steady(jb, 30)
    s0 = stats(jb)
    stray = pkt(0, ssrc=0xDEAD, seq0=500)
    assert put(jb, stray, 1605) == 0  # one packet of another source: not a change
    steady(jb, 5, start=30)
    assert block(jb)[:2] == (SSRC >> 16, SSRC & 0xFFFF)
    # the source changes (e.g. a B2BUA switched), new sequence and timestamp bases
    t = 1700
    assert put(jb, pkt(0, ssrc=0xBEEF, seq0=40000, ts0=99), t) == 0
    assert put(jb, pkt(1, ssrc=0xBEEF, seq0=40000, ts0=99), t + 20) == 1
    assert block(jb)[:2] == (0, 0xBEEF)
    gains = []
    for i in range(2, 30):
        put(jb, pkt(i, ssrc=0xBEEF, seq0=40000, ts0=99), t + i * 20)
        gains.append((jb.get(t + i * 20 + 3), index(jb)))
    played = [i for g, i in gains if g == 256]
    assert played == list(range(played[0], played[0] + len(played))) and played[0] <= 3
    s = stats(jb)
    assert s["received"] == s0["received"] + 5 + 29 and s["lost"] == 0
    assert block(jb)[4:6] == (29, 29)  # expected, received: the new source's own


def test_a_far_timestamp_jump_re_anchors():
    jb = Jitter(0)
    steady(jb, 20)
    base = 160000 + 20 * 160 + 8000 * 60  # a minute ahead (e.g. the sender's clock)
    gains = steady(jb, 20, start=20, ts0=base - 20 * 160)
    assert stats(jb)["resyncs"] == 1
    assert gains[-10:] == [256] * 10


def test_other_frame_durations():
    for ptime in (10, 30, 60):
        jb = Jitter(0, ptime)
        out = []
        for i in range(100):
            t = 1000 + i * ptime
            put(jb, pkt(i, size=ptime * 8, ptime=ptime), t + (i * 7) % 6)
            out.append(jb.get(t + 6))
        assert out[-50:] == [256] * 50, (ptime, out)
        assert len(jb.state[RING]) == (200 // ptime + 3) * ptime * 8  # the ring: its slots
    try:
        Jitter(0, 5)
    except ValueError:
        pass
    else:
        raise AssertionError("ptime 5 accepted")


def test_interarrival_jitter_is_rfc3550_a8():
    jb = Jitter(0)
    arrivals = [1000 + i * 20 + (0, 9, 3, 17, 1, 30, 4)[i % 7] for i in range(60)]
    j = 0.0
    for i, t in enumerate(arrivals):
        put(jb, pkt(i), t)
        if i >= 2:  # A.8 from the second valid packet (the first is probation)
            d = (t - arrivals[i - 1]) * 8 - 160
            j += (abs(d) - j) / 16
    assert abs(stats(jb)["jitter"] - j) <= 1, (stats(jb)["jitter"], j)
    assert abs(stats(jb)["jitter_ms"] - j / 8) < 0.2


def test_continuous_speech_still_shrinks_slowly():
    jb = Jitter(0)
    steady(jb, 50, delay=20)
    for i in range(50, 55):  # a 100 ms spike: 50..54 come with 55
        jb.get(1000 + i * 20 + 25)
    for i in range(50, 55):
        put(jb, pkt(i), 1000 + 55 * 20 + 20)
    drops = []
    for i in range(55, 55 + 1000):
        t = 1000 + i * 20
        put(jb, pkt(i), t + 20)
        before = jb.jitter[POS]
        jb.get(t + 25)
        if jb.jitter[POS] - before == 2:
            drops.append(t)
    assert drops, "no drop in 20 s of speech"
    assert all(b - a >= 2000 for a, b in zip(drops, drops[1:]))
    assert jb.jitter[CUR] <= 60


def test_stats_before_any_packet():
    s = stats(Jitter(0))
    assert s["received"] == 0 and s["lost"] == 0 and s["delay_ms"] is None
    assert s["jitter_ms"] == 0


# ------------------------------------------------------------------ memory

def test_no_allocation_per_frame():
    if not MICROPYTHON:  # CPython allocates ints and frames; the budget is MicroPython's
        return
    jb = Jitter(0)
    buf = bytearray(pkt(0) + bytes(20))  # one receive buffer, as an adapter has
    n = 172

    def frame(i):
        seq = (65000 + i) & 0xFFFF
        ts = 0xFFFF0000 + i * 160
        buf[2] = seq >> 8
        buf[3] = seq & 255
        buf[4] = ts >> 24 & 255
        buf[5] = ts >> 16 & 255
        buf[6] = ts >> 8 & 255
        buf[7] = ts & 255
        buf[12] = i >> 8 & 255
        buf[13] = i & 255
        c = QUIET if (i // 40) % 2 else LOUD  # speech and silence: drops happen too
        for k in range(31, 172, 20):  # the codes the quiet test reads
            buf[k] = c

    def run(a, b):
        for i in range(a, b):
            t = 1000 + i * 20
            if i == 350:  # a late packet, 140 ms behind: the delay grows, then shrinks
                frame(i - 7)
                jb.put(buf, n, t)
            if i % 53 != 7 and i != 343:  # some loss, jitter 0..9 ms
                frame(i)
                jb.put(buf, n, t + (i * 37) % 10)
            jb.get(t + 11)

    run(0, 300)
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        run(300, 1300)
        after = gc.mem_alloc()
    finally:
        gc.enable()
    assert after == before, after - before
    s = stats(jb)  # every path ran: loss, late, growth, shrink, window, wraps
    assert s["played"] > 900 and s["concealed"] > 0 and s["late"] == 1
    assert s["inserted"] > 0 and s["dropped"] > 0 and block(jb)[2] == 1


def test_the_set_up_module_uses_the_same_state_layout():
    # tinysip.voicesetup builds the Voice's jitter array and state/RTCP lists with its own
    # copies of the indices (a private const costs the phone no interned name): every name
    # both modules have must agree, and so must this file's copies
    from test_srtp import consts

    voice = consts("voice.py")
    shared = [k for k in consts("voicesetup.py") if k in voice]
    assert len(shared) > 60
    for k, v in consts("voicesetup.py").items():
        if k in voice:
            assert voice[k] == v, k
    assert (voice["_POS"], voice["_CUR"], voice["_DLAST"], voice["_JPOS"], voice["_RING"]) == (
        POS, CUR, DLAST, JPOS, RING)
    assert voice["_R_BUF"] == voice["_R_N"]  # the packet follows the numbers
