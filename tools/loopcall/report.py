"""Presentation of a loopcall measurement: live progress line, end-of-call table, JSON, PNG plot.

Owns: turning an already computed measurement (the ``summary`` dict, the per-packet ``series``
and the lost packets' send offsets, all produced by ``tinysip.probe``) plus the tool's ``meta``
dict into text, a JSON file and a picture.
Must not: measure, compute statistics the summary already carries, touch sockets or clocks,
or import matplotlib at module level (it is imported inside ``plot()`` only, so the tool
starts fast and runs without matplotlib when no plot is asked for). CPython only.

Inputs:
- ``summary``: keys mode, codec, interval_ms, sent, received, lost, loss_pct, lost_forward,
  lost_return (None = not measurable in this mode), duplicates, reordered, foreign, rtt_ms (a
  dict min/mean/p50/p95/max, or None when nothing came back), jitter_ms, r_factor, mos,
  burst_ratio. Missing keys print as "-".
- ``meta``: what the tool knows about the run: target, mode, codec, interval_ms, duration_s
  (mode, codec and interval_ms fall back to the summary's). Extra keys are kept in the JSON.
- ``series``: ``(send_offset_ms, rtt_ms, jitter_ms)`` per received packet, in arrival order.
- ``lost_ms``: send offsets (ms) of the packets that never came back.
"""
import json
import math
import sys

TOOL = "tinysip-loopcall"
SCHEMA_VERSION = 1

# ITU-T G.107 (06/2015) Table B.1: R-value ranges and user satisfaction, best band first.
_BANDS = (
    (90, "very satisfied"),
    (80, "satisfied"),
    (70, "some users dissatisfied"),
    (60, "many users dissatisfied"),
    (50, "nearly all users dissatisfied"),
)
_BELOW = "not recommended"
# MOS at the band edges R = 90, 80, 70, 60, 50 (G.107 Annex B formula): used only when a
# summary carries a MOS but no R factor.
_MOS_EDGES = (4.34, 4.03, 3.60, 3.10, 2.58)

# Widest RTT text the progress line shows ("1234.5 ms"): the rtt field is padded to it so a
# line rewritten with "\r" never leaves stale characters behind.
_RTT_FIELD = 9


def satisfaction(r_factor=None, mos=None):
    """G.107 user satisfaction words for an R factor (or, without one, a MOS); None if neither."""
    if r_factor is not None:
        for edge, word in _BANDS:
            if r_factor >= edge:
                return word
        return _BELOW
    if mos is not None:
        for edge, (_, word) in zip(_MOS_EDGES, _BANDS):
            if mos >= edge:
                return word
        return _BELOW
    return None


def progress(elapsed_s, duration_s, sent, received, rtt_ms):
    """One live status line, e.g. ``  12.4/30 s  sent 620  recv 618  rtt 21.3 ms``.

    ``duration_s`` None means open-ended (``  12.4 s ...``); ``rtt_ms`` None prints "-".
    The line ends in padding so that rewriting it after "\\r" fully covers the previous one.
    """
    if duration_s is None:
        clock = "%6.1f s" % elapsed_s
    else:
        width = len("%.1f" % duration_s)
        clock = "%*.1f/%s s" % (width, elapsed_s, _num(duration_s))
    rtt = "-" if rtt_ms is None else "%.1f ms" % rtt_ms
    return "  %s  sent %d  recv %d  rtt %-*s" % (clock, sent, received, _RTT_FIELD, rtt)


