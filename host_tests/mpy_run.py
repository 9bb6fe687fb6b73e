"""Run plain-function test modules under MicroPython (and CPython).

    micropython host_tests/mpy_run.py [-v] [--mem] test_foo [test_bar ...]
    python3     host_tests/mpy_run.py test_foo          # same thing under CPython

Each argument is a module name under host_tests/ (``host_tests/test_foo.py`` is accepted
too). The runner puts host_tests/ and lib/ on sys.path, imports each module and calls every
callable whose name starts with ``test_``, in sorted order. A failing test prints its name,
the exception and a traceback, and the run goes on. The last line is always
``N passed, M failed``; the exit status is 1 if a test failed or a module did not import.

With the environment variable TINYSIP_MPY_LIB set to a directory of compiled ``.mpy``
modules, that directory replaces lib/ on the path.

Options: ``-v`` prints a line per passing test too; ``--mem`` prints GC heap figures after
each module (MicroPython only; ``n/a`` under CPython).

This file must stay MicroPython compatible: no os.path, no traceback module on MicroPython,
no f-strings with ``=``, no keyword arguments the unix port lacks.
"""
import gc
import os
import sys

MICROPYTHON = sys.implementation.name == "micropython"


def _normpath(path):
    """Absolute, '.'/'..'-free version of path (os.path does not exist on MicroPython)."""
    if not path.startswith("/"):
        path = os.getcwd() + "/" + path
    out = []
    for part in path.split("/"):
        if part == "" or part == ".":
            continue
        if part == "..":
            if out:
                out.pop()
            continue
        out.append(part)
    return "/" + "/".join(out)


def _dirname(path):
    return path.rpartition("/")[0] or "."


HERE = _normpath(_dirname(__file__))
ROOT = _dirname(HERE)
# TINYSIP_MPY_LIB: a tree of lib/ compiled with mpy-cross (what a device runs) to import
# instead of the sources; test_micropython uses it for the constrained-heap pass
LIB = (os.getenv("TINYSIP_MPY_LIB") if hasattr(os, "getenv") else None) or ROOT + "/lib"

if MICROPYTHON:
    import time

    def _ms():
        return time.ticks_ms()

    def _elapsed(t0):
        return time.ticks_diff(time.ticks_ms(), t0)

    def _print_exc(e):
        sys.print_exception(e)

else:
    import time
    import traceback

    def _ms():
        return int(time.monotonic() * 1000)

    def _elapsed(t0):
        return _ms() - t0

    def _print_exc(e):
        traceback.print_exception(type(e), e, e.__traceback__, file=sys.stdout)


def _mem():
    """(allocated, free) bytes of the GC heap, or None where the gc module cannot tell."""
    if hasattr(gc, "mem_alloc"):
        return gc.mem_alloc(), gc.mem_free()
    return None


def _module_name(arg):
    name = arg.rpartition("/")[2]
    if name.endswith(".py"):
        name = name[:-3]
    return name


def _describe(e):
    msg = str(e)
    if msg:
        return "%s: %s" % (type(e).__name__, msg)
    return type(e).__name__


def run_module(name, verbose, mem):
    """Import and run one module; return (passed, failed, import_ok)."""
    t0 = _ms()
    gc.collect()
    try:
        mod = __import__(name)
    except Exception as e:  # noqa: BLE001 - a broken module is reported, not fatal
        print("IMPORT ERROR %s: %s" % (name, _describe(e)))
        _print_exc(e)
        return 0, 0, False

    names = sorted([n for n in dir(mod) if n.startswith("test_")])
    passed = failed = 0
    peak = 0
    for tname in names:
        fn = getattr(mod, tname)
        if not callable(fn):
            continue
        gc.collect()
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            failed += 1
            print("FAIL %s.%s: %s" % (name, tname, _describe(e)))
            _print_exc(e)
        else:
            passed += 1
            if verbose:
                print("ok   %s.%s" % (name, tname))
        m = _mem()
        if m is not None and m[0] > peak:
            peak = m[0]
    ms = _elapsed(t0)
    if passed + failed == 0:
        print("WARNING %s: no test_* callables found" % name)
    print("%s: %d passed, %d failed (%d ms)" % (name, passed, failed, ms))
    # Drop the module so that the next one gets the heap back.
    try:
        del sys.modules[name]
    except KeyError:
        pass
    mod = fn = None
    gc.collect()
    if mem:
        m = _mem()
        if m is None:
            print("mem %s: n/a (no gc.mem_alloc on this interpreter)" % name)
        else:
            print(
                "mem %s: max alloc after a test %d B, live after module %d B, heap %d B"
                % (name, peak, m[0], m[0] + m[1])
            )
    return passed, failed, True


def main(argv):
    verbose = False
    mem = False
    modules = []
    for arg in argv:
        if arg == "-v":
            verbose = True
        elif arg == "--mem":
            mem = True
        elif arg.startswith("-"):
            print("unknown option %s" % arg)
            return 2
        else:
            modules.append(_module_name(arg))
    if not modules:
        print("usage: mpy_run.py [-v] [--mem] test_module [test_module ...]")
        return 2

    for p in (LIB, HERE):
        if p in sys.path:
            sys.path.remove(p)
        sys.path.insert(0, p)

    total_pass = total_fail = 0
    import_errors = []
    for name in modules:
        p, f, ok = run_module(name, verbose, mem)
        total_pass += p
        total_fail += f
        if not ok:
            import_errors.append(name)
    if import_errors:
        print("modules that failed to import: %s" % " ".join(import_errors))
    print("%d passed, %d failed" % (total_pass, total_fail + len(import_errors)))
    if total_fail or import_errors:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
