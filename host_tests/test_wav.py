"""tinysip.io.wav: the host board's microphone and speaker (WAV files, raw PCM) and the sine
tone source: the header parser and its refusals, pacing by a fake clock, the end of the
data (loop, silence), the speaker's gaps, and 0 B per frame on MicroPython."""
import gc
import math
import os
import struct

from testutil import MICROPYTHON, raises

from tinysip.compat import hexlify
from tinysip.io.wav import ToneSource, WavSink, WavSource

N = 320  # bytes of a 20 ms frame


def _path(tag):
    return "/tmp/tinysip-wav-%s-%s.wav" % (tag, hexlify(os.urandom(6)).decode())


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def _chunk(tag, body):
    pad = b"\x00" if len(body) & 1 else b""
    return tag + struct.pack("<I", len(body)) + body + pad


def _wav(data, fmt=(1, 1, 8000, 16000, 2, 16), extra=b"", size=None):
    """A WAV file's bytes: RIFF, fmt (fields as given), `extra` chunks, then data."""
    body = b"WAVE" + _chunk(b"fmt ", struct.pack("<HHIIHH", *fmt)) + extra
    body += b"data" + struct.pack("<I", len(data) if size is None else size) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _ramp(nsamples, start=0):
    """Distinct 16-bit samples start, start+1, ... as PCM bytes."""
    out = bytearray(2 * nsamples)
    for i in range(nsamples):
        struct.pack_into("<h", out, 2 * i, (start + i) % 30000 - 15000)
    return bytes(out)


def _frames(src, count):
    """The bytes of the next `count` frames (no clock: one frame per call)."""
    out = b""
    buf = bytearray(N)
    for _ in range(count):
        assert src.readinto(buf)
        out += bytes(buf)
    return out


def _reads(data, count, loop=True):
    """The first `count` frames a WavSource reads from a file holding `data`."""
    p = _path("src")
    _write(p, data)
    try:
        src = WavSource(p, loop)
        try:
            return _frames(src, count)
        finally:
            src.close()
    finally:
        _remove(p)


def test_reads_whole_frames_of_the_data_chunk_skipping_other_chunks():
    pcm = _ramp(800)  # 5 frames
    extra = _chunk(b"LIST", b"INFOISFT\x03\x00\x00\x00abc") + _chunk(b"odd ", b"x")
    data = _wav(pcm, extra=extra) + _chunk(b"LIST", b"trailing chunk, not audio")
    assert _reads(data, 6, False) == pcm + bytes(N)  # then silence


def test_refuses_other_formats_naming_the_file_and_the_field():
    p = _path("bad")
    cases = (
        (_wav(b"", fmt=(1, 2, 8000, 32000, 4, 16)), "channels 2, need 1"),
        (_wav(b"", fmt=(1, 1, 16000, 32000, 2, 16)), "rate 16000, need 8000"),
        (_wav(b"", fmt=(1, 1, 8000, 8000, 1, 8)), "bits 8, need 16"),
        (_wav(b"", fmt=(3, 1, 8000, 32000, 4, 32)), "format 3, need 1"),  # float
        (_wav(b"", fmt=(0xFFFE, 1, 8000, 16000, 2, 16)), "format 65534, need 1"),
        (b"RIFX" + _wav(b"")[4:], "not a RIFF/WAVE file"),
        (b"RIFF\x04\x00\x00\x00WAVE", "no fmt chunk"),
        (_wav(b"")[:36], "no data chunk"),
    )
    try:
        for data, why in cases:
            _write(p, data)
            e = raises(ValueError, WavSource, p)
            assert str(e) == p + ": " + why, (str(e), why)
    finally:
        _remove(p)


def test_pacing_follows_the_clock_and_catches_up():
    src = ToneSource(1000, 8000)
    buf = bytearray(N)
    got = [src.readinto(buf, t) for t in (5000, 5001, 5019, 5020, 5039, 5040)]
    assert got == [True, False, False, True, False, True]
    # 100 ms late: the frames due at 5060..5140 come at once, then the clock rules again
    got = [src.readinto(buf, 5145) for _ in range(6)]
    assert got == [True, True, True, True, True, False]
    assert src.readinto(buf, 5159) is False and src.readinto(buf, 5160) is True
    assert src.readinto(buf) and src.readinto(buf)  # no clock: a frame at every call


def test_loop_restarts_at_the_first_sample_in_whole_frames():
    pcm = _ramp(160 * 2 + 50)  # two frames and a 50-sample tail
    assert _reads(_wav(pcm), 5) == pcm[:640] * 2 + pcm[:320]  # the tail is skipped
    # no loop: the tail, padded with silence, then silence
    assert _reads(_wav(pcm), 4, False) == pcm[:640] + pcm[640:] + bytes(220) + bytes(320)


