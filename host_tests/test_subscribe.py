"""tinysip.subscribe: one RFC 6665 subscription of ours (SUBSCRIBE out, NOTIFY in), on virtual
time, with the notifier's answers built by hand or with message.response."""
from testutil import FakeRandom, raises

from tinysip import invite
from tinysip import subscribe as sb
from tinysip.message import parse, request, response

TARGET = b"sip:voicemail@lab.test"
LOCAL = b"sip:phone1@lab.test"
CONTACT = b"sip:phone1@lab.test;gr=urn:uuid:1;ob"
ROUTE = b"<sip:192.0.2.1:5061;transport=tls;lr>"
EVENT = b"message-summary"
ACCEPT = b"application/simple-message-summary"
MWI = b"Messages-Waiting: yes\r\nVoice-Message: 2/8 (0/2)\r\n"
NOTIFIER = b"sip:vm@192.0.2.9;transport=tls"
T1 = 500
# subscribe's private constants (a public one costs the phone an interned name)
SUBSCRIBING, PENDING, ACTIVE, WAITING, UNSUBSCRIBING, TERMINATED = 0, 1, 2, 3, 4, 5
RETRY_DEFAULT_MS = 60000


def new(now=0, digest=None, expires=3600, event=EVENT):
    return sb.Subscription(TARGET, event, ACCEPT, LOCAL, b"SIP/2.0/TLS abc.invalid", CONTACT,
                           [ROUTE], expires, now, FakeRandom(7), digest, T1, b"tinysip/test")


def sent(s):
    out = []
    x = s.pop_send()
    while x is not None:
        out.append(parse(x, 65535, datagram=False))
        x = s.pop_send()
    return out


def one(s):
    out = sent(s)
    assert len(out) == 1, [m.method or m.status for m in out]
    return out[0]


def reply(req, status, tag=b"vm1", extra=()):
    r = response(req, status, to_tag=tag)
    for n, v in extra:
        r.add(n, v)
    return parse(r.to_bytes(), 65535, datagram=False)


def ok(req, expires=b"3600", tag=b"vm1"):
    return reply(req, 200, tag, [(b"Record-Route", b"<sip:p2.lab.test;lr>"),
                                 (b"Record-Route", b"<sip:p1.lab.test;lr>"),
                                 (b"Contact", b"<" + NOTIFIER + b">"),
                                 (b"Expires", expires)])


def notify(req, state, cseq=1, tag=b"vm1", body=MWI, event=EVENT, call_id=None, to_tag=None,
           extra=()):
    """A NOTIFY from the notifier for the SUBSCRIBE `req` (state None: no Subscription-State)."""
    m = request(b"NOTIFY", CONTACT)
    m.add(b"Via", b"SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKn%d" % cseq)
    for n, v in extra:
        m.add(n, v)
    m.add(b"From", b"<" + TARGET + b">;tag=" + tag)
    m.add(b"To", b"<" + LOCAL + b">;tag=" + (to_tag or req.from_tag))
    m.add(b"Call-ID", call_id or req.call_id)
    m.add(b"CSeq", b"%d NOTIFY" % cseq)
    m.add(b"Contact", b"<" + NOTIFIER + b">")
    if event is not None:
        m.add(b"Event", event)
    if state is not None:
        m.add(b"Subscription-State", state)
    if body:
        m.add(b"Content-Type", ACCEPT)
        m.body = body
    return parse(m.to_bytes(), 65535, datagram=False)


def active(now=0, expires=b"3600"):
    """A subscription that got its 2xx and its first NOTIFY at `now`; (sub, SUBSCRIBE)."""
    s = new(now)
    req = one(s)
    s.receive(ok(req, expires), now)
    s.receive(notify(req, b"active;expires=" + expires), now)
    assert s.state == ACTIVE
    ans = one(s)
    assert ans.status == 200
    s.notifications = []
    return s, req


# -- the initial SUBSCRIBE and its dialog ---------------------------------------------------
def test_initial_subscribe_carries_event_accept_expires_contact_and_route():
    s = new(1000)
    req = one(s)
    assert req.method == b"SUBSCRIBE" and req.uri == TARGET
    assert req.get(b"Event") == EVENT and req.get(b"Accept") == ACCEPT
    assert req.get(b"Expires") == b"3600"
    assert req.get(b"Contact") == b"<" + CONTACT + b">"
    assert req.get(b"Route") == ROUTE and req.get(b"Supported")
    assert req.get(b"User-Agent") == b"tinysip/test"
    assert req.from_tag == s.local_tag and req.to_tag is None
    assert req.cseq == 1 and req.branch.startswith(b"z9hG4bK") and req.call_id == s.call_id
    assert req.body == b""
    assert s.state == SUBSCRIBING and s.next_timer() == 1000 + 64 * T1  # Timer N


