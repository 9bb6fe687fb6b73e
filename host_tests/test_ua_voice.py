# mpy: heap 400k
# (the UA, the fake registrar, the call and SDP tests it reuses and the hold tests: 256 KB
# leaves no block for compiling this module)
"""The UA's voice calls (issue 17): a ringing call with a voice offer answered by hand runs
tinysip.audio's answer (codecs, telephone-event, SDES per media.srtp), asks the driver for a
port (ACT_MEDIA mode 0) and then to run the media (ACT_VOICE); what cannot be taken gets
488; call_ended carries the media figures; DTMF digits become `dtmf` events. Hold and resume
(RFC 3264 §8.4), both ways, in calls the phone answered and placed: the peer's re-INVITEs
(tinysip.audio.reinvite) and ours (ua.hold/resume, tinysip.hold), each a `call_held`."""
from fakeregistrar import answers, last_conn, no_internal_errors, setup, up
from test_audio import KEY, PEER, baresip_offer
from test_ua_calls import invite


def ack(link, ok):
    link.inject(last_conn(link), invite(method=b"ACK", to=b"<sip:alice@lab.test>;tag=" +
                                        ok.to_tag, body=b"", branch=b"z9hG4bKa%d" % ok.cseq,
                                        cseq=ok.cseq))

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


def answered(srtp="required"):
    """A voice call the phone answered and the peer acknowledged: (link, reg, ua, clock,
    call id, the 200's To tag, the 200)."""
    link, reg, ua, clock = voice_phone(srtp)
    link.inject(last_conn(link), invite(body=baresip_offer(b"RTP/SAVP")))
    cid = link.of("call_incoming")[-1].call_id
    ua.answer(cid, clock.now)
    link.settle()
    ok = answers(reg, 0)[-1]
    ack(link, ok)
    return link, reg, ua, clock, cid, ok


def reoffer(link, reg, tag, cseq, direction, crypto=True, port=None):
    """The peer's re-INVITE in the answered call: the phone's answer (200 or not)."""
    n = len(reg.responses)
    body = baresip_offer(b"RTP/SAVP" if crypto else b"RTP/AVP", crypto, direction)
    if port is not None:
        body = body.replace(b"43010", b"%d" % port)
    link.inject(last_conn(link), invite(body=body, to=b"<sip:alice@lab.test>;tag=" + tag,
                                        branch=b"z9hG4bKre%d" % cseq, cseq=cseq))
    return answers(reg, n)[-1]


def test_the_peer_holds_and_resumes_an_answered_call_with_re_invites():
    link, reg, ua, clock, cid, ok = answered()
    first = sdp.parse(ok.body)
    r = reoffer(link, reg, ok.to_tag, 12, b"sendonly")
    assert r.status == 200 and r.cseq == 12
    a = sdp.parse(r.body)
    m = a[2][0]
    assert m[8] == b"recvonly" and m[1] == first[2][0][1]  # mirrored, our port kept
    assert a[0][1] == first[0][1] and a[0][2] == b"2"  # same session, o= version + 1
    assert m[9] == first[2][0][9]  # our key: the SRTP contexts go on
    assert link.voices[-1][1] == cid and link.voices[-1][2][9] == b"recvonly"
    assert link.of("call_held")[-1].direction == "recvonly"
    ack(link, r)
    link.advance(70000)  # the peer may go silent while it holds: no rtp_timeout BYE
    assert not link.of("call_ended")
    r = reoffer(link, reg, ok.to_tag, 13, None, port=43020)  # resumed, from another port
    m = sdp.parse(r.body)[2][0]
    assert r.status == 200 and m[8] == b"sendrecv" and sdp.parse(r.body)[0][2] == b"3"
    assert link.voices[-1][2][9] == b"sendrecv" and link.voices[-1][2][5] == 43020
    assert link.of("call_held")[-1].direction == "sendrecv"
    ack(link, r)
    assert ua.calls[cid][0].state == 2  # invite.py's CONFIRMED
    ua.hangup(cid, clock.now)
    link.settle()
    assert link.of("call_ended")[-1].reason == "hangup"
    no_internal_errors(link)


