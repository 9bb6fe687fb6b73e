"""tinysip.srtp against an independent SRTP built here from RFC 3711's formulas with the
`cryptography` package (AES-CTR) and `hmac` (CPython only: those are not on MicroPython).
# mpy: skip
"""
import hmac
import random
import struct
from hashlib import sha1

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tinysip import srtp
from tinysip.voicesetup import Context


def aes_ctr(key, iv, data):
    return Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor().update(data)


def kdf(master, label, n):
    """RFC 3711 §4.3.1/§4.3.3 with kdr 0: AES-CM keystream from (salt XOR label<<48) * 2^16."""
    x = int.from_bytes(master[16:], "big") ^ (label << 48)
    return aes_ctr(master[:16], (x << 16).to_bytes(16, "big"), bytes(n))


def iv(salt, ssrc, index):
    """RFC 3711 §4.1.1: (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16)."""
    v = (int.from_bytes(salt, "big") << 16) ^ (ssrc << 64) ^ (index << 16)
    return v.to_bytes(16, "big")


def header_len(p):
    h = 12 + 4 * (p[0] & 15)
    if p[0] & 0x10:
        h += 4 + 4 * struct.unpack(">H", p[h + 2:h + 4])[0]
    return h


def ref_srtp(master, p, roc, tag):
    ke, ka, ks = kdf(master, 0, 16), kdf(master, 1, 20), kdf(master, 2, 14)
    h = header_len(p)
    seq, = struct.unpack(">H", p[2:4])
    ssrc, = struct.unpack(">I", p[8:12])
    body = p[:h] + aes_ctr(ke, iv(ks, ssrc, roc << 16 | seq), p[h:])
    return body + hmac.new(ka, body + struct.pack(">I", roc), sha1).digest()[:tag]


def ref_srtcp(master, p, index, encrypt=True):
    ke, ka, ks = kdf(master, 3, 16), kdf(master, 4, 20), kdf(master, 5, 14)
    ssrc, = struct.unpack(">I", p[4:8])
    body = p[:8] + (aes_ctr(ke, iv(ks, ssrc, index), p[8:]) if encrypt else p[8:])
    body += struct.pack(">I", (0x80000000 if encrypt else 0) | index)
    return body + hmac.new(ka, body, sha1).digest()[:10]


def packet(rnd, seq, size, csrcs=0, ext=0, ssrc=None):
    b0 = 0x80 | csrcs | (0x10 if ext else 0)
    p = struct.pack(">BBHII", b0, rnd.randrange(128), seq, rnd.getrandbits(32),
                    rnd.getrandbits(32) if ssrc is None else ssrc) + rnd.randbytes(4 * csrcs)
    if ext:
        p += struct.pack(">HH", 0xBEDE, ext) + rnd.randbytes(4 * ext)
    return p + rnd.randbytes(size)


def test_matches_the_reference_for_many_packets():
    rnd = random.Random(3711)
    for tag in (80, 32):
        master = rnd.randbytes(30)
        tx, rx = Context(master, tag), Context(master, tag)
        for k in range(200):
            roc = rnd.choice((0, 0, 1, 7, 0xFFFF, 0x10000, 0xFFFFFFFE))
            seq = rnd.randrange(65536)
            tx.n[:2] = [roc, seq]  # the sender's state: this packet is its next
            p = packet(rnd, seq, rnd.choice((0, 1, 15, 16, 17, 160, 255, 256, 257, 1400)),
                       rnd.randrange(16), rnd.choice((0, 0, 1, 3)))
            off = rnd.choice((0, 1, 12))
            buf = bytearray(off + len(p) + 10)
            buf[off:off + len(p)] = p
            n = tx.protect(buf, len(p), off)
            want = ref_srtp(master, p, roc, tag // 8)
            assert bytes(buf[off:off + n]) == want, (k, roc, seq, len(p))
            rx.n[:2] = [roc, seq - 1 if seq else 0]  # the receiver expects it next
            rx.n[4] = -1
            rx.s[214:222] = bytes(8)
            got = bytearray(b"\0" * off + want)
            assert rx.unprotect(got, len(want), off) == len(p)
            assert bytes(got[off:off + len(p)]) == p


def test_srtcp_matches_the_reference():
    rnd = random.Random(4568)
    master = rnd.randbytes(30)
    tx, rx = Context(master, 32), Context(master, 32)
    for index in range(40):
        p = struct.pack(">BBHI", 0x81, 200, 6, rnd.getrandbits(32)) + rnd.randbytes(
            rnd.choice((0, 20, 24, 300)))
        buf = bytearray(len(p) + 14)
        buf[:len(p)] = p
        n = tx.protect_rtcp(buf, len(p))
        want = ref_srtcp(master, p, index)
        assert bytes(buf[:n]) == want
        got = bytearray(want)
        assert rx.unprotect_rtcp(got, len(got)) == len(p)
        assert bytes(got[:len(p)]) == p
    # E = 0 (a sender that does not encrypt SRTCP): authenticated, read as it is
    p = struct.pack(">BBHI", 0x80, 201, 1, 77)
    clear = bytearray(ref_srtcp(master, p, 1000, encrypt=False))
    assert rx.unprotect_rtcp(clear, len(clear)) == len(p)
    assert bytes(clear[:len(p)]) == p
    # the SRTCP session salt (label 5) is where srtp keeps it
    assert bytes(tx.s[184:198]) == kdf(master, 5, 14)


def test_receiver_follows_a_real_wrap():
    rnd = random.Random(16)
    master = rnd.randbytes(30)
    tx, rx = Context(master), Context(master)
    seq = 65000
    for k in range(1200):  # 536 packets before the wrap, 664 after
        p = packet(rnd, seq, 160, ssrc=0xDECAFBAD)
        buf = bytearray(p + bytes(10))
        n = tx.protect(buf, len(p))
        assert bytes(buf[:n]) == ref_srtp(master, p, 1 if k >= 536 else 0, 10)
        assert rx.unprotect(buf, n) == len(p) and bytes(buf[:len(p)]) == p
        seq = (seq + 1) & 0xFFFF
    assert tx.n[:2] == rx.n[:2] == [1, 663]
