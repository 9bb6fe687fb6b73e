"""tinysip.voice's G.711 (formerly tinysip.g711) against the ITU-T G.711 reference
(host_tests/data/g711, made by audioop)."""
import gc
import struct

from testutil import MICROPYTHON, raises, read_vector

from tinysip import voice
from tinysip import voicesetup as g711  # encode()/decode(), the checked entry points
from tinysip.plain import _run as raw  # the plain loops (where viper compiled: a 2nd path)

PCMU = 0
PCMA = 8


def paths():
    """(name, encode, decode) for the path encode()/decode() use and, where it differs
    (MicroPython's viper code), the plain Python loops, called with the same arguments."""
    out = [("chosen", g711.encode, g711.decode)]
    if voice._run is not raw:

        def enc(pt, src, n, dst, off):
            raw(src, n, dst, g711._check(pt, n, len(src) >> 1, off, len(dst), dst))

        def dec(pt, src, off, n, dst):
            raw(src, n, dst, g711._check(pt, n, len(dst) >> 1, off, len(src), dst) | 2)

        out.append(("plain", enc, dec))
    return out


def formula_table():
    """voice._T from the G.711 formulas (the Sun reference's expansion): how it was made."""
    t = bytearray(1280)
    for k in range(2, 256):  # segment of a magnitude from its top 8 bits
        t[k] = len(bin(k)) - 3
    for c in range(256):
        u = ~c & 0xFF  # mu-law: bits inverted; 132 = the bias 33 at 16 bits
        v = ((((u & 15) << 3) + 132) << (u >> 4 & 7)) - 132
        if u & 0x80:
            v = -v
        struct.pack_into("<h", t, 256 + 2 * c, v)
        a = c ^ 0x55  # A-law: even bits inverted; sign bit 1 is positive
        s = a >> 4 & 7
        v = ((a & 15) << 4) + (8 if s == 0 else 0x108)
        if s > 1:
            v <<= s - 1
        if not a & 0x80:
            v = -v
        struct.pack_into("<h", t, 768 + 2 * c, v)
    return bytes(t)


def test_the_table_is_the_g711_formulas():
    assert voice._T == formula_table()
    assert voice._T[256:768] == read_vector("g711/ulaw_dec.bin")
    assert voice._T[768:] == read_vector("g711/alaw_dec.bin")


def test_the_native_path_is_used_where_micropython_can_compile_it():
    if MICROPYTHON:  # the unix port has the x64 emitter; the phone the xtensawin one
        assert voice._run is not raw and not voice._raw
    else:
        assert voice._run is raw and voice._raw


def test_every_code_decodes_to_the_reference():
    codes = bytes(range(256))
    for pt, name in ((PCMU, "g711/ulaw_dec.bin"), (PCMA, "g711/alaw_dec.bin")):
        ref = read_vector(name)
        for label, enc, dec in paths():
            pcm = bytearray(512)
            dec(pt, codes, 0, 256, pcm)
            assert bytes(pcm) == ref, (label, pt)


def test_every_16_bit_input_encodes_to_the_reference():
    # all 65,536 inputs in chunks of 4,096 samples (the low 2 / 3 bits must not matter);
    # mu-law's reference is indexed by the unsigned sample >> 2, A-law's by >> 3
    refs = ((PCMU, "PCMU", 2, read_vector("g711/ulaw_enc.bin")),
            (PCMA, "PCMA", 3, read_vector("g711/alaw_enc.bin")))
    assert [len(r[3]) for r in refs] == [16384, 8192]
    pcm = bytearray(8192)
    out = bytearray(4096)
    ps = paths()
    for base in range(0, 65536, 4096):
        for k in range(4096):
            pcm[2 * k] = k & 0xFF
            pcm[2 * k + 1] = (base + k) >> 8
        for label, enc, dec in ps:
            for pt, law, shift, ref in refs:
                enc(pt, pcm, 4096, out, 0)
                for k in range(4096):
                    want = ref[(base + k) >> shift]
                    if out[k] != want:
                        raise AssertionError("%s %s: 0x%04x -> 0x%02x, reference 0x%02x"
                                             % (law, label, base + k, out[k], want))


def test_hand_checked_values_from_the_g711_tables():
    # (16-bit input, mu-law, A-law): zero is 0xFF / 0xD5; the first steps are mu-law inputs
    # 1-2 and 3-4 (14 bits), A-law 0-1 and 2-3 (13 bits); full scale is 0x80/0x00 and
    # 0xAA/0x2A. The reference data passes the same checks (data/g711/make.py).
    checks = [(0, 0xFF, 0xD5), (-1, 0x7E, 0x55), (4, 0xFE, 0xD5), (16, 0xFD, 0xD4),
              (32767, 0x80, 0xAA), (-32768, 0x00, 0x2A)]
    pcm = bytearray(2)
    out = bytearray(1)
    for label, enc, dec in paths():
        for v, mu, a in checks:
            struct.pack_into("<h", pcm, 0, v)
            enc(PCMU, pcm, 1, out, 0)
            assert out[0] == mu, (label, v, out[0])
            enc(PCMA, pcm, 1, out, 0)
            assert out[0] == a, (label, v, out[0])
        # the largest outputs: mu-law 8031 (of 8159) and A-law 4032 (of 4096), at 16 bits
        pcm4 = bytearray(4)
        dec(PCMU, b"\x80\x00", 0, 2, pcm4)
        assert struct.unpack("<hh", pcm4) == (8031 * 4, -8031 * 4)
        dec(PCMA, b"\xaa\x2a", 0, 2, pcm4)
        assert struct.unpack("<hh", pcm4) == (4032 * 8, -4032 * 8)