def test_data_size_zero_or_too_big_means_up_to_the_end_of_the_file():
    pcm = _ramp(320)
    for size in (0, 0xFFFFFFFF):
        assert _reads(_wav(pcm, size=size), 3, False) == pcm + bytes(N)


def _record(frames, times=None, raw=False):
    """The bytes of the file a WavSink wrote `frames` into (given a path, or with raw=True
    a file object), with `now` from `times` when given."""
    p = _path("sink")
    try:
        sink = WavSink(open(p, "wb") if raw else p)
        for i in range(len(frames)):
            assert sink.write(frames[i], None if times is None else times[i])
        sink.close()  # closes a file object given too
        with open(p, "rb") as f:
            return f.read()
    finally:
        _remove(p)


def test_raw_pcm_from_a_file_object_and_to_one():
    pcm = _ramp(480)
    assert _record([pcm[i:i + N] for i in range(0, len(pcm), N)], raw=True) == pcm
    p = _path("raw")
    _write(p, pcm)
    try:
        src = WavSource(open(p, "rb"))  # loops too: the file can seek
        assert _frames(src, 4) == pcm + pcm[:N]
        src.close()
    finally:
        _remove(p)


def test_sink_writes_a_wav_that_the_source_reads_back():
    tone = ToneSource(440, 12000)
    frames = []
    for _ in range(10):
        buf = bytearray(N)
        tone.readinto(buf)
        frames.append(buf)
    data = _record(frames)
    sent = b"".join(frames)
    want = _wav(b"", size=len(sent))
    assert data[:4] + data[8:44] == want[:4] + want[8:44]
    assert struct.unpack("<I", data[4:8])[0] == 36 + len(sent)
    assert _reads(data, 11, False) == sent + bytes(N)


def test_sink_plays_silence_for_the_frames_a_late_writer_missed():
    one = bytes(b"\x01\x02" * 160)
    data = _record([one] * 8, (1000, 1020, 1041, 1059, 1100, 1101, 1102, 1185))
    got = [data[i:i + N] == one for i in range(44, len(data), N)]
    # 1000..1059: on time (a few ms of jitter is no gap); 1100 is 41 ms late: one frame
    # of silence; 1101/1102 come early (buffered); 1185 is 25 ms late: silence again
    assert got == [True] * 4 + [False] + [True] * 3 + [False] + [True], got


def test_tone_is_the_sine_within_the_interpolation_error():
    for hz, peak in ((1000, 16000), (440, 32767), (1234.5, 3000), (3999, 100)):
        src = ToneSource(hz, peak)
        buf = bytearray(N)
        worst = 0
        i = 0
        for _ in range(5):
            src.readinto(buf)
            for j in range(0, N, 2):
                v = buf[j] | buf[j + 1] << 8
                v -= (v & 0x8000) << 1
                want = peak * math.sin(2 * math.pi * hz * i / 8000)
                worst = max(worst, abs(v - want))
                i += 1
        # linear interpolation between 256 points: peak * (2 pi / 256) ** 2 / 8, plus rounding
        assert worst <= 1.5 + 7.6e-5 * peak, (hz, worst)
    raises(ValueError, ToneSource, 4000, 100)
    raises(ValueError, ToneSource, 1000, 40000)


def test_no_allocation_per_frame():
    if not MICROPYTHON:  # the heap figures are MicroPython's
        return
    pcm = _ramp(160 * 50 + 40)
    p = _path("alloc")
    q = _path("alloc-out")
    _write(p, _wav(pcm))
    try:
        src = WavSource(p)
        tone = ToneSource(440, 8000)
        sink = WavSink(q)
        buf = bytearray(N)
        for s in (src, tone):
            s.readinto(buf, 200)
        sink.write(buf, 0)
        sink.write(buf, 100)  # makes the silence frame
        gc.collect()
        gc.disable()
        try:
            before = gc.mem_alloc()
            t = 200
            for _ in range(120):  # wraps around the file twice
                t += 20
                assert src.readinto(buf, t) and tone.readinto(buf, t)
                assert not src.readinto(buf, t + 1)
                sink.write(buf, t + 1 + (t % 100))  # gaps too
            after = gc.mem_alloc()
        finally:
            gc.enable()
        assert after == before, after - before
        src.close()
        sink.close()
    finally:
        _remove(p)
        _remove(q)
