"""The receive side of a voice call: an adaptive jitter buffer for one RTP audio stream of
fixed-duration frames (RFC 3550), allocating nothing per packet.

Owns: the audio packets of the peer's stream between the socket and the decoder: their
order, their play-out time, what to play when one is missing, and the receiver statistics
of RFC 3550 (A.1 sequence validity, A.3 loss, A.8 interarrival jitter) for RTCP reports
and the `call_ended` event. It does not read sockets or clocks (every entry point takes
`now`, integer ms on a monotonic clock), decrypt (SRTP runs before put) or decode (the
caller decodes at `pos`), and does not send RTCP (Rtcp, below, builds reports from report()).

Frames: `ptime` ms (10-60, from the SDP) of G.711 or G.722 at the 8 kHz RTP clock: 8
timestamp units and 8 payload bytes per ms (160 for 20 ms). A packet of the audio payload
type must carry exactly one frame; another size counts as `invalid` (a peer that ignores
our ptime is heard as loss: rebuild the buffer with its ptime).

put(b, n, now): the datagram b[0:n] (decrypted RTP) arrived at now. Returns
- 1: stored (its payload is copied into a slot of a preallocated ring);
- 2: a valid packet of the stream with another payload type (RFC 4733 events, comfort
  noise): counted for the sequence statistics, the caller handles its payload;
- 0: dropped: not RTP version 2, a PT in 64-95 (RTCP multiplexed, RFC 5761 §4), a bad
  CSRC/extension/padding length, a wrong payload size, a sequence jump under A.1's check,
  a packet of a source on probation, a duplicate (its sequence number among the last 30
  seen, or its frame already held), or late (its frame was played).
Sources (RFC 3550 §8.2, A.1): a new SSRC, or the first, is accepted after 2 packets in
sequence (MIN_SEQUENTIAL; the first of them is not played); then the buffer resets (its
frames are flushed, the play-out re-anchored) and the counters go on across sources. A jump
of the sequence number by more than MAX_DROPOUT (3000) back or forward drops the packet,
unless the next one follows it: the sender restarted, and so does the stream.

get(now): the frame to play now, called once per frame time by the audio clock. Returns
the gain, in 1/256, to play the frame's ptime * 8 bytes at buf[pos:] at (the slot's
payload, still encoded; `buf` is the ring of slots, `pos` an offset into it):
- 256: a received frame: decode it and play it;
- 192, 128, 64: concealment: decode it (the last frame played) again and scale the
  PCM by gain / 256 (-2.5, -6, -12 dB: a fade over 3 repeats);
- 0: silence (nothing to repeat, after 3 repeats, before the stream starts).
Why encoded slots and a gain: G.711 is one byte per sample against two for PCM, so the
ring costs half; the decoder already touches every sample, so fading folds into its pass
(a kernel with a gain, or decode then scale) and the buffer never writes PCM; and `pos`
is an offset into the one ring, so no call allocates (and no view per slot is kept).

Play-out (all in ms): frame k (from the RTP timestamp, 16-bit halves and a wrapping
reference, so ints stay small on ESP32) would be played on arrival by the fastest packet
at base + k * ptime, where base is the smallest r = arrival - k * ptime over a window of
8 bins of 1 s. (Times stay small ints while now < 2**30 ms, 12.4 days of uptime on a
32-bit port; past that, arithmetic on now allocates.) The added delay of the frame played
now is cur = now - base - k * ptime, and its target is the spread of r over the window
(largest - smallest, so a late packet raises it at once) + 5 ms, within 20..200 - 1.5
ptime (so cur stays within 20..200 ms). get()
- grows: cur < target: play nothing new, conceal (an inserted frame); this is also how the
  stream starts (silence until the first packet has waited `target`);
- shrinks: cur >= target + 1.5 ptime, at most once per 200 ms: skip one frame if it is
  missing or quiet (G.711: 8 samples of the frame all within the two lowest segments,
  about -40 dBov), or any frame once the excess has lasted 2 s (continuous speech);
- plays frame k, or conceals it when it is missing (lost, late, not yet there).
So the delay grows after a late packet and shrinks once the spike has left the window and
the stream is quiet. A packet too far ahead for the ring (the sender's timestamp jumped,
or get() stopped) or a run of late ones longer than the ring re-anchor the play-out.

Statistics: stats() (a dict, for `call_ended`; allocates) and report() (the figures of a
report block for Rtcp, below). `received` counts unique packets of valid sources, `lost`
is expected - received summed over sources (A.3; reordered packets from before a source's
first can make it negative), `late` and `reordered` are among the received, `duplicates`
are not; `jitter` is A.8's J in timestamp units (integer ms arrival times: up to ~0.3 ms
of rounding), `jitter_ms` the same in ms; delays in ms over the frames played.

Memory (names are interned on the device, see docs/benchmarks.md): one `state` list holds
every number, the ring and the tags (frame number per slot); the only attributes are
`state`, `buf` (the ring: one bytearray, no view per slot) and `pos`. The payload copy
needs a view of the payload in `b`: it is made once and kept while b and the header length
stay the same (an adapter reading into one buffer), so steady state allocates nothing; `b`
stays referenced until a put with another buffer.
"""
import struct