def test_decoded_values_encode_back_to_their_code():
    codes = bytes(range(256))
    pcm = bytearray(512)
    back = bytearray(256)
    for label, enc, dec in paths():
        for pt in (PCMU, PCMA):
            dec(pt, codes, 0, 256, pcm)
            enc(pt, pcm, 256, back, 0)
            for c in range(256):
                # mu-law has two zeros: 0x7F (-0) decodes to 0, which encodes as 0xFF (+0)
                want = 0xFF if pt == PCMU and c == 0x7F else c
                assert back[c] == want, (label, pt, c, back[c])


def test_codes_go_in_place_after_the_rtp_header():
    pcm = bytearray(320)
    for k in range(160):
        struct.pack_into("<h", pcm, 2 * k, (k * 409) % 65536 - 32768)
    for label, enc, dec in paths():
        pkt = bytearray(b"H" * 12 + b"?" * 160 + b"T" * 4)
        r = enc(PCMA, pcm, 160, pkt, 12)
        if label == "chosen":
            assert r == 172
        assert pkt[:12] == b"H" * 12 and pkt[172:] == b"T" * 4
        alone = bytearray(160)
        enc(PCMA, pcm, 160, alone, 0)
        assert pkt[12:172] == alone
        # and back from the same offset, into a view of a larger playout buffer
        play = bytearray(b"\x01" * 400)
        r = dec(PCMA, pkt, 12, 160, memoryview(play)[40:360])
        if label == "chosen":
            assert r == 320
        assert play[:40] == b"\x01" * 40 and play[360:] == b"\x01" * 40
        again = bytearray(160)
        enc(PCMA, memoryview(play)[40:360], 160, again, 0)
        assert again == alone  # decode + encode is the identity on codes


def test_empty_frames_are_fine():
    for label, enc, dec in paths():
        enc(PCMU, b"", 0, bytearray(0), 0)
        dec(PCMU, b"", 0, 0, bytearray(0))


def test_misuse_is_refused_with_a_reason():
    pcm = bytearray(320)
    pkt = bytearray(172)
    e = raises(ValueError, g711.encode, 18, pcm, 160, pkt, 12)  # G.729 is not ours
    assert "payload type 18" in str(e)
    e = raises(ValueError, g711.decode, 9, pkt, 12, 160, pcm)  # G.722 neither
    assert "payload type 9" in str(e)
    e = raises(ValueError, g711.encode, PCMU, pcm, 161, pkt, 12)  # more samples than given
    assert "overrun" in str(e) and "161 samples" in str(e)
    raises(ValueError, g711.encode, PCMU, pcm, 160, pkt, 13)  # codes past the packet
    raises(ValueError, g711.encode, PCMU, pcm, -1, pkt, 12)
    raises(ValueError, g711.encode, PCMU, pcm, 1, pkt, -1)
    raises(ValueError, g711.decode, PCMA, pkt, 12, 161, bytearray(400))  # codes past the end
    raises(ValueError, g711.decode, PCMA, pkt, 12, 160, bytearray(319))  # PCM buffer short
    assert "bytes" in str(raises(TypeError, g711.encode, PCMU, pcm, 160, bytes(172), 12))
    assert "bytes" in str(raises(TypeError, g711.decode, PCMU, pkt, 12, 160, bytes(320)))
    assert pkt == bytearray(172) and pcm == bytearray(320)  # nothing written on refusal


def test_no_allocation_per_frame():
    if not MICROPYTHON:  # CPython allocates ints and frames; the budget is MicroPython's
        return
    pcm = bytearray(320)
    pkt = bytearray(172)
    play = bytearray(320)

    def plain_enc(pt, src, n, dst, off):
        raw(src, n, dst, off << 2 | pt >> 3)

    def plain_dec(pt, src, off, n, dst):
        raw(src, n, dst, off << 2 | 2 | pt >> 3)

    for label, enc, dec in (("chosen", g711.encode, g711.decode),
                            ("plain", plain_enc, plain_dec)):
        for pt in (PCMU, PCMA):
            enc(pt, pcm, 160, pkt, 12)
            dec(pt, pkt, 12, 160, play)
            gc.collect()
            gc.disable()
            try:
                before = gc.mem_alloc()
                for i in range(1000):
                    enc(pt, pcm, 160, pkt, 12)
                    dec(pt, pkt, 12, 160, play)
                after = gc.mem_alloc()
            finally:
                gc.enable()
            assert after == before, (label, pt, after - before)
