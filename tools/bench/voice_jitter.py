"""Jitter buffer and RTCP cost per voice frame on the runtime that runs this file.

    .venv/bin/python tools/bench/voice_jitter.py
    .venv/bin/micropython tools/bench/voice_jitter.py

Runs tinysip.voice's jitter buffer and RTCP (formerly tinysip.jitter; from lib/, or from
TINYSIP_MPY_LIB: lib/ compiled
with mpy-cross) and prints
- microseconds per put + get of one 20 ms G.711 frame (the mean over 5,000 frames of a
  stream with 0..9 ms of jitter, 1 frame in 50 lost and a 140 ms late packet every 10 s,
  so the buffer grows, conceals and shrinks as in a call), from one receive buffer as an
  adapter has;
- bytes the heap hands out per frame in steady state (MicroPython: gc.mem_alloc() with the
  GC off around 1,000 frames; CPython: tracemalloc's peak over the live bytes, allocations
  the device never sees);
- microseconds per RTCP report built (SR + block + SDES) and per report parsed;
- on MicroPython: the heap that importing each module costs (source or .mpy, as found on
  the path) and one stream's state (a Jitter at 20 ms, an Rtcp).
A benchmark: prints figures and always exits 0.
"""
import gc
import os
import sys
import time

MICROPYTHON = sys.implementation.name == "micropython"
FRAMES = 5000
ALLOC_FRAMES = 1000
SSRC = 0x5EED1234
# lib/, or TINYSIP_MPY_LIB: lib/ compiled by mpy-cross (what a device imports)
sys.path.insert(0, getattr(os, "getenv", lambda k: None)("TINYSIP_MPY_LIB")
                or (__file__.rpartition("/")[0] or ".") + "/../../lib")
if MICROPYTHON:
    clock_us, ticks_diff = time.ticks_us, time.ticks_diff
else:
    import tracemalloc

    def clock_us():
        return time.perf_counter_ns() // 1000

    def ticks_diff(a, b):
        return a - b


def import_costs():
    """Heap bytes that importing tinysip.voice (jitter buffer, RTCP, G.711, RFC 4733) costs
    (MicroPython), after tinysip.compat, which it uses."""
    from tinysip import compat  # noqa: F401

    costs = []
    for name in ("voice",):  # (the jitter buffer and RTCP are in tinysip.voice)
        gc.collect()
        h0 = gc.mem_alloc()
        __import__("tinysip." + name)
        gc.collect()
        costs.append((name, gc.mem_alloc() - h0))
    return costs


COSTS = import_costs() if MICROPYTHON else None
from tinysip.voice import build, parse  # noqa: E402
from tinysip.voicesetup import Jitter, Rtcp, stats  # noqa: E402


def since(t0):
    return ticks_diff(clock_us(), t0)


