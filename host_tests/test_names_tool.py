# mpy: skip
"""tools/bench/names.py: the names each module adds, read from its .mpy qstr table."""
import json
import os
import subprocess
import sys

from testutil import HERE

ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tools", "bench"))

import names  # noqa: E402


def _mpy(tmp_path, src):
    path = tmp_path / "m.py"
    path.write_text(src)
    out = tmp_path / "m.mpy"
    subprocess.run([names.find_mpy_cross(), "-O3", "-s", "m.py", "-o", str(out), str(path)],
                   check=True)
    return out.read_bytes()


def test_the_qstr_table_holds_identifiers_and_short_strings_not_bytes_or_private_consts(
        tmp_path):
    got = names.mpy_names(_mpy(tmp_path, (
        "from micropython import const\n"
        "_HIDDEN = const(3)\n"
        "def frobnicate(widget_arg):\n"
        "    local_only = widget_arg + _HIDDEN\n"
        "    return local_only, 'shortstr', b'bytes_literal', 'a string longer than ten'\n")))
    for n in ("frobnicate", "widget_arg", "shortstr", "m.py"):
        assert n in got
    for n in ("_HIDDEN", "local_only", "bytes_literal", "a string longer than ten"):
        assert n not in got


def test_a_scenario_lists_each_module_once_and_its_total_is_the_sum_of_the_rows():
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "bench", "names.py"),
                        "--scenario", "certs", "--json"], capture_output=True, text=True,
                       check=True, timeout=300)
    res = json.loads(p.stdout)
    mods = [r["module"] for r in res["rows"]]
    assert mods == list(names.SCENARIOS["certs"])
    assert res["modules_names"] == sum(r["added"] for r in res["rows"])
    seen = set()
    for r in res["rows"]:  # a name is counted for the first module that brings it only
        assert not seen.intersection(r["names"])
        seen.update(r["names"])
    assert "/rom/lib/tinysip/x509.mpy" in seen  # every module's source name is one
    assert res["with_runtime"] == res["modules_names"] + names.RUNTIME
