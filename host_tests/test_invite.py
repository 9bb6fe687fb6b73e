"""INVITE server side: call states, responses, 2xx retransmission, dialog, RFC 5373 policy."""
from testutil import FakeRandom

import ivnames as iv
from tinysip.message import parse

VIA = b"SIP/2.0/TLS 0a0b0c.invalid"
CONTACT = b"sip:phone1@lab.test;gr=urn:uuid:x;ob"
OFFER = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
ANSWER = b"v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"


def req(method=b"INVITE", cseq=1, to_tag=None, extra=b"", body=b"", branch=b"z9hG4bKinv1",
        cseq_method=None):
    to = b"<sip:phone1@lab.test>" + (b";tag=" + to_tag if to_tag else b"")
    head = (method + b" sip:phone1@lab.test SIP/2.0\r\n"
            b"Via: SIP/2.0/TLS 127.0.0.1:5061;branch=" + branch + b"\r\n"
            b"Record-Route: <sip:127.0.0.1:5061;transport=tls;r2=on;lr;ftag=a>\r\n"
            b"Record-Route: <sip:127.0.0.1:5060;r2=on;lr>\r\n"
            b"From: \"Test\" <sip:tester@lab.test>;tag=caller1\r\n"
            b"To: " + to + b"\r\n"
            b"Call-ID: call-1@host\r\n"
            b"CSeq: %d %s\r\n" % (cseq, cseq_method or method) +
            b"Contact: <sip:tester@127.0.0.1:5070>\r\n"
            b"Max-Forwards: 69\r\n" + extra +
            b"Content-Length: %d\r\n\r\n" % len(body))
    return parse(head + body)


def drain(call):
    out = []
    d = call.pop_send()
    while d is not None:
        out.append(parse(d))
        d = call.pop_send()
    return out


def new_call(ring_ms=None, now=1000):
    c = iv.Call(req(body=OFFER), now, VIA, CONTACT, FakeRandom(3), t1=500, ring_ms=ring_ms)
    c.body = ANSWER
    return c


def test_auto_answer_sends_100_then_200_with_dialog_headers():
    c = new_call()
    assert [r.status for r in drain(c)] == [100]
    c.extra = [(b"Answer-Mode", b"Auto")]
    assert c.step(iv.ANSWER, 1000)
    (ok,) = drain(c)
    assert ok.status == 200 and ok.cseq_method == b"INVITE"
    assert ok.to_tag == c.local_tag and ok.from_tag == b"caller1"
    # Record-Route copied in order, Contact is our GRUU with ob (RFC 5627, RFC 5626)
    assert ok.get_all(b"Record-Route") == [b"<sip:127.0.0.1:5061;transport=tls;r2=on;lr;ftag=a>",
                                           b"<sip:127.0.0.1:5060;r2=on;lr>"]
    assert ok.get(b"Contact") == b"<" + CONTACT + b">"
    assert ok.get(b"Answer-Mode") == b"Auto"
    assert b"answermode" in ok.get(b"Supported")
    assert ok.get(b"Content-Type") == b"application/sdp" and ok.body == ANSWER
    assert c.state == iv.ANSWERED


def test_2xx_retransmitted_doubling_to_t2_until_ack():
    c = new_call()
    drain(c)
    c.step(iv.ANSWER, 1000)
    first = drain(c)[0]
    times = []
    now = 1000
    while len(times) < 6:
        now = c.next_timer()
        c.handle_timer(now)
        again = drain(c)
        assert len(again) == 1 and again[0].to_bytes() == first.to_bytes()
        times.append(now)
    gaps = [b - a for a, b in zip([1000] + times, times)]
    assert gaps == [500, 1000, 2000, 4000, 4000, 4000]
    c.receive(req(b"ACK", to_tag=c.local_tag, branch=b"z9hG4bKack1"), now)
    assert c.state == iv.CONFIRMED and c.next_timer() is None and drain(c) == []


def test_no_ack_within_timer_h_sends_bye_and_ends():
    c = new_call()
    drain(c)
    c.step(iv.ANSWER, 1000)
    drain(c)
    while c.state == iv.ANSWERED:
        c.handle_timer(c.next_timer())
    assert c.state == iv.ENDED and c.end_reason == "no_ack"
    sent = drain(c)
    bye = sent[-1]
    assert bye.method == b"BYE"
    assert c.next_timer() is None


