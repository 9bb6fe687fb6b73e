"""SRTP and SRTCP (RFC 3711) with AES_CM_128_HMAC_SHA1_80 and _32, in place, sans-IO.

Owns: one direction of one media stream under one SDES master key (RFC 4568: each side
protects what it sends with its own key): the session keys (§4.3, the AES-CM PRF, key
derivation rate 0), AES counter mode (§4.1.1), HMAC-SHA1 tags (§4.2) over the packet and
the ROC, the sender's ROC and the receiver's index estimate (§3.3.1, Appendix A), a replay
window of 64 packets (§3.3.2) that moves only after a packet authenticates, and SRTCP
(§3.4: E flag, 31-bit SRTCP index, an 80-bit tag in both suites, RFC 4568 §6.2). It does
not read sockets, parse SDP (tinysip.sdes does) or re-key; no MKI (tinysip.sdes refuses
it), no key derivation rate; the receiver follows one SSRC (the first that authenticates).

    ctx = voicesetup.Context(data, tag=80)  data: the 30 bytes of an a=crypto inline key;
                                          tag 80 or 32 (key derivation is set-up code)
    protect(buf, n, off=0) -> length      RTP packet at buf[off:off + n], encrypted in place,
                                          tag appended: buf needs 10 (or 4) more bytes
    unprotect(buf, n, off=0) -> length    the RTP length, or -1 tag wrong, -2 replayed or
                                          older than the window, -3 too short, -4 another SSRC
    protect_rtcp / unprotect_rtcp         the same for SRTCP (14 more bytes: E|index + tag)

Allocation: nothing per packet on MicroPython where the port compiles viper code (unix,
ESP32): the counter blocks, the keystream, the SHA-1 state and its tail blocks live in one
bytearray per context (`s`, layout below), AES (cryptolib, the ESP32's hardware) runs in
place over one memoryview of its _NB keystream blocks (all of them each call: blocks past
the packet's are stale and unused, which costs less than a view per block count), and the tag
is our own SHA-1 compression from precomputed inner and outer key states (RFC 2104's
ipad/opad blocks hashed once per key). hashlib would cost two hash objects and two digests
per packet (384 B on the 64-bit unix port): MicroPython's can be neither copied nor
updated after digest(). SRTCP (one packet in ~5 s) builds its AES object per packet, which
keeps a 480 B AES context (64-bit) out of each Context.

Native code: the hot loops (counter blocks, XOR, SHA-1, HMAC) are viper functions compiled
from source at import (below): mpy-cross without -march cannot carry native code, and lib/
is built arch-independent. The compile passes ~15 KB of heap (64-bit) and keeps the machine
code outside the GC heap (ESP32: ~4 KB of IRAM, never freed: import this module once and
keep it). Viper functions take at most 4 arguments (a fifth makes every call allocate),
hence the packed `x` flags. Where the port has no native emitter (webassembly) or the
compile fails (no heap), and on CPython, the plain functions run (hashlib, big-int XOR):
the same packets, ~10x slower and allocating (tinysip.plain: a module only they load, so
a phone whose viper code compiled carries neither the plain functions nor their names). test_srtp runs both paths; the viper source
names the layout by number. Figures: tools/bench/voice_srtp.py.

Names: every function, argument and attribute name of this module is one the phone already
interns (MicroPython's own or the idle phone's: `_build` the counter blocks, `cipher` the
XOR, `_chunk` one SHA-1 block, `mac` the HMAC, `_keys` its key states, `key` the PRF,
`_apply` the keystream), except the class and its four methods: each new name costs the
phone heap for good (docs/benchmarks.md). The RTP header's length, the ROC guess and the
replay windows are inline in the methods: each function kept costs the phone ~77 B of heap
while a call runs (64-bit unix port, ROMFS), however short it is; the windows are 64 bits
each (8 B), not a byte per index.
"""
import struct

from tinysip.compat import MICROPYTHON, const
from tinysip.errors import nth

