"""The receive side of a voice call: an adaptive jitter buffer for one RTP audio stream of
fixed-duration frames (RFC 3550), allocating nothing per packet.

Owns: the audio packets of the peer's stream between the socket and the decoder: their
order, their play-out time, what to play when one is missing, and the receiver statistics
of RFC 3550 (A.1 sequence validity, A.3 loss, A.8 interarrival jitter) for RTCP reports
and the `call_ended` event. It does not read sockets or clocks (every entry point takes
`now`, integer ms on a monotonic clock), decrypt (SRTP runs before put) or decode (the
caller decodes `frame`), and does not send RTCP (tinysip.rtcp builds reports from rr()).

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
the gain, in 1/256, to play the frame's ptime * 8 bytes at buf[frame:] at (the slot's
payload, still encoded; `buf` is the ring of slots, `frame` an offset into it):
- 256: a received frame: decode it and play it;
- 192, 128, 64: concealment: decode it (the last frame played) again and scale the
  PCM by gain / 256 (-2.5, -6, -12 dB: a fade over 3 repeats);
- 0: silence (nothing to repeat, after 3 repeats, before the stream starts).
Why encoded slots and a gain: G.711 is one byte per sample against two for PCM, so the
ring costs half; the decoder already touches every sample, so fading folds into its pass
(a kernel with a gain, or decode then scale) and the buffer never writes PCM; and `frame`
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

Statistics: stats() (a dict, for `call_ended`; allocates) and rr() (the figures of a
report block for tinysip.rtcp). `received` counts unique packets of valid sources, `lost`
is expected - received summed over sources (A.3; reordered packets from before a source's
first can make it negative), `late` and `reordered` are among the received, `duplicates`
are not; `jitter` is A.8's J in timestamp units (integer ms arrival times: up to ~0.3 ms
of rounding), `jitter_ms` the same in ms; delays in ms over the frames played.

Memory (names are interned on the device, see docs/benchmarks.md): one `state` list holds
every number, the ring and the tags (frame number per slot); the only attributes are
`state`, `buf` (the ring: one bytearray, no view per slot) and `frame`. The payload copy
needs a view of the payload in `b`: it is made once and kept while b and the header length
stay the same (an adapter reading into one buffer), so steady state allocates nothing; `b`
stays referenced until a put with another buffer.
"""
from tinysip.compat import const

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


def _delta(a, b, p, q):
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
    """The jitter buffer of one received stream: pt the audio payload type (0 PCMU and 8
    PCMA also get the quiet test), ptime the frame duration in ms (10-60)."""

    def __init__(self, pt, ptime=20):
        if not 10 <= ptime <= 60:
            raise ValueError("jitter: ptime %r ms not within 10..60" % (ptime,))
        size = ptime * _TPM
        ns = _DMAX // ptime + 3  # the deepest delay, the frame arriving, the one played
        ring = bytearray(size * ns)
        st = [0] * (_TAG + ns)
        for i in (_RHI, _SHI, _SLO, _CHI, _CLO, _BAD, _LNOW, _OVER, _LAST, _DMAXR):
            st[i] = -1
        for i in range(_NB):
            st[_BMN + i] = _BIG
            st[_BMX + i] = -_BIG
        for i in range(ns):
            st[_TAG + i] = _NONE
        st[_DMINR] = st[_LO] = _BIG
        st[_HI] = -_BIG
        st[_LDROP] = -_GAP
        st[_REP] = 3
        st[_PT] = pt
        st[_PTIME] = ptime
        st[_SIZE] = size
        st[_NS] = ns
        st[_TMAX] = _DMAX - ptime - (ptime >> 1)
        st[_XQ] = 0x60 if pt == 0 else 0x55 if pt == 8 else -1
        st[_RING] = ring
        self.state = st
        self.buf = ring
        self.frame = 0

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
            kr = _delta(thi, tlo, st[_RHI], st[_RLO])
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
            d = _delta(thi, tlo, st[_LTHI], st[_LTLO])
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
        """The frame to play at now (ms): returns the gain in 1/256 to play `frame` at: 256
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
                self.frame = slot * s
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
            self.frame = last % ns * s
            return 256 - (r << 6)
        return 0

    def rr(self):
        """What an RTCP report block says about this stream (tinysip.rtcp): (SSRC high,
        SSRC low, extended highest sequence number high, low, expected, received (A.1:
        duplicates included), jitter in timestamp units), or None before a valid source."""
        st = self.state
        if st[_SHI] < 0:
            return None
        c = st[_CYC]
        return (st[_SHI], st[_SLO], c & 0xFFFF, st[_MAX],
                (c << 16) + st[_MAX] - st[_BASE] + 1, st[_RECS], st[_J16] >> 4)

    def stats(self):
        """The stream's figures as a dict (for `call_ended`; allocates): received, lost,
        late, duplicates, reordered, invalid (packets); jitter (timestamp units),
        jitter_ms; delay_ms (the last frame played), delay_min, delay_max, target_ms (ms;
        None before a frame was played); played, concealed, inserted, dropped (frames);
        resyncs."""
        st = self.state
        r = self.rr()
        lost = st[_LOSTA] + (r[4] - r[5] + st[_DUPS] if r else 0)
        j = st[_J16]
        on = st[_PLAY] > 0
        vals = (st[_REC], lost, st[_LATE], st[_DUP], st[_REORD], st[_INVAL], j >> 4,
                j / (16 * _TPM), st[_DLAST] if on else None, st[_DMINR] if on else None,
                st[_DMAXR] if on else None, st[_TGT] if on else None, st[_PLAY], st[_CONC],
                st[_INS], st[_DROP], st[_RESYNC])
        # one long string, not 17 short ones: each short str constant is an interned name
        keys = ("received lost late duplicates reordered invalid jitter jitter_ms delay_ms "
                "delay_min delay_max target_ms played concealed inserted dropped resyncs")
        return dict(zip(keys.split(), vals))
