"""Analyse a recording of a test tone: its frequency, its SNR and the gaps in it.

    .venv/bin/python tools/audio_check.py REC.wav [--expect HZ] [--ptime MS] [--json]
        [--plot OUT.png]

For the voice-call tests (issue 17): each side of a call sends a sine from the moment of
answer and records what it receives (the phone with tinysip.io.wav.WavSink, baresip with
its sndfile module); this says whether the tone came through. From Python:
analyse(path, expect_hz=None, ptime=20) -> dict, or analyse_samples(x, rate, ...) for a
numpy array scaled to -1..1. CPython only (numpy; matplotlib for --plot).

What is measured, over the tone only (from its first to its last sample above 30 % of
its level: leading and trailing silence are not counted):
- start_ms, end_ms: where the tone starts and ends in the file; frames: its length in
  ptime frames.
- freq_hz: the spectrum's peak (4-term Blackman-Harris window, interpolated between bins;
  with expect_hz, searched within +-10 % of it), and freq_ok: within 1 % of expect_hz.
- snr_db: the tone's power (the peak's bins, +-6 bins and +-2 Hz) against everything else
  above 20 Hz, over the whole tone, gaps included. G.711 of a clean tone gives about 38 dB
  (8-bit companding); every gap or glitch lowers it. snr_good_db: the same from fits of the
  tone in 5 ms windows, leaving out the windows of gaps and clicks (what the codec path
  does where audio arrived).
- gaps: the runs of frames that are not the tone, each as a length in ptime frames, in
  order; gap_frames: their sum. The tone is fitted (amplitude and phase at freq_hz) in
  windows of 5 ms (longer for tones under 400 Hz: two periods). A window is bad when the
  fitted amplitude is under half the tone's (silence, a fade), when what the fit leaves is
  above -20 dB of the tone (a phase jump, noise), or when it repeats the audio of one
  frame before within -17 dB (a concealment that repeats the last frame). A run of bad
  windows is a gap of round((run - 5 ms) / ptime) frames (a run spans the gap and up to
  two windows it cuts), at least 1; a run shorter than half a frame is a click (`clicks`
  counts them: a jump where frames were dropped or reordered). gap_ms: where each gap's
  run of bad windows starts and ends in the file, [start, end] in ms (the same order).
  Repetition can only be told apart from the tone when the tone is not periodic in ptime:
  at 20 ms avoid multiples of 50 Hz (440 Hz and 1234 Hz work; 1000 Hz does not, and there
  a repeated frame is the tone anyway). `repeat_visible` says whether it was checked.
- level_dbfs: the tone's peak amplitude against 16-bit full scale.

Exit status: 0, or 2 when the file holds no tone.
"""
import argparse
import json
import sys
import wave

import numpy as np

WIN_MS = 5  # the fit window
BAD_FIT_DB = -20  # residual of a window's fit above this (against the tone): bad
REPEAT_DB = -17  # a window this close to the audio one frame earlier: a repeat


def load(path):
    """(samples as float64 in -1..1, first channel; sample rate) of a 16-bit PCM WAV."""
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError("%s: %d-bit samples, need 16" % (path, 8 * w.getsampwidth()))
        ch = w.getnchannels()
        rate = w.getframerate()
        raw = w.readframes(w.getnframes())
    x = np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0
    return x[::ch], rate


def _runs(flags):
    """(start, length) of every run of True in a boolean array."""
    d = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
    starts = np.nonzero(d == 1)[0]
    ends = np.nonzero(d == -1)[0]
    return list(zip(starts.tolist(), (ends - starts).tolist()))