if MICROPYTHON:  # AES: aes(key, 1) is ECB (cryptolib: the ESP32's AES hardware), allocating
    from cryptolib import aes  # nothing per call
else:  # CPython: the cryptography package (its own module, named by a long string: the
    # module name of an import statement would be interned on the phone, which runs none of it)
    aes = __import__("tinysip.cpyaes", None, None, ("aes",)).aes

# Context.s: offsets (the viper source below repeats the numbers)
_KP = const(0)  # SRTP HMAC key: inner then outer SHA-1 state, 20 B each (viper path)
_KR = const(40)  # SRTCP HMAC key, the same
_H = const(80)  # SHA-1 chaining value, 5 words
_W = const(100)  # SHA-1 message schedule, 16 words (a ring)
_IX = const(164)  # this packet's 48-bit index i: ROC (4 B) + SEQ (2 B), or the SRTCP index
_SP = const(170)  # SRTP session salt, 14 B
_SR = const(184)  # SRTCP session salt
_EK = const(198)  # SRTCP session key, 16 B
_RP = const(214)  # SRTP replay window: one bit per index mod 64 (1: seen), 8 B
_RR = const(222)  # SRTCP replay window
_KS = const(232)  # keystream, _NB blocks; SHA-1 tail blocks (128 B) reuse it
_NB = const(10)  # keystream blocks per AES call (a 20 ms G.711 payload in one)
_SIZE = const(392)  # _KS + 16 * _NB
_PB = const(392)  # plain path only: HMAC inner and outer key blocks, SRTP then SRTCP (256 B)

# x flags of the hot functions
_RTCP = const(32)  # SRTCP keys (no ROC in the tag, SSRC at 4, the SRTCP salt)
_CHECK = const(64)  # compare the tag at the end of the packet instead of writing it

_F3 = const(b">HHH")  # (bytes: a short str would be an interned name)
# Error texts, one string: a module run in place holds each str constant as a heap object.
_REASONS = ("SRTP needs 30 key bytes and tag 80 or 32\nnot an RTP packet\n"
        "RTP sequence number went back before ROC 0\nnot an RTCP packet")

_AUTH = const(-1)
_REPLAY = const(-2)
_SHORT = const(-3)
_OTHER = const(-4)


