"""tools/loopcall/report.py: progress line, end-of-call table, JSON schema, PNG plot."""
# mpy: skip
# (a CPython host tool: json files, subprocess, matplotlib)
import json
import os
import subprocess
import sys
import tempfile

from testutil import raises

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(os.path.dirname(HERE), "tools")
sys.path.insert(0, TOOLS)

from loopcall import report  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _summary(**over):
    s = {
        "mode": "rtp-pkt-loopback",
        "codec": "PCMU",
        "interval_ms": 20,
        "sent": 1500,
        "received": 1490,
        "lost": 10,
        "loss_pct": 10 * 100.0 / 1500,
        "lost_forward": 7,
        "lost_return": 3,
        "duplicates": 1,
        "reordered": 2,
        "foreign": 4,
        "rtt_ms": {"min": 11.2, "mean": 21.33, "p50": 20.1, "p95": 31.7, "max": 88.0},
        "jitter_ms": 1.234,
        "r_factor": 92.1,
        "mos": 4.39,
        "burst_ratio": 1.0,
    }
    s.update(over)
    return s


META = {"target": "sip:100@192.0.2.10", "duration_s": 30}


def _rows(text):
    """{label: rest of the line} for the indented rows of a table."""
    rows = {}
    for line in text.splitlines()[1:]:
        label, _, rest = line.strip().partition("  ")
        rows[label] = rest.strip()
    return rows


def _series(n=200, lost=(17, 90, 91)):
    series = []
    for i in range(n):
        if i in lost:
            continue
        series.append((i * 20.0, 20.0 + (i % 7), 0.5 + (i % 5) / 10.0))
    return series, [i * 20.0 for i in lost]


def _tmp(name):
    d = tempfile.mkdtemp(prefix="loopcall-report-")
    return os.path.join(d, name)


# progress


def test_progress_line():
    line = report.progress(12.4, 30, 620, 618, 21.34)
    assert line.rstrip() == "  12.4/30 s  sent 620  recv 618  rtt 21.3 ms", repr(line)
    assert "\n" not in line and "\r" not in line


def test_progress_without_rtt_keeps_width():
    with_rtt = report.progress(1.0, 30, 50, 49, 21.3)
    without = report.progress(1.2, 30, 60, 59, None)
    assert without.rstrip().endswith("rtt -")
    # rewritten with "\r": a later line never leaves characters of an earlier one behind
    assert len(without) >= len(with_rtt)


def test_progress_open_ended_and_fractional_duration():
    assert report.progress(3.0, None, 1, 0, None).strip().startswith("3.0 s  sent 1")
    assert report.progress(3.0, 7.5, 1, 0, None).strip().startswith("3.0/7.5 s")


# table


def test_table_full_summary():
    text = report.table(_summary(), META)
    rows = _rows(text)
    assert rows["target"] == "sip:100@192.0.2.10"
    assert rows["mode"] == "rtp-pkt-loopback"  # from the summary when meta has none
    assert rows["codec"] == "PCMU"
    assert rows["interval (ms)"] == "20"
    assert rows["duration (s)"] == "30"
    assert rows["packets sent"] == "1500"
    assert rows["packets received"] == "1490"
    assert rows["loss total (%)"] == "0.67  10 lost"
    assert rows["loss forward (%)"] == "0.47  7 lost"
    assert rows["loss return (%)"] == "0.20  3 lost"
    assert rows["RTT min (ms)"] == "11.20"
    assert rows["RTT mean (ms)"] == "21.33"
    assert rows["RTT p50 (ms)"] == "20.10"
    assert rows["RTT p95 (ms)"] == "31.70"
    assert rows["RTT max (ms)"] == "88.00"
    assert rows["jitter RFC 3550 (ms)"] == "1.23"
    assert rows["reordered (packets)"] == "2"
    assert rows["duplicates (packets)"] == "1"
    assert rows["foreign (packets)"].startswith("4")
    assert rows["R factor (G.107)"] == "92.1"
    assert rows["MOS (1-4.5)"] == "4.39  very satisfied"
    assert rows["loss burst ratio"].startswith("1.00")


def test_table_columns_are_aligned():
    lines = report.table(_summary(), META).splitlines()
    metric_lines = [ln for ln in lines if "(ms)" in ln and "RTT" in ln]
    # values right-aligned: every RTT value ends in the same column
    ends = {len(ln.rstrip()) for ln in metric_lines}
    assert len(ends) == 1, metric_lines
    # labels left-aligned: every value starts after the same label column
    header_starts = {ln.index("sip:") for ln in lines if "sip:" in ln}
    assert len(header_starts) == 1


def test_table_meta_overrides_summary():
    rows = _rows(report.table(_summary(), dict(META, codec="G722", mode="rtp-media-loopback")))
    assert rows["codec"] == "G722"
    assert rows["mode"] == "rtp-media-loopback"


def test_table_direction_loss_not_measurable():
    s = _summary(mode="rtp-media-loopback", lost_forward=None, lost_return=None)
    rows = _rows(report.table(s, META))
    assert rows["loss forward (%)"] == "n/a  (rtp-media-loopback)"
    assert rows["loss return (%)"] == "n/a  (rtp-media-loopback)"
    assert rows["loss total (%)"] == "0.67  10 lost"


