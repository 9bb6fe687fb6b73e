"""The UA's voice calls (issue 17): a ringing call with a voice offer answered by hand runs
tinysip.audio's answer (codecs, telephone-event, SDES per media.srtp), asks the driver for a
port (ACT_MEDIA mode 0) and then to run the media (ACT_VOICE); what cannot be taken gets
488; call_ended carries the media figures; DTMF digits become `dtmf` events."""
from fakeregistrar import answers, last_conn, no_internal_errors, setup, up
from test_audio import KEY, PEER, baresip_offer
from test_ua_calls import invite


def ack(link, ok):
    link.inject(last_conn(link), invite(method=b"ACK", to=b"<sip:alice@lab.test>;tag=" +
                                        ok.to_tag, body=b"", branch=b"z9hG4bKack"))

from tinysip import sdp


def voice_phone(srtp="required"):
    extra = {"media": {"ip": "192.0.2.50", "port": 40000, "srtp": srtp,
                       "codecs": ["PCMA", "PCMU"]}}
    link, reg, ua, clock = setup(extra=extra)
    up(link)
    return link, reg, ua, clock


def test_a_voice_offer_rings_and_is_answered_with_srtp_and_our_own_key():
    link, reg, ua, clock = voice_phone()
    n = len(reg.responses)
    link.inject(last_conn(link), invite(body=baresip_offer(b"RTP/SAVP")))
    cid = link.of("call_incoming")[-1].call_id
    assert [r.status for r in answers(reg, n)] == [100, 180]  # rings: never auto-answered
    assert ua.answer(cid, clock.now)
    link.settle()
    assert link.media_opened[-1][2] == 0  # a voice port, not a mirror
    ok = answers(reg, n)[-1]
    assert ok.status == 200
    m = sdp.parse(ok.body)[2][0]
    assert m[2] == b"RTP/SAVP" and m[3] == [b"0", b"101"]  # the offerer's first codec
    assert m[9][0].startswith(b"1 AES_CM_128_HMAC_SHA1_80 inline:")
    p = link.voices[-1][2]
    assert link.voices[-1][1] == cid and p[1] == b"PCMU" and p[4:6] == [b"127.0.0.1", 43010]
    assert p[8] == PEER and len(p[7]) == 30 and p[7] != PEER and p[7] != KEY
    ev = link.of("call_answered")[-1]
    assert ev.mode == "manual" and ev.loopback is None and ev.pt == 0
    ua.media_dtmf(cid, ord("7"), clock.now)
    link.settle()
    assert link.of("dtmf")[-1].digit == "7"
    ack(link, ok)
    assert ua.hangup(cid, clock.now)
    link.settle()
    assert link.media_closed[-1] == cid
    no_internal_errors(link)


def test_plain_rtp_offer_is_refused_with_488_when_srtp_is_required():
    link, reg, ua, clock = voice_phone("required")
    n = len(reg.responses)
    link.inject(last_conn(link), invite(body=baresip_offer(crypto=False)))
    cid = link.of("call_incoming")[-1].call_id
    ua.answer(cid, clock.now)
    link.settle()
    assert answers(reg, n)[-1].status == 488
    assert "media.srtp is required" in link.of("message_dropped")[-1].reason
    link.advance(40000)  # no ACK: Timer H ends it, and the port opened for it is closed
    assert link.of("call_ended")[-1].status == 488 and link.media_closed[-1] == cid
    no_internal_errors(link)


def test_optional_srtp_answers_a_plain_offer_and_call_ended_has_the_media_figures():
    link, reg, ua, clock = voice_phone("optional")
    link.inject(last_conn(link), invite(body=baresip_offer(crypto=False)))
    cid = link.of("call_incoming")[-1].call_id
    ua.answer(cid, clock.now)
    link.settle()
    p = link.voices[-1][2]
    assert p[6] == 0 and p[7] is None and p[8] is None
    ack(link, answers(reg, 0)[-1])
    link.media_counts = (10, 12)
    ua.hangup(cid, clock.now)
    link.settle()
    e = link.of("call_ended")[-1]
    assert e.rx == 10 and e.tx == 12 and e.media is None  # the fake driver has no figures
    no_internal_errors(link)
