"""Smallest MicroPython heap at which a phone scenario passes, found by bisection; also the
phone's live heap (gc.mem_alloc) idle and in a call, and its boot-to-registered time.

Scenario: the firmware run in place from a ROMFS image (as shipped; --files: from .mpy
files) on the unix port, --flows TLS flows to the lab's Kamailio (Flow-Timer 2 s so
keepalives come quickly), must register every flow and answer two keepalive rounds on each.
With --certs N it first subscribes to N AoRs' certificates (RFC 6072, served by the
interop tests' SIPp certificate service, host_tests/interop/notifier.py) and must cache all
N. With --call it must then also take one auto-answered loopback call from SIPp (through
Kamailio), mirror every one of 200 RTP packets, and see the BYE.
Prints each probe and the result; exits 0 (benchmarks report, tests assert).

    python tools/bench/heap.py [--low 32] [--high 256] [--flows 1] [--certs N] [--call]
                               [--files] [--repeat N] [--port-base P] [--json]
    python tools/bench/heap.py --live [--heap 256] [--json]
        live heap after gc.collect() at each keepalive: idle, then during a loopback call
        (the firmware through tools/bench/memphone.py, which adds `mem` to those events)
    python tools/bench/heap.py --boot N [--heap 128] [--json]
        median of N runs: process start to the first `registered` event
    python tools/bench/heap.py --rate N --heaps 90,91 [scenario options] [--json]
        the scenario N times at each heap: how many runs pass (near its limit a scenario
        passes or fails by how the TLS reads happen to coalesce; session 22's method)
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
from phone import REPO, Phone, build_mpy, build_romfs, lab_config  # noqa: E402

MEMPHONE = os.path.join(ROOT, "tools", "bench", "memphone.py")


def make_certs(lab, workdir, aors):
    """One DER certificate per AoR for the certificate service, from the lab's user CA
    (RSA PKCS#1 v1.5 signature, EC P-256 key, like pki's alice). Each lists every AoR in
    its subjectAltName: the service answers SUBSCRIBEs in arrival order, which need not
    be the phone's order, so any certificate must pass for any of the AoRs."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    with open(os.path.join(lab.pki_dir, "user_ca.der"), "rb") as f:
        ca = x509.load_der_x509_certificate(f.read())
    with open(os.path.join(lab.pki_dir, "user_ca.key.der"), "rb") as f:
        ca_key = serialization.load_der_private_key(f.read(), None)
    now = datetime.datetime.now(datetime.timezone.utc)
    san = x509.SubjectAlternativeName([x509.UniformResourceIdentifier(a) for a in aors])
    out = []
    for i, aor in enumerate(aors):
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tinysip bench"),
                          x509.NameAttribute(NameOID.COMMON_NAME, aor[4:])])
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(ca.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
                .add_extension(san, False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    ca_key.public_key()), False)
                .sign(ca_key, hashes.SHA256()))
        path = os.path.join(str(workdir), "bench_cert%d.der" % (i + 1))
        with open(path, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.DER))
        out.append(path)
    return out


def cert_setup(lab, workdir, n):
    """(certificates config for the phone, NOTIFY script for the notifier) for n AoRs."""
    if not n:
        return None, None
    aors = ["sip:bench%d@lab.test" % (i + 1) for i in range(n)]
    bodies = make_certs(lab, workdir, aors)
    calls = [[{"state": "active;expires=600", "body": b}] for b in bodies]
    # cached in files, as a device keeps them in its flash (certificates.cache_dir: the
    # ESP32 boards' default), not in the heap
    cfg = {"subscribe": aors, "ca": os.path.join(lab.pki_dir, "user_ca.der"),
           "cache_dir": os.path.join(str(workdir), "certcache")}
    return cfg, calls


def call(lab, workdir, phone, packets=200, interval=0.0, hold_ms=3000):
    """One auto-answered loopback call: True when all packets come back and it ends.
    `interval` s between packets (0: ping-pong as fast as the mirror answers)."""
    from caller import loopback_call

    rc, got, _, end = loopback_call(lab, workdir, phone, packets, interval, hold_ms, 15)
    return rc == 0 and got == packets and end["rx"] == packets


def phone_config(lab, heap_kb, flows, certs_cfg=None, udp=False):
    extra = {}
    if certs_cfg:
        extra["certificates"] = certs_cfg
    # one device for every probe: each probe's REGISTER replaces the last one's binding
    # (same instance and reg-id), so the 200 OK lists this phone's contacts only, as for
    # a phone alone on its AoR, whatever the probes before it left behind
    cfg = lab_config(lab, "02:00:00:00:0b:01", ports=[lab.port_tls] * flows,
                     autoanswer={"allow": ["sip:tester@lab.test"]},
                     media={"ip": "127.0.0.1", "port": 43000}, **extra)
    if udp:  # the last flow over UDP with STUN keepalive (issue 6: TLS + UDP)
        cfg["outbound"][-1] = "sip:127.0.0.1:%d;transport=udp" % lab.port_udp
    return cfg