def test_expires_must_be_positive():
    e = raises(ValueError, new, 0, None, 0)
    assert "expires" in str(e)


def test_200_then_notify_active_hands_the_body_to_the_application():
    s = new(0)
    req = one(s)
    s.receive(reply(req, 100), 10)
    assert s.state == SUBSCRIBING and sent(s) == []
    assert s.receive(ok(req), 100)
    assert s.state == SUBSCRIBING and sent(s) == [] and s.granted_s == 3600
    assert s.remote_tag == b"vm1" and s.target == NOTIFIER
    assert s.route == (b"<sip:p1.lab.test;lr>", b"<sip:p2.lab.test;lr>")
    n = notify(req, b"active;expires=3599")
    assert s.receive(n, 200)
    ans = one(s)
    assert ans.status == 200 and ans.cseq == 1 and ans.cseq_method == b"NOTIFY"
    assert ans.get(b"Contact") == b"<" + CONTACT + b">"
    assert s.state == ACTIVE
    st, reason, ctype, body, msg = s.notifications.pop(0)
    assert (st, reason, ctype, body) == (b"active", None, ACCEPT, MWI) and msg is n
    assert s.notifications == []
    # Timer N is gone; the refresh is due between 75 % and 90 % of the 3599 s just granted
    t = s.next_timer()
    assert 200 + 3599 * 750 <= t <= 200 + 3599 * 900


def test_notify_before_the_200_creates_the_dialog():
    s = new(0)
    req = one(s)
    n = notify(req, b"pending", body=b"", extra=[(b"Record-Route", b"<sip:p1.lab.test;lr>"),
                                                 (b"Record-Route", b"<sip:p2.lab.test;lr>")])
    s.receive(n, 50)
    assert one(s).status == 200
    assert s.state == PENDING and s.remote_tag == b"vm1" and s.target == NOTIFIER
    # as the NOTIFY's UAS the route set keeps the Record-Route order (RFC 3261 §12.1.1)
    assert s.route == (b"<sip:p1.lab.test;lr>", b"<sip:p2.lab.test;lr>")
    assert s.notifications.pop(0)[:2] == (b"pending", None)
    # the late 2xx of the same dialog changes no route, but its Expires arms the refresh
    s.receive(ok(req, b"600"), 80)
    assert sent(s) == [] and s.state == PENDING and s.granted_s == 600
    assert s.route == (b"<sip:p1.lab.test;lr>", b"<sip:p2.lab.test;lr>")
    s.receive(notify(req, b"active", cseq=2), 90)
    assert one(s).status == 200 and s.state == ACTIVE
    s.handle_timer(s.next_timer())
    ref = one(s)
    assert ref.uri == NOTIFIER and ref.to_tag == b"vm1" and ref.cseq == 2
    assert ref.get_all(b"Route") == [b"<sip:p1.lab.test;lr>", b"<sip:p2.lab.test;lr>"]


def test_2xx_from_another_fork_is_ignored_and_its_notify_gets_481():
    s = new(0)
    req = one(s)
    s.receive(notify(req, b"active;expires=600"), 10)
    assert one(s).status == 200
    s.receive(ok(req, b"9999", tag=b"other"), 20)
    assert sent(s) == [] and s.granted_s == 600 and s.remote_tag == b"vm1"
    assert not s.receive(notify(req, b"active", tag=b"other"), 30)
    assert one(s).status == 481 and s.notifications[1:] == []


# -- refresh -----------------------------------------------------------------------------------
def refresh_ms(expires, r):
    """When a subscription granted `expires` s by its 2xx refreshes (ms after the 2xx), its
    random byte being r."""
    s = sb.Subscription(TARGET, EVENT, ACCEPT, LOCAL, b"SIP/2.0/TLS abc.invalid", CONTACT,
                        [ROUTE], 3600, 0, lambda n: bytes([r]) * n, None, T1)
    req = one(s)
    s.receive(ok(req, b"%d" % expires), 100)
    s.receive(notify(req, b"active"), 200)  # Timer N ends: only the refresh and expiry wait
    assert one(s).status == 200 and s.granted_s == expires
    return s.next_timer() - 100


