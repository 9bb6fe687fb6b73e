"""tinysip.voice's RFC 4733 part (formerly tinysip.dtmf):
RFC 4733 event payloads, the digit sender and the receiver."""
import gc
import struct

from testutil import MICROPYTHON, raises

from tinysip import voice
from tinysip.voicesetup import Jitter, Sender, pack, unpack

PT = 101  # the telephone-event payload type a peer's SDP typically gives


class _Events(voice.Voice):
    """A Voice whose jitter buffer hands every packet on (put() says 2: another payload
    type of the stream), so Voice.receive's RFC 4733 receiver sees each packet fed here as
    it arrived, duplicates and reordering included."""

    def put(self, b, n, now):
        return 2


def Receiver():
    """The receiver of RFC 4733 events of a Voice (Voice.receive) and nothing else."""
    v = Jitter(0, 20, [0, b"PCMU", PT, 20, b"", 0, 0, None, None, b"sendrecv"])
    r = _Events()
    for k in ("params", "jitter", "state", "buf", "rtcp", "srtp"):
        setattr(r, k, getattr(v, k))
    r.rx = bytearray(300)
    return r


def rtp(ts, payload, marker=0, seq=0):
    """An RTP packet carrying `payload` (RFC 3550 §5.1)."""
    return struct.pack(">BBHII", 0x80, (0x80 if marker else 0) | PT, seq & 0xFFFF,
                       ts & 0xFFFFFFFF, 0x5EED) + bytes(payload)


def feed(rx, pkt, head=0):
    """Give rx one packet whose header starts at pkt[head]; the digit it reports, as a str."""
    n = len(pkt) - head
    rx.rx[0:n] = pkt[head:]
    r = rx.receive(n, 0)
    return chr(r) if r else ""


def transmit(tx, until, tick=None, start=0):
    """Poll tx every tick ms (its step by default) from `start` until `until`, as the
    media layer does: the event's RTP timestamp is the audio clock (8 samples per ms) at
    the tick poll() says 2. Returns [(now, packet, (event, end, volume, duration))]."""
    tick = tick or tx.state[8]
    buf = bytearray(16)
    out = []
    ts = None
    seq = 0
    for now in range(start, until, tick):
        r = tx.poll(now, buf, 12)
        if r == 2:
            ts = now * 8
        if r:
            seq += 1
            out.append((now, rtp(ts, buf[12:16], r == 2, seq), unpack(buf, 12, 4)))
    return out


def received(packets, rx=None):
    rx = rx or Receiver()
    return "".join(feed(rx, p[1]) for p in packets)


# ------------------------------------------------------------------ payload (§2.3)

def test_payload_layout():
    buf = bytearray(b"HEADER......TAIL")
    assert pack(buf, 6, 1, False, 10, 400) == 10
    assert buf == b"HEADER\x01\x0a\x01\x90..TAIL"  # event 1, E=0, volume 10, 400 samples
    pack(buf, 6, 11, True, 63, 0xFFFF)  # "#", the end, the quietest, the longest
    assert buf[6:10] == b"\x0b\xbf\xff\xff"
    assert unpack(buf, 6, 4) == (11, True, 63, 0xFFFF)
    assert unpack(b"\x05\x0a\x00\xa0", 0, 4) == (5, False, 10, 160)
    assert unpack(b"\x05\x4a\x00\xa0", 0, 4) == (5, False, 10, 160)  # R is ignored
    assert unpack(b"\x05\x8a\x00\xa0\x06\x8a\x00\xa0", 0, 8) == (5, True, 10, 160)


def test_payload_round_trip():
    buf = bytearray(4)
    for event in (0, 9, 10, 15, 16, 255):
        for end in (False, True):
            for volume in (0, 10, 36, 63):
                for duration in (0, 1, 160, 0x1234, 0xFFFF):
                    pack(buf, 0, event, end, volume, duration)
                    assert unpack(buf, 0, 4) == (event, end, volume, duration)