from tinysip.compat import const
from tinysip.errors import nth

_DMIN = const(20)  # play-out delay bounds, ms
_DMAX = const(200)
_MARGIN = const(5)  # ms over the observed spread
_BIN = const(1000)  # the spread is kept per bin of _BIN ms ...
_NB = const(8)  # ... over _NB bins
_GAP = const(200)  # ms between two frames dropped to shrink
_FORCE = const(2000)  # ms over target before a frame is dropped in speech
_DROPOUT = const(3000)  # RFC 3550 A.1 MAX_DROPOUT
_MISORDER = const(100)  # RFC 3550 A.1 MAX_MISORDER
_TPM = const(8)  # RTP timestamp units (and G.711/G.722 bytes) per ms: the 8 kHz clock
_BIG = const(0x3FFFFFFF)  # largest small int on a 32-bit port
_NONE = const(-0x3FFFFFFF)  # tag of an empty slot

# state: the stream
_POS = const(0)  # number of the frame get() plays next
_RHI = const(1)  # RTP timestamp of frame _POS, 16-bit halves (_RHI -1: not anchored)
_RLO = const(2)
_SHI = const(3)  # SSRC of the current source (-1: none yet)
_SLO = const(4)
_CHI = const(5)  # SSRC and sequence number of a source on probation
_CLO = const(6)
_CSEQ = const(7)
_MAX = const(8)  # RFC 3550 A.1 of the current source: max_seq, cycles (count), base_seq,
_CYC = const(9)
_BASE = const(10)
_BAD = const(11)  # bad_seq
_RECS = const(12)  # A.1 received (duplicates included), this source
_DUPS = const(13)  # duplicates, this source
_LOSTA = const(14)  # lost by the sources before
_REC = const(15)  # counters over all sources
_DUP = const(16)
_LATE = const(17)
_REORD = const(18)
_INVAL = const(19)
_J16 = const(20)  # RFC 3550 A.8 jitter * 16, timestamp units
_LNOW = const(21)  # arrival (ms) and timestamp halves of the packet before (_LNOW -1: none)
_LTHI = const(22)
_LTLO = const(23)
# state: the play-out
_CUR = const(24)  # added delay (ms) at the last get()
_TGT = const(25)  # target delay (ms) at the last get()
_DLAST = const(26)  # added delay of the last frame played, smallest, largest
_DMINR = const(27)
_DMAXR = const(28)
_OVER = const(29)  # since when cur is over target (-1: it is not)
_LDROP = const(30)  # when the last frame was dropped to shrink
_REP = const(31)  # concealed frames in a row
_LAST = const(32)  # number of the last frame played (-1: none)
_NLATE = const(33)  # late packets in a row
_PLAY = const(34)  # frames played, concealed (missing at play-out), inserted, dropped
_CONC = const(35)
_INS = const(36)
_DROP = const(37)
_RESYNC = const(38)  # re-anchorings of the play-out
_BT = const(39)  # start (ms) and index of the current bin
_BI = const(40)
_LO = const(41)  # smallest and largest r over the bins
_HI = const(42)
# state: the set-up
_PT = const(43)
_PTIME = const(44)
_SIZE = const(45)  # bytes and timestamp units per frame
_NS = const(46)  # slots
_TMAX = const(47)  # largest target
_XQ = const(48)  # xor that makes a quiet G.711 code's bits 6-5 zero (-1: no quiet test)
_RING = const(49)  # the slots: one bytearray of _NS frames
_SRCB = const(50)  # the buffer of the last put, the payload offset, its payload view
_SRCO = const(51)
_SRCV = const(52)
_HIST = const(53)  # bit i: sequence number max_seq - i arrived (i < _NH)
_BMN = const(54)  # _NB smallest r, one per bin
_BMX = const(62)  # _NB largest r
_TAG = const(70)  # _NS frame numbers, one per slot
_NH = const(30)  # packets of sequence history: one small int, also on 32-bit ports