def test_refresh_ms_policy():
    # 75 %..90 % of the grant, at least 64*T1 before its end, never before half of it
    assert refresh_ms(3600, 0) == 2700000
    assert refresh_ms(3600, 255) == 3240000
    assert refresh_ms(120, 255) == 120000 - 32000
    assert refresh_ms(60, 100) == 30000
    assert refresh_ms(1, 0) == 500


def test_refresh_in_the_dialog_with_the_next_cseq_and_rearmed_by_notify_expires():
    s, req = active(0)
    t = s.next_timer()
    assert 2700000 <= t <= 3240000
    s.handle_timer(t - 1)
    assert sent(s) == []
    s.handle_timer(t)
    ref = one(s)
    assert ref.method == b"SUBSCRIBE" and ref.cseq == 2 and ref.call_id == req.call_id
    assert ref.from_tag == req.from_tag and ref.to_tag == b"vm1" and ref.uri == NOTIFIER
    assert ref.get_all(b"Route") == [b"<sip:p1.lab.test;lr>", b"<sip:p2.lab.test;lr>"]
    assert ref.get(b"Expires") == b"3600" and ref.branch != req.branch
    assert s.next_timer() == 3600000  # only the expiry until the 2xx re-arms the refresh
    s.receive(ok(ref, b"1800"), t + 10)
    assert s.granted_s == 1800 and t + 10 + 1350000 <= s.next_timer() <= t + 10 + 1620000
    # a NOTIFY's expires parameter is authoritative too
    s.receive(notify(req, b"active;expires=100", cseq=2), t + 20)
    assert one(s).status == 200 and s.granted_s == 100
    assert s.next_timer() == t + 20 + 100000 - 32000
    assert s.state == ACTIVE


def test_refresh_answered_481_starts_a_new_subscription():
    s, req = active(0)
    s.handle_timer(s.next_timer())
    ref = one(s)
    s.receive(reply(ref, 481), 2800000)
    new_req = one(s)
    assert new_req.method == b"SUBSCRIBE" and new_req.call_id != req.call_id
    assert new_req.from_tag != req.from_tag and new_req.to_tag is None
    assert new_req.uri == TARGET and new_req.get(b"Route") == ROUTE
    assert s.state == SUBSCRIBING and s.count == 2 and s.status == 481
    # the old dialog is gone: its NOTIFYs get 481
    assert not s.receive(notify(req, b"active", cseq=5), 2800010)
    assert one(s).status == 481


def test_refresh_failing_otherwise_keeps_the_subscription_until_it_expires():
    s, req = active(0)
    s.handle_timer(s.next_timer())
    ref = one(s)
    s.receive(reply(ref, 503), 2800000)
    assert sent(s) == [] and s.state == ACTIVE and s.status == 503
    assert s.next_timer() == 3600000
    s.handle_timer(3600000)  # expired: a fresh subscription at once
    new_req = one(s)
    assert new_req.to_tag is None and new_req.call_id != req.call_id
    assert s.state == SUBSCRIBING and s.status == 408


# -- failures of the initial SUBSCRIBE ---------------------------------------------------------
def test_401_is_answered_once_with_credentials_then_success():
    s = new(0, (b"phone1", b"secret", FakeRandom(3)))
    req = one(s)
    s.receive(reply(req, 401, extra=[(b"WWW-Authenticate",
                                      b'Digest realm="lab.test", nonce="abc", qop="auth"')]), 10)
    again = one(s)
    assert again.cseq == 2 and again.call_id == req.call_id and again.from_tag == req.from_tag
    assert again.get(b"Authorization").startswith(b"Digest username=\"phone1\"")
    assert s.state == SUBSCRIBING and s.next_timer() == 10 + 64 * T1
    s.receive(reply(req, 200), 20)  # a late answer to the first SUBSCRIBE: ignored
    assert s.remote_tag is None
    s.receive(ok(again), 30)
    s.receive(notify(req, b"active"), 40)
    assert one(s).status == 200 and s.state == ACTIVE


