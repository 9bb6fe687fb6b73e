"""One voice call's media: RTP (RFC 3550) with G.711, optional SRTP/SRTCP (RFC 3711), RFC 4733
events, an adaptive jitter buffer and RTCP reports, sans-IO and without allocation per frame.

Owns: the packets of one call, both ways. Every `ptime` ms the adapter puts the microphone's
frame in `buf` and calls send(now): the frame is encoded (G.711, below) into our RTP packet in
`tx` (or a DTMF event packet while digits are queued, RFC 4733 §2.5: audio pauses meanwhile),
protected when SRTP is on, and its length returned. Each datagram the adapter reads into
`rx` goes to receive(n, now): unprotected, handed to the jitter buffer (put, below) or, for
telephone-event, read as RFC 4733 events, whose digits come back as their ASCII codes.
get(now) fills `buf` with the PCM to play now (decoded, or concealed with a fade, or
silence). report(now, wall) gives an RTCP compound packet (build, below; SRTCP when SRTP is
on) every ~5 s in the RTCP state's buffer; parse(n, now, wall) reads one that arrived. It
does not read sockets, clocks or devices (tinysip.io.voiceport and the audio adapters do),
negotiate (tinysip.audio gives `params`) or pick keys.

One module, one class: the jitter buffer (formerly tinysip.jitter's Jitter), RTCP (its Rtcp),
G.711 (tinysip.g711) and RFC 4733 (tinysip.dtmf) are all here, their state lists held by the
Voice. On the phone a module costs ~250 B of heap plus its globals, a class ~225 B, an
instance ~100 B and each function or method ~77 B however long (64-bit unix port, ROMFS; the
bytecode stays in flash), and every module 2-3 interned names for good (docs/benchmarks.md):
so a running call's code is this class's seven methods and a few functions, and whatever
runs once per call (construction, figures, the DTMF sender) is tinysip.voicesetup's, loaded
and dropped around it.

Our stream: a random SSRC, sequence number and timestamp base (RFC 3550 §5.1), the marker
bit on the first packet and on each event's first, the timestamp advancing by the frame's
samples every frame also while we send nothing (hold: sendonly/inactive on their side, or
no frame from the microphone), so the peer's jitter buffer sees the real gap.

Buffers: `buf` holds one PCM frame: the microphone's until send() encoded it, then the one
get() decodes for the speaker; `rx` is `tx` (a packet is sent before a datagram is read
into it), and the adapter may hand in that packet buffer (io.voiceport: io.stream's read
buffer).

State, one list or array each (every attribute name costs the phone heap):
- `state`: [SSRC high, SSRC low, sequence number, timestamp high, low, the event's
  timestamp high, low, packets sent, payload octets sent, packets refused (SRTP tag, replay,
  not RTP), next frame due (ms); the peer's RFC 4733 events: one seen, its RTP timestamp
  high, low, event code, longest duration; the jitter buffer's ring (one bytearray of
  slots), the buffer of its last put and the view of that buffer's payload];
- `jitter`: the jitter buffer's numbers, an array('i') (half a list's size: every one of
  them is a small int), layout below;
- `rtcp`: the RTCP session's list (numbers, our SDES chunk, the packet buffer, when the
  next report is due, rng), layout below;
- `srtp`: None, or (our tinysip.srtp context, the peer's); `events`: our RFC 4733 sender
  while digits go out (tinysip.voicesetup's Sender), else None.
Names (attributes, methods, arguments) are ones the phone already interns where one fits:
each new name would cost it heap for good (docs/benchmarks.md).

The jitter buffer (put, get; formerly tinysip.jitter)
----------------------------------------------------
An adaptive jitter buffer for the peer's stream of fixed-duration frames (RFC 3550): their
order, their play-out time, what to play when one is missing, and the receiver statistics
of RFC 3550 (A.1 sequence validity, A.3 loss, A.8 interarrival jitter) for RTCP reports and
the `call_ended` event. Every entry point takes `now`, integer ms on a monotonic clock; SRTP
runs before put.

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

get(now) picks the frame to play now (called once per frame time by the audio clock) with
a gain in 1/256, and decodes it into `buf` (jitter[_JPOS] is where the frame starts in the
ring):
- 256: a received frame;
- 192, 128, 64: concealment: the last frame played again, its PCM scaled by gain / 256
  (-2.5, -6, -12 dB: a fade over 3 repeats);
- 0: silence (nothing to repeat, after 3 repeats, before the stream starts).
The slots hold the frames still encoded: G.711 is one byte per sample against two for PCM,
so the ring costs half, and the decoder touches every sample anyway.

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

Statistics (tinysip.voicesetup's stats and block): `received` counts unique packets of valid
sources, `lost` is expected - received summed over sources (A.3; reordered packets from
before a source's first can make it negative), `late` and `reordered` are among the
received, `duplicates` are not; `jitter` is A.8's J in timestamp units (integer ms arrival
times: up to ~0.3 ms of rounding), `jitter_ms` the same in ms; delays in ms over the frames
played. The payload copy needs a view of the payload in `b`: it is made once and kept while
b and the header length stay the same (an adapter reading into one buffer), so steady state
allocates nothing; `b` stays referenced until a put with another buffer.
"""
import struct

from tinysip.compat import MICROPYTHON, const, drop, load
from tinysip.errors import nth

