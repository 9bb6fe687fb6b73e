"""What each shipped module costs in RAM once imported from .mpy, and why.

    .venv/bin/python tools/bench/code_cost.py [--romfs] [--json] [module ...]

For every module of lib/ and firmware/ (or the ones named, e.g. ``tinysip.ua``) compiled
with ``mpy-cross -O3`` it prints:

- ``mpy``: bytes of the .mpy file;
- ``fns``: functions in it (every def, method, lambda and comprehension is one raw code
  object; on the 64-bit unix port each costs ~100 B of heap once loaded);
- ``names``: identifiers and strings interned as qstrs (~30 B of heap each, shared between
  modules once interned);
- ``str``: bytes of string constants (each also costs an object header in the heap);
- ``heap``: bytes still allocated after importing the module on the MicroPython unix port,
  minus what its own imports allocate (measured, gc.collect() before both readings).

With ``--romfs`` the modules are imported from the ROMFS image instead (tools/romfs.py,
bytecode run in place, as a device with a ROMFS partition does) and each row says:
- ``heap``: bytes allocated by importing it (after its own imports, as above);
- ``names``: qstrs it interned (``micropython.qstr_info``; after its imports' names);
- ``left``: bytes still allocated after it is dropped again (sys.modules entry and the
  package attribute removed, gc.collect()): what dropping a rarely used module cannot give
  back (its interned names, mostly; the names' pool grows in steps, see docs/benchmarks.md).

A benchmark: prints figures and always exits 0.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from mpy_size import find_mpy_cross, sources  # noqa: E402

_IMPORT = re.compile(r"^\s*(?:from\s+(tinysip[\w.]*)\s+import\s+([\w, ]+)|import\s+(tinysip[\w.]*))",
                     re.M)


def _vuint(b, i):
    v = 0
    while True:
        c = b[i]
        i += 1
        v = (v << 7) | (c & 0x7F)
        if not c & 0x80:
            return v, i


def _obj(b, i, strs):
    kind = b[i]
    i += 1
    if kind <= 4:  # fun table, None, False, True, Ellipsis: no payload
        return i
    n, i = _vuint(b, i)
    if kind == 10:  # tuple of n objects
        for _ in range(n):
            i = _obj(b, i, strs)
        return i
    if kind == 5:
        strs.append(n)
    return i + n + (1 if kind in (5, 6) else 0)


def _raw_codes(b, i):
    kl, i = _vuint(b, i)
    i += kl >> 3
    n = 1
    if kl & 4:
        nc, i = _vuint(b, i)
        for _ in range(nc):
            k, i = _raw_codes(b, i)
            n += k
    return n, i


def parse_mpy(data):
    """(functions, interned names, string constant bytes) of an .mpy v6 file."""
    i = 4
    nq, i = _vuint(data, i)
    no, i = _vuint(data, i)
    names = 0
    for _ in range(nq):
        n, i = _vuint(data, i)
        if n & 1:
            continue  # a static qstr: already in the firmware
        names += 1
        i += (n >> 1) + 1
    strs = []
    for _ in range(no):
        i = _obj(data, i, strs)
    fns, _ = _raw_codes(data, i)
    return fns, names, sum(strs)


def module_name(src):
    rel = src.split("/", 1)[1][:-3]
    if rel.endswith("/__init__"):
        rel = rel[: -len("/__init__")]
    return rel.replace("/", ".")


def imports_of(src, known):
    with open(os.path.join(ROOT, src)) as f:
        text = f.read()
    out = []
    for m in _IMPORT.finditer(text):
        if m.group(3):
            out.append(m.group(3))
        else:
            out.append(m.group(1))
            for name in m.group(2).split(","):  # from tinysip import events
                sub = m.group(1) + "." + name.strip()
                if sub in known:
                    out.append(sub)
    return [o for o in out if o in known]


def closure(mod, graph):
    seen = []
    todo = list(graph.get(mod, []))
    while todo:
        m = todo.pop()
        if m not in seen and m != mod:
            seen.append(m)
            todo.extend(graph.get(m, []))
    return seen


def heap_delta(micropython, libdir, fwdir, mod, deps):
    code = (
        "import gc, sys\nsys.path.insert(0, %r)\nsys.path.insert(0, %r)\n"
        "for m in %r:\n    __import__(m)\n"
        "gc.collect()\na = gc.mem_alloc()\n__import__(%r)\ngc.collect()\n"
        "print(gc.mem_alloc() - a)\n" % (fwdir, libdir, deps, mod)
    )
    p = subprocess.run([micropython, "-c", code], capture_output=True, text=True)
    try:
        return int(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None  # needs hardware modules (esp32board) or failed to import


_ROM_MEASURE = """
import gc, sys, micropython
sys.path.insert(0, '/rom/lib')
for m in %r:
    __import__(m)