def test_a_re_offer_we_cannot_take_gets_488_and_the_call_goes_on():
    link, reg, ua, clock, cid, ok = answered()
    n = len(link.voices)
    r = reoffer(link, reg, ok.to_tag, 12, b"sendonly", crypto=False)  # plain: refused
    assert r.status == 488 and len(link.voices) == n and not link.of("call_held")
    assert reoffer(link, reg, ok.to_tag, 13, b"inactive").status == 200
    assert link.voices[-1][2][9] == b"inactive"
    no_internal_errors(link)


def placed():
    """A voice call the phone placed (our offer: session 77, RTP port 40002, PCMA first)
    and the peer answered with PCMA and SRTP: (link, reg, ua, clock, call id, our INVITE,
    the peer's answer)."""
    from test_dial import TARGET, reply

    from tinysip.audio import accept, offer

    link, reg, ua, clock = voice_phone()
    ours = offer(b"192.0.2.50", 40002, 77, [b"PCMA", b"PCMU"], 2, KEY)
    cid = ua.dial(TARGET, clock.now, ours, media=True)
    link.settle()
    inv = reg.requests[-1][2]
    peer = baresip_offer(b"RTP/SAVP").replace(b"0 8 101", b"8 101")
    link.inject(last_conn(link), reply(inv, 200, extra=[(b"Contact", b"<sip:b@192.0.2.9>")],
                                       body=peer).to_bytes())
    assert link.of("call_connected")[-1].call_id == cid
    ua.calls[cid][3] = accept(sdp.parse(peer), [b"PCMA", b"PCMU"], 2, KEY)  # io.voiceport
    return link, reg, ua, clock, cid, inv, peer


def test_the_peer_holds_a_call_we_placed():
    from test_dial import TARGET

    from tinysip.sdes import line

    link, reg, ua, clock, cid, inv, peer = placed()
    n = len(reg.responses)
    re = (b"INVITE sip:alice@192.0.2.50 SIP/2.0\r\nVia: SIP/2.0/TLS 192.0.2.1;branch=z9hG4bKh1"
          b"\r\nFrom: <" + TARGET + b">;tag=far1\r\nTo: <sip:alice@lab.test>;tag="
          + inv.from_tag + b"\r\nCall-ID: " + cid + b"\r\nCSeq: 5 INVITE\r\n"
          b"Contact: <sip:b@192.0.2.9>\r\nContent-Type: application/sdp\r\n"
          b"Content-Length: %d\r\n\r\n")
    body = peer.replace(b"a=ptime", b"a=sendonly\r\na=ptime")
    link.inject(last_conn(link), re % len(body) + body)
    r = answers(reg, n)[-1]
    assert r.status == 200 and r.cseq == 5
    a = sdp.parse(r.body)
    assert a[0][1:3] == [b"77", b"2"] and a[2][0][1] == 40002
    assert a[2][0][3] == [b"8", b"101"] and a[2][0][8] == b"recvonly"
    assert a[2][0][9] == [line(1, 80, KEY)[7:]]
    assert link.voices[-1][1] == cid and link.voices[-1][2][9] == b"recvonly"
    assert link.voices[-1][2][7] == KEY and link.voices[-1][2][8] == PEER
    body = peer  # resumed
    link.inject(last_conn(link), (re % len(body) + body).replace(b"CSeq: 5", b"CSeq: 6"))
    r = answers(reg, n)[-1]
    assert r.status == 200 and sdp.parse(r.body)[2][0][8] == b"sendrecv"
    assert sdp.parse(r.body)[0][2] == b"3" and link.voices[-1][2][9] == b"sendrecv"
    no_internal_errors(link)


def holds(ua):
    """Our re-INVITEs (tinysip.hold) the UA still runs."""
    return [x for x, f in ua.ctx.values() if hasattr(x, "on")]


def peer_answer(req, direction, status=200):
    """The peer's response to the phone's re-INVITE `req` (a parsed request)."""
    from test_dial import reply

    return reply(req, status, tag=None, body=baresip_offer(b"RTP/SAVP", direction=direction)
                 if status == 200 else b"").to_bytes()


