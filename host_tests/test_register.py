"""REGISTER building and answer handling for one flow (RFC 3261 §10.2, RFC 5626, RFC 5627)."""
from testutil import R_FAIL, R_OK, R_PROVISIONAL, R_RETRY
from testutil import FakeRandom

from tinysip import digest
from tinysip.compat import md5_hex
from tinysip.headers import parse_name_addr, parse_via, split_top, tokens, unquote
from tinysip.message import contacts, parse, response
from tinysip.register import Registration
from tinysip.uri import parse_uri

MAX_AUTH_ROUNDS = 3  # register._MAX_AUTH_ROUNDS: challenges answered in one attempt
INSTANCE = b"urn:uuid:00000000-0000-1000-8000-aabbccddeeff"
OTHER = b"urn:uuid:99999999-0000-1000-8000-000000000001"
AOR = b"sip:alice@lab.test"
ROUTE = b"<sips:edge1.lab.test;lr>"
PASSWORD = b"secret"


def auth_params(value):
    """Lower-case name -> unquoted value of a `Digest ...` credentials value."""
    scheme, _, rest = value.strip().partition(b" ")
    assert scheme == b"Digest"
    out = {}
    for piece in split_top(rest, 44):
        name, _, val = piece.partition(b"=")
        out[name.strip().lower()] = unquote(val.strip())
    return out


def make(reg_id=1, expires=3600, password=PASSWORD, seed=1, transport=b"TLS", aor=AOR,
         route=ROUTE):
    rng = FakeRandom(seed)
    return Registration(parse_uri(aor), INSTANCE, reg_id, expires, route, transport,
                        (b"alice", password, rng), rng, b"tinysip/test")


def build(reg, expires=None):
    data, branch = reg.build(expires)
    assert isinstance(data, bytes)
    msg = parse(data, 65535, datagram=False)  # a stream message: needs Content-Length
    assert msg.branch == branch
    return msg


def answer(req, status, headers=(), reason=None):
    resp = response(req, status, reason, to_tag=b"srv1")
    for name, value in headers:
        resp.add(name, value)
    return parse(resp.to_bytes(), 65535, datagram=False)


def challenge(nonce=b"n1", realm=b"lab.test", name=b"WWW-Authenticate", extra=b""):
    return (name, b'Digest realm="' + realm + b'", nonce="' + nonce
            + b'", qop="auth", algorithm=MD5' + extra)


def our_contact(reg_id=1, params=b""):
    v = b'<sip:alice@198.51.100.7:50001;transport=tls;ob>;+sip.instance="<' + INSTANCE + b'>"'
    if reg_id is not None:
        v += b";reg-id=%d" % reg_id
    return (b"Contact", v + params)


def other_contacts():
    return [
        (b"Contact", b'<sip:bob@203.0.113.9>;+sip.instance="<' + OTHER
         + b'>";reg-id=1;expires=1111;pub-gruu="sip:other@lab.test;gr";temp-gruu="sip:o@x;gr"'),
        (b"Contact", b'<sip:alice@203.0.113.7>;+sip.instance="<' + INSTANCE
         + b'>";reg-id=7;expires=2222;pub-gruu="sip:ghost@lab.test;gr"'),
        (b"Contact", b"<sip:alice@198.51.100.1>;expires=3333"),
    ]


# -- the REGISTER itself ------------------------------------------------------------------------
def test_register_parses_with_our_parser():
    reg = make()
    msg = build(reg)
    assert msg.method == b"REGISTER"
    assert msg.uri == b"sip:lab.test"  # the AOR's domain
    assert msg.get(b"Max-Forwards") == b"70"
    assert msg.get(b"Content-Length") == b"0"
    assert msg.body == b""
    assert msg.cseq == 1 and msg.cseq_method == b"REGISTER"
    assert msg.from_tag is not None and len(msg.from_tag) >= 8
    assert msg.to_tag is None
    assert parse_name_addr(msg.get(b"From")).uri.to_bytes() == AOR
    assert parse_name_addr(msg.get(b"To")).uri.to_bytes() == AOR
    assert msg.get(b"User-Agent") == b"tinysip/test"
    assert msg.get(b"Authorization") is None


def test_register_via():
    reg = make()
    msg = build(reg)
    vias = msg.values(b"Via")
    assert len(vias) == 1  # the edge must be the first hop (single Via)
    v = parse_via(vias[0])
    assert v.transport == b"TLS"
    assert v.branch.startswith(b"z9hG4bK") and len(v.branch) > 7
    assert v.host.endswith(b".invalid")
    assert any(n == b"rport" for n, _ in v.params)


