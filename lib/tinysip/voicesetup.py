"""The set-up and tear-down half of a voice call's engine: loaded while a call's media is made,
changed or ended, and dropped again (tinysip.io.voiceport), so that a running call keeps
only the code its frames run.

Owns: building the objects of tinysip.voice (Voice, its RFC 4733 Receiver), tinysip.jitter
(Jitter, Rtcp) and tinysip.srtp (Context: the SRTP session keys of RFC 3711 §4.3, the
AES-CM PRF and the HMAC key states) from the negotiated params, and their figures for
`call_ended` (stats). Those classes carry no __init__ or stats of their own: a method costs
the phone ~80 B of heap for as long as its class is loaded (64-bit unix port, ROMFS),
however short it is, and a module's functions keep the whole module alive, so code that
runs once per call lives here, in a module nothing keeps. `Voice(params, rng, now)`,
`Jitter(kind, step)`, `Rtcp(src, name, rng, now)`, `Context(data, tag)` and `Receiver()`
take the arguments the classes' constructors took and return a ready object.

Nothing here runs per frame. It does no I/O, and imports the engine's modules when called
(never at its own import: tinysip.voice and tinysip.srtp are the ones that load it, never
the other way round, so it can be dropped while they stay).

Names: every function, argument and attribute name here is one the phone already interns
(the classes' own names, their attributes, `stats`, `key`, `_keys`, `unpack`): this
module adds only its own names when it loads.
"""
import struct

from tinysip.compat import const
from tinysip.errors import nth

# tinysip.jitter's Jitter.state (test_jitter checks they agree)
_DMAX = const(200)
_NB = const(8)
_GAP = const(200)
_TPM = const(8)
_BIG = const(0x3FFFFFFF)
_NONE = const(-0x3FFFFFFF)
_RHI = const(1)
_SHI = const(3)
_SLO = const(4)
_CHI = const(5)
_CLO = const(6)
_BAD = const(11)
_DUPS = const(13)
_LOSTA = const(14)
_REC = const(15)
_DUP = const(16)
_LATE = const(17)
_REORD = const(18)
_INVAL = const(19)
_J16 = const(20)
_LNOW = const(21)
_TGT = const(25)
_DLAST = const(26)
_DMINR = const(27)
_DMAXR = const(28)
_OVER = const(29)
_LDROP = const(30)
_REP = const(31)
_LAST = const(32)
_PLAY = const(34)
_CONC = const(35)
_INS = const(36)
_DROP = const(37)
_RESYNC = const(38)
_LO = const(41)
_HI = const(42)
_PT = const(43)
_PTIME = const(44)
_SIZE = const(45)
_NS = const(46)
_TMAX = const(47)
_XQ = const(48)
_RING = const(49)
_BMN = const(54)
_BMX = const(62)
_TAG = const(70)
# tinysip.jitter's Rtcp.state
_R_TMIN = const(5000)
_R_SDES = const(202)
_R_SHI = const(0)
_R_SLO = const(1)
_R_CHUNK = const(2)
_R_EXPP = const(8)
_R_RECP = const(9)
_R_NSENT = const(10)
_R_NRECV = const(11)
_R_NBAD = const(12)
_R_FRAC = const(13)
_R_CLOST = const(14)
_R_PJIT = const(15)
_R_RTT = const(16)
_R_RMIN = const(17)
_R_RMAX = const(18)
_R_PBYE = const(19)
_R_N = const(20)
# tinysip.voice's Voice.state
_NPK = const(7)
_NBAD = const(9)
# tinysip.srtp's Context.s
_KP = const(0)
_KR = const(40)
_H = const(80)
_SP = const(170)
_SR = const(184)
_EK = const(198)
_KS = const(344)
_SIZE_S = const(504)  # srtp's _SIZE (+ 256 for the plain path's HMAC key blocks)