def test_we_hold_and_resume_an_answered_call():
    link, reg, ua, clock, cid, ok = answered()
    ours = sdp.parse(ok.body)
    assert ua.hold(cid, clock.now)
    link.settle()
    inv = reg.requests[-1][2]
    assert inv.method == b"INVITE" and inv.cseq == 1 and inv.call_id == cid
    assert inv.to_tag == b"c1" and inv.from_tag == ok.to_tag  # From/To swapped (§12.2.1.1)
    assert inv.get(b"Contact") and inv.values(b"Route")  # the route set from Record-Route
    o = sdp.parse(inv.body)
    assert o[2][0][8] == b"sendonly" and o[0][1:3] == [ours[0][1], b"2"]
    assert o[2][0][1] == ours[2][0][1] and o[2][0][3] == [b"0", b"101"]
    assert o[2][0][9][0].endswith(ours[2][0][9][0][-40:])  # our key again
    assert not ua.hold(cid, clock.now)  # one INVITE at a time (§14.1)
    link.inject(last_conn(link), peer_answer(inv, b"recvonly"))
    a = reg.requests[-1][2]
    assert a.method == b"ACK" and a.cseq == 1 and a.branch != inv.branch
    assert link.voices[-1][2][9] == b"sendonly"
    h = link.of("call_held")[-1]
    assert (h.call_id, h.direction, h.status) == (cid, "sendonly", 200)
    # the peer's own new offer while we hold: we stay on hold (§8.4)
    r = reoffer(link, reg, ok.to_tag, 12, None)
    assert r.status == 200 and sdp.parse(r.body)[2][0][8] == b"sendonly"
    assert sdp.parse(r.body)[0][2] == b"3"
    ack(link, r)
    assert ua.resume(cid, clock.now)
    link.settle()
    inv = reg.requests[-1][2]
    assert inv.cseq == 2 and sdp.parse(inv.body)[2][0][8] == b"sendrecv"
    assert sdp.parse(inv.body)[0][2] == b"4"
    link.inject(last_conn(link), peer_answer(inv, None))
    assert link.voices[-1][2][9] == b"sendrecv"
    assert link.of("call_held")[-1].direction == "sendrecv"
    ua.hangup(cid, clock.now)
    link.settle()
    bye = reg.requests[-1][2]
    assert bye.method == b"BYE" and bye.cseq == 3  # after our re-INVITEs' CSeqs
    no_internal_errors(link)


def holding():
    """answered(), then our hold's re-INVITE sent: (..., the 200, our INVITE)."""
    link, reg, ua, clock, cid, ok = answered()
    assert ua.hold(cid, clock.now)
    link.settle()
    return link, reg, ua, clock, cid, ok, reg.requests[-1][2]


def test_our_hold_refused_keeps_the_call_491_is_tried_again_glare_gets_491():
    link, reg, ua, clock, cid, ok, inv = holding()
    r = reoffer(link, reg, ok.to_tag, 12, b"sendonly")  # the peer's crossed ours
    assert r.status == 491
    link.inject(last_conn(link), peer_answer(inv, None, 491))
    a = reg.requests[-1][2]
    assert a.method == b"ACK" and a.branch == inv.branch  # hop by hop
    assert not link.of("call_held")
    link.advance(2100)  # we do not own the Call-ID: 0-2 s
    inv2 = reg.requests[-1][2]
    assert inv2.method == b"INVITE" and inv2.cseq == 2 and inv2.branch != inv.branch
    link.inject(last_conn(link), peer_answer(inv2, None, 488))
    h = link.of("call_held")[-1]
    assert (h.direction, h.status) == ("sendrecv", 488)  # unchanged, and said
    assert link.voices[-1][2][9] == b"sendrecv" and ua.calls[cid][0].state == 2
    assert sdp.parse(ua.calls[cid][0].body)[2][0][8] == b"sendrecv"  # our last SDP again
    link.advance(10)
    assert not holds(ua)  # its transaction is gone
    assert ua.hold(cid, clock.now)  # and the next try goes out
    link.settle()
    link.inject(last_conn(link), peer_answer(reg.requests[-1][2], None, 481))
    link.settle()
    assert reg.requests[-1][2].method == b"BYE"  # §14.1: the dialog is gone
    no_internal_errors(link)


