"""I2S audio on the ESP32 boards: an I2S MEMS microphone and an I2S amplifier through
machine.I2S, as the voice engine's microphone and speaker (issue 17).

Mic.readinto(buf, now=None) -> True when a whole frame (16-bit signed little-endian mono
at 8 kHz, n = 16 * ptime bytes) was written into buf[0:n] (buf: at least n bytes), False
when none is complete yet; Speaker.write(buf, now=None) -> True when the frame (buf:
exactly n bytes) was taken, False when the amplifier's DMA is full (nothing taken: offer
it again later); close() on both. `now` is ignored (the I2S clock paces them); it is there
so that these are the same calls as tinysip.io.wav's (named as a stream's readinto and
write, which the phone interns already, though they answer True/False, not a count).
Neither ever waits and neither allocates: host_tests/test_i2s.py drives them through a fake
machine.I2S that behaves like the ESP32 port's and checks 0 B per frame on MicroPython.

audio(board, ptime=20, gain=2) opens both on the pins the board module names
(boards/*/board.py): I2S (None: no audio parts wired, audio() returns None), I2S_IN and
I2S_OUT, each (I2S id, SCK, WS, SD), for the microphone and the amplifier. Two tuples, not
eight names: each name a board module holds is interned in RAM when it loads as .mpy.

What upstream MicroPython does (ports/esp32/machine_i2s.c and extmod/machine_i2s.c at
1c3c201, August 2026; docs/library/machine.I2S.rst; the IDF's esp_driver_i2s):
- machine.I2S is controller (clock master) only, one direction per object; the id is one
  of the chip's two I2S peripherals (ESP32, ESP32-S3) and a second I2S(id) deinits the
  first. Each peripheral drives its own SCK and WS, so the microphone and the amplifier
  take one peripheral and one pair of clock pins each (two masters cannot share a clock).
  A full-duplex codec (one BCLK/WS for both directions, usually with an MCLK: WM8960,
  ES8388) cannot be driven: the port opens one channel per id and never outputs MCLK.
- Three modes. Blocking (the default). Non-blocking, set by irq(handler): readinto/write
  hand the buffer to a FreeRTOS task (2 KB of stack from the IDF heap per object) that
  fills or empties it and then schedules the handler; its queue holds one buffer and
  silently drops a second, and a lost handler call would stall a design built on it.
  Asyncio, set once a select.poll has asked the object (MP_STREAM_POLL): readinto and
  write copy what the DMA has, or has room for, at once (i2s_channel_read/write with
  timeout 0) and return the byte count, 0 when nothing. There is no I2S.NON_BLOCKING. We
  use the asyncio mode, polled from the driver's loop: no task, no scheduled callbacks, no
  state shared with an interrupt. _wait() switches it at open.
- RX always reads 32-bit stereo DMA frames (8 B per sample period). MONO keeps the left
  slot; bits=16 keeps its top two bytes (the 32 -> 16 conversion done in C), bits=32 the
  word. TX MONO 16-bit sends each sample in both slots (16-bit slots).
- DMA memory comes from the IDF heap (internal DMA-capable RAM: what Wi-Fi, lwIP and TLS
  share on a WROOM), not the GC heap: buffers of 256 sample periods
  (DMA_BUF_LEN_IN_I2S_FRAMES), ibuf // (256 * DMA frame bytes) of them and at least 2.
  Each I2S object holds a 240-byte transform buffer in the GC heap too.
- rate is not checked by MicroPython. The IDF (i2s_std.c) makes MCLK = 256 x rate from the
  160 MHz PLL and refuses a divider of 256 or more ("sample rate is too small": below about
  2.5 kHz); 8 kHz divides by 78.1. BCLK = rate x 2 slots x slot bits.

The parts (datasheets; not tried on hardware here):
- INMP441 microphone: I2S, 24-bit two's complement MSB first in 32-bit slots, 64 SCK per
  WS frame; L/R to GND puts it in the left slot (what MONO reads). WS 7.8-50 kHz and SCK
  0.5-3.2 MHz: at 8 kHz the ESP32 gives WS 8 kHz and SCK 512 kHz, just inside both. Its
  data is valid 2^18 SCK cycles after the clock starts, 0.51 s at 512 kHz: open it before
  a call (at boot) and keep it running. Sensitivity -26 dBFS at 94 dB SPL: speech at a
  handset (85-89 dB SPL) comes out near -33 dBFS, about 10 dB under G.711's nominal
  level (-20 dBm0, about -23 dBFS); `gain` lifts it, in 6 dB steps.
- MAX98357A amplifier: I2S data of 16, 24 or 32 bits at 8-96 kHz, no MCLK. TX 16-bit mono
  gives it LRCLK 8 kHz, BCLK 256 kHz and the same sample in both slots, so its SD_MODE may
  select left, right or (L+R)/2.

Configuration chosen:
- Microphone: rate 8000, MONO, gain 2 (+12 dB: speech at a handset near G.711's nominal
  level, loud sounds clip rather than wrap). bits 32 when gain is 1..8 (x2 each): _run()
  keeps 16 bits of the 24 with saturation, 60 us per 20 ms frame as a Python loop on the
  unix port, 1.4 us as the viper copy that _build() compiles on the first such Mic (an ESP32
  has the emitter too; compiling takes ~5 KB of heap once and keeps 128 B, 64-bit unix
  port). bits 16 when gain is 0: the C driver keeps the top 16 of the 24 bits, no Python per
  sample. ibuf 4096: 2 DMA buffers of 2048 B, 64 ms, the fewest the driver takes; 4096 B of
  IDF heap. Samples arrive a DMA buffer (32 ms) at a time, so a frame waits up to 32 ms more
  than its own length. Reads take chunks of gcd(256, samples per frame) samples (32 at 20
  ms): a DMA buffer holds a whole number of chunks, so a read gets a whole chunk or nothing
  and a frame is put together in our buffer without slicing. A partial chunk (only possible
  at the end of a DMA buffer) is dropped, and reads realign at the next DMA buffer. A loop
  that stops reading for more than ~32 ms loses the oldest DMA buffer (the IDF drops it): a
  gap in what we send.
- Amplifier: rate 8000, MONO, bits 16, ibuf 1536: 3 DMA buffers of 512 B, 96 ms; 1536 B of
  IDF heap. A frame plays after what the DMA already holds (at most 96 ms later); with
  nothing written the driver plays zeros (auto_clear). What did not fit of a frame is kept
  and sent first on the next write.
- GC heap: a frame and a chunk per direction (20 ms: 320 + 64 or 128 B each) besides the
  two I2S objects.
"""
import select

