"""The set-up and tear-down half of a voice call's engine: loaded while a call's media is made,
changed or ended, and dropped again (tinysip.io.voiceport), so that a running call keeps
only the code its frames run.

Owns: building tinysip.voice's Voice (its jitter buffer's array, its state and RTCP lists) and
tinysip.srtp's Context (the SRTP session keys of RFC 3711 §4.3, the AES-CM PRF and the HMAC
key states) from the negotiated params, and their figures for `call_ended` (stats, block).
The engine carries no __init__ or stats of its own: a function or method costs the phone
~77 B of heap for as long as its module is loaded (64-bit unix port, ROMFS), however short
it is, a class ~225 B, and a module's functions keep the whole module alive, so code that
runs once per call lives here, in a module nothing keeps. `Voice(params, rng, now)`,
`Jitter(kind, step)` (a Voice with only its jitter buffer: tests and tools),
`Rtcp(src, name, rng, now)` (the RTCP session's list) and `Context(data, tag)` return ready
objects. For tests and tools also: G.711's checked encode()/decode() (the Voice calls the
kernel itself), ntp() (the NTP halves voice.build and parse compute inline), unpack(), and
RFC 4733's Sender with pack(), which Voice.dtmf() loads while digits go out.

Nothing here runs per frame. It does no I/O, and imports the engine's modules when called
(never at its own import: tinysip.voice and tinysip.srtp are the ones that load it, never
the other way round, so it can be dropped while they stay).

Names: the function, argument and attribute names here are ones the phone already interns
where one fits (the engine's own names, its attributes, `stats`, `key`, `_keys`, `unpack`,
`encode`, `decode`): a call that loads this module adds few names of its own
(tools/bench/names.py --scenario voice).
"""
import struct

from tinysip.compat import const
from tinysip.errors import nth

# tinysip.voice's Voice.jitter and Voice.state (test_jitter checks they agree)
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
_MAX = const(8)
_CYC = const(9)
_BASE = const(10)
_BAD = const(11)
_RECS = const(12)
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
_SRCO = const(50)
_BMN = const(52)
_BMX = const(60)
_TAG = const(68)
_NPK = const(7)
_NBAD = const(9)
_DUE = const(10)
_RING = const(16)
# tinysip.voice's RTCP session list
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
_R_BUF = const(20)
_R_NEXT = const(21)
_R_RNG = const(22)
# tinysip.srtp's Context.s
_KP = const(0)
_KR = const(40)
_H = const(80)
_SP = const(170)
_SR = const(184)
_EK = const(198)
_KS = const(232)
_SIZE_S = const(392)  # srtp's _SIZE (+ 256 for the plain path's HMAC key blocks)

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

_PCMU = const(0)  # RTP payload types (RFC 3551 §6)
_PCMA = const(8)

_F5 = const(b">BBHHH")  # (bytes: a short str would be an interned name)


def Voice(params, rng, now, buf=None):
    """A tinysip.voice.Voice for one call. params: tinysip.audio's list; rng(n) -> bytes;
    now: ms; buf: a bytearray of at least ptime * 8 + 352 bytes to send from and read
    into, which the adapter may share (io.voiceport gives io.stream's read buffer: each use
    of it is over before the next begins), else one of that size is made."""
    v = Jitter(params[0], params[3], params)
    n = params[3] * 8  # samples (and G.711 bytes) per frame: 8 kHz
    # one packet buffer: what we send until the adapter wrote it, then the datagram it
    # reads (each is used up before the other begins): header 12 + payload + SRTP tag 10
    # (tx); a received datagram (rx): room for 15 CSRCs and a header extension (~280 B
    # more), and RTCP compounds up to ~500 B
    if buf is None or len(buf) < n + 352:
        buf = bytearray(n + 352)
    v.tx = v.rx = buf
    s = rng(10)
    st = v.state
    for i in range(5):
        st[i] = s[2 * i] << 8 | s[2 * i + 1]
    st[_DUE] = now
    v.events = None  # the RFC 4733 sender, made with the first digits (dtmf())
    v.srtp = None  # SRTP: (our context, the peer's)
    if params[6]:  # our key protects what we send, the peer's what it sends
        v.srtp = (Context(params[7], params[6]), Context(params[8], params[6]))
    v.rtcp = c = Rtcp(st[0] << 16 | st[1], b"%x@tinysip" % (st[2] << 16 | st[4]), rng, now)
    if v.srtp is not None:  # SRTCP appends E|index and the 80-bit tag: 14 more bytes
        c[_R_BUF] = bytearray(len(c[_R_BUF]) + 14)
    return v


