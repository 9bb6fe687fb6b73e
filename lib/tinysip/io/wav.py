"""WAV files (or raw PCM) as the host board's microphone and speaker, and a sine tone source.

The voice engine (issue 17) works in frames of 16-bit signed little-endian mono PCM at
8 kHz: `ptime` ms is 8 * ptime samples, n = 16 * ptime bytes (20 ms: 160 samples, 320 B).
A source has read_frame(buf, now=None) -> True when a whole frame was written into
buf[0:n], False when none is due yet; a sink has write_frame(buf, now=None) -> True when
taken (a sink here always takes it). Both have close(). buf is a bytearray of n bytes (a
longer one works, at the cost of a memoryview per read). The same calls as the ESP32
adapters (tinysip.io.i2s), so the engine and its tests do not know which one they drive.

Nothing is allocated per frame in steady state (host_tests/test_wav.py checks 0 B on
MicroPython with the collector off): files are read with readinto straight into the
caller's buffer, written with write(buf), silence and tone samples are written byte by
byte, and every number stays a small int. The end of a file and the loop back cost one
memoryview at most. The WAV header is parsed with struct, not the `wave` module, so that
the unix port runs the same code.

Pacing: with `now` (integer ms, the driver's clock) a source gives frame k once
now >= t0 + k * ptime, t0 being the `now` of its first call, so a test may run its fake
clock faster than real time; a caller that fell behind gets the frames it missed on its
next calls, as a microphone's DMA buffer would hold them. now=None gives a frame at every
call (benches).

WavSource(src, loop=True, ptime=20): src is the path of a WAV file (RIFF/WAVE with a "fmt "
chunk of PCM format 1, 1 channel, 8000 Hz, 16 bits, then a "data" chunk; other chunks are
skipped; anything else raises ValueError naming the file and the field), or an open binary
file object of raw PCM in that format (a pipe too: a read waits until the writer gave a
whole frame, so feed it ahead of time). A data size of 0 or past the end of the file (a
recording never closed, a streamed header) means "up to the end of the file". At the end
of the data, loop=True starts again at the first sample (a tail shorter than a frame is
skipped: the loop stays in whole frames); loop=False gives the tail padded with silence,
then silence. A raw stream that cannot seek (a pipe) gives silence after its end.

WavSink(dst, ptime=20): dst is a path (a WAV file in the format above; the header is
written with sizes 0 and fixed up by close(), so a recording cut short still opens, see
above) or an open binary file object that takes raw PCM. Each write_frame writes all of
buf. With `now`, the sink behaves like a speaker that plays one frame per ptime and has no
buffer beyond the frame in hand: a writer late by a whole frame period or more gets that
many frames of silence written before its frame, so the file keeps the listener's timeline
and tools/audio_check.py sees the gaps.

ToneSource(hz, peak, ptime=20): a sine of `hz` (below 4000) with amplitude `peak` (PCM
units, at most 32767), from a 256-entry table of one period interpolated linearly; the
phase is a 24-bit accumulator, so there is no float per frame and the frequency is exact to
0.0005 Hz. Its spurious content is below -80 dB, under 16-bit rounding.

close() closes the file or file object given.
"""
import struct

from tinysip.compat import const

_RATE = const(8000)
_STEPS = const(16777216)  # ToneSource phase units per period (24 bits)


def _read(f, buf, n):
    """readinto buf[0:n]; the byte count (0 at the end)."""
    if len(buf) == n:
        return f.readinto(buf) or 0
    return f.readinto(memoryview(buf)[0:n]) or 0


def _header(f, path):
    """Parse the RIFF header of `path` (open as f) up to its data chunk; f is left at the
    first sample. The data chunk's size in bytes, as written."""
    h = f.read(12)
    if len(h) < 12 or h[0:4] != b"RIFF" or h[8:12] != b"WAVE":
        raise ValueError("%s: not a RIFF/WAVE file" % path)
    fmt = False
    while True:
        h = f.read(8)
        if len(h) < 8:
            raise ValueError(path + (": no data chunk" if fmt else ": no fmt chunk"))
        size = struct.unpack("<I", h[4:8])[0]
        if h[0:4] == b"data":
            if not fmt:
                raise ValueError("%s: data before the fmt chunk" % path)
            return size
        if h[0:4] == b"fmt ":
            b = f.read(size + (size & 1))
            if size < 16 or len(b) < 16:
                raise ValueError("%s: fmt chunk of %d bytes" % (path, size))
            v = struct.unpack("<HHIIHH", b[0:16])
            for i, name, want in ((0, "format", 1), (1, "channels", 1), (2, "rate", _RATE),
                                  (5, "bits", 16)):
                if v[i] != want:
                    raise ValueError("%s: %s %d, need %d" % (path, name, v[i], want))
            fmt = True
        else:
            f.seek(size + (size & 1), 1)