def _diff(a, b, p, q):
    """(a, b) - (p, q) for two 32-bit RTP timestamps as 16-bit halves (high, low), modulo
    2**32 and signed; _BIG or -_BIG beyond about +-2**30 (a jump), so the result stays a
    small int. (Argument names are interned: these ones other modules already use.)"""
    d = (a - p) & 0xFFFF
    if d >= 0x8000:
        d -= 0x10000
    if d >= 0x3FFF:
        return _BIG
    if d < -0x3FFF:
        return -_BIG
    return (d << 16) + b - q


class Jitter:
    """The jitter buffer of one received stream: kind the audio payload type (0 PCMU and 8
    PCMA also get the quiet test), step the frame duration (ptime) in ms (10-60):
    tinysip.voicesetup.Jitter(kind, step) makes one, and its stats() has the figures (set-up
    and tear-down code lives there: each method here costs the phone heap while a call runs).
    (Argument and attribute names are ones the phone already interns.)"""

    def put(self, b, n, now):
        """Take the datagram b[0:n] (bytes, bytearray or memoryview: decrypted RTP) that
        arrived at now (ms). Returns 1 stored, 2 another payload type of the stream (the
        caller handles it), 0 dropped (see the module doc). Nothing is allocated while b
        and the header length stay the same."""
        st = self.state
        b0 = b[0] if n >= 12 else 0
        off = 12 + ((b0 & 15) << 2)  # after the CSRCs
        if b0 & 0x10:  # and the extension: 4 B + length in 32-bit words
            off = off + 4 + ((b[off + 2] << 8 | b[off + 3]) << 2) if off + 4 <= n else n + 1
        end = n
        if b0 & 0x20:  # without the padding (its last byte counts it, itself included)
            end = n - b[n - 1] if b[n - 1] else -1
        pt = b[1] & 0x7F if b0 else 0
        size = st[_SIZE]
        if (b0 & 0xC0 != 0x80 or off > end or 64 <= pt <= 95
                or (pt == st[_PT] and end - off != size)):
            st[_INVAL] += 1
            return 0
        seq = b[2] << 8 | b[3]
        shi = b[8] << 8 | b[9]
        slo = b[10] << 8 | b[11]
        back = False
        new = False
        dup = False
        if shi == st[_SHI] and slo == st[_SLO]:  # RFC 3550 A.1 update_seq
            d = (seq - st[_MAX]) & 0xFFFF
            h = st[_HIST]
            if d == 0:
                dup = True
            elif d < _DROPOUT:  # in order, with a permissible gap
                if seq < st[_MAX]:
                    st[_CYC] += 1
                st[_MAX] = seq
                st[_HIST] = ((h & ((1 << (_NH - d)) - 1)) << d | 1) if d < _NH else 1
            elif d <= 0x10000 - _MISORDER:  # a very large jump
                new = seq == st[_BAD]  # twice in sequence: the sender restarted
                if not new:
                    st[_BAD] = (seq + 1) & 0xFFFF
                    st[_INVAL] += 1
                    return 0
            else:  # duplicate or reordered
                back = True
                d = 0x10000 - d
                if d < _NH:
                    dup = h >> d & 1
                    st[_HIST] = h | 1 << d
        else:  # another source: probation until a second packet in sequence
            new = shi == st[_CHI] and slo == st[_CLO] and seq == (st[_CSEQ] + 1) & 0xFFFF
            st[_CHI] = shi
            st[_CLO] = slo
            st[_CSEQ] = seq
            if not new:
                return 0
        if new:  # A.1 init_seq; the counters of the source before go to the totals
            if st[_SHI] >= 0:
                st[_LOSTA] += ((st[_CYC] << 16) + st[_MAX] - st[_BASE] + 1 - st[_RECS]
                               + st[_DUPS])
            st[_SHI] = shi
            st[_SLO] = slo
            st[_CHI] = st[_CLO] = st[_BAD] = st[_RHI] = st[_LNOW] = -1
            st[_MAX] = st[_BASE] = seq
            st[_CYC] = st[_RECS] = st[_DUPS] = st[_J16] = 0
            st[_HIST] = 1
        st[_RECS] += 1
        if dup:
            st[_DUP] += 1
            st[_DUPS] += 1
            return 0
        if pt != st[_PT]:
            st[_REC] += 1
            if back:
                st[_REORD] += 1
            return 2
        thi = b[4] << 8 | b[5]
        tlo = b[6] << 8 | b[7]
        ns = st[_NS]
        pos = st[_POS]
        anchor = st[_RHI] < 0
        kr = 0
        if not anchor:  # the frame's number from its timestamp
            kr = _diff(thi, tlo, st[_RHI], st[_RLO])
            kr = ns if kr == _BIG else -ns - 1 if kr == -_BIG else (kr + (size >> 1)) // size
            anchor = kr >= ns - 1 or (kr < 0 and st[_NLATE] >= ns
                                      and st[_TAG + (pos + kr) % ns] != pos + kr)
            if anchor:
                st[_RESYNC] += 1
        if anchor:  # frame _POS is this packet's: flush the ring, restart the window
            st[_RHI] = thi
            st[_RLO] = tlo
            kr = i = 0
            while i < ns:
                if st[_TAG + i] >= pos:
                    st[_DROP] += 1
                st[_TAG + i] = _NONE
                i += 1
            st[_BT] = now - _NB * _BIN
            st[_NLATE] = 0
        k = pos + kr
        slot = k % ns
        if st[_TAG + slot] == k:
            st[_DUP] += 1
            st[_DUPS] += 1
            return 0
        st[_REC] += 1
        if back:
            st[_REORD] += 1
        ln = st[_LNOW]  # RFC 3550 A.8: J += (|D| - J) / 16, in 1/16 timestamp units
        if 0 <= ln and now - ln < 60000:
            d = _diff(thi, tlo, st[_LTHI], st[_LTLO])
            if -_BIG < d < _BIG:
                d = (now - ln) * _TPM - d
                d = d if d >= 0 else -d
                if d < 0x1000000:
                    st[_J16] += d - ((st[_J16] + 8) >> 4)
        st[_LNOW] = now
        st[_LTHI] = thi
        st[_LTLO] = tlo
        if kr >= -ns:  # the window of r = arrival - k * ptime
            r = now - k * st[_PTIME]
            t = st[_BT]
            if now - t >= _BIN:  # next bin(s): clear them, then the extremes again
                i = st[_BI]
                c = 0
                while now - t >= _BIN and c < _NB:
                    t += _BIN
                    i = (i + 1) % _NB
                    st[_BMN + i] = _BIG
                    st[_BMX + i] = -_BIG
                    c += 1
                st[_BT] = t if c < _NB else now
                st[_BI] = i
                lo = _BIG
                hi = -_BIG
                for c in range(_NB):
                    lo = min(lo, st[_BMN + c])
                    hi = max(hi, st[_BMX + c])
                st[_LO] = lo
                st[_HI] = hi
            i = _BMN + st[_BI]
            if r < st[i]:
                st[i] = r
            if r > st[i + _NB]:
                st[i + _NB] = r
            if r < st[_LO]:
                st[_LO] = r
            if r > st[_HI]:
                st[_HI] = r
        if kr < 0:
            st[_LATE] += 1
            st[_NLATE] += 1
            return 0
        st[_NLATE] = 0
        v = st[_SRCV]
        if b is not st[_SRCB] or off != st[_SRCO]:
            v = st[_SRCV] = memoryview(b)[off:off + size]
            st[_SRCB] = b
            st[_SRCO] = off
        i = slot * size
        st[_RING][i:i + size] = v  # (a slice store allocates nothing)
        st[_TAG + slot] = k
        return 1

    def get(self, now):
        """The frame to play at now (ms): returns the gain in 1/256 to play `pos` at: 256
        a received frame, 192/128/64 concealment (the last frame again), 0 silence.
        Nothing is allocated."""
        st = self.state
        if st[_RHI] < 0:
            return 0
        pos = st[_POS]
        p = st[_PTIME]
        lo = st[_LO]
        cur = now - pos * p - lo
        tgt = max(_DMIN, min(st[_HI] - lo + _MARGIN, st[_TMAX]))
        st[_CUR] = cur
        st[_TGT] = tgt
        ns = st[_NS]
        s = st[_SIZE]
        if cur >= tgt:
            slot = pos % ns
            have = st[_TAG + slot] == pos
            adv = 1
            if cur - tgt >= p + (p >> 1):  # over: shrink by one frame now and then
                if st[_OVER] < 0:
                    st[_OVER] = now
                if now - st[_LDROP] >= _GAP:
                    q = not have or now - st[_OVER] >= _FORCE
                    x = st[_XQ]
                    if not q and x >= 0:  # quiet: 8 codes in G.711 segment 0 or 1
                        v = st[_RING]
                        j = s >> 3
                        i = slot * s + j - 1
                        q = True
                        while i < (slot + 1) * s:
                            if (v[i] ^ x) & 0x60:
                                q = False
                                break
                            i += j
                    if q:
                        if have:
                            st[_DROP] += 1
                        pos += 1
                        adv = 2
                        cur -= p
                        st[_LDROP] = now
                        st[_OVER] = -1
                        slot = pos % ns
                        have = st[_TAG + slot] == pos
            else:
                st[_OVER] = -1
            st[_POS] = pos + 1
            t = st[_RLO] + adv * s  # the reference timestamp follows frame _POS
            st[_RLO] = t & 0xFFFF
            st[_RHI] = (st[_RHI] + (t >> 16)) & 0xFFFF
            if have:
                self.pos = slot * s
                st[_LAST] = pos
                st[_REP] = 0
                st[_PLAY] += 1
                st[_DLAST] = cur
                if cur < st[_DMINR]:
                    st[_DMINR] = cur
                if cur > st[_DMAXR]:
                    st[_DMAXR] = cur
                return 256
            if st[_LAST] >= 0:
                st[_CONC] += 1
        else:
            st[_OVER] = -1
            if st[_LAST] >= 0:
                st[_INS] += 1
        r = st[_REP] + 1  # conceal: the last frame again, fading, then silence
        st[_REP] = r
        last = st[_LAST]
        if r < 4 and last >= 0 and st[_TAG + last % ns] == last:
            self.pos = last % ns * s
            return 256 - (r << 6)
        return 0

    def report(self):
        """What an RTCP report block says about this stream (Rtcp.build): (SSRC high,
        SSRC low, extended highest sequence number high, low, expected, received (A.1:
        duplicates included), jitter in timestamp units), or None before a valid source."""
        st = self.state
        if st[_SHI] < 0:
            return None
        c = st[_CYC]
        return (st[_SHI], st[_SLO], c & 0xFFFF, st[_MAX],
                (c << 16) + st[_MAX] - st[_BASE] + 1, st[_RECS], st[_J16] >> 4)