def test_credentials_make_the_digest_state_only_when_a_challenge_comes():
    # issue 16: a subscription holds its credentials until a 401/407 needs a digest state,
    # and then plain data: tinysip.digest is loaded for the challenge and dropped again
    import sys

    creds = (b"phone1", b"secret", FakeRandom(3))
    s = new(0, creds)
    req = one(s)
    assert s.digest is creds
    s.receive(reply(req, 407, extra=[(b"Proxy-Authenticate",
                                      b'Digest realm="lab.test", nonce="abc", qop="auth"')]), 10)
    again = one(s)
    assert type(s.digest) is list and again.cseq == 2
    assert "tinysip.digest" not in sys.modules
    assert again.get(b"Proxy-Authorization").startswith(b"Digest username=\"phone1\"")
    s.receive(ok(again), 20)
    s.receive(notify(req, b"active"), 30)
    assert one(s).status == 200 and s.state == ACTIVE


def test_401_with_the_same_nonce_again_fails():
    s = new(0, (b"phone1", b"wrong", FakeRandom(3)))
    req = one(s)
    ch = [(b"WWW-Authenticate", b'Digest realm="lab.test", nonce="abc", qop="auth"')]
    s.receive(reply(req, 401, extra=ch), 10)
    again = one(s)
    s.receive(reply(again, 401, extra=ch), 20)
    assert sent(s) == [] and s.state == TERMINATED and s.status == 401
    assert b"credentials" in s.reason and s.next_timer() is None


def test_401_without_credentials_fails():
    s = new(0)
    s.receive(reply(one(s), 407), 10)
    assert s.state == TERMINATED and s.status == 407 and sent(s) == []


def test_423_retries_with_min_expires():
    s = new(0)
    req = one(s)
    s.receive(reply(req, 423, extra=[(b"Min-Expires", b"7200")]), 10)
    again = one(s)
    assert again.get(b"Expires") == b"7200" and again.cseq == 2 and s.expires == 7200
    s.receive(reply(again, 423, extra=[(b"Min-Expires", b"7200")]), 20)  # not above ours
    assert s.state == TERMINATED and s.status == 423 and sent(s) == []


def test_489_bad_event_and_other_finals_fail_with_status_and_reason():
    for status, reason in ((489, b"Bad Event"), (302, b"Moved Temporarily"), (403, b"Forbidden"),
                           (503, b"Service Unavailable"), (603, b"Decline")):
        s = new(0)
        r = response(one(s), status, reason, to_tag=b"x")
        r.add(b"Contact", b"<sip:elsewhere@lab.test>")
        s.receive(parse(r.to_bytes(), 65535, datagram=False), 10)
        assert s.state == TERMINATED and s.status == status and s.reason == reason
        assert sent(s) == [] and s.next_timer() is None  # 3xx not followed


def test_no_response_within_64_t1_fails_408():
    s = new(1000)
    one(s)
    s.handle_timer(1000 + 64 * T1 - 1)
    assert s.state == SUBSCRIBING
    s.handle_timer(1000 + 64 * T1)
    assert s.state == TERMINATED and s.status == 408 and b"no response" in s.reason
    assert sent(s) == [] and s.next_timer() is None


def test_2xx_without_notify_fails_at_timer_n():
    s = new(0)
    s.receive(ok(one(s)), 100)
    s.handle_timer(64 * T1)
    assert s.state == TERMINATED and s.status == 408 and b"NOTIFY" in s.reason


# -- NOTIFY matching ------------------------------------------------------------------------
def test_notify_that_matches_nothing_gets_481():
    s, req = active(0)
    cases = (
        notify(req, b"active", cseq=2, call_id=b"someone-else@x"),
        notify(req, b"active", cseq=2, to_tag=b"not-our-tag"),
        notify(req, b"active", cseq=2, event=b"presence"),
        notify(req, b"active", cseq=2, event=b"Message-Summary"),  # compared byte by byte
        notify(req, b"active", cseq=2, event=EVENT + b";id=7"),  # an id never matches none
        notify(req, b"active", cseq=2, event=None),
        notify(req, b"active", cseq=2, tag=b"another-dialog"),
    )
    for n in cases:
        assert not s.receive(n, 10)
        ans = one(s)
        assert ans.status == 481 and ans.call_id == n.call_id
    assert s.notifications == [] and s.state == ACTIVE
    # Event parameters other than id do not matter
    assert s.receive(notify(req, b"active", cseq=2, event=EVENT + b";foo=bar"), 20)
    assert one(s).status == 200