from tinysip.compat import MICROPYTHON, const

_RATE = const(8000)
_RX_IBUF = const(4096)
_TX_IBUF = const(1536)


def _wait(stream, flags):
    """Put `stream` (a machine.I2S) in upstream's asyncio mode: a select.poll asks it once
    (for `flags`)."""
    p = select.poll()
    p.register(stream, flags)
    p.poll(0)
    p.unregister(stream)


# The conversion kernel. Every name in it is one MicroPython has built in: the viper copy
# is compiled from source, and its compiler interns each name it meets for good.
def _run(src, n, buf, f):
    """n 32-bit little-endian INMP441 words of src (24 bits of data in the top three bytes)
    as 16-bit samples into buf from byte f >> 4: each the 24-bit value shifted right by
    f & 15 (8 keeps the top 16 bits, each bit less doubles it) and clipped to
    -32768..32767. buf may be src with offset 0: converted in place, each write behind its
    read. (One argument carries two numbers: viper functions take at most four.)"""
    s = f & 15
    off = f >> 4
    for r in range(3, 4 * n, 4):
        v = ((src[r] << 16 | src[r - 1] << 8 | src[r - 2]) ^ 0x800000) - 0x800000 >> s
        if v > 32767:
            v = 32767
        elif v < -32768:
            v = -32768
        buf[off] = v & 255
        buf[off + 1] = v >> 8 & 255
        off += 2


_raw = _run  # the plain loop, kept for the tests where viper replaces it


