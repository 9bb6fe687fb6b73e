"""tools/audio_check.py on synthetic recordings written with tinysip.io.wav.WavSink: a clean
tone through 8-bit mu-law companding keeps its frequency and an SNR above 30 dB; silent,
faded and repeated (concealed) frames are counted as gaps in frames; the CLI prints the
same figures. CPython only (numpy)."""
# mpy: skip
import json
import os
import subprocess
import sys

import numpy as np

from testutil import HERE

sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import audio_check  # noqa: E402

from tinysip.io.wav import WavSink  # noqa: E402

RATE = 8000
MU = 255.0


def mulaw(x):
    """x (-1..1) through mu-law companding to 8 bits and back: G.711's quantisation, by
    the formula (sign, 7 bits of log magnitude)."""
    y = np.sign(x) * np.log1p(MU * np.abs(x)) / np.log1p(MU)
    q = np.round(y * 127) / 127
    return np.sign(q) * ((1 + MU) ** np.abs(q) - 1) / MU


def tone(hz, seconds, amp=0.5, lead_ms=300, tail_ms=200):
    """A sine of `seconds` after `lead_ms` of silence and before `tail_ms` of silence."""
    n = int(RATE * seconds)
    x = amp * np.sin(2 * np.pi * hz * np.arange(n) / RATE)
    return np.concatenate((np.zeros(RATE * lead_ms // 1000), x, np.zeros(RATE * tail_ms // 1000)))


def save(tmp_path, x, name="rec.wav"):
    path = str(tmp_path / name)
    pcm = np.clip(np.round(x * 32767), -32768, 32767).astype("<i2").tobytes()
    sink = WavSink(path)
    for i in range(0, len(pcm), 320):
        sink.write(pcm[i:i + 320])
    sink.close()
    return path


def test_clean_tone_through_mulaw_keeps_frequency_and_snr(tmp_path):
    for hz in (440.0, 1000.0, 1234.0, 3100.0):
        r = audio_check.analyse(save(tmp_path, mulaw(tone(hz, 3))), hz)
        assert abs(r["freq_hz"] - hz) < 0.001 * hz and r["freq_ok"], r
        # 8-bit companding: ~38 dB (more at 1000 Hz: its error repeats every 8 samples and
        # part of it falls on the tone)
        assert 30 < r["snr_db"] < 55, r
        assert r["snr_good_db"] > 30, r
        assert r["gaps"] == [] and r["clicks"] == 0, r
        assert abs(r["start_ms"] - 300) < 1 and abs(r["end_ms"] - 3300) < 1, r
        assert r["frames"] == 150 and abs(r["level_dbfs"] + 6.02) < 0.3, r
    r = audio_check.analyse(save(tmp_path, tone(440, 2)), 440)  # no companding at all
    assert r["snr_db"] > 60, r


def test_quiet_and_noisy_tones():
    x = tone(1234, 2, amp=0.01)  # -40 dBFS: mu-law keeps ~35 dB there
    r = audio_check.analyse_samples(mulaw(x), RATE, 1234)
    assert r["freq_ok"] and r["snr_db"] > 30 and r["gaps"] == [], r
    rng = np.random.default_rng(1)
    noisy = x + rng.normal(0, 0.01 / np.sqrt(2) / 10, len(x))  # 20 dB SNR
    r = audio_check.analyse_samples(noisy, RATE, 1234)
    assert 18 < r["snr_db"] < 22 and r["freq_ok"], r
    r = audio_check.analyse_samples(np.zeros(8000), RATE)
    assert r["freq_hz"] is None and r["frames"] == 0


def test_silent_faded_and_repeated_frames_are_gaps(tmp_path):
    hz = 440.0
    x = tone(hz, 4, amp=0.3)
    f = RATE // 50  # samples in a 20 ms frame

    def at(ms):
        return RATE * (300 + ms) // 1000

    x[at(503):at(523)] = 0  # one frame lost, not on a window boundary
    x[at(1000):at(1060)] = 0  # three frames
    s = at(1777)
    x[s:s + f] = x[s - f:s] * np.linspace(1.0, 0.8, f)  # concealment: last frame repeated
    s = at(2500)
    x[s:s + 2 * f] = np.concatenate((x[s - f:s], x[s - f:s] * 0.5))  # twice, faded
    s = at(3000)
    x[s:] = np.concatenate((x[s + 80:], np.zeros(80)))  # 10 ms dropped: a jump, no gap
    r = audio_check.analyse(save(tmp_path, mulaw(x)), hz)
    assert r["gaps"] == [1, 3, 1, 2] and r["gap_frames"] == 7, r
    for (a, b), (lo, hi) in zip(r["gap_ms"], [(503, 523), (1000, 1060), (1777, 1797),
                                              (2500, 2540)]):  # each within a window or so
        assert lo + 300 - 6 <= a <= lo + 300 + 1 and hi + 300 - 1 <= b <= hi + 300 + 6, r
    assert r["clicks"] == 1 and r["repeat_visible"], r
    assert r["freq_ok"] and r["snr_good_db"] > 30 and r["snr_db"] < 30, r


def test_repeats_of_a_tone_periodic_in_the_frame_are_not_flagged():
    x = tone(1000, 2, amp=0.3)  # 20 ms is 20 periods: a repeated frame is the tone itself
    s = RATE * 1300 // 1000
    x[s:s + 160] = x[s - 160:s]
    r = audio_check.analyse_samples(mulaw(x), RATE, 1000)
    assert r["gaps"] == [] and r["repeat_visible"] is False, r


def test_cli_prints_a_summary_json_and_a_plot(tmp_path):
    x = tone(440, 2, amp=0.3)
    x[RATE: RATE + 160] = 0
    path = save(tmp_path, mulaw(x))
    tool = os.path.join(HERE, "..", "tools", "audio_check.py")
    out = subprocess.run([sys.executable, tool, path, "--expect", "440"], capture_output=True,
                         text=True, check=True).stdout
    assert "tone 440.0" in out and "1 gaps (1 frames)" in out, out
    png = str(tmp_path / "rec.png")
    out = subprocess.run([sys.executable, tool, path, "--json", "--plot", png],
                         capture_output=True, text=True, check=True).stdout
    r = json.loads(out)
    assert r["gaps"] == [1] and abs(r["freq_hz"] - 440) < 0.5 and r["freq_ok"] is None
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    empty = save(tmp_path, np.zeros(800), "empty.wav")
    p = subprocess.run([sys.executable, tool, empty], capture_output=True, text=True)
    assert p.returncode == 2 and "no tone" in p.stdout