# Voice.state
_SEQ = const(2)
_THI = const(3)
_TLO = const(4)
_EHI = const(5)
_ELO = const(6)
_NPK = const(7)
_NOCT = const(8)
_NBAD = const(9)
_DUE = const(10)
_QON = const(11)  # the peer's RFC 4733 events: one seen, its timestamp, event, duration
_QHI = const(12)
_QLO = const(13)
_QEV = const(14)
_QDUR = const(15)
_RING = const(16)  # the jitter buffer's slots: one bytearray of _NS frames
_SRCB = const(17)  # the buffer of the last put and its payload view (at jitter[_SRCO])
_SRCV = const(18)
_HDR = const(b">BBHHHHH")  # the RTP header (bytes: a short str would be an interned name)

# the jitter buffer
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

# Voice.jitter: the stream
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
# Voice.jitter: the play-out
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
# Voice.jitter: the set-up
_PT = const(43)
_PTIME = const(44)
_SIZE = const(45)  # bytes and timestamp units per frame
_NS = const(46)  # slots
_TMAX = const(47)  # largest target
_XQ = const(48)  # xor that makes a quiet G.711 code's bits 6-5 zero (-1: no quiet test)
_JPOS = const(49)  # where in the ring the frame get() picked starts
_SRCO = const(50)  # the payload offset of the last put (its view: state[_SRCV])
_HIST = const(51)  # bit i: sequence number max_seq - i arrived (i < _NH)
_BMN = const(52)  # _NB smallest r, one per bin
_BMX = const(60)  # _NB largest r
_TAG = const(68)  # _NS frame numbers, one per slot
_NH = const(30)  # packets of sequence history: one small int, also on 32-bit ports

# RTCP (the comment at build has the session)
_R_TMIN = const(5000)  # ms, RFC 3550 §6.2 minimum interval
_R_SR = const(200)
_R_RR = const(201)
_R_SDES = const(202)
_R_BYE = const(203)

_R_F5 = const(b">BBHHH")  # (bytes: a short str would be an interned name)
# the session's list c
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
_R_N = const(20)  # (the numbers)
_R_BUF = const(20)  # the packet
_R_NEXT = const(21)  # when the next report is due (ms)
_R_RNG = const(22)

# RFC 4733 (the comment at the end has the receiver)
_DIGITS = const(b"0123456789*#ABCD")  # event code -> digit (§3.2)


