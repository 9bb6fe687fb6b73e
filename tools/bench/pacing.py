"""loopcall pacing: does the tool keep 50 packets/s per stream without drift for N minutes?

Starts the lab's Kamailio and a phone (the MicroPython unix port, the mirror) and runs
tools/loopcall against it for --minutes at --interval ms (default 10 minutes at 20 ms =
50 pps). Prints the send-timing error (actual send time minus the schedule start + k *
interval: p50, p99, max in ms), the achieved rate, the last packet's lateness (drift: a
schedule that slipped would show here and in the rate), and loss/RTT for context.

    python tools/bench/pacing.py [--minutes 10] [--interval 20] [--port-base 18460] [--json]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path[0:0] = [os.path.join(ROOT, "tools", "lab"), os.path.join(ROOT, "host_tests", "interop")]

from lab import Lab  # noqa: E402
from phone import Phone, lab_config  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--interval", type=int, default=20)
    ap.add_argument("--port-base", type=int, default=18460)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="tinysip-pacing-")
    lab = Lab(os.path.join(work, "lab"), port_base=a.port_base,
              users={"phone1": "secret1", "tester": "testpw"})
    lab.start()
    phone = None
    try:
        cfg = lab_config(lab, "02:00:00:00:06:01", autoanswer={"allow": ["sip:tester@lab.test"]},
                         media={"ip": "127.0.0.1", "port": 46000})
        phone = Phone(work, cfg)
        phone.wait_for("registered", timeout=20)
        out = os.path.join(work, "report.json")
        if not a.json:
            print("streaming %.1f min at %d ms (%d pps) ..." % (a.minutes, a.interval,
                                                               1000 // a.interval), flush=True)
        r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "loopcall"),
                            "--target", lab.aor("phone1"), "--proxy",
                            "sips:127.0.0.1:%d" % lab.port_tls, "--user", "tester",
                            "--password", "testpw", "--ca", lab.ca_der, "--server-name",
                            "lab.test", "--interval", str(a.interval), "--duration",
                            str(a.minutes * 60), "--json", out, "--quiet"],
                           capture_output=True, text=True, cwd=ROOT)
        if r.returncode != 0:
            sys.stderr.write(r.stderr)
            return 1
        with open(out) as f:
            doc = json.load(f)
    finally:
        if phone is not None:
            phone.stop()
        lab.close()
    s = doc["summary"]
    t = doc["timing"] or {}
    series = doc["series"]
    res = {
        "minutes": a.minutes, "interval_ms": a.interval, "sent": s["sent"],
        "expected": int(a.minutes * 60000) // a.interval, "received": s["received"],
        "send_error_p50_ms": t.get("p50_us", 0) / 1000, "send_error_p99_ms": t.get("p99_us", 0) / 1000,
        "send_error_max_ms": t.get("max_us", 0) / 1000,
        "last_send_offset_ms": series[-1]["t_ms"] if series else None,
        "rtt_p95_ms": s["rtt_ms"]["p95"] if s["rtt_ms"] else None,
    }
    if series and s["received"] == s["sent"]:
        # drift: where the last packet left against where the schedule put it
        res["drift_ms"] = series[-1]["t_ms"] - (s["sent"] - 1) * a.interval
    if a.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print("  %-22s %s" % (k, v))
    return 0


if __name__ == "__main__":
    sys.exit(main())