# tinysip.voice's RFC 4733 Sender (its comment has the sender's states)
_DIGITS = const(b"0123456789*#ABCD")  # event code -> digit (§3.2)
_IDLE = const(0)
_TONE = const(1)
_END = const(2)
_QMAX = const(32)  # digits queued at most (a power of 2)
_PAUSE = const(50)  # ms of silence at least between two tones, so they stay two digits
_PAST = const(-0x20000000)  # "due long ago": a small int on 32-bit ports too
# Sender.state: phase, event, first packet's time, next due time, duration, end packets
# sent, queue head, queued count, step (ms), tone length (ms), volume
_PH = const(0)
_EV = const(1)
_T0 = const(2)
_TDUE = const(3)
_DUR = const(4)
_ENDS = const(5)
_HEAD = const(6)
_N = const(7)
_STEP = const(8)
_LEN = const(9)
_VOL = const(10)

_F5 = const(b">BBHHH")  # (bytes: a short str would be an interned name)


def Voice(params, rng, now, buf=None):
    """A tinysip.voice.Voice for one call. params: tinysip.audio's list; rng(n) -> bytes;
    now: ms; buf: a bytearray of at least ptime * 8 + 352 bytes to send from and read
    into, which the adapter may share (io.voiceport gives io.stream's read buffer: each use
    of it is over before the next begins), else one of that size is made."""
    from tinysip import voice

    v = voice.Voice()
    v.params = params
    n = params[3] * 8  # samples (and G.711 bytes) per frame: 8 kHz
    # one PCM buffer: the microphone's frame until send() encoded it, then the frame
    # get() decodes for the speaker; one packet buffer: what we send until the adapter
    # wrote it, then the datagram it reads (each is used up before the other begins)
    v.buf = bytearray(2 * n)
    # header 12 + payload + SRTP tag 10 (tx); a received datagram (rx): room for 15
    # CSRCs and a header extension (~280 B more), and RTCP compounds up to ~500 B
    if buf is None or len(buf) < n + 352:
        buf = bytearray(n + 352)
    v.tx = v.rx = buf
    s = rng(10)
    v.state = st = [s[0] << 8 | s[1], s[2] << 8 | s[3], s[4] << 8 | s[5], s[6] << 8 | s[7],
                    s[8] << 8 | s[9], 0, 0, 0, 0, 0, now]
    v.jitter = Jitter(params[0], params[3])
    v.events = None  # the RFC 4733 sender, made with the first digits (dtmf())
    v.input = Receiver()  # the peer's RFC 4733 events
    v.srtp = None  # SRTP: (our context, the peer's)
    if params[6]:  # our key protects what we send, the peer's what it sends
        v.srtp = (Context(params[7], params[6]), Context(params[8], params[6]))
    v.rtcp = c = Rtcp(st[0] << 16 | st[1], b"%x@tinysip" % (st[2] << 16 | st[4]), rng, now)
    if v.srtp is not None:  # SRTCP appends E|index and the 80-bit tag: 14 more bytes
        c.buf = bytearray(len(c.buf) + 14)
    return v


def Receiver():
    """A tinysip.voice.Receiver: nothing seen yet."""
    from tinysip import voice

    r = voice.Receiver()
    r.state = [0, 0, 0, 0, 0]
    return r


def Jitter(kind, step=20):
    """A tinysip.jitter.Jitter: kind the audio payload type (0 PCMU and 8 PCMA also get the
    quiet test), step the frame duration (ptime) in ms (10-60)."""
    from tinysip import jitter

    pt = kind
    ptime = step
    if not 10 <= ptime <= 60:
        raise ValueError(nth(jitter._REASONS, 9) % (ptime,))
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
    jb = jitter.Jitter()
    jb.state = st
    jb.buf = ring
    jb.pos = 0
    return jb


