"""WAV files (or raw PCM) as the host board's microphone and speaker, and a sine tone source.

The voice engine (issue 17) works in frames of 16-bit signed little-endian mono PCM at
8 kHz: `ptime` ms is 8 * ptime samples, n = 16 * ptime bytes (20 ms: 160 samples, 320 B).
A source has readinto(buf, now=None) -> True when a whole frame was written into
buf[0:n], False when none is due yet; a sink has write(buf, now=None) -> True when
taken (a sink here always takes it). Both have close(). buf is a bytearray of n bytes (a
longer one works, at the cost of a memoryview per read). The same calls as the ESP32
adapters (tinysip.io.i2s), so the engine and its tests do not know which one they drive
(named as a stream's readinto and write: names the phone interns already, each new one
costs it heap for good; they answer True/False, not a byte count). The other names here
(arguments, attributes) are ones the phone interns already too where one fits.

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

WavSink(dest, ptime=20): dest is a path (a WAV file in the format above; the header is
written with sizes 0 and fixed up by close(), so a recording cut short still opens, see
above) or an open binary file object that takes raw PCM. Each write writes all of
buf. With `now`, the sink behaves like a speaker that plays one frame per ptime and has no
buffer beyond the frame in hand: a writer late by a whole frame period or more gets that
many frames of silence written before its frame, so the file keeps the listener's timeline
and tools/audio_check.py sees the gaps.

ToneSource(f, v, ptime=20): a sine of f Hz (below 4000) with amplitude v (PCM units, at
most 32767), from a 256-entry table of one period interpolated linearly; the
phase is a 24-bit accumulator, so there is no float per frame and the frequency is exact to
0.0005 Hz. Its spurious content is below -80 dB, under 16-bit rounding.

close() closes the file or file object given.
"""
import struct

from tinysip.compat import const
from tinysip.errors import nth

_RATE = const(8000)
_STEPS = const(16777216)  # ToneSource phase units per period (24 bits)
# Error texts, one string: a module run in place holds each str constant as a heap object.
_REASONS = ("%s: not a RIFF/WAVE file\n%s: no data chunk\n%s: no fmt chunk\n"
            "%s: data before the fmt chunk\n%s: fmt chunk of %d bytes\n%s: %s %d, need %d\n"
            "tone: %r Hz, peak %r")


def _raw(f, buf, n):
    """readinto buf[0:n]; the byte count (0 at the end)."""
    if len(buf) == n:
        return f.readinto(buf) or 0
    return f.readinto(memoryview(buf)[0:n]) or 0


def _check(f, path):
    """Parse the RIFF header of `path` (open as f) up to its data chunk; f is left at the
    first sample. The data chunk's size in bytes, as written."""
    h = f.read(12)
    if len(h) < 12 or h[0:4] != b"RIFF" or h[8:12] != b"WAVE":
        raise ValueError(nth(_REASONS, 0) % path)
    fmt = False
    while True:
        h = f.read(8)
        if len(h) < 8:
            raise ValueError(nth(_REASONS, 1 if fmt else 2) % path)
        size = struct.unpack(b"<I", h[4:8])[0]
        if h[0:4] == b"data":
            if not fmt:
                raise ValueError(nth(_REASONS, 3) % path)
            return size
        if h[0:4] == b"fmt ":
            b = f.read(size + (size & 1))
            if size < 16 or len(b) < 16:
                raise ValueError(nth(_REASONS, 4) % (path, size))
            v = struct.unpack(b"<HHIIHH", b[0:16])
            for i, name, want in ((0, "format", 1), (1, "channels", 1), (2, "rate", _RATE),
                                  (5, "bits", 16)):
                if v[i] != want:
                    raise ValueError(nth(_REASONS, 5) % (path, name, v[i], want))
            fmt = True
        else:
            f.seek(size + (size & 1), 1)


def header(n):
    """The 44-byte header of a WAV file of n data bytes in the frame format."""
    return struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + n, b"WAVE", b"fmt ", 16, 1, 1,
                       _RATE, 2 * _RATE, 2, 16, b"data", n)


class _Paced:
    """What every source shares: the frame size and the pacing by `now`."""

    def __init__(self, ptime):
        self.step = ptime
        self.n = 16 * ptime
        self.t1 = None
        self.k = 0  # frames given

    def _due(self, now):
        if now is None:
            return True
        if self.t1 is None:
            self.t1 = now
        if now - self.t1 < self.k * self.step:
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
                size = _check(f, src)
            except Exception:
                f.close()
                raise
        else:
            f = src
            size = 0
        self.f = f
        try:
            self.start = f.tell()  # the first sample
            end = f.seek(0, 2) - self.start
            f.seek(self.start)
            self.length = size if 0 < size <= end else end
        except (OSError, AttributeError):  # a pipe (CPython: UnsupportedOperation)
            self.start = self.length = None
        self.count = self.length  # data bytes not read yet (None: a stream of unknown length)

    def readinto(self, buf, now=None):
        if not self._due(now):
            return False
        n = self.n
        r = self.count
        if r is not None and r < n and self.loop and self.length >= n:
            self.f.seek(self.start)
            r = self.length
        got = 0
        if r is None or r > 0:
            got = _raw(self.f, buf, n if r is None or r >= n else r)
            if r is not None:
                self.count = r - got
        for i in range(got, n):  # the end of the data: silence
            buf[i] = 0
        return True

    def close(self):
        self.f.close()


class ToneSource(_Paced):
    """A sine tone as the microphone; see the module docstring."""

    def __init__(self, f, v, ptime=20):
        hz = f
        peak = v
        from array import array
        from math import pi, sin

        _Paced.__init__(self, ptime)
        if not 0 < hz < _RATE // 2 or not 0 <= peak <= 32767:
            raise ValueError(nth(_REASONS, 6) % (hz, peak))
        self.t = array("h", [int(round(peak * sin(pi * i / 128))) for i in range(257)])
        self.s = int(round(hz * _STEPS / _RATE))  # phase step per sample
        self.pos = 0

    def readinto(self, buf, now=None):
        if not self._due(now):
            return False
        t = self.t
        s = self.s
        ph = self.pos
        for j in range(0, self.n, 2):
            i = ph >> 16
            a = t[i]
            v = a + ((t[i + 1] - a) * (ph & 0xFFFF) >> 16)  # < 2**30: a small int
            buf[j] = v & 255
            buf[j + 1] = v >> 8 & 255
            ph = (ph + s) & 0xFFFFFF
        self.pos = ph
        return True

    def close(self):
        pass


class WavSink:
    """A WAV file (or raw PCM) recording what the phone plays; see the module docstring."""

    def __init__(self, dest, ptime=20):
        dst = dest
        self.step = ptime
        self.t1 = None  # with `now`: when the audio written so far ends playing
        self.data = None  # a frame of silence, made on the first gap
        if isinstance(dst, str):
            self.f = open(dst, "wb")
            self.f.write(header(0))
            self.length = 0
        else:
            self.f = dst
            self.length = None

    def write(self, buf, now=None):
        if now is not None:
            e = self.t1
            if e is None:
                e = now
            while now - e >= self.step:  # a speaker ran dry: it played silence
                if self.data is None:
                    self.data = bytearray(16 * self.step)
                self._out(self.data)
                e += self.step
            self.t1 = e + self.step
        self._out(buf)
        return True

    def _out(self, b):
        self.f.write(b)
        if self.length is not None:
            self.length += len(b)

    def close(self):
        f = self.f
        if self.length is not None:
            f.seek(0)
            f.write(header(self.length))
        f.close()
