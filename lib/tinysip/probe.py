"""RFC 6849 loopback SOURCE role: the offer, the test packets, and what came back.

Owns: the SDP offer of a loopback source and the check of the mirror's answer; one stream
of stamped RTP packets (RFC 3550) at a codec pace; decoding the mirrored packets into round
trip time, RFC 3550 interarrival jitter, loss (per direction with encaprtp), duplicates,
reordering; and an ITU-T G.107 E-model estimate (R factor, MOS). It does not read sockets
or clocks (tinysip.io.probe does: every entry point takes `now_us`, integer microseconds
on a monotonic clock) and does no SIP (the caller places the call around the offer).

Packets: a 12-byte header (V=2, PT = the codec, our random SSRC, random start of sequence
and timestamp, timestamp += 8 samples per ms) and interval_ms * 8 bytes of G.711 payload:
a stamp, b"TSLP" + the packet index (32-bit big endian), then codec silence. Replies:
- rtploopback (RFC 6849 §7.2), media loopback with G.711 (identity), or a plain echo such as
  SIPp -rtp_echo: the payload comes back under some RTP header, stamp at offset 12.
- encaprtp (§7.1): the mirror's 12-byte header, then our whole packet: stamp at offset 24,
  and the mirror's own sequence numbers tell the two directions apart: `lost_return` =
  replies the mirror numbered that never arrived, `lost_forward` = the rest of the loss.
  A reply lost on the return path before the first or after the last reply we saw leaves no
  gap in the mirror's numbers and counts as forward loss (unobservable).
A datagram without a valid stamp (magic and an index we sent) counts as `foreign`.

Measures (all integer µs while running, so nothing allocates per packet on MicroPython):
- RTT of packet k = arrival time - send time (both our clock, no synchronisation needed).
- Jitter: RFC 3550 §6.4.1 on the round-trip transit, D = difference of the RTTs of two
  consecutive unique arrivals, J += (|D| - J) / 16, in the integer form of RFC 3550 A.8
  (J scaled by 16): within 1 µs of the float form.
- Loss = sent - received (unique): packets still in flight when summary() runs count as
  lost, so the caller waits a drain time after the last packet before asking.
- Reordered: a unique arrival whose index is lower than the highest index seen.
- burst_ratio (G.107 BurstR): mean length of the runs of lost indices times (1 - loss
  fraction), i.e. over the mean run 1 / (1 - Ppl) of random loss; 1 without loss, and
  never below 1 (a few isolated losses would otherwise read as better than random).
"""
import math
import struct
from array import array

from tinysip.compat import const
from tinysip.errors import ParseError
from tinysip.sdp import parse, write

ENCAP = const(1)
DIRECT = const(2)
MEDIA = const(3)

_MODE_NAMES = ("", "encaprtp", "rtploopback", "media")
_PKT_PT = (0, 96, 97, 0)  # our payload type numbers for encaprtp / rtploopback
_MAGIC_HI = const(0x5453)  # b"TS"
_MAGIC_LO = const(0x4C50)  # b"LP"

# (payload type, SDP name, summary name, silence byte, G.113 Ie, Bpl with PLC)
_CODECS = ((8, b"PCMA", "PCMA", 0xD5, 0.0, 25.1), (0, b"PCMU", "PCMU", 0xFF, 0.0, 25.1))


def _codec(key, at):
    for c in _CODECS:
        if c[at] == key:
            return c
    raise ValueError("probe: codec %r not PCMA/PCMU" % (key,))


# ------------------------------------------------------------------ offer / answer

def offer(ip, port, sess_id, mode, codec=b"PCMA", ptime=0):
    """SDP offer (bytes) of a loopback source at ip (bytes):port for mode ENCAP / DIRECT /
    MEDIA with G.711 `codec` (b"PCMA" or b"PCMU") at 8000 Hz; ptime (ms, 0: none said) the
    packet spacing the source sends at, as a=ptime: the media it wants back per packet, so
    a mirror can size its reads (tinysip's takes 20 ms when the offer names none)."""
    c = _codec(codec, 1)
    cpt = b"%d" % c[0]
    cmap = b"rtpmap:%d %s/8000" % (c[0], c[1])
    if mode == MEDIA:
        fmts = [cpt]
        attrs = [cmap, b"loopback:rtp-media-loopback"]
    elif mode == ENCAP or mode == DIRECT:
        lpt = _PKT_PT[mode]
        fmts = [b"%d" % lpt, cpt]
        attrs = [b"rtpmap:%d %s/8000" % (lpt, _MODE_NAMES[mode].encode()), cmap,
                 b"loopback:rtp-pkt-loopback"]
    else:
        raise ValueError("probe: unknown loopback mode %r" % (mode,))
    attrs.append(b"loopback-source")
    if ptime:
        attrs.append(b"ptime:%d" % ptime)
    return write(ip, sess_id, sess_id, [(b"audio", port, b"RTP/AVP", fmts, attrs)])