def table(summary, meta):
    """The end-of-call report as aligned text (no trailing newline).

    A header names the call (target, mode, codec, interval, duration); then one row per
    measure with its unit in the label, values right-aligned in one column and a note after.
    """
    meta = meta or {}
    mode = _pick(meta, summary, "mode")
    header = [
        ("target", _text(meta.get("target"))),
        ("mode", _text(mode)),
        ("codec", _text(_pick(meta, summary, "codec"))),
        ("interval (ms)", _num(_pick(meta, summary, "interval_ms"))),
        ("duration (s)", _num(meta.get("duration_s"))),
    ]

    sent = summary.get("sent")
    rows = [
        ("packets sent", _int(sent), ""),
        ("packets received", _int(summary.get("received")), ""),
        ("loss total (%)", _fixed(summary.get("loss_pct"), 2), _lost_note(summary.get("lost"))),
    ]
    for name in ("forward", "return"):
        count = summary.get("lost_" + name)
        if count is None:
            note = "(%s)" % mode if mode else "(not measurable)"
            rows.append(("loss %s (%%)" % name, "n/a", note))
        else:
            rows.append(("loss %s (%%)" % name, _fixed(_pct(count, sent), 2), _lost_note(count)))
    burst = _fixed(summary.get("burst_ratio"), 2)
    rows.append(("loss burst ratio", burst, "1 = random, >1 bursty"))

    rtt = summary.get("rtt_ms")
    for stat in ("min", "mean", "p50", "p95", "max"):
        value = None if rtt is None else rtt.get(stat)
        note = "nothing came back" if rtt is None and stat == "min" else ""
        rows.append(("RTT %s (ms)" % stat, _fixed(value, 2), note))
    rows += [
        ("jitter RFC 3550 (ms)", _fixed(summary.get("jitter_ms"), 2), ""),
        ("reordered (packets)", _int(summary.get("reordered")), ""),
        ("duplicates (packets)", _int(summary.get("duplicates")), ""),
        ("foreign (packets)", _int(summary.get("foreign")), "not from this call"),
    ]
    r_factor = summary.get("r_factor")
    mos = summary.get("mos")
    word = satisfaction(r_factor, mos) or ""
    rows += [
        ("R factor (G.107)", _fixed(r_factor, 1), ""),
        ("MOS (1-4.5)", _fixed(mos, 2), word),
    ]

    label_w = max(len(label) for label, _ in header)
    label_w = max(label_w, max(len(label) for label, _, _ in rows))
    value_w = max(len(value) for _, value, _ in rows)
    out = ["loopcall report"]
    for label, value in header:
        out.append("  %-*s  %s" % (label_w, label, value))
    out.append("  " + "-" * (label_w + 2 + value_w))
    for label, value, note in rows:
        line = "  %-*s  %*s" % (label_w, label, value_w, value)
        out.append(line + "  " + note if note else line)
    return "\n".join(out)


def document(summary, meta, series=None, lost_ms=None, timing=None):
    """The JSON document as a dict (schema version 1, see write_json)."""
    points = []
    for t_ms, rtt_ms, jitter_ms in series or ():
        points.append(
            {"t_ms": _round(t_ms), "rtt_ms": _round(rtt_ms), "jitter_ms": _round(jitter_ms)}
        )
    return {
        "tool": TOOL,
        "version": SCHEMA_VERSION,
        "meta": _clean(meta or {}),
        "summary": _clean(summary),
        "timing": _clean(timing),
        "series": points,
        "lost_ms": [_round(t) for t in lost_ms or ()],
    }


def write_json(path, summary, meta, series=None, lost_ms=None, timing=None):
    """Write the run as JSON to ``path`` ("-" = stdout).

    Schema (version 1): ``{"tool": "tinysip-loopcall", "version": 1, "meta": {..},
    "summary": {..}, "timing": {..} or null, "series": [{"t_ms", "rtt_ms", "jitter_ms"}, ..],
    "lost_ms": [..]}``. Always all seven keys; absent series/lost_ms are empty lists.
    Times are rounded to microseconds (3 decimals of ms); NaN and infinities become null so the
    file is strict JSON.
    """
    text = json.dumps(document(summary, meta, series, lost_ms, timing), indent=1, allow_nan=False)
    if path == "-":
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        return
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")