def test_bye_uses_route_set_remote_target_and_tags():
    c = new_call()
    drain(c)
    c.step(iv.ANSWER, 1000)
    c.receive(req(b"ACK", to_tag=c.local_tag, branch=b"z9hG4bKack1"), 1100)
    drain(c)
    assert c.step(iv.HANGUP, 2000)
    (bye,) = drain(c)
    assert bye.method == b"BYE" and bye.uri == b"sip:tester@127.0.0.1:5070"
    assert bye.get_all(b"Route") == [b"<sip:127.0.0.1:5061;transport=tls;r2=on;lr;ftag=a>",
                                     b"<sip:127.0.0.1:5060;r2=on;lr>"]
    assert bye.from_tag == c.local_tag and bye.to_tag == b"caller1"
    assert bye.call_id == b"call-1@host" and bye.cseq == 1 and bye.cseq_method == b"BYE"
    assert bye.branch == c.bye_branch and bye.branch.startswith(b"z9hG4bK")
    assert bye.get(b"Via").startswith(VIA + b";branch=")
    assert c.state == iv.ENDED


def test_remote_bye_answered_200_and_call_ends():
    c = new_call()
    drain(c)
    c.step(iv.ANSWER, 1000)
    c.receive(req(b"ACK", to_tag=c.local_tag, branch=b"z9hG4bKack1"), 1100)
    drain(c)
    c.receive(req(b"BYE", cseq=2, to_tag=c.local_tag, branch=b"z9hG4bKbye1"), 5000)
    (ok,) = drain(c)
    assert ok.status == 200 and ok.cseq_method == b"BYE"
    assert c.state == iv.ENDED and c.end_reason == "bye"


def test_ringing_then_cancel_gives_200_and_487_and_ack_ends():
    c = new_call(ring_ms=30000)
    assert [r.status for r in drain(c)] == [100, 180]
    assert c.next_timer() == 31000
    c.receive(req(b"CANCEL", branch=b"z9hG4bKinv1"), 2000)
    ok, term = drain(c)
    assert (ok.status, ok.cseq_method) == (200, b"CANCEL")
    assert (term.status, term.cseq_method) == (487, b"INVITE")
    assert c.state == iv.REJECTED
    c.receive(req(b"ACK", to_tag=c.local_tag, cseq_method=b"ACK"), 2100)
    assert c.state == iv.ENDED and c.end_reason == "cancelled"


def test_ring_timeout_answers_480():
    c = new_call(ring_ms=30000)
    drain(c)
    c.handle_timer(31000)
    (r,) = drain(c)
    assert r.status == 480 and c.state == iv.REJECTED
    c.handle_timer(c.next_timer())  # Timer H without an ACK
    assert c.state == iv.ENDED and c.end_reason == "no_answer"


def test_reject_sends_chosen_status():
    c = new_call(ring_ms=30000)
    drain(c)
    c.final = 486
    c.step(iv.REJECT, 1500)
    assert [r.status for r in drain(c)] == [486]


def test_reinvite_refreshes_target_and_answers_again():
    c = new_call()
    drain(c)
    c.step(iv.ANSWER, 1000)
    c.receive(req(b"ACK", to_tag=c.local_tag, branch=b"z9hG4bKack1"), 1100)
    drain(c)
    re = req(b"INVITE", cseq=2, to_tag=c.local_tag, branch=b"z9hG4bKre1", body=OFFER,
             extra=b"")
    re.set(b"Contact", b"<sip:tester@127.0.0.2:5080>")
    c.receive(re, 3000)
    (ok,) = drain(c)
    assert ok.status == 200 and ok.cseq == 2 and ok.body == ANSWER
    assert c.target == b"sip:tester@127.0.0.2:5080" and c.state == iv.ANSWERED
    c.receive(req(b"ACK", cseq=2, to_tag=c.local_tag, branch=b"z9hG4bKack2"), 3100)
    assert c.state == iv.CONFIRMED


def test_old_cseq_gets_500_and_bye_after_end_gets_481():
    c = new_call()
    drain(c)
    c.step(iv.ANSWER, 1000)
    c.receive(req(b"ACK", to_tag=c.local_tag, branch=b"z9hG4bKack1"), 1100)
    drain(c)
    c.receive(req(b"BYE", cseq=1, to_tag=c.local_tag, branch=b"z9hG4bKold"), 1200)
    assert [r.status for r in drain(c)] == [500]
    c.receive(req(b"BYE", cseq=3, to_tag=c.local_tag, branch=b"z9hG4bKb1"), 1300)
    assert [r.status for r in drain(c)] == [200]
    c.receive(req(b"BYE", cseq=4, to_tag=c.local_tag, branch=b"z9hG4bKb2"), 1400)
    assert [r.status for r in drain(c)] == [481]