def Rtcp(src, name, rng, now):
    """A tinysip.jitter.Rtcp session: src our RTP SSRC (int), name our CNAME (bytes, 1-255;
    RFC 7022: random per call), rng(n) -> bytes, now (ms) the session's start."""
    from tinysip import jitter

    ssrc = src
    cname = name
    k = len(cname)
    if not 0 < k <= 255:
        raise ValueError(nth(jitter._REASONS, 0) % k)
    c = (4 + 2 + k + 1 + 3) & ~3  # SSRC, CNAME item, END, padding to 32 bits
    chunk = bytearray(4 + c)
    shi = (ssrc >> 16) & 0xFFFF
    slo = ssrc & 0xFFFF
    struct.pack_into(_F5, chunk, 0, 0x81, _R_SDES, c >> 2, shi, slo)
    chunk[8] = 1  # CNAME
    chunk[9] = k
    chunk[10:10 + k] = cname
    st = [-1] * _R_N
    for i in (_R_EXPP, _R_RECP, _R_NSENT, _R_NRECV, _R_NBAD, _R_FRAC, _R_CLOST, _R_PBYE):
        st[i] = 0
    st[_R_SHI] = shi
    st[_R_SLO] = slo
    st[_R_CHUNK] = bytes(chunk)
    r = jitter.Rtcp()
    r.state = st
    r.buf = bytearray(28 + 24 + len(chunk) + 8)
    r.next = now + jitter.wait(rng, _R_TMIN >> 1)
    r.rng = rng
    return r


def Context(data, tag=80):
    """A tinysip.srtp.Context: one direction under one 30-byte master key||salt (RFC 4568
    inline key) and suite tag, 80 (AES_CM_128_HMAC_SHA1_80) or 32 (_32), the SRTP tag in
    bits: the session keys (RFC 3711 §4.3, key derivation rate 0), the HMAC key states,
    the counters. ValueError for another key length or tag."""
    from tinysip import srtp

    if len(data) != 30 or tag not in (80, 32):
        raise ValueError(nth(srtp._REASONS, 0))
    aes = srtp.aes
    m = aes(data[:16], 1)
    salt = data[16:]
    x = srtp.Context()
    # the plain path (no viper) keeps its HMAC key blocks after the viper layout
    s = x.s = bytearray(_SIZE_S + (256 if srtp._raw else 0))
    x.e = aes(key(m, salt, 0, 16), 1)
    keys = _keys
    if srtp._raw:
        from tinysip.compat import load

        keys = load(b"tinysip.plain _keys")
    keys(s, _KP, key(m, salt, 1, 20))
    s[_SP:_SP + 14] = key(m, salt, 2, 14)
    s[_EK:_EK + 16] = key(m, salt, 3, 16)
    keys(s, _KR, key(m, salt, 4, 20))
    s[_SR:_SR + 14] = key(m, salt, 5, 14)
    x.t = tag >> 3
    # [ROC, highest SEQ (-1: none yet), highest SRTCP index received (-1: none), next
    # SRTCP index to send, the SSRC followed as two 16-bit halves (-1: none yet)]
    x.n = [0, -1, -1, 0, -1, -1]
    x.v = memoryview(s)[_KS:_SIZE_S]  # the keystream blocks, encrypted in place
    return x


def key(aes, s, t, n):
    """n bytes of the AES-CM PRF (RFC 3711 §4.3.3): aes under the master key, s the master
    salt, t the label."""
    x = bytearray(s) + bytes(2)
    x[7] ^= t
    out = bytearray(16 * ((n + 15) >> 4))
    for j in range(len(out) >> 4):
        x[15] = j
        aes.encrypt(x, memoryview(out)[16 * j:])
    return bytes(out[:n])


def _keys(s, k, key):
    """The HMAC key (RFC 2104) as srtp's viper mac wants it: the SHA-1 states after the
    inner and the outer key block, at s[k:k + 40]."""
    from tinysip import srtp

    key = key + bytes(44)
    for v in (0x36, 0x5C):  # SHA-1's IV as ptr32 words (little-endian CPUs), then the block
        s[_H:_H + 20] = (b"\x01\x23\x45\x67\x89\xab\xcd\xef\xfe\xdc"
                         b"\xba\x98\x76\x54\x32\x10\xf0\xe1\xd2\xc3")
        srtp._chunk(s, bytes([b ^ v for b in key]), 0)
        s[k:k + 20] = s[_H:_H + 20]
        k += 20


