"""tinysip.sdes: RFC 4568 a=crypto values, read, chosen and written (both runtimes)."""
from binascii import a2b_base64

from testutil import lcg, raises, read_vector

from tinysip import sdes
from tinysip.voicesetup import Context
from tinysip.sdp import parse as parse_sdp

KEY64 = b"WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"


def examples():
    """(outcome, bits or None, value) from data/srtp/rfc4568-crypto.txt."""
    out = []
    for ln in read_vector("srtp/rfc4568-crypto.txt").split(b"\n"):
        if not ln or ln.startswith(b"#"):
            continue
        word, _, rest = ln.partition(b" ")
        bits = None
        if word == b"ok":
            b, _, rest = rest.partition(b" ")
            bits = int(b)
        out.append((word, bits, rest))
    return out


def test_rfc4568_examples():
    ex = examples()
    assert len(ex) == 18
    for word, bits, value in ex:
        if word == b"ok":
            tag, name, got, key = sdes.parse(value)
            assert got == bits and name == value.split()[1]
            assert tag == int(value.split()[0])
            assert key == a2b_base64(value.split()[2][7:47])
        else:
            e = raises(ValueError, sdes.parse, value)
            assert str(e).startswith("a=crypto:%s: " % value.split()[0].decode()), e


def test_errors_name_what_is_refused():
    v = b"1 AES_CM_128_HMAC_SHA1_80 inline:" + KEY64

    def why(value):
        return str(raises(ValueError, sdes.parse, value))

    assert why(v + b"|1:4") == "a=crypto:1: MKI b'1:4' not supported"
    assert why(v + b"|2^20").startswith("a=crypto:1: key lifetime b'2^20' (we do not re-key")
    assert why(v + b" KDR=1") == "a=crypto:1: session parameter b'KDR=1' not supported"
    assert why(b"7 AEAD_AES_128_GCM inline:" + KEY64) == (
        "a=crypto:7: crypto suite b'AEAD_AES_128_GCM' not supported")
    assert why(b"7 AES_CM_128_HMAC_SHA1_80 inline:abc") == (
        "a=crypto:7: the inline key is not 30 bytes of base64")
    assert why(b"x y z").startswith("malformed a=crypto:")


def test_malformed_values():
    good = b"1 AES_CM_128_HMAC_SHA1_80 inline:" + KEY64
    assert sdes.parse(good)[0] == 1
    for bad in (b"", b"1", b"1 AES_CM_128_HMAC_SHA1_80", b"x " + good[2:],
                b"1234567890 " + good[2:], good.replace(b"inline:", b"uri:"),
                good.replace(b"inline:", b"inline"), good[:-1], good + b"A",
                good[:-4] + b"VG==", good[:-1] + b"!", good + b"|", good + b"|2^",
                good + b"|2^99999", good + b"|1x", good + b" BAR",
                good.replace(b"_80", b"_81"), b"1 AES_CM_128_HMAC_SHA1_80 inline:" + bytes(40)):
        raises(ValueError, sdes.parse, bad)


def test_lenient_where_rfc_4568_allows():
    # suite names in any case, extra spaces, optional ('-') session parameters ignored
    tag, name, bits, key = sdes.parse(b"12  aes_cm_128_hmac_sha1_32   inline:%s -x=1 WSH=128"
                                      % KEY64)
    assert (tag, name, bits) == (12, b"aes_cm_128_hmac_sha1_32", 32)
    assert sdes.parse(b"1 AES_CM_128_HMAC_SHA1_80 INLINE:" + KEY64)[2] == 80


def test_choose_takes_the_first_supported_and_keeps_its_tag():
    offer = [b"1 AEAD_AES_256_GCM inline:" + KEY64 * 2,
             b"2 AES_CM_128_HMAC_SHA1_80 inline:%s|2^20|1:4" % KEY64,
             b"3 AES_CM_128_HMAC_SHA1_32 inline:" + KEY64,
             b"4 AES_CM_128_HMAC_SHA1_80 inline:" + KEY64]
    tag, name, bits, key = sdes.choose(offer)
    assert (tag, name, bits) == (3, b"AES_CM_128_HMAC_SHA1_32", 32)
    assert sdes.choose(offer[:2]) is None
    assert sdes.choose([]) is None


def test_line_round_trip():
    key = lcg(7)(30)
    v = sdes.line(5, 80, key)
    assert v.startswith(b"crypto:5 AES_CM_128_HMAC_SHA1_80 inline:")
    assert len(v) == len(b"crypto:5 AES_CM_128_HMAC_SHA1_80 inline:") + 40
    assert sdes.parse(v[7:]) == (5, b"AES_CM_128_HMAC_SHA1_80", 80, key)
    assert sdes.parse(sdes.line(2, 32, key)[7:])[2:] == (32, key)


def test_offer_answer_keys_through_sdp_and_srtp():
    # an SDES offer as baresip (srtp-mand) writes it, our answer, then one packet each way
    theirs = lcg(1)(30)
    ours = lcg(2)(30)
    offer = (b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
             b"m=audio 4000 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\na=" + sdes.line(1, 80, theirs)
             + b"\r\n")
    m = parse_sdp(offer)[2][0]
    assert m[2] == b"RTP/SAVP"
    tag, name, bits, key = sdes.choose(m[9])
    assert (tag, bits, key) == (1, 80, theirs)
    answer = sdes.line(tag, bits, ours)
    assert sdes.parse(answer[7:])[3] == ours
    # each side protects with its own key; the other unprotects with it
    pkt = bytearray(b"\x80\x00\x00\x01" + bytes(8) + b"hello" + bytes(10))
    n = Context(ours, bits).protect(pkt, 17)
    assert Context(theirs, bits).unprotect(bytearray(pkt), n) == -1
    assert Context(ours, bits).unprotect(pkt, n) == 17
    assert bytes(pkt[12:17]) == b"hello"