_raw = True  # the plain functions run (tinysip.plain); False once the viper ones compiled
if MICROPYTHON:
    # The same functions as viper code. The compiler interns every name it meets for good,
    # so the names are MicroPython's own or ones the phone already has (single letters).
    try:  # one source each: the compiler's peak heap is that of the largest, not of all
        exec("""
@micropython.viper
def _build(s: ptr8, buf: ptr8, x: int, k: int):
    off = (x >> 8) + (4 if x & 32 else 8)
    a = 184 if x & 32 else 170
    n = x & 31
    t = ptr8(int(s) + 232)
    i = 0
    while i < 14:
        v = s[a + i]
        if 4 <= i < 8:
            v ^= buf[off + i - 4]
        elif i >= 8:
            v ^= s[156 + i]
        t[i] = v
        i += 1
    b = 0
    while b < n:
        if b:
            i = 0
            while i < 14:
                t[i] = t[i - 16]
                i += 1
        t[14] = ((k + b) >> 8) & 255
        t[15] = (k + b) & 255
        t = ptr8(int(t) + 16)
        b += 1
""", globals())
        exec("""
@micropython.viper
def cipher(buf: ptr8, s: ptr8, off: int, n: int):
    t = ptr8(int(s) + 232 - off)
    n += off
    while off < n:
        buf[off] = buf[off] ^ t[off]
        off += 1
""", globals())
        # SHA-1 (FIPS 180-4 §6.1.2) of the 64 bytes at buf[off:] into the chaining value at
        # s[80:100] (5 words, the CPU's order), the schedule a ring of 16 words at s[100:];
        # the working variables a..e are a, b, r, d, e and m masks to 32 bits (a no-op on
        # 32-bit ports, where viper ints are 32 bits wide)
        exec("""
@micropython.viper
def _chunk(s: ptr8, buf: ptr8, off: int):
    m = (uint(0xFFFF) << 16) | uint(0xFFFF)
    t = ptr32(int(s) + 80)
    c = ptr32(int(s) + 100)
    buf = ptr8(int(buf) + off)
    i = 0
    while i < 16:
        off = i << 2
        c[i] = (buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]
        i += 1
    a = uint(t[0]) & m
    b = uint(t[1]) & m
    r = uint(t[2]) & m
    d = uint(t[3]) & m
    e = uint(t[4]) & m
    i = 0
    while i < 80:
        if i >= 16:
            v = uint(c[(i - 3) & 15] ^ c[(i - 8) & 15] ^ c[(i - 14) & 15] ^ c[i & 15]) & m
            c[i & 15] = (v << 1) | (v >> 31)
        if i < 20:
            v = ((b & r) | ((b ^ m) & d)) + ((uint(0x5A82) << 16) | 0x7999)
        elif i < 40:
            v = (b ^ r ^ d) + ((uint(0x6ED9) << 16) | 0xEBA1)
        elif i < 60:
            v = ((b & r) | (b & d) | (r & d)) + ((uint(0x8F1B) << 16) | 0xBCDC)
        else:
            v = (b ^ r ^ d) + ((uint(0xCA62) << 16) | 0xC1D6)
        v = (((a << 5) | (a >> 27)) + v + e + (uint(c[i & 15]) & m)) & m
        e = d
        d = r
        r = ((b << 30) | (b >> 2)) & m
        b = a
        a = v
        i += 1
    t[0] = uint(t[0]) + a
    t[1] = uint(t[1]) + b
    t[2] = uint(t[2]) + r
    t[3] = uint(t[3]) + d
    t[4] = uint(t[4]) + e
""", globals())
        # HMAC-SHA1 (RFC 2104) from the precomputed inner/outer states at s[k:k + 40]: the
        # packet's whole blocks straight from buf, its tail (+ ROC, padding, bit length) in
        # the keystream area s[232:360], then the outer block there; returns as mac above
        exec("""
@micropython.viper
def mac(s, buf, n: int, x: int) -> int:
    b = ptr8(s)
    c = ptr32(b)
    t = ptr8(int(b) + 232)
    d = ptr8(int(ptr8(buf)) + (x >> 8))
    k = 10 if x & 32 else 0
    f = n >> 6
    i = 0
    while i < 5:
        c[20 + i] = c[k + i]
        i += 1
    r = n & 63
    i = 0
    while i < r:
        t[i] = d[(f << 6) + i]
        i += 1
    if not x & 32:
        i = 0
        while i < 4:
            t[r] = b[164 + i]
            r += 1
            i += 1
    t[r] = 0x80
    r += 1
    e = 1 if r <= 56 else 2
    while r < (e << 6) - 4:
        t[r] = 0
        r += 1
    i = (n + 64 + (0 if x & 32 else 4)) << 3
    t[r] = (i >> 24) & 255
    t[r + 1] = (i >> 16) & 255
    t[r + 2] = (i >> 8) & 255
    t[r + 3] = i & 255
    a = 0
    while a < f:
        _chunk(s, buf, (x >> 8) + (a << 6))
        a += 1
    a = 0
    while a < e:
        _chunk(s, s, 232 + (a << 6))
        a += 1
    i = 0
    while i < 20:
        t[i] = (uint(c[20 + (i >> 2)]) >> (24 - ((i & 3) << 3))) & 255
        i += 1
    t[20] = 0x80
    i = 21
    while i < 62:
        t[i] = 0
        i += 1
    t[62] = 2
    t[63] = 0xA0
    i = 0
    while i < 5:
        c[20 + i] = c[k + 5 + i]
        i += 1
    _chunk(s, s, 232)
    r = 0
    i = 0
    while i < (x & 31):
        a = int((uint(c[20 + (i >> 2)]) >> (24 - ((i & 3) << 3))) & 255)
        if x & 64:
            r |= a ^ d[n + i]
        else:
            d[n + i] = a
        i += 1
    return r
""", globals())

        _raw = False
    except Exception:  # noqa: BLE001 - no native emitter, or no heap to compile: plain path
        pass