def Jitter(kind, step=20, params=None):
    """A tinysip.voice.Voice whose jitter buffer is ready and nothing else (tests and tools
    drive put() and get() on it; Voice above goes on from here): kind the audio payload
    type (0 PCMU and 8 PCMA also get the quiet test and are what get() decodes), step the
    frame duration (ptime) in ms (10-60)."""
    from array import array

    from tinysip import voice

    pt = kind
    ptime = step
    if not 10 <= ptime <= 60:
        raise ValueError(nth(voice._REASONS, 19) % (ptime,))
    size = ptime * _TPM
    ns = _DMAX // ptime + 3  # the deepest delay, the frame arriving, the one played
    st = array("i", bytes(4 * (_TAG + ns)))
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
    v = voice.Voice()
    v.params = params or [pt, b"", -1, ptime, b"", 0, 0, None, None, b"recvonly"]
    v.jitter = st
    # Voice.state: our stream (Voice above fills it), the peer's RFC 4733 events, the ring
    v.state = [0] * _RING + [bytearray(size * ns), None, None]
    # one PCM buffer: the microphone's frame until send() encoded it, then the frame get()
    # decodes for the speaker
    v.buf = bytearray(2 * size)
    v.rtcp = None
    v.srtp = None
    return v


def Rtcp(src, name, rng, now):
    """A tinysip.voice RTCP session (its list: see voice.build): src our RTP SSRC (int),
    name our CNAME (bytes, 1-255; RFC 7022: random per call), rng(n) -> bytes, now (ms) the
    session's start."""
    ssrc = src
    cname = name
    k = len(cname)
    if not 0 < k <= 255:
        from tinysip import voice  # (its error texts: only when raising)

        raise ValueError(nth(voice._REASONS, 10) % k)
    c = (4 + 2 + k + 1 + 3) & ~3  # SSRC, CNAME item, END, padding to 32 bits
    chunk = bytearray(4 + c)
    shi = (ssrc >> 16) & 0xFFFF
    slo = ssrc & 0xFFFF
    struct.pack_into(_F5, chunk, 0, 0x81, _R_SDES, c >> 2, shi, slo)
    chunk[8] = 1  # CNAME
    chunk[9] = k
    chunk[10:10 + k] = cname
    # the numbers, then the packet, when the first report is due, rng: one list made at
    # its size (a list grown by += keeps room for twice its length)
    st = [-1] * _R_N + [bytearray(28 + 24 + len(chunk) + 8), 0, rng]
    for i in (_R_EXPP, _R_RECP, _R_NSENT, _R_NRECV, _R_NBAD, _R_FRAC, _R_CLOST, _R_PBYE):
        st[i] = 0
    st[_R_SHI] = shi
    st[_R_SLO] = slo
    st[_R_CHUNK] = bytes(chunk)
    r = rng(2)  # the first report: Tmin / 2 times a uniform 0.5..1.5 (RFC 3550 §6.3.1)
    t = _R_TMIN >> 1
    st[_R_NEXT] = now + (t >> 1) + ((t * (r[0] << 8 | r[1])) >> 16)
    return st


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


# G.711's checked entry points (tinysip.voice has the codec and its kernel, _run): for tests
# and tools; the Voice calls the kernel itself on the buffers it sized.
_run = None  # tinysip.voice's kernel, taken at the first call (not at import)

def encode(kind, src, n, buf, off):
    """Encode n samples of src (16-bit signed little-endian PCM from byte 0) into n codes at
    buf[off:off + n]; kind the payload type, 0 PCMU or 8 PCMA. Returns off + n: the packet
    length when off is the RTP header's. Nothing is allocated."""
    global _run
    if _run is None:  # (a function-level import per call would allocate)
        from tinysip.voice import _run
    _run(src, n, buf, _check(kind, n, len(src) >> 1, off, len(buf), buf))
    return off + n


def decode(kind, src, off, n, buf):
    """Decode the n codes at src[off:off + n] into 16-bit signed little-endian PCM at
    buf[0:2 * n]; kind 0 PCMU, 8 PCMA. Returns 2 * n (bytes written). Nothing is
    allocated."""
    global _run
    if _run is None:  # (a function-level import per call would allocate)
        from tinysip.voice import _run
    _run(src, n, buf, _check(kind, n, len(buf) >> 1, off, len(src), buf) | 2)
    return n * 2