def test_call_keeps_bytes_not_the_parsed_invite():
    # the heap budget of a call: only the lines responses and the BYE need, as bytes
    inv = req(body=OFFER, extra=b"Record-Route: <sip:p3;lr>, <sip:p4;lr>\r\nX-Big: " +
              b"x" * 500 + b"\r\n")
    c = iv.Call(inv, 1000, VIA, CONTACT, FakeRandom(3), t1=500, ring_ms=30000)
    assert [r.status for r in drain(c)] == [100, 180]
    assert c.branch == b"z9hG4bKinv1" and c.cseq == 1
    for v in c.__dict__.values():  # nothing from the INVITE but bytes and ints (and the
        # tuples and lists of them: cfg, _due, out)
        for x in v if isinstance(v, (tuple, list)) else (v,):
            assert x is not inv and not isinstance(x, type(inv))
    assert b"X-Big" not in c.head + c.dlg and OFFER not in c.head + c.dlg
    inv.headers = []  # the message is gone: answering and hanging up still work
    inv.body = b""
    c.body = ANSWER
    c.step(iv.ANSWER, 1000)
    (ok,) = drain(c)
    assert ok.get_all(b"Via") == [b"SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKinv1"]
    assert ok.get(b"To") == b"<sip:phone1@lab.test>;tag=" + c.local_tag
    assert ok.get_all(b"Record-Route") == [b"<sip:127.0.0.1:5061;transport=tls;r2=on;lr;ftag=a>",
                                           b"<sip:127.0.0.1:5060;r2=on;lr>",
                                           b"<sip:p3;lr>, <sip:p4;lr>"]
    assert ok.body == ANSWER and ok.get(b"X-Big") is None
    c.receive(req(b"ACK", to_tag=c.local_tag, branch=b"z9hG4bKack1"), 1100)
    c.step(iv.HANGUP, 2000)
    (bye,) = drain(c)
    assert bye.get_all(b"Route")[-1] == b"<sip:p3;lr>, <sip:p4;lr>"
    assert bye.get(b"From") == b"<sip:phone1@lab.test>;tag=" + c.local_tag
    assert bye.get(b"To") == b"\"Test\" <sip:tester@lab.test>;tag=caller1"
    assert bye.to_bytes().count(b"\r\nRoute: ") == 3


def test_100_has_no_to_tag_and_in_dialog_answers_copy_their_request():
    c = new_call()
    (trying,) = drain(c)
    assert trying.status == 100 and trying.to_tag is None
    c.receive(req(b"CANCEL", branch=b"z9hG4bKinv1"), 1100)  # a CANCEL has no To tag
    ok, term = drain(c)
    assert ok.to_tag == c.local_tag and ok.branch == b"z9hG4bKinv1" and ok.cseq_method == b"CANCEL"
    assert ok.get(b"Allow") is None and ok.body == b""
    assert term.status == 487 and term.get(b"Allow") == iv.ALLOW and term.body == b""


def test_reinvite_answer_copies_the_reinvite_and_bye_after_it():
    c = new_call()
    drain(c)
    c.step(iv.ANSWER, 1000)
    c.receive(req(b"ACK", to_tag=c.local_tag, branch=b"z9hG4bKack1"), 1100)
    drain(c)
    re = req(b"INVITE", cseq=5, to_tag=c.local_tag, branch=b"z9hG4bKre5", body=OFFER)
    c.receive(re, 3000)
    (ok,) = drain(c)
    assert ok.branch == b"z9hG4bKre5" and ok.cseq == 5 and ok.to_tag == c.local_tag
    assert ok.get(b"To").count(b";tag=") == 1  # the re-INVITE's To already had our tag
    assert c.branch == b"z9hG4bKre5"  # a CANCEL now matches the re-INVITE
    c.receive(req(b"INVITE", cseq=6, to_tag=c.local_tag, branch=b"z9hG4bKre6"), 3100)
    (busy,) = drain(c)  # still waiting for the ACK of the first re-INVITE
    assert (busy.status, busy.cseq) == (491, 6) and busy.get(b"Allow") == iv.ALLOW
    c.receive(req(b"ACK", cseq=5, to_tag=c.local_tag, branch=b"z9hG4bKack5"), 3200)
    assert c.state == iv.CONFIRMED
    c.step(iv.HANGUP, 4000)
    (bye,) = drain(c)
    assert bye.from_tag == c.local_tag and bye.to_tag == b"caller1" and bye.cseq == 1


def test_transition_table_is_one_byte_per_cell():
    assert isinstance(iv.TRANSITIONS, bytes)
    assert iv.lookup(iv.TRANSITIONS, iv.RINGING, iv.ANSWER) == (iv.ANSWERED, 2)


def test_transition_table_has_one_row_per_state_and_input():
    t = iv.TRANSITIONS
    assert len(t) % 4 == 0
    keys = [(t[i], t[i + 1]) for i in range(0, len(t), 4)]
    for k in keys:
        assert keys.count(k) == 1, k
    assert iv.lookup(iv.TRANSITIONS, iv.ENDED, iv.BYE) == (iv.ENDED, 0)


