"""tinysip.srtp: SRTP/SRTCP (RFC 3711) against the RFC's vectors and libsrtp's packets,
round trips, ROC, replay window, tampering. Runs on CPython (the plain path) and on the
MicroPython unix port (the viper path, which must allocate nothing per packet)."""
import gc
import struct
from binascii import unhexlify

from testutil import HERE, MICROPYTHON, lcg, read_vector

from tinysip import srtp
from tinysip.srtp import aes
from tinysip.voicesetup import Context, key

# Context.s offsets (srtp's private consts are folded away on MicroPython; checked against
# the module on CPython by test_layout)
SP = 170  # SRTP session salt
KS = 232  # keystream blocks


def vectors(name):
    """{name: bytes} from a "name: hex" file under data/srtp."""
    out = {}
    for line in read_vector("srtp/" + name).split(b"\n"):
        if line and not line.startswith(b"#"):
            k, _, v = line.partition(b":")
            out[k.strip().decode()] = unhexlify(v.strip())
    return out


def rtp(seq, payload, ssrc=0x11223344, ts=0, csrcs=0, ext=b"", pt=0):
    """An RTP packet (RFC 3550 §5.1) with csrcs CSRC entries and an optional extension."""
    b0 = 0x80 | csrcs | (0x10 if ext else 0)
    out = struct.pack(">BBHII", b0, pt, seq, ts, ssrc) + bytes(4 * csrcs)
    if ext:
        out += struct.pack(">HH", 0xBEDE, len(ext) // 4) + ext
    return out + payload


def run(ctx, data, off=0, rtcp=False, room=16):
    """protect data placed at buf[off:]: (buf, protected length)."""
    buf = bytearray(off + len(data) + room)
    buf[off:off + len(data)] = data
    n = (ctx.protect_rtcp if rtcp else ctx.protect)(buf, len(data), off)
    return buf, n


def pair(tag=80, seed=1):
    key = lcg(seed)(30)
    return Context(key, tag), Context(key, tag)


def test_layout():
    if not MICROPYTHON:
        assert (srtp._SP, srtp._KS) == (SP, KS)
    # the unix port has the native emitter: the viper functions replaced the plain ones
    # (tinysip.plain, which then never loads)
    assert (not srtp._raw) == MICROPYTHON
    # the offsets tinysip.plain and tinysip.voicesetup repeat are srtp's
    mine = consts("srtp.py")
    for other in ("plain.py", "voicesetup.py"):
        for k, v in consts(other).items():
            if k == "_SIZE_S":  # (voicesetup's _SIZE is the jitter buffer's)
                assert mine["_SIZE"] == v
            elif k in ("_KP", "_KR", "_H", "_IX", "_SP", "_SR", "_EK", "_KS", "_PB", "_RTCP",
                       "_CHECK"):
                assert mine[k] == v, (other, k)


def consts(path):
    """name -> int of every `_NAME = const(N)` line of a module of lib/tinysip."""
    out = {}
    with open(HERE + "/../lib/tinysip/" + path) as f:
        for line in f:
            if line[:1] == "_" and " = const(" in line and "const(b" not in line:
                name, _, rest = line.partition(" = const(")
                out[name] = int(rest.split(")")[0], 0)
    return out


def plain(test):
    """Run test with srtp's plain functions (tinysip.plain: MicroPython's fallback where it
    cannot compile viper code): on MicroPython a second path, on CPython the only one."""
    from tinysip import plain as p

    fast = (srtp._build, srtp.cipher, srtp.mac, srtp._raw)
    srtp._build, srtp.cipher, srtp.mac, srtp._raw = p._build, p.cipher, p.mac, True
    try:
        test()
    finally:
        srtp._build, srtp.cipher, srtp.mac, srtp._raw = fast


def test_plain_path_gives_the_same_packets():
    for t in (test_libsrtp_rtp_packet_both_ways, test_libsrtp_rtcp_packet_both_ways,
              test_round_trip_header_forms_and_offsets, test_sequence_wrap_increments_the_roc,
              test_tampering_is_rejected_and_moves_nothing):
        plain(t)


# ------------------------------------------------------------------ RFC 3711 Appendix B

def test_b3_key_derivation():
    v = vectors("rfc3711-b2-b3.txt")
    m = aes(v["b3.master_key"], 1)
    salt = v["b3.master_salt"]
    assert key(m, salt, 0, 16) == v["b3.cipher_key"]
    assert key(m, salt, 2, 14) == v["b3.cipher_salt"]
    assert key(m, salt, 1, 94) == v["b3.auth_key"]  # we use its first 20 bytes
    c = Context(v["b3.master_key"] + salt)
    assert bytes(c.s[SP:SP + 14]) == v["b3.cipher_salt"]


def b2_context():
    """A context whose session key and salt are B.2's (the key derivation bypassed)."""
    v = vectors("rfc3711-b2-b3.txt")
    c = Context(bytes(30))
    c.e = aes(v["b2.session_key"], 1)
    c.s[SP:SP + 14] = v["b2.session_salt"]
    return c, v


def test_b2_keystream_through_protect():
    # SSRC 0, ROC 0, SEQ 0: protecting 48 zero bytes leaves the first three keystream blocks
    c, v = b2_context()
    buf, n = run(c, rtp(0, bytes(48), ssrc=0))
    assert n == 12 + 48 + 10
    ks = b"".join(v["b2.F0F1F2F3F4F5F6F7F8F9FAFBFCFD000%d" % i] for i in range(3))
    assert bytes(buf[12:60]) == ks


def test_b2_keystream_block_counter_carries():
    # the last blocks of the segment: counters FEFF, FF00, FF01 (the carry into byte 14)
    c, v = b2_context()
    pkt = bytearray(rtp(0, b"", ssrc=0))
    c.s[164:170] = bytes(6)  # ROC 0, SEQ 0
    srtp._build(c.s, pkt, 3, 0xFEFF)
    assert bytes(c.s[KS:KS + 16]) == unhexlify(b"F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF")
    view = memoryview(c.s)[KS:KS + 48]
    c.e.encrypt(view, view)
    assert bytes(view) == (v["b2.F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF"]
                           + v["b2.F0F1F2F3F4F5F6F7F8F9FAFBFCFDFF00"]
                           + v["b2.F0F1F2F3F4F5F6F7F8F9FAFBFCFDFF01"])


# ------------------------------------------------------------------ libsrtp's packets

def test_libsrtp_rtp_packet_both_ways():
    v = vectors("libsrtp-validate.txt")
    key = v["master_key"] + v["master_salt"]
    buf, n = run(Context(key), v["rtp"])
    assert bytes(buf[:n]) == v["srtp"]
    rx = Context(key)
    assert rx.unprotect(buf, n) == len(v["rtp"])
    assert bytes(buf[:len(v["rtp"])]) == v["rtp"]
    # the _32 suite: the same HMAC cut to 4 bytes
    buf, n = run(Context(key, 32), v["rtp"])
    assert bytes(buf[:n]) == v["srtp"][:-6]


def test_libsrtp_rtcp_packet_both_ways():
    v = vectors("libsrtp-validate.txt")
    key = v["master_key"] + v["master_salt"]
    for tag in (80, 32):  # SRTCP keeps its 80-bit tag in the _32 suite (RFC 4568 §6.2)
        tx = Context(key, tag)
        run(tx, v["rtcp"], rtcp=True)  # SRTCP index 0
        buf, n = run(tx, v["rtcp"], rtcp=True)  # index 1: libsrtp's packet
        assert bytes(buf[:n]) == v["srtcp"]
        rx = Context(key, tag)
        assert rx.unprotect_rtcp(buf, n) == len(v["rtcp"])
        assert bytes(buf[:len(v["rtcp"])]) == v["rtcp"]


# ------------------------------------------------------------------ round trips

def test_round_trip_header_forms_and_offsets():
    for tag in (80, 32):
        tx, rx = pair(tag)
        seq = 100
        for csrcs, ext, size, off in ((0, b"", 160, 0), (2, b"", 1, 12), (0, b"abcdefgh", 0, 3),
                                      (15, b"wxyz", 300, 0), (1, b"", 1400, 40)):
            seq += 1
            plain = rtp(seq, bytes(lcg(seq)(size)), csrcs=csrcs, ext=ext)
            buf, n = run(tx, plain, off)
            assert n == len(plain) + tag // 8
            h = len(plain) - size
            assert bytes(buf[off:off + h]) == plain[:h]  # the header stays in clear
            if size > 4:
                assert bytes(buf[off + h:off + len(plain)]) != plain[h:]
            assert rx.unprotect(buf, n, off) == len(plain)
            assert bytes(buf[off:off + len(plain)]) == plain


def test_two_directions_have_independent_keys():
    a_tx, a_rx = pair(80, seed=1)
    b_tx, b_rx = pair(80, seed=2)
    buf, n = run(a_tx, rtp(1, b"x" * 160))
    assert b_rx.unprotect(buf, n) == -1  # the other direction's key does not open it
    assert a_rx.unprotect(buf, n) == 172


def test_tampering_is_rejected_and_moves_nothing():
    tx, rx = pair()
    plain = rtp(7, bytes(range(160)))
    for where in (1, 3, 8, 12, 100, 171, 172, 181):  # header, payload, tag
        buf, n = run(tx, plain)
        tx.n[1] = 6  # protect the same packet again each round
        buf[where] ^= 0x01
        before = list(rx.n)
        assert rx.unprotect(buf, n) == -1
        assert rx.n == before  # no ROC, no window move
    buf, n = run(tx, plain)
    assert rx.unprotect(buf, n) == 172


def test_forged_far_ahead_does_not_poison_the_window():
    tx, rx = pair()
    for seq in (40000, 40001):
        buf, n = run(tx, rtp(seq, b"v" * 160))
        assert rx.unprotect(buf, n) == 172
    buf, n = run(tx, rtp(40002, b"v" * 160))
    forged = bytearray(buf)
    forged[2:4] = struct.pack(">H", 100)  # after a wrap: the receiver guesses ROC 1
    assert rx.unprotect(forged, n) == -1
    assert rx.n[:2] == [0, 40001]
    assert rx.unprotect(buf, n) == 172
    tx, rx = pair()
    buf, n = run(tx, rtp(11, b"v" * 160))
    assert rx.unprotect(buf, n) == 172
    buf, n = run(tx, rtp(12, b"v" * 160))
    buf[2:4] = struct.pack(">H", 40000)  # guessed from before ROC 0: refused unchecked
    assert rx.unprotect(buf, n) == -2


def test_replay_is_rejected():
    tx, rx = pair()
    buf, n = run(tx, rtp(500, b"a" * 160))
    copy = bytes(buf)
    assert rx.unprotect(buf, n) == 172
    again = bytearray(copy)
    assert rx.unprotect(again, n) == -2
    assert bytes(again) == copy  # refused before anything was decrypted


def test_out_of_order_within_the_window_is_accepted():
    tx, rx = pair()
    pkts = {}
    for seq in range(1000, 1100):
        pkts[seq] = run(tx, rtp(seq, bytes([seq & 255]) * 20))
    order = [1000, 1002, 1001, 1005, 1003, 1004] + list(range(1006, 1070)) + [1007, 1069]
    got = []
    for seq in order:
        buf, n = pkts[seq]
        b = bytearray(buf)
        got.append(rx.unprotect(b, n))
    assert got[:70] == [32] * 70  # 1000..1069 each once, late ones included
    assert got[70:] == [-2, -2]  # duplicates
    buf, n = pkts[1005]
    assert rx.unprotect(bytearray(buf), n) == -2  # seen, and now 64 behind: too old anyway
    b, n = pkts[1099]
    assert rx.unprotect(bytearray(b), n) == 32  # a jump of 30 ahead
    b, n = pkts[1036]
    assert rx.unprotect(bytearray(b), n) == -2  # 63 behind but already seen
    b, n = pkts[1035]
    assert rx.unprotect(bytearray(b), n) == -2  # 64 behind: older than the window


def test_late_packet_inside_the_window_is_accepted_once():
    tx, rx = pair()
    pkts = [run(tx, rtp(s, b"z" * 160)) for s in range(300, 370)]
    for buf, n in pkts[:10] + pkts[11:]:
        assert rx.unprotect(bytearray(buf), n) == 172
    buf, n = pkts[10]  # 59 behind the highest: inside the 64-packet window
    assert rx.unprotect(bytearray(buf), n) == 172
    assert rx.unprotect(bytearray(buf), n) == -2


def test_sequence_wrap_increments_the_roc():
    tx, rx = pair()
    pkts = []
    for i in range(20):
        seq = (65530 + i) & 0xFFFF
        pkts.append((seq, run(tx, rtp(seq, bytes([i]) * 160))))
    assert tx.n[:2] == [1, 13]  # ROC 1 after 0xFFFF -> 0
    late = None
    for seq, (buf, n) in pkts:
        if seq == 65535:
            late = (buf, n)  # arrives after the wrap
            continue
        assert rx.unprotect(bytearray(buf), n) == 172
    assert rx.n[:2] == [1, 13]
    buf, n = late
    b = bytearray(buf)
    assert rx.unprotect(b, n) == 172  # guessed ROC 0 (Appendix A): decrypts
    assert bytes(b[12:172]) == bytes([5]) * 160
    assert rx.n[:2] == [1, 13]


def test_same_seq_under_another_roc_is_another_keystream():
    tx, _ = pair()
    a = run(tx, rtp(5, bytes(160)))[0]
    tx.n[:2] = [1, 4]  # as if 65,536 packets later
    b = run(tx, rtp(5, bytes(160)))[0]
    assert bytes(a[12:172]) != bytes(b[12:172]) and bytes(a[172:182]) != bytes(b[172:182])


def test_short_and_malformed_packets():
    tx, rx = pair()
    for data in (b"", b"\x80" * 5, bytes(21), rtp(1, b"")[:11] + bytes(10)):
        assert rx.unprotect(bytearray(data), len(data)) == -3
    # a header extension longer than the packet
    bad = bytearray(rtp(1, b"", ext=b"abcd") + bytes(10))
    bad[15] = 200
    assert rx.unprotect(bad, len(bad)) == -3
    assert rx.unprotect_rtcp(bytearray(21), 21) == -3


def test_other_ssrc_is_dropped():
    tx, rx = pair()
    buf, n = run(tx, rtp(1, b"a" * 160, ssrc=1))
    assert rx.unprotect(buf, n) == 172
    buf, n = run(tx, rtp(2, b"a" * 160, ssrc=2))
    assert rx.unprotect(buf, n) == -4
    buf, n = run(tx, rtp(3, b"a" * 160, ssrc=1))
    assert rx.unprotect(buf, n) == 172


def test_first_packet_must_authenticate_to_set_the_stream():
    tx, rx = pair()
    buf, n = run(tx, rtp(1, b"a" * 160, ssrc=9))
    buf[20] ^= 1
    assert rx.unprotect(buf, n) == -1
    assert rx.n == [0, -1, -1, 0, -1, -1]
    buf, n = run(tx, rtp(2, b"a" * 160, ssrc=7))
    assert rx.unprotect(buf, n) == 172


# ------------------------------------------------------------------ SRTCP

def test_srtcp_round_trip_replay_and_tamper():
    tx, rx = pair(32)
    report = struct.pack(">BBHI", 0x81, 201, 7, 0x11223344) + bytes(lcg(5)(24))
    sent = []
    for _ in range(6):
        buf, n = run(tx, report, rtcp=True)
        assert n == len(report) + 14
        assert buf[n - 14] & 0x80  # E flag
        assert bytes(buf[8:len(report)]) != report[8:]
        sent.append(bytes(buf[:n]))
    assert struct.unpack(">I", sent[4][len(report):len(report) + 4])[0] == 0x80000004
    for pkt in (sent[1], sent[0], sent[3], sent[2], sent[4]):  # reordered
        b = bytearray(pkt)
        assert rx.unprotect_rtcp(b, len(b)) == len(report)
        assert bytes(b[:len(report)]) == report
    assert rx.unprotect_rtcp(bytearray(sent[2]), len(sent[2])) == -2
    b = bytearray(sent[5])  # not delivered yet
    b[len(report)] &= 0x7F  # the E flag is authenticated
    assert rx.unprotect_rtcp(b, len(b)) == -1
    b = bytearray(sent[5])
    b[5] ^= 1
    assert rx.unprotect_rtcp(b, len(b)) == -1
    b = bytearray(sent[5])
    assert rx.unprotect_rtcp(b, len(b)) == len(report)


def test_srtcp_with_offset():
    tx, rx = pair()
    report = struct.pack(">BBHI", 0x80, 201, 1, 5)
    buf, n = run(tx, report, off=7, rtcp=True)
    assert rx.unprotect_rtcp(buf, n, 7) == 8
    assert bytes(buf[7:15]) == report


# ------------------------------------------------------------------ allocation

def test_no_allocation_per_packet():
    if not MICROPYTHON:
        return  # CPython runs the plain path; the device's figure is MicroPython's
    tx, rx = pair()
    buf = bytearray(rtp(1, bytes(160)) + bytes(10))
    seq = 1
    for _ in range(3):  # first use makes the cached views
        seq += 1
        buf[2:4] = struct.pack(">H", seq)
        n = tx.protect(buf, 172)
        assert rx.unprotect(buf, n) == 172
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        for _ in range(50):
            seq += 1
            buf[2] = seq >> 8
            buf[3] = seq & 255
            n = tx.protect(buf, 172)
            rx.unprotect(buf, n)
        used = gc.mem_alloc() - before
    finally:
        gc.enable()
    assert used == 0, used
