"""tinysip.dial: the phone as the caller (one outgoing INVITE and its dialog), on virtual time,
and through the UA (flow choice, events, responses and in-dialog requests routed to it)."""
from testutil import FakeRandom

from fakeregistrar import answers, last_conn, no_internal_errors, setup, up
from tinysip import dial as dl
from tinysip.message import parse, response

OFFER = b"v=0\r\no=- 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8\r\n"
ANSWER = b"v=0\r\no=- 2 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 5000 RTP/AVP 8\r\n"
TARGET = b"sip:phone2@lab.test"
ROUTE = b"<sip:192.0.2.1:5061;transport=tls;lr>"


def new(reliable=True, digest=None, answer_ms=60000, now=0):
    d = dl.Dial(TARGET, b"sip:phone1@lab.test", b"SIP/2.0/TLS abc.invalid",
                b"sip:phone1@lab.test;gr=urn:uuid:1;ob", [ROUTE], OFFER, now, FakeRandom(5),
                digest, [(b"Answer-Mode", b"Auto;require")], 500, reliable, answer_ms,
                b"tinysip/test")
    return d


def sent(d):
    out = []
    x = d.pop_send()
    while x is not None:
        out.append(parse(x, 65535, datagram=False))
        x = d.pop_send()
    return out


def reply(req, status, tag=b"far1", extra=(), body=b""):
    r = response(req, status, to_tag=tag)
    for n, v in extra:
        r.add(n, v)
    r.body = body
    return parse(r.to_bytes(), 65535, datagram=False)


def ok(req, tag=b"far1"):
    return reply(req, 200, tag, [(b"Record-Route", b"<sip:p2.lab.test;lr>"),
                                 (b"Record-Route", b"<sip:p1.lab.test;lr>"),
                                 (b"Contact", b"<sip:phone2@lab.test;gr=urn:uuid:2>")], ANSWER)


def test_invite_carries_offer_route_contact_and_answer_mode():
    d = new()
    inv = sent(d)
    assert len(inv) == 1
    inv = inv[0]
    assert inv.method == b"INVITE" and inv.uri == TARGET
    assert inv.get(b"Route") == ROUTE
    assert inv.get(b"Contact") == b"<sip:phone1@lab.test;gr=urn:uuid:1;ob>"
    assert inv.get(b"Answer-Mode") == b"Auto;require"
    assert b"answermode" in inv.get(b"Supported")
    assert inv.body == OFFER and inv.get(b"Content-Type") == b"application/sdp"
    assert inv.from_tag == d.local_tag and inv.to_tag is None
    assert inv.branch.startswith(b"z9hG4bK") and inv.cseq == 1
    assert d.state == dl.CALLING and d.next_timer() == 32000  # Timer B, reliable: no Timer A


def test_answered_call_acks_the_2xx_end_to_end_with_the_reversed_route_set():
    d = new()
    inv = sent(d)[0]
    d.receive(reply(inv, 180), 100)
    assert d.state == dl.PROCEEDING and sent(d) == []
    d.receive(ok(inv), 200)
    assert d.state == dl.CONFIRMED and d.answer == ANSWER and d.final == 200
    ack = sent(d)[0]
    assert ack.method == b"ACK" and ack.uri == b"sip:phone2@lab.test;gr=urn:uuid:2"
    assert ack.get_all(b"Route") == [b"<sip:p1.lab.test;lr>", b"<sip:p2.lab.test;lr>"]
    assert ack.cseq == 1 and ack.branch != inv.branch and ack.to_tag == b"far1"
    # a retransmitted 2xx gets the ACK again; then we hang up with a BYE in the dialog
    d.receive(ok(inv), 300)
    assert [m.method for m in sent(d)] == [b"ACK"]
    assert d.hangup(400)
    bye = sent(d)[0]
    assert bye.method == b"BYE" and bye.cseq == 2 and bye.branch == d.bye_branch
    assert bye.get_all(b"Route") == ack.get_all(b"Route")
    assert d.state == dl.ENDED and d.end_reason == "hangup"
    # the 2xx retransmitted once more after our BYE: still acknowledged with the INVITE's CSeq
    d.receive(ok(inv), 500)
    assert [(m.method, m.cseq) for m in sent(d)] == [(b"ACK", 1)]


def test_rejection_is_acked_hop_by_hop_and_ends_the_call():
    d = new()
    inv = sent(d)[0]
    d.receive(reply(inv, 486), 100)
    ack = sent(d)[0]
    assert ack.method == b"ACK" and ack.branch == inv.branch and ack.uri == TARGET
    assert ack.to_tag == b"far1" and ack.get(b"Route") == ROUTE
    assert d.state == dl.ENDED and d.final == 486 and d.end_reason == "rejected"
    assert d.reason == b"Busy Here" and d.next_timer() is None