class Voice:
    """The media of one call, made by tinysip.voicesetup.Voice(params, rng, now, buf):
    params tinysip.audio's list; rng(n) -> bytes; now: ms; buf a bytearray of at least
    ptime * 8 + 352 bytes to send from and read into, which the adapter may share
    (io.voiceport gives io.stream's read buffer: each use of it is over before the next
    begins). Its figures: tinysip.voicesetup.stats(voice). The class has only what a
    running call does: set-up and tear-down are voicesetup's, loaded and dropped around
    them."""

    def send(self, now):
        """The packet for the frame due at now (in `tx`): its length, 0 when nothing is
        sent (not due yet, or we do not send: hold). Advances the frame clock."""
        st = self.state
        if now < st[_DUE]:
            return 0
        p = self.params
        n = p[3] * 8
        st[_DUE] += p[3]
        if now - st[_DUE] > 200:  # the adapter stalled: skip the frames, not burst them
            st[_DUE] = now + p[3]
        b = self.tx
        ts_hi, ts_lo = st[_THI], st[_TLO]
        lo = ts_lo + n  # the next frame's timestamp (16-bit halves: small ints on ESP32)
        st[_TLO] = lo & 0xFFFF
        st[_THI] = (ts_hi + (lo >> 16)) & 0xFFFF
        if p[9] != b"sendrecv" and p[9] != b"sendonly":
            return 0
        first = st[_NPK] == 0
        ev = self.events
        r = ev.poll(now, b, 12) if p[2] >= 0 and ev is not None else 0
        if ev is not None and not r and not ev.state[0] and not ev.state[7] and (
                ev.state[3] <= now):
            # the digits are out (idle, none queued, the pause after the last tone over):
            # the sender goes, and tinysip.voicesetup, whose class it is, with it
            self.events = None
        if r:
            if r == 2:  # a new event: its timestamp is this frame's (RFC 4733 §2.5.1.2)
                st[_EHI], st[_ELO] = ts_hi, ts_lo
            pt = p[2] | (0x80 if r == 2 else 0)
            ts_hi, ts_lo = st[_EHI], st[_ELO]
            k = 16
        else:
            # G.711 (below): the frame's n samples into the codes after the header; both
            # buffers were sized for it at set-up (voicesetup.encode is the checked form)
            _run(self.buf, n, b, 12 << 2 | p[0] >> 3)
            pt = p[0] | (0x80 if first else 0)
            k = 12 + n
        seq = st[_SEQ]
        st[_SEQ] = (seq + 1) & 0xFFFF
        struct.pack_into(_HDR, b, 0, 0x80, pt, seq, ts_hi, ts_lo, st[0], st[1])
        st[_NPK] += 1
        st[_NOCT] += k - 12
        if self.srtp is not None:
            k = self.srtp[0].protect(b, k)
        return k

    def receive(self, n, now):
        """The datagram rx[0:n] arrived at now: 0, or the ASCII code of a DTMF digit the
        peer just began (RFC 4733 §2.5.2, below). Bad packets are counted and dropped,
        never raised."""
        b = self.rx
        st = self.state
        if n < 12 or n > len(b):
            st[_NBAD] += 1
            return 0
        if 64 <= b[1] & 0x7F <= 95:  # RTCP on the RTP port (RFC 5761 §4)
            self.parse(n, now, None)
            return 0
        if self.srtp is not None:
            n = self.srtp[1].unprotect(b, n)
            if n < 0:
                st[_NBAD] += 1
                return 0
        # put() == 0: the jitter buffer counts what it drops (late, duplicate, ...); 2: a
        # packet of the stream with another payload type: telephone-event, or nothing here
        if self.put(b, n, now) != 2 or b[1] & 0x7F != self.params[2]:
            return 0
        off = 12 + (b[0] & 0x0F) * 4
        if b[0] & 0x10 and off + 4 <= n:
            off += 4 + (b[off + 2] << 8 | b[off + 3]) * 4
        if off + 4 > n:  # no event report in it: dropped
            return 0
        # RFC 4733 §2.5.2 (the module comment at _DIGITS has how): only the first report
        # of a packet is read; the event's start (its RTP timestamp) is the key
        thi = b[4] << 8 | b[5]
        tlo = b[6] << 8 | b[7]
        e = b[off]
        d = b[off + 2] << 8 | b[off + 3]
        if st[_QON]:
            lo = tlo - st[_QLO]  # timestamp - the last one, mod 2**32, as 16-bit halves
            hi = (thi - st[_QHI] - (1 if lo < 0 else 0)) & 0xFFFF
            lo &= 0xFFFF
            if hi == 0 and lo == 0:  # the current event again
                if d > st[_QDUR]:
                    st[_QDUR] = d
                return 0
            if hi == 0xFFFF:  # up to 65,536 samples earlier: a late packet
                return 0
            if hi == 0 and e == st[_QEV] and lo <= st[_QDUR]:  # its next segment (§2.5.1.3)
                st[_QHI] = thi
                st[_QLO] = tlo
                st[_QDUR] = d
                return 0
        st[_QON] = 1
        st[_QHI] = thi
        st[_QLO] = tlo
        st[_QEV] = e
        st[_QDUR] = d
        return _DIGITS[e] if e < 16 else 0

    def put(self, b, n, now):
        """The jitter buffer takes the datagram b[0:n] (bytes, bytearray or memoryview:
        decrypted RTP) that arrived at now (ms). Returns 1 stored, 2 another payload type
        of the stream (the caller handles it), 0 dropped (see the module doc). Nothing is
        allocated while b and the header length stay the same."""
        st = self.jitter
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
            # timestamp - the reference, mod 2**32 and signed, from 16-bit halves (here and
            # for A.8 below: a function costs the phone heap while a call runs); a jump of
            # more than about 2**30 is one (kr out of the ring), so ints stay small
            kr = (thi - st[_RHI]) & 0xFFFF
            if kr >= 0x8000:
                kr -= 0x10000
            kr = ns if kr >= 0x3FFF else -ns - 1 if kr < -0x3FFF else (
                (kr << 16) + tlo - st[_RLO] + (size >> 1)) // size
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
            d = (thi - st[_LTHI]) & 0xFFFF
            if d >= 0x8000:
                d -= 0x10000
            if -0x3FFF <= d < 0x3FFF:
                d = (now - ln) * _TPM - ((d << 16) + tlo - st[_LTLO])
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
        vs = self.state
        v = vs[_SRCV]
        if b is not vs[_SRCB] or off != st[_SRCO]:
            v = vs[_SRCV] = memoryview(b)[off:off + size]
            vs[_SRCB] = b
            st[_SRCO] = off
        i = slot * size
        vs[_RING][i:i + size] = v  # (a slice store allocates nothing)
        st[_TAG + slot] = k
        return 1


    def get(self, now):
        """Fill `buf` with the frame to play now (see the module doc); returns its gain in
        1/256: 256 a received frame, 192/128/64 concealment (the last frame again, faded),
        0 silence. Nothing is allocated."""
        st = self.jitter
        g = 0
        if st[_RHI] >= 0:  # (not anchored yet: silence)
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
                            v = self.state[_RING]
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
                    st[_JPOS] = slot * s
                    st[_LAST] = pos
                    st[_REP] = 0
                    st[_PLAY] += 1
                    st[_DLAST] = cur
                    if cur < st[_DMINR]:
                        st[_DMINR] = cur
                    if cur > st[_DMAXR]:
                        st[_DMAXR] = cur
                    g = 256
                elif st[_LAST] >= 0:
                    st[_CONC] += 1
            else:
                st[_OVER] = -1
                if st[_LAST] >= 0:
                    st[_INS] += 1
            if not g:  # conceal: the last frame again, fading, then silence
                r = st[_REP] + 1
                st[_REP] = r
                last = st[_LAST]
                if r < 4 and last >= 0 and st[_TAG + last % ns] == last:
                    st[_JPOS] = last % ns * s
                    g = 256 - (r << 6)
        out = self.buf
        n = self.params[3] * 8
        if g == 0:
            for i in range(2 * n):
                out[i] = 0
            return 0
        # G.711: the slot's codes into PCM (the ring and buf were sized for it at set-up)
        _run(self.state[_RING], n, out, st[_JPOS] << 2 | 2 | self.params[0] >> 3)
        if g < 256:  # concealment: the last frame again, faded (rare: plain Python is fine)
            for i in range(0, 2 * n, 2):
                v = out[i] | out[i + 1] << 8
                if v & 0x8000:
                    v -= 0x10000
                v = (v * g) >> 8
                out[i] = v & 0xFF
                out[i + 1] = (v >> 8) & 0xFF
        return g

    def dtmf(self, text):
        """Queue the digits of text ("0-9*#A-D") to send as RFC 4733 events; False when the
        peer did not accept telephone-event. ValueError (queueing none) for a character that is not
        a digit, or more than 32 waiting."""
        p = self.params
        if p[2] < 0:
            return False
        if self.events is None:  # the sender is set-up code: it stays while digits go out
            self.events = load(b"tinysip.voicesetup Sender")(p[3] if p[3] >= 50 else 50)
            drop("tinysip.voicesetup")
        self.events.send(text)
        return True

    def report(self, now, wall):
        """Our RTCP compound packet when one is due (in rtcp[_R_BUF]): its length, else 0.
        The report block about the peer's stream comes from the jitter buffer's figures."""
        c = self.rtcp
        if now < c[_R_NEXT]:
            return 0
        st = self.state
        sent = None
        if st[_NPK]:  # an SR: the RTP timestamp of the next frame stands for "now"
            sent = (st[_THI], st[_TLO], st[_NPK], st[_NOCT])
        j = self.jitter
        rx = None
        if j[_SHI] >= 0:  # the report block (before a valid source, none: RFC 3550 §6.4.2)
            k = j[_CYC]
            rx = (j[_SHI], j[_SLO], k & 0xFFFF, j[_MAX], (k << 16) + j[_MAX] - j[_BASE] + 1,
                  j[_RECS], j[_J16] >> 4)
        n = build(c, now, wall, rx, sent)
        if self.srtp is not None:
            n = self.srtp[0].protect_rtcp(c[_R_BUF], n)
        return n

    def parse(self, n, now, wall, b=None):
        """An RTCP datagram (rx[0:n], or b[0:n]) arrived: checked and read (SRTCP first)."""
        if b is None:
            b = self.rx
        if self.srtp is not None:
            n = self.srtp[1].unprotect_rtcp(b, n)
            if n < 0:
                self.state[_NBAD] += 1
                return
        if parse(self.rtcp, b, n, now, now if wall is None else wall):
            self.state[_NBAD] += 1


