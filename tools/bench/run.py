"""`make bench`: the figures the issues budget, printed as one table.

Rows: .mpy bytes of lib/ + firmware/ (budget 32 KB for the Foundation issue); the smallest
MicroPython heap at which the registered idle phone passes with one TLS flow (budget 96 KB)
and with two flows, and with one active loopback call (the extra over idle: target 8 KB),
each found by bisection against the lab's Kamailio; the RTP mirror's bytes allocated per
packet (target 0) and packets per second (target >= 20,000) on the unix port; the loopcall
tool's send-timing error and drift at 50 pps for PACING_MINUTES (default 10) minutes.
Benchmarks print figures; they never fail the build.
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PY = sys.executable


def run(args):
    out = subprocess.run([PY] + args, cwd=ROOT, capture_output=True, text=True)
    sys.stderr.write(out.stderr)
    return out.stdout


def main():
    rows = []
    sizes = json.loads(run(["tools/bench/mpy_size.py", "--json"]))
    totals = sizes["totals"]
    rows.append((".mpy bytes, lib/ + firmware/, -O3 (shipped)", totals["-O3"], 32768, "bytes"))
    rows.append((".mpy bytes, lib/ + firmware/, plain", totals["plain"], None, "bytes"))
    heaps = {}
    for name, flows, port, extra in (("idle", 1, 18060, []), ("idle", 2, 18160, []),
                                     ("call", 1, 18260, ["--call"])):
        print("bisecting the heap: %s, %d flow(s) ..." % (name, flows), flush=True)
        text = run(["tools/bench/heap.py", "--flows", str(flows), "--port-base", str(port),
                    "--low", "48", "--high", "320", "--json"] + extra)
        sys.stdout.write(text)
        last = [l for l in text.splitlines() if l.startswith("{")]
        kb = json.loads(last[-1])["smallest_heap_kb"] if last else None
        heaps[(name, flows)] = kb
        label = ("registered idle" if name == "idle" else "one loopback call") + \
            ", %d TLS flow(s)" % flows
        rows.append(("smallest heap, " + label, kb, 96 if (name, flows) == ("idle", 1) else None,
                     "KB"))
    idle, busy = heaps[("idle", 1)], heaps[("call", 1)]
    rows.append(("extra heap for one loopback call", None if idle is None or busy is None
                 else busy - idle, 8, "KB"))
    print("measuring the RTP mirror ...", flush=True)
    mirror = json.loads(run(["tools/bench/mirror.py", "--json"]) or "{}").get("results", [])
    zc = [r for r in mirror if r["read"] == "zero-copy"]
    if zc:
        rows.append(("RTP mirror bytes per packet (worst mode)",
                     max(r["bytes_per_packet"] for r in zc), 0, "B"))
        rows.append(("RTP mirror packets/s (slowest mode, at least)",
                     min(r["packets_per_s"] for r in zc), -20000, "/s"))
    minutes = os.environ.get("PACING_MINUTES", "10")
    print("loopcall pacing, %s min at 50 pps ..." % minutes, flush=True)
    text = run(["tools/bench/pacing.py", "--minutes", minutes, "--json"])
    pace = json.loads(text.splitlines()[-1]) if text.strip() else {}
    rows.append(("loopcall send-timing error p99, 50 pps, %s min" % minutes,
                 pace.get("send_error_p99_ms"), None, "ms"))
    rows.append(("loopcall drift after %s min (last packet)" % minutes,
                 None if pace.get("drift_ms") is None else round(pace["drift_ms"], 3), None, "ms"))
    rows.append(("loopcall packets sent of expected, %s min" % minutes,
                 "%s/%s" % (pace.get("sent"), pace.get("expected")) if pace else None, None, ""))
    print()
    print("%-50s %10s %10s  %s" % ("figure", "value", "budget", "status"))
    for name, value, budget, unit in rows:
        # a negative budget is a floor (at least), a positive one a ceiling
        if budget is None or value is None:
            status = "-"
        elif budget < 0:
            status = "OK" if value >= -budget else "UNDER"
        else:
            status = "OK" if value <= budget else "OVER"
        shown = "-" if budget is None else abs(budget)
        print("%-50s %7s %s %7s %s  %s" % (name, value, unit[:2], shown,
                                           unit[:2] if budget is not None else "", status))


if __name__ == "__main__":
    main()
