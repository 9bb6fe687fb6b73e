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

Then the three ~4 KB requests of issue 15's attack run (700 headers, a Via with 1,500
parameters, a 3,000-character Request-URI; the same bytes as host_tests/test_limits.py),
each refused by a cap: framing, message.parse up to its ParseError, error_response() (the
answer), and the UA's whole step, in one piece and as the driver reads it (2 KB at a time),
each against the budget of twice the request's size.

A benchmark: prints figures and always exits 0. This file runs under CPython (the
launcher) and under MicroPython (the measuring child, --child).
"""
import sys


def child():
    import json

    here = __file__.rpartition("/")[0] or "."
    sys.path[:0] = [here + "/../../lib", here + "/../../host_tests", here]
    import test_limits as limits
    import test_ua_calls as calls
    from fakeregistrar import last_conn
    from sigverify import heap_cost  # tools/bench/sigverify.py: the same GC-off reading
    from tinysip.framing import StreamFramer
    from tinysip.errors import ParseError
    from tinysip.message import error_response, parse
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

    def drain():
        while ua.pop_action() is not None:
            pass
        while ua.pop_event() is not None:
            pass

    def refuse(raw):
        try:
            parse(raw)
        except ParseError as e:
            return e
        return None

    def in_pieces(pieces):
        for piece in pieces:
            ua.receive(conn, piece, clock.now)

    refused = []
    for make, status, reason in limits.ATTACKS:
        raw = make()
        for i in range(3):
            err = refuse(raw)
            row = {"name": make.__name__, "bytes": len(raw), "status": err.status,
                   "reason": err.reason,
                   "framing": alloc(lambda: frame(raw)),
                   "parse": alloc(lambda: refuse(raw)),
                   "answer": alloc(lambda: error_response(raw, err)),
                   "answer_bytes": len(error_response(raw, err)),
                   "ua_receive": alloc(lambda: ua.receive(conn, raw, clock.now))}
            drain()
            pieces = [raw[i : i + 2048] for i in range(0, len(raw), 2048)]  # the driver's
            row["ua_receive_2k"] = alloc(lambda: in_pieces(pieces))
            drain()
        refused.append(row)
    res["refused"] = refused
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
    print("the ~4 KB requests of issue 15, each refused by a cap; bytes allocated, and the "
          "UA's step against the budget of 2x the request:")
    for r in data.get("refused", []):
        print("  %s: %d B, %d %s (answer %d B)" % (r["name"], r["bytes"], r["status"],
                                                  r["reason"], r["answer_bytes"]))
        for key, label in (("framing", "stream framing"), ("parse", "message.parse to its 4xx"),
                           ("answer", "error_response (the answer)")):
            print("    %-40s %7d B" % (label, r[key]))
        for key, label in (("ua_receive", "UA: frame, parse, answer (one piece)"),
                           ("ua_receive_2k", "UA: the same, read 2 KB at a time")):
            x = r[key] / r["bytes"]
            print("    %-40s %7d B  %.2fx  %s" % (label, r[key], x, "OK" if x <= 2 else "OVER"))
    return 0


if __name__ == "__main__":
    if "--child" in sys.argv:
        child()
    else:
        sys.exit(main(sys.argv[1:]))
