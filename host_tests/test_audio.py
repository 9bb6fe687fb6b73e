"""tinysip.audio: RFC 3264 offer/answer for voice calls (codecs, telephone-event, ptime,
direction, SDES per media.srtp)."""
from testutil import raises

from tinysip import sdp
from tinysip.audio import accept, answer, offer
from tinysip.errors import ParseError
from tinysip.sdes import line

KEY = bytes(range(30))
PEER = bytes(range(50, 80))


def baresip_offer(proto=b"RTP/AVP", crypto=True, direction=None, ptime=b"20"):
    """An offer shaped like baresip 1.0's (g711 module, srtp mediaenc)."""
    lines = [b"v=0", b"o=- 123 456 IN IP4 127.0.0.1", b"s=-", b"c=IN IP4 127.0.0.1",
             b"t=0 0", b"m=audio 43010 " + proto + b" 0 8 101",
             b"a=rtpmap:0 PCMU/8000", b"a=rtpmap:8 PCMA/8000",
             b"a=rtpmap:101 telephone-event/8000", b"a=fmtp:101 0-15", b"a=ptime:" + ptime]
    if crypto:
        lines.append(b"a=" + line(1, 80, PEER))
    if direction:
        lines.append(b"a=" + direction)
    return b"\r\n".join(lines + [b""])


def test_answer_takes_the_offerers_first_codec_with_telephone_event_and_srtp():
    body, p = answer(sdp.parse(baresip_offer()), b"127.0.0.1", 40002, 7, [b"PCMA", b"PCMU"],
                     1, KEY)
    assert p[:6] == [0, b"PCMU", 101, 20, b"127.0.0.1", 43010]
    assert p[6] == 80 and p[7] == KEY and p[8] == PEER and p[9] == b"sendrecv"
    a = sdp.parse(body)[2][0]
    assert a[1] == 40002 and a[2] == b"RTP/AVP" and a[3] == [b"0", b"101"]
    assert a[9] == [line(1, 80, KEY)[7:]]  # the offer's tag, our key
    assert a[10] == 20 and a[8] == b"sendrecv"


def test_srtp_modes_decide_what_is_acceptable():
    o = sdp.parse(baresip_offer(crypto=False))
    raises(ParseError, answer, o, b"127.0.0.1", 40002, 7, [b"PCMU"], 2, KEY)  # required
    body, p = answer(o, b"127.0.0.1", 40002, 7, [b"PCMU"], 1, KEY)  # optional: plain
    assert p[6] == 0 and p[7] is None and b"crypto" not in body
    savp = sdp.parse(baresip_offer(b"RTP/SAVP"))
    e = raises(ParseError, answer, savp, b"127.0.0.1", 40002, 7, [b"PCMU"], 0, None)
    assert e.status == 488 and "off" in e.reason
    body, p = answer(savp, b"127.0.0.1", 40002, 7, [b"PCMU"], 2, KEY)
    assert p[6] == 80 and sdp.parse(body)[2][0][2] == b"RTP/SAVP"


def test_no_common_codec_is_488_naming_ours():
    o = sdp.parse(baresip_offer().replace(b" 0 8 101", b" 9 101"))
    e = raises(ParseError, answer, o, b"127.0.0.1", 40002, 7, [b"PCMU"], 1, KEY)
    assert e.status == 488 and "PCMU" in e.reason


def test_hold_directions_mirror_the_offer():
    for offered, ours in ((b"sendonly", b"recvonly"), (b"recvonly", b"sendonly"),
                          (b"inactive", b"inactive"), (None, b"sendrecv")):
        body, p = answer(sdp.parse(baresip_offer(direction=offered)), b"127.0.0.1", 4, 7,
                         [b"PCMU"], 1, KEY)
        assert p[9] == ours and sdp.parse(body)[2][0][8] == ours, (offered, p[9])
    body, p = answer(sdp.parse(baresip_offer()), b"127.0.0.1", 4, 7, [b"PCMU"], 1, KEY,
                     hold=True)
    assert p[9] == b"sendonly"


def test_our_offer_and_the_answer_to_it():
    body = offer(b"192.0.2.5", 40010, 9, [b"PCMA", b"PCMU"], 2, KEY, 30)
    m = sdp.parse(body)[2][0]
    assert m[1] == 40010 and m[2] == b"RTP/SAVP" and m[3] == [b"8", b"0", b"101"]
    assert m[10] == 30 and len(m[9]) == 2 and m[9][0].startswith(b"1 AES_CM_128_HMAC_SHA1_80")
    ans = baresip_offer(b"RTP/SAVP", ptime=b"20").replace(b" 0 8 101", b" 8 101")
    p = accept(sdp.parse(ans), [b"PCMA", b"PCMU"], 2, KEY, 30)
    assert p[:6] == [8, b"PCMA", 101, 20, b"127.0.0.1", 43010]  # their ptime for sending
    assert p[6] == 80 and p[7] == KEY and p[8] == PEER
    plain = offer(b"192.0.2.5", 40010, 9, [b"PCMU"], 0, None)
    assert b"crypto" not in plain and b"RTP/AVP" in plain
    e = raises(ParseError, accept, sdp.parse(baresip_offer(crypto=False)), [b"PCMU"], 2, KEY)
    assert e.status == 488