def test_we_hold_a_call_we_placed():
    from test_dial import reply

    link, reg, ua, clock, cid, inv, peer = placed()
    assert ua.hold(cid, clock.now)
    link.settle()
    re = reg.requests[-1][2]
    assert re.method == b"INVITE" and re.cseq == 2 and re.to_tag == b"far1"
    assert re.ruri.to_bytes() == b"sip:b@192.0.2.9"  # the remote target
    o = sdp.parse(re.body)
    assert o[0][1:3] == [b"77", b"2"] and o[2][0][3] == [b"8", b"101"]
    assert o[2][0][8] == b"sendonly" and o[2][0][2] == b"RTP/SAVP"
    link.inject(last_conn(link), reply(re, 200, tag=None, body=peer.replace(
        b"a=ptime", b"a=recvonly\r\na=ptime")).to_bytes())
    assert reg.requests[-1][2].method == b"ACK" and reg.requests[-1][2].cseq == 2
    assert link.voices[-1][2][9] == b"sendonly" and link.voices[-1][2][1] == b"PCMA"
    link.advance(40000)  # the re-INVITE's transaction is dropped after 64*T1
    assert not holds(ua)
    assert ua.resume(cid, clock.now)
    link.settle()
    re = reg.requests[-1][2]
    link.advance(40000)  # no answer at all (Timer B): the dialog is given up (§14.1)
    assert link.of("call_held")[-1].status == 408
    assert reg.requests[-1][2].method == b"BYE"
    no_internal_errors(link)


def offerless(link, reg, tag, cseq):
    """The peer's re-INVITE without an offer (RFC 3261 §14.2): the phone's final response."""
    n = len(reg.responses)
    link.inject(last_conn(link), invite(body=b"", to=b"<sip:alice@lab.test>;tag=" + tag,
                                        branch=b"z9hG4bKno%d" % cseq, cseq=cseq))
    return answers(reg, n)[-1]


def ack_with(link, ok, body):
    link.inject(last_conn(link), invite(method=b"ACK", to=b"<sip:alice@lab.test>;tag=" +
                                        ok.to_tag, body=body, branch=b"z9hG4bKa%d" % ok.cseq,
                                        cseq=ok.cseq))


def test_an_offerless_re_invite_gets_our_offer_and_the_ack_brings_the_answer():
    link, reg, ua, clock, cid, ok = answered()
    first = sdp.parse(ok.body)
    n = len(link.voices)
    r = offerless(link, reg, ok.to_tag, 12)
    assert r.status == 200 and r.get(b"Content-Type") == b"application/sdp"
    o = sdp.parse(r.body)
    m = o[2][0]
    assert m[8] == b"sendrecv" and m[1] == first[2][0][1] and m[2] == b"RTP/SAVP"
    assert o[0][1] == first[0][1] and o[0][2] == b"2"  # same session, o= version + 1
    assert m[3] == [b"0", b"101"] and m[9][0].endswith(first[2][0][9][0][-40:])  # our key
    assert len(link.voices) == n  # nothing changes before the answer
    assert not ua.hold(cid, clock.now)  # our offer waits for its answer: no INVITE of ours
    ack_with(link, r, baresip_offer(b"RTP/SAVP", direction=b"recvonly"))  # the peer holds
    assert len(link.voices) == n + 1 and link.voices[-1][2][9] == b"sendonly"
    h = link.of("call_held")[-1]
    assert (h.call_id, h.direction, h.status) == (cid, "sendonly", 200)
    assert ua.calls[cid][0].state == 2 and ua.calls[cid][0].hold is None
    # an ACK without the answer: said, and the media goes on as it was
    r = offerless(link, reg, ok.to_tag, 13)
    assert r.status == 200 and sdp.parse(r.body)[0][2] == b"3"
    ack_with(link, r, b"")
    assert "ACK without the answer" in link.of("message_dropped")[-1].reason
    assert len(link.voices) == n + 1 and ua.calls[cid][0].state == 2
    assert not link.of("call_ended")
    # an answer we cannot run (plain RTP while media.srtp is required): BYE (§13.2.2.4)
    r = offerless(link, reg, ok.to_tag, 14)
    ack_with(link, r, baresip_offer(b"RTP/AVP", crypto=False))
    link.settle()
    assert "media.srtp is required" in link.of("message_dropped")[-1].reason
    assert reg.requests[-1][2].method == b"BYE"
    no_internal_errors(link)