def test_register_supported_outbound_path_gruu():
    msg = build(make())
    assert tokens(msg.get_all(b"Supported")) == [b"outbound", b"path", b"gruu"]
    assert msg.get(b"Require") is None  # the tag goes in Supported, not Require


def test_register_contact_instance_and_reg_id():
    msg = build(make(reg_id=2))
    cs = contacts(msg)
    assert len(cs) == 1
    c = cs[0]
    # quoted, with <> inside (RFC 5626 §4.1)
    assert c.param(b"+sip.instance") == b'"<' + INSTANCE + b'>"'
    assert c.param(b"reg-id") == b"2"
    assert c.uri.param(b"transport") == b"tls"
    assert c.uri.user == b"alice"
    raw = msg.get(b"Contact")
    assert b'+sip.instance="<urn:uuid:' in raw


def test_register_contact_tcp_transport():
    msg = build(make(transport=b"TCP", route=b"<sip:edge1.lab.test;transport=tcp;lr>"))
    assert contacts(msg)[0].uri.param(b"transport") == b"tcp"
    assert parse_via(msg.get(b"Via")).transport == b"TCP"


def test_register_route_with_lr():
    msg = build(make())
    routes = msg.values(b"Route")
    assert routes == [ROUTE]
    r = parse_name_addr(routes[0])
    assert r.uri.has_param(b"lr")
    assert r.uri.scheme == b"sips" and r.uri.host == b"edge1.lab.test"


def test_register_without_route():
    msg = build(make(route=None))
    assert msg.get(b"Route") is None


def test_register_expires():
    reg = make(expires=1800)
    assert build(reg).get(b"Expires") == b"1800"
    assert build(reg, expires=0).get(b"Expires") == b"0"
    assert build(reg).get(b"Expires") == b"1800"  # the override was for one build


def test_cseq_increments_and_call_id_stays():
    reg = make()
    msgs = [build(reg) for _ in range(4)]
    assert [m.cseq for m in msgs] == [1, 2, 3, 4]
    assert len(set([m.call_id for m in msgs])) == 1
    assert len(set([m.from_tag for m in msgs])) == 1
    assert len(set([m.branch for m in msgs])) == 4  # a new transaction each time
    assert len(set([m.get(b"Contact") for m in msgs])) == 1  # refresh to the same address


def test_two_flows_have_their_own_dialog():
    rng = FakeRandom(5)
    a = Registration(parse_uri(AOR), INSTANCE, 1, 3600, ROUTE, b"TLS", None, rng)
    b = Registration(parse_uri(AOR), INSTANCE, 2, 3600, b"<sips:edge2.lab.test;lr>", b"TLS",
                     None, rng)
    ma = parse(a.build()[0])
    mb = parse(b.build()[0])
    assert ma.call_id != mb.call_id
    assert contacts(ma)[0].param(b"reg-id") == b"1"
    assert contacts(mb)[0].param(b"reg-id") == b"2"
    assert contacts(ma)[0].param(b"+sip.instance") == contacts(mb)[0].param(b"+sip.instance")


# -- answers ------------------------------------------------------------------------------------
def test_provisional():
    reg = make()
    req = build(reg)
    assert reg.on_response(answer(req, 100)) == (R_PROVISIONAL, None)
    assert reg.on_response(answer(req, 183)) == (R_PROVISIONAL, None)


def _check_credentials(req, name, nonce, nc, password=PASSWORD):
    values = req.get_all(name)
    assert len(values) == 1, name
    p = auth_params(values[0])
    assert p[b"username"] == b"alice"
    assert p[b"realm"] == b"lab.test"
    assert p[b"nonce"] == nonce
    assert p[b"uri"] == req.uri  # the Request-URI as sent
    assert p[b"qop"] == b"auth"
    assert p[b"nc"] == b"%08x" % nc
    assert p[b"algorithm"] == b"MD5"
    ch = digest.Challenge(b"lab.test", nonce, None, b"MD5", [b"auth"])
    expected = digest.response(ch, b"alice", password, b"REGISTER", req.uri, nc,
                               p[b"cnonce"], b"auth")
    assert p[b"response"] == expected
    # and once more by hand, straight from RFC 2617 / 7616
    ha1 = md5_hex(b"alice:lab.test:" + password)
    ha2 = md5_hex(b"REGISTER:" + req.uri)
    assert expected == md5_hex(b":".join((ha1, nonce, b"%08x" % nc, p[b"cnonce"], b"auth",
                                           ha2)))
    return p


