"""RFC 5627 §5 / RFC 5626 §4.2: finding our binding in a REGISTER 2xx and reading it
(tinysip.register: find_binding, and the Binding that on_response makes of it)."""
from testutil import R_OK
from testutil import FakeRandom

from tinysip.headers import parse_name_addr
from tinysip.message import contacts, parse, response
from tinysip.register import Registration, find_binding
from tinysip.uri import parse_uri

OURS = b"urn:uuid:00000000-0000-1000-8000-aabbccddeeff"
OTHER = b"urn:uuid:99999999-0000-1000-8000-000000000001"


def na(text):
    return parse_name_addr(text)


def binding(instance, reg_id=None, extra=b"", host=b"198.51.100.7"):
    v = b"<sip:alice@" + host + b";transport=tls;ob>;+sip.instance=\"<" + instance + b">\""
    if reg_id is not None:
        v += b";reg-id=%d" % reg_id
    return na(v + extra)


def granted(params=None, expires=None, requested=3600):
    """The Binding Registration.on_response makes of a 2xx: with our Contact (reg-id 1)
    carrying `params` unless None, and an Expires header `expires` unless None."""
    reg = Registration(parse_uri(b"sip:alice@lab.test"), OURS, 1, requested, None, b"TLS",
                       None, FakeRandom(1))
    resp = response(parse(reg.build()[0]), 200, to_tag=b"t")
    if params is not None:
        resp.add(b"Contact", b'<sip:alice@198.51.100.7;transport=tls;ob>;+sip.instance="<'
                 + OURS + b'>";reg-id=1' + params)
    if expires is not None:
        resp.add(b"Expires", expires)
    outcome, b = reg.on_response(parse(resp.to_bytes()))
    assert outcome == R_OK
    return b


def test_instance_forms():
    for value in (b'"<' + OURS + b'>"', b'"<URN:UUID:00000000-0000-1000-8000-AABBCCDDEEFF>"',
                  b"<" + OURS + b">", b'"' + OURS + b'"'):
        c = na(b"<sip:a@h>;+sip.instance=" + value + b";reg-id=1")
        assert find_binding([c], OURS, 1) is c, value


def test_find_binding_by_instance_and_reg_id_among_several():
    cs = [
        binding(OTHER, 1, b";expires=100"),  # another phone, same reg-id
        binding(OURS, 2, b";expires=200"),  # our backup flow
        na(b"<sip:alice@198.51.100.1>;expires=300"),  # no instance at all
        binding(OURS, 1, b";expires=400"),  # us, primary flow
        binding(OURS, 3, b";expires=500"),
    ]
    assert find_binding(cs, OURS, 1) is cs[3]
    assert find_binding(cs, OURS, 2) is cs[1]
    assert find_binding(cs, OURS, 3) is cs[4]
    assert find_binding(cs, OTHER, 1) is cs[0]
    assert find_binding(cs, OURS, 1).param(b"expires") == b"400"


def test_find_binding_does_not_compare_contact_uris():
    # the registrar rewrote our contact URI: the instance alone identifies us
    cs = [binding(OTHER, 1, host=b"10.0.0.5"), binding(OURS, 1, host=b"203.0.113.250")]
    assert find_binding(cs, OURS, 1) is cs[1]


def test_find_binding_urn_is_case_insensitive():
    upper = na(b'<sip:alice@h>;+sip.instance="<URN:UUID:00000000-0000-1000-8000-AABBCCDDEEFF>"'
               b";reg-id=1")
    assert find_binding([upper], OURS, 1) is upper
    assert find_binding([upper], OURS.upper(), 1) is upper
    # the param name itself is case-insensitive in the header grammar
    mixed = na(b'<sip:alice@h>;+SIP.Instance="<' + OURS + b'>";REG-ID=1')
    assert find_binding([mixed], OURS, 1) is mixed


def test_find_binding_wrong_reg_id_only_is_none():
    cs = [binding(OURS, 2), binding(OURS, 7), binding(OTHER, 1)]
    assert find_binding(cs, OURS, 1) is None


