"""`make bench`: the figures the issues budget, printed as one table.

Rows: .mpy bytes of lib/ + firmware/ (budget 32 KB for the Foundation issue) and the
smallest MicroPython heap at which the registered idle phone passes with one TLS flow
(budget 96 KB) and with two flows, each found by bisection against the lab's Kamailio.
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
    for flows, port in ((1, 18060), (2, 18160)):
        print("bisecting the heap for %d flow(s) ..." % flows, flush=True)
        text = run(["tools/bench/heap.py", "--flows", str(flows), "--port-base", str(port),
                    "--low", "48", "--high", "320", "--json"])
        sys.stdout.write(text)
        last = [l for l in text.splitlines() if l.startswith("{")]
        kb = json.loads(last[-1])["smallest_heap_kb"] if last else None
        rows.append(("smallest heap, registered idle, %d TLS flow(s)" % flows, kb,
                     96 if flows == 1 else None, "KB"))
    print()
    print("%-50s %10s %10s  %s" % ("figure", "value", "budget", "status"))
    for name, value, budget, unit in rows:
        status = "-" if budget is None or value is None else ("OK" if value <= budget else "OVER")
        print("%-50s %7s %s %7s %s  %s" % (name, value, unit[:2], budget or "-",
                                           unit[:2] if budget else "", status))


if __name__ == "__main__":
    main()
