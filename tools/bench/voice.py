"""Voice call budgets (issue 17) on the runtime that runs this script: the whole per-frame
path of a G.711 call with SRTP, and the heap one call adds.

    .venv/bin/python tools/romfs.py run IMAGE tools/bench/voice.py [--json]
                                          (MicroPython, the code in place: time and heap)
    .venv/bin/micropython tools/bench/voice.py [--json]     (MicroPython from lib/ source)
    .venv/bin/python tools/bench/voice.py [--json]          (CPython: time only)

- frame: one 20 ms frame both ways through two tinysip.voice.Voice engines in memory, as a
  call does it: encode + RTP + SRTP protect (send), SRTP unprotect + jitter buffer (receive),
  jitter buffer + decode (play); microseconds per frame (best of 5 runs of 500 frames;
  budget 250 us on the unix port, issue 17) and bytes allocated per frame in steady state
  (MicroPython, gc off; budget 0).
- heap: gc.mem_alloc() after gc.collect() before and after importing the modules a voice
  call loads (sdp, audio, sdes, voice, srtp, io.voiceport, io.udp;
  not the board's audio: callctl and io.wav / io.i2s) and making one call's engine with
  SRTP (two SRTP contexts, jitter buffer, RTCP, DTMF) the way io.voiceport does:
  io.udp loaded to bind (VoicePort.__init__) and forgotten, tinysip.voicesetup loaded
  (compat.load) to make the engine, then forgotten with the offer/answer modules
  (VoicePort.start(): compat.drop of "audio sdes sdp" and of tinysip.voicesetup), on the MicroPython port that runs this (64-bit unix: budget 12 KB
  over the idle phone, whose modules, app's included, are imported first; "modules" is
  what stays of them once the media runs, "engine" the objects of one call). Run from a
  ROMFS image (tools/bench/run.py does) for the device's figure.
- names: `--pad N` interns N more names once the idle phone's modules are in, so that the
  call starts from as many interned names as the running phone has (tools/bench/run.py
  measures N: the idle modules' names + test_names.RUNTIME - this script's count there);
  qstr_info() is printed there and after the call's set-up (run.py reads n_qstr, n_pool):
  a call that crosses 620 names pays a 6th qstr pool (~7 KB, one block) in its modules.
A benchmark: prints its figures and exits 0.
"""
import gc
import sys
import time

_here = __file__.rpartition("/")[0] or "."
sys.path.insert(0, _here + "/../../lib")
MP = sys.implementation.name == "micropython"
if MP:  # tools/romfs.py run: the modules in place from the image, as on a device
    import os

    _rom = os.getenv("TINYSIP_ROMFS")
    if _rom:
        import uctypes
        import vfs

        _a, _, _n = _rom.partition(":")
        vfs.mount(vfs.VfsRom(uctypes.bytearray_at(int(_a), int(_n))), "/rom")
        sys.path.insert(0, "/rom/lib")


def _us():
    return time.ticks_us() if MP else int(time.perf_counter() * 1e6)


def _diff(a, b):
    return time.ticks_diff(a, b) if MP else a - b


def _rng(n, _s=[7]):
    out = bytearray(n)
    for i in range(n):
        _s[0] = (_s[0] * 1103515245 + 12345) & 0x7FFFFFFF
        out[i] = _s[0] >> 16 & 0xFF
    return bytes(out)


def _alloc():
    gc.collect()
    return gc.mem_alloc() if MP else 0


class _Pad:
    pass


def main():
    as_json = "--json" in sys.argv
    res = {}
    try:  # the idle phone's modules: what a call adds is the figure
        import app  # noqa: F401 - in the ROMFS image (lib/app.mpy)
    except ImportError:  # from lib/ source, CPython: the UA's modules only
        pass
    import tinysip.ua  # noqa: F401
    import tinysip.io.driver  # noqa: F401
    import tinysip.io.stream  # noqa: F401

    if "--pad" in sys.argv:  # the running phone's names (see the module docstring)
        o = _Pad()
        for i in range(int(sys.argv[sys.argv.index("--pad") + 1])):
            setattr(o, "_pad%d" % i, 0)  # an attribute name is interned
    if MP:
        import micropython

        micropython.qstr_info()
    a0 = _alloc()
    for m in ("sdp audio sdes voice srtp io.udp io.voiceport").split():
        __import__("tinysip." + m)  # the call's modules, as at its set-up
    from tinysip.compat import drop, load

    # io.voiceport's VoicePort.start(): the engine is made by tinysip.voicesetup, which is
    # forgotten again (with the offer/answer modules) once the media runs
    make = load(b"tinysip.voicesetup Voice")
    a1 = _alloc()
    k1, k2 = _rng(30), _rng(30)
    p = [0, b"PCMU", 101, 20, b"127.0.0.1", 4000, 80, k1, k2, b"sendrecv"]
    from tinysip.io.stream import BUF

    a = make(p, _rng, 0, BUF)  # as io.voiceport makes it: packets in io.stream's buffer
    a2 = _alloc()
    b = make([0, b"PCMU", 101, 20, b"127.0.0.1", 4000, 80, k2, k1, b"sendrecv"], _rng, 0)
    make = None
    if MP:
        res["heap_modules_B"] = a1 - a0
        res["heap_one_call_engine_B"] = a2 - a1
        res["heap_setup_total_B"] = a2 - a0  # while the offer/answer modules are loaded
        micropython.qstr_info()
    a3 = _alloc()
    drop("tinysip.io.udp")  # as VoicePort.__init__ does once bound (the idle phone had no io.udp)
    drop("audio sdes sdp")  # as io.voiceport's VoicePort.start() does once the media runs
    drop("tinysip.voicesetup")
    if MP:
        res["heap_modules_kept_B"] = a1 - a0 - (a3 - _alloc())
        res["heap_call_total_B"] = res["heap_modules_kept_B"] + a2 - a1  # + one engine
    b.rx = a.tx  # the wire (a socket read allocates on its own: io/udp)
    for i in range(0, len(a.buf), 2):  # a loud square-ish tone
        a.buf[i + 1] = 0x30 if (i // 20) & 1 else 0xD0
    t = 0
    for k in range(60):  # the jitter buffer anchors, views are made
        t = 20 * k
        n = a.send(t)
        b.receive(n, t + 2)
        b.get(t + 2)
    best = None
    for run in range(5):
        t0 = _us()
        for k in range(500):
            t += 20
            n = a.send(t)
            b.receive(n, t + 2)
            b.get(t + 2)
        us = _diff(_us(), t0) / 500
        best = us if best is None or us < best else best
    res["frame_us"] = round(best, 1)
    res["frame_budget_us"] = 250
    if MP:
        gc.collect()
        gc.disable()
        before = gc.mem_alloc()
        for k in range(200):
            t += 20
            n = a.send(t)
            b.receive(n, t + 2)
            b.get(t + 2)
        after = gc.mem_alloc()
        gc.enable()
        res["frame_alloc_B"] = (after - before) / 200
        res["heap_budget_B"] = 12 * 1024
    res["runtime"] = sys.implementation.name
    res["received"] = load(b"tinysip.voicesetup stats")(b)["received"]
    if as_json:
        import json

        print(json.dumps(res))
        return
    for k in sorted(res):
        print("%-26s %s" % (k, res[k]))


main()
