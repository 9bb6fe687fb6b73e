"""The phone's heap on 32 bits (MicroPython's WebAssembly port) beside 64 bits (the unix
port), from the same replayed lab scenarios (issue 16).

    .venv/bin/python tools/bench/wasm32/bench.py [--json] [--only idle,call] [--no-bisect]
                                                  [--anytime]

Per scenario (recordings in tools/bench/wasm32/rec, made by record.py against the lab):
the live heap (gc.collect(); gc.mem_alloc(): most while registered and idle, or while the
call's mirror is up), the peak (most allocated at the end of a step) and the smallest
fixed heap at which the replay still completes (bisection to 1 KB, one process per probe),
on both ports, and their ratios. The replay (w32host.py) drives the real sans-IO UA with
the recorded inputs; the code (lib/ and w32host.py, mpy-cross -O3) runs in place from a
ROMFS image on both ports, as the device runs it. Both ports collect garbage only between
two steps (one UA input each; the WebAssembly port can do nothing else), so their figures
compare; --anytime adds the 64-bit smallest heap with the GC free to run inside a step
(what tools/bench/heap.py's phone does), the nearer figure to a device's.
Needs node and npm (Debian: nodejs, npm); installs its npm package (package-lock.json)
into tools/bench/wasm32/node_modules by itself. Exit 0 (a benchmark; the test asserts).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
BIN = os.path.join(ROOT, ".venv", "bin")
PKG = os.path.join(HERE, "node_modules", "@micropython", "micropython-webassembly-pyscript",
                   "micropython.mjs")
SCENARIOS = (("idle", "idle, 1 TLS flow"), ("flows2", "idle, 2 TLS flows"),
             ("call", "1 flow + loopback call"), ("certs", "1 flow + 3 certificates"),
             ("full", "full: 2 flows + 3 certs + call"))
# the same boot code on both ports, compiled from source (a few hundred bytes of heap)
BOOT = """import gc
T = gc.mem_alloc() + gc.mem_free()
import os, sys
try:
    os.stat("/rom/lib")
except OSError:
    import uctypes, vfs
    a, _, n = os.getenv("TINYSIP_ROMFS").partition(":")
    vfs.mount(vfs.VfsRom(uctypes.bytearray_at(int(a), int(n))), "/rom")
    del a, n, uctypes, vfs
sys.path[0:0] = ["/rom/lib"]
import w32host
"""


class Missing(Exception):
    pass


def ensure_node():
    """node and the npm package, installed from package-lock.json when missing."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise Missing("%s not found: the 32-bit bench runs MicroPython's WebAssembly port "
                          "on Node.js (Debian: apt-get install nodejs npm; tools/deps.sh)"
                          % tool)
    if not os.path.exists(PKG):
        r = subprocess.run(["npm", "ci", "--prefix", HERE, "--no-audit", "--no-fund"],
                           capture_output=True, text=True)
        if r.returncode != 0 or not os.path.exists(PKG):
            raise Missing("npm ci --prefix %s failed:\n%s%s" % (HERE, r.stdout, r.stderr))


def build_image(work):
    """ROMFS image: the phone's tree (tools/romfs.py stage, -O3), w32host.mpy, rec/*.rec."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("romfs", os.path.join(ROOT, "tools",
                                                                        "romfs.py"))
    romfs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(romfs)
    img = os.path.join(work, "img")
    romfs.stage(img, "host", "/rom/lib/")
    subprocess.check_call([os.path.join(BIN, "mpy-cross"), "-O3", "-s",
                           "/rom/lib/w32host.mpy", "-o", os.path.join(img, "lib", "w32host.mpy"),
                           os.path.join(HERE, "w32host.py")])
    shutil.copytree(os.path.join(HERE, "rec"), os.path.join(img, "rec"),
                    ignore=shutil.ignore_patterns("*.stop"))
    out = os.path.join(work, "w32.romfs")
    subprocess.check_call([os.path.join(BIN, "mpremote"), "romfs", "--no-mpy", "-o", out,
                           "build", img], stdout=subprocess.DEVNULL)
    boot = os.path.join(work, "boot.py")
    with open(boot, "w") as f:
        f.write(BOOT)
    return out, boot


def _parse(text):
    """{result..., qstr_base, qstr_end} from a run's output."""
    res = None
    qstr = {}
    tag = None
    for line in text.splitlines():
        if line.startswith("w32 result "):
            try:
                res = json.loads(line[11:])
            except ValueError:
                res = {"ok": False, "why": "bad result line: " + line[:200]}
        elif line.startswith("w32 qstr "):
            tag = line[9:].strip()
        elif line.startswith("qstr pool:") and tag:
            d = {}
            for kv in line[10:].split(","):
                k, _, v = kv.strip().partition("=")
                d[k] = int(v)
            qstr[tag] = d
            tag = None
    if res is None:
        res = {"ok": False, "why": "no result: " + text[-400:]}
    if qstr:
        res["qstr"] = qstr
    return res