def test_table_nothing_came_back():
    s = _summary(received=0, lost=1500, loss_pct=100.0, rtt_ms=None, jitter_ms=None,
                 r_factor=None, mos=None, lost_forward=None, lost_return=None)
    rows = _rows(report.table(s, META))
    assert rows["RTT min (ms)"] == "-  nothing came back"
    for stat in ("mean", "p50", "p95", "max"):
        assert rows["RTT %s (ms)" % stat] == "-"
    assert rows["jitter RFC 3550 (ms)"] == "-"
    assert rows["R factor (G.107)"] == "-"
    assert rows["MOS (1-4.5)"] == "-"
    assert rows["loss total (%)"] == "100.00  1500 lost"


def test_table_missing_meta_and_keys():
    rows = _rows(report.table({"sent": 0, "loss_pct": 0.0, "lost_forward": 0}, {}))
    assert rows["target"] == "-"
    assert rows["duration (s)"] == "-"
    assert rows["loss forward (%)"] == "0.00  0 lost"  # no division by zero
    assert rows["packets received"] == "-"


def test_satisfaction_bands():
    cases = [(95, "very satisfied"), (90, "very satisfied"), (89.9, "satisfied"),
             (80, "satisfied"), (75, "some users dissatisfied"), (65, "many users dissatisfied"),
             (55, "nearly all users dissatisfied"), (49.9, "not recommended"),
             (0, "not recommended")]
    for r, word in cases:
        assert report.satisfaction(r) == word, (r, report.satisfaction(r))
    # without an R factor, the MOS at the G.107 band edges decides
    assert report.satisfaction(None, 4.4) == "very satisfied"
    assert report.satisfaction(None, 3.8) == "some users dissatisfied"
    assert report.satisfaction(None, 1.0) == "not recommended"
    assert report.satisfaction(None, None) is None


# JSON


def test_json_round_trip_schema():
    series, lost = _series()
    path = _tmp("run.json")
    timing = {"late_max_ms": 1.5, "sent_at": [0, 20]}
    report.write_json(path, _summary(), META, series, lost, timing)
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    assert sorted(doc) == ["lost_ms", "meta", "series", "summary", "timing", "tool", "version"]
    assert doc["tool"] == "tinysip-loopcall"
    assert doc["version"] == 1
    assert doc["meta"] == META
    assert doc["summary"] == _summary()
    assert doc["timing"] == timing
    assert doc["lost_ms"] == lost
    assert len(doc["series"]) == len(series)
    for point, (t, rtt, jit) in zip(doc["series"], series):
        assert sorted(point) == ["jitter_ms", "rtt_ms", "t_ms"]
        assert abs(point["t_ms"] - t) < 1e-3
        assert abs(point["rtt_ms"] - rtt) < 1e-3
        assert abs(point["jitter_ms"] - jit) < 1e-3


def test_json_defaults_and_non_finite():
    path = _tmp("empty.json")
    report.write_json(path, _summary(jitter_ms=float("nan"), rtt_ms=None), {})
    with open(path, encoding="utf-8") as f:
        text = f.read()
    assert "NaN" not in text  # strict JSON
    doc = json.loads(text)
    assert doc["series"] == [] and doc["lost_ms"] == [] and doc["timing"] is None
    assert doc["summary"]["jitter_ms"] is None
    assert doc["summary"]["rtt_ms"] is None


def test_json_to_stdout():
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "from loopcall import report\n"
        "report.write_json('-', {'sent': 3}, {'target': 'sip:a@b'}, [(0.0, 1.0, 0.0)], [20.0])\n"
    ) % TOOLS
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout
    doc = json.loads(out)
    assert doc["summary"] == {"sent": 3}
    assert doc["series"] == [{"t_ms": 0.0, "rtt_ms": 1.0, "jitter_ms": 0.0}]
    assert doc["lost_ms"] == [20.0]
    assert not os.path.exists("-")


# plot


def _assert_png(path):
    with open(path, "rb") as f:
        data = f.read()
    assert len(data) > 1000, len(data)
    assert data.startswith(PNG_SIGNATURE)


def test_plot_writes_png():
    series, lost = _series()
    path = _tmp("run.png")
    report.plot(path, series, lost, _summary(), META)
    _assert_png(path)


def test_plot_nothing_came_back():
    s = _summary(received=0, rtt_ms=None, jitter_ms=None, r_factor=None, mos=None)
    path = _tmp("empty.png")
    report.plot(path, [], [i * 20.0 for i in range(100)], s, META)
    _assert_png(path)
    path = _tmp("bare.png")
    report.plot(path, [], [], {}, {})
    _assert_png(path)


def test_matplotlib_imported_only_by_plot():
    # a fresh interpreter: this process may already hold matplotlib from the tests above
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "from loopcall import report\n"
        "report.table({}, {}); report.progress(1, 2, 3, 4, 5.0)\n"
        "report.write_json(%r, {}, {})\n"
        "before = 'matplotlib' in sys.modules\n"
        "report.plot(%r, [], [], {}, {})\n"
        "print(before, 'matplotlib' in sys.modules)\n"
    ) % (TOOLS, _tmp("x.json"), _tmp("x.png"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True)
    assert out.stdout.split() == ["False", "True"], out.stdout + out.stderr


def test_plot_bad_path_raises():
    assert raises(OSError, report.plot, "/nonexistent-dir/x.png", [], [], {}, {})