def test_payload_misuse_is_refused():
    buf = bytearray(4)
    assert "event 256" in str(raises(ValueError, pack, buf, 0, 256, False, 10, 1))
    assert "volume 64" in str(raises(ValueError, pack, buf, 0, 1, False, 64, 1))
    assert "duration 65536" in str(raises(ValueError, pack, buf, 0, 1, False, 10, 65536))
    raises(ValueError, pack, buf, 0, -1, False, 10, 1)
    raises(ValueError, pack, buf, 0, 1, False, -1, 1)
    raises(ValueError, pack, buf, 0, 1, False, 10, -1)
    assert buf == bytearray(4)
    assert "3-byte payload" in str(raises(ValueError, unpack, b"\x01\x0a\x00", 0, 3))


# ------------------------------------------------------------------ sender (§2.5.1)

def test_one_digit_50ms_updates():
    # §2.5.1.2: M on the first packet, the same timestamp throughout, the duration growing
    # by one step per packet; §2.5.1.4: the final packet three times
    tx = Sender(step=50, length=100)
    tx.send("1")
    pkts = transmit(tx, 1400, start=1000)
    assert [(p[0], p[2]) for p in pkts] == [
        (1000, (1, False, 10, 400)),
        (1050, (1, True, 10, 800)),
        (1100, (1, True, 10, 800)),
        (1150, (1, True, 10, 800)),
    ]
    hdrs = [struct.unpack(">BBHI", p[1][:8]) for p in pkts]
    assert [h[1] >> 7 for h in hdrs] == [1, 0, 0, 0]  # M only on the first
    assert len(set(h[3] for h in hdrs)) == 1 and hdrs[0][3] == 8000  # the start's timestamp
    assert tx.poll(1200, bytearray(4), 0) == 0 and tx.next_timer() is None


def test_updates_at_the_audio_ptime():
    tx = Sender(step=20, length=100, v=7)
    tx.send(b"#")
    pkts = transmit(tx, 200)
    assert [p[2] for p in pkts] == (
        [(11, False, 7, d) for d in (160, 320, 480, 640)] + [(11, True, 7, 800)] * 3)
    assert [p[0] for p in pkts] == [0, 20, 40, 60, 80, 100, 120]  # one per tick, no gaps


def test_a_tone_as_short_as_a_step_is_one_final_packet_three_times():
    tx = Sender(step=50, length=50)
    tx.send("0")
    pkts = transmit(tx, 300)
    assert [p[2] for p in pkts] == [(0, True, 10, 400)] * 3
    assert rtp_marker(pkts[0][1]) and not rtp_marker(pkts[1][1])


def rtp_marker(pkt):
    return pkt[1] >> 7


def test_digits_follow_each_other_after_a_pause():
    tx = Sender(step=20, length=60)
    tx.send("12")
    tx.send(b"*#aD")  # bytes too, a-d in either case
    pkts = transmit(tx, 2000)
    firsts = [p for p in pkts if rtp_marker(p[1])]
    assert [p[2][0] for p in firsts] == [1, 2, 10, 11, 12, 15]
    # each digit: 60 ms of tone in 3 packets, 2 more end packets, 50 ms of silence after
    # the tone (the next tick after that)
    assert [p[0] for p in firsts] == [0, 120, 240, 360, 480, 600]
    assert len(pkts) == 6 * 5
    assert received(pkts) == "12*#AD"
    # and each new event starts after the previous one ended (timestamps never overlap)
    for a, b in zip(firsts, firsts[1:]):
        assert b[0] * 8 > a[0] * 8 + 480


def test_polls_between_due_times_send_nothing_and_write_nothing():
    tx = Sender(step=50, length=150)
    tx.send("9")
    buf = bytearray(b"....")
    assert tx.next_timer() <= 0  # due at once
    assert tx.poll(10, buf, 0) == 2
    assert tx.next_timer() == 60
    buf[:] = b"...."
    for now in (11, 30, 59):
        assert tx.poll(now, buf, 0) == 0
    assert buf == b"...."
    assert tx.poll(60, buf, 0) == 1 and unpack(buf, 0, 4) == (9, False, 10, 800)