def unpack(buf, off, n):
    """(event, end, volume, duration) of the first RFC 4733 report in the n payload bytes
    at off; ValueError if n is shorter than a report (the peer's malformed packet).
    (tinysip.voice.Receiver reads the fields itself: this one is for tests and tools.)"""
    from tinysip import voice

    if n < 4:
        raise ValueError(nth(voice._REASONS, 6) % n)
    b = buf[off + 1]
    return buf[off], b & 0x80 != 0, b & 0x3F, buf[off + 2] << 8 | buf[off + 3]


def stats(x):
    """The figures of x as a dict (for `call_ended`; allocates):
    - a Voice: its jitter buffer's, with the RTCP ones below that say how the peer hears us
      (rtt_ms, peer_lost, peer_jitter_ms) and ours: sent (packets), refused (SRTP tag,
      replay, not RTP);
    - a Jitter: received, lost, late, duplicates, reordered, invalid (packets); jitter
      (timestamp units), jitter_ms; delay_ms (the last frame played), delay_min,
      delay_max, target_ms (ms; None before a frame was played); played, concealed,
      inserted, dropped (frames); resyncs;
    - an Rtcp: sent, received, refused (reports); rtt_ms, rtt_min, rtt_max (None before an
      RTT); from the peer's last report about us: peer_lost (cumulative), peer_fraction
      (%), peer_jitter (timestamp units), peer_jitter_ms (8 kHz clock), all None before
      one; peer_bye."""
    from tinysip import jitter

    st = x.state
    if isinstance(x, jitter.Rtcp):
        on = st[_R_PJIT] >= 0
        rt = st[_R_RTT] >= 0
        vals = (st[_R_NSENT], st[_R_NRECV], st[_R_NBAD], st[_R_RTT] if rt else None,
                st[_R_RMIN] if rt else None, st[_R_RMAX] if rt else None,
                st[_R_CLOST] if on else None, st[_R_FRAC] * 100 / 256 if on else None,
                st[_R_PJIT] if on else None, st[_R_PJIT] / 8 if on else None,
                st[_R_PBYE] > 0)
        # one long string, not 11 short ones: each short str constant is an interned name
        keys = ("sent received refused rtt_ms rtt_min rtt_max peer_lost peer_fraction "
                "peer_jitter peer_jitter_ms peer_bye")
        return dict(zip(keys.split(), vals))
    if not isinstance(x, jitter.Jitter):  # a Voice
        d = stats(x.jitter)
        r = stats(x.rtcp)
        for k in "rtt_ms peer_lost peer_jitter_ms".split():
            d[k] = r[k]
        d.update(zip("sent refused".split(), (st[_NPK], st[_NBAD])))
        return d
    r = x.report()
    lost = st[_LOSTA] + (r[4] - r[5] + st[_DUPS] if r else 0)
    j = st[_J16]
    on = st[_PLAY] > 0
    vals = (st[_REC], lost, st[_LATE], st[_DUP], st[_REORD], st[_INVAL], j >> 4,
            j / (16 * _TPM), st[_DLAST] if on else None, st[_DMINR] if on else None,
            st[_DMAXR] if on else None, st[_TGT] if on else None, st[_PLAY], st[_CONC],
            st[_INS], st[_DROP], st[_RESYNC])
    keys = ("received lost late duplicates reordered invalid jitter jitter_ms delay_ms "
            "delay_min delay_max target_ms played concealed inserted dropped resyncs")
    return dict(zip(keys.split(), vals))


# RFC 4733's sender (tinysip.voice has the payload, the states and the receiver): a call
# needs it only while digits go out, so it lives here; Voice.dtmf() loads it and the Voice
# lets it go (and this module with it) once the digits are out.
def pack(buf, off, event, end, v, length):
    """Write one event report at buf[off:off + 4] (§2.3): end the E bit, v the volume,
    length the duration (samples). Returns off + 4. ValueError names a field out of range
    (our caller's bug)."""
    if not 0 <= event <= 255:
        from tinysip import voice  # (its error texts: only when raising)

        raise ValueError(nth(voice._REASONS, 3) % (event,))
    if not 0 <= v <= 63:
        from tinysip import voice  # (its error texts: only when raising)

        raise ValueError(nth(voice._REASONS, 4) % (v,))
    if not 0 <= length <= 0xFFFF:
        from tinysip import voice  # (its error texts: only when raising)

        raise ValueError(nth(voice._REASONS, 5) % (length,))
    buf[off] = event
    buf[off + 1] = (0x80 if end else 0) | v
    buf[off + 2] = length >> 8
    buf[off + 3] = length & 0xFF
    return off + 4


