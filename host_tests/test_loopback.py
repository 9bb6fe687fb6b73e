"""tinysip.loopback: the RFC 6849 mirror's offer/answer decision."""
from testutil import raises

from tinysip import sdp
from tinysip.errors import ParseError
from tinysip.loopback import answer
from tinysip.probe import DIRECT, ENCAP
from tinysip.probe import MEDIA as MEDIA_MODE

ME = b"192.0.2.10"
PORT = 40000

HEAD = (b"v=0\r\no=source 53655765 2353687637 IN IP4 198.51.100.7\r\ns=-\r\n"
        b"c=IN IP4 198.51.100.7\r\nt=0 0\r\n")

# Packet loopback, both formats offered, encaprtp preferred (first in m= order).
PKT = HEAD + (b"m=audio 49170 RTP/AVP 0 112 113\r\n"
              b"a=rtpmap:112 encaprtp/8000\r\n"
              b"a=rtpmap:113 rtploopback/8000\r\n"
              b"a=loopback:rtp-pkt-loopback\r\n"
              b"a=loopback-source\r\n")

# Media loopback with PCMU.
MEDIA = HEAD + (b"m=audio 49172 RTP/AVP 0\r\n"
                b"a=loopback:rtp-media-loopback\r\n"
                b"a=loopback-source\r\n")


def run(body, ip=ME):
    return answer(sdp.parse(body), ip, PORT, 77, 1)


def refusal(body):
    e = raises(ParseError, run, body)
    assert e.status == 488
    return e.reason


def test_packet_loopback_encaprtp():
    body, params = run(PKT)
    assert params == (b"rtp-pkt-loopback", ENCAP, 112, 8000, b"198.51.100.7", 49170, 0)
    assert body == (b"v=0\r\no=- 77 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\n"
                    b"t=0 0\r\nm=audio 40000 RTP/AVP 112 0\r\n"
                    b"a=rtpmap:112 encaprtp/8000\r\n"
                    b"a=loopback:rtp-pkt-loopback\r\na=loopback-mirror\r\n")


def test_packet_loopback_rtploopback_keeps_the_offered_rate():
    offer = HEAD + (b"m=audio 5000 RTP/AVP 113 112 96\r\n"
                    b"a=rtpmap:112 encaprtp/16000\r\n"
                    b"a=rtpmap:113 rtploopback/16000\r\n"
                    b"a=rtpmap:96 L16/16000\r\n"
                    b"a=loopback:rtp-pkt-loopback\r\na=loopback-source\r\n")
    body, params = run(offer)
    assert params == (b"rtp-pkt-loopback", DIRECT, 113, 16000, b"198.51.100.7", 5000, 0)
    assert b"m=audio 40000 RTP/AVP 113 96\r\n" in body
    assert b"a=rtpmap:113 rtploopback/16000\r\na=rtpmap:96 L16/16000\r\n" in body
    assert b"encaprtp" not in body


def test_media_loopback_pcmu():
    body, params = run(MEDIA)
    assert params == (b"rtp-media-loopback", MEDIA_MODE, 0, 8000, b"198.51.100.7", 49172, 0)
    assert body.endswith(b"m=audio 40000 RTP/AVP 0\r\n"
                         b"a=loopback:rtp-media-loopback\r\na=loopback-mirror\r\n")


def test_media_loopback_picks_g711_among_codecs():
    offer = HEAD + (b"m=audio 5000 RTP/AVP 96 18 8 0\r\n"
                    b"a=rtpmap:96 opus/48000/2\r\n"
                    b"a=loopback:rtp-media-loopback\r\na=loopback-source\r\n")
    body, params = run(offer)
    assert params[1:4] == (MEDIA_MODE, 8, 8000)
    assert b"m=audio 40000 RTP/AVP 8\r\n" in body and b"opus" not in body


def test_media_loopback_dynamic_pcma():
    offer = HEAD + (b"m=audio 5000 RTP/AVP 97\r\na=rtpmap:97 pcma/8000\r\n"
                    b"a=loopback:rtp-media-loopback\r\na=loopback-source\r\n")
    body, params = run(offer)
    assert params[1:4] == (MEDIA_MODE, 97, 8000)
    assert b"m=audio 40000 RTP/AVP 97\r\na=rtpmap:97 pcma/8000\r\n" in body


def test_choice_of_types_answers_exactly_one():
    offer = HEAD + (b"m=audio 5000 RTP/AVP 0 112\r\na=rtpmap:112 encaprtp/8000\r\n"
                    b"a=loopback:rtp-media-loopback rtp-pkt-loopback\r\na=loopback-source\r\n")
    body, params = run(offer)
    assert params[:3] == (b"rtp-media-loopback", MEDIA_MODE, 0)
    m = sdp.parse(body)[2][0]
    assert m[6] == [b"rtp-media-loopback"] and m[7] == b"loopback-mirror"
    assert m[3] == [b"0"]


def test_choice_falls_to_the_type_we_can_serve():
    offer = HEAD + (b"m=audio 5000 RTP/AVP 112\r\na=rtpmap:112 encaprtp/8000\r\n"
                    b"a=loopback:x-future\r\na=loopback:rtp-media-loopback\r\n"
                    b"a=loopback:rtp-pkt-loopback\r\na=loopback-source\r\n")
    body, params = run(offer)
    assert params[:3] == (b"rtp-pkt-loopback", ENCAP, 112)
    assert sdp.parse(body)[2][0][6] == [b"rtp-pkt-loopback"]