def _wav_header(size):
    """The 44-byte header of a WAV file of `size` data bytes in the frame format."""
    return struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + size, b"WAVE", b"fmt ", 16, 1, 1,
                       _RATE, 2 * _RATE, 2, 16, b"data", size)


class _Paced:
    """What every source shares: the frame size and the pacing by `now`."""

    def __init__(self, ptime):
        self.ms = ptime
        self.n = 16 * ptime
        self.t0 = None
        self.k = 0  # frames given

    def _due(self, now):
        if now is None:
            return True
        if self.t0 is None:
            self.t0 = now
        if now - self.t0 < self.k * self.ms:
            return False
        self.k += 1
        return True


class WavSource(_Paced):
    """A WAV file or raw PCM as the microphone; see the module docstring."""

    def __init__(self, src, loop=True, ptime=20):
        _Paced.__init__(self, ptime)
        self.loop = loop
        if isinstance(src, str):
            f = open(src, "rb")
            try:
                size = _header(f, src)
            except Exception:
                f.close()
                raise
        else:
            f = src
            size = 0
        self.f = f
        try:
            self.at = f.tell()  # the first sample
            end = f.seek(0, 2) - self.at
            f.seek(self.at)
            self.size = size if 0 < size <= end else end
        except (OSError, AttributeError):  # a pipe (CPython: UnsupportedOperation)
            self.at = self.size = None
        self.rest = self.size  # data bytes not read yet (None: a stream of unknown length)

    def read_frame(self, buf, now=None):
        if not self._due(now):
            return False
        n = self.n
        r = self.rest
        if r is not None and r < n and self.loop and self.size >= n:
            self.f.seek(self.at)
            r = self.size
        got = 0
        if r is None or r > 0:
            got = _read(self.f, buf, n if r is None or r >= n else r)
            if r is not None:
                self.rest = r - got
        for i in range(got, n):  # the end of the data: silence
            buf[i] = 0
        return True

    def close(self):
        self.f.close()


class ToneSource(_Paced):
    """A sine tone as the microphone; see the module docstring."""

    def __init__(self, hz, peak, ptime=20):
        from array import array
        from math import pi, sin

        _Paced.__init__(self, ptime)
        if not 0 < hz < _RATE // 2 or not 0 <= peak <= 32767:
            raise ValueError("tone: %r Hz, peak %r" % (hz, peak))
        self.t = array("h", [int(round(peak * sin(pi * i / 128))) for i in range(257)])
        self.s = int(round(hz * _STEPS / _RATE))  # phase step per sample
        self.ph = 0

    def read_frame(self, buf, now=None):
        if not self._due(now):
            return False
        t = self.t
        s = self.s
        ph = self.ph
        for j in range(0, self.n, 2):
            i = ph >> 16
            a = t[i]
            v = a + ((t[i + 1] - a) * (ph & 0xFFFF) >> 16)  # < 2**30: a small int
            buf[j] = v & 255
            buf[j + 1] = v >> 8 & 255
            ph = (ph + s) & 0xFFFFFF
        self.ph = ph
        return True

    def close(self):
        pass


class WavSink:
    """A WAV file (or raw PCM) recording what the phone plays; see the module docstring."""

    def __init__(self, dst, ptime=20):
        self.ms = ptime
        self.t0 = None  # with `now`: when the audio written so far ends playing
        self.z = None  # a frame of silence, made on the first gap
        if isinstance(dst, str):
            self.f = open(dst, "wb")
            self.f.write(_wav_header(0))
            self.size = 0
        else:
            self.f = dst
            self.size = None

    def write_frame(self, buf, now=None):
        if now is not None:
            e = self.t0
            if e is None:
                e = now
            while now - e >= self.ms:  # a speaker ran dry: it played silence
                if self.z is None:
                    self.z = bytearray(16 * self.ms)
                self._put(self.z)
                e += self.ms
            self.t0 = e + self.ms
        self._put(buf)
        return True

    def _put(self, b):
        self.f.write(b)
        if self.size is not None:
            self.size += len(b)

    def close(self):
        f = self.f
        if self.size is not None:
            f.seek(0)
            f.write(_wav_header(self.size))
        f.close()