class Sender:
    """Sends queued DTMF digits as telephone-events. step: ms between the packets of an
    event (the audio ptime, §2.5.1.2; 50 without audio); length: ms each tone lasts;
    v: the volume, 0-63 (-dBm0; 10 is the usual -10 dBm0). (Argument names are ones
    MicroPython has built in: each new one would be interned on the phone for good.)"""

    def __init__(self, step=50, length=100, v=10):
        if not 0 < step <= length <= 8191:
            from tinysip import voice  # (its error texts: only when raising)

            raise ValueError(nth(voice._REASONS, 7) % (step, length))
        if not 0 <= v <= 63:
            from tinysip import voice  # (its error texts: only when raising)

            raise ValueError(nth(voice._REASONS, 4) % (v,))
        self.state = [_IDLE, 0, 0, _PAST, 0, 0, 0, 0, step, length, v]
        self.buf = bytearray(_QMAX)  # queued event codes, a ring

    def send(self, data):
        """Queue the digits in data ("0-9", "*", "#", "A-D", lower case too; str or bytes)
        to send in turn. ValueError, queueing none of them, for any other character or more
        than 32 digits waiting."""
        if isinstance(data, str):
            data = data.encode()
        codes = [_DIGITS.find(c) for c in data.upper()]
        if -1 in codes:
            from tinysip import voice  # (its error texts: only when raising)

            raise ValueError(nth(voice._REASONS, 8) % (data,))
        st = self.state
        if st[_N] + len(codes) > _QMAX:
            from tinysip import voice  # (its error texts: only when raising)

            raise ValueError(nth(voice._REASONS, 9) % (st[_N], len(codes), _QMAX))
        for e in codes:
            self.buf[(st[_HEAD] + st[_N]) & (_QMAX - 1)] = e
            st[_N] += 1

    def next_timer(self):
        """When poll() has a packet to send (ms; maybe already past), or None."""
        st = self.state
        return None if st[_PH] == _IDLE and not st[_N] else st[_TDUE]

    def poll(self, now, buf, off):
        """Write the packet due at `now`, if any, as a 4-byte payload at buf[off]. Returns
        0: nothing to send (send audio); 1: a packet of the current event (M=0, the event's
        RTP timestamp); 2: the first packet of a digit (M=1, and this tick's RTP timestamp
        becomes the event's)."""
        st = self.state
        if now < st[_TDUE] or st[_PH] == _IDLE and not st[_N]:
            return 0
        iv = st[_STEP]
        r = 1
        if st[_PH] == _IDLE:
            h = st[_HEAD]
            st[_EV] = self.buf[h]
            st[_HEAD] = (h + 1) & (_QMAX - 1)
            st[_N] -= 1
            st[_T0] = now
            st[_TDUE] = now
            st[_PH] = _TONE
            r = 2
        if st[_PH] == _TONE:
            d = (now - st[_T0] + iv) * 8
            if d >= st[_LEN] * 8:
                d = st[_LEN] * 8
                st[_PH] = _END
                st[_ENDS] = 0
            st[_DUR] = d
        due = st[_TDUE] + iv
        st[_TDUE] = due if due > now else now + iv
        end = st[_PH] == _END
        if end:
            st[_ENDS] += 1
            if st[_ENDS] == 3:  # the next digit: a step on, and after a pause
                st[_PH] = _IDLE
                due = st[_T0] + st[_LEN] + _PAUSE
                if due > st[_TDUE]:
                    st[_TDUE] = due
        pack(buf, off, st[_EV], end, st[_VOL], st[_DUR])
        return r