def _build():
    """On MicroPython with a native emitter, replace _run with the same loop as viper code
    (machine ints, raw byte pointers), compiled from source on the first Mic with a gain:
    ~5 KB of passing heap once, instead of a few ms of every frame on an ESP32. Without the
    emitter, or when the compile fails (e.g. MemoryError), the plain loop stays."""
    if not MICROPYTHON or _run is not _raw:
        return
    try:
        exec("""
@micropython.viper
def _run(src: ptr8, n: int, buf: ptr8, f: int):
    s = f & 15
    off = f >> 4
    end = off + 2 * n
    r = 3
    while off < end:
        v = ((src[r] << 16 | src[r - 1] << 8 | src[r - 2]) ^ 0x800000) - 0x800000
        v = v >> s
        if v > 32767:
            v = 32767
        elif v < -32768:
            v = -32768
        buf[off] = v & 255
        buf[off + 1] = v >> 8 & 255
        off += 2
        r += 4
""", globals())
    except Exception:  # noqa: BLE001 - no compiler or no native emitter here, or no heap
        pass


class Mic:
    """An I2S microphone (INMP441 wiring) on peripheral `id`; see the module docstring.
    (Attribute names are ones the phone interns already: `stream` the machine.I2S, `buf`
    the frame, `data` a DMA chunk, `s` the shift, `pos` the bytes of buf filled.)"""

    def __init__(self, id, sck, ws, sd, ptime=20, gain=2, ibuf=_RX_IBUF):
        from machine import I2S, Pin

        if not 0 <= gain <= 8:
            raise ValueError("gain %r: 0 to 8" % gain)
        a = 256  # samples per DMA buffer: the chunk is gcd(256, samples per frame)
        b = 8 * ptime
        while b:
            a, b = b, a % b
        bits = 32 if gain else 16
        self.stream = I2S(id, sck=Pin(sck), ws=Pin(ws), sd=Pin(sd), mode=I2S.RX, bits=bits,
                       format=I2S.MONO, rate=_RATE, ibuf=ibuf)
        _wait(self.stream, select.POLLIN)
        self.buf = bytearray(16 * ptime)
        self.data = bytearray(a * bits // 8)
        self.s = 8 - gain if gain else -1  # _run's shift; -1: 16-bit reads, no _run
        if gain:
            _build()
        self.pos = 0  # bytes of buf filled

    def readinto(self, buf, now=None):
        dev = self.stream
        sc = self.data
        fr = self.buf
        c = len(sc)
        n = len(fr)
        o = self.pos
        while o < n:
            r = dev.readinto(sc)
            if not r:
                break
            if r == c:  # else a partial chunk: dropped (see the module docstring)
                if self.s < 0:
                    fr[o:o + c] = sc
                    o += c
                else:
                    _run(sc, c >> 2, fr, o << 4 | self.s)
                    o += c >> 1
        self.pos = o
        if o < n:
            return False
        buf[0:n] = fr
        self.pos = 0
        return True

    def close(self):
        self.stream.deinit()


class Speaker:
    """An I2S amplifier (MAX98357A wiring) on peripheral `id`; see the module docstring."""

    def __init__(self, id, sck, ws, sd, ptime=20, ibuf=_TX_IBUF):
        from machine import I2S, Pin

        self.stream = I2S(id, sck=Pin(sck), ws=Pin(ws), sd=Pin(sd), mode=I2S.TX, bits=16,
                       format=I2S.MONO, rate=_RATE, ibuf=ibuf)
        _wait(self.stream, select.POLLOUT)
        self.buf = bytearray(16 * ptime)
        self.data = memoryview(self.buf)  # a store through it refuses a buf of another length
        self.pos = len(self.buf)  # bytes of buf the DMA took: all, nothing pending

    def write(self, buf, now=None):
        fr = self.buf
        n = len(fr)
        o = self.pos
        if o < n:
            o += self.stream.write(fr, o, n - o)
            self.pos = o
            if o < n:
                return False
        self.data[0:n] = buf
        self.pos = self.stream.write(fr, 0, n)
        return True

    def close(self):
        self.stream.deinit()


def audio(board, ptime=20, gain=2):
    """(Mic, Speaker) on the pins `board` names (see the module docstring), or None when
    board.I2S is None: no audio parts are wired."""
    if not board.I2S:
        return None
    m = Mic(*board.I2S_IN, ptime=ptime, gain=gain)
    try:
        return m, Speaker(*board.I2S_OUT, ptime=ptime)
    except Exception:
        m.close()
        raise
