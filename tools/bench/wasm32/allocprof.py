"""Where one step of a replayed scenario allocates: every tinysip function's calls and bytes
allocated (its own, and inclusive of what it calls), on the unix port (64-bit), GC off in the step.

    .venv/bin/python tools/bench/wasm32/allocprof.py SCENARIO STEP [--pre mod,mod] [--top N]

The steps are those `bench.py --trace SCENARIO` prints. Before STEP, every function and
method of the loaded tinysip modules (and those --pre imports first, for code a step imports
lazily: their import then falls outside the step) is wrapped to count gc.mem_alloc()
around its calls. The wrapper's own argument tuple is counted in its callers (a few dozen
bytes per call). Exit 0 (a benchmark).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402

CODE = """
import gc, sys
step = w32host.start(%(rec)r, T)
gc.disable()
for i in range(%(n)d):
    step()
    gc.collect()
for m in %(pre)r:
    __import__(m)
gc.collect()
stats = {}
kids = [0]
def wrap(name, f):
    c = stats[name] = [0, 0, 0]
    def w(*a, **k):
        save = kids[0]
        kids[0] = 0
        m0 = gc.mem_alloc()
        try:
            return f(*a, **k)
        finally:
            d = gc.mem_alloc() - m0
            c[0] += 1
            c[1] += d
            c[2] += d - kids[0]
            kids[0] = save + d
    return w
def nop():
    pass
cal = wrap("nop", nop)
m0 = gc.mem_alloc()
for i in range(10):
    cal()
print("allocprof call", (gc.mem_alloc() - m0) // 10)
ONLY = %(only)r
def want(name):
    if not ONLY:
        return True
    for o in ONLY:
        if name.endswith(o):
            return True
    return False
for mn in list(sys.modules):
    if not mn.startswith("tinysip") and mn not in ("app", "driver"):
        continue
    mod = sys.modules[mn]
    for an in dir(mod):
        v = getattr(mod, an)
        t = type(v)
        if t is type(wrap):
            if want(mn + "." + an):
                setattr(mod, an, wrap(mn + "." + an, v))
        elif t is type and getattr(v, "__module__", mn) == mn:
            for bn in dir(v):
                if bn.startswith("__") and bn != "__init__":
                    continue
                try:
                    f = v.__dict__[bn]
                except (KeyError, AttributeError):
                    continue
                if type(f) is type(wrap) and want(mn + "." + an + "." + bn):
                    setattr(v, bn, wrap(mn + "." + an + "." + bn, f))
gc.collect()
step()
for k in stats:
    c = stats[k]
    if c[0] and k != "nop":
        print("allocprof fn", c[2], c[1], c[0], k)
"""


def profile(image, scenario, step, pre=(), only=()):
    """([(own B, inclusive B, calls, function)], B a wrapped call adds, output lines) for
    step `step` of `scenario`, replayed from the ROMFS `image` (bench.build_image)."""
    code = bench.BOOT + CODE % {"rec": "/rom/rec/%s.rec" % scenario, "n": step,
                                "pre": list(pre), "only": list(only)}
    p = subprocess.run([os.path.join(bench.BIN, "python"),
                        os.path.join(bench.ROOT, "tools", "romfs.py"), "run", image,
                        "-X", "heapsize=%d" % (1024 * 1024), "-c", code],
                       capture_output=True, text=True, timeout=300, cwd=bench.ROOT)
    rows = []
    call = 0
    other = []
    for line in (p.stdout + p.stderr).splitlines():
        if line.startswith("allocprof call"):
            call = int(line.split()[2])
        elif line.startswith("allocprof fn"):
            _, _, own, b, n, name = line.split(" ", 5)
            rows.append((int(own), int(b), int(n), name))
        elif not line.startswith("w32 "):
            other.append(line)
    rows.sort(reverse=True)
    return rows, call, other


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario")
    ap.add_argument("step", type=int)
    ap.add_argument("--pre", default="", help="modules to import before the step")
    ap.add_argument("--only", default="",
                    help="wrap only the functions whose dotted names end so (a wrapped call "
                         "passes its arguments on with *a, **k, which allocates; few wrapped "
                         "calls, exact figures)")
    ap.add_argument("--top", type=int, default=40)
    args = ap.parse_args(argv)
    work = tempfile.mkdtemp(prefix="tinysip-prof-")
    try:
        image, _ = bench.build_image(work)
        rows, call, other = profile(image, args.scenario, args.step,
                                    [m for m in args.pre.split(",") if m],
                                    [m for m in args.only.split(",") if m])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for line in other:
        print(line)
    top = [r for r in rows if r[3].endswith(".receive") and r[3].startswith("tinysip.ua.")]
    print("step %d of %s, 64-bit: %s B allocated in the UA; each wrapped call adds ~%d B "
          "to its caller's own bytes" % (args.step, args.scenario,
                                          top[0][1] if top else "?", call))
    print("%8s  %9s  %5s  %s" % ("own B", "inclusive", "calls", "function"))
    for own, b, n, name in rows[:args.top]:
        print("%8d  %9d  %5d  %s" % (own, b, n, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