def scenario(lab, workdir, lib, heap_kb, flows, with_call=False, certs=0, timeout=12.0,
             udp=False):
    """True when the phone registers every flow, caches `certs` certificates and sees two
    keepalives per flow (and, with with_call, mirrors a loopback call)."""
    from notifier import Notifier

    certs_cfg, script = cert_setup(lab, workdir, certs)
    service = Notifier(lab, workdir, script) if certs else None
    phone = None
    try:
        phone = Phone(workdir, phone_config(lab, heap_kb, flows, certs_cfg, udp),
                      heap="%dk" % heap_kb, **lib)
        for f in range(flows):
            phone.wait_for("registered", flow=f, timeout=timeout)
        deadline = time.time() + timeout + 2 * certs
        while time.time() < deadline:
            kas = phone.named("keepalive")
            cached = set(e["aor"] for e in phone.named("certificate_cached"))
            if phone.named("certificate_rejected"):
                return False
            if len(cached) >= certs and \
                    all(sum(1 for k in kas if k["flow"] == f) >= 2 for f in range(flows)):
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
        if phone is not None:
            phone.stop()
        if service is not None:
            service.stop()


def _memphone(cmd):
    """The phone's command with tools/bench/memphone.py in place of firmware/main.py."""
    main = os.path.join(REPO, "firmware", "main.py")
    return [MEMPHONE if c == main else c for c in cmd]


def live_heap(lab, workdir, lib, heap_kb=256, packets=250, certs=0):
    """{idle, call, diff}: gc.mem_alloc() after gc.collect() at keepalive events, the last
    before a loopback call and the last one while it is up (1 flow), in bytes. With certs,
    no call: {idle} after that many certificates are cached."""
    from notifier import Notifier

    certs_cfg, script = cert_setup(lab, workdir, certs)
    service = Notifier(lab, workdir, script) if certs else None
    phone = Phone(workdir, phone_config(lab, heap_kb, 1, certs_cfg), heap="%dk" % heap_kb,
                  wrap=_memphone, **lib)
    try:
        phone.wait_for("registered", flow=0, timeout=15)
        deadline = time.time() + 20
        while time.time() < deadline:
            if len(phone.named("certificate_cached")) >= certs:
                break
            time.sleep(0.2)
        n0 = len(phone.named("keepalive"))
        while len(phone.named("keepalive")) < n0 + 2 and time.time() < deadline:
            time.sleep(0.2)
        idle = [k["mem"] for k in phone.named("keepalive") if "mem" in k]
        if certs:
            return {"idle_samples": idle, "idle": idle[-1] if idle else None,
                    "cached": len(phone.named("certificate_cached"))}
        mark = len(phone.events)
        # 250 packets at 20 ms: the call is up ~5 s, so two or three keepalives fall in it
        ok = call(lab, workdir, phone, packets=packets, interval=0.02, hold_ms=packets * 20 + 1500)
        with phone.cond:
            evs = phone.events[mark:]
        names = [e.get("event") for e in evs]
        if "call_answered" not in names or "call_ended" not in names:
            return {"error": "the call did not happen", "ok": ok}
        a, b = names.index("call_answered"), names.index("call_ended")
        during = [e["mem"] for e in evs[a:b] if e.get("event") == "keepalive" and "mem" in e]
        res = {"idle_samples": idle, "call_samples": during, "call_ok": ok}
        if idle and during:
            res.update(idle=idle[-1], call=during[-1], diff=during[-1] - idle[-1])
        return res
    finally:
        phone.stop()
        if service is not None:
            service.stop()


def boot_time(lab, workdir, lib, runs=5, heap_kb=128):
    """Seconds from starting the phone's process to its first `registered` event, per run."""
    out = []
    for i in range(runs):
        t0 = time.monotonic()
        phone = Phone(workdir, phone_config(lab, 200 + i, 1), heap="%dk" % heap_kb, **lib)
        try:
            phone.wait_for("registered", flow=0, timeout=20)
            out.append(time.monotonic() - t0)
        except AssertionError:
            pass
        finally:
            phone.stop()
    return out