# RTCP (formerly tinysip.rtcp, then tinysip.jitter's Rtcp: here since each module and class
# costs the phone heap and interned names for good, see docs/benchmarks.md)
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
# parse) or keep receiver statistics (the jitter buffer does: Voice.report() hands them to
# build()).
#
# The session is one list `c` (Voice.rtcp; made by tinysip.voicesetup.Rtcp): the numbers
# below, our SDES chunk, the packet buffer c[_R_BUF] (sized for an SR with one block, SDES
# and BYE), when the next report is due c[_R_NEXT] and rng c[_R_RNG].
#
# build(c, now, wall, rx, tx=None, end=False) -> length of the compound packet in c[_R_BUF]:
# - an SR (PT 200) when `tx` = (RTP timestamp high, low, packets, octets) says we sent
#   media since the report before (§6.4: the RTP timestamp is the one of the NTP instant,
#   i.e. the last packet's advanced by the time since it), else an RR (PT 201);
# - one report block when `rx` = the jitter buffer's figures (None before the peer's stream
#   is valid: then RC = 0, §6.4.2): fraction lost over the interval and cumulative lost (A.3, the 24-bit
#   field clamped), the extended highest sequence number, jitter, LSR = the middle 32 bits
#   of the peer's last SR NTP timestamp and DLSR = the delay since it (1/65536 s; both 0
#   before an SR, §6.4.1);
# - SDES with one chunk: our SSRC, CNAME, END, padded to 32 bits (§6.5);
# - BYE with our SSRC when `end` (§6.6).
# It also schedules the next report: c[_R_NEXT] = now + the interval (below).
#
# parse(c, b, n, now, wall): the compound packet b[0:n]. Returns "" when accepted, else the
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
# NTP (§4): ms since 1970 -> seconds since 1900 and the binary fraction as four 16-bit
# halves, with small ints only once the division by 1000 is done (era 0: until 2036); inline
# in build and parse (tinysip.voicesetup.ntp is the same, for tests).
#
# Interval (§6.3.1 for two parties): our share of the session bandwidth is far below the
# minimum, so the deterministic interval is Tmin = 5 s (2.5 s before the first report);
# each interval is Tmin times a uniform 0.5..1.5 from rng. No timer reconsideration, so no
# 1.21828 compensation: the mean is 5 s.
#
# Memory: build and parse reuse the list and its buffer. The NTP
# conversion and the rng call allocate a few small objects per report (every ~5 s), never
# per media packet. Names (functions, arguments, attributes) are ones the phone already
# interns where one fits: each new one costs it heap for good (docs/benchmarks.md).



