"""tinysip.sdp: the lean SDP reader for offers and writer for answers."""
from testutil import raises

from tinysip import sdp
from tinysip.errors import ParseError

OFFER = (
    b"v=0\r\n"
    b"o=tester 2890844526 2890842807 IN IP4 198.51.100.7\r\n"
    b"s=loop\r\n"
    b"c=IN IP4 198.51.100.7\r\n"
    b"t=0 0\r\n"
    b"a=sendrecv\r\n"
    b"m=audio 49170 RTP/AVP 0 112 113\r\n"
    b"a=rtpmap:112 encaprtp/8000\r\n"
    b"a=rtpmap:113 RTPLoopback/8000\r\n"
    b"a=loopback:rtp-pkt-loopback\r\n"
    b"a=loopback-source\r\n"
    b"m=video 0 RTP/AVP 31\r\n"
    b"c=IN IP6 2001:db8::7\r\n"
    b"a=inactive\r\n"
)


def test_session_and_media():
    origin, conn, medias = sdp.parse(OFFER)
    assert origin == [b"tester", b"2890844526", b"2890842807", b"IN", b"IP4", b"198.51.100.7"]
    assert conn == (b"IP4", b"198.51.100.7")
    assert len(medias) == 2
    a, v = medias
    assert a[:4] == [b"audio", 49170, b"RTP/AVP", [b"0", b"112", b"113"]]
    assert a[4] == conn  # no media-level c=: the session's
    assert a[5] == [(b"112", b"encaprtp", 8000, b"112 encaprtp/8000"),
                    (b"113", b"rtploopback", 8000, b"113 RTPLoopback/8000")]
    assert a[6] == [b"rtp-pkt-loopback"]
    assert a[7] == b"loopback-source"
    assert a[8] == b"sendrecv"  # inherited from the session level
    assert v[:4] == [b"video", 0, b"RTP/AVP", [b"31"]]
    assert v[4] == (b"IP6", b"2001:db8::7")  # media-level c= wins
    assert v[5] == [] and v[6] == [] and v[7] is None
    assert v[8] == b"inactive"  # media-level direction wins


def test_bare_lf_multiple_types_and_ignored_lines():
    body = (b"v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nb=AS:64\nt=0 0\nz=0 0\nk=prompt\n"
            b"m=audio 5004/2 RTP/AVP 8\nc=IN IP4 224.2.1.1/127/3\n"
            b"a=loopback:rtp-media-loopback rtp-pkt-loopback\na=loopback:x-other\n"
            b"a=ptime:20\na=fmtp:8 foo\na=rtpmap:8 PCMA/8000/1\n\n")
    origin, conn, medias = sdp.parse(body)
    assert conn is None
    m = medias[0]
    assert m[1] == 5004  # the /2 port count is not a port
    assert m[4] == (b"IP4", b"224.2.1.1")  # /ttl/count stripped
    assert m[6] == [b"rtp-media-loopback", b"rtp-pkt-loopback", b"x-other"]
    assert m[5] == [(b"8", b"pcma", 8000, b"8 PCMA/8000/1")]
    assert m[7] is None and m[8] is None


def test_session_level_loopback_attributes_are_not_media_level():
    body = (b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
            b"a=loopback:rtp-pkt-loopback\r\na=loopback-source\r\na=rtpmap:96 encaprtp/8000\r\n"
            b"m=audio 4000 RTP/AVP 96\r\n")
    m = sdp.parse(body)[2][0]
    assert m[5] == [] and m[6] == [] and m[7] is None


def _status(body):
    return raises(ParseError, sdp.parse, body).status


BASE = b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"


