"""Record the phone's scenarios against the lab's Kamailio, for the 32-bit bench's replay.

Starts the interop lab (tools/lab, port base TINYSIP_LAB_PORT_BASE or --port-base, default
27000), and per scenario runs the firmware on the unix port from a ROMFS image with
recphone.py in place of firmware/main.py: the UA's inputs (what Kamailio, the SIPp
certificate service and the SIPp caller sent it, its timers, the driver's reports) go to
tools/bench/wasm32/rec/<scenario>.rec. Needs kamailio and sipp (tools/deps.sh); the bench
itself (bench.py) only replays the files and needs neither.

    .venv/bin/python tools/bench/wasm32/record.py [--only idle,call] [--port-base 27000]

Scenarios (those of tools/bench/heap.py; Flow-Timer 2 s): idle with 1 TLS flow, 2 TLS
flows, 1 flow + one auto-answered loopback call (RTP mirrored), 1 flow + 3 cached
certificates (RFC 6072), full = 2 flows + 3 certificates + the call. Each recording: every
flow registered (digest 401, then 200 with outbound and GRUU), the certificates cached,
two keepalives per flow, the call, then one more keepalive per flow.
"""
import argparse
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(ROOT, "tools", "bench"))

import heap  # noqa: E402  (puts tools/lab and host_tests/interop on sys.path)
from lab import Lab  # noqa: E402
from phone import REPO, Phone, build_romfs  # noqa: E402

REC = os.path.join(HERE, "rec")
RECPHONE = os.path.join(HERE, "recphone.py")
# name -> (flows, certificates, call)
SCENARIOS = {"idle": (1, 0, False), "flows2": (2, 0, False), "call": (1, 0, True),
             "certs": (1, 3, False), "full": (2, 3, True)}
SEED = 20261206


def _wrap(rec):
    main = os.path.join(REPO, "firmware", "main.py")

    def wrap(cmd):
        return ["env", "TINYSIP_REC=" + rec, "TINYSIP_REC_SEED=%d" % SEED] + \
            [RECPHONE if c == main else c for c in cmd]
    return wrap


def _keepalives(phone, flows, n, start=0, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        kas = phone.named("keepalive")[start:]
        if all(sum(1 for k in kas if k["flow"] == f) >= n for f in range(flows)):
            return True
        time.sleep(0.1)
    return False


def record(lab, work, romfs, name):
    from notifier import Notifier

    flows, certs, with_call = SCENARIOS[name]
    certs_cfg, script = heap.cert_setup(lab, work, certs)
    service = Notifier(lab, work, script) if certs else None
    os.makedirs(REC, exist_ok=True)
    rec = os.path.join(REC, name + ".rec")
    for p in (rec, rec + ".stop"):
        if os.path.exists(p):
            os.remove(p)
    phone = Phone(work, heap.phone_config(lab, 512, flows, certs_cfg), heap="512k",
                  romfs=romfs, wrap=_wrap(rec))
    try:
        for f in range(flows):
            phone.wait_for("registered", flow=f, timeout=15)
        deadline = time.time() + 20
        while len(set(e["aor"] for e in phone.named("certificate_cached"))) < certs:
            if time.time() > deadline or phone.named("certificate_rejected"):
                raise AssertionError("certificates not cached:\n" + phone.log())
            time.sleep(0.1)
        if not _keepalives(phone, flows, 2, timeout=8):
            # a flow promoted from standby keeps the standby's keepalive timer (flow.keepalive,
            # 25 s) instead of the Flow-Timer: its first ping comes after ~20 s
            if not _keepalives(phone, 1, 2):
                raise AssertionError("no keepalives:\n" + phone.log())
            print("%s: warning: keepalives on flow 0 only" % name, flush=True)
        if with_call:
            # 100 packets, 20 ms apart: one mrx input per mirrored packet in the recording
            if not heap.call(lab, work, phone, packets=100, interval=0.02, hold_ms=3500):
                raise AssertionError("the loopback call failed:\n" + phone.log())
            if not _keepalives(phone, 1, 1, len(phone.named("keepalive"))):
                raise AssertionError("no keepalive after the call:\n" + phone.log())
        with open(rec + ".stop", "w"):
            pass
        time.sleep(2.5)  # the next input (a keepalive timer at most 2 s away) ends the log
    finally:
        phone.stop()
        if service is not None:
            service.stop()
        if os.path.exists(rec + ".stop"):
            os.remove(rec + ".stop")
    with open(rec, "rb") as f:
        data = f.read()
    if b"\nend " not in data:
        raise AssertionError("%s: the recording did not end between two inputs" % rec)
    kinds = {}
    for line in data.split(b"\n"):
        k = line.split(b" ", 1)[0]
        if k in (b"recv", b"timer", b"mrx", b"ev", b"send", b"conn"):
            kinds[k.decode()] = kinds.get(k.decode(), 0) + 1
    print("%s: %s, %d bytes, %s" % (name, os.path.relpath(rec, ROOT), len(data), kinds),
          flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(SCENARIOS))
    ap.add_argument("--port-base", type=int,
                    default=int(os.environ.get("TINYSIP_LAB_PORT_BASE", "27000")))
    args = ap.parse_args(argv)
    work = tempfile.mkdtemp(prefix="tinysip-w32rec-")
    romfs = build_romfs(work)
    lab = Lab(os.path.join(work, "lab"), port_base=args.port_base, flow_timer=2,
              users={"phone1": "secret1", "tester": "testpw"})
    lab.start()
    try:
        for name in args.only.split(","):
            record(lab, work, romfs, name)
    finally:
        lab.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