def test_notify_with_compact_headers():
    s, req = active(0)
    raw = (b"NOTIFY " + CONTACT + b" SIP/2.0\r\n"
           b"v: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKc1\r\n"
           b"f: <" + TARGET + b">;tag=vm1\r\nt: <" + LOCAL + b">;tag=" + req.from_tag + b"\r\n"
           b"i: " + req.call_id + b"\r\nCSeq: 2 NOTIFY\r\no: " + EVENT + b"\r\n"
           b"subscription-state: active;expires=60\r\nc: " + ACCEPT + b"\r\n"
           b"l: %d\r\n\r\n" % len(MWI)) + MWI
    assert s.receive(parse(raw, 65535, datagram=False), 10)
    assert one(s).status == 200 and s.granted_s == 60
    assert s.notifications.pop(0)[:4] == (b"active", None, ACCEPT, MWI)


def test_event_id_must_match():
    s = new(0, event=b"message-summary;id=42")
    req = one(s)
    assert not s.receive(notify(req, b"active", event=b"message-summary;id=43"), 10)
    assert one(s).status == 481
    assert s.receive(notify(req, b"active", event=b"message-summary; id=42"), 10)
    assert one(s).status == 200 and s.state == ACTIVE


def test_notify_out_of_cseq_order_gets_500():
    s, req = active(0)
    s.receive(notify(req, b"active", cseq=5), 10)
    assert one(s).status == 200
    s.receive(notify(req, b"active", cseq=4), 20)
    assert one(s).status == 500 and len(s.notifications) == 1


def test_other_requests_in_the_dialog_get_405():
    s, req = active(0)
    m = request(b"OPTIONS", CONTACT)
    m.add(b"Via", b"SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKo1")
    m.add(b"From", b"<" + TARGET + b">;tag=vm1")
    m.add(b"To", b"<" + LOCAL + b">;tag=" + req.from_tag)
    m.add(b"Call-ID", req.call_id)
    m.add(b"CSeq", b"9 OPTIONS")
    s.receive(parse(m.to_bytes(), 65535, datagram=False), 10)
    ans = one(s)
    assert ans.status == 405 and b"NOTIFY" in ans.get(b"Allow")


# -- Subscription-State -----------------------------------------------------------------------
def test_malformed_subscription_state_gets_400_and_changes_nothing():
    s, req = active(0)
    before = s.next_timer()
    bad = (
        notify(req, None, cseq=2),
        notify(req, b"active;expires=soon", cseq=3),
        notify(req, b"active;;expires=10", cseq=4),
        notify(req, b"terminated;retry-after=", cseq=5),
        notify(req, b";reason=timeout", cseq=6),
        notify(req, b"active", cseq=7, extra=[(b"Subscription-State", b"pending")]),
    )
    for n in bad:
        assert s.receive(n, 10)
        ans = one(s)
        assert ans.status == 400 and b"Subscription-State" in ans.reason
    assert s.notifications == [] and s.state == ACTIVE and s.next_timer() == before
    # an unknown substate is well formed: accepted and handed on, the state stays
    s.receive(notify(req, b"Probing;expires=10", cseq=8), 20)
    assert one(s).status == 200 and s.state == ACTIVE and s.next_timer() == before
    assert s.notifications.pop(0)[0] == b"probing"
    # the dialog still works
    s.receive(notify(req, b"TERMINATED;Reason=NoResource", cseq=9), 30)
    assert one(s).status == 200 and s.state == TERMINATED and s.reason == b"noresource"


def notify_state(values, now=64 * T1):
    """A new subscription's answer to a NOTIFY with these Subscription-State values, what it
    handed on ((substate, reason) or None) and the subscription."""
    s = new(now=0)
    req = one(s)
    extra = [(b"Subscription-State", v) for v in values[1:]]
    s.receive(notify(req, values[0] if values else None, extra=extra), now)
    status = one(s).status
    return status, (s.notifications[-1][:2] if s.notifications else None), s


def test_parse_state():
    status, handed, s = notify_state([b"active;expires=60"])
    assert status == 200 and handed == (b"active", None) and s.granted_s == 60
    status, handed, s = notify_state([b"terminated ; reason=giveup ; retry-after=30"])
    assert status == 200 and handed == (b"terminated", b"giveup")
    assert s.state == WAITING and s.next_timer() == 64 * T1 + 30000
    status, handed, s = notify_state([b'pending;x="a;b"'])
    assert status == 200 and handed == (b"pending", None) and s.granted_s == 3600
    for v in ([], [b""], [b"active", b"active"], [b"act ive"], [b"terminated;reason="]):
        status, handed, s = notify_state(v)
        assert status == 400 and handed is None and s.state == SUBSCRIBING, v


