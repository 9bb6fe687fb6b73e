"""SRTP cost per voice packet: protect and unprotect of one 20 ms G.711 packet (172 B).

    .venv/bin/python tools/bench/voice_srtp.py [--json]
    .venv/bin/micropython tools/bench/voice_srtp.py [--json]

Runs tinysip.srtp (from lib/, or from TINYSIP_MPY_LIB: lib/ compiled with mpy-cross) on the
runtime that runs this file and prints, per suite, the microseconds per protect and per
unprotect (the mean over 2,000 packets through a sender and a receiver context with the same
key, as in a call) and the bytes the heap hands out per packet pair in steady state
(MicroPython: gc.mem_alloc() with the GC off around 200 pairs, per pair; CPython:
tracemalloc's peak over those 200 pairs, allocations the device never sees). On MicroPython
the viper path (what the phone runs where the port compiles it) and the plain path (its
fallback) both run, and it prints the heap that importing tinysip.srtp keeps and one
context's state.
A benchmark: prints figures and always exits 0. --json: the figures as one JSON line last.
"""
import os
import sys

HERE = __file__.rpartition("/")[0] or "."
sys.path[:0] = [(os.getenv("TINYSIP_MPY_LIB") if hasattr(os, "getenv") else None)
                or HERE + "/../../lib", HERE]

# tools/bench/sigverify.py: the clock and the GC-off heap reading the other benches use
from sigverify import MICROPYTHON, clock, elapsed_us, heap_cost  # noqa: E402
from tinysip import compat  # noqa: E402, F401 - shared with the rest: not charged to srtp

ROUNDS = 2000
PAIRS = 200
LEN = 172  # 12-byte RTP header + 160 bytes of G.711 (20 ms at 8 kHz)

IMPORT = heap_cost(lambda: __import__("tinysip.srtp"))[1] if MICROPYTHON else None
from tinysip import srtp  # noqa: E402

PATHS = {"plain": srtp._raw}
if srtp.cipher is not srtp._raw[1]:
    PATHS["viper"] = (srtp._build, srtp.cipher, srtp.mac, srtp._keys)


def use(path):
    srtp._build, srtp.cipher, srtp.mac, srtp._keys = PATHS[path]


def packet(buf, seq):
    """A G.711 packet with sequence number seq at buf[0:LEN]."""
    buf[0] = 0x80
    buf[1] = 0
    buf[2] = seq >> 8 & 255
    buf[3] = seq & 255
    for i in range(4, LEN):
        buf[i] = i & 255


def run(tag):
    """(us per protect, us per unprotect, bytes per packet pair) for one suite."""
    key = bytes(range(30))
    tx = srtp.Context(key, tag)
    rx = srtp.Context(key, tag)
    buf = bytearray(LEN + 10)
    seq = [1000]
    prot = unprot = 0
    for _ in range(ROUNDS):
        seq[0] += 1
        packet(buf, seq[0])
        t0 = clock()
        n = tx.protect(buf, LEN)
        prot += elapsed_us(t0)
        t0 = clock()
        r = rx.unprotect(buf, n)
        unprot += elapsed_us(t0)
        assert r == LEN

    def pairs():
        for _ in range(PAIRS):
            n = tx.protect(buf, LEN)
            rx.unprotect(buf, n)
            seq[0] += 1  # the next packet: the same bytes, decrypted in place, a new number
            buf[2] = seq[0] >> 8 & 255
            buf[3] = seq[0] & 255

    a = heap_cost(pairs)[0]  # MicroPython: allocated; CPython: tracemalloc's peak
    return prot / ROUNDS, unprot / ROUNDS, a / PAIRS if MICROPYTHON else a


def context_heap():
    """Heap one context keeps (MicroPython), with the view its first packet makes."""
    buf = bytearray(LEN + 10)
    packet(buf, 1)
    keep = []

    def make():
        keep.append(srtp.Context(bytes(30)))
        keep[0].protect(buf, LEN)

    return heap_cost(make)[1]


def main(argv):
    figures = {"runtime": sys.implementation.name}
    print("SRTP per %d-byte G.711 packet on %s, mean of %d:" % (LEN, figures["runtime"], ROUNDS))
    for path in sorted(PATHS):
        use(path)
        for tag in (80, 32):
            p, u, a = run(tag)
            figures["%s_%d" % (path, tag)] = {"protect_us": round(p, 2),
                                              "unprotect_us": round(u, 2),
                                              "alloc": round(a)}
            print("  %-5s AES_CM_128_HMAC_SHA1_%d: protect %.1f us, unprotect %.1f us, "
                  "together %.1f us; %s" % (
                      path, tag, p, u, p + u,
                      ("%d B allocated per packet pair" % a) if MICROPYTHON else
                      ("tracemalloc peak %d B over %d pairs" % (a, PAIRS))))
    use(sorted(PATHS)[-1])
    if MICROPYTHON:
        figures["import_heap"] = IMPORT
        figures["context_heap"] = context_heap()
        print("  import tinysip.srtp keeps %d B of heap (source or .mpy, as found); "
              "one context %d B" % (IMPORT, figures["context_heap"]))
    if "--json" in argv:
        import json

        print(json.dumps(figures))
    return 0


main(sys.argv[1:])