gc.collect()
micropython.qstr_info()
a = gc.mem_alloc()
__import__(%r)
gc.collect()
b = gc.mem_alloc()
micropython.qstr_info()
mod = %r
del sys.modules[mod]
pkg, _, leaf = mod.rpartition('.')
if pkg:
    delattr(sys.modules[pkg], leaf)
gc.collect()
print('heap', b - a, 'left', gc.mem_alloc() - a)
"""


def _mount_code():
    """The ROMFS mount firmware/main.py does under tools/romfs.py run."""
    return ("import os, uctypes, vfs\n_a, _, _n = os.getenv('TINYSIP_ROMFS').partition(':')\n"
            "vfs.mount(vfs.VfsRom(uctypes.bytearray_at(int(_a), int(_n))), '/rom')\n")


def romfs_rows(wanted, known, graph):
    """[module, heap, names, left] per module imported from a ROMFS image, measured in a
    fresh unix-port process each (tools/romfs.py run)."""
    import re as _re

    tmp = tempfile.mkdtemp(prefix="tinysip-cost-")
    image = os.path.join(tmp, "tinysip.romfs")
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "romfs.py"), "build", image],
                   check=True, stdout=subprocess.DEVNULL)
    rows = []
    for mod in sorted(known):
        if (wanted and mod not in wanted) or mod in ("main", "app", "esp32board"):
            continue
        code = _mount_code() + _ROM_MEASURE % (closure(mod, graph), mod, mod)
        p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "romfs.py"), "run",
                            image, "-c", code], capture_output=True, text=True)
        q = [int(x) for x in _re.findall(r"n_qstr=(\d+)", p.stdout)]
        m = _re.search(r"heap (-?\d+) left (-?\d+)", p.stdout)
        if m and len(q) == 2:
            rows.append({"module": mod, "heap": int(m.group(1)), "names": q[1] - q[0],
                         "left": int(m.group(2))})
        else:
            rows.append({"module": mod, "heap": None, "names": None, "left": None})
    return rows


def main(argv):
    as_json = "--json" in argv
    if "--romfs" in argv:
        srcs = sources()
        known = {module_name(s): s for s in srcs}
        graph = {m: imports_of(s, known) for m, s in known.items()}
        rows = romfs_rows([a for a in argv if not a.startswith("--")], known, graph)
        if as_json:
            print(json.dumps(rows, indent=2))
            return 0
        print("imported from the ROMFS image (code in place), MicroPython unix port")
        print("%-22s %8s %6s %8s" % ("module", "heap", "names", "left"))
        for r in rows:
            print("%-22s %8s %6s %8s" % (r["module"], *("n/a" if r[k] is None else r[k]
                                                         for k in ("heap", "names", "left"))))
        print("%-22s %8d %6d %8d" % ("total", *(sum(r[k] or 0 for r in rows)
                                                for k in ("heap", "names", "left"))))
        return 0
    wanted = [a for a in argv if not a.startswith("--")]
    tool = find_mpy_cross()
    micropython = os.path.join(ROOT, ".venv", "bin", "micropython")
    srcs = sources()
    known = {module_name(s): s for s in srcs}
    graph = {m: imports_of(s, known) for m, s in known.items()}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for src in srcs:
            out = os.path.join(tmp, src.replace(".py", ".mpy"))
            os.makedirs(os.path.dirname(out), exist_ok=True)
            subprocess.run([tool, "-O3", "-s", src.split("/", 1)[1], "-o", out, src], cwd=ROOT,
                           check=True)
        for mod, src in sorted(known.items()):
            if wanted and mod not in wanted:
                continue
            with open(os.path.join(tmp, src.replace(".py", ".mpy")), "rb") as f:
                data = f.read()
            fns, names, strs = parse_mpy(data)
            heap = None
            if os.access(micropython, os.X_OK):
                heap = heap_delta(micropython, os.path.join(tmp, "lib"),
                                  os.path.join(tmp, "firmware"), mod, closure(mod, graph))
            rows.append({"module": mod, "mpy": len(data), "fns": fns, "names": names,
                         "str": strs, "heap": heap})
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    print("%-22s %7s %5s %6s %6s %8s" % ("module", "mpy", "fns", "names", "str", "heap"))
    for r in rows:
        print("%-22s %7d %5d %6d %6d %8s" % (r["module"], r["mpy"], r["fns"], r["names"],
                                              r["str"], "n/a" if r["heap"] is None else r["heap"]))
    print("%-22s %7d %5d %6d %6d %8d" % ("total", sum(r["mpy"] for r in rows),
                                         sum(r["fns"] for r in rows),
                                         sum(r["names"] for r in rows),
                                         sum(r["str"] for r in rows),
                                         sum(r["heap"] or 0 for r in rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