def test_late_polls_report_the_real_duration_and_end_on_time():
    tx = Sender(step=20, length=100)
    tx.send("3")
    buf = bytearray(4)
    got = []
    for now in (0, 20, 55, 75, 130, 131, 150, 170, 190):  # the loop stalls 35 ms, then 55
        if tx.poll(now, buf, 0):
            got.append((now, unpack(buf, 0, 4)[1:]))
    assert got == [(0, (False, 10, 160)), (20, (False, 10, 320)), (55, (False, 10, 600)),
                   (75, (False, 10, 760)), (130, (True, 10, 800)), (150, (True, 10, 800)),
                   (170, (True, 10, 800))]


def test_sender_misuse_is_refused():
    tx = Sender()
    e = raises(ValueError, tx.send, "12x3")
    assert "0-9 * # A-D" in str(e)
    assert tx.next_timer() is None  # nothing of it was queued
    raises(ValueError, tx.send, "E")
    raises(ValueError, tx.send, "1 2")
    tx.send("0123456789" * 3)
    assert "overflow" in str(raises(ValueError, tx.send, "123"))
    tx.send("12")  # exactly full
    raises(ValueError, Sender, 0)
    raises(ValueError, Sender, 50, 40)  # a tone shorter than one step
    raises(ValueError, Sender, 50, 8192)  # 65,536 samples and more would need segments
    raises(ValueError, Sender, 50, 100, 64)
    Sender(50, 8191, 63)


def test_the_queue_is_a_ring():
    tx = Sender(step=10, length=10)
    for rnd in range(5):
        tx.send("0123456789*#ABCD" * 2)
        pkts = transmit(tx, 2000 * (rnd + 1), start=2000 * rnd)  # 60 ms per digit
        assert received(pkts) == "0123456789*#ABCD" * 2


# ------------------------------------------------------------------ receiver (§2.5.2)

def test_each_digit_once_despite_updates_and_three_end_packets():
    tx = Sender(step=20, length=100)
    tx.send("159#")
    pkts = transmit(tx, 2000)
    rx = Receiver()
    got = [feed(rx, p[1]) for p in pkts]
    assert "".join(got) == "159#"
    assert [g for g, p in zip(got, pkts) if g] and all(
        bool(g) == bool(rtp_marker(p[1])) for g, p in zip(got, pkts))  # at the M packets


def test_lost_first_packets():
    tx = Sender(step=20, length=100)
    tx.send("4242")
    pkts = transmit(tx, 2000)
    kept = [p for p in pkts if not rtp_marker(p[1])]  # every M=1 packet lost
    assert received(kept) == "4242"
    only_ends = [p for p in pkts if p[2][1]]  # all but the end packets lost
    assert received(only_ends) == "4242"
    last_end_only = [p for i, p in enumerate(pkts) if i % 7 == 6]  # one end packet each
    assert received(last_end_only) == "4242"


def test_duplicated_packets():
    tx = Sender(step=20, length=60)
    tx.send("77")  # the same digit twice: two events, two reports
    pkts = transmit(tx, 1000)
    assert received([p for p in pkts for _ in range(3)]) == "77"


def test_reordered_packets():
    tx = Sender(step=20, length=60)
    tx.send("123")
    pkts = transmit(tx, 1000)
    assert len(pkts) == 15
    # digit 2's first packet overtakes digit 1's end packets, which arrive late
    order = pkts[:3] + [pkts[5]] + pkts[3:5] + pkts[6:]
    assert received(order) == "123"
    # updates of one event swapped, end packets before updates
    order = [pkts[1], pkts[0], pkts[4], pkts[2], pkts[3]] + pkts[5:]
    assert received(order) == "123"
    # a stray late end packet of digit 1 after digit 3 began
    assert received(pkts[:12] + [pkts[4]] + pkts[12:]) == "123"


def test_timestamps_wrap():
    rx = Receiver()
    p1 = b"\x01\x0a\x01\x90"
    assert feed(rx, rtp(0xFFFFFE00, p1, 1)) == "1"
    assert feed(rx, rtp(0x00000100, b"\x02\x0a\x01\x90", 1)) == "2"  # 2**32 + 256 is later
    assert feed(rx, rtp(0xFFFFFE00, b"\x01\x8a\x01\x90")) == ""  # digit 1's late end
    assert feed(rx, rtp(0x00000100, b"\x02\x8a\x01\x90")) == ""