def test_find_binding_fallback_without_reg_id():
    echoless = binding(OURS, None, b";expires=60")
    cs = [binding(OTHER, 1), binding(OURS, 2), echoless]
    # the registrar echoed no reg-id for our binding: accepted when nothing better matches
    assert find_binding(cs, OURS, 1) is echoless
    # ...but an exact reg-id match wins, wherever it is
    exact = binding(OURS, 1)
    assert find_binding([echoless, exact], OURS, 1) is exact
    assert find_binding([exact, echoless], OURS, 1) is exact


def test_find_binding_without_reg_id_takes_our_instance():
    # after a 439 we register without reg-id: any binding of our instance is ours
    cs = [binding(OTHER, None), binding(OURS, None, b";expires=42")]
    assert find_binding(cs, OURS, None) is cs[1]
    cs = [binding(OTHER, 1), binding(OURS, 5, b";expires=43")]
    assert find_binding(cs, OURS, None) is cs[1]
    # a binding without reg-id is the exact match, even after one with a reg-id
    cs = [binding(OURS, 7, b";expires=2222"), binding(OURS, None, b";expires=900")]
    assert find_binding(cs, OURS, None) is cs[1]


def test_find_binding_reg_id_with_spaces():
    assert find_binding([na(b'<sip:a@h>;+sip.instance="<' + OURS + b'>";reg-id= 1')],
                        OURS, 1) is not None


def test_find_binding_reg_id_compared_as_a_number():
    assert find_binding([na(b'<sip:a@h>;+sip.instance="<' + OURS + b'>";reg-id=01')],
                        OURS, 1) is not None


def test_find_binding_none_when_absent():
    assert find_binding([], OURS, 1) is None
    assert find_binding([binding(OTHER, 1), na(b"<sip:alice@h>")], OURS, 1) is None
    assert find_binding([binding(OTHER, None)], OURS, None) is None
    # a valueless +sip.instance is not ours
    assert find_binding([na(b"<sip:alice@h>;+sip.instance;reg-id=1")], OURS, 1) is None


def test_find_binding_in_a_parsed_2xx():
    data = (b"SIP/2.0 200 OK\r\n"
            b"Via: SIP/2.0/TLS a.invalid;branch=z9hG4bKx\r\n"
            b"From: <sip:alice@lab.test>;tag=1\r\n"
            b"To: <sip:alice@lab.test>;tag=2\r\n"
            b"Call-ID: c\r\n"
            b"CSeq: 1 REGISTER\r\n"
            b'Contact: <sip:bob@h1>;+sip.instance="<' + OTHER + b'>";reg-id=1;expires=10, '
            b'<sip:alice@h2;ob>;+sip.instance="<' + OURS + b'>";reg-id=1;expires=20;'
            b'pub-gruu="sip:alice@lab.test;gr=' + OURS + b'";temp-gruu="sip:t1@lab.test;gr"\r\n'
            b"m: <sip:x@h3>;expires=30\r\n"
            b"Content-Length: 0\r\n\r\n")
    msg = parse(data)
    cs = contacts(msg)
    assert len(cs) == 3
    ours = find_binding(cs, OURS, 1)
    assert ours is cs[1]
    reg = Registration(parse_uri(b"sip:alice@lab.test"), OURS, 1, 3600, None, b"TLS", None,
                       FakeRandom(1))
    outcome, b = reg.on_response(msg)
    assert outcome == R_OK
    assert (b.pub_gruu, b.temp_gruu) == (b"sip:alice@lab.test;gr=" + OURS, b"sip:t1@lab.test;gr")
    assert b.expires == 20


# -- GRUUs of the Binding ---------------------------------------------------------------------
def test_gruus_unquotes_both():
    b = granted(b';pub-gruu="sip:alice@lab.test;gr=' + OURS
                + b'";temp-gruu="sip:tgruu.7deb@lab.test;gr"')
    assert (b.pub_gruu, b.temp_gruu) == (b"sip:alice@lab.test;gr=" + OURS,
                                         b"sip:tgruu.7deb@lab.test;gr")


