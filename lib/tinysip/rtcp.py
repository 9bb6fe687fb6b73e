"""RTCP for a two-party voice call (RFC 3550 §6): sender and receiver reports with SDES
CNAME, what the peer reports back, round trip time, and when to report.

Owns: one session's compound RTCP packets (§6.1: SR or RR first, then SDES with our CNAME,
then BYE when leaving), built into one preallocated buffer; checking and reading the
peer's compound packets (A.2's validity checks, then SR sender info and the report block
about our stream); the RTT of §6.4.1; the report interval (§6.3.1 for two parties). It does
not read sockets or clocks (`now` is monotonic ms, `wall` ms since 1970, both passed in),
draw randomness itself (rng(n) -> bytes), encrypt (SRTCP runs after build and before
parse) or keep receiver statistics (tinysip.jitter does: Jitter.rr() feeds build()).

build(now, wall, rx, sent=None, bye=False) -> length of the compound packet in buf:
- an SR (PT 200) when `sent` = (RTP timestamp high, low, packets, octets) says we sent
  media since the report before (§6.4: the RTP timestamp is the one of the NTP instant,
  i.e. the last packet's advanced by the time since it), else an RR (PT 201);
- one report block when `rx` = Jitter.rr() (None before the peer's stream is valid: then
  RC = 0, §6.4.2): fraction lost over the interval and cumulative lost (A.3, the 24-bit
  field clamped), the extended highest sequence number, jitter, LSR = the middle 32 bits
  of the peer's last SR NTP timestamp and DLSR = the delay since it (1/65536 s; both 0
  before an SR, §6.4.1);
- SDES with one chunk: our SSRC, CNAME, END, padded to 32 bits (§6.5);
- BYE with our SSRC when `bye` (§6.6).
It also schedules the next report: `due` = now + interval (below).

parse(b, n, now, wall): the compound packet b[0:n]. Returns "" when accepted, else the
reason it was refused, and nothing is kept from it (no exception escapes for any bytes):
shorter than a header, not version 2, not starting with an SR or RR, a length field past
the end, bytes after the last packet, padding before the last packet or longer than it, a
report count that needs more than the packet's length. From an accepted one it keeps: the
SR's NTP middle and arrival (our next LSR/DLSR), the peer's report block about our SSRC
(fraction and cumulative lost, jitter) and the RTT from its LSR/DLSR: A - LSR - DLSR, A =
the middle 32 bits of NTP at arrival (from `wall`), in 1/65536 s, modulo 2**32 (§6.4.1);
RTTs that come out negative (clock steps) are not kept. BYE is noted; SDES, APP and
feedback packets are skipped.

NTP (§4): ntp(ms since 1970) -> seconds since 1900 and the binary fraction as four 16-bit
halves, with small ints only once the division by 1000 is done (era 0: until 2036).

Interval (§6.3.1 for two parties): our share of the session bandwidth is far below the
minimum, so the deterministic interval is Tmin = 5 s (2.5 s before the first report);
each interval is Tmin times a uniform 0.5..1.5 from rng. No timer reconsideration, so no
1.21828 compensation: the mean is 5 s.

Memory: `buf` (the packet, sized for an SR with one block, SDES and BYE), `state` (one
list: the numbers and our SDES chunk), `due`; build and parse reuse them. The NTP
conversion and the rng call allocate a few small objects per report (every ~5 s), never
per media packet.
"""
import struct

from tinysip.compat import const

_TMIN = const(5000)  # ms, RFC 3550 §6.2 minimum interval
_SR = const(200)
_RR = const(201)
_SDES = const(202)
_BYE = const(203)

# state
_SHI = const(0)  # our SSRC, 16-bit halves
_SLO = const(1)
_CHUNK = const(2)  # our SDES packet (bytes)
_LSRH = const(3)  # NTP middle of the peer's last SR, and when it arrived (-1: none yet)
_LSRL = const(4)
_LSRT = const(5)
_PHI = const(6)  # the peer SSRC the fraction's priors below are for
_PLO = const(7)
_EXPP = const(8)  # A.3 expected_prior, received_prior
_RECP = const(9)
_NSENT = const(10)  # reports built, accepted, refused
_NRECV = const(11)
_NBAD = const(12)
_FRAC = const(13)  # the peer's last report about us: fraction lost /256, cumulative lost,
_CLOST = const(14)
_PJIT = const(15)  # jitter (timestamp units; -1: no report yet)
_RTT = const(16)  # RTT ms: last, smallest, largest (-1: none yet)
_RMIN = const(17)
_RMAX = const(18)
_PBYE = const(19)  # the peer said BYE
_N = const(20)


