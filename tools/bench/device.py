"""On-device self-test and benchmark: run on the phone itself through mpremote.

    python tools/bench/device.py --port PORT        (what make bench-device PORT=... runs)

The launcher (CPython) sends this same file with `mpremote connect PORT run` (with `resume`
for the unix port, which a soft reset would kill; a device gets a soft reset first, so the
heap is the fresh one the phone boots with). On the device (MicroPython) it needs the
library deployed (make deploy) in /lib (or lib/ under the unix port's working directory)
and prints one table:
- self-test: a SIP message parsed and serialized back, an RTP packet mirrored, an instance
  URN from a MAC, all checked against known answers;
- import time of the core (tinysip.message, then tinysip.ua and what it pulls in) and the
  heap it takes (gc.mem_free before / after, after gc.collect());
- SIP parse + serialize messages/s with tinysip.message (an INVITE and a REGISTER 200);
- RTP mirror packets/s with tinysip.rtp's Mirror on an in-memory buffer (no sockets:
  the core's own cost), encaprtp and rtploopback, and bytes allocated per mirrored packet
  with gc disabled (target 0).
A last line `json: {...}` carries the same figures for scripts. A failed self-test raises
(mpremote exits 1); it never calls sys.exit, which would end the unix port's process.
"""
import sys

MICROPYTHON = sys.implementation.name == "micropython"

INVITE = (b"INVITE sip:phone1@lab.test SIP/2.0\r\n"
          b"Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bK74bf9;received=192.0.2.10\r\n"
          b"Max-Forwards: 69\r\n"
          b"From: \"Tester\" <sip:tester@lab.test>;tag=9fxced76sl\r\n"
          b"To: <sip:phone1@lab.test>\r\n"
          b"Call-ID: 3848276298220188511@lab.test\r\n"
          b"CSeq: 1 INVITE\r\n"
          b"Contact: <sip:tester@192.0.2.10:5061;transport=tls>\r\n"
          b"Answer-Mode: Auto\r\n"
          b"Content-Type: application/sdp\r\n"
          b"Content-Length: 0\r\n\r\n")
OK = (b"SIP/2.0 200 OK\r\n"
      b"Via: SIP/2.0/TLS 192.168.1.50:49152;branch=z9hG4bKnashds7;rport=49152\r\n"
      b"From: <sip:phone1@lab.test>;tag=456248\r\n"
      b"To: <sip:phone1@lab.test>;tag=2493k59kd\r\n"
      b"Call-ID: 843817637684230@998sdasdh09\r\n"
      b"CSeq: 1826 REGISTER\r\n"
      b"Contact: <sip:phone1@192.168.1.50:49152;transport=tls;ob>;expires=3600;reg-id=1;"
      b"+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-246f280a0b0c>\"\r\n"
      b"Require: outbound\r\n"
      b"Flow-Timer: 30\r\n"
      b"Date: Tue, 01 Jul 2025 10:00:00 GMT\r\n"
      b"Content-Length: 0\r\n\r\n")