# RTCP (formerly tinysip.rtcp: in this module since each module costs the phone 2-3 interned
# names for good, see docs/benchmarks.md)
#
# RTCP for a two-party voice call (RFC 3550 §6): sender and receiver reports with SDES
# CNAME, what the peer reports back, round trip time, and when to report.
#
# Owns: one session's compound RTCP packets (§6.1: SR or RR first, then SDES with our CNAME,
# then BYE when leaving), built into one preallocated buffer; checking and reading the
# peer's compound packets (A.2's validity checks, then SR sender info and the report block
# about our stream); the RTT of §6.4.1; the report interval (§6.3.1 for two parties). It does
# not read sockets or clocks (`now` is monotonic ms, `wall` ms since 1970, both passed in),
# draw randomness itself (rng(n) -> bytes), encrypt (SRTCP runs after build and before
# parse) or keep receiver statistics (Jitter does: Jitter.report() feeds build()).
#
# build(now, wall, rx, tx=None, end=False) -> length of the compound packet in buf:
# - an SR (PT 200) when `tx` = (RTP timestamp high, low, packets, octets) says we sent
#   media since the report before (§6.4: the RTP timestamp is the one of the NTP instant,
#   i.e. the last packet's advanced by the time since it), else an RR (PT 201);
# - one report block when `rx` = Jitter.report() (None before the peer's stream is valid: then
#   RC = 0, §6.4.2): fraction lost over the interval and cumulative lost (A.3, the 24-bit
#   field clamped), the extended highest sequence number, jitter, LSR = the middle 32 bits
#   of the peer's last SR NTP timestamp and DLSR = the delay since it (1/65536 s; both 0
#   before an SR, §6.4.1);
# - SDES with one chunk: our SSRC, CNAME, END, padded to 32 bits (§6.5);
# - BYE with our SSRC when `end` (§6.6).
# It also schedules the next report: `next` = now + wait() (below).
#
# parse(b, n, now, wall): the compound packet b[0:n]. Returns "" when accepted, else the
# reason it was refused, and nothing is kept from it (no exception escapes for any bytes):
# shorter than a header, not version 2, not starting with an SR or RR, a length field past
# the end, bytes after the last packet, padding before the last packet or longer than it, a
# report count that needs more than the packet's length. From an accepted one it keeps: the
# SR's NTP middle and arrival (our next LSR/DLSR), the peer's report block about our SSRC
# (fraction and cumulative lost, jitter) and the RTT from its LSR/DLSR: A - LSR - DLSR, A =
# the middle 32 bits of NTP at arrival (from `wall`), in 1/65536 s, modulo 2**32 (§6.4.1);
# RTTs that come out negative (clock steps) are not kept. BYE is noted; SDES, APP and
# feedback packets are skipped.
#
# NTP (§4): ntp(ms since 1970) -> seconds since 1900 and the binary fraction as four 16-bit
# halves, with small ints only once the division by 1000 is done (era 0: until 2036).
#
# Interval (§6.3.1 for two parties): our share of the session bandwidth is far below the
# minimum, so the deterministic interval is Tmin = 5 s (2.5 s before the first report);
# each interval is Tmin times a uniform 0.5..1.5 from rng. No timer reconsideration, so no
# 1.21828 compensation: the mean is 5 s.
#
# Memory: `buf` (the packet, sized for an SR with one block, SDES and BYE), `state` (one
# list: the numbers and our SDES chunk), `next`; build and parse reuse them. The NTP
# conversion and the rng call allocate a few small objects per report (every ~5 s), never
# per media packet. Names (functions, arguments, attributes) are ones the phone already
# interns where one fits: each new one costs it heap for good (docs/benchmarks.md).