def test_an_offerless_re_invite_while_we_hold_offers_sendonly_in_a_call_we_placed():
    from test_dial import TARGET

    link, reg, ua, clock, cid, inv, peer = placed()
    ua.calls[cid][3].append(True)  # we hold (as after our accepted hold)
    ua.calls[cid][3][9] = b"sendonly"
    n = len(reg.responses)
    re = (b"INVITE sip:alice@192.0.2.50 SIP/2.0\r\nVia: SIP/2.0/TLS 192.0.2.1;branch=z9hG4bKo1"
          b"\r\nFrom: <" + TARGET + b">;tag=far1\r\nTo: <sip:alice@lab.test>;tag="
          + inv.from_tag + b"\r\nCall-ID: " + cid + b"\r\nCSeq: 5 INVITE\r\n"
          b"Contact: <sip:b@192.0.2.9>\r\nContent-Length: 0\r\n\r\n")
    link.inject(last_conn(link), re)
    r = answers(reg, n)[-1]
    assert r.status == 200 and sdp.parse(r.body)[2][0][8] == b"sendonly"
    assert sdp.parse(r.body)[0][1:3] == [b"77", b"2"]
    body = peer.replace(b"a=ptime", b"a=recvonly\r\na=ptime")
    ack = (re.replace(b"INVITE sip", b"ACK sip").replace(b"5 INVITE", b"5 ACK")
           .replace(b"branch=z9hG4bKo1", b"branch=z9hG4bKo2")
           .replace(b"Content-Length: 0\r\n", b"Content-Type: application/sdp\r\n"
                    b"Content-Length: %d\r\n" % len(body)) + body)
    link.inject(last_conn(link), ack)
    assert link.voices[-1][2][9] == b"sendonly" and link.voices[-1][2][10] is True
    assert link.of("call_held")[-1].direction == "sendonly"
    assert ua.calls[cid][0].hold is None
    no_internal_errors(link)


def test_a_challenge_to_our_re_invite_is_answered_once_with_the_same_offer():
    from test_dial import reply

    link, reg, ua, clock, cid, ok, inv = holding()
    ch = [(b"Proxy-Authenticate", b'Digest realm="lab.test", nonce="n1", algorithm=MD5')]
    link.inject(last_conn(link), reply(inv, 407, tag=None, extra=ch).to_bytes())
    a, inv2 = reg.requests[-2][2], reg.requests[-1][2]
    assert a.method == b"ACK" and a.branch == inv.branch  # the 407 acknowledged hop by hop
    assert inv2.method == b"INVITE" and inv2.cseq == inv.cseq + 1 and inv2.branch != inv.branch
    assert inv2.body == inv.body  # the same offer, the same o= version
    auth = inv2.get(b"Proxy-Authorization")
    assert auth.startswith(b"Digest ") and b'nonce="n1"' in auth and b'realm="lab.test"' in auth
    assert not link.of("call_held")
    n = len(reg.requests)
    link.inject(last_conn(link), reply(inv, 407, tag=None, extra=ch).to_bytes())  # a late copy
    a = reg.requests[-1][2]  # acknowledged again (§17.1.1.2), and no third INVITE
    assert len(reg.requests) == n + 1 and a.method == b"ACK" and a.branch == inv.branch
    assert not link.of("call_held")
    link.inject(last_conn(link), peer_answer(inv2, b"recvonly"))
    assert link.voices[-1][2][9] == b"sendonly"
    assert link.of("call_held")[-1].status == 200
    # resume challenged twice: the second challenge is a refusal, the call goes on on hold
    assert ua.resume(cid, clock.now)
    link.settle()
    r1 = reg.requests[-1][2]
    ch = [(b"WWW-Authenticate", b'Digest realm="lab.test", nonce="n2"')]
    link.inject(last_conn(link), reply(r1, 401, tag=None, extra=ch).to_bytes())
    r2 = reg.requests[-1][2]
    assert r2.method == b"INVITE" and r2.get(b"Authorization")
    link.inject(last_conn(link), reply(r2, 401, tag=None, extra=ch).to_bytes())
    h = link.of("call_held")[-1]
    assert (h.direction, h.status) == ("sendonly", 401)
    assert ua.calls[cid][0].state == 2 and link.voices[-1][2][9] == b"sendonly"
    no_internal_errors(link)
