# mpy: skip
# (CPython-only: runs node and the unix port as subprocesses)
"""The 32-bit heap bench (tools/bench/wasm32, issue 16) on its quickest scenario: the idle
phone's recorded lab exchange replayed into the real UA on MicroPython's WebAssembly port
(32-bit) and on the unix port (64-bit). Figures must be plausible, never timed.

Node.js is needed (tools/deps.sh installs it; bench.py installs the npm package): missing,
the tests skip, and with CI=true they fail.
"""
import json
import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
W32 = os.path.join(REPO, "tools", "bench", "wasm32")
sys.path.insert(0, W32)

import bench  # noqa: E402


def peer_unavailable(msg):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    try:
        bench.ensure_node()
    except bench.Missing as e:
        peer_unavailable(str(e))
    work = str(tmp_path_factory.mktemp("w32"))
    return bench.build_image(work)


@pytest.fixture(scope="module")
def idle(image):
    img, boot = image
    return bench.run_unix(img, "idle", 512 * 1024), bench.run_wasm(img, boot, "idle",
                                                                   512 * 1024)


def test_idle_replays_on_both_word_sizes_as_recorded(idle):
    for res in idle:
        assert res["ok"], res
        # every send byte-identical to the lab's exchange, every event as recorded
        assert res["send_diff"] == 0 and res["events"] >= 5
        assert res["live_base"] < res["live_end"] <= res["live_max"] <= res["peak"]
        q = res["qstr"]
        assert q["base"]["n_qstr"] < q["end"]["n_qstr"] and q["end"]["n_pool"] >= 1


def test_the_32_bit_heap_is_smaller_by_a_plausible_ratio(idle):
    w64, w32 = idle
    for key in ("live_end", "peak"):
        assert w32[key] < w64[key], key
        # pointers halve, strings and bytes do not: between a half and nine tenths
        assert 0.45 < w32[key] / w64[key] < 0.9, (key, w32[key], w64[key])


def test_a_heap_below_the_peak_fails_on_both_ports(image, idle):
    """The WebAssembly port grows its heap instead of failing: the replay must turn that
    into a failure, as the unix port's MemoryError is, or no fixed heap could be bisected."""
    img, boot = image
    w64, w32 = idle
    small = bench.run_wasm(img, boot, "idle", (w32["peak"] // 1024 - 8) * 1024)
    assert not small["ok"] and "grew" in small["why"], small
    small = bench.run_unix(img, "idle", (w64["peak"] // 1024 - 8) * 1024)
    assert not small["ok"] and "MemoryError" in small["why"], small


def test_the_cli_prints_one_row_per_scenario(image):
    out = subprocess.run([sys.executable, os.path.join(W32, "bench.py"), "--json", "--only",
                          "idle", "--no-bisect"], capture_output=True, text=True, cwd=REPO,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout.splitlines()[-1])
    (row,) = doc["rows"]
    assert row["scenario"] == "idle" and not row["errors"]
    assert 0 < row["w32_live_kb"] < row["w64_live_kb"] and row["live_ratio"] < 1
    text = bench.table(doc["rows"])
    assert "idle, 1 TLS flow" in text and "32-bit smallest" in text


def test_without_node_the_bench_says_what_to_install(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda tool: None)
    with pytest.raises(bench.Missing) as e:
        bench.ensure_node()
    assert "nodejs" in str(e.value)


def test_every_recording_is_complete():
    names = sorted(n[:-4] for n in os.listdir(os.path.join(W32, "rec")) if n.endswith(".rec"))
    assert names == sorted(n for n, _ in bench.SCENARIOS)
    for name in names:
        with open(os.path.join(W32, "rec", name + ".rec"), "rb") as f:
            data = f.read()
        hdr = json.loads(data.split(b"\n", 1)[0][4:])
        assert hdr["config"]["outbound"] and hdr["instance"].startswith("urn:uuid:")
        assert b"\nend " in data and data.count(b"\nev registered") >= 1, name


def test_the_trace_prints_every_step_of_a_scenario(image, tmp_path, capsys):
    img, boot = image
    assert bench.trace(img, boot, "idle", str(tmp_path)) == 0
    out = capsys.readouterr().out.splitlines()
    res = json.loads(out[-1].split(" ", 2)[2])
    assert res["ok"], res
    steps = [line.split() for line in out[1:-1]]
    assert len(steps) == res["steps"] and steps[0][4:] == ["boot:", "header"]
    # live at a step's start, the most allocated at its end: the largest end is the peak
    assert all(float(s[2]) >= float(s[1]) > 0 for s in steps)
    assert max(float(s[2]) for s in steps) == pytest.approx(res["peak"] / 1024, abs=0.06)


def test_allocprof_says_which_functions_allocate_in_a_step(image):
    import allocprof

    img, _ = image
    # step 8 of the idle recording: the first answer from Kamailio, parsed by the UA
    rows, call, other = allocprof.profile(img, "idle", 8,
                                          only=["UserAgent.receive", "ua.parse"])
    got = {name: (own, inc, n) for own, inc, n, name in rows}
    assert set(got) == {"tinysip.ua.UserAgent.receive", "tinysip.ua.parse"}, (rows, other)
    own, inc, n = got["tinysip.ua.parse"]
    assert n >= 1 and own == inc > 0  # parse's own bytes: nothing inside it is wrapped
    own, inc, n = got["tinysip.ua.UserAgent.receive"]
    assert n == 1 and inc >= got["tinysip.ua.parse"][1] + own and call > 0