def test_gruus_unescapes_quoted_pairs():
    b = granted(b';pub-gruu="sip:a\\"b@lab.test;gr";temp-gruu="sip:x\\\\y@lab.test;gr"')
    assert (b.pub_gruu, b.temp_gruu) == (b'sip:a"b@lab.test;gr', b"sip:x\\y@lab.test;gr")


def test_gruus_absent_or_partial():
    b = granted(b"")
    assert (b.pub_gruu, b.temp_gruu) == (None, None)
    b = granted(b';pub-gruu="sip:p@lab.test;gr=x"')
    assert (b.pub_gruu, b.temp_gruu) == (b"sip:p@lab.test;gr=x", None)
    b = granted(b';temp-gruu="sip:t@lab.test;gr"')
    assert (b.pub_gruu, b.temp_gruu) == (None, b"sip:t@lab.test;gr")
    # valueless params are not GRUUs (never invent one)
    b = granted(b";pub-gruu;temp-gruu")
    assert (b.pub_gruu, b.temp_gruu) == (None, None)
    # no binding of ours: no GRUU
    b = granted(None)
    assert (b.pub_gruu, b.temp_gruu) == (None, None)


def test_gruus_unquoted_value_kept_as_is():
    assert granted(b";temp-gruu=sip:t@lab.test").temp_gruu == b"sip:t@lab.test"


# -- the granted expiry -------------------------------------------------------------------------
def test_binding_expires_prefers_contact_param():
    assert granted(b";expires=600", b"1200").expires == 600


def test_binding_expires_header_then_requested():
    assert granted(b"", b"1200").expires == 1200
    assert granted(b"", None, 3600).expires == 3600
    assert granted(None, b"900").expires == 900
    assert granted(None, None, 1800).expires == 1800


def test_binding_expires_zero_and_leading_zeros():
    assert granted(b";expires=0", b"60").expires == 0
    assert granted(b";expires=0600").expires == 600
    assert granted(b";expires=4294967295", None, 1).expires == 4294967295


def test_binding_expires_absurd_values_fall_back():
    huge = b"1" + b"0" * 100  # 10^100 (RFC 4475 scalar02 style)
    assert granted(b";expires=" + huge, b"1200").expires == 1200
    assert granted(b";expires=" + huge, huge, 3600).expires == 3600
    assert granted(b";expires=4294967296", None, 3600).expires == 3600
    assert granted(b";expires=-5", b"70").expires == 70
    assert granted(b";expires=abc", b"xyz", 3600).expires == 3600
    assert granted(b";expires", b"80").expires == 80
    assert granted(None, b"", 3600).expires == 3600


def test_find_binding_reads_contact_spans_in_place_as_parsed_values():
    values = [b'<sip:alice@h>;+sip.instance="<' + OTHER + b'>";reg-id=1',
              b'<sip:alice@h2>;+SIP.INSTANCE="<' + OURS + b'>";reg-id=2;expires=7',
              b'"Al" <sip:alice@h3>;+sip.instance="<' + OURS + b'>";reg-id=1;expires=9']
    resp = parse(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;"
                 b"tag=1\r\nTo: <sip:a@h>;tag=2\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\nContact: "
                 + b", ".join(values[:2]) + b"\r\nContact: " + values[2]
                 + b"\r\nContent-Length: 0\r\n\r\n")
    spans = contacts(resp, False)
    assert [v[a:q].strip() for v, a, q in spans] == values
    parsed = contacts(resp)
    for reg_id, want in ((1, 2), (2, 1), (None, 1)):  # None: the first of our instance
        got = find_binding(spans, OURS, reg_id)
        assert got is spans[want] and find_binding(parsed, OURS, reg_id) is parsed[want]
    assert find_binding(spans, OTHER, 1) is spans[0]


def test_our_contact_is_found_and_read_among_others_in_the_2xx():
    b = granted(b';expires=77;pub-gruu="sip:alice@lab.test;gr=x", <sip:other@h>;expires=5')
    assert b.expires == 77 and b.pub_gruu == b"sip:alice@lab.test;gr=x"
