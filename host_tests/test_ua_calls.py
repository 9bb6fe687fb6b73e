"""Calls to the phone through the UA on virtual time: auto-answer policy, loopback offers,
ringing, CANCEL, BYE both ways, 481 for unknown dialogs, the media actions."""
from testutil import ACT_MEDIA
from fakeregistrar import INSTANCE, answers, last_conn, no_internal_errors, request, setup, up
from tinysip.message import parse

ALLOWED = "sip:tester@lab.test"
PUB = b"sip:alice@lab.test;gr=" + INSTANCE
LOOP = (b"v=0\r\no=- 7 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n"
        b"m=audio 30000 RTP/AVP 100 101\r\na=loopback:rtp-pkt-loopback\r\n"
        b"a=loopback-source\r\na=rtpmap:100 encaprtp/8000\r\na=rtpmap:101 rtploopback/8000\r\n")
PLAIN = (b"v=0\r\no=- 7 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n"
         b"m=audio 30000 RTP/AVP 8\r\n")
RR = b"Record-Route: <sip:192.0.2.1:5061;transport=tls;lr>\r\n"


def phone(allow=(ALLOWED,), ring=None):
    extra = {"autoanswer": {"allow": list(allow)}, "media": {"ip": "192.0.2.50", "port": 40000}}
    if ring:
        extra["call"] = {"ring_timeout": ring}
    link, reg, ua, clock = setup(extra=extra)
    up(link)
    return link, reg, ua, clock


def invite(extra=b"", body=LOOP, caller=b"<sip:tester@lab.test>", branch=b"z9hG4bKinv1",
           pai=None, method=b"INVITE", to=b"<sip:alice@lab.test>", cseq=11):
    h = RR + b"Contact: <sip:tester@192.0.2.9:5070>\r\n" + extra
    if pai is None:
        pai = caller  # the proxy authenticated the caller and asserts who it is
    if pai:
        h += b"P-Asserted-Identity: " + pai + b"\r\n"
    if body:
        h += b"Content-Type: application/sdp\r\n"
    raw = request(method, h, to=to, branch=branch, ruri=PUB, body=body)
    raw = raw.replace(b"From: <sip:carol@lab.test>", b"From: " + caller)
    return raw.replace(b"CSeq: 11 ", b"CSeq: %d " % cseq)


def statuses(reg, start):
    return [(r.status, r.cseq_method) for r in answers(reg, start)]


def test_the_call_code_loads_with_the_first_invite_not_at_boot():
    # issue 16: tinysip.invite (the called party's dialog, ~6 KB on the 64-bit unix port) is
    # not held by a registered idle phone, and an OPTIONS is answered without it
    import sys

    from tinysip.compat import drop

    drop("tinysip.invite")
    link, reg, ua, clock = phone()
    n = len(reg.responses)
    link.inject(last_conn(link), invite(method=b"OPTIONS", body=b"", branch=b"z9hG4bKo1"))
    assert statuses(reg, n) == [(200, b"OPTIONS")]
    assert answers(reg, n)[0].get(b"Allow") == b"INVITE, ACK, BYE, CANCEL, OPTIONS"
    assert "tinysip.invite" not in sys.modules
    link.inject(last_conn(link), invite(b"Answer-Mode: Auto\r\n"))
    assert statuses(reg, n)[1:] == [(100, b"INVITE"), (200, b"INVITE")]
    assert "tinysip.invite" in sys.modules
    no_internal_errors(link)


def test_no_heap_for_the_answer_refuses_the_call_with_500_and_closes_its_port():
    # a MemoryError while the answer is written (media_ready: a call answered by hand has its
    # SDP written there) refuses the call (500) rather than leaving it ringing with the 200
    # never sent; the mirror's port, bound already, closes with the call (ACK of the 500)
    from tinysip.compat import drop

    link, reg, ua, clock = phone(allow=())
    n = len(reg.responses)
    link.inject(last_conn(link), invite())
    cid = link.of("call_incoming")[-1].call_id

    def exhausted(*args):
        raise MemoryError("test: heap exhausted")

    import tinysip.sdp as sdp  # (loaded again: what media_ready's import finds; dropped below)

    sdp.write = exhausted
    try:
        ua.answer(cid, clock.now)
        link.settle()
    finally:
        drop("tinysip.sdp")  # (and the package's attribute: the next import loads it afresh)
    assert statuses(reg, n)[-1] == (500, b"INVITE")
    assert link.media_opened and link.media_closed == []
    d = link.of("message_dropped")[-1]
    assert "out of memory" in d.reason, d
    tag = answers(reg, n)[-1].to_tag
    link.inject(last_conn(link), invite(method=b"ACK", to=b"<sip:alice@lab.test>;tag=" + tag,
                                        body=b"", branch=b"z9hG4bKinv1"))
    assert link.media_closed == [cid] and ua.calls == {}
    assert link.of("call_ended")[-1].status == 500
    no_internal_errors(link)