def build(c, now, wall, rx, tx=None, end=False):
    """Build our compound packet into c[_R_BUF] and schedule the next (c[_R_NEXT]);
    returns its length. rx: the report block's figures (tinysip.voicesetup.block) or
    None; tx: (RTP timestamp high, low, packets, octets) for an SR, None for an RR; end:
    end with a BYE."""
    sent = tx
    st = c
    b = c[_R_BUF]
    rc = 0 if rx is None else 1
    if sent is None:
        struct.pack_into(_R_F5, b, 0, 0x80 | rc, _R_RR, 1 + 6 * rc, st[_R_SHI], st[_R_SLO])
        off = 8
    else:
        # NTP (§4) of wall: seconds since 1900, the fraction, as 16-bit halves (only the
        # division by 1000 may use big ints on a 32-bit port); inline, as in parse
        h, r = divmod(wall, 1000)
        h += 2208988800
        r *= 65536  # fraction = r * 2**32 / 1000, 16 bits at a time
        h = ((h >> 16) & 0xFFFF, h & 0xFFFF, r // 1000, (r % 1000) * 65536 // 1000)
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
    # the next in Tmin times a uniform 0.5..1.5 (RFC 3550 §6.3.1 for two parties)
    r = st[_R_RNG](2)  # (st is the session: c was reused for the chunk above)
    st[_R_NEXT] = now + (_R_TMIN >> 1) + ((_R_TMIN * (r[0] << 8 | r[1])) >> 16)
    return off

def parse(c, b, n, now, wall):
    """Check and read the peer's compound packet b[0:n] that arrived at now (ms), wall
    (ms since 1970) the clock our SRs carry. Returns "" if accepted, else why not."""
    st = c
    why = -1  # the refusal's line in _REASONS, -1: none
    if n < 8:
        why = 11
    for keep in (False, True):  # check everything, then keep what it says
        off = 0
        while why < 0 and off < n:
            if n - off < 4:
                why = 12
                break
            b0 = b[off]
            pt = b[off + 1]
            size = ((b[off + 2] << 8 | b[off + 3]) + 1) << 2
            rc = b0 & 31
            if b0 & 0xC0 != 0x80:
                why = 13
            elif off + size > n:
                why = 14
            elif off == 0 and pt != _R_SR and pt != _R_RR:
                why = 15
            elif b0 & 0x20 and off + size != n:
                why = 16
            elif b0 & 0x20 and not 0 < b[n - 1] <= size - 4:
                why = 17
            elif (pt == _R_SR or pt == _R_RR) and (28 if pt == _R_SR else 8) + 24 * rc > (
                    size - (b[n - 1] if b0 & 0x20 else 0)):
                why = 18
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
                        # (inline: a function costs the phone heap while a call runs)
                        st[_R_FRAC] = b[i + 4]
                        c = b[i + 5] << 16 | b[i + 6] << 8 | b[i + 7]
                        st[_R_CLOST] = c - 0x1000000 if c & 0x800000 else c
                        st[_R_PJIT] = ((min(b[i + 12] << 8 | b[i + 13], 0x3FFF) << 16)
                                       + (b[i + 14] << 8 | b[i + 15]))
                        lh = b[i + 16] << 8 | b[i + 17]
                        ll = b[i + 18] << 8 | b[i + 19]
                        if lh or ll:  # A - LSR - DLSR, 1/65536 s, modulo 2**32 (§6.4.1)
                            a, r = divmod(wall, 1000)  # A: NTP's middle 32 bits
                            a = (a + 2208988800) & 0xFFFF
                            d = r * 65536 // 1000 - ll - (b[i + 22] << 8 | b[i + 23])
                            h = (a - lh - (b[i + 20] << 8 | b[i + 21])
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


# G.711 (formerly tinysip.g711, and RFC 4733 below formerly tinysip.dtmf: in this module
# since each module costs the phone heap and 2-3 interned names for good, see
# docs/benchmarks.md)
#
# G.711 at 8 kHz: PCMU (mu-law) and PCMA (A-law), buffer to buffer, allocating nothing.
#
# Owns: turning 16-bit linear PCM (signed, little-endian, as I2S and WAV give it) into 8-bit
# G.711 codes and back, in buffers the caller preallocated: encode() writes the codes where
# the RTP payload goes (after the header, so the packet is built in place), decode() writes
# PCM into the playout buffer. It does not packetize, time or conceal anything (the media
# layer does) and knows no sockets.
#
# The codecs (ITU-T G.711 (11/88): Table 1 A-law, Table 2 mu-law; RFC 3551 §4.5.14: payload
# types 0 PCMU and 8 PCMA, one octet per sample, first sample first). Results equal the
# ITU-T/Sun reference (CPython's audioop) for every 16-bit input and every code (test_g711):
# - mu-law takes the top 14 bits, clips the magnitude at 8158, adds the bias 33 and sends
#   segment (3 bits) and the 4 bits after the leading one, all bits inverted (0 -> 0xFF);
# - A-law takes the top 13 bits (negative x as -x - 1), segment and 4 bits as mu-law without
#   bias, even bits inverted (0 -> 0xD5).
#
# Memory (64-bit unix port, measured): one 1,280-byte table as a bytes constant, the segment
# of a magnitude (256 B) and the 16-bit value of every code of each law (2 x 512 B,
# little-endian: decoding is two byte copies). Run in place from ROMFS the constant stays in
# flash and the import keeps 0.9 KB of heap, 1.3 KB less than with the table computed at
# import (test_g711 rebuilds it from the G.711 formulas). An encode table (4-16 KB) would not
# pay on a 56 KB heap: encoding is a segment look-up and a shift.
# Speed: on MicroPython with a native emitter the loops run as viper code, compiled at import
# from the source string at the end (a decorated function would need mpy-cross -march, and
# one .mpy serves every port): ~15x faster per frame than the plain loops, for 0.2 KB more
# kept and ~6 KB of passing heap while it compiles. Without an emitter, or if the compile
# fails (MemoryError on a crowded heap), the plain loops run, with the same results (the
# tests run both). Figures: tools/bench/voice_codec.py.
#
# One kernel does both ways, f = offset << 2 | decode << 1 | law (law 0 mu-law, 1 A-law):
# viper functions take at most four arguments, and the checks in encode()/decode() keep it
# inside the buffers. Names (arguments included) are ones the phone already interns: each
# new one would cost it heap for good (docs/benchmarks.md).

_PCMU = const(0)  # RTP payload types (RFC 3551 §6)
_PCMA = const(8)


_T = (
    # [0:256] segment of a magnitude by its top 8 bits: bit length - 1 (0 for 0 and 1)
    b"\x00\x00\x01\x01\x02\x02\x02\x02\x03\x03\x03\x03\x03\x03\x03\x03"
    b"\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04"
    b"\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05"
    b"\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05"
    b"\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06"
    b"\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06"
    b"\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06"
    b"\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06"
    b"\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07"
    b"\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07"
    b"\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07"
    b"\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07"
    b"\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07"
    b"\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07"
    b"\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07"
    b"\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07"
    # [256:768] mu-law code -> 16-bit value, little-endian
    b"\x84\x82\x84\x86\x84\x8a\x84\x8e\x84\x92\x84\x96\x84\x9a\x84\x9e\x84\xa2\x84\xa6\x84\xaa"
    b"\x84\xae\x84\xb2\x84\xb6\x84\xba\x84\xbe\x84\xc1\x84\xc3\x84\xc5\x84\xc7\x84\xc9\x84\xcb"
    b"\x84\xcd\x84\xcf\x84\xd1\x84\xd3\x84\xd5\x84\xd7\x84\xd9\x84\xdb\x84\xdd\x84\xdf\x04\xe1"
    b"\x04\xe2\x04\xe3\x04\xe4\x04\xe5\x04\xe6\x04\xe7\x04\xe8\x04\xe9\x04\xea\x04\xeb\x04\xec"
    b"\x04\xed\x04\xee\x04\xef\x04\xf0\xc4\xf0\x44\xf1\xc4\xf1\x44\xf2\xc4\xf2\x44\xf3\xc4\xf3"
    b"\x44\xf4\xc4\xf4\x44\xf5\xc4\xf5\x44\xf6\xc4\xf6\x44\xf7\xc4\xf7\x44\xf8\xa4\xf8\xe4\xf8"
    b"\x24\xf9\x64\xf9\xa4\xf9\xe4\xf9\x24\xfa\x64\xfa\xa4\xfa\xe4\xfa\x24\xfb\x64\xfb\xa4\xfb"
    b"\xe4\xfb\x24\xfc\x64\xfc\x94\xfc\xb4\xfc\xd4\xfc\xf4\xfc\x14\xfd\x34\xfd\x54\xfd\x74\xfd"
    b"\x94\xfd\xb4\xfd\xd4\xfd\xf4\xfd\x14\xfe\x34\xfe\x54\xfe\x74\xfe\x8c\xfe\x9c\xfe\xac\xfe"
    b"\xbc\xfe\xcc\xfe\xdc\xfe\xec\xfe\xfc\xfe\x0c\xff\x1c\xff\x2c\xff\x3c\xff\x4c\xff\x5c\xff"
    b"\x6c\xff\x7c\xff\x88\xff\x90\xff\x98\xff\xa0\xff\xa8\xff\xb0\xff\xb8\xff\xc0\xff\xc8\xff"
    b"\xd0\xff\xd8\xff\xe0\xff\xe8\xff\xf0\xff\xf8\xff\x00\x00\x7c\x7d\x7c\x79\x7c\x75\x7c\x71"
    b"\x7c\x6d\x7c\x69\x7c\x65\x7c\x61\x7c\x5d\x7c\x59\x7c\x55\x7c\x51\x7c\x4d\x7c\x49\x7c\x45"
    b"\x7c\x41\x7c\x3e\x7c\x3c\x7c\x3a\x7c\x38\x7c\x36\x7c\x34\x7c\x32\x7c\x30\x7c\x2e\x7c\x2c"
    b"\x7c\x2a\x7c\x28\x7c\x26\x7c\x24\x7c\x22\x7c\x20\xfc\x1e\xfc\x1d\xfc\x1c\xfc\x1b\xfc\x1a"
    b"\xfc\x19\xfc\x18\xfc\x17\xfc\x16\xfc\x15\xfc\x14\xfc\x13\xfc\x12\xfc\x11\xfc\x10\xfc\x0f"
    b"\x3c\x0f\xbc\x0e\x3c\x0e\xbc\x0d\x3c\x0d\xbc\x0c\x3c\x0c\xbc\x0b\x3c\x0b\xbc\x0a\x3c\x0a"
    b"\xbc\x09\x3c\x09\xbc\x08\x3c\x08\xbc\x07\x5c\x07\x1c\x07\xdc\x06\x9c\x06\x5c\x06\x1c\x06"
    b"\xdc\x05\x9c\x05\x5c\x05\x1c\x05\xdc\x04\x9c\x04\x5c\x04\x1c\x04\xdc\x03\x9c\x03\x6c\x03"
    b"\x4c\x03\x2c\x03\x0c\x03\xec\x02\xcc\x02\xac\x02\x8c\x02\x6c\x02\x4c\x02\x2c\x02\x0c\x02"
    b"\xec\x01\xcc\x01\xac\x01\x8c\x01\x74\x01\x64\x01\x54\x01\x44\x01\x34\x01\x24\x01\x14\x01"
    b"\x04\x01\xf4\x00\xe4\x00\xd4\x00\xc4\x00\xb4\x00\xa4\x00\x94\x00\x84\x00\x78\x00\x70\x00"
    b"\x68\x00\x60\x00\x58\x00\x50\x00\x48\x00\x40\x00\x38\x00\x30\x00\x28\x00\x20\x00\x18\x00"
    b"\x10\x00\x08\x00\x00\x00"
    # [768:1280] A-law code -> 16-bit value, little-endian
    b"\x80\xea\x80\xeb\x80\xe8\x80\xe9\x80\xee\x80\xef\x80\xec\x80\xed\x80\xe2\x80\xe3\x80\xe0"
    b"\x80\xe1\x80\xe6\x80\xe7\x80\xe4\x80\xe5\x40\xf5\xc0\xf5\x40\xf4\xc0\xf4\x40\xf7\xc0\xf7"
    b"\x40\xf6\xc0\xf6\x40\xf1\xc0\xf1\x40\xf0\xc0\xf0\x40\xf3\xc0\xf3\x40\xf2\xc0\xf2\x00\xaa"
    b"\x00\xae\x00\xa2\x00\xa6\x00\xba\x00\xbe\x00\xb2\x00\xb6\x00\x8a\x00\x8e\x00\x82\x00\x86"
    b"\x00\x9a\x00\x9e\x00\x92\x00\x96\x00\xd5\x00\xd7\x00\xd1\x00\xd3\x00\xdd\x00\xdf\x00\xd9"
    b"\x00\xdb\x00\xc5\x00\xc7\x00\xc1\x00\xc3\x00\xcd\x00\xcf\x00\xc9\x00\xcb\xa8\xfe\xb8\xfe"
    b"\x88\xfe\x98\xfe\xe8\xfe\xf8\xfe\xc8\xfe\xd8\xfe\x28\xfe\x38\xfe\x08\xfe\x18\xfe\x68\xfe"
    b"\x78\xfe\x48\xfe\x58\xfe\xa8\xff\xb8\xff\x88\xff\x98\xff\xe8\xff\xf8\xff\xc8\xff\xd8\xff"
    b"\x28\xff\x38\xff\x08\xff\x18\xff\x68\xff\x78\xff\x48\xff\x58\xff\xa0\xfa\xe0\xfa\x20\xfa"
    b"\x60\xfa\xa0\xfb\xe0\xfb\x20\xfb\x60\xfb\xa0\xf8\xe0\xf8\x20\xf8\x60\xf8\xa0\xf9\xe0\xf9"
    b"\x20\xf9\x60\xf9\x50\xfd\x70\xfd\x10\xfd\x30\xfd\xd0\xfd\xf0\xfd\x90\xfd\xb0\xfd\x50\xfc"
    b"\x70\xfc\x10\xfc\x30\xfc\xd0\xfc\xf0\xfc\x90\xfc\xb0\xfc\x80\x15\x80\x14\x80\x17\x80\x16"
    b"\x80\x11\x80\x10\x80\x13\x80\x12\x80\x1d\x80\x1c\x80\x1f\x80\x1e\x80\x19\x80\x18\x80\x1b"
    b"\x80\x1a\xc0\x0a\x40\x0a\xc0\x0b\x40\x0b\xc0\x08\x40\x08\xc0\x09\x40\x09\xc0\x0e\x40\x0e"
    b"\xc0\x0f\x40\x0f\xc0\x0c\x40\x0c\xc0\x0d\x40\x0d\x00\x56\x00\x52\x00\x5e\x00\x5a\x00\x46"
    b"\x00\x42\x00\x4e\x00\x4a\x00\x76\x00\x72\x00\x7e\x00\x7a\x00\x66\x00\x62\x00\x6e\x00\x6a"
    b"\x00\x2b\x00\x29\x00\x2f\x00\x2d\x00\x23\x00\x21\x00\x27\x00\x25\x00\x3b\x00\x39\x00\x3f"
    b"\x00\x3d\x00\x33\x00\x31\x00\x37\x00\x35\x58\x01\x48\x01\x78\x01\x68\x01\x18\x01\x08\x01"
    b"\x38\x01\x28\x01\xd8\x01\xc8\x01\xf8\x01\xe8\x01\x98\x01\x88\x01\xb8\x01\xa8\x01\x58\x00"
    b"\x48\x00\x78\x00\x68\x00\x18\x00\x08\x00\x38\x00\x28\x00\xd8\x00\xc8\x00\xf8\x00\xe8\x00"
    b"\x98\x00\x88\x00\xb8\x00\xa8\x00\x60\x05\x20\x05\xe0\x05\xa0\x05\x60\x04\x20\x04\xe0\x04"
    b"\xa0\x04\x60\x07\x20\x07\xe0\x07\xa0\x07\x60\x06\x20\x06\xe0\x06\xa0\x06\xb0\x02\x90\x02"
    b"\xf0\x02\xd0\x02\x30\x02\x10\x02\x70\x02\x50\x02\xb0\x03\x90\x03\xf0\x03\xd0\x03\x30\x03"
    b"\x10\x03\x70\x03\x50\x03"
)


# encode() and decode(), the checked entry points for callers outside the engine (tests,
# tools), are tinysip.voicesetup's: the Voice calls the kernel itself, on buffers it sized
# (each function kept costs the phone heap while a call runs).


# Error texts (G.711, RFC 4733, then RTCP and the jitter buffer's), one string: a module run
# in place holds each str constant as a heap object; line k is errors.nth(_REASONS, k).
_REASONS = (
    "G.711: the output buffer is bytes; it must be a bytearray or a writable memoryview\n"
    "G.711: payload type %r is neither PCMU (0) nor PCMA (8)\n"
    "G.711: %d samples at code offset %d overrun the buffers (room for %d samples, %d codes)\n"
    "RFC 4733: event %r is not 0-255\nRFC 4733: volume %r is not 0-63 (-dBm0)\n"
    "RFC 4733: duration %r is not 0-65535 samples\n"
    "RFC 4733: a %d-byte payload holds no 4-byte event report\n"
    "RFC 4733: need 0 < step (%r ms) <= tone length (%r ms) <= 8191 ms\n"
    "DTMF: %r holds a character that is not 0-9 * # A-D\n"
    "DTMF: %d digits are waiting; %d more overflow the queue of %d\n"
    "rtcp: CNAME of %d bytes, not 1..255\nRTCP: shorter than a header\n"
    "RTCP: bytes after the last packet\nRTCP: not version 2\n"
    "RTCP: length field past the end\nRTCP: compound packet not starting with SR or RR\n"
    "RTCP: padding before the last packet\nRTCP: padding longer than its packet\n"
    "RTCP: report count past the packet's length\n"
    "jitter: ptime %r ms not within 10..60")


# The kernel: f = off << 2 | decode << 1 | law (0 mu-law, 1 A-law); encode reads PCM from
# src[0:] and writes codes at buf[off:], decode reads the codes at src[off:] and writes PCM
# at buf[0:]. One function, named as MicroPython's own `_run`: every name in it is one
# MicroPython has built in or the phone already has, since the viper copy is compiled from
# source and its compiler interns each name it meets for good.
_raw = True  # the plain loops run (tinysip.plain); False once the viper ones compiled
if MICROPYTHON:
    try:  # the loops as viper code (machine ints, raw byte pointers)
        exec("""
@micropython.viper
def _run(src: ptr8, n: int, buf: ptr8, f: int):
    t = ptr8(_T)
    s = 0
    off = f >> 2
    end = off + n
    if f & 2:
        r = 256 + ((f & 1) << 9)
        while off < end:
            v = r + (src[off] << 1)
            buf[s] = t[v]
            buf[s + 1] = t[v + 1]
            s += 2
            off += 1
        return
    while off < end:
        v = src[s + 1] << 8 | src[s]
        s += 2
        if f & 1:
            r = 0xD5
            if v & 0x8000:
                v = 0xFFFF - v
                r = 0x55
            v >>= 3
            e = t[v >> 4]
            n = e
            if n == 0:
                n = 1
        else:
            r = 0xFF
            if v & 0x8000:
                v = 16417 - (v >> 2)
                r = 0x7F
            else:
                v = (v >> 2) + 33
            if v > 8191:
                v = 8191
            e = t[v >> 5]
            n = e + 1
        buf[off] = (e << 4 | v >> n & 15) ^ r
        off += 1
""", globals())
        _raw = False
    except Exception:  # noqa: BLE001 - no compiler or no native emitter here, or no heap
        pass
if _raw:  # CPython, or no viper here: the plain loops
    _run = load(b"tinysip.plain _run")


# RFC 4733 telephone-events (formerly tinysip.dtmf)
#
# RFC 4733 telephone-events for DTMF: payloads in place, a sender and a receiver.
#
# Owns: the 4-byte event payload (§2.3), the schedule of event packets that sends queued
# digits (§2.5.1) and the digits a received event stream stands for (§2.5.2). It must not do
# I/O or read a clock: the caller passes `now` (integer ms) and its buffers, and wraps the
# payload in the RTP header itself (the telephone-event PT from the SDP, the audio stream's
# SSRC, one sequence number per packet sent, retransmissions included, §2.5.1.6). Nothing is
# allocated per packet.
#
# Payload (§2.3): event (8 bits; DTMF §3.2: 0-9, * 10, # 11, A-D 12-15), E (the event
# ended), R (0), volume (6 bits, the tone's power in -dBm0, §2.3.4), duration (16 bits, in
# timestamp units: samples of the 8 kHz clock every telephone-event/8000 stream uses).
#
# Sender (§2.5.1.2-4; in tinysip.voicesetup, loaded while digits go out), one state per row; poll(now) acts when its packet is due (one step,
# the update interval, after the previous packet; the caller polls every ptime):
#
#     state | due poll                                           | next state
#     IDLE  | a digit queued: first packet, M=1, duration one    | TONE (END if the tone is
#           | step; the event's timestamp is this tick's         | no longer than that)
#     TONE  | update: duration = time since the first + a step   | TONE
#           | that reaches the tone length: final packet, E=1,   | END
#           | duration = the tone length                         |
#     END   | the final packet again, same timestamp (§2.5.1.4:  | IDLE after the 3rd; the
#           | three in all)                                      | next digit a step on and
#           |                                                    | 50 ms after the tone
#
# The tone length stays under 65,536 samples (8.19 s), so events are never segmented
# (§2.5.1.3), and no packet says 0 (the first covers its step, like an audio packet). With
# the step at the audio ptime every tick of an event carries an event packet, not audio.
#
# Receiver (§2.5.2; in Voice.receive, its state in Voice.state): every packet of one event
# carries the event's start as its RTP
# timestamp (§2.5.1.2), so the timestamp is the key. receive() reports a digit the first time
# its timestamp is seen, whichever packet of the event arrives first (a lost M=1 packet loses
# nothing); packets with that timestamp again (updates, the three end packets, duplicates)
# and late packets of an earlier event (up to 65,536 samples before it: reordering; reported
# already, or too late to report in order) report nothing. A new timestamp with the same
# event, starting inside the last one's duration, is the next segment of a long event
# (§2.5.1.3), not a new digit. A jump further back (a new source) starts afresh. Only a
# packet's first report is read (§2.5.1.5 allows several); events 16-255 are no digits.