def bisect(passes, low, high):
    """Smallest KB (to 2 KB) at which passes(kb) holds, assuming it fails at `low`; None when
    it fails even at `high`. Prints each probe."""
    if not passes(high):
        return None
    while high - low > 2:
        mid = (low + high) // 2
        ok = passes(mid)
        print("  heap %4d KB: %s" % (mid, "pass" if ok else "FAIL"), flush=True)
        if ok:
            high = mid
        else:
            low = mid
    return high


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--low", type=int, default=32, help="KB known or assumed to fail")
    ap.add_argument("--high", type=int, default=256, help="KB expected to pass")
    ap.add_argument("--flows", type=int, default=1)
    ap.add_argument("--udp", action="store_true", help="the last flow over UDP (STUN)")
    ap.add_argument("--call", action="store_true", help="also take a loopback call")
    ap.add_argument("--certs", type=int, default=0, help="cache this many AoRs' certificates")
    ap.add_argument("--live", action="store_true",
                    help="measure the live heap idle and in a call instead of bisecting")
    ap.add_argument("--boot", type=int, default=0, metavar="N",
                    help="measure boot-to-registered N times instead of bisecting")
    ap.add_argument("--repeat", type=int, default=1, metavar="N",
                    help="bisect N times and report the median (near its limit a run passes "
                         "or fails with heap fragmentation)")
    ap.add_argument("--heap", type=int, default=None, help="KB for --live / --boot / --rate")
    ap.add_argument("--rate", type=int, default=0, metavar="N",
                    help="run the scenario N times at each --heap (or each KB of --heaps) and "
                         "count the passes instead of bisecting: near the limit one bisection "
                         "moves 1-2 KB, a pass rate shows a change of less")
    ap.add_argument("--heaps", dest="rate_heaps", type=lambda v: [int(x) for x in v.split(",")],
                    default=None, metavar="KB,KB", help="the heaps for --rate")
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
    how = ".mpy files" if args.files else "ROMFS in place"
    try:
        if args.live:
            res = live_heap(lab, work, lib, args.heap or 256, certs=args.certs)
            res["how"] = how
            print(json.dumps(res) if args.json else res)
            return 0
        if args.boot:
            times = sorted(boot_time(lab, work, lib, args.boot, args.heap or 128))
            res = {"how": how, "runs_s": [round(t, 3) for t in times],
                   "median_s": round(times[len(times) // 2], 3) if times else None}
            print(json.dumps(res) if args.json else res)
            return 0
        def passes(kb):
            return scenario(lab, work, lib, kb, args.flows, args.call, args.certs,
                            udp=args.udp)

        if args.rate:  # near its limit a scenario passes or fails by how reads coalesce
            kbs = args.rate_heaps or [args.heap or args.high]
            rates = {}
            for kb in kbs:
                got = ""
                for i in range(args.rate):
                    got += "P" if passes(kb) else "F"
                    print("  heap %4d KB, run %d of %d: %s" % (
                        kb, i + 1, args.rate, "pass" if got[-1] == "P" else "FAIL"), flush=True)
                rates[kb] = got.count("P")
                print("heap %d KB: %d of %d runs pass (%s)" % (kb, rates[kb], args.rate, got),
                      flush=True)
            if args.json:
                print(json.dumps({"runs": args.rate, "passes": rates}))
            return 0

        runs = []
        for r in range(args.repeat):
            if args.repeat > 1:
                print("bisection %d of %d" % (r + 1, args.repeat), flush=True)
            kb = None
            if runs:  # the later runs search near the first result first (fewer probes)
                kb = bisect(passes, max(args.low, runs[0] - 12), runs[0] + 12)
            if kb is None:
                kb = bisect(passes, args.low, args.high)
            if kb is None:
                print("scenario fails even at %d KB" % args.high)
                if args.json:
                    print(json.dumps({"smallest_heap_kb": None, "failed_at_kb": args.high}))
                return 0
            runs.append(kb)
        high = sorted(runs)[len(runs) // 2]  # the median: one bisection moves 2-4 KB run to run
        what = "one loopback call" if args.call else "idle"
        if args.certs:
            what += ", %d cached certificates" % args.certs
        result = {"scenario": "registered, %s, %d TLS flow(s), %s" % (what, args.flows, how),
                  "smallest_heap_kb": high, "runs_kb": runs}
        # issue 16: every scenario <= 56 KB on 32 bits, 88 KB on this 64-bit port (ROMFS)
        budget = None if args.files else 88
        if budget:
            result.update(budget_kb=budget, within_budget=high <= budget)
            print("smallest passing heap: %d KB (budget %d KB: %s)" % (
                high, budget, "OK" if high <= budget else "OVER"))
        else:
            print("smallest passing heap: %d KB" % high)
        if len(runs) > 1:
            print("median of %d bisections: %s KB" % (len(runs), ", ".join(map(str, runs))))
        if args.json:
            print(json.dumps(result))
        return 0
    finally:
        lab.stop()


if __name__ == "__main__":
    sys.exit(main())
