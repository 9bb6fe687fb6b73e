"""RTP loopback mirror figures on the MicroPython unix port, through the real io/media.py path.

    .venv/bin/python tools/bench/mirror.py [--json] [--packets N]

For each mirror mode (encaprtp, rtploopback, media) and each MediaPort read path
(zero-copy: readinto, what the phone uses; exact: recv) it prints
- bytes allocated per mirrored packet in steady state: gc disabled, N packets (10,000),
  the latched MediaPort over 127.0.0.1 UDP (target 0 B);
- mirrored packets per second sustained, gc enabled, 128 KB heap (target >= 20,000).
One MicroPython process holds both the sender and the mirror and runs them ping-pong (send
one RTP packet, mirror.step(), read the reply): the rate includes the sender's own work
and one datagram waits at each step, so both read paths see datagram boundaries.
A benchmark: prints figures and always exits 0. This file runs under CPython (the
launcher) and under MicroPython (the measuring child, --child).
"""
import sys

MICROPYTHON = sys.implementation.name == "micropython"
TARGET_BYTES = 0
TARGET_PPS = 20000


def child(packets, what):
    import gc
    import json
    import socket
    import struct
    import time

    here = __file__.rpartition("/")[0] or "."
    sys.path.insert(0, here + "/../../lib")
    from tinysip.io.media import MediaPort
    from tinysip.probe import DIRECT, ENCAP, MEDIA
    from tinysip.rtp import Mirror

    def rng(n):
        import os

        return os.urandom(n)

    def sender(start):
        for port in range(start | 1, start + 400, 2):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.bind(socket.getaddrinfo("127.0.0.1", port)[0][-1])
                return s
            except OSError:
                s.close()
        raise OSError("no free UDP port")

    pkt = struct.pack(">BBHII", 0x80, 0, 1, 160, 0x5EED) + b"\xd5" * 160  # 20 ms of PCMU
    rbuf = bytearray(2048)
    out = []
    base = 34000
    for name, mode in (("encaprtp", ENCAP), ("rtploopback", DIRECT), ("media", MEDIA)):
        for exact in (True, False):
            base += 20
            mir = Mirror(mode, 0, rng)
            mp = MediaPort(mir, "127.0.0.1", base, size=-1 if exact else 0)
            src = sender(base + 1)
            dst = socket.getaddrinfo("127.0.0.1", mp.port)[0][-1]
            src.sendto(pkt, dst)  # latch
            for _ in range(100):
                if mp.step():
                    break
                time.sleep_ms(1)
            src.settimeout(1)
            src.recv(2048)
            src.connect(dst)
            src.setblocking(False)

            def run(n):
                got = 0
                for i in range(n):
                    src.write(pkt)
                    mp.step()
                    if src.readinto(rbuf):
                        got += 1
                return got

            run(200)  # warm-up
            gc.collect()
            r = {"mode": name, "read": "exact" if exact else "zero-copy"}
            if what == "alloc":
                gc.disable()
                before = gc.mem_alloc()
                try:
                    got = run(packets)
                    alloc = gc.mem_alloc() - before
                except MemoryError:
                    got, alloc = 0, None
                gc.enable()
                r["packets"] = packets
                r["replies"] = got
                r["bytes_per_packet"] = None if alloc is None else alloc / packets
            else:
                t0 = time.ticks_us()
                done = 0
                while time.ticks_diff(time.ticks_us(), t0) < 1000000:
                    done += run(1000)
                us = time.ticks_diff(time.ticks_us(), t0)
                r["packets_per_s"] = int(done * 1000000 / us)
            r["mirror_counters"] = [mir.rx, mir.tx, mir.dropped]
            out.append(r)
            mp.close()
            src.close()
    print(json.dumps(out))


def launcher(argv):
    import json
    import os
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    mpy = os.path.join(root, ".venv", "bin", "micropython")
    packets = int(argv[argv.index("--packets") + 1]) if "--packets" in argv else 10000
    # Allocation: gc disabled, so a big heap keeps the allocating read path alive to the end.
    # Rate: gc enabled on a 128 KB heap, about what the phone has (a 32 MB heap makes every
    # sweep, and so the allocating path, far slower than on the device).
    res = {}
    for what, heap in (("alloc", "32M"), ("rate", "128k")):
        p = subprocess.run([mpy, "-X", "heapsize=" + heap, os.path.abspath(__file__), "--child",
                            what, str(packets)], capture_output=True, text=True, timeout=600)
        lines = [ln for ln in p.stdout.splitlines() if ln.startswith("[")]
        if not lines:
            print("mirror bench: the MicroPython child failed (%s):\n%s%s"
                  % (what, p.stdout, p.stderr))
            return 0
        for r in json.loads(lines[-1]):
            res.setdefault((r["mode"], r["read"]), {}).update(r)
    data = {"runtime": "micropython unix port", "process": "one (sender + mirror), ping-pong",
            "packets": packets, "results": list(res.values())}
    if "--json" in argv:
        print(json.dumps(data))
        return 0
    print("RTP mirror on the MicroPython unix port, %s over 127.0.0.1 UDP"
          % data["process"])
    print("%-12s %-10s %14s %8s %14s %8s" % ("mode", "read", "B/packet", "target",
                                            "packets/s", "target"))
    for r in data["results"]:
        b = r["bytes_per_packet"]
        bs = "n/a" if b is None else "%.1f" % b
        ok_b = "OK" if b is not None and b <= TARGET_BYTES else "OVER"
        ok_p = "OK" if r["packets_per_s"] >= TARGET_PPS else "UNDER"
        print("%-12s %-10s %14s %8s %14d %8s" % (r["mode"], r["read"], bs, ok_b,
                                                r["packets_per_s"], ok_p))
    print("(B/packet: gc disabled, %d packets; packets/s: gc enabled, 128 KB heap, 1 s)"
          % packets)
    return 0


if __name__ == "__main__":
    if MICROPYTHON:
        i = sys.argv.index("--child")
        child(int(sys.argv[i + 2]), sys.argv[i + 1])
    else:
        sys.exit(launcher(sys.argv[1:]))