def test_a_long_event_in_segments_is_one_digit():
    # §2.5.1.3: an event longer than 65,535 samples goes on in a new segment whose
    # timestamp is where the previous one ended; the receiver joins them (§2.5.2.3)
    rx = Receiver()
    t0 = 0x7FFFF000  # the segments cross a 16-bit boundary of the timestamp
    got = feed(rx, rtp(t0, b"\x05\x0a\x01\x90", 1))
    for d in range(800, 0x10000, 4000):
        got += feed(rx, rtp(t0, struct.pack(">BBH", 5, 10, d)))
    for _ in range(3):
        got += feed(rx, rtp(t0, struct.pack(">BBH", 5, 0x8A, 0xFFFF)))
    t1 = t0 + 0xFFFF
    for d in (400, 800, 1200):
        got += feed(rx, rtp(t1, struct.pack(">BBH", 5, 10, d)))
    for _ in range(3):
        got += feed(rx, rtp(t1, struct.pack(">BBH", 5, 0x8A, 1200)))
    assert got == "5"
    # a new press of the same key after a pause is a new digit
    assert feed(rx, rtp(t1 + 1200 + 400, b"\x05\x0a\x01\x90", 1)) == "5"


def test_a_jump_back_beyond_the_reorder_window_starts_afresh():
    rx = Receiver()
    assert feed(rx, rtp(8000000, b"\x01\x0a\x01\x90", 1)) == "1"
    assert feed(rx, rtp(8000000 - 65536, b"\x02\x0a\x01\x90", 1)) == ""  # "late": ignored
    assert feed(rx, rtp(8000000 - 65537, b"\x02\x0a\x01\x90", 1)) == "2"  # another timeline
    assert feed(rx, rtp(1234, b"\x03\x0a\x01\x90", 1)) == "3"


def test_what_is_no_digit():
    rx = Receiver()
    assert feed(rx, rtp(1000, b"\x01\x0a\x01")) == ""  # shorter than a report: dropped
    assert feed(rx, rtp(1000, b"")) == ""
    assert feed(rx, rtp(2000, b"\x10\x0a\x01\x90", 1)) == ""  # event 16 (flash): no digit
    assert feed(rx, rtp(2000, b"\x10\x8a\x03\x20")) == ""
    assert feed(rx, rtp(4000, b"\x0f\x0a\x01\x90", 1)) == "D"


def test_header_offset_and_digit_codes():
    rx = Receiver()
    digits = "0123456789*#ABCD"
    for e in range(16):
        pkt = b"x" * 12 + rtp(1000 + 800 * e, bytes((e, 10, 1, 144)), 1)
        assert feed(rx, pkt, 12) == digits[e]


def test_no_allocation_per_packet():
    if not MICROPYTHON:  # CPython allocates ints and frames; the budget is MicroPython's
        return
    tx = Sender(step=20, length=5000)
    tx.send("5")
    rx = Receiver()
    pkt = rx.rx = bytearray(rtp(0x9ABCDEF0, b"\x05\x0a\x00\xa0", 1))  # read in place
    buf = bytearray(16)
    tx.poll(0, buf, 12)
    rx.receive(16, 0)
    got = late = 0
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        for i in range(1, 351):  # updates, the end packets, idle polls
            tx.poll(i * 20, buf, 12)
            pkt[14] = buf[14]
            if i % 10 == 0:  # a new event (65,536 samples on) every 10 packets
                pkt[5] += 1
            if rx.receive(16, 0):
                got += 1
            if i % 20 == 0:  # and a late packet of the one before
                pkt[5] -= 1
                late += rx.receive(16, 0)
                pkt[5] += 1
        after = gc.mem_alloc()
    finally:
        gc.enable()
    assert after == before, after - before
    assert tx.next_timer() is None, tx.state
    assert (got, late) == (35, 0)