def test_proxy_challenge_is_answered_once_with_credentials():
    dg = (b"phone1", b"secret1", FakeRandom(2))
    d = new(digest=dg)
    inv = sent(d)[0]
    ch = (b"Proxy-Authenticate", b'Digest realm="lab.test", nonce="abc", qop="auth"')
    d.receive(reply(inv, 407, extra=[ch]), 100)
    out = sent(d)
    assert [m.method for m in out] == [b"ACK", b"INVITE"]
    inv2 = out[1]
    assert inv2.cseq == 2 and inv2.branch != inv.branch and inv2.call_id == inv.call_id
    assert inv2.get(b"Proxy-Authorization").startswith(b"Digest ")
    assert d.state == dl.CALLING
    # the same challenge again: the credentials were refused
    d.receive(reply(inv2, 407, extra=[ch]), 200)
    assert d.state == dl.ENDED and d.final == 407
    assert b"auth.password" in d.reason
    assert [m.method for m in sent(d)] == [b"ACK"]


def test_redirect_follows_the_first_contact_a_bounded_number_of_times():
    d = new()
    inv = sent(d)[0]
    for i in range(3):
        d.receive(reply(inv, 302, extra=[(b"Contact", b"<sip:other%d@lab.test>" % i)]), 100)
        out = sent(d)
        assert [m.method for m in out] == [b"ACK", b"INVITE"]
        inv = out[1]
        assert inv.uri == b"sip:other%d@lab.test" % i and inv.get(b"To") == b"<" + TARGET + b">"
    d.receive(reply(inv, 302, extra=[(b"Contact", b"<sip:loop@lab.test>")]), 200)
    assert d.state == dl.ENDED and d.final == 302


def test_hangup_before_any_provisional_waits_for_one_then_cancels():
    d = new()
    inv = sent(d)[0]
    d.hangup(10)
    assert sent(d) == [] and d.state == dl.CALLING  # RFC 3261 §9.1
    d.receive(reply(inv, 100, tag=None), 20)
    cancel = sent(d)[0]
    assert cancel.method == b"CANCEL" and cancel.branch == inv.branch and cancel.cseq == 1
    assert cancel.uri == inv.uri and cancel.get(b"Route") == ROUTE and cancel.to_tag is None
    assert d.state == dl.CANCELLING
    d.receive(reply(inv, 487), 30)
    assert [m.method for m in sent(d)] == [b"ACK"]
    assert d.state == dl.ENDED and d.end_reason == "cancelled" and d.final == 487


def test_answer_crossing_the_cancel_is_acked_and_ended_with_bye():
    d = new()
    inv = sent(d)[0]
    d.receive(reply(inv, 180), 10)
    d.hangup(20)
    assert [m.method for m in sent(d)] == [b"CANCEL"]
    d.receive(ok(inv), 30)
    assert [m.method for m in sent(d)] == [b"ACK", b"BYE"]
    assert d.state == dl.ENDED and d.end_reason == "cancelled"


def test_no_answer_timeout_cancels_and_timer_b_ends_a_silent_call():
    d = new(answer_ms=5000)
    inv = sent(d)[0]
    d.receive(reply(inv, 180), 100)
    d.handle_timer(5000)
    assert [m.method for m in sent(d)] == [b"CANCEL"] and d.end_reason == "no_answer"
    d.handle_timer(5000 + 64 * 500)  # the 487 never came
    assert d.state == dl.ENDED
    d2 = new(answer_ms=0)
    sent(d2)
    assert d2.next_timer() == 32000
    d2.handle_timer(32000)
    assert d2.state == dl.ENDED and d2.final == 408 and d2.end_reason == "timeout"


def test_unreliable_transport_retransmits_the_invite_until_a_response():
    d = new(reliable=False)
    inv = sent(d)[0]
    times = []
    now = 0
    for _ in range(3):
        now = d.next_timer()
        d.handle_timer(now)
        assert sent(d)[0].branch == inv.branch
        times.append(now)
    assert times == [500, 1500, 3500]  # Timer A doubles
    d.receive(reply(inv, 100, tag=None), now + 1)
    assert d.next_timer() == 60000  # only the answer timeout is left