def _bounds(x, rate, level):
    """(first, last + 1) sample of the tone: above 30 % of its peak with the 5 ms after
    (before) it at half its RMS or more, so that a lone click does not count."""
    w = max(1, rate * WIN_MS // 1000)
    thr = 0.3 * level * np.sqrt(2)
    c = np.concatenate(([0.0], np.cumsum(x * x)))
    hot = np.nonzero(np.abs(x) >= thr)[0]
    fwd = np.sqrt((c[np.minimum(hot + w, len(x))] - c[hot]) / w)
    back = np.sqrt((c[hot + 1] - c[np.maximum(hot + 1 - w, 0)]) / w)
    ok_f = hot[fwd >= 0.5 * level]
    ok_b = hot[back >= 0.5 * level]
    if not len(ok_f) or not len(ok_b) or ok_b[-1] < ok_f[0]:
        return None
    return int(ok_f[0]), int(ok_b[-1]) + 1


def _peak(seg, rate, expect_hz):
    """(frequency, power spectrum, bin width in Hz, peak bin) of seg."""
    n = len(seg)
    k = np.arange(n)
    a = (0.35875, 0.48829, 0.14128, 0.01168)  # 4-term Blackman-Harris: -92 dB sidelobes
    win = (a[0] - a[1] * np.cos(2 * np.pi * k / n) + a[2] * np.cos(4 * np.pi * k / n)
           - a[3] * np.cos(6 * np.pi * k / n))
    p = np.abs(np.fft.rfft(seg * win)) ** 2
    df = rate / n
    lo, hi = (0.9 * expect_hz, 1.1 * expect_hz) if expect_hz else (50.0, rate / 2)
    band = np.arange(max(1, int(lo / df)), min(len(p) - 1, int(hi / df) + 1))
    i = int(band[np.argmax(p[band])])
    lp = np.log(p[i - 1:i + 2] + 1e-300)
    den = lp[0] - 2 * lp[1] + lp[2]
    delta = 0.5 * (lp[0] - lp[2]) / den if den else 0.0
    return (i + delta) * df, p, df, i


def _windows(seg, rate, f, ptime):
    """Per fit window: (fitted amplitude, residual power, fitted power, repeat flag
    (None where not checked)) arrays, the window length, and whether repeats are visible."""
    w = max(rate * WIN_MS // 1000, int(np.ceil(2 * rate / f)))
    m = len(seg) // w
    x = seg[:m * w].reshape(m, w)
    t = np.arange(m * w).reshape(m, w)
    c = np.cos(2 * np.pi * f * t / rate)
    s = np.sin(2 * np.pi * f * t / rate)
    cc, ss, cs = (c * c).sum(1), (s * s).sum(1), (c * s).sum(1)
    xc, xs = (x * c).sum(1), (x * s).sum(1)
    det = cc * ss - cs * cs
    a = (xc * ss - xs * cs) / det
    b = (xs * cc - xc * cs) / det
    fit = a[:, None] * c + b[:, None] * s
    amp = np.hypot(a, b)
    resid = ((x - fit) ** 2).mean(1)
    fitp = (fit ** 2).mean(1)
    lag = rate * ptime // 1000
    visible = np.sin(2 * np.pi * f * lag / rate) ** 2 > 0.2
    rep = np.zeros(m, dtype=bool)
    if visible:
        for i in range(m):
            j = i * w - lag
            if j < 0:
                continue
            now, before = x[i], seg[j:j + w]
            e = (now * now).sum() * (before * before).sum()
            if e > 0:
                r = 1 - (now * before).sum() ** 2 / e
                rep[i] = r < 10 ** (REPEAT_DB / 10)
    return amp, resid, fitp, rep, w, bool(visible)


def analyse_samples(x, rate, expect_hz=None, ptime=20):
    """The figures of the module docstring for samples x (float, -1..1) at `rate` Hz."""
    out = {"freq_hz": None, "freq_ok": None, "snr_db": None, "snr_good_db": None,
           "gaps": [], "gap_ms": [], "gap_frames": 0, "clicks": 0, "frames": 0, "start_ms": None,
           "end_ms": None, "level_dbfs": None, "repeat_visible": None, "ptime": ptime,
           "rate": rate}
    fl = rate * ptime // 1000
    nf = len(x) // fl
    if nf == 0:
        return out
    rms = np.sqrt((x[:nf * fl].reshape(nf, fl) ** 2).mean(1))
    level = float(np.percentile(rms, 90))
    b = _bounds(x, rate, level) if level > 0 else None
    if b is None:
        return out
    seg = x[b[0]:b[1]]
    f, p, df, i = _peak(seg, rate, expect_hz)
    half = max(6, int(np.ceil(2 / df)))
    tone = p[max(0, i - half):i + half + 1].sum()
    noise = p[int(np.ceil(20 / df)):].sum() - tone
    amp, resid, fitp, rep, w, visible = _windows(seg, rate, f, ptime)
    ref = float(np.median(amp))
    refp = ref * ref / 2
    bad = (amp < 0.5 * ref) | (resid > refp * 10 ** (BAD_FIT_DB / 10)) | rep
    gaps = []
    gap_ms = []
    clicks = 0
    wms = 1000.0 * w / rate
    s0 = 1000.0 * b[0] / rate
    for start, n in _runs(bad):
        ms = n * wms - wms
        if ms >= ptime / 2:
            gaps.append(max(1, int(round(ms / ptime))))
            gap_ms.append([round(s0 + start * wms, 2), round(s0 + (start + n) * wms, 2)])
        else:
            clicks += 1
    good = ~bad
    out.update(
        freq_hz=round(float(f), 3),
        freq_ok=None if not expect_hz else bool(abs(f - expect_hz) <= 0.01 * expect_hz),
        snr_db=round(float(10 * np.log10(tone / noise)), 2) if noise > 0 else float("inf"),
        snr_good_db=(round(float(10 * np.log10(fitp[good].sum() / resid[good].sum())), 2)
                     if good.any() and resid[good].sum() > 0 else None),
        gaps=gaps, gap_ms=gap_ms, gap_frames=sum(gaps), clicks=clicks,
        frames=int(round(len(seg) / fl)),
        start_ms=round(1000.0 * b[0] / rate, 2), end_ms=round(1000.0 * b[1] / rate, 2),
        level_dbfs=round(float(20 * np.log10(ref)), 2) if ref > 0 else None,
        repeat_visible=visible)
    out["_bad"] = bad  # for plot(): the windows, not part of the JSON
    out["_win"] = w
    return out


def analyse(path, expect_hz=None, ptime=20):
    """analyse_samples() of a 16-bit WAV file (its first channel)."""
    x, rate = load(path)
    out = analyse_samples(x, rate, expect_hz, ptime)
    out.pop("_bad", None)
    out.pop("_win", None)
    return out


def summary(path, r, expect_hz=None):
    """The figures as two lines of text."""
    if r["freq_hz"] is None:
        return "%s: no tone found" % path
    exp = ""
    if expect_hz:
        exp = " (expected %g Hz: %s)" % (expect_hz, "ok" if r["freq_ok"] else "WRONG")
    good = "" if r["snr_good_db"] is None else ", %.1f dB where audio came" % r["snr_good_db"]
    gaps = ", ".join(str(g) for g in r["gaps"])
    return ("%s: tone %.2f Hz%s, SNR %.1f dB%s, level %.1f dBFS\n"
            "  %.0f-%.0f ms: %d frames of %d ms, %d gaps (%d frames)%s, %d clicks%s"
            % (path, r["freq_hz"], exp, r["snr_db"], good, r["level_dbfs"], r["start_ms"],
               r["end_ms"], r["frames"], r["ptime"], len(r["gaps"]), r["gap_frames"],
               ": " + gaps if gaps else "", r["clicks"],
               "" if r["repeat_visible"] else " (repeated frames not detectable at this "
               "frequency)"))


def plot(path, out_png, expect_hz=None, ptime=20):
    """The waveform (gap windows shaded) and the spectrum of the tone, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, rate = load(path)
    r = analyse_samples(x, rate, expect_hz, ptime)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(11, 6.5))
    t = np.arange(len(x)) * 1000.0 / rate
    ax1.plot(t, x, lw=0.4)
    ax1.set_xlabel("ms")
    ax1.set_ylabel("sample / full scale")
    ax1.set_title(summary(path, r, expect_hz).replace("\n  ", "; "), fontsize=8)
    if r["freq_hz"] is not None:
        s0, w = r["start_ms"], 1000.0 * r["_win"] / rate
        for start, n in _runs(r["_bad"]):
            ax1.axvspan(s0 + start * w, s0 + (start + n) * w, color="red", alpha=0.3)
        for ms in (r["start_ms"], r["end_ms"]):
            ax1.axvline(ms, color="green", lw=0.8)
        seg = x[int(r["start_ms"] * rate / 1000):int(r["end_ms"] * rate / 1000)]
        f, p, df, i = _peak(seg, rate, expect_hz)
        db = 10 * np.log10(p / p.max() + 1e-20)
        ax2.plot(np.arange(len(p)) * df, db, lw=0.6)
        ax2.axvline(f, color="red", lw=0.6)
        ax2.set_ylim(-140, 5)
    ax2.set_xlabel("Hz")
    ax2.set_ylabel("dB (peak = 0)")
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("wav", help="16-bit PCM WAV (first channel analysed)")
    ap.add_argument("--expect", type=float, default=None, help="expected tone in Hz")
    ap.add_argument("--ptime", type=int, default=20, help="frame length in ms (20)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--plot", metavar="PNG", help="write the waveform and spectrum here")
    a = ap.parse_args(argv)
    r = analyse(a.wav, a.expect, a.ptime)
    print(json.dumps(r, sort_keys=True) if a.json else summary(a.wav, r, a.expect))
    if a.plot:
        plot(a.wav, a.plot, a.expect, a.ptime)
    return 0 if r["freq_hz"] is not None else 2


if __name__ == "__main__":
    sys.exit(main())