def ntp(t):
    """NTP timestamp (§4) of t ms since 1970 as (seconds high, low, fraction high, low):
    16-bit halves. Only the division of t may use big ints (on a 32-bit port)."""
    s, r = divmod(t, 1000)
    s += 2208988800  # 1900 -> 1970
    f = r * 65536  # fraction = r * 2**32 / 1000, computed 16 bits at a time
    lo = (f % 1000) * 65536 // 1000
    return (s >> 16) & 0xFFFF, s & 0xFFFF, f // 1000, lo


def interval(rng, t=_TMIN):
    """The next report interval in ms: t (5 s; half of it before the first report) times
    a uniform 0.5..1.5 drawn from rng (RFC 3550 §6.3.1 for two parties)."""
    r = rng(2)
    return (t >> 1) + ((t * (r[0] << 8 | r[1])) >> 16)


class Rtcp:
    """RTCP of one RTP session: ssrc our RTP SSRC (int), cname our CNAME (bytes, 1-255; RFC
    7022: random per call), rng(n) -> bytes, now (ms) the session's start."""

    def __init__(self, ssrc, cname, rng, now):
        k = len(cname)
        if not 0 < k <= 255:
            raise ValueError("rtcp: CNAME of %d bytes, not 1..255" % k)
        c = (4 + 2 + k + 1 + 3) & ~3  # SSRC, CNAME item, END, padding to 32 bits
        chunk = bytearray(4 + c)
        shi = (ssrc >> 16) & 0xFFFF
        slo = ssrc & 0xFFFF
        struct.pack_into(">BBHHH", chunk, 0, 0x81, _SDES, c >> 2, shi, slo)
        chunk[8] = 1  # CNAME
        chunk[9] = k
        chunk[10:10 + k] = cname
        st = [-1] * _N
        for i in (_EXPP, _RECP, _NSENT, _NRECV, _NBAD, _FRAC, _CLOST, _PBYE):
            st[i] = 0
        st[_SHI] = shi
        st[_SLO] = slo
        st[_CHUNK] = bytes(chunk)
        self.state = st
        self.buf = bytearray(28 + 24 + len(chunk) + 8)
        self.due = now + interval(rng, _TMIN >> 1)
        self.rng = rng

    def build(self, now, wall, rx, sent=None, bye=False):
        """Build our compound packet into buf and schedule the next (`due`); returns its
        length. rx: Jitter.rr() or None; sent: (RTP timestamp high, low, packets, octets)
        for an SR, None for an RR; bye: end with a BYE."""
        st = self.state
        b = self.buf
        rc = 0 if rx is None else 1
        if sent is None:
            struct.pack_into(">BBHHH", b, 0, 0x80 | rc, _RR, 1 + 6 * rc, st[_SHI], st[_SLO])
            off = 8
        else:
            h = ntp(wall)
            p = sent[2]
            o = sent[3]
            struct.pack_into(">BBHHHHHHHHHHHHH", b, 0, 0x80 | rc, _SR, 6 + 6 * rc, st[_SHI],
                             st[_SLO], h[0], h[1], h[2], h[3], sent[0], sent[1],
                             (p >> 16) & 0xFFFF, p & 0xFFFF, (o >> 16) & 0xFFFF, o & 0xFFFF)
            off = 28
        if rc:
            phi, plo, xhi, xlo, exp, rec, jit = rx
            if phi != st[_PHI] or plo != st[_PLO]:  # a new source: its own priors
                st[_PHI] = phi
                st[_PLO] = plo
                st[_EXPP] = st[_RECP] = 0
            ei = exp - st[_EXPP]  # RFC 3550 A.3
            li = ei - rec + st[_RECP]
            st[_EXPP] = exp
            st[_RECP] = rec
            frac = (li << 8) // ei if ei > 0 and li > 0 else 0
            lost = max(-0x800000, min(exp - rec, 0x7FFFFF)) & 0xFFFFFF
            jit = min(jit, 0x3FFFFFFF)
            lh = ll = dh = dl = 0
            t = st[_LSRT]
            if t >= 0:
                lh = st[_LSRH]
                ll = st[_LSRL]
                d = now - t
                dh = min(d // 1000, 0xFFFF)
                dl = (d % 1000) * 65536 // 1000 if dh < 0xFFFF else 0xFFFF
            struct.pack_into(">HHBBHHHHHHHHH", b, off, phi, plo, frac if frac < 256 else 255,
                             lost >> 16, lost & 0xFFFF, xhi, xlo, jit >> 16, jit & 0xFFFF,
                             lh, ll, dh, dl)
            off += 24
        c = st[_CHUNK]
        b[off:off + len(c)] = c
        off += len(c)
        if bye:
            struct.pack_into(">BBHHH", b, off, 0x81, _BYE, 1, st[_SHI], st[_SLO])
            off += 8
        st[_NSENT] += 1
        self.due = now + interval(self.rng)
        return off

    def parse(self, b, n, now, wall):
        """Check and read the peer's compound packet b[0:n] that arrived at now (ms), wall
        (ms since 1970) the clock our SRs carry. Returns "" if accepted, else why not."""
        st = self.state
        why = ""
        if n < 8:
            why = "RTCP: shorter than a header"
        for keep in (False, True):  # check everything, then keep what it says
            off = 0
            while not why and off < n:
                if n - off < 4:
                    why = "RTCP: bytes after the last packet"
                    break
                b0 = b[off]
                pt = b[off + 1]
                size = ((b[off + 2] << 8 | b[off + 3]) + 1) << 2
                rc = b0 & 31
                if b0 & 0xC0 != 0x80:
                    why = "RTCP: not version 2"
                elif off + size > n:
                    why = "RTCP: length field past the end"
                elif off == 0 and pt != _SR and pt != _RR:
                    why = "RTCP: compound packet not starting with SR or RR"
                elif b0 & 0x20 and off + size != n:
                    why = "RTCP: padding before the last packet"
                elif b0 & 0x20 and not 0 < b[n - 1] <= size - 4:
                    why = "RTCP: padding longer than its packet"
                elif (pt == _SR or pt == _RR) and (28 if pt == _SR else 8) + 24 * rc > size - (
                        b[n - 1] if b0 & 0x20 else 0):
                    why = "RTCP: report count past the packet's length"
                elif keep and pt == _BYE:
                    st[_PBYE] = 1
                elif keep and (pt == _SR or pt == _RR):
                    i = off + 8
                    if pt == _SR:  # the middle 32 bits of its NTP timestamp: our next LSR
                        st[_LSRH] = b[off + 10] << 8 | b[off + 11]
                        st[_LSRL] = b[off + 12] << 8 | b[off + 13]
                        st[_LSRT] = now
                        i += 20
                    for _ in range(rc):  # the report block about our stream, if any
                        if (b[i] << 8 | b[i + 1] == st[_SHI]
                                and b[i + 2] << 8 | b[i + 3] == st[_SLO]):
                            self._block(b, i, wall)
                        i += 24
                off += size
            if why:
                st[_NBAD] += 1
                return why
        st[_NRECV] += 1
        return ""

    def _block(self, b, i, wall):
        """Keep the peer's report block about us at b[i] and the RTT it gives."""
        st = self.state
        st[_FRAC] = b[i + 4]
        c = b[i + 5] << 16 | b[i + 6] << 8 | b[i + 7]
        st[_CLOST] = c - 0x1000000 if c & 0x800000 else c
        st[_PJIT] = (min(b[i + 12] << 8 | b[i + 13], 0x3FFF) << 16) + (b[i + 14] << 8
                                                                     | b[i + 15])
        lh = b[i + 16] << 8 | b[i + 17]
        ll = b[i + 18] << 8 | b[i + 19]
        if lh or ll:  # A - LSR - DLSR, in 1/65536 s, modulo 2**32 (§6.4.1)
            a = ntp(wall)
            d = a[2] - ll - (b[i + 22] << 8 | b[i + 23])
            h = (a[1] - lh - (b[i + 20] << 8 | b[i + 21]) + (d >> 16)) & 0xFFFF
            if h < 0x8000:  # else negative: a clock step, not kept
                r = h * 1000 + (((d & 0xFFFF) * 1000 + 32768) >> 16)
                st[_RTT] = r
                if st[_RMIN] < 0 or r < st[_RMIN]:
                    st[_RMIN] = r
                if r > st[_RMAX]:
                    st[_RMAX] = r

    def stats(self):
        """The session's figures as a dict (for `call_ended`; allocates): sent, received,
        refused (reports); rtt_ms, rtt_min, rtt_max (None before an RTT); from the peer's
        last report about us: peer_lost (cumulative), peer_fraction (%), peer_jitter
        (timestamp units), peer_jitter_ms (8 kHz clock), all None before one; peer_bye."""
        st = self.state
        on = st[_PJIT] >= 0
        rt = st[_RTT] >= 0
        vals = (st[_NSENT], st[_NRECV], st[_NBAD], st[_RTT] if rt else None,
                st[_RMIN] if rt else None, st[_RMAX] if rt else None,
                st[_CLOST] if on else None, st[_FRAC] * 100 / 256 if on else None,
                st[_PJIT] if on else None, st[_PJIT] / 8 if on else None, st[_PBYE] > 0)
        keys = ("sent received refused rtt_ms rtt_min rtt_max peer_lost peer_fraction "
                "peer_jitter peer_jitter_ms peer_bye")
        return dict(zip(keys.split(), vals))