# -- RFC 5373 ------------------------------------------------------------------------------
def test_answer_mode_parsing():
    assert iv.answer_mode(req()) is None
    m = req(extra=b"Answer-Mode: Auto\r\n")
    assert iv.answer_mode(m) == (b"Answer-Mode", b"auto", False)
    m = req(extra=b"Answer-Mode: aUTO ; require\r\n")
    assert iv.answer_mode(m) == (b"Answer-Mode", b"auto", True)
    m = req(extra=b"Answer-Mode: Manual;require\r\nPriv-Answer-Mode: Auto\r\n")
    assert iv.answer_mode(m) == (b"Priv-Answer-Mode", b"auto", False)


def test_policy_believes_only_a_trusted_assertion_never_from():
    allow = [b"sip:tester@lab.test"]
    m = req(extra=b"Answer-Mode: Auto\r\n")  # From: tester, no P-Asserted-Identity
    assert iv.caller(m, True) is None  # From alone vouches for nothing
    assert not iv.may_auto_answer(iv.caller(m, True), allow)
    m = req(extra=b"P-Asserted-Identity: \"T\" <sip:tester@lab.test>\r\n")
    assert iv.caller(m, True) == b"sip:tester@lab.test"
    assert iv.may_auto_answer(iv.caller(m, True), allow)
    assert iv.may_auto_answer(iv.caller(m, True), [b"SIP:Tester@Lab.Test"])
    assert iv.caller(m, False) is None  # an untrusted channel (UDP, not registered)
    assert not iv.may_auto_answer(iv.caller(m, True), [])  # auto-answer not configured
    m = req(extra=b"P-Asserted-Identity: <sip:mallory@lab.test>\r\n")
    assert not iv.may_auto_answer(iv.caller(m, True), allow)


def test_addr():
    assert iv.addr(b'"A" <sip:a@b>;tag=1') == b"sip:a@b"
    assert iv.addr(b"sip:a@b;tag=1") == b"sip:a@b"
    assert iv.addr(b"<sip:a@b") == b"sip:a@b"


def test_requires_unknown():
    from tinysip.headers import requires_unknown  # (always loaded; tinysip.invite is not)

    m = req(extra=b"Require: answermode, 100rel\r\n")
    assert requires_unknown(m, iv.SUPPORTED) == [b"100rel"]


def test_the_names_the_tests_use_are_the_modules_numbers():
    """invite.py keeps call states and inputs as private consts (`_C_NAME`), ua.py the ones it
    needs (`_IV_NAME`); on CPython const() is the identity, so both can be compared."""
    import sys

    from tinysip import invite
    from tinysip import ua

    assert iv.check(invite, "_C_") == [] and iv.check(ua, "_IV_") == []
    if sys.implementation.name != "micropython":
        assert len([n for n in iv.NAMES if hasattr(invite, "_C_" + n)]) == len(iv.NAMES)
        assert len([n for n in iv.NAMES if hasattr(ua, "_IV_" + n)]) >= 6


def test_100_and_head_are_the_five_lines_in_order_the_100_without_our_tag():
    c = new_call()
    lines = (b"Via: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKinv1\r\n"
             b"From: \"Test\" <sip:tester@lab.test>;tag=caller1\r\n"
             b"To: <sip:phone1@lab.test>%s\r\nCall-ID: call-1@host\r\nCSeq: 1 INVITE\r\n")
    assert c.pop_send() == (b"SIP/2.0 100 Trying\r\n" + lines % b"" +
                            b"Content-Length: 0\r\n\r\n")
    assert c.head == lines % (b";tag=" + c.local_tag)
    assert c.dlg == (b"Record-Route: <sip:127.0.0.1:5061;transport=tls;r2=on;lr;ftag=a>\r\n"
                     b"Record-Route: <sip:127.0.0.1:5060;r2=on;lr>\r\n"
                     b"Contact: <" + CONTACT + b">\r\n")
    c.extra = ((b"Answer-Mode", b"Auto"),)
    c.step(iv.ANSWER, 1000)
    assert c.pop_send() == (b"SIP/2.0 200 OK\r\n" + c.head + c.dlg +
                            b"Allow: INVITE, ACK, BYE, CANCEL, OPTIONS\r\n"
                            b"Supported: outbound, path, gruu, answermode\r\n"
                            b"Answer-Mode: Auto\r\nContent-Type: application/sdp\r\n"
                            b"Content-Length: %d\r\n\r\n" % len(ANSWER) + ANSWER)
    # a response to another request copies that request's lines (its To has our tag)
    c.receive(req(b"OPTIONS", cseq=2, to_tag=c.local_tag, branch=b"z9hG4bKopt"), 1000)
    ok = c.pop_send()
    assert ok.startswith(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKopt"
                         b"\r\n")
    assert b"To: <sip:phone1@lab.test>;tag=" + c.local_tag + b"\r\nCall-ID: call-1@host\r\n"\
        b"CSeq: 2 OPTIONS\r\n" in ok and ok.count(b";tag=" + c.local_tag) == 1