def test_an_auto_answer_is_written_before_the_port_and_gets_the_bound_port():
    # issue 16: an auto-answered call's SDP answer is written when the INVITE is taken,
    # with 65535 in the mirrored stream's m= line, and the SDP code let go before the call
    # and its port are made; media_ready writes the bound port in
    import sys

    link, reg, ua, clock = phone()
    n = len(reg.responses)
    link.inject(last_conn(link), invite(b"Answer-Mode: Auto\r\n"))
    assert "tinysip.sdp" not in sys.modules and "tinysip.loopback" not in sys.modules
    port = link.media_opened[-1][4]
    ok = answers(reg, n)[-1]
    assert ok.status == 200 and b"65535" not in ok.body
    lines = ok.body.split(b"\r\n")
    assert [ln for ln in lines if ln.startswith(b"m=")] == [b"m=audio %d RTP/AVP 100" % port]
    no_internal_errors(link)


def test_no_heap_for_a_new_call_is_a_503_not_silence():
    # a MemoryError while an INVITE is taken (the call's code, its offer, the Call: the
    # whole phone at its smallest heap failed in invite.Call) answers 503 + Retry-After,
    # statelessly, instead of leaving the caller without a final answer
    import tinysip.invite as iv

    link, reg, ua, clock = phone()
    n = len(reg.responses)
    real = iv.Call

    def exhausted(*args):
        raise MemoryError("test: heap exhausted")

    iv.Call = exhausted
    try:
        link.inject(last_conn(link), invite(b"Answer-Mode: Auto\r\n"))
    finally:
        iv.Call = real
    assert statuses(reg, n) == [(503, b"INVITE")] and ua.calls == {}
    assert answers(reg, n)[0].get(b"Retry-After") == b"5"
    assert link.of("call_ended")[-1].status == 503
    assert link.media_opened == []
    # with heap again, the next INVITE is a call
    link.inject(last_conn(link), invite(b"Answer-Mode: Auto\r\n", branch=b"z9hG4bKinv2"))
    assert statuses(reg, n)[1:] == [(100, b"INVITE"), (200, b"INVITE")]


def test_allowed_caller_with_auto_and_loopback_offer_is_answered_by_the_mirror():
    link, reg, ua, clock = phone()
    n = len(reg.responses)
    link.inject(last_conn(link), invite(b"Answer-Mode: Auto\r\n"))
    assert statuses(reg, n) == [(100, b"INVITE"), (200, b"INVITE")]
    ok = answers(reg, n)[1]
    assert ok.get(b"Answer-Mode") == b"Auto"
    assert ok.get(b"Contact") == b"<" + PUB + b";ob>"  # GRUU with ob on an outbound flow
    assert ok.get(b"Record-Route") == b"<sip:192.0.2.1:5061;transport=tls;lr>"
    media = link.media_opened[-1]
    port = media[4]  # media.port 40000: an even port of 40000..40998, drawn at random
    assert media[0] == ACT_MEDIA and 40000 <= port <= 40998 and port % 2 == 0
    assert media[5:] == (b"192.0.2.9", 30000, 0)  # the offer's c=/m=: the only RTP source taken
    assert b"a=loopback-mirror" in ok.body and b"m=audio %d " % port in ok.body
    assert b"c=IN IP4 192.0.2.50" in ok.body
    # the answer written, the SDP and RFC 6849 code is let go: the mirror runs without it
    import sys

    assert "tinysip.sdp" not in sys.modules and "tinysip.loopback" not in sys.modules
    inc = link.of("call_incoming")[-1]
    assert (inc.caller, inc.answer_mode) == (b"sip:tester@lab.test", b"auto")
    ans = link.of("call_answered")[-1]
    assert (ans.mode, ans.loopback, ans.pt, ans.port) == ("auto", b"rtp-pkt-loopback", 100, port)
    # ACK, then the caller hangs up
    tag = ok.to_tag
    link.inject(last_conn(link), invite(method=b"ACK", to=b"<sip:alice@lab.test>;tag=" + tag,
                                        body=b"", branch=b"z9hG4bKack"))
    link.media_counts = (250, 250)
    link.inject(last_conn(link), invite(method=b"BYE", to=b"<sip:alice@lab.test>;tag=" + tag,
                                        body=b"", branch=b"z9hG4bKbye", cseq=12))
    assert statuses(reg, n)[-1] == (200, b"BYE")
    end = link.of("call_ended")[-1]
    assert (end.reason, end.rx, end.tx) == ("bye", 250, 250)
    assert link.media_closed == [ok.call_id]
    assert ua.calls == {}
    no_internal_errors(link)


