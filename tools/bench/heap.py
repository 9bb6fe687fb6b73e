"""Smallest MicroPython heap at which the registration scenario passes, found by bisection.

Scenario: the firmware from .mpy (as shipped) on the unix port, one TLS flow to the lab's
Kamailio (Flow-Timer 2 s so keepalives come quickly), must register and answer two
keepalive rounds. Prints each probe and the result; exits 0 (benchmarks report, tests
assert).

    python tools/bench/heap.py [--low 32] [--high 256] [--flows 1] [--json]
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
from phone import Phone, build_mpy, lab_config  # noqa: E402


def scenario(lab, workdir, lib, heap_kb, flows, timeout=12.0):
    """True when the phone registers every flow and sees two keepalives per flow."""
    cfg = lab_config(lab, "02:00:00:00:0b:%02x" % (heap_kb % 256), ports=[lab.port_tls] * flows)
    phone = Phone(workdir, cfg, heap="%dk" % heap_kb, mpy_lib=lib)
    try:
        for f in range(flows):
            phone.wait_for("registered", flow=f, timeout=timeout)
        deadline = time.time() + timeout
        while time.time() < deadline:
            kas = phone.named("keepalive")
            if all(sum(1 for k in kas if k["flow"] == f) >= 2 for f in range(flows)):
                return phone.proc.poll() is None
            if phone.proc.poll() is not None:
                return False
            time.sleep(0.2)
        return False
    except AssertionError:
        return False
    finally:
        phone.stop()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--low", type=int, default=32, help="KB known or assumed to fail")
    ap.add_argument("--high", type=int, default=256, help="KB expected to pass")
    ap.add_argument("--flows", type=int, default=1)
    ap.add_argument("--port-base", type=int, default=18060)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    work = tempfile.mkdtemp(prefix="tinysip-heap-")
    lib = build_mpy(os.path.join(work, "mpy"))
    lab = Lab(os.path.join(work, "lab"), port_base=args.port_base, flow_timer=2)
    lab.start()
    try:
        low, high = args.low, args.high
        if not scenario(lab, work, lib, high, args.flows):
            print("scenario fails even at %d KB" % high)
            return 0
        while high - low > 2:
            mid = (low + high) // 2
            ok = scenario(lab, work, lib, mid, args.flows)
            print("  heap %4d KB: %s" % (mid, "pass" if ok else "FAIL"), flush=True)
            if ok:
                high = mid
            else:
                low = mid
        result = {"scenario": "registered idle, %d TLS flow(s), .mpy" % args.flows,
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
