"""tinysip.io.i2s on the host: a fake `machine` module whose I2S behaves like the ESP32
port's (ports/esp32/machine_i2s.c): blocking until a select.poll has asked it, then reads
and writes that copy what the DMA has or has room for and return the count. Checked: the
pins, format, rate and DMA sizes each part is opened with (also from the real board
files), the INMP441 32 -> 16-bit conversion, that reads and writes never block, and 0 B
per frame on MicroPython."""
import gc
import sys

from testutil import MICROPYTHON, raises

from tinysip.io import i2s

DMA = 256  # samples per DMA buffer on the ESP32 port


def word(s):
    """The INMP441's sample number s: a signed 24-bit value, pseudo-random over the whole
    range (the fake DMA sends it in the top three bytes of a 32-bit slot)."""
    v = (s * 40503 + (s >> 3) * 9973) & 0xFFFFFF
    return v - ((v & 0x800000) << 1)


class _Pin:
    def __init__(self, n):
        self.n = n


class _I2S:
    """machine.I2S as the ESP32 port has it, with a DMA the test fills and drains."""

    RX = 0
    TX = 1
    MONO = 0
    STEREO = 1
    made = []

    def __init__(self, id, sck, ws, sd, mode, bits, format, rate, ibuf):
        self.cfg = (id, sck.n, ws.n, sd.n, mode, bits, format, rate, ibuf)
        self.polled = False  # upstream's asyncio mode
        self.live = True
        self.bits = bits
        self.mode = mode
        self.r = 0  # RX: samples read; TX: bytes the DMA holds
        self.w = 0  # RX: samples the DMA holds in whole buffers
        self.cut = 0  # RX: bytes the next read stops short by (0: none)
        self.cap = max(2, ibuf // (DMA * 2)) * DMA * 2  # TX: DMA bytes (16-bit mono)
        self.out = bytearray(8192)  # TX: what was played, a ring
        self.p = 0  # TX: bytes written in all
        _I2S.made.append(self)

    def feed(self, buffers):
        """RX: that many more DMA buffers completed."""
        self.w += buffers * DMA

    def drain(self, ms):
        """TX: the DMA played `ms` of audio."""
        self.r -= min(self.r, 16 * ms)

    def readinto(self, buf):
        assert self.polled and self.live and self.mode == _I2S.RX, "a blocking read"
        step = self.bits >> 3
        k = min(len(buf) // step, self.w - self.r)
        if self.cut:
            k -= self.cut // step
            self.cut = 0
        j = 0
        for s in range(self.r, self.r + k):
            v = word(s)
            if step == 4:
                buf[j] = 0
                buf[j + 1] = v & 255
                j += 2
            buf[j] = v >> 8 & 255
            buf[j + 1] = v >> 16 & 255
            j += 2
        self.r += k
        return k * step

    def write(self, buf, off, n):
        assert self.polled and self.live and self.mode == _I2S.TX, "a blocking write"
        k = min(n, self.cap - self.r)
        out = self.out
        p = self.p
        for i in range(off, off + k):
            out[p & 8191] = buf[i]
            p += 1
        self.p = p
        self.r += k
        return k

    def deinit(self):
        self.live = False


class _Poll:
    def register(self, dev, ev):
        # upstream refuses POLLIN on a TX object and POLLOUT on an RX one (EPERM)
        assert ev == (_Select.POLLIN if dev.mode == _I2S.RX else _Select.POLLOUT)
        self.dev = dev

    def poll(self, timeout):
        assert timeout == 0
        self.dev.polled = True
        return []

    def unregister(self, dev):
        self.dev = None


class _Select:
    POLLIN = 1
    POLLOUT = 4

    @staticmethod
    def poll():
        return _Poll()


class _Mod:
    pass


class _Board:
    I2S = True
    I2S_IN = (0, 26, 25, 35)
    I2S_OUT = (1, 27, 32, 22)


def _fakes():
    m = _Mod()
    m.I2S = _I2S
    m.Pin = _Pin
    sys.modules["machine"] = m
    i2s.select = _Select
    del _I2S.made[:]


def _expect(s, n, gain):
    """The 16-bit samples s..s+n-1 as the microphone should give them."""
    out = bytearray(2 * n)
    for i in range(n):
        v = word(s + i) >> 8 - gain
        v = max(-32768, min(32767, v))
        out[2 * i] = v & 255
        out[2 * i + 1] = v >> 8 & 255
    return out


def test_parts_are_opened_on_the_board_pins_in_the_format_they_need():
    _fakes()
    mic, spk = i2s.audio(_Board)
    # microphone: I2S0, RX, 32-bit words (gain 2 converts them), MONO (left slot), 8 kHz,
    # 2 DMA buffers of 2048 B; amplifier: I2S1 on its own clock pins, TX 16-bit mono
    assert mic.stream.cfg == (0, 26, 25, 35, _I2S.RX, 32, _I2S.MONO, 8000, 4096)
    assert spk.stream.cfg == (1, 27, 32, 22, _I2S.TX, 16, _I2S.MONO, 8000, 1536)
    assert mic.stream.polled and spk.stream.polled  # asyncio mode: never blocks
    mic.close()
    spk.close()
    assert not mic.stream.live and not spk.stream.live
    m = i2s.Mic(0, 1, 2, 3, ptime=40, gain=0)
    assert m.stream.cfg[5] == 16 and len(m.buf) == 640 and len(m.data) == 128  # 64-sample chunks
    raises(ValueError, i2s.Mic, 0, 1, 2, 3, 20, 9)


def test_real_board_files_name_separate_clock_pins():
    from test_boards import _load

    for d, pins in (("ESP32_GENERIC", (26, 25, 35, 27, 32, 22)),
                    ("ESP32_S3", (12, 13, 11, 15, 16, 14))):
        board = _load(d)
        _fakes()
        assert board.I2S is None and i2s.audio(board) is None  # nothing wired by default
        board.I2S = True
        mic, spk = i2s.audio(board)
        assert mic.stream.cfg[:4] == (0,) + pins[:3] and spk.stream.cfg[:4] == (1,) + pins[3:]
        assert len(set(pins)) == 6


def test_no_frame_until_the_dma_has_one_and_never_blocking():
    _fakes()
    mic = i2s.Mic(0, 1, 2, 3, gain=0)
    dev = mic.stream
    buf = bytearray(320)
    for _ in range(5):
        assert mic.readinto(buf) is False  # empty DMA: no wait, no frame
    dev.feed(1)  # 256 samples: one frame and 96 samples of the next
    assert mic.readinto(buf, 12345) is True and buf == _expect(0, 160, 0)
    assert mic.readinto(buf) is False and mic.pos == 192
    dev.feed(1)  # 512 in all: frames 2 and 3 (up to 480)
    assert mic.readinto(buf) and buf == _expect(160, 160, 0)
    assert mic.readinto(buf) and buf == _expect(320, 160, 0)
    assert not mic.readinto(buf)


def test_inmp441_words_become_16_bit_samples_with_gain_and_clipping():
    _fakes()
    for gain in (1, 2, 5, 8):
        mic = i2s.Mic(0, 1, 2, 3, gain=gain)
        mic.stream.feed(5)
        buf = bytearray(320)
        for f in range(8):
            assert mic.readinto(buf)
            assert buf == _expect(160 * f, 160, gain), (gain, f)
    # the kernel itself, plain and (MicroPython) viper: sign, shift, clip, in place
    words = bytearray()
    for v in (0, 1, -1, 0x7FFFFF, -0x800000, 0x12345, -0x12345, 0x7FFF, -0x8000):
        v &= 0xFFFFFF
        words += bytes((0xAB, v & 255, v >> 8 & 255, v >> 16))  # the low byte is ignored
    for pack in (i2s._raw, i2s._run):
        for sh, want in ((8, (0, 0, -1, 32767, -32768, 0x123, -0x124, 0x7F, -0x80)),
                         (4, (0, 0, -1, 32767, -32768, 0x1234, -0x1235, 0x7FF, -0x800)),
                         (0, (0, 1, -1, 32767, -32768, 32767, -32768, 0x7FFF, -0x8000))):
            b = bytearray(words)
            pack(b, 9, b, sh)  # in place, offset 0
            got = tuple((b[2 * i] | b[2 * i + 1] << 8) - ((b[2 * i + 1] & 0x80) << 9)
                        for i in range(9))
            assert got == want, (sh, got)
            assert b[18:] == words[18:]  # nothing written past the 16-bit samples
    if MICROPYTHON:  # the unix port has the x64 native emitter: the viper copy is in use
        assert i2s._run is not i2s._raw


def test_a_partial_chunk_is_dropped_and_reads_go_on():
    _fakes()
    mic = i2s.Mic(0, 1, 2, 3, gain=0)
    dev = mic.stream
    dev.feed(2)
    buf = bytearray(320)
    assert mic.readinto(buf)
    dev.cut = 8  # the next read stops 4 samples short
    assert mic.readinto(buf)
    # samples 160..187 (one chunk of 32, less the 4 cut) are dropped: the frame goes on
    assert buf == _expect(188, 160, 0), buf


def test_speaker_takes_frames_while_the_dma_has_room():
    _fakes()
    spk = i2s.Speaker(1, 4, 5, 6)
    dev = spk.stream
    assert dev.cap == 1536  # 3 DMA buffers of 512 B: 96 ms
    frames = [bytes((k + i) & 255 for i in range(320)) for k in range(8)]
    taken = [spk.write(f) for f in frames[:6]]
    # 4.8 frames fit in the DMA: the 5th is taken (its tail kept), the 6th is refused
    assert taken == [True] * 5 + [False], taken
    assert spk.write(frames[5]) is False  # still full: no wait
    dev.drain(20)  # a frame played: room for the kept tail and most of the next
    assert spk.write(frames[5]) is True
    dev.drain(60)
    assert spk.write(frames[6]) and spk.write(frames[7])
    dev.drain(100)
    spk.write(frames[0])
    assert bytes(dev.out[:dev.p]) == b"".join(frames[:8]) + frames[0]  # in order, once each
    raises(ValueError, spk.write, bytes(100))  # not a frame: refused, not resized


def test_no_allocation_per_frame():
    if not MICROPYTHON:  # the heap figures are MicroPython's
        return
    _fakes()
    mics = [i2s.Mic(0, 1, 2, 3, gain=0), i2s.Mic(0, 1, 2, 3, gain=2)]
    empty = i2s.Mic(0, 1, 2, 3, gain=0)
    spk = i2s.Speaker(1, 4, 5, 6)
    buf = bytearray(320)
    for m in mics:
        m.stream.feed(1000)
        m.readinto(buf)
    while spk.write(buf):  # the DMA full, and a tail kept
        pass
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        for _ in range(100):
            for m in mics:
                assert m.readinto(buf)
            assert not empty.readinto(buf)
            spk.stream.drain(20)
            assert spk.write(buf)
            assert not spk.write(buf)  # full again
        after = gc.mem_alloc()
    finally:
        gc.enable()
    assert after == before, after - before