def _refuse(why):
    raise ParseError(488, "mirror not RFC 6849: " + why)


def check_answer(body, mode, codec=None):
    """Check the mirror's SDP answer to offer(..., mode, codec); codec None accepts either
    G.711 codec in a MEDIA answer.

    Returns (mode, rx_pt, peer_ip, peer_port): rx_pt the payload type the mirror sends
    (its encaprtp / rtploopback type, or the codec for MEDIA), peer_ip (bytes) and peer_port
    (int) where it receives. Malformed SDP raises ParseError with a reason starting with
    "answer: "; an answer that accepts no loopback stream the way we offered it raises
    ParseError(488, "mirror not RFC 6849: ...").
    """
    try:
        sdp = parse(body)
    except ParseError as e:
        r = e.reason
        raise ParseError(e.status, "answer: " + (r[7:] if r.startswith("offer: ") else r))
    m = None
    for s in sdp[2]:
        if s[0] == b"audio" and s[1] != 0:
            m = s
            break
    if m is None:
        _refuse("no accepted audio stream")
    if m[2] != b"RTP/AVP":
        _refuse("stream is not RTP/AVP")
    if m[7] != b"loopback-mirror":
        _refuse("no a=loopback-mirror")
    want = b"rtp-media-loopback" if mode == MEDIA else b"rtp-pkt-loopback"
    if m[6] != [want]:
        _refuse("loopback type %s, offered %s" % (
            b" ".join(m[6]).decode() or "none", want.decode()))
    if m[8] is not None and m[8] != b"sendrecv":
        _refuse("stream is %s, a mirror must send and receive" % m[8].decode())
    rx = None
    if mode == MEDIA:
        for f in m[3]:
            enc = None
            for pt, ename, clock, raw in m[5]:
                if pt == f:
                    enc = (ename, clock)
            for c in _CODECS:
                if codec is None or codec == c[1]:
                    if (enc is None and f == b"%d" % c[0]) or enc == (c[1].lower(), 8000):
                        rx = int(f)
            if rx is not None:
                break
        if rx is None:
            _refuse("no %s/8000 in the answer" % (_codec(codec, 1)[2] if codec else "G.711"))
    else:
        name = _MODE_NAMES[mode].encode()
        other = None
        for f in m[3]:
            for pt, ename, clock, raw in m[5]:
                if pt == f:
                    if ename == name and rx is None:
                        rx = int(f)
                    elif ename == b"encaprtp" or ename == b"rtploopback":
                        other = ename
        if rx is None:
            _refuse("answered %s, offered %s" % ((other or b"no loopback format").decode(),
                                                 name.decode()))
    return mode, rx, m[4][1], m[1]


# ------------------------------------------------------------------ the source

def _ints(n, fill=0):
    """An array of n signed 32-bit ints (array(typecode, n) is not MicroPython)."""
    a = array("i", bytearray(4 * n))
    if fill:
        for i in range(n):
            a[i] = fill
    return a


