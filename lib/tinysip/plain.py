"""The plain-Python loops of tinysip.voice's G.711 kernel and tinysip.srtp's SRTP kernels.

On MicroPython those modules compile their kernels as viper code at import (machine ints,
raw pointers, allocating nothing); this module is what runs instead where that cannot
happen: on CPython, on a port without a native emitter (webassembly), or when the compile
fails (MemoryError on a crowded heap). The results are the same (the tests run both paths
on MicroPython). Where the viper code compiled, nothing loads this module, so a phone's
call carries neither its functions nor its names (each function kept costs ~80 B of heap
for good on the 64-bit unix port, and each new name heap too).

The SRTP functions work on tinysip.srtp's Context.s layout (the offsets below are srtp's,
and test_srtp checks they agree), with the HMAC key blocks at s[_PB:] (256 B more, made by
tinysip.voicesetup.Context): hashlib's SHA-1 and big-int XOR, allocating per packet.
"""
from hashlib import sha1

from tinysip.compat import const

_T = None  # G.711's table: tinysip.voice's, taken at the first call (see _run)

# tinysip.srtp's Context.s offsets and x flags
_IX = const(164)
_SP = const(170)
_SR = const(184)
_KS = const(232)
_PB = const(392)
_RTCP = const(32)
_CHECK = const(64)


# SRTP: the counter blocks, the keystream XOR, the HMAC and its key blocks (srtp.py has what
# each does; the viper ones keep precomputed SHA-1 states instead of the key blocks)
def _build(s, buf, x, k):
    """Counter blocks k.. (x & 31 of them) into s[_KS:]; x >> 8 is the packet's offset in buf."""
    o = (x >> 8) + (4 if x & _RTCP else 8)
    a = _SR if x & _RTCP else _SP
    iv = bytearray(s[a:a + 14])
    for i in range(4):
        iv[4 + i] ^= buf[o + i]
    for i in range(6):
        iv[8 + i] ^= s[_IX + i]
    t = _KS
    for b in range(x & 31):
        s[t:t + 14] = iv
        s[t + 14] = (k + b) >> 8 & 255
        s[t + 15] = (k + b) & 255
        t += 16


def cipher(buf, s, off, n):
    """buf[off:off + n] ^= the keystream."""
    buf[off:off + n] = (int.from_bytes(buf[off:off + n], "big")
                      ^ int.from_bytes(s[_KS:_KS + n], "big")).to_bytes(n, "big")


def mac(s, buf, n, x):
    """HMAC-SHA1 of the packet buf[o:o + n] (o = x >> 8), then the ROC unless x & _RTCP; its
    first x & 31 bytes are written after the packet or, with x & _CHECK, compared with what
    is there (returns non-zero when they differ)."""
    k = _PB + (128 if x & _RTCP else 0)
    o = x >> 8
    m = memoryview(s)
    h = sha1(m[k:k + 64])
    h.update(memoryview(buf)[o:o + n])
    if not x & _RTCP:
        h.update(m[_IX:_IX + 4])
    d = sha1(m[k + 64:k + 128])
    d.update(h.digest())
    d = d.digest()
    t = x & 31
    if x & _CHECK:
        r = 0
        for i in range(t):
            r |= d[i] ^ buf[o + n + i]
        return r
    buf[o + n:o + n + t] = d[:t]
    return 0


def _keys(s, k, key):
    """Keep the HMAC key for mac: its inner and outer blocks (RFC 2104) at s[_PB:]."""
    k = _PB + (128 if k else 0)
    key = key + bytes(44)
    s[k:k + 64] = bytes([b ^ 0x36 for b in key])
    s[k + 64:k + 128] = bytes([b ^ 0x5C for b in key])


# G.711: f = off << 2 | decode << 1 | law (0 mu-law, 1 A-law); encode reads PCM from src[0:]
# and writes codes at buf[off:], decode reads the codes at src[off:] and writes PCM at
# buf[0:] (voice.py has the formulas)
def _run(src, n, buf, f):
    global _T
    if _T is None:  # (not at import: srtp may load this module before voice is loaded)
        from tinysip.voice import _T
    t = _T
    s = 0
    off = f >> 2
    if f & 2:
        r = 256 + ((f & 1) << 9)
        for off in range(off, off + n):
            v = r + (src[off] << 1)
            buf[s] = t[v]
            buf[s + 1] = t[v + 1]
            s += 2
    elif f & 1:
        for off in range(off, off + n):
            v = src[s + 1] << 8 | src[s]
            s += 2
            if v & 0x8000:
                v = (0xFFFF - v) >> 3  # -x - 1
                r = 0x55
            else:
                v >>= 3
                r = 0xD5
            e = t[v >> 4]
            buf[off] = (e << 4 | v >> (e or 1) & 15) ^ r
    else:
        for off in range(off, off + n):
            v = src[s + 1] << 8 | src[s]
            s += 2
            if v & 0x8000:
                v = 16417 - (v >> 2)  # -x + 33
                r = 0x7F
            else:
                v = (v >> 2) + 33
                r = 0xFF
            if v > 8191:
                v = 8191
            e = t[v >> 5]
            buf[off] = (e << 4 | v >> e + 1 & 15) ^ r