def run_wasm(image, boot, name, heap):
    p = subprocess.run(["node", os.path.join(HERE, "run.mjs"), "--romfs", image, "--heap",
                        str(heap), "--rec", "/rom/rec/%s.rec" % name, "--boot", boot],
                       capture_output=True, text=True, timeout=300)
    return _parse(p.stdout + p.stderr)


def gc_every():
    """The firmware's gc.threshold (firmware/app.py _GC_EVERY): the GC-any-time replay
    collects as the phone does."""
    with open(os.path.join(ROOT, "firmware", "app.py")) as f:
        return int(re.search(r"^_GC_EVERY = const\((\d+)\)", f.read(), re.M).group(1))


def run_unix(image, name, heap, anytime=False):
    code = BOOT + "w32host.loop(%r, T, %d)\n" % ("/rom/rec/%s.rec" % name,
                                                  gc_every() if anytime else 0)
    p = subprocess.run([os.path.join(BIN, "python"), os.path.join(ROOT, "tools", "romfs.py"),
                        "run", image, "-X", "heapsize=%d" % heap, "-c", code],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    return _parse(p.stdout + p.stderr)


def bisect(passes, low_kb, high_kb):
    """Smallest KB at which passes(KB) holds, assuming it fails at low_kb; None when it fails
    at high_kb too."""
    if not passes(high_kb):
        return None
    while high_kb - low_kb > 1:
        mid = (low_kb + high_kb) // 2
        if passes(mid):
            high_kb = mid
        else:
            low_kb = mid
    return high_kb


def measure(image, boot, name, bisecting=True, anytime=False, big=512 * 1024):
    """One scenario on both ports: {"w32": {...}, "w64": {...}[, "w64_anytime_kb"]}."""
    out = {}
    for key, run in (("w64", lambda h: run_unix(image, name, h)),
                     ("w32", lambda h: run_wasm(image, boot, name, h))):
        res = run(big)
        out[key] = res
        if not res.get("ok") or not bisecting:
            continue
        low = max(8, res["peak"] // 1024 - 1)  # nothing passes below its peak allocation
        res["smallest_kb"] = bisect(lambda kb: run(kb * 1024).get("ok"), low, big // 1024)
    if anytime and bisecting and out["w64"].get("ok"):
        out["w64_anytime_kb"] = bisect(
            lambda kb: run_unix(image, name, kb * 1024, True).get("ok"), 8, big // 1024)
    return out


def trace(image, boot, name, work, big=512 * 1024):
    """Print each step of one scenario on the WebAssembly port (32 bits)."""
    tboot = os.path.join(work, "trace_boot.py")
    with open(boot) as f, open(tboot, "w") as g:
        g.write(f.read() + "\nw32host.TRACE = True\n")
    p = subprocess.run(["node", os.path.join(HERE, "run.mjs"), "--romfs", image, "--heap",
                        str(big), "--rec", "/rom/rec/%s.rec" % name, "--boot", tboot],
                       capture_output=True, text=True, timeout=300)
    print("step  live KB  end KB  step KB  input")
    for line in (p.stdout + p.stderr).splitlines():
        if line.startswith("w32 step "):
            _, _, n, _, live, _, used, k = line.split(" ", 7)
            live, used = int(live), int(used)
            print("%4s  %7.1f  %6.1f  %7.1f  %s" % (n, live / 1024, used / 1024,
                                                   (used - live) / 1024, k[:90]))
        elif line.startswith("w32 result"):
            print(line)
    return 0


def _kb(v):
    return None if v is None else round(v / 1024, 1)


def _ratio(a, b):
    return None if not a or not b else round(a / b, 2)


def rows(results):
    out = []
    for name, label in SCENARIOS:
        r = results.get(name)
        if r is None:
            continue
        w64, w32 = r["w64"], r["w32"]
        live = "live_call" if w64.get("live_call") else "live_max"
        row = {"scenario": name, "label": label, "live_kind": live,
               "w64_live_kb": _kb(w64.get(live)), "w32_live_kb": _kb(w32.get(live)),
               "w64_peak_kb": _kb(w64.get("peak")), "w32_peak_kb": _kb(w32.get("peak")),
               "w64_smallest_kb": w64.get("smallest_kb"),
               "w32_smallest_kb": w32.get("smallest_kb"),
               "w64_anytime_kb": r.get("w64_anytime_kb"),
               "w64_qstr": (w64.get("qstr") or {}).get("end"),
               "w32_qstr": (w32.get("qstr") or {}).get("end"),
               "w64_qstr_base": (w64.get("qstr") or {}).get("base"),
               "w32_qstr_base": (w32.get("qstr") or {}).get("base"),
               "w64_live_base_kb": _kb(w64.get("live_base")),
               "w32_live_base_kb": _kb(w32.get("live_base")),
               "send_diff": [w64.get("send_diff"), w32.get("send_diff")],
               "errors": [x.get("why") for x in (w64, w32) if not x.get("ok")]}
        row["live_ratio"] = _ratio(row["w32_live_kb"], row["w64_live_kb"])
        row["peak_ratio"] = _ratio(row["w32_peak_kb"], row["w64_peak_kb"])
        row["smallest_ratio"] = _ratio(row["w32_smallest_kb"], row["w64_smallest_kb"])
        # an estimate, not a measurement: this port cannot collect inside a step
        row["w32_anytime_est_kb"] = None if not row["w64_anytime_kb"] or not \
            row["smallest_ratio"] else round(row["w64_anytime_kb"] * row["smallest_ratio"])
        out.append(row)
    return out


def table(rs, anytime=False):
    def f(v):
        return "n/a" if v is None else ("%.2f" % v if isinstance(v, float) and v < 10
                                        else "%s" % v)
    head = ["scenario", "64-bit live", "32-bit live", "ratio", "64-bit peak", "32-bit peak",
            "ratio", "64-bit smallest", "32-bit smallest", "ratio"]
    if anytime:
        head += ["64-bit smallest, GC any time", "32-bit est."]
    head += ["qstrs 64/32"]
    lines = []
    for r in rs:
        q64, q32 = r["w64_qstr"] or {}, r["w32_qstr"] or {}
        cells = [r["label"], f(r["w64_live_kb"]), f(r["w32_live_kb"]), f(r["live_ratio"]),
                 f(r["w64_peak_kb"]), f(r["w32_peak_kb"]), f(r["peak_ratio"]),
                 f(r["w64_smallest_kb"]), f(r["w32_smallest_kb"]), f(r["smallest_ratio"])]
        if anytime:
            cells += [f(r["w64_anytime_kb"]), f(r["w32_anytime_est_kb"])]
        cells.append("%s/%s (%s/%s pools)" % (q64.get("n_qstr"), q32.get("n_qstr"),
                                              q64.get("n_pool"), q32.get("n_pool")))
        lines.append(cells)
        for e in r["errors"]:
            lines.append(["  failed: " + str(e)[:150]] + [""] * (len(head) - 1))
    w = [max(len(c[i]) for c in lines + [head]) for i in range(len(head))]
    fmt = lambda c: "  ".join((c[i].ljust(w[i]) if i == 0 else c[i].rjust(w[i]))  # noqa: E731
                              for i in range(len(c))).rstrip()
    out = [fmt(head), fmt(["-" * x for x in w])] + [fmt(c) for c in lines]
    out.append("KB (1024 B). live: gc.mem_alloc() after gc.collect(), the most while idle and "
               "registered, or in the call; peak: the most allocated within one step; "
               "smallest: the smallest fixed heap that completes the replay (1 KB bisection), "
               "the GC collecting between steps only" + ("; GC any time: inside steps too "
               "(64-bit only); 32-bit est.: that times the ratio of the smallest heaps."
               if anytime else "."))
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--only", default=",".join(n for n, _ in SCENARIOS))
    ap.add_argument("--no-bisect", action="store_true", help="live and peak heap only")
    ap.add_argument("--anytime", action="store_true",
                    help="also bisect 64-bit with the GC free to run inside a step")
    ap.add_argument("--jobs", type=int, default=2, help="scenarios measured at once")
    ap.add_argument("--trace", metavar="SCENARIO",
                    help="one scenario on 32 bits, step by step: live heap at its start and "
                         "the most allocated at its end, KB, and its input")
    args = ap.parse_args(argv)
    try:
        ensure_node()
    except Missing as e:
        print("wasm32 bench: %s" % e, file=sys.stderr)
        return 2
    work = tempfile.mkdtemp(prefix="tinysip-w32-")
    try:
        image, boot = build_image(work)
        if args.trace:
            return trace(image, boot, args.trace, work)
        names = [n for n in args.only.split(",") if n]
        with ThreadPoolExecutor(max(1, args.jobs)) as ex:
            futs = {n: ex.submit(measure, image, boot, n, not args.no_bisect, args.anytime)
                    for n in names}
            results = {n: futs[n].result() for n in names}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rs = rows(results)
    if args.json:
        print(json.dumps({"rows": rs, "details": results}))
    else:
        print(table(rs, args.anytime))
    return 0


if __name__ == "__main__":
    sys.exit(main())
