"""Bytes the MicroPython heap hands out to receive one SIP message, step by step.

    .venv/bin/python tools/bench/rxalloc.py [--json]

A registered phone (the sans-IO core on the fake registrar of host_tests, no sockets)
receives an auto-answered RFC 6849 loopback INVITE over its TLS flow, as SIPp sends it
through Kamailio. With gc disabled, gc.mem_alloc() before and after gives what each step
allocates in total (garbage included): stream framing, message.parse, the SDP offer, and
the whole UA step (frame, parse, policy, 100 + 200 with the SDP answer). None of it is
kept (the call keeps ~2 KB); it is what fills the heap between two collections and
what fragments it, so a call needs more than its live state. Each figure is the same on
every run (the third of three INVITEs, so first-use costs are out).

A benchmark: prints figures and always exits 0. This file runs under CPython (the
launcher) and under MicroPython (the measuring child, --child).
"""
import sys


def child():
    import json

    here = __file__.rpartition("/")[0] or "."
    sys.path[:0] = [here + "/../../lib", here + "/../../host_tests", here]
    import test_ua_calls as calls
    from fakeregistrar import last_conn
    from sigverify import heap_cost  # tools/bench/sigverify.py: the same GC-off reading
    from tinysip.framing import StreamFramer
    from tinysip.message import parse
    from tinysip.sdp import parse as parse_sdp

    link, _, ua, clock = calls.phone()
    conn = last_conn(link)

    def invite(i):
        raw = calls.invite(b"Answer-Mode: Auto\r\n", branch=b"z9hG4bKrx%d" % i)
        return raw.replace(b"srv-call-1@", b"srv-call-%d@" % i)

    def alloc(fn):
        return heap_cost(fn)[0]  # allocated with the GC off, garbage included

    def frame(raw):
        f = StreamFramer()
        f.feed(raw)
        f.next()

    res = {}
    for i in range(3):
        raw = invite(i)
        msg = parse(raw)
        res = {"bytes": len(raw), "sdp_bytes": len(msg.body),
               "framing": alloc(lambda: frame(raw)),
               "parse": alloc(lambda: parse(raw)),
               "sdp": alloc(lambda: parse_sdp(msg.body)),
               "ua_receive_invite": alloc(lambda: ua.receive(conn, raw, clock.now))}
        while ua.pop_action() is not None:
            pass
        while ua.pop_event() is not None:
            pass
        ua.hangup(msg.call_id, clock.now)
        ua.calls.clear()
    print(json.dumps(res))


def main(argv):
    import json
    import os
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    mpy = os.path.join(root, ".venv", "bin", "micropython")
    p = subprocess.run([mpy, os.path.abspath(__file__), "--child"], capture_output=True,
                       text=True, cwd=root)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode or not lines:
        print("rxalloc: the MicroPython child failed:\n" + p.stdout + p.stderr)
        return 0
    data = json.loads(lines[-1])
    if "--json" in argv:
        print(json.dumps(data))
        return 0
    print("receiving one auto-answered loopback INVITE (%d bytes, SDP %d) on the "
          "MicroPython unix port, bytes allocated with gc disabled:" % (
              data["bytes"], data["sdp_bytes"]))
    for key, label in (("framing", "stream framing (StreamFramer)"),
                       ("parse", "message.parse"), ("sdp", "sdp.parse of the offer"),
                       ("ua_receive_invite", "UA: frame, parse, decide, send 100 + 200")):
        print("  %-42s %7d B" % (label, data[key]))
    return 0


if __name__ == "__main__":
    if "--child" in sys.argv:
        child()
    else:
        sys.exit(main(sys.argv[1:]))
