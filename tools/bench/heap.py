"""Smallest MicroPython heap at which the registration scenario passes, found by bisection.

Scenario: the firmware from .mpy (as shipped) on the unix port, one TLS flow to the lab's
Kamailio (Flow-Timer 2 s so keepalives come quickly), must register and answer two
keepalive rounds. With --call it must then also take one auto-answered loopback call from
SIPp (through Kamailio) and mirror every one of 200 RTP packets, then see the BYE.
Prints each probe and the result; exits 0 (benchmarks report, tests assert).

    python tools/bench/heap.py [--low 32] [--high 256] [--flows 1] [--call] [--json]
"""
import argparse
import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "lab"))
sys.path.insert(0, os.path.join(ROOT, "host_tests", "interop"))

from lab import Lab  # noqa: E402
from phone import Phone, build_mpy, build_romfs, lab_config  # noqa: E402


def call(lab, workdir, phone, packets=200):
    """One auto-answered loopback call: True when all packets come back and it ends."""
    from caller import Call, rtp_packet

    mark = len(phone.events)
    c = Call(lab, workdir, lab.aor("phone1"), "tester", "testpw",
             answer_mode="Answer-Mode: Auto", hold_ms=3000)
    got = 0
    try:
        ans = phone.wait_for("call_answered", start=mark, timeout=8)
        c.rtp.settimeout(0.5)
        for i in range(packets):
            c.rtp.sendto(rtp_packet(i, 160 * i), ("127.0.0.1", ans["port"]))
            try:
                c.rtp.recvfrom(2048)
                got += 1
            except OSError:
                pass
    finally:
        rc, _ = c.finish(timeout=15)
    end = phone.wait_for("call_ended", start=mark, timeout=8)
    return rc == 0 and got == packets and end["rx"] == packets


def scenario(lab, workdir, lib, heap_kb, flows, with_call=False, timeout=12.0):
    """True when the phone registers every flow and sees two keepalives per flow (and, with
    with_call, mirrors a loopback call)."""
    cfg = lab_config(lab, "02:00:00:00:0b:%02x" % (heap_kb % 256), ports=[lab.port_tls] * flows,
                     autoanswer={"allow": ["sip:tester@lab.test"]},
                     media={"ip": "127.0.0.1", "port": 43000})
    phone = Phone(workdir, cfg, heap="%dk" % heap_kb, **lib)
    try:
        for f in range(flows):
            phone.wait_for("registered", flow=f, timeout=timeout)
        deadline = time.time() + timeout
        while time.time() < deadline:
            kas = phone.named("keepalive")
            if all(sum(1 for k in kas if k["flow"] == f) >= 2 for f in range(flows)):
                if with_call and not call(lab, workdir, phone):
                    return False
                return phone.proc.poll() is None
            if phone.proc.poll() is not None:
                return False
            time.sleep(0.2)
        return False
    except (AssertionError, OSError):
        return False
    finally:
        phone.stop()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--low", type=int, default=32, help="KB known or assumed to fail")
    ap.add_argument("--high", type=int, default=256, help="KB expected to pass")
    ap.add_argument("--flows", type=int, default=1)
    ap.add_argument("--call", action="store_true", help="also take a loopback call")
    ap.add_argument("--port-base", type=int, default=18060)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--files", action="store_true",
                    help="import .mpy files from the filesystem instead of the ROMFS image")
    args = ap.parse_args(argv)
    work = tempfile.mkdtemp(prefix="tinysip-heap-")
    if args.files:
        lib = {"mpy_lib": build_mpy(os.path.join(work, "mpy"))}
    else:
        lib = {"romfs": build_romfs(work)}
    lab = Lab(os.path.join(work, "lab"), port_base=args.port_base, flow_timer=2,
              users={"phone1": "secret1", "tester": "testpw"})
    lab.start()
    try:
        low, high = args.low, args.high
        if not scenario(lab, work, lib, high, args.flows, args.call):
            print("scenario fails even at %d KB" % high)
            return 0
        while high - low > 2:
            mid = (low + high) // 2
            ok = scenario(lab, work, lib, mid, args.flows, args.call)
            print("  heap %4d KB: %s" % (mid, "pass" if ok else "FAIL"), flush=True)
            if ok:
                high = mid
            else:
                low = mid
        what = "one loopback call" if args.call else "idle"
        how = ".mpy files" if args.files else "ROMFS in place"
        result = {"scenario": "registered, %s, %d TLS flow(s), %s" % (what, args.flows, how),
                  "smallest_heap_kb": high, "budget_kb": 96, "within_budget": high <= 96}
        print("smallest passing heap: %d KB (budget 96 KB: %s)" % (
            high, "OK" if high <= 96 else "OVER"))
        if args.json:
            print(json.dumps(result))
        return 0
    finally:
        lab.stop()


if __name__ == "__main__":
    sys.exit(main())