def test_malformed_is_400():
    cases = [
        b"",
        b"\r\n\r\n",
        b"o=- 1 1 IN IP4 10.0.0.1\r\nv=0\r\n",
        b"v=1\r\no=- 1 1 IN IP4 10.0.0.1\r\nm=audio 1 RTP/AVP 0\r\n",
        b"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 1 RTP/AVP 0\r\n",  # no o=
        b"v=0\r\no=- 1 1 IN IP4\r\nc=IN IP4 10.0.0.1\r\nm=audio 1 RTP/AVP 0\r\n",
        BASE + b"m=audio 4000 RTP/AVP\r\n",
        BASE + b"m=audio\r\n",
        BASE + b"m=audio x RTP/AVP 0\r\n",
        BASE + b"m=audio 70000 RTP/AVP 0\r\n",
        BASE + b"m=audio 123456 RTP/AVP 0\r\n",
        BASE + b"m=audio 4000 RTP/AVP PCMU\r\n",
        BASE + b"m=audio 4000 RTP/AVP 128\r\n",
        BASE + b"m=audio 4000 RTP/AVP 96\r\na=rtpmap:96\r\n",
        BASE + b"m=audio 4000 RTP/AVP 96\r\na=rtpmap:96 encaprtp\r\n",
        BASE + b"m=audio 4000 RTP/AVP 96\r\na=rtpmap:x encaprtp/8000\r\n",
        BASE + b"m=audio 4000 RTP/AVP 96\r\na=rtpmap:96 encaprtp/fast\r\n",
        BASE + b"m=audio 4000 RTP/AVP 96\r\na=rtpmap:96 /8000\r\n",
        BASE + b"m=audio 4000 RTP/AVP 0\r\na=loopback-source\r\na=loopback-mirror\r\n",
        BASE + b"m=audio 4000 RTP/AVP 0\r\nc=IN IP4\r\n",
        BASE + b"m=audio 4000 RTP/AVP 0\r\nc=XX IP4 10.0.0.2\r\n",
        BASE + b"garbage\r\n",
        BASE + b"\xff\xfe=\x80\r\n",
        b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\n",  # c= nowhere
    ]
    for body in cases:
        assert _status(body) == 400, body


def test_what_we_cannot_serve_is_488():
    assert _status(BASE) == 488  # no m= line
    assert _status(BASE + b"m=audio 4000 RTP/AVP 0\r\n" * 5) == 488
    assert _status(BASE + b"m=audio 4000 RTP/AVP 0\r\nc=IN NSAP 47.0091\r\n") == 488
    many = b" ".join([b"%d" % i for i in range(33)])
    assert _status(BASE + b"m=audio 4000 RTP/AVP " + many + b"\r\n") == 488
    assert _status(BASE + b"a=x\r\n" * 100 + b"m=audio 4000 RTP/AVP 0\r\n") == 488
    assert _status(BASE + b"m=audio 4000 RTP/AVP 0\r\na=" + b"x" * 4096 + b"\r\n") == 488


def test_reasons_name_the_offer():
    e = raises(ParseError, sdp.parse, BASE + b"m=audio 4000 RTP/AVP\r\n")
    assert e.reason == "offer: m= line without formats"
    assert str(e) == "400 offer: m= line without formats"


def test_non_rtp_formats_are_tokens():
    m = sdp.parse(BASE + b"m=application 9 TCP/MRCPv2 1\r\nm=message 7 TCP/MSRP *\r\n")[2]
    assert m[0][3] == [b"1"] and m[1][3] == [b"*"]


def test_write_answer():
    body = sdp.write(b"192.0.2.5", 42, 7, [
        (b"audio", 30000, b"RTP/AVP", [b"112", b"0"], [b"rtpmap:112 encaprtp/8000",
                                                      b"loopback-mirror"]),
        (b"video", 0, b"RTP/AVP", [b"31"], ()),
    ])
    assert body == (b"v=0\r\no=- 42 7 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\n"
                    b"t=0 0\r\nm=audio 30000 RTP/AVP 112 0\r\na=rtpmap:112 encaprtp/8000\r\n"
                    b"a=loopback-mirror\r\nm=video 0 RTP/AVP 31\r\n")
    again = sdp.parse(body)
    assert again[0][1:3] == [b"42", b"7"]
    assert again[2][0][3] == [b"112", b"0"] and again[2][0][7] == b"loopback-mirror"
    assert again[2][1][1] == 0


def test_write_ipv6():
    body = sdp.write(b"2001:db8::5", 1, 1, [(b"audio", 4000, b"RTP/AVP", [b"0"], ())])
    assert b"o=- 1 1 IN IP6 2001:db8::5\r\n" in body and b"c=IN IP6 2001:db8::5\r\n" in body
    assert sdp.parse(body)[2][0][4] == (b"IP6", b"2001:db8::5")


def test_mutations_never_crash():
    # every truncation and every single-byte change of a valid offer: parsed, or a 400/488
    from testutil import FakeRandom

    rng = FakeRandom(7)
    for i in range(len(OFFER)):
        for body in (OFFER[:i], OFFER[:i] + rng(1) + OFFER[i + 1:]):
            try:
                sdp.parse(body)
            except ParseError as e:
                assert e.status in (400, 488)