def _check(kind, n, s, off, t, buf):
    """The kernel's flags (off << 2 | law; | 2 decodes) for payload type `kind`, once n
    samples and the codes from off are known to fit a PCM buffer of s samples and a code
    buffer of t bytes, and the output buf is not bytes (viper code would write into it
    regardless); ValueError or TypeError (our caller's bug) if not."""
    w = -1  # the error text's line in tinysip.voice's _REASONS (read only when raising)
    if isinstance(buf, bytes):
        w = 0
    elif kind != _PCMU and kind != _PCMA:
        w = 1
    elif n < 0 or off < 0 or n > s or off + n > t:
        w = 2
    if w >= 0:
        from tinysip import voice

        e = nth(voice._REASONS, w)
        raise TypeError(e) if w == 0 else ValueError(e % ((kind,) if w == 1 else (n, off, s, t)))
    return off << 2 | kind >> 3


def ntp(t):
    """NTP timestamp (RFC 3550 §4) of t ms since 1970 as (seconds high, low, fraction high,
    low): 16-bit halves, as tinysip.voice's build and parse compute it inline (for tests)."""
    s, r = divmod(t, 1000)
    s += 2208988800  # 1900 -> 1970
    f = r * 65536  # fraction = r * 2**32 / 1000, computed 16 bits at a time
    return (s >> 16) & 0xFFFF, s & 0xFFFF, f // 1000, (f % 1000) * 65536 // 1000


def block(v):
    """What an RTCP report block says about the peer's stream in the jitter buffer of the
    Voice v (voice.build's rx; Voice.report computes the same inline): (SSRC high, SSRC
    low, extended highest sequence number high, low, expected, received (A.1: duplicates
    included), jitter in timestamp units), or None before a valid source."""
    st = v.jitter
    if st[_SHI] < 0:
        return None
    c = st[_CYC]
    return (st[_SHI], st[_SLO], c & 0xFFFF, st[_MAX], (c << 16) + st[_MAX] - st[_BASE] + 1,
            st[_RECS], st[_J16] >> 4)


def stats(x):
    """The figures of x as a dict (for `call_ended`; allocates):
    - a Voice: its jitter buffer's: received, lost, late, duplicates, reordered, invalid
      (packets); jitter (timestamp units), jitter_ms; delay_ms (the last frame played),
      delay_min, delay_max, target_ms (ms; None before a frame was played); played,
      concealed, inserted, dropped (frames); resyncs; and, once its RTCP session runs (not
      on a Voice made by Jitter()), the RTCP ones below that say how the peer hears us
      (rtt_ms, peer_lost, peer_jitter_ms) and ours: sent (packets), refused (SRTP tag,
      replay, not RTP);
    - an RTCP session (its list): sent, received, refused (reports); rtt_ms, rtt_min,
      rtt_max (None before an RTT); from the peer's last report about us: peer_lost
      (cumulative), peer_fraction (%), peer_jitter (timestamp units), peer_jitter_ms (8 kHz
      clock), all None before one; peer_bye."""
    if isinstance(x, list):
        st = x
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
    st = x.jitter
    r = block(x)
    lost = st[_LOSTA] + (r[4] - r[5] + st[_DUPS] if r else 0)
    j = st[_J16]
    on = st[_PLAY] > 0
    vals = (st[_REC], lost, st[_LATE], st[_DUP], st[_REORD], st[_INVAL], j >> 4,
            j / (16 * _TPM), st[_DLAST] if on else None, st[_DMINR] if on else None,
            st[_DMAXR] if on else None, st[_TGT] if on else None, st[_PLAY], st[_CONC],
            st[_INS], st[_DROP], st[_RESYNC])
    keys = ("received lost late duplicates reordered invalid jitter jitter_ms delay_ms "
            "delay_min delay_max target_ms played concealed inserted dropped resyncs")
    d = dict(zip(keys.split(), vals))
    if x.rtcp is not None:  # a call's Voice: how the peer hears us, and what we sent
        r = stats(x.rtcp)
        for k in "rtt_ms peer_lost peer_jitter_ms".split():
            d[k] = r[k]
        d.update(zip("sent refused".split(), (x.state[_NPK], x.state[_NBAD])))
    return d


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