def test_priv_answer_mode_follows_the_same_policy():
    link, reg, ua, clock = phone()
    n = len(reg.responses)
    link.inject(last_conn(link), invite(b"Priv-Answer-Mode: Auto\r\n"))
    ok = answers(reg, n)[-1]
    assert ok.status == 200 and ok.get(b"Priv-Answer-Mode") == b"Auto"


def test_caller_not_allowed_rings_and_require_is_refused_403():
    link, reg, ua, clock = phone(ring=30)
    n = len(reg.responses)
    link.inject(last_conn(link), invite(b"Answer-Mode: Auto\r\n", caller=b"<sip:eve@lab.test>"))
    assert statuses(reg, n) == [(100, b"INVITE"), (180, b"INVITE")]
    assert link.media_opened == []
    n = len(reg.responses)
    link.inject(last_conn(link), invite(b"Answer-Mode: Auto;require\r\n",
                                        caller=b"<sip:eve@lab.test>", branch=b"z9hG4bKinv2")
                .replace(b"srv-call-1", b"srv-call-2"))
    # one call is ringing: the second is busy whatever it asks
    assert statuses(reg, n)[-1] == (486, b"INVITE")


def test_require_from_a_stranger_gets_403():
    link, reg, ua, clock = phone()
    n = len(reg.responses)
    link.inject(last_conn(link), invite(b"Answer-Mode: Auto;require\r\n",
                                        caller=b"<sip:eve@lab.test>"))
    # refused statelessly (RFC 3261 §8.2.7): no 100, nothing kept, the ACK absorbed
    assert statuses(reg, n) == [(403, b"INVITE")]
    assert link.media_opened == []
    end = link.of("call_ended")[-1]
    assert (end.reason, end.status, end.rx) == ("rejected", 403, 0) and ua.calls == {}
    tag = answers(reg, n)[-1].to_tag
    # a retransmission gets the same answer, To tag included
    link.inject(last_conn(link), invite(b"Answer-Mode: Auto;require\r\n",
                                        caller=b"<sip:eve@lab.test>"))
    assert statuses(reg, n) == [(403, b"INVITE")] * 2 and answers(reg, n)[-1].to_tag == tag
    m = len(reg.responses)
    link.inject(last_conn(link), invite(method=b"ACK", to=b"<sip:alice@lab.test>;tag=" + tag,
                                        body=b""))
    assert len(reg.responses) == m and ua.calls == {}
    no_internal_errors(link)


def test_asserted_identity_beats_a_spoofed_from():
    link, reg, ua, clock = phone()
    n = len(reg.responses)
    link.inject(last_conn(link), invite(b"Answer-Mode: Auto;require\r\n",
                                        pai=b"<sip:mallory@lab.test>"))
    assert statuses(reg, n)[-1] == (403, b"INVITE")


def test_auto_answer_off_unless_configured():
    link, reg, ua, clock = phone(allow=())
    n = len(reg.responses)
    link.inject(last_conn(link), invite(b"Answer-Mode: Auto\r\n"))
    assert statuses(reg, n) == [(100, b"INVITE"), (180, b"INVITE")]


def test_allowed_caller_without_loopback_offer_rings_and_require_gets_488():
    link, reg, ua, clock = phone()
    n = len(reg.responses)
    link.inject(last_conn(link), invite(b"Answer-Mode: Auto;require\r\n", body=PLAIN))
    assert statuses(reg, n) == [(488, b"INVITE")]


def test_no_answer_mode_rings_then_480_after_the_ring_timeout():
    link, reg, ua, clock = phone(ring=20)
    n = len(reg.responses)
    link.inject(last_conn(link), invite())
    assert statuses(reg, n) == [(100, b"INVITE"), (180, b"INVITE")]
    clock.advance(20000)
    ua.handle_timer(clock.now)
    link.settle()
    assert statuses(reg, n)[-1] == (480, b"INVITE")
    inc = link.of("call_incoming")[-1]
    assert inc.answer_mode is None


def test_manual_answer_of_a_loopback_offer_and_our_bye():
    link, reg, ua, clock = phone(allow=())
    n = len(reg.responses)
    link.inject(last_conn(link), invite())
    cid = link.of("call_incoming")[-1].call_id
    assert ua.answer(cid, clock.now)
    link.settle()
    ok = answers(reg, n)[-1]
    assert ok.status == 200 and ok.get(b"Answer-Mode") is None
    assert link.of("call_answered")[-1].mode == "manual"
    link.inject(last_conn(link), invite(method=b"ACK", to=b"<sip:alice@lab.test>;tag=" +
                                        ok.to_tag, body=b"", branch=b"z9hG4bKack"))
    assert ua.hangup(cid, clock.now)
    link.settle()
    bye = reg.requests[-1][2]
    assert bye.method == b"BYE" and bye.uri == b"sip:tester@192.0.2.9:5070"
    assert bye.get(b"Route") == b"<sip:192.0.2.1:5061;transport=tls;lr>"
    assert link.of("call_ended")[-1].reason == "hangup"


