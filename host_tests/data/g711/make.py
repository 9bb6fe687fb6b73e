"""Write the G.711 reference tables in this folder from CPython's audioop (3.11 or 3.12).

    python3.11 host_tests/data/g711/make.py

audioop's lin2ulaw/ulaw2lin/lin2alaw/alaw2lin are the Sun/CCITT reference code (g711.c)
that implements ITU-T G.711 Table 1 (A-law) and Table 2 (mu-law). The files:

- ulaw_enc.bin (16,384 B): the PCMU code of every 14-bit input, indexed by the unsigned
  16-bit sample >> 2 (G.711 mu-law takes 14 bits; the low 2 bits never matter).
- alaw_enc.bin (8,192 B): the PCMA code of every 13-bit input, indexed by the unsigned
  16-bit sample >> 3 (A-law takes 13 bits).
- ulaw_dec.bin, alaw_dec.bin (512 B each): the 16-bit signed little-endian value of each
  of the 256 codes.

Before writing, every one of the 65,536 16-bit inputs is checked against the index rule
above, and a few values against the G.711 tables by hand (see CHECKS).
"""
import os
import struct
import sys
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # removed in Python 3.13

HERE = os.path.dirname(os.path.abspath(__file__))

# (16-bit input, mu-law code, A-law code), read off G.711 Tables 1 and 2: zero is
# 0xFF / 0xD5 (mu-law all ones; A-law even bits inverted), the largest magnitudes are the
# top codes 0x80/0x00 (mu-law) and 0xAA/0x2A (A-law).
CHECKS = [
    (0, 0xFF, 0xD5),
    (-1, 0x7E, 0x55),  # 14-bit -1 (the shift floors): mu-law magnitude 1; A-law's -1 is 0
    (4, 0xFE, 0xD5),  # 14-bit 1: mu-law's first step (inputs 1-2); A-law's first is 0-1
    (16, 0xFD, 0xD4),  # 14-bit 4: mu-law inputs 3-4; 13-bit 2: A-law inputs 2-3
    (32767, 0x80, 0xAA),
    (-32768, 0x00, 0x2A),
]
# (code, 16-bit output): the top outputs, mu-law 8031 and A-law 4032, scaled to 16 bits
DECODE_CHECKS = [(0x80, 0, 32124), (0xFF, 0, 0), (0x7F, 0, 0), (0xAA, 1, 32256), (0xD5, 1, 8)]


def enc(fn, v):
    return fn(struct.pack("<h", v), 2)[0]


def dec(fn, c):
    return struct.unpack("<h", fn(bytes([c]), 2))[0]


def main():
    for v, mu, a in CHECKS:
        assert enc(audioop.lin2ulaw, v) == mu, (v, hex(enc(audioop.lin2ulaw, v)))
        assert enc(audioop.lin2alaw, v) == a, (v, hex(enc(audioop.lin2alaw, v)))
    for c, law, out in DECODE_CHECKS:
        assert dec(audioop.alaw2lin if law else audioop.ulaw2lin, c) == out, (c, law)
    pcm = struct.pack("<65536h", *range(-32768, 32768))
    mu = audioop.lin2ulaw(pcm, 2)
    al = audioop.lin2alaw(pcm, 2)
    mu_t = bytearray(16384)
    al_t = bytearray(8192)
    for i, v in enumerate(range(-32768, 32768)):
        u = v & 0xFFFF
        mu_t[u >> 2] = mu[i]
        al_t[u >> 3] = al[i]
    for i, v in enumerate(range(-32768, 32768)):  # the low bits never change the code
        u = v & 0xFFFF
        assert mu[i] == mu_t[u >> 2] and al[i] == al_t[u >> 3], v
    out = {
        "ulaw_enc.bin": bytes(mu_t),
        "alaw_enc.bin": bytes(al_t),
        "ulaw_dec.bin": audioop.ulaw2lin(bytes(range(256)), 2),
        "alaw_dec.bin": audioop.alaw2lin(bytes(range(256)), 2),
    }
    if sys.byteorder != "little":  # audioop writes native order; the files are little-endian
        out = {k: (v if "enc" in k else audioop.byteswap(v, 2)) for k, v in out.items()}
    for name, data in out.items():
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
        print("%s: %d bytes" % (name, len(data)))


if __name__ == "__main__":
    main()