def retry_ms(reason, retry_after, lived):
    """What a subscription does when a NOTIFY ends it `lived` ms after it started: None
    (never again), 0 (a new SUBSCRIBE at once) or how long it waits (ms)."""
    s = new(now=0)
    req = one(s)
    state = b"terminated"
    if reason is not None:
        state += b";reason=" + reason
    if retry_after is not None:
        state += b";retry-after=%d" % retry_after
    s.receive(notify(req, state), lived)
    out = sent(s)
    assert out[0].status == 200
    if s.state == TERMINATED:
        assert len(out) == 1
        return None
    if s.state == WAITING:
        assert len(out) == 1
        return s.next_timer() - lived
    assert s.state == SUBSCRIBING and [m.method for m in out[1:]] == [b"SUBSCRIBE"]
    return 0


def test_retry_ms_policy():
    long = 64 * T1
    for reason, ra, want in (
        (b"deactivated", None, 0), (b"deactivated", 99, 0), (b"timeout", None, 0),
        (b"probation", 120, 120000), (b"probation", None, RETRY_DEFAULT_MS),
        (b"giveup", 30, 30000), (b"giveup", None, RETRY_DEFAULT_MS),
        (b"rejected", 5, None), (b"noresource", None, None), (b"invariant", None, None),
        (b"whatever", None, RETRY_DEFAULT_MS), (b"whatever", 10, 10000),
        (None, None, RETRY_DEFAULT_MS), (None, 0, 0),
    ):
        assert retry_ms(reason, ra, long) == want, (reason, ra)
    # a subscription ended right after it began waits instead of looping
    assert retry_ms(b"deactivated", None, long - 1) == RETRY_DEFAULT_MS


def test_terminated_reasons():
    now = 600000  # the subscriptions below lived ten minutes before they ended
    for state, wait in (
        (b"terminated;reason=deactivated", 0),
        (b"terminated;reason=timeout;retry-after=50", 0),
        (b"terminated;reason=probation;retry-after=120", 120000),
        (b"terminated;reason=probation", RETRY_DEFAULT_MS),
        (b"terminated;reason=giveup;retry-after=30", 30000),
        (b"terminated;reason=giveup", RETRY_DEFAULT_MS),
        (b"terminated;reason=rejected", None),
        (b"terminated;reason=noresource;retry-after=5", None),
        (b"terminated;reason=invariant", None),
        (b"terminated;reason=moved-to-mars", RETRY_DEFAULT_MS),
        (b"terminated;reason=moved-to-mars;retry-after=10", 10000),
        (b"terminated", RETRY_DEFAULT_MS),
    ):
        s, req = active(0)
        s.receive(notify(req, state, cseq=2, body=b""), now)
        out = sent(s)
        assert out[0].status == 200, state  # the final NOTIFY is acknowledged first
        assert len(out) == (2 if wait == 0 else 1), state
        assert s.notifications.pop(0)[0] == b"terminated"
        assert s.status == 0 and s.reason == (
            state.partition(b"reason=")[2].partition(b";")[0] or b"terminated")
        if wait is None:
            assert s.state == TERMINATED and sent(s) == [] and s.next_timer() is None, state
            continue
        if wait:
            assert s.state == WAITING and s.next_timer() == now + wait and sent(s) == [], state
            assert s.next_timer() == now + wait
            s.handle_timer(now + wait - 1)
            assert sent(s) == []
            s.handle_timer(now + wait)
            out = [None] + sent(s)
        assert len(out) == 2, state
        new_req = out[1]
        assert new_req.call_id != req.call_id and new_req.to_tag is None, state
        assert s.state == SUBSCRIBING and s.count == 2
        # the old dialog's NOTIFYs are no longer ours
        s.receive(notify(req, b"active", cseq=3), now + wait + 1)
        assert one(s).status == 481


def test_deactivated_right_after_subscribing_waits_instead_of_looping():
    s = new(0)
    req = one(s)
    s.receive(ok(req), 10)
    s.receive(notify(req, b"terminated;reason=deactivated", body=b""), 20)
    assert one(s).status == 200
    assert s.state == WAITING and s.next_timer() == 20 + RETRY_DEFAULT_MS