class Stream:
    """One sender's packets written in place into one receive buffer."""

    def __init__(self):
        self.buf = bytearray(172 + 28)
        b = self.buf
        b[0] = 0x80
        b[8] = SSRC >> 24
        b[9] = SSRC >> 16 & 255
        b[10] = SSRC >> 8 & 255
        b[11] = SSRC & 255

    def frame(self, i):
        b = self.buf
        seq = (60000 + i) & 0xFFFF
        ts = (0xFFF00000 + i * 160) & 0xFFFFFFFF
        b[2] = seq >> 8
        b[3] = seq & 255
        b[4] = ts >> 24
        b[5] = ts >> 16 & 255
        b[6] = ts >> 8 & 255
        b[7] = ts & 255
        c = 0xFF if (i // 100) % 3 == 2 else 0x00  # speech, with a pause every 3 s
        for k in range(31, 172, 20):
            b[k] = c


def play(jb, st, a, b, timed):
    """Frames a..b-1 into jb; returns the microseconds spent in put + get when timed."""
    us = 0
    buf = st.buf
    for i in range(a, b):
        t = 1000 + i * 20
        if i % 500 == 120:  # 140 ms late: the delay grows, then shrinks
            st.frame(i - 7)
            jb.put(buf, 172, t)
        if i % 50 != 13 and i % 500 != 113:
            st.frame(i)
            if timed:
                t0 = clock_us()
                jb.put(buf, 172, t + (i * 37) % 10)
                jb.get(t + 11)
                us += since(t0)
            else:
                jb.put(buf, 172, t + (i * 37) % 10)
                jb.get(t + 11)
        elif timed:
            t0 = clock_us()
            jb.get(t + 11)
            us += since(t0)
        else:
            jb.get(t + 11)
    return us


def per_frame_bytes(jb, st, a):
    """Bytes allocated per frame over ALLOC_FRAMES frames from frame a."""
    if MICROPYTHON:
        gc.collect()
        gc.disable()
        h0 = gc.mem_alloc()
        play(jb, st, a, a + ALLOC_FRAMES, False)
        h1 = gc.mem_alloc()
        gc.enable()
        return (h1 - h0) / ALLOC_FRAMES
    tracemalloc.start()
    s0 = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    play(jb, st, a, a + ALLOC_FRAMES, False)
    peak = tracemalloc.get_traced_memory()[1] - s0
    tracemalloc.stop()
    return peak


def rng(n):
    return os.urandom(n)


def rtcp_us():
    """(us per report built, us per report parsed): SR + one block + SDES CNAME."""
    a = Rtcp(0x11223344, b"bench@tinysip", rng, 0)
    b = Rtcp(0x55667788, b"peer@tinysip", rng, 0)
    rx = (0x5566, 0x7788, 1, 1234, 5000, 4990, 40)
    sent = (0x1234, 0x5678, 5000, 800000)
    wall = 1767225600000
    k = 200
    t0 = clock_us()
    for i in range(k):
        n = build(a, i, wall + i, rx, sent)
    built = since(t0) / k
    pkt = bytes(a[20][:n])  # (voice's _R_BUF)
    t0 = clock_us()
    for i in range(k):
        parse(b, pkt, n, i, wall + i)
    return built, since(t0) / k


def state_bytes():
    """Heap bytes of one Jitter (20 ms, after its first packets made the source view) and
    of one Rtcp (MicroPython only)."""
    if not MICROPYTHON:
        return None, None
    st = Stream()
    gc.collect()
    h0 = gc.mem_alloc()
    jb = Jitter(0)
    play(jb, st, 0, 3, False)
    gc.collect()
    h1 = gc.mem_alloc()
    r = Rtcp(0x11223344, b"bench@tinysip", rng, 0)
    gc.collect()
    h2 = gc.mem_alloc()
    return (h1 - h0, jb), (h2 - h1, r)


def main():
    name = sys.implementation.name
    jb = Jitter(0)
    st = Stream()
    play(jb, st, 0, 500, False)  # warm up: the first source, the window, a resize or two
    us = play(jb, st, 500, 500 + FRAMES, True) / FRAMES
    alloc = per_frame_bytes(jb, st, 500 + FRAMES)
    s = stats(jb)
    print("jitter buffer on %s, 20 ms G.711 frames:" % name)
    print("  put + get: %.1f us per frame (mean of %d)" % (us, FRAMES))
    if MICROPYTHON:
        print("  allocated per frame in steady state: %.1f B (gc off, %d frames)"
              % (alloc, ALLOC_FRAMES))
    else:
        print("  allocated per frame: peak %d B over the live bytes (tracemalloc, %d frames;"
              " CPython only, the device allocates none)" % (alloc, ALLOC_FRAMES))
    print("  stream: played %d, concealed %d, inserted %d, dropped %d, late %d, lost %d, "
          "delay %s..%s ms" % (s["played"], s["concealed"], s["inserted"], s["dropped"],
                               s["late"], s["lost"], s["delay_min"], s["delay_max"]))
    b, p = rtcp_us()
    print("RTCP: build SR + block + SDES %.1f us, parse %.1f us (one report every ~5 s)"
          % (b, p))
    if MICROPYTHON:
        for mod, c in COSTS:
            print("  import tinysip.%s: %d B of heap" % (mod, c))
        j, r = state_bytes()
        print("  one stream's state: Jitter(20 ms) %d B (%d slots), Rtcp %d B"
              % (j[0], j[1].jitter[46], r[0]))  # (voice's _NS)
    return 0


main()
