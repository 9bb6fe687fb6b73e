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

Then the 2xx to a REGISTER refresh of that phone: the fake registrar's answer (four
bindings of the AoR, each Contact with +sip.instance, reg-id and the GRUUs; Require:
outbound, Flow-Timer, Service-Route) with a Path added, as an edge proxy relays it:
message.parse, and the UA's whole step (frame, parse, the transaction, the binding, the
events). Issue 16's goal: message.parse allocates at most the message's own size.

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

    link, reg, ua, clock = calls.phone()
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

    def refresh_2xx():
        """A REGISTER refresh sent by the phone and the registrar's 2xx to it, not yet
        delivered: (conn, 2xx bytes)."""
        reg.silent = True  # the registrar logs the REGISTER and says nothing
        n = len(reg.registers)
        link.advance(7200000, lambda: len(reg.registers) > n)
        reg.silent = False
        _, c, data = reg.registers[-1]
        raw = reg._register(c, parse(data, 65535, datagram=False), clock.now)
        path = b"Path: <sip:edge.lab.test;lr;ob;transport=tls;flow=AQAAAMCoAQrAAAIKwDhL>\r\n"
        return c, raw.replace(b"\r\nContent-Length:", b"\r\n" + path + b"Content-Length:")

    reg.service_route = b"<sip:registrar.lab.test;lr>"
    for i in range(3):
        c, raw = refresh_2xx()
        res["register_2xx"] = {"bytes": len(raw), "framing": alloc(lambda: frame(raw)),
                               "parse": alloc(lambda: parse(raw)),
                               "ua_receive": alloc(lambda: ua.receive(c, raw, clock.now))}
        drain()

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
          "MicroPython unix port, bytes allocated with gc disabled, and against the "
          "message's size:" % (data["bytes"], data["sdp_bytes"]))
    for key, label in (("framing", "stream framing (StreamFramer)"),
                       ("parse", "message.parse"), ("sdp", "sdp.parse of the offer"),
                       ("ua_receive_invite", "UA: frame, parse, decide, send 100 + 200")):
        print("  %-42s %7d B  %5.2fx" % (label, data[key], data[key] / data["bytes"]))
    r = data.get("register_2xx")
    if r:
        print("receiving the 2xx to a REGISTER refresh (%d bytes: 4 bindings with GRUUs, "
              "Path, Require: outbound, Flow-Timer, Service-Route):" % r["bytes"])
        for key, label in (("framing", "stream framing (StreamFramer)"),
                           ("parse", "message.parse"),
                           ("ua_receive", "UA: frame, parse, transaction, binding")):
            print("  %-42s %7d B  %5.2fx" % (label, r[key], r[key] / r["bytes"]))
    for key, row in (("INVITE", data), ("REGISTER 2xx", r or {})):
        if "parse" in row:
            x = row["parse"] / row["bytes"]
            print("  message.parse of the %s: %.2fx its size (goal <= 1x: %s)" % (
                key, x, "OK" if x <= 1 else "OVER"))
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