def plot(path, series, lost_ms, summary, meta):
    """Draw the run to a PNG at ``path``: RTT over send time (top), RFC 3550 jitter (bottom).

    The RTT panel has the p50/p95 lines of the summary and a red tick at the send time of every
    lost packet. With an empty series the plot still comes out, saying no media came back.
    Uses the Agg canvas directly (no pyplot, no global backend switch, no display needed).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    meta = meta or {}
    series = [p for p in series or () if p[0] is not None]
    lost_ms = list(lost_ms or ())
    fig = Figure(figsize=(10, 6.5), dpi=100)
    FigureCanvasAgg(fig)
    ax_rtt, ax_jit = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": (3, 2)})

    rtt_points = [(t / 1000.0, r) for t, r, _ in series if r is not None]
    jit_points = [(t / 1000.0, j) for t, _, j in series if j is not None]
    if rtt_points:
        xs, ys = zip(*rtt_points)
        ax_rtt.plot(xs, ys, ".", markersize=3, color="tab:blue", label="RTT per packet")
    rtt = summary.get("rtt_ms")
    if rtt:
        for stat, style in (("p50", "--"), ("p95", ":")):
            if rtt.get(stat) is not None:
                ax_rtt.axhline(rtt[stat], linestyle=style, color="tab:green", linewidth=1.2,
                               label="%s %.1f ms" % (stat, rtt[stat]))
    if lost_ms:
        # x in data (seconds), y in axes coordinates: the ticks sit on the bottom edge of the
        # panel whatever the RTT scale, even when no RTT at all came back.
        ax_rtt.plot([t / 1000.0 for t in lost_ms], [0.0] * len(lost_ms), "|", color="red",
                    markersize=14, markeredgewidth=1.5, transform=ax_rtt.get_xaxis_transform(),
                    clip_on=False, label="lost (%d)" % len(lost_ms))
    if not rtt_points:
        ax_rtt.text(0.5, 0.55, "no media came back", transform=ax_rtt.transAxes,
                    ha="center", va="center", fontsize=16, color="dimgray")
        ax_rtt.set_ylim(0, 1)
        ax_rtt.set_yticks([])
    else:
        ax_rtt.set_ylim(bottom=0)
    ax_rtt.set_ylabel("RTT (ms)")
    ax_rtt.grid(True, alpha=0.3)
    if ax_rtt.get_legend_handles_labels()[0]:
        ax_rtt.legend(loc="upper right", fontsize=8)

    if jit_points:
        xs, ys = zip(*jit_points)
        ax_jit.plot(xs, ys, "-", linewidth=1, color="tab:purple", label="jitter (RFC 3550)")
        ax_jit.set_ylim(bottom=0)
    else:
        ax_jit.set_ylim(0, 1)
        ax_jit.set_yticks([])
    ax_jit.set_ylabel("jitter RFC 3550 (ms)")
    ax_jit.set_xlabel("send time (s)")
    ax_jit.grid(True, alpha=0.3)

    duration = meta.get("duration_s")
    times = [t / 1000.0 for t, _, _ in series] + [t / 1000.0 for t in lost_ms]
    right = max([duration or 0] + times)
    ax_jit.set_xlim(0, right if right > 0 else 1)

    fig.suptitle(_title(summary, meta), fontsize=11)
    fig.savefig(path, format="png")


def _title(summary, meta):
    mode = _pick(meta, summary, "mode")
    parts = ["loopcall " + _text(meta.get("target"))]
    if mode:
        parts.append(str(mode))
    codec = _pick(meta, summary, "codec")
    if codec:
        parts.append(str(codec))
    loss = summary.get("loss_pct")
    parts.append("loss " + ("-" if loss is None else "%.2f %%" % loss))
    mos = summary.get("mos")
    word = satisfaction(summary.get("r_factor"), mos)
    parts.append("MOS " + ("-" if mos is None else "%.2f" % mos) + (" (%s)" % word if word else ""))
    return "  |  ".join(parts)


def _pick(meta, summary, key):
    value = meta.get(key) if meta else None
    return summary.get(key) if value is None else value


def _pct(count, sent):
    return 100.0 * count / sent if sent else 0.0


def _lost_note(count):
    return "" if count is None else "%d lost" % count


def _text(value):
    return "-" if value is None or value == "" else str(value)


def _int(value):
    return "-" if value is None else "%d" % value


def _fixed(value, decimals):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return "%.*f" % (decimals, value)


def _num(value):
    """A number without needless decimals: 30 -> "30", 30.5 -> "30.5", 20.0 -> "20"."""
    if value is None:
        return "-"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "%g" % value if isinstance(value, float) else str(value)


def _round(value):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return round(float(value), 3)


def _clean(value):
    """A JSON-safe copy: tuples to lists, NaN/inf to None, keys to strings."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