_R_TMIN = const(5000)  # ms, RFC 3550 §6.2 minimum interval
_R_SR = const(200)
_R_RR = const(201)
_R_SDES = const(202)
_R_BYE = const(203)

_R_F5 = const(b">BBHHH")  # (bytes: a short str would be an interned name)
# Error texts, one string: a module run in place holds each str constant as a heap object.
_REASONS = ("rtcp: CNAME of %d bytes, not 1..255\nRTCP: shorter than a header\n"
            "RTCP: bytes after the last packet\nRTCP: not version 2\n"
            "RTCP: length field past the end\nRTCP: compound packet not starting with SR or RR\n"
            "RTCP: padding before the last packet\nRTCP: padding longer than its packet\n"
            "RTCP: report count past the packet's length\n"
            "jitter: ptime %r ms not within 10..60")

# state
_R_SHI = const(0)  # our SSRC, 16-bit halves
_R_SLO = const(1)
_R_CHUNK = const(2)  # our SDES packet (bytes)
_R_LSRH = const(3)  # NTP middle of the peer's last SR, and when it arrived (-1: none yet)
_R_LSRL = const(4)
_R_LSRT = const(5)
_R_PHI = const(6)  # the peer SSRC the fraction's priors below are for
_R_PLO = const(7)
_R_EXPP = const(8)  # A.3 expected_prior, received_prior
_R_RECP = const(9)
_R_NSENT = const(10)  # reports built, accepted, refused
_R_NRECV = const(11)
_R_NBAD = const(12)
_R_FRAC = const(13)  # the peer's last report about us: fraction lost /256, cumulative lost,
_R_CLOST = const(14)
_R_PJIT = const(15)  # jitter (timestamp units; -1: no report yet)
_R_RTT = const(16)  # RTT ms: last, smallest, largest (-1: none yet)
_R_RMIN = const(17)
_R_RMAX = const(18)
_R_PBYE = const(19)  # the peer said BYE
_R_N = const(20)