def test_digest_authorization_after_401():
    reg = make()
    req = build(reg)
    outcome, info = reg.on_response(answer(req, 401, [challenge(b"abc123")]))
    assert (outcome, info) == (R_RETRY, None)
    req2 = build(reg)
    assert req2.cseq == req.cseq + 1
    assert req2.call_id == req.call_id
    assert req2.get(b"Proxy-Authorization") is None
    p1 = _check_credentials(req2, b"Authorization", b"abc123", 1)
    # a refresh reuses the nonce with the next nc and a fresh cnonce
    req3 = build(reg)
    p2 = _check_credentials(req3, b"Authorization", b"abc123", 2)
    assert p1[b"cnonce"] != p2[b"cnonce"]
    # issue 16: between REGISTERs the registration keeps plain data and tinysip.digest (~2.8
    # KB on the 64-bit unix port) is not held: loaded for the challenge and for each header
    import sys

    assert type(reg.digest) is list and "tinysip.digest" not in sys.modules


def test_proxy_authorization_after_407():
    reg = make()
    req = build(reg)
    outcome, _ = reg.on_response(answer(req, 407, [challenge(b"px1",
                                                             name=b"Proxy-Authenticate")]))
    assert outcome == R_RETRY
    req2 = build(reg)
    assert req2.get(b"Authorization") is None
    _check_credentials(req2, b"Proxy-Authorization", b"px1", 1)


def test_401_with_only_proxy_authenticate_is_a_failure():
    reg = make()
    req = build(reg)
    outcome, info = reg.on_response(answer(req, 401, [challenge(name=b"Proxy-Authenticate")]))
    assert outcome == R_FAIL
    assert info[0] == 401


def test_wrong_password_fails_without_loop():
    reg = make(password=b"wrong")
    req = build(reg)
    assert reg.on_response(answer(req, 401, [challenge(b"n1")]))[0] == R_RETRY
    req = build(reg)
    assert req.get(b"Authorization") is not None
    # the server refuses credentials built from its own fresh nonce: wrong password
    outcome, info = reg.on_response(answer(req, 401, [challenge(b"n2")]))
    assert outcome == R_FAIL
    status, reason, retry_after = info
    assert status == 401
    assert b"auth.password" in reason and b"auth.username" in reason
    assert retry_after is None


def test_stale_nonce_is_retried_once():
    reg = make()
    req = build(reg)
    reg.on_response(answer(req, 401, [challenge(b"n1")]))
    req = build(reg)
    outcome, _ = reg.on_response(answer(req, 401, [challenge(b"n2", extra=b", stale=true")]))
    assert outcome == R_RETRY
    req = build(reg)
    _check_credentials(req, b"Authorization", b"n2", 1)


def test_challenge_without_digest_client_fails():
    rng = FakeRandom(3)
    reg = Registration(parse_uri(AOR), INSTANCE, 1, 3600, ROUTE, b"TLS", None, rng)
    req = parse(reg.build()[0])
    assert reg.on_response(answer(req, 401, [challenge()]))[0] == R_FAIL


def test_auth_rounds_are_bounded():
    # a server that answers every authenticated REGISTER with a stale challenge
    reg = make()
    rounds = 0
    req = build(reg)
    n = 0
    while True:
        n += 1
        extra = b", stale=true" if n > 1 else b""
        outcome, _ = reg.on_response(answer(req, 401, [challenge(b"s%d" % n, extra=extra)]))
        if outcome != R_RETRY:
            break
        rounds += 1
        assert rounds <= MAX_AUTH_ROUNDS
        req = build(reg)
    assert outcome == R_FAIL


def test_auth_rounds_bounded_across_423_retries():
    # a server alternating 423 (always a bit more) and a new challenge on a used nonce
    # must not keep the phone busy forever: the guard spans the whole attempt
    reg = make(expires=600)
    answered = 0
    outcome = R_RETRY
    for i in range(50):
        req = build(reg)
        if i % 2:
            outcome, _ = reg.on_response(answer(req, 423, [(b"Min-Expires", b"%d" %
                                                            (reg.expires + 1))]))
            assert outcome == R_RETRY
            continue
        outcome, _ = reg.on_response(answer(req, 401, [challenge(b"k%d" % i)]))
        if outcome != R_RETRY:
            break
        answered += 1
    assert outcome == R_FAIL
    assert answered <= MAX_AUTH_ROUNDS