def _device():
    import gc
    import json
    import time

    for p in ("/lib", "lib"):  # a device has /lib on sys.path; the unix port has not
        if p not in sys.path:
            sys.path.append(p)
    for name in list(sys.modules):  # a resumed unix port may have them loaded already
        if name == "tinysip" or name.startswith("tinysip."):
            del sys.modules[name]
    us = time.ticks_us
    diff = time.ticks_diff
    rows = []
    res = {}

    def row(key, label, value):
        res[key] = value
        rows.append((label, value))

    gc.collect()
    free0 = gc.mem_free()
    t0 = us()
    try:
        from tinysip import message
    except ImportError as e:
        raise RuntimeError("tinysip is not on this device (%s): make deploy PORT=... first" % e)
    t1 = us()
    from tinysip import ua  # noqa: F401 - its import is what is measured
    t2 = us()
    gc.collect()
    free1 = gc.mem_free()
    from tinysip.instance import instance_urn
    from tinysip.rtp import Mirror

    ENCAP, DIRECT = 1, 2  # the mirror modes (tinysip.probe names them; not loaded here)
    import struct

    def rng(n):
        return bytes(range(1, n + 1))  # fixed: the self-test knows the mirror's SSRC

    # -- self-test ---------------------------------------------------------------------------
    m = message.parse(INVITE)
    assert m.method == b"INVITE" and m.get(b"Call-ID") == b"3848276298220188511@lab.test"
    again = message.parse(m.to_bytes())
    assert again.method == b"INVITE" and again.get(b"Answer-Mode") == b"Auto"
    r = message.parse(OK)
    assert r.status == 200 and r.get(b"Flow-Timer") == b"30"
    mir = Mirror(ENCAP, 96, rng)
    pkt = struct.pack(">BBHHHHH", 0x80, 0, 7, 0, 160, 0x5EED, 1) + b"\xd5" * 160
    mir.buf[12:12 + len(pkt)] = pkt
    n = mir.reflect(len(pkt))
    out = bytes(mir.buf[mir.off:mir.off + n])
    assert n == len(pkt) + 12 and out[12:] == pkt and out[1] == 96, n
    assert out[8:12] == b"\x01\x02\x03\x04"  # the mirror's own SSRC
    urn = instance_urn(b"\x24\x6f\x28\x0a\x0b\x0c")
    assert urn == b"urn:uuid:00000000-0000-1000-8000-246f280a0b0c", urn
    row("selftest", "self-test (parse/serialize, mirror, instance)", "ok")

    row("loaded_from", "tinysip.message loaded from", message.__file__)
    row("import_message_us", "import tinysip.message (us)", diff(t1, t0))
    row("import_ua_us", "import tinysip.ua + its imports (us)", diff(t2, t1))
    row("mem_free_before", "gc.mem_free() before the imports (B)", free0)
    row("mem_free_after", "gc.mem_free() after the imports (B)", free1)
    row("import_heap", "heap taken by the imports (B)", free0 - free1)

    # -- parse + serialize -------------------------------------------------------------------
    msgs = (INVITE, OK)
    count = 0
    t0 = us()
    while diff(us(), t0) < 1000000:
        for data in msgs:
            message.parse(data).to_bytes()
        count += 2
    row("parse_serialize_per_s", "SIP parse+serialize (messages/s)",
        count * 1000000 // diff(us(), t0))

    # -- RTP mirror on an in-memory buffer ---------------------------------------------------
    plen = len(pkt)
    for name, mode in (("encaprtp", ENCAP), ("rtploopback", DIRECT)):
        mir = Mirror(mode, 96, rng)
        b = mir.buf
        b[12:12 + plen] = pkt
        count = 0
        t0 = us()
        while diff(us(), t0) < 1000000:
            for _ in range(100):
                struct.pack_into(">BBHHHHH", b, 12, 0x80, 0, count & 0xFFFF, 0, 160, 0x5EED, 1)
                mir.reflect(plen)  # the header restored as a recv_into would write it
                count += 1
        row("mirror_%s_per_s" % name, "mirror %s (packets/s)" % name,
            count * 1000000 // diff(us(), t0))
    mir = Mirror(ENCAP, 96, rng)
    b = mir.buf
    b[12:12 + plen] = pkt
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    for i in range(2000):
        struct.pack_into(">BBHHHHH", b, 12, 0x80, 0, i, 0, 160, 0x5EED, 1)
        mir.reflect(plen)
    a1 = gc.mem_alloc()
    gc.enable()
    row("mirror_bytes_per_packet", "mirror bytes allocated per packet (target 0)",
        (a1 - a0) // 2000)
    gc.collect()
    row("mem_free_end", "gc.mem_free() at the end (B)", gc.mem_free())

    impl = sys.implementation
    print("tinysip on-device bench: %s, MicroPython %s" % (
        sys.platform, ".".join(str(v) for v in impl.version[:3])))
    w = max(len(label) for label, _ in rows)
    print("%s  %s" % ("figure" + " " * (w - 6), "value"))
    for label, value in rows:
        print("%s  %s" % (label + " " * (w - len(label)), value))
    res["platform"] = sys.platform
    print("json: " + json.dumps(res))


def _launcher(argv):
    import argparse
    import os
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path.insert(0, os.path.join(root, "tools"))
    from deploy import MPREMOTE, DeployError, is_unix_port, platform

    ap = argparse.ArgumentParser(description="on-device self-test and benchmark")
    ap.add_argument("--port", required=True, help="mpremote connect target")
    a = ap.parse_args(argv)
    try:
        unix = is_unix_port(platform(a.port))
    except (DeployError, subprocess.TimeoutExpired) as e:
        print("bench-device: %s" % e, file=sys.stderr)
        return 1
    cmd = [MPREMOTE, "connect", a.port] + (["resume"] if unix else []) + [
        "run", os.path.abspath(__file__)]
    return subprocess.run(cmd, timeout=600).returncode


if __name__ == "__main__":
    if MICROPYTHON:
        _device()
    else:
        sys.exit(_launcher(sys.argv[1:]))