def ntp(t):
    """NTP timestamp (§4) of t ms since 1970 as (seconds high, low, fraction high, low):
    16-bit halves. Only the division of t may use big ints (on a 32-bit port)."""
    s, r = divmod(t, 1000)
    s += 2208988800  # 1900 -> 1970
    f = r * 65536  # fraction = r * 2**32 / 1000, computed 16 bits at a time
    lo = (f % 1000) * 65536 // 1000
    return (s >> 16) & 0xFFFF, s & 0xFFFF, f // 1000, lo


def wait(rng, t=_R_TMIN):
    """The next report interval in ms: t (5 s; half of it before the first report) times
    a uniform 0.5..1.5 drawn from rng (RFC 3550 §6.3.1 for two parties)."""
    r = rng(2)
    return (t >> 1) + ((t * (r[0] << 8 | r[1])) >> 16)


class Rtcp:
    """RTCP of one RTP session: src our RTP SSRC (int), name our CNAME (bytes, 1-255; RFC
    7022: random per call), rng(n) -> bytes, now (ms) the session's start: made by
    tinysip.voicesetup.Rtcp(src, name, rng, now), whose stats() has its figures."""

    def build(self, now, wall, rx, tx=None, end=False):
        """Build our compound packet into buf and schedule the next (`next`); returns its
        length. rx: Jitter.report() or None; tx: (RTP timestamp high, low, packets, octets)
        for an SR, None for an RR; end: end with a BYE."""
        sent = tx
        st = self.state
        b = self.buf
        rc = 0 if rx is None else 1
        if sent is None:
            struct.pack_into(_R_F5, b, 0, 0x80 | rc, _R_RR, 1 + 6 * rc, st[_R_SHI], st[_R_SLO])
            off = 8
        else:
            h = ntp(wall)
            p = sent[2]
            o = sent[3]
            struct.pack_into(">BBHHHHHHHHHHHHH", b, 0, 0x80 | rc, _R_SR, 6 + 6 * rc, st[_R_SHI],
                             st[_R_SLO], h[0], h[1], h[2], h[3], sent[0], sent[1],
                             (p >> 16) & 0xFFFF, p & 0xFFFF, (o >> 16) & 0xFFFF, o & 0xFFFF)
            off = 28
        if rc:
            phi, plo, xhi, xlo, exp, rec, jit = rx
            if phi != st[_R_PHI] or plo != st[_R_PLO]:  # a new source: its own priors
                st[_R_PHI] = phi
                st[_R_PLO] = plo
                st[_R_EXPP] = st[_R_RECP] = 0
            ei = exp - st[_R_EXPP]  # RFC 3550 A.3
            li = ei - rec + st[_R_RECP]
            st[_R_EXPP] = exp
            st[_R_RECP] = rec
            frac = (li << 8) // ei if ei > 0 and li > 0 else 0
            lost = max(-0x800000, min(exp - rec, 0x7FFFFF)) & 0xFFFFFF
            jit = min(jit, 0x3FFFFFFF)
            lh = ll = dh = dl = 0
            t = st[_R_LSRT]
            if t >= 0:
                lh = st[_R_LSRH]
                ll = st[_R_LSRL]
                d = now - t
                dh = min(d // 1000, 0xFFFF)
                dl = (d % 1000) * 65536 // 1000 if dh < 0xFFFF else 0xFFFF
            struct.pack_into(">HHBBHHHHHHHHH", b, off, phi, plo, frac if frac < 256 else 255,
                             lost >> 16, lost & 0xFFFF, xhi, xlo, jit >> 16, jit & 0xFFFF,
                             lh, ll, dh, dl)
            off += 24
        c = st[_R_CHUNK]
        b[off:off + len(c)] = c
        off += len(c)
        if end:
            struct.pack_into(_R_F5, b, off, 0x81, _R_BYE, 1, st[_R_SHI], st[_R_SLO])
            off += 8
        st[_R_NSENT] += 1
        self.next = now + wait(self.rng)
        return off

    def parse(self, b, n, now, wall):
        """Check and read the peer's compound packet b[0:n] that arrived at now (ms), wall
        (ms since 1970) the clock our SRs carry. Returns "" if accepted, else why not."""
        st = self.state
        why = -1  # the refusal's line in _REASONS, -1: none
        if n < 8:
            why = 1
        for keep in (False, True):  # check everything, then keep what it says
            off = 0
            while why < 0 and off < n:
                if n - off < 4:
                    why = 2
                    break
                b0 = b[off]
                pt = b[off + 1]
                size = ((b[off + 2] << 8 | b[off + 3]) + 1) << 2
                rc = b0 & 31
                if b0 & 0xC0 != 0x80:
                    why = 3
                elif off + size > n:
                    why = 4
                elif off == 0 and pt != _R_SR and pt != _R_RR:
                    why = 5
                elif b0 & 0x20 and off + size != n:
                    why = 6
                elif b0 & 0x20 and not 0 < b[n - 1] <= size - 4:
                    why = 7
                elif (pt == _R_SR or pt == _R_RR) and (28 if pt == _R_SR else 8) + 24 * rc > (
                        size - (b[n - 1] if b0 & 0x20 else 0)):
                    why = 8
                elif keep and pt == _R_BYE:
                    st[_R_PBYE] = 1
                elif keep and (pt == _R_SR or pt == _R_RR):
                    i = off + 8
                    if pt == _R_SR:  # the middle 32 bits of its NTP timestamp: our next LSR
                        st[_R_LSRH] = b[off + 10] << 8 | b[off + 11]
                        st[_R_LSRL] = b[off + 12] << 8 | b[off + 13]
                        st[_R_LSRT] = now
                        i += 20
                    for _ in range(rc):  # the report block about our stream, if any
                        if (b[i] << 8 | b[i + 1] == st[_R_SHI]
                                and b[i + 2] << 8 | b[i + 3] == st[_R_SLO]):
                            # the peer's report block about us, and the RTT it gives
                            # (inline: a method costs the phone heap while a call runs)
                            st[_R_FRAC] = b[i + 4]
                            c = b[i + 5] << 16 | b[i + 6] << 8 | b[i + 7]
                            st[_R_CLOST] = c - 0x1000000 if c & 0x800000 else c
                            st[_R_PJIT] = ((min(b[i + 12] << 8 | b[i + 13], 0x3FFF) << 16)
                                           + (b[i + 14] << 8 | b[i + 15]))
                            lh = b[i + 16] << 8 | b[i + 17]
                            ll = b[i + 18] << 8 | b[i + 19]
                            if lh or ll:  # A - LSR - DLSR, 1/65536 s, modulo 2**32 (§6.4.1)
                                a = ntp(wall)
                                d = a[2] - ll - (b[i + 22] << 8 | b[i + 23])
                                h = (a[1] - lh - (b[i + 20] << 8 | b[i + 21])
                                     + (d >> 16)) & 0xFFFF
                                if h < 0x8000:  # else negative: a clock step, not kept
                                    r = h * 1000 + (((d & 0xFFFF) * 1000 + 32768) >> 16)
                                    st[_R_RTT] = r
                                    if st[_R_RMIN] < 0 or r < st[_R_RMIN]:
                                        st[_R_RMIN] = r
                                    if r > st[_R_RMAX]:
                                        st[_R_RMAX] = r
                        i += 24
                off += size
            if why >= 0:
                st[_R_NBAD] += 1
                return nth(_REASONS, why)
        st[_R_NRECV] += 1
        return ""
