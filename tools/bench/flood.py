"""Issue 15's budgets under a relayed flood: how fast the registered phone answers while
strangers send it 100 OPTIONS a second through its proxy, and how much state it may hold.

The phone runs as shipped (firmware from the ROMFS image under the MicroPython unix port,
`--heap`, default 160 KB) behind the lab's Kamailio edge. Twenty sources on 127.0.0.x send
`--rate` OPTIONS/s for `--seconds` to its AoR; once a second a probe OPTIONS from another
source measures the round trip through Kamailio to the phone and back, before, during and
after the flood. Printed: the probes' median and worst round trip in each phase (budget:
within 100 ms after the flood), how many flood requests were answered, low_memory events,
and the worst case of the phone's state: server transactions (none: stateless answers),
calls (config call.max) and client transactions (one REGISTER per flow, one BYE per call,
one SUBSCRIBE per subscription), with the bytes one of each holds on the 64-bit unix port.

    python tools/bench/flood.py [--rate 100] [--seconds 20] [--heap 160k] [--port-base 38850] [--json]
"""
import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
for sub in ("lib", "tools/lab", "host_tests/interop"):
    sys.path.insert(0, os.path.join(ROOT, sub))

from lab import Lab  # noqa: E402
from phone import Phone, build_romfs, lab_config  # noqa: E402

from tinysip.config import Config  # noqa: E402


def options(i, src, tag):
    return (b"OPTIONS sip:phone1@lab.test SIP/2.0\r\n"
            b"Via: SIP/2.0/UDP %s:5099;branch=z9hG4bK%s%d;rport\r\n"
            b"Max-Forwards: 70\r\nFrom: <sip:s%d@example.com>;tag=t%d\r\n"
            b"To: <sip:phone1@lab.test>\r\nCall-ID: %s-%d@example.com\r\n"
            b"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
            % (src.encode(), tag, i, i, i, tag, i))


def probe(sock, i, timeout=2.0):
    """Round trip of one probe OPTIONS in ms (None: no 200 within timeout)."""
    t0 = time.time()
    sock.sendto(options(i, "127.0.0.250", b"probe"), ("127.0.0.1", PORT[0]))
    while time.time() - t0 < timeout:
        sock.settimeout(max(0.01, timeout - (time.time() - t0)))
        try:
            data = sock.recv(4096)
        except OSError:
            return None
        if data.startswith(b"SIP/2.0 200") and b"probe-%d@" % i in data:
            return (time.time() - t0) * 1000
    return None


PORT = [0]


def worst_state(cfg):
    """The phone's state bound from its config: counts, not measured."""
    c = Config(cfg)
    subs = len(c.certs.subscribe) + (1 if c.certs.credential else 0) if c.certs else 0
    return {"server_transactions": 0, "calls": c.max_calls,
            "client_transactions": len(c.proxies) + c.max_calls + subs}


def run(args):
    work = tempfile.mkdtemp(prefix="tinysip-flood-")
    lab = Lab(os.path.join(work, "lab"), port_base=args.port_base, flow_timer=30,
              users={"phone1": "secret1"})
    lab.start()
    PORT[0] = lab.port_udp
    cfg = lab_config(lab, "02:00:00:00:f1:00")
    p = Phone(work, cfg, heap=args.heap, romfs=build_romfs(work))
    out = {"rate": args.rate, "seconds": args.seconds, "heap": args.heap,
           "state_bound": worst_state(cfg)}
    try:
        p.wait_for("registered", timeout=30)
        ps = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        ps.bind(("127.0.0.250", 0))
        n = 0
        before = []
        for _ in range(5):
            n += 1
            before.append(probe(ps, n))
            time.sleep(0.2)
        socks = []
        for i in range(20):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.%d" % (2 + i), 0))
            s.setblocking(False)
            socks.append(s)
        answered = 0
        during = []
        t0 = time.time()
        total = args.rate * args.seconds
        next_probe = t0 + 1
        for i in range(total):
            socks[i % 20].sendto(options(i, "127.0.0.%d" % (2 + i % 20), b"f"),
                                 ("127.0.0.1", lab.port_udp))
            if time.time() >= next_probe:
                n += 1
                during.append(probe(ps, n, 1.0))
                next_probe += 1
            while time.time() < t0 + (i + 1) / float(args.rate):
                time.sleep(0.001)
            for s in socks:
                try:
                    while True:
                        answered += s.recv(4096).startswith(b"SIP/2.0 200")
                except OSError:
                    pass
        after = []
        for _ in range(10):
            n += 1
            after.append(probe(ps, n))
            time.sleep(0.2)
        for s in socks:
            s.close()
        ps.close()

        def stats(v):
            got = [x for x in v if x is not None]
            return {"median_ms": round(statistics.median(got), 1) if got else None,
                    "max_ms": round(max(got), 1) if got else None,
                    "lost": len(v) - len(got), "n": len(v)}

        out.update({"before": stats(before), "during": stats(during), "after": stats(after),
                    "flood_sent": total, "flood_answered": answered,
                    "phone_answered": len([e for e in p.events if e.get("event") ==
                                           "request_answered" and e.get("method") ==
                                           "OPTIONS"]),
                    "low_memory": len(p.named("low_memory")),
                    "flow_failed": len(p.named("flow_failed")),
                    "alive": p.proc.poll() is None})
    finally:
        p.stop()
        lab.close()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=100)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--heap", default="160k")
    ap.add_argument("--port-base", type=int, default=38850)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    out = run(args)
    if args.json:
        print(json.dumps(out))
        return 0
    print("relayed OPTIONS flood: %d/s for %d s, phone heap %s" % (out["rate"], out["seconds"],
                                                                   out["heap"]))
    for phase in ("before", "during", "after"):
        s = out.get(phase) or {}
        print("  probe round trip %-6s median %s ms, worst %s ms, lost %s of %s" % (
            phase, s.get("median_ms"), s.get("max_ms"), s.get("lost"), s.get("n")))
    print("  flood requests answered: %s of %s sent (the phone answered %s; the edge may "
          "rate-limit strangers)" % (out.get("flood_answered"), out.get("flood_sent"),
                                     out.get("phone_answered")))
    print("  low_memory events: %s, flow failures: %s, alive: %s" % (
        out.get("low_memory"), out.get("flow_failed"), out.get("alive")))
    print("  state bound (config): %s" % out["state_bound"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
