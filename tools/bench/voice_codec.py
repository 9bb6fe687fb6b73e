"""G.711 and RFC 4733 per-frame cost on the runtime that runs this file.

    .venv/bin/python tools/bench/voice_codec.py [--json] [--frames N]
    .venv/bin/micropython tools/bench/voice_codec.py [--json] [--frames N]

For PCMU and PCMA, one 20 ms frame (160 samples of a 1 kHz-ish tone) is encoded into a
172-byte RTP packet after its header (tinysip.voice.encode) and decoded back into a 320-byte
PCM buffer (decode): microseconds per frame for each, averaged over N frames (2,000), and
bytes allocated per frame (MicroPython: gc.mem_alloc() around N frames, gc disabled; target
0). On MicroPython both paths run: the viper code g711 uses (where the port compiles it) and
the plain Python loops. Then one DTMF event packet through dtmf.Sender.poll and
Voice.receive (RFC 4733). On MicroPython also the heap each module keeps once imported
(gc.mem_alloc() after gc.collect(), before and after; from source, or from the .mpy files
in TINYSIP_MPY_LIB). On CPython "alloc" is n/a: every int and frame there is an object.

A benchmark: prints figures and always exits 0. --json: the figures as one JSON line last.
"""
import gc
import sys
import time

MICROPYTHON = sys.implementation.name == "micropython"
HERE = __file__.rpartition("/")[0] or "."


def _lib():
    import os

    env = os.getenv("TINYSIP_MPY_LIB") if hasattr(os, "getenv") else None
    return env or HERE + "/../../lib"


# microseconds now, and since t0: ticks on MicroPython, perf_counter_ns on CPython
_us = time.ticks_us if MICROPYTHON else (lambda: time.perf_counter_ns() // 1000)


def _since(t0):
    return time.ticks_diff(_us(), t0) if MICROPYTHON else _us() - t0


def _heap():
    gc.collect()
    gc.collect()
    return gc.mem_alloc() if MICROPYTHON else None


def imports():
    """{module: bytes of heap kept by importing it}, MicroPython only."""
    out = {}
    import tinysip.compat  # noqa: F401 - everything imports it: not counted
    import tinysip.errors  # noqa: F401 - the idle phone's: not counted

    for name in ("voice",):  # G.711 and RFC 4733 are in tinysip.voice
        before = _heap()
        __import__("tinysip." + name)
        after = _heap()
        out[name] = None if before is None else after - before
    return out


def timed(fn, frames):
    """(microseconds per call, bytes allocated per call or None) of fn(), N calls."""
    fn()
    t0 = _us()
    for _ in range(frames):
        fn()
    us = _since(t0) / frames
    alloc = None
    if MICROPYTHON:
        gc.collect()
        gc.disable()
        try:
            a0 = gc.mem_alloc()
            for _ in range(frames):
                fn()
            alloc = (gc.mem_alloc() - a0) / frames
        finally:
            gc.enable()
    return us, alloc


def codec_rows(frames):
    import struct

    from tinysip import voice
    from tinysip import voicesetup as g711  # encode()/decode(): the checked entry points

    pcm = bytearray(320)
    for k in range(160):  # ~1 kHz at 8 kHz, amplitude 12,000
        struct.pack_into("<h", pcm, 2 * k, (12000, 8485, 0, -8485, -12000, -8485, 0, 8485)[k % 8])
    pkt = bytearray(172)
    play = bytearray(320)
    paths = [("plain" if voice._raw else "viper", g711.encode, g711.decode)]
    if paths[0][0] == "viper":  # and the plain loops it replaced, through the same checks

        from tinysip.plain import _run as raw

        def enc(pt, src, n, dst, off):
            raw(src, n, dst, g711._check(pt, n, len(src) >> 1, off, len(dst), dst))

        def dec(pt, src, off, n, dst):
            raw(src, n, dst, g711._check(pt, n, len(dst) >> 1, off, len(src), dst) | 2)

        paths.append(("plain", enc, dec))
    rows = []
    for path, enc, dec in paths:
        for law, pt in (("PCMU", 0), ("PCMA", 8)):
            e_us, e_alloc = timed(lambda: enc(pt, pcm, 160, pkt, 12), frames)
            d_us, d_alloc = timed(lambda: dec(pt, pkt, 12, 160, play), frames)
            rows.append({"codec": law, "path": path, "encode_us": round(e_us, 2),
                         "decode_us": round(d_us, 2), "encode_alloc": e_alloc,
                         "decode_alloc": d_alloc})
    return rows


def dtmf_row(frames):
    from tinysip import voice
    from tinysip.voicesetup import Jitter, Sender

    class Events(voice.Voice):  # the receiver alone: the jitter buffer hands every packet on
        def put(self, b, n, now):
            return 2

    tx = Sender(step=20, length=8000)  # 400 packets a digit: 32 digits last 12,800
    tx.send("5" * 32)
    v = Jitter(0, 20, [0, b"PCMU", 101, 20, b"", 0, 0, None, None, b"sendrecv"])
    rx = Events()
    for k in ("params", "jitter", "state", "buf", "rtcp", "srtp"):
        setattr(rx, k, getattr(v, k))
    pkt = rx.rx = bytearray(b"\x80\xe5\x00\x01\x12\x34\x56\x78\x00\x00\x5e\xed" + bytes(4))
    clock = [0]

    def step():
        now = clock[0] = clock[0] + 20
        tx.poll(now, pkt, 12)
        rx.receive(16, now)  # Voice.receive: the RFC 4733 receiver reads it in place

    us, alloc = timed(step, frames)
    return {"dtmf_packet_us": round(us, 2), "dtmf_packet_alloc": alloc}


def _fmt(v):
    return "n/a" if v is None else ("%.1f" % v)


def main(argv):
    frames = 2000
    if "--frames" in argv:
        frames = min(int(argv[argv.index("--frames") + 1]), 6000)  # the DTMF queue's reach
    sys.path.insert(0, _lib())
    imp = imports()
    rows = codec_rows(frames)
    dt = dtmf_row(frames)
    impl = sys.implementation.name
    print("voice codec on %s, %d frames of 20 ms (160 samples)" % (impl, frames))
    print("  codec  path   encode us  decode us  enc+dec us  alloc B/frame (enc, dec)")
    for r in rows:
        print("  %-5s  %-5s  %9.2f  %9.2f  %10.2f  %s, %s" % (
            r["codec"], r["path"], r["encode_us"], r["decode_us"],
            r["encode_us"] + r["decode_us"], _fmt(r["encode_alloc"]), _fmt(r["decode_alloc"])))
    print("  DTMF: Sender.poll + Receiver.receive per event packet: %.2f us, %s B allocated"
          % (dt["dtmf_packet_us"], _fmt(dt["dtmf_packet_alloc"])))
    if MICROPYTHON:
        print("  heap kept by import (%s): voice (G.711, RFC 4733, the engine) %d B"
              % ("TINYSIP_MPY_LIB .mpy" if _lib() != HERE + "/../../lib" else "from source",
                 imp["voice"]))
    if "--json" in argv:
        import json

        print(json.dumps({"impl": impl, "frames": frames, "codec": rows, "dtmf": dt,
                          "import_heap": imp}))
    return 0


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except Exception as e:  # noqa: BLE001 - a benchmark reports, it does not fail the run
        print("voice_codec: failed: %r" % (e,))
    sys.exit(0)