class Source:
    """One test stream and its measurements.

    mode ENCAP / DIRECT / MEDIA; codec_pt 8 (PCMA) or 0 (PCMU); rx_pt the payload type the
    mirror sends (check_answer), kept as `rx_pt` for the caller: decoding does not need it,
    the stamp finds our packets under whatever header the mirror puts on them; interval_ms
    packet spacing (20 for the usual G.711 ptime); rng(n) -> n random bytes; capacity the
    most packets sent (the arrays are preallocated: 8 B per packet, 10 B with encaprtp);
    series: when True, keep (send offset ms, rtt ms, jitter ms) per unique arrival in
    `series` (host only: allocates).

    `buf` is the one packet buffer, exactly one packet long: packet(now_us) fills it and the
    adapter sends all of it.
    """

    def __init__(self, mode, codec_pt, rx_pt, interval_ms, rng, capacity, series=False):
        c = _codec(codec_pt, 0)
        if mode not in (ENCAP, DIRECT, MEDIA):
            raise ValueError("probe: unknown loopback mode %r" % (mode,))
        if not 1 <= interval_ms <= 150:
            raise ValueError("probe: interval_ms %r not 1..150" % (interval_ms,))
        if capacity < 1 or capacity >= 1 << 30:
            raise ValueError("probe: capacity %r" % (capacity,))
        self.mode = mode
        self.codec_pt = codec_pt
        self.codec = c[2]
        self.rx_pt = rx_pt
        self.interval_ms = interval_ms
        self.capacity = capacity
        self.step = interval_ms * 8  # samples (and G.711 bytes) per packet
        self.buf = bytearray(bytes([c[3]]) * (12 + self.step))
        s = rng(10)
        self.shi = s[0] << 8 | s[1]
        self.slo = s[2] << 8 | s[3]
        self.seq0 = s[4] << 8 | s[5]
        self.thi = s[6] << 8 | s[7]
        self.tlo = s[8] << 8 | s[9]
        self.sent = 0
        self.t0 = 0
        self.send = _ints(capacity)  # send time of packet k - t0, µs
        self.rtt = _ints(capacity, -1)  # µs, -1 until packet k came back
        self.oseq = array("H", bytearray(2 * capacity)) if mode == ENCAP else None
        self.received = self.duplicates = self.reordered = self.foreign = 0
        self.plain = 0  # stamped replies at offset 12 while we offered encaprtp (an echo)
        self.fdups = 0  # encaprtp: duplicates the mirror numbered apart (sent twice)
        self.top = -1  # highest index received
        self.last = -1  # RTT of the previous unique arrival, -1 before the first
        self.j16 = 0  # RFC 3550 jitter, µs * 16
        self.omin = self.omax = self.ocur = None  # encaprtp: extended mirror sequence numbers
        self.series = [] if series else None

    def packet(self, now_us):
        """Fill `buf` with the next packet sent at now_us; returns its length, 0 when
        `capacity` packets were sent."""
        k = self.sent
        if k >= self.capacity:
            return 0
        if k == 0:
            self.t0 = now_us
        else:
            lo = self.tlo + self.step
            self.tlo = lo & 0xFFFF
            self.thi = (self.thi + (lo >> 16)) & 0xFFFF
        self.send[k] = now_us - self.t0
        struct.pack_into(">BBHHHHHHHHH", self.buf, 0, 0x80,
                         self.codec_pt | (0x80 if k == 0 else 0),  # M on the first packet
                         (self.seq0 + k) & 0xFFFF, self.thi, self.tlo, self.shi, self.slo,
                         _MAGIC_HI, _MAGIC_LO, k >> 16, k & 0xFFFF)
        self.sent = k + 1
        return len(self.buf)

    def receive(self, b, n, now_us, off=0):
        """Account for the n-byte datagram at b[off:] (bytes, bytearray or memoryview; off
        lets an adapter split a merged backlog without slicing) arrived at now_us."""
        s = off + 12
        enc = False
        if not (n >= 20 and b[s] == 0x54 and b[s + 1] == 0x53 and b[s + 2] == 0x4C
                and b[s + 3] == 0x50):
            s += 12  # encaprtp: the mirror's header, then ours, then the stamp
            if (n >= 32 and b[s] == 0x54 and b[s + 1] == 0x53 and b[s + 2] == 0x4C
                    and b[s + 3] == 0x50 and b[off + 20] << 8 | b[off + 21] == self.shi
                    and b[off + 22] << 8 | b[off + 23] == self.slo):
                enc = True
            else:
                self.foreign += 1
                return
        hi = b[s + 4] << 8 | b[s + 5]
        k = (hi << 16 | b[s + 6] << 8 | b[s + 7]) if hi < 0x4000 else self.sent
        if k >= self.sent:
            self.foreign += 1
            return
        if self.mode != ENCAP:
            enc = False  # a stamp at 24 in another mode: no mirror numbers to account
        elif enc:
            oseq = b[off + 2] << 8 | b[off + 3]
        else:
            self.plain += 1
        rtt = now_us - self.t0 - self.send[k]
        if rtt < 0:
            rtt = 0
        if self.rtt[k] >= 0:
            self.duplicates += 1
            if enc and self.oseq[k] != oseq:  # the mirror sent it twice: a forward duplicate
                self.fdups += 1
                self._outer(oseq)
            return
        if enc:
            self.oseq[k] = oseq
            self._outer(oseq)
        self.rtt[k] = rtt
        self.received += 1
        if k < self.top:
            self.reordered += 1
        else:
            self.top = k
        if self.last >= 0:
            d = rtt - self.last
            self.j16 += (d if d >= 0 else -d) - ((self.j16 + 8) >> 4)
        self.last = rtt
        if self.series is not None:
            self.series.append((self.send[k] / 1000, rtt / 1000, self.j16 / 16000))

    def _outer(self, seq):
        """Extend the mirror's 16-bit sequence number (RFC 3550 A.1) and widen the range."""
        if self.ocur is None:
            self.ocur = self.omin = self.omax = seq
            return
        d = ((seq - self.ocur + 0x8000) & 0xFFFF) - 0x8000  # -32768..32767 from the last
        x = self.ocur + d
        self.ocur = x
        if x < self.omin:
            self.omin = x
        if x > self.omax:
            self.omax = x

    @property
    def last_rtt_ms(self):
        """RTT of the latest unique arrival (ms), None before the first (progress lines)."""
        return self.last / 1000 if self.last >= 0 else None

    def lost_at(self):
        """Send offsets (ms) of the packets sent that never came back."""
        return [self.send[k] / 1000 for k in range(self.sent) if self.rtt[k] < 0]

    def rtt_us(self):
        """RTTs (µs) of the packets received, in index order."""
        return [self.rtt[k] for k in range(self.sent) if self.rtt[k] >= 0]

    def jitter_us(self):
        return self.j16 / 16

    def summary(self):
        """The measurement as a dict (see summary_lines); rtt_ms None when nothing came
        back, lost_forward / lost_return None unless encaprtp replies came back and all were
        encapsulated, r_factor / mos None when nothing came back."""
        sent = self.sent
        lost = sent - self.received
        fwd = ret = None
        if self.mode == ENCAP and not self.plain and self.received:
            mirror_sent = self.omax - self.omin + 1
            ret = mirror_sent - self.received - self.fdups
            ret = ret if ret > 0 else 0
            fwd = lost - ret if lost > ret else 0
        rtts = sorted(self.rtt_us())
        nr = len(rtts)
        rtt = None
        if nr:
            rtt = {"min": rtts[0] / 1000, "mean": sum(rtts) / nr / 1000,
                   "p50": rtts[(50 * nr + 99) // 100 - 1] / 1000,
                   "p95": rtts[(95 * nr + 99) // 100 - 1] / 1000, "max": rtts[-1] / 1000}
        runs = total = 0  # loss runs in index order, for BurstR
        prev = False
        for k in range(sent):
            miss = self.rtt[k] < 0
            if miss:
                total += 1
                if not prev:
                    runs += 1
            prev = miss
        ppl = lost / sent if sent else 0.0
        burst = 1.0
        if runs and ppl < 1:
            burst = total / runs * (1 - ppl)  # mean run length over 1 / (1 - Ppl)
            if burst < 1:
                burst = 1.0
        jit = self.j16 / 16000
        r = mos = None
        if nr:
            r, mos = emodel(rtt["mean"], jit, 100 * ppl, burst, self.codec, self.interval_ms)
        return {"mode": _MODE_NAMES[self.mode], "codec": self.codec,
                "interval_ms": self.interval_ms, "sent": sent, "received": self.received,
                "lost": lost, "loss_pct": 100 * ppl, "lost_forward": fwd, "lost_return": ret,
                "duplicates": self.duplicates, "reordered": self.reordered,
                "foreign": self.foreign, "rtt_ms": rtt, "jitter_ms": jit, "r_factor": r,
                "mos": mos, "burst_ratio": burst}


def summary_lines(s):
    """The compact text summary the phone prints, a list of str."""
    out = ["loopback %s %s %d ms" % (s["mode"], s["codec"], s["interval_ms"])]
    line = "sent %d  received %d  loss %.1f %%" % (s["sent"], s["received"], s["loss_pct"])
    if s["lost_forward"] is not None:
        line += " (fwd %d, ret %d)" % (s["lost_forward"], s["lost_return"])
    out.append(line)
    out.append("dup %d  reordered %d  foreign %d" % (s["duplicates"], s["reordered"],
                                                     s["foreign"]))
    r = s["rtt_ms"]
    if r is None:
        out.append("rtt ms -")
    else:
        out.append("rtt ms min/mean/p50/p95/max %.1f/%.1f/%.1f/%.1f/%.1f" % (
            r["min"], r["mean"], r["p50"], r["p95"], r["max"]))
    if s["mos"] is None:
        out.append("jitter %.2f ms  MOS -" % s["jitter_ms"])
    else:
        out.append("jitter %.2f ms  MOS %.2f (R %.1f)" % (s["jitter_ms"], s["mos"],
                                                          s["r_factor"]))
    return out


# ------------------------------------------------------------------ ITU-T G.107 E-model

def mos(r):
    """MOS (conversational quality, estimated) from the R factor, G.107 Annex B, clamped to
    1..4.5 (the cubic dips just below 1 for 0 < R < 6.5)."""
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    m = 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6
    return m if m > 1 else 1.0


def rfactor(t, ta, tr, ppl, burst_r, ie=0.0, bpl=25.1):
    """ITU-T G.107 R = Ro - Is - Id - Ie,eff + A with every other parameter at its default
    (SLR 8, RLR 2, STMR 15, LSTR 18, Ds = Dr = 3, TELR 65 dB, WEPL 110 dB, qdu 1, Nc -70,
    Nfor -64, Ps = Pr = 35, A 0): t mean one-way delay of the echo path, ta absolute one-way
    delay, tr round-trip delay of the 4-wire loop (ms); ppl packet loss in %; burst_r
    BurstR; ie, bpl the codec's equipment impairment and loss robustness. With t = ta = tr
    = 0 and no loss it gives the well-known 93.2."""
    lg = math.log10
    slr, rlr, stmr, lstr, ds, telr, wepl = 8, 2, 15, 18, 3, 65, 110
    olr = slr + rlr
    pre = 35 + 10 * lg(1 + 10 ** ((10 - lstr) / 10))
    nor = rlr - 121 + pre + 0.008 * (pre - 35) ** 2
    nos = 35 - slr - ds - 100 + 0.004 * (35 - olr - ds - 14) ** 2
    no = 10 * lg(10 ** (-70 / 10) + 10 ** (nos / 10) + 10 ** (nor / 10) + 10 ** ((-64 + rlr) / 10))
    ro = 15 - 1.5 * (slr + no)
    # Is: loudness (Iolr), sidetone (Ist), quantizing (Iq, qdu = 1 -> Q = 37)
    x = (olr + 0.2 * (64 + no - rlr)) / 8
    iolr = 20 * ((1 + x ** 8) ** 0.125 - x)
    st = -10 * lg(10 ** (-stmr / 10) + math.exp(-t / 4) * 10 ** (-telr / 10))
    ist = (12 * (1 + ((st - 13) / 6) ** 8) ** 0.125
           - 28 * (1 + ((st + 1) / 19.4) ** 35) ** (1 / 35)
           - 13 * (1 + ((st - 3) / 33) ** 13) ** (1 / 13) + 29)
    g = 1.07 + 0.258 * 37 + 0.0602 * 37 * 37
    iq = 15 * lg(1 + 10 ** ((ro - 100) / 15 + 46 / 8.4 - g / 9) + 10 ** (46 / 30 - g / 40))
    is_ = iolr + ist + iq
    # Id: talker echo (Idte), listener echo (Idle), absolute delay (Idd)
    roe = -1.5 * (no - rlr)
    terv = telr - 40 * lg((1 + t / 10) / (1 + t / 150)) + 6 * math.exp(-0.3 * t * t)
    re = 80 + 2.5 * (terv - 14)
    idte = ((roe - re) / 2 + math.sqrt((roe - re) ** 2 / 4 + 100) - 1) * (1 - math.exp(-t))
    rle = 10.5 * (wepl + 7) * (tr + 1) ** -0.25
    idle = (ro - rle) / 2 + math.sqrt((ro - rle) ** 2 / 4 + 169)
    idd = 0.0
    if ta > 100:
        x = lg(ta / 100) / lg(2)
        idd = 25 * ((1 + x ** 6) ** (1 / 6) - 3 * (1 + (x / 3) ** 6) ** (1 / 6) + 2)
    ie_eff = ie + (95 - ie) * ppl / (ppl / burst_r + bpl)
    return ro - is_ - (idte + idle + idd) - ie_eff


def emodel(rtt_ms, jitter_ms, loss_pct, burst_ratio, codec, interval_ms):
    """(R, MOS) of a G.711 call over the measured path (ITU-T G.107, see rfactor).

    Delay assumptions: one way = half the round trip; the mouth-to-ear delay adds one packet
    of packetization (interval) and a jitter buffer of max(interval, 2 * jitter), so
    T = Ta = rtt/2 + interval + max(interval, 2 * jitter) and Tr = 2T. Codec: G.711 (codec
    "PCMA" or "PCMU"), Ie = 0 and Bpl = 25.1, the ITU-T G.113 Appendix I value for G.711
    with packet loss concealment (G.711 Appendix I): we assume the far listener conceals.
    burst_ratio: BurstR, 1 for random loss (Source.summary derives it from the loss runs).
    """
    c = _codec(codec, 2)
    t = rtt_ms / 2 + interval_ms + max(interval_ms, 2 * jitter_ms)
    r = rfactor(t, t, 2 * t, loss_pct, burst_ratio, c[4], c[5])
    return r, mos(r)