def test_peer_bye_reinvite_and_out_of_order_requests_in_the_dialog():
    d = new()
    inv = sent(d)[0]
    d.receive(ok(inv), 10)
    sent(d)

    def req(method, cseq):
        raw = (method + b" sip:phone1@lab.test;gr=urn:uuid:1;ob SIP/2.0\r\n"
               b"Via: SIP/2.0/TLS 192.0.2.1;branch=z9hG4bKin%d\r\n"
               b"From: <sip:phone2@lab.test>;tag=far1\r\nTo: <sip:phone1@lab.test>;tag="
               % cseq + d.local_tag + b"\r\nCall-ID: " + d.call_id + b"\r\n"
               b"CSeq: %d " % cseq + method + b"\r\nContact: <sip:phone2@192.0.2.9>\r\n"
               b"Content-Length: 0\r\n\r\n")
        return parse(raw, 65535, datagram=False)

    d.receive(req(b"INVITE", 5), 20)
    r = sent(d)[0]
    assert r.status == 200 and r.body == OFFER and d.target == b"sip:phone2@192.0.2.9"
    d.receive(req(b"OPTIONS", 4), 30)
    assert sent(d)[0].status == 500
    d.receive(req(b"INFO", 6), 40)
    assert sent(d)[0].status == 405
    d.receive(req(b"BYE", 7), 50)
    assert sent(d)[0].status == 200
    assert d.state == dl.ENDED and d.end_reason == "bye"


def test_second_2xx_from_a_fork_is_acked_and_ended():
    d = new()
    inv = sent(d)[0]
    d.receive(ok(inv, b"far1"), 10)
    sent(d)
    d.receive(ok(inv, b"far2"), 20)
    out = sent(d)
    assert [(m.method, m.to_tag) for m in out] == [(b"ACK", b"far2"), (b"BYE", b"far2")]
    assert d.remote_tag == b"far1" and d.state == dl.CONFIRMED


# -- through the UA ---------------------------------------------------------------------------
def test_ua_dial_over_the_flow_reports_progress_answer_and_end():
    link, reg, ua, clock = setup()
    up(link)
    n = len(reg.requests)
    cid = ua.dial(TARGET, clock.now, OFFER, [(b"Answer-Mode", b"Auto")])
    link.settle()
    inv = reg.requests[n][2]
    assert inv.method == b"INVITE" and inv.call_id == cid
    assert link.of("call_outgoing")[-1].target == TARGET
    conn = last_conn(link)
    link.inject(conn, reply(inv, 180).to_bytes())
    assert link.of("call_progress")[-1].status == 180
    link.inject(conn, ok(inv).to_bytes())
    assert link.of("call_connected")[-1].call_id == cid
    assert ua.dial_answer(cid) == ANSWER
    assert reg.requests[-1][2].method == b"ACK"
    assert ua.hangup(cid, clock.now)
    link.settle()
    bye = reg.requests[-1][2]
    assert bye.method == b"BYE"
    link.inject(conn, reply(bye, 200).to_bytes())
    end = link.of("call_ended")[-1]
    assert (end.call_id, end.reason, end.status) == (cid, "hangup", 200)
    assert ua.calls == {} and ua.ctx == {}
    no_internal_errors(link)


def test_ua_dial_failure_names_status_and_reason_and_answers_peer_bye():
    link, reg, ua, clock = setup()
    up(link)
    cid = ua.dial(TARGET, clock.now, OFFER)
    link.settle()
    inv = reg.requests[-1][2]
    link.inject(last_conn(link), reply(inv, 480).to_bytes())
    f = link.of("call_failed")[-1]
    assert (f.call_id, f.status, f.reason) == (cid, 480, b"Temporarily Unavailable")
    assert link.of("call_ended")[-1].reason == "rejected"
    # a second call, ended by the peer
    cid = ua.dial(TARGET, clock.now, OFFER)
    link.settle()
    inv = reg.requests[-1][2]
    link.inject(last_conn(link), ok(inv).to_bytes())
    n = len(reg.responses)
    bye = (b"BYE sip:x SIP/2.0\r\nVia: SIP/2.0/TLS 192.0.2.1;branch=z9hG4bKpb\r\n"
           b"From: <sip:phone2@lab.test>;tag=far1\r\nTo: <sip:alice@lab.test>;tag="
           + inv.from_tag + b"\r\nCall-ID: " + cid + b"\r\nCSeq: 9 BYE\r\n"
           b"Content-Length: 0\r\n\r\n")
    link.inject(last_conn(link), bye)
    assert [r.status for r in answers(reg, n)] == [200]
    assert link.of("call_ended")[-1].reason == "bye"
    assert ua.calls == {}
    no_internal_errors(link)


def test_ua_dial_without_a_registered_flow_refuses_and_stop_cancels():
    link, reg, ua, clock = setup(start=False)
    assert ua.dial(TARGET, 0, OFFER) is None
    link.start()
    up(link)
    cid = ua.dial(TARGET, clock.now, OFFER)
    link.settle()
    inv = reg.requests[-1][2]
    link.inject(last_conn(link), reply(inv, 183).to_bytes())
    ua.stop(clock.now)
    link.settle()
    assert [r[2].method for r in reg.requests[-1:]] == [b"CANCEL"]
    assert ua.calls[cid][0].state == dl.CANCELLING
    no_internal_errors(link)