def test_auth_works_again_after_failed_attempts():
    # every attempt: 401 -> authenticated REGISTER -> 503. The registration must still be
    # able to answer the challenge of the 5th attempt (the loop guard is per attempt).
    reg = make()
    for attempt in range(6):
        req = build(reg)
        outcome, _ = reg.on_response(answer(req, 401, [challenge(b"a%d" % attempt)]))
        assert outcome == R_RETRY, attempt
        req = build(reg)
        _check_credentials(req, b"Authorization", b"a%d" % attempt, 1)
        outcome, info = reg.on_response(answer(req, 503))
        assert outcome == R_FAIL and info[0] == 503


def test_ok_resets_auth_rounds():
    reg = make()
    for i in range(5):
        req = build(reg)
        assert reg.on_response(answer(req, 401, [challenge(b"r%d" % i)]))[0] == R_RETRY
        req = build(reg)
        assert reg.on_response(answer(req, 200, [our_contact()]))[0] == R_OK
        assert reg.auth_rounds == 0


def test_423_raises_expires_to_min_expires():
    reg = make(expires=60)
    req = build(reg)
    outcome, info = reg.on_response(answer(req, 423, [(b"Min-Expires", b"300")]))
    assert (outcome, info) == (R_RETRY, None)
    assert reg.expires == 300
    req = build(reg)
    assert req.get(b"Expires") == b"300"
    # and it sticks for the refreshes
    assert build(reg).get(b"Expires") == b"300"


def test_423_without_usable_min_expires_fails():
    for headers in ([], [(b"Min-Expires", b"soon")], [(b"Min-Expires", b"30")],
                    [(b"Min-Expires", b"60")]):
        reg = make(expires=60)
        req = build(reg)
        outcome, info = reg.on_response(answer(req, 423, headers))
        assert outcome == R_FAIL, headers
        assert info[0] == 423
        assert reg.expires == 60


def test_439_drops_reg_id_and_outbound():
    reg = make()
    req = build(reg)
    outcome, _ = reg.on_response(answer(req, 439, reason=b"First Hop Lacks Outbound Support"))
    assert outcome == R_RETRY
    req = build(reg)
    sup = tokens(req.get_all(b"Supported"))
    assert b"outbound" not in sup
    assert b"path" in sup and b"gruu" in sup
    c = contacts(req)[0]
    assert c.param(b"reg-id") is None
    assert c.param(b"+sip.instance") == b'"<' + INSTANCE + b'>"'  # the instance stays
    # a second 439 is a plain failure, no loop
    outcome, info = reg.on_response(answer(req, 439))
    assert outcome == R_FAIL and info[0] == 439


def test_439_then_2xx_is_not_outbound():
    reg = make()
    reg.on_response(answer(build(reg), 439))
    req = build(reg)
    outcome, b = reg.on_response(answer(req, 200, other_contacts() + [
        our_contact(None, b";expires=900")] + [(b"Require", b"outbound"), (b"Flow-Timer",
                                                                          b"30")]))
    assert outcome == R_OK
    assert b.outbound is False  # we did not ask for outbound any more
    # registered without reg-id: our binding is the one without reg-id, not the old
    # outbound binding of our instance (reg-id 7) listed before it
    assert b.expires == 900


def test_503_retry_after():
    cases = (
        (b"120", 120),
        (b"120 (maintenance)", 120),
        (b"120;duration=60", 120),
        (b" 18 (x);duration=1", 18),
        (b"soon", None),
        (b"99999999999", None),
    )
    for value, expected in cases:
        reg = make()
        req = build(reg)
        outcome, info = reg.on_response(answer(req, 503, [(b"Retry-After", value)]))
        assert outcome == R_FAIL
        assert info == (503, b"Service Unavailable", expected), (value, info)
    reg = make()
    req = build(reg)
    assert reg.on_response(answer(req, 503)) == (R_FAIL, (503, b"Service Unavailable", None))


def test_other_failures():
    for status, reason in ((403, b"Forbidden"), (404, b"Not Found"), (500, b"Server Internal "
                                                                          b"Error"),
                           (480, b"Temporarily Unavailable"), (606, b"Not Acceptable")):
        reg = make()
        req = build(reg)
        outcome, info = reg.on_response(answer(req, status, reason=reason))
        assert outcome == R_FAIL
        assert info == (status, reason, None)
    reg = make()
    req = build(reg)
    outcome, info = reg.on_response(answer(req, 500, [(b"Retry-After", b"5")]))
    assert info == (500, b"Server Internal Error", 5)