def test_peer_address_from_media_level_c():
    offer = PKT + b"c=IN IP4 203.0.113.9\r\n"
    assert run(offer)[1][4:6] == (b"203.0.113.9", 49170)


def test_the_offers_ptime_comes_with_the_params():
    # the source wants back what it sends: its a=ptime bounds what the mirror reads
    assert run(PKT + b"a=ptime:30\r\n")[1][6] == 30
    assert run(MEDIA)[1][6] == 0  # none said


def test_ipv6_answer():
    offer = PKT.replace(b"c=IN IP4 198.51.100.7", b"c=IN IP6 2001:db8::7")
    body, params = run(offer, b"2001:db8::10")
    assert params[4] == b"2001:db8::7"
    assert b"c=IN IP6 2001:db8::10\r\n" in body


def test_other_streams_rejected_with_port_zero():
    offer = HEAD + (b"m=audio 6000 RTP/AVP 0 8\r\n"  # a plain audio stream: not ours
                    b"m=video 6002 RTP/AVP 31\r\n") + PKT[len(HEAD):] + PKT[len(HEAD):]
    body, params = run(offer)
    assert params[5] == 49170
    ms = sdp.parse(body)[2]
    assert len(ms) == 4  # one answer m= line per offered one, in order (RFC 3264 §6)
    assert [(m[0], m[1], m[3]) for m in ms] == [
        (b"audio", 0, [b"0"]), (b"video", 0, [b"31"]),
        (b"audio", PORT, [b"112", b"0"]), (b"audio", 0, [b"0"])]
    assert ms[2][7] == b"loopback-mirror"
    for i in (0, 1, 3):
        assert ms[i][5] == [] and ms[i][6] == [] and ms[i][7] is None


def test_refusals():
    pkt_media = PKT[len(HEAD):]
    cases = [
        (HEAD + b"m=audio 5000 RTP/AVP 0\r\n", "offer: stream without a=loopback"),
        (PKT.replace(b"a=loopback-source\r\n", b""),
         "offer: loopback without a=loopback-source"),
        (PKT.replace(b"loopback-source", b"loopback-mirror"),  # asks us to be the source
         "offer: loopback without a=loopback-source"),
        (PKT + b"a=sendonly\r\n", "offer: loopback stream not sendrecv"),
        (PKT + b"a=recvonly\r\n", "offer: loopback stream not sendrecv"),
        (PKT + b"a=inactive\r\n", "offer: loopback stream not sendrecv"),
        (HEAD + b"a=sendonly\r\n" + pkt_media, "offer: loopback stream not sendrecv"),
        (PKT.replace(b"RTP/AVP", b"RTP/SAVP"), "offer: loopback only for audio RTP/AVP"),
        (PKT.replace(b"m=audio", b"m=video"), "offer: loopback only for audio RTP/AVP"),
        (PKT.replace(b"49170", b"0"), "offer: stream already rejected"),
        (PKT.replace(b"encaprtp", b"x").replace(b"rtploopback", b"y"),
         "offer: no loopback type we can mirror"),
        (PKT.replace(b"/8000", b"/0"), "offer: no loopback type we can mirror"),
        (MEDIA.replace(b"RTP/AVP 0", b"RTP/AVP 18"), "offer: no loopback type we can mirror"),
        (MEDIA.replace(b"RTP/AVP 0", b"RTP/AVP 96\r\na=rtpmap:96 PCMU/16000"),
         "offer: no loopback type we can mirror"),
        (MEDIA.replace(b"rtp-media-loopback", b"rtp-start-loopback"),
         "offer: no loopback type we can mirror"),
    ]
    for body, reason in cases:
        assert refusal(body) == reason, (body, reason)


def test_refusal_reason_is_the_loopback_streams():
    # a plain stream after the refused loopback one does not hide why we refused
    offer = PKT.replace(b"a=loopback-source\r\n", b"") + b"m=audio 6000 RTP/AVP 0\r\n"
    assert refusal(offer) == "offer: loopback without a=loopback-source"



def test_decide_only_gives_the_same_params_and_no_body():
    for offer in (PKT, MEDIA):
        body, params = answer(sdp.parse(offer), ME, PORT, 77, 1, False)
        assert body is None and params == run(offer)[1]
    e = raises(ParseError, answer, sdp.parse(HEAD + b"m=audio 5 RTP/AVP 0\r\n"), ME, 0, 0, 0,
               False)
    assert e.status == 488


def test_decided_unwritten_then_written_with_the_port_bound():
    # port=None: the answer's sections as sdp.write takes them, the mirrored stream's a list
    # whose port the UA sets once bound (no second parse of the offer)
    offer = PKT + b"m=video 5002 RTP/AVP 31\r\n"
    for o in (offer, MEDIA):
        sections, params = answer(sdp.parse(o), ME, None, 0, 0)
        assert params == run(o)[1]
        mirrored = [s for s in sections if type(s) is list]
        assert len(mirrored) == 1 and mirrored[0][1] is None
        mirrored[0][1] = PORT
        assert sdp.write(ME, 77, 1, sections) == run(o)[0]
    e = raises(ParseError, answer, sdp.parse(HEAD + b"m=audio 5 RTP/AVP 0\r\n"), ME, None, 0, 0)
    assert e.status == 488