if _raw:  # CPython, or no viper here: the plain functions (and their HMAC key set-up)
    from tinysip.compat import load

    _build, cipher, mac = load(b"tinysip.plain _build cipher mac")


class Context:
    """One direction under one 30-byte master key||salt (RFC 4568 inline key) and suite
    tag: 80 (AES_CM_128_HMAC_SHA1_80) or 32 (_32), the SRTP tag in bits. Use one context to
    protect what we send and another (the peer's key) to unprotect what we receive.

    n = [ROC, highest SEQ (-1: none yet), highest SRTCP index received (-1: none), next
    SRTCP index to send, the SSRC followed as two 16-bit halves (-1: none yet)]."""

    def _apply(self, aes, buf, a, b, x):
        """XOR buf[a:b] with the AES-CM keystream of this packet (s[_IX] holds its index)."""
        s = self.s
        j = 0
        while a < b:
            k = b - a
            if k > 16 * _NB:
                k = 16 * _NB
            nb = (k + 15) >> 4
            _build(s, buf, x | nb, j)
            aes.encrypt(self.v, self.v)  # all _NB blocks: one view, none made per packet
            cipher(buf, s, a, k)
            a += k
            j += nb

    def protect(self, buf, n, off=0):
        """Encrypt the RTP packet at buf[off:off + n] in place and append its tag; returns
        the SRTP length (n + 10, or n + 4 with the _32 suite)."""
        # where the payload starts (after CSRCs and the header extension), here and in
        # unprotect (inline: a function costs the phone heap for as long as a call runs)
        h = n + 1  # (shorter than a header)
        if n >= 12:
            h = 12 + (buf[off] & 15) * 4
            if buf[off] & 0x10:
                h = h + 4 + (buf[off + h + 2] << 8 | buf[off + h + 3]) * 4 if h + 4 <= n else n + 1
        if h > n:
            raise ValueError(nth(_REASONS, 1))
        q = buf[off + 2] << 8 | buf[off + 3]
        st = self.n
        # the ROC guessed for q (RFC 3711 Appendix A; -1: before ROC 0), here and in
        # unprotect (inline: a method costs the phone heap for as long as a call runs)
        roc = st[0]
        if st[1] >= 0:
            roc += (-1 if q - st[1] > 32768 else 0) if st[1] < 32768 else (
                1 if st[1] - 32768 > q else 0)
        if roc < 0:
            raise ValueError(nth(_REASONS, 2))
        if st[1] < 0 or roc > st[0] or roc == st[0] and q > st[1]:
            st[0] = roc
            st[1] = q
        struct.pack_into(_F3, self.s, _IX, roc >> 16, roc & 0xFFFF, q)
        self._apply(self.e, buf, off + h, off + n, off << 8)
        mac(self.s, buf, n, off << 8 | self.t)
        return n + self.t

    def unprotect(self, buf, n, off=0):
        """Check and decrypt the SRTP packet at buf[off:off + n] in place: the RTP length,
        or -1 (tag wrong), -2 (replayed, or older than the window), -3 (too short), -4 (from
        another SSRC than the first one that authenticated: one stream per context). Only a
        packet that authenticates moves the ROC and the replay window."""
        n -= self.t
        h = n + 1  # the payload, as in protect
        if n >= 12:
            h = 12 + (buf[off] & 15) * 4
            if buf[off] & 0x10:
                h = h + 4 + (buf[off + h + 2] << 8 | buf[off + h + 3]) * 4 if h + 4 <= n else n + 1
        if h > n:
            return _SHORT
        st = self.n
        a = buf[off + 8] << 8 | buf[off + 9]
        b = buf[off + 10] << 8 | buf[off + 11]
        if st[4] >= 0 and (a != st[4] or b != st[5]):
            return _OTHER
        q = buf[off + 2] << 8 | buf[off + 3]
        roc = st[0]  # the ROC guessed for q, as in protect
        if st[1] >= 0:
            roc += (-1 if q - st[1] > 32768 else 0) if st[1] < 32768 else (
                1 if st[1] - 32768 > q else 0)
        s = self.s
        hi = st[0] << 16 | st[1] if st[1] >= 0 else -1
        i = roc << 16 | q
        # the replay window (§3.3.2): index i is new if above the highest, or within the 64
        # below it and its bit (i mod 64) not set; here and for SRTCP, inline as above
        d = hi - i
        if roc < 0 or d >= 64 or d >= 0 and s[_RP + (i >> 3 & 7)] >> (i & 7) & 1:
            return _REPLAY
        struct.pack_into(_F3, s, _IX, roc >> 16, roc & 0xFFFF, q)
        if mac(s, buf, n, off << 8 | _CHECK | self.t):
            return _AUTH
        self._apply(self.e, buf, off + h, off + n, off << 8)
        if i > hi:  # authenticated: the window moves up to i (the bits it skips cleared)
            k = hi + 1 if hi >= 0 and i - hi < 64 else i - 63
            while k < i:
                s[_RP + (k >> 3 & 7)] &= ~(1 << (k & 7))
                k += 1
            st[0] = roc
            st[1] = q
        s[_RP + (i >> 3 & 7)] |= 1 << (i & 7)
        st[4] = a
        st[5] = b
        return n

    def protect_rtcp(self, buf, n, off=0):
        """Encrypt the RTCP compound packet at buf[off:off + n] in place, append E=1 and the
        SRTCP index, then the 80-bit tag; returns the SRTCP length (n + 14)."""
        if n < 8:
            raise ValueError(nth(_REASONS, 3))
        s = self.s
        i = self.n[3]
        self.n[3] = (i + 1) & 0x7FFFFFFF
        struct.pack_into(_F3, s, _IX, 0, i >> 16, i & 0xFFFF)
        self._apply(aes(bytes(s[_EK:_EK + 16]), 1), buf, off + 8, off + n, off << 8 | _RTCP)
        struct.pack_into(_F3, buf, off + n, 0x8000 | i >> 16, i & 0xFFFF, 0)  # + 2 tag bytes
        mac(s, buf, n + 4, off << 8 | _RTCP | 10)
        return n + 14

    def unprotect_rtcp(self, buf, n, off=0):
        """Check and decrypt the SRTCP packet at buf[off:off + n] in place: the RTCP length,
        or -1, -2, -3 as unprotect (any SSRC: the window is on the SRTCP index)."""
        n -= 14
        if n < 8:
            return _SHORT
        s = self.s
        e = buf[off + n]
        i = (e & 0x7F) << 24 | buf[off + n + 1] << 16 | buf[off + n + 2] << 8 | buf[off + n + 3]
        hi = self.n[2]
        d = hi - i
        if d >= 64 or d >= 0 and s[_RR + (i >> 3 & 7)] >> (i & 7) & 1:
            return _REPLAY
        if mac(s, buf, n + 4, off << 8 | _RTCP | _CHECK | 10):
            return _AUTH
        if e & 0x80:
            struct.pack_into(_F3, s, _IX, 0, i >> 16, i & 0xFFFF)
            self._apply(aes(bytes(s[_EK:_EK + 16]), 1), buf, off + 8, off + n, off << 8 | _RTCP)
        if i > hi:
            k = hi + 1 if hi >= 0 and i - hi < 64 else i - 63
            while k < i:
                s[_RR + (k >> 3 & 7)] &= ~(1 << (k & 7))
                k += 1
            self.n[2] = i
        s[_RR + (i >> 3 & 7)] |= 1 << (i & 7)
        return n