def test_ringing_call_keeps_the_offer_as_bytes_and_answers_the_port_bound():
    link, reg, ua, clock = phone(allow=())
    n = len(reg.responses)
    link.inject(last_conn(link), invite())
    cid = link.of("call_incoming")[-1].call_id
    e = ua.calls[cid]
    # not the parsed offer: what the mirror needs, with the offer's RTP address
    assert e[2] == LOOP and e[3] == (b"rtp-pkt-loopback", 1, 100, b"192.0.2.9", 30000, 0)
    assert ua.answer(cid, clock.now)
    a = ua.pop_action()  # play the driver: the port asked for is taken, the next one bound
    assert a[0] == ACT_MEDIA and a[2:4] == (1, 100) and a[5:] == (b"192.0.2.9", 30000, 0)
    ua.media_ready(cid, a[4] + 2, clock.now)
    link.settle()
    ok = answers(reg, n)[-1]
    assert ok.status == 200 and b"m=audio %d RTP/AVP 100\r\n" % (a[4] + 2) in ok.body
    assert ua.calls[cid][2] is None  # answered: the offer is gone
    assert link.of("call_answered")[-1].port == a[4] + 2
    no_internal_errors(link)


def test_each_answer_draws_the_mirror_port_from_the_media_port_range():
    extra = {"media": {"ip": "192.0.2.50", "port_min": 41001, "port_max": 41006}}
    link, reg, ua, clock = setup(extra=extra)
    up(link)
    ports = set()
    for i in range(12):
        n = len(reg.responses)
        raw = invite(branch=b"z9hG4bKr%d" % i).replace(b"srv-call-1@", b"srv-call-r%d@" % i)
        link.inject(last_conn(link), raw)
        cid = link.of("call_incoming")[-1].call_id
        assert ua.answer(cid, clock.now)
        a = ua.pop_action()
        assert a[0] == ACT_MEDIA and a[5:] == (b"192.0.2.9", 30000, 0)
        ports.add(a[4])
        ua.media_failed(cid, "test", clock.now)  # a 500: the call ends once it is acked
        link.settle()
        tag = answers(reg, n)[-1].to_tag
        ack = invite(method=b"ACK", to=b"<sip:alice@lab.test>;tag=" + tag, body=b"",
                     branch=b"z9hG4bKr%d" % i)
        link.inject(last_conn(link), ack.replace(b"srv-call-1@", b"srv-call-r%d@" % i))
        assert cid not in ua.calls
        no_internal_errors(link)
        reg.responses.clear()  # the logs, not the phone, would outgrow a 256 KB heap
        link.events.clear()
    assert ports == {41002, 41004, 41006}  # even ports of the range only, every one drawn


def test_cancel_while_ringing():
    link, reg, ua, clock = phone()
    n = len(reg.responses)
    link.inject(last_conn(link), invite())
    link.inject(last_conn(link), invite(method=b"CANCEL", body=b""))
    assert statuses(reg, n)[-2:] == [(200, b"CANCEL"), (487, b"INVITE")]


def test_unknown_dialog_and_unmatched_cancel_get_481():
    link, reg, ua, clock = phone()
    n = len(reg.responses)
    link.inject(last_conn(link), invite(method=b"BYE", to=b"<sip:alice@lab.test>;tag=nope",
                                        body=b""))
    link.inject(last_conn(link), invite(method=b"CANCEL", body=b"", branch=b"z9hG4bKzz"))
    assert statuses(reg, n) == [(481, b"BYE"), (481, b"CANCEL")]


def test_media_failure_answers_500():
    link, reg, ua, clock = phone()
    link.media_policy = "port in use"
    n = len(reg.responses)
    link.inject(last_conn(link), invite(b"Answer-Mode: Auto\r\n"))
    assert statuses(reg, n)[-1] == (500, b"INVITE")


def test_unsupported_require_gets_420():
    link, reg, ua, clock = phone()
    n = len(reg.responses)
    link.inject(last_conn(link), invite(b"Require: 100rel, answermode\r\n"))
    r = answers(reg, n)[-1]
    assert r.status == 420 and r.get(b"Unsupported") == b"100rel"


def test_options_lists_invite_and_answermode():
    link, reg, ua, clock = phone()
    n = len(reg.responses)
    link.inject(last_conn(link), request(b"OPTIONS"))
    r = answers(reg, n)[-1]
    assert r.status == 200
    assert b"INVITE" in r.get(b"Allow") and b"answermode" in r.get(b"Supported")
    assert r.get(b"Accept") == b"application/sdp"
    assert parse(r.to_bytes()).status == 200
