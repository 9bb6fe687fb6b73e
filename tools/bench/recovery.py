"""Issue 6's recovery budgets on loopback, against the lab's Kamailio: how long a flow takes
from its failure to registered again while another flow is alive, and from a network change
to every flow registered.

The UA core and its select.poll driver run in this process (CPython: the same lib/ the phone
runs) with two flows, TLS (through a TCP relay that the bench cuts) and UDP with STUN
keepalive (through a UDP relay that changes its source port, a NAT rebinding), with the
RFC 5626 §4.5 timers at their defaults. Each figure is measured `--runs` times:

- tls_cut: the relay resets the TLS connection; time from flow_failed to registered on
  that flow (§4.5: an up flow re-forms at once, the UDP flow stays up meanwhile);
- udp_rebind: the NAT mapping changes; time from the STUN answer that shows it
  (flow_failed stun_mapped_changed) to registered on that flow, and from the change itself
  (the keepalive interval bounds the detection: Flow-Timer 3 s here);
- network_change: ua.network_changed() (what the board calls when Wi-Fi comes back) to
  every flow registered again.

    python tools/bench/recovery.py [--runs 10] [--port-base 38700] [--json]
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
for sub in ("lib", "tools/lab", "host_tests/interop"):
    sys.path.insert(0, os.path.join(ROOT, sub))

from lab import Lab  # noqa: E402
from relay import Relay  # noqa: E402
from udprelay import UdpRelay  # noqa: E402

from tinysip.config import Config  # noqa: E402
from tinysip.io.clock import Clock  # noqa: E402
from tinysip.io.driver import Driver  # noqa: E402
from tinysip.ua import UserAgent  # noqa: E402


class Bench:
    def __init__(self, lab, tls_port, udp_port):
        cfg = Config({
            "aor": lab.aor("phone1"),
            "auth": {"username": "phone1", "password": lab.users["phone1"]},
            "outbound": ["sips:127.0.0.1:%d" % tls_port,
                         "sip:127.0.0.1:%d;transport=udp" % udp_port],
            "tls": {"ca": lab.ca_der, "server_name": "lab.test"},
            "mac": "02:00:00:00:0e:01", "expires": 300,
        })
        self.clock = Clock()
        self.ua = UserAgent(cfg, b"urn:uuid:00000000-0000-1000-8000-02000000e001", os.urandom)
        with open(lab.ca_der, "rb") as f:
            ca = f.read()
        self.events = []
        self.driver = Driver(self.ua, self.clock, ca, self._event)
        self.ua.start(self.clock.now())

    def _event(self, e):
        self.events.append((self.clock.now(), e.name, e.fields()))

    def until(self, pred, timeout_s=30):
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            self.driver.step(20)
            if pred():
                return True
        raise SystemExit("recovery bench: timed out; last events: %r" % self.events[-8:])

    def first(self, name, start, **match):
        for t, n, f in self.events[start:]:
            if n == name and all(f.get(k) == v for k, v in match.items()):
                return t
        return None

    def registered(self, start, flow):
        return self.first("registered", start, flow=flow)

    def close(self):
        self.ua.stop(self.clock.now())
        t0 = time.time()
        while not self.ua.idle() and time.time() - t0 < 3:
            self.driver.step(20)
        for conn in list(self.driver.conns):
            self.driver.close(conn)


def summary(xs):
    return {"runs": len(xs), "median_ms": statistics.median(xs), "max_ms": max(xs),
            "min_ms": min(xs)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--port-base", type=int, default=38700)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    work = tempfile.mkdtemp(prefix="tinysip-recovery-")
    lab = Lab(os.path.join(work, "lab"), port_base=a.port_base, flow_timer=3,
              users={"phone1": "secret1"})
    lab.start()
    tcp, nat = Relay(lab.port_tls), UdpRelay(lab.port_udp)
    b = Bench(lab, tcp.port, nat.port)
    out = {"tls_cut": [], "udp_rebind": [], "udp_rebind_from_change": [], "network_change": []}
    try:
        b.until(lambda: b.registered(0, 0) is not None and b.registered(0, 1) is not None)
        for i in range(a.runs):
            print("  run %d/%d" % (i + 1, a.runs), file=sys.stderr, flush=True)
            m = len(b.events)
            tcp.drop_all()
            b.until(lambda: b.registered(m, 0) is not None)
            out["tls_cut"].append(b.registered(m, 0) - b.first("flow_failed", m, flow=0))
            assert b.first("flow_failed", m, flow=1) is None, "the UDP flow failed too"
            b.until(lambda: b.first("keepalive", len(b.events) - 1, flow=1) is not None, 10)
            m = len(b.events)
            t_change = b.clock.now()
            nat.rebind()
            b.until(lambda: b.registered(m, 1) is not None)
            t_fail = b.first("flow_failed", m, flow=1, reason="stun_mapped_changed")
            out["udp_rebind"].append(b.registered(m, 1) - t_fail)
            out["udp_rebind_from_change"].append(b.registered(m, 1) - t_change)
            m = len(b.events)
            t0 = b.clock.now()
            b.ua.network_changed(t0)
            b.until(lambda: b.registered(m, 0) is not None and b.registered(m, 1) is not None)
            out["network_change"].append(max(b.registered(m, 0), b.registered(m, 1)) - t0)
    finally:
        b.close()
        tcp.close()
        nat.close()
        lab.close()
    res = dict((k, summary(v)) for k, v in out.items())
    print("recovery on loopback (two flows: TLS + UDP/STUN, Flow-Timer 3 s), %d runs:" % a.runs)
    for k, label in (("tls_cut", "TLS flow cut -> re-registered (UDP flow up)"),
                     ("udp_rebind", "UDP NAT rebinding seen -> re-registered (TLS up)"),
                     ("udp_rebind_from_change", "UDP NAT rebinding -> re-registered"),
                     ("network_change", "network change -> both flows registered")):
        s = res[k]
        print("  %-50s median %6.0f ms  max %6.0f ms" % (label, s["median_ms"], s["max_ms"]))
    if a.json:
        print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