# -- the 2xx -----------------------------------------------------------------------------------
def test_2xx_binding_fields():
    reg = make(expires=3600)
    req = build(reg)
    headers = other_contacts() + [
        our_contact(1, b';expires=1800;pub-gruu="sip:alice@lab.test;gr=' + INSTANCE
                    + b'";temp-gruu="sip:tgruu.1@lab.test;gr"'),
        (b"Require", b"outbound"),
        (b"Flow-Timer", b"25"),
        (b"Expires", b"600"),
        (b"Service-Route", b"<sip:orig@core.lab.test;lr>"),
        (b"Service-Route", b"<sip:orig2@core.lab.test;lr>"),
    ]
    outcome, b = reg.on_response(answer(req, 200, headers))
    assert outcome == R_OK
    assert b.expires == 1800  # our contact's param, not the header, not another binding
    assert b.pub_gruu == b"sip:alice@lab.test;gr=" + INSTANCE
    assert b.temp_gruu == b"sip:tgruu.1@lab.test;gr"
    assert b.outbound is True
    assert b.flow_timer == 25
    assert b.service_route == b"<sip:orig@core.lab.test;lr>, <sip:orig2@core.lab.test;lr>"


def test_2xx_other_bindings_first_do_not_confuse():
    # only the foreign and ghost bindings carry GRUUs: ours has none -> none invented
    reg = make()
    req = build(reg)
    outcome, b = reg.on_response(answer(req, 200, other_contacts() + [our_contact(1,
                                                                                 b";expires=77")]))
    assert outcome == R_OK
    assert b.expires == 77
    assert (b.pub_gruu, b.temp_gruu) == (None, None)


def test_2xx_outbound_only_with_require_outbound():
    reg = make()
    req = build(reg)
    _, b = reg.on_response(answer(req, 200, [our_contact(), (b"Flow-Timer", b"30")]))
    assert b.outbound is False
    assert b.flow_timer == 30
    req = build(reg)
    _, b = reg.on_response(answer(req, 200, [our_contact(), (b"Require", b"path, OUTBOUND")]))
    assert b.outbound is True
    assert b.flow_timer is None
    req = build(reg)
    _, b = reg.on_response(answer(req, 200, [our_contact(), (b"Supported", b"outbound")]))
    assert b.outbound is False


def test_2xx_expires_fallbacks():
    reg = make(expires=3600)
    req = build(reg)
    _, b = reg.on_response(answer(req, 200, [our_contact(), (b"Expires", b"1200")]))
    assert b.expires == 1200
    req = build(reg)
    _, b = reg.on_response(answer(req, 200, other_contacts() + [(b"Expires", b"900")]))
    assert b.expires == 900  # our binding is missing: the header
    req = build(reg)
    _, b = reg.on_response(answer(req, 200, other_contacts()))
    assert b.expires == 3600  # nothing: what we asked
    req = build(reg)
    _, b = reg.on_response(answer(req, 200, [our_contact(1, b";expires=1" + b"0" * 100),
                                              (b"Expires", b"450")]))
    assert b.expires == 450


def test_2xx_bad_flow_timer_ignored():
    reg = make()
    for value in (b"abc", b"-1", b"999999999999"):
        req = build(reg)
        _, b = reg.on_response(answer(req, 200, [our_contact(), (b"Flow-Timer", value),
                                                  (b"Require", b"outbound")]))
        assert b.flow_timer is None
        assert b.outbound is True


def test_2xx_without_contacts():
    reg = make()
    req = build(reg)
    outcome, b = reg.on_response(answer(req, 200))
    assert outcome == R_OK
    assert b.expires == 3600 and b.pub_gruu is None and b.service_route is None


def _seen_at(req, host, port):
    """A plain 200 to `req` whose top Via says where the registrar saw it (RFC 3581)."""
    raw = answer(req, 200).to_bytes().replace(b";rport", b";received=%s;rport=%d" % (host, port),
                                              1)
    return parse(raw, 65535, datagram=False)


def test_plain_2xx_rewrites_the_contact_once_per_address_ipv6_too():
    reg = make()
    first = reg.uri
    outcome, old = reg.on_response(_seen_at(build(reg), b"2001:db8::7", 40123))
    assert (outcome, old) == (4, first)  # register again, removing `old`
    assert reg.uri == b"sip:alice@[2001:db8::7]:40123;transport=tls"
    # the same address, written bare again by the registrar: nothing to rewrite
    outcome, b = reg.on_response(_seen_at(build(reg), b"2001:db8::7", 40123))
    assert outcome == R_OK and b.outbound is False and b.contact == reg.uri