def test_terminated_before_the_2xx_and_the_late_2xx_is_ignored():
    s = new(0)
    req = one(s)
    s.receive(notify(req, b"terminated;reason=rejected", body=b""), 10)
    assert one(s).status == 200 and s.state == TERMINATED
    assert not s.receive(ok(req), 20)
    assert sent(s) == [] and s.state == TERMINATED


# -- unsubscribe ------------------------------------------------------------------------------
def test_unsubscribe_sends_expires_0_and_ends_on_the_terminated_notify():
    s, req = active(0)
    assert s.unsubscribe(1000)
    un = one(s)
    assert un.method == b"SUBSCRIBE" and un.get(b"Expires") == b"0" and un.cseq == 2
    assert un.to_tag == b"vm1" and un.uri == NOTIFIER and un.call_id == req.call_id
    assert s.state == UNSUBSCRIBING and s.next_timer() == 1000 + 64 * T1
    s.receive(reply(un, 200, extra=[(b"Expires", b"0")]), 1010)
    assert s.state == UNSUBSCRIBING and sent(s) == []
    s.receive(notify(req, b"active;expires=10", cseq=2), 1015)  # crossed the unsubscribe
    assert one(s).status == 200 and s.state == UNSUBSCRIBING
    s.receive(notify(req, b"terminated;reason=timeout", cseq=3, body=b""), 1020)
    assert one(s).status == 200
    assert s.state == TERMINATED and sent(s) == [] and s.next_timer() is None
    assert not s.unsubscribe(1030)


def test_unsubscribe_without_final_notify_ends_after_64_t1():
    s, req = active(0)
    s.unsubscribe(1000)
    s.receive(reply(one(s), 200), 1010)
    s.handle_timer(1000 + 64 * T1)
    assert s.state == TERMINATED and sent(s) == [] and s.next_timer() is None


def test_unsubscribe_before_the_dialog_waits_for_it():
    s = new(0)
    req = one(s)
    s.unsubscribe(10)
    assert sent(s) == [] and s.state == UNSUBSCRIBING
    s.receive(ok(req), 20)
    un = one(s)
    assert un.get(b"Expires") == b"0" and un.to_tag == b"vm1" and un.cseq == 2
    assert s.next_timer() == 20 + 64 * T1  # no refresh is armed
    s.receive(notify(req, b"terminated;reason=timeout", body=b""), 30)
    assert one(s).status == 200 and s.state == TERMINATED


def test_unsubscribe_before_the_dialog_goes_in_the_dialog_a_first_notify_makes():
    s = new(0)
    req = one(s)
    s.unsubscribe(10)
    s.receive(notify(req, b"active;expires=600"), 20)  # before the 2xx (RFC 6665 §4.1.2.4)
    ans, un = sent(s)
    assert ans.status == 200 and un.get(b"Expires") == b"0" and un.to_tag == b"vm1"
    assert un.cseq == 2 and s.state == UNSUBSCRIBING
    s.receive(reply(req, 200), 30)  # the late 2xx to the initial SUBSCRIBE: nothing again
    assert sent(s) == [] and s.state == UNSUBSCRIBING


def test_a_challenge_to_the_initial_subscribe_while_its_unsubscribe_waits_ends_it():
    s = new(0, (b"phone1", b"secret", FakeRandom(3)))
    req = one(s)
    s.unsubscribe(10)
    s.receive(reply(req, 401, extra=[(b"WWW-Authenticate",
                                      b'Digest realm="lab.test", nonce="abc", qop="auth"')]), 20)
    assert sent(s) == [] and s.state == TERMINATED and s.status == 401


def test_unsubscribe_while_waiting_to_retry_ends_at_once():
    s, req = active(0)
    s.receive(notify(req, b"terminated;reason=probation;retry-after=60", cseq=2), 100000)
    one(s)
    assert s.state == WAITING
    assert s.unsubscribe(100010)
    assert s.state == TERMINATED and sent(s) == [] and s.next_timer() is None


def test_transition_table_is_well_formed():
    t = sb.TRANSITIONS
    assert len(t) % 4 == 0
    seen = []
    for i in range(0, len(t), 4):
        key = (t[i], t[i + 1])
        assert key not in seen, key
        seen.append(key)
        for state in (t[i], t[i + 2]):
            assert SUBSCRIBING <= state <= TERMINATED
    assert invite.lookup(sb.TRANSITIONS, TERMINATED, 8) == (TERMINATED, 0)  # 8: _UNSUB
