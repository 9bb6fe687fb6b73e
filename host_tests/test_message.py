"""tinysip.message: start lines, header lines, validation, Content-Length, builders."""
from testutil import raises

from tinysip import message
from tinysip.errors import ParseError
from tinysip.headers import parse_name_addr
from tinysip.headers import parse_via
from tinysip.message import (
    Message,
    canon,
    contacts,
    error_response,
    parse,
    reason_phrase,
    request,
    response,
)

INVITE = (
    b"INVITE sip:bob@biloxi.com SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: Bob <sip:bob@biloxi.com>\r\n"
    b'From: "Alice" <sip:alice@atlanta.com>;tag=1928301774\r\n'
    b"Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@pc33.atlanta.com;transport=tcp;ob>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 4\r\n"
    b"\r\n"
    b"v=0\n"
)

RESPONSE = (
    b"SIP/2.0 180 Ringing\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8;received=192.0.2.1\r\n"
    b"To: Bob <sip:bob@biloxi.com>;tag=a6c85cf\r\n"
    b"From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710\r\n"
    b"Contact: <sip:bob@192.0.2.4>\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)

# the five headers a response needs, for hand-made requests
FIVE = (
    b"Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\n"
    b"From: <sip:a@example.com>;tag=1\r\n"
    b"To: <sip:b@example.com>\r\n"
    b"Call-ID: c1\r\n"
    b"CSeq: 1 OPTIONS\r\n"
)
VIA_LINE = FIVE[: FIVE.find(b"\r\n") + 2]


def opt(extra=b"", body=b"", cl=True, start=b"OPTIONS sip:b@example.com SIP/2.0"):
    head = start + b"\r\n" + FIVE + extra
    if cl:
        head += b"Content-Length: %d\r\n" % len(body)
    return head + b"\r\n" + body


def vias(m):
    return [parse_via(v) for v in m.values(b"Via")]


def name_addrs(m, name):
    return [parse_name_addr(v) for v in m.values(name)]


def start_line(m):
    return m.to_bytes().split(b"\r\n", 1)[0]


def bad(data, status=400, **kw):
    e = raises(ParseError, parse, data, **kw)
    assert e.status == status, e
    return e


# ------------------------------------------------------------------ start lines


def test_parse_request():
    m = parse(INVITE)
    assert m.is_request
    assert m.method == b"INVITE" and m.uri == b"sip:bob@biloxi.com"
    assert m.ruri.user == b"bob" and m.ruri.host == b"biloxi.com"
    assert m.status == 0
    assert m.call_id == b"a84b4c76e66710@pc33.atlanta.com"
    assert m.cseq == 314159 and m.cseq_method == b"INVITE"
    assert m.from_tag == b"1928301774" and m.to_tag is None
    assert m.branch == b"z9hG4bK776asdhds"
    assert m.body == b"v=0\n"
    assert m.get(b"Max-Forwards") == b"70"
    assert start_line(m) == b"INVITE sip:bob@biloxi.com SIP/2.0"


def test_parse_response():
    m = parse(RESPONSE)
    assert not m.is_request and m.method is None and m.ruri is None
    assert m.status == 180 and m.reason == b"Ringing"
    assert m.to_tag == b"a6c85cf" and m.from_tag == b"1928301774"
    assert m.branch == b"z9hG4bKnashds8" and m.cseq_method == b"INVITE"
    assert m.body == b""


def test_reason_phrase_forms():
    assert parse(RESPONSE.replace(b"180 Ringing", b"200 OK then some")).reason == b"OK then some"
    assert parse(RESPONSE.replace(b"180 Ringing", b"100 ")).reason == b""  # RFC 4475 noreason
    # no SP after the code: strictly invalid; the parser is liberal and reads an empty phrase
    assert parse(RESPONSE.replace(b"180 Ringing", b"100")).reason == b""
    assert parse(RESPONSE.replace(b"180 Ringing", b"699 x")).status == 699


def test_bad_status_lines():
    for line in (b"99 Low", b"700 High", b"4294967301 Big", b"20 Short", b"abc OK", b"2OO OK",
                 b" 200 OK", b"+20 OK"):
        bad(RESPONSE.replace(b"180 Ringing", line))
    bad(RESPONSE.replace(b"SIP/2.0 180", b"SIP/3.0 180"), 505)


def test_sip_version_is_case_insensitive():
    # RFC 3261 §7.1: "The SIP-Version string is case-insensitive"
    assert parse(opt(start=b"OPTIONS sip:b@example.com sip/2.0")).method == b"OPTIONS"
    assert parse(RESPONSE.replace(b"SIP/2.0 180", b"sip/2.0 180")).status == 180
    m = parse(RESPONSE.replace(b"SIP/2.0 180", b"sip/2.0 180"))
    assert start_line(m) == b"SIP/2.0 180 Ringing"  # always sent upper-case


def test_bad_request_lines():
    for start in (
        b"OPTIONS sip:b@example.com",  # no version
        b"OPTIONS  sip:b@example.com SIP/2.0",  # lwsstart
        b"OPTIONS sip:b@example.com SIP/2.0 ",  # trws
        b"OPTIONS sip:b@example.com; lr SIP/2.0",  # lwsruri
        b"OPTIONS <sip:b@example.com> SIP/2.0",  # ltgtruri
        b"OPTIONS sip:b@example.com?Route=%3Csip:x%3E SIP/2.0",  # escruri
        b"OPTIONS sip:b@example.com HTTP/1.1",
        b"OPT:IONS sip:b@example.com SIP/2.0",
        b"OPTIONS sip: SIP/2.0",
        b"OPTIONS b@example.com SIP/2.0",
        b"",
    ):
        bad(opt(start=start))
    bad(opt(start=b"OPTIONS sip:b@example.com SIP/7.0"), 505)
    bad(opt(start=b"OPTIONS sip:b@example.com sip/2.1"), 505)


def test_method_and_other_schemes():
    m = parse(opt(start=b"OPTIONS tel:+1-201-555-0123 SIP/2.0"))
    assert not m.ruri.is_sip and m.uri == b"tel:+1-201-555-0123"
    data = opt(start=b"NEWMETHOD sip:b@example.com SIP/2.0").replace(b"1 OPTIONS", b"1 NEWMETHOD")
    assert parse(data).method == b"NEWMETHOD"


# ------------------------------------------------------------------ header lines


def test_compact_names():
    expected = {
        b"i": b"Call-ID", b"m": b"Contact", b"e": b"Content-Encoding", b"l": b"Content-Length",
        b"c": b"Content-Type", b"f": b"From", b"s": b"Subject", b"k": b"Supported", b"t": b"To",
        b"v": b"Via", b"a": b"Accept-Contact", b"b": b"Referred-By",
        b"d": b"Request-Disposition", b"j": b"Reject-Contact", b"n": b"Identity-Info",
        b"o": b"Event", b"r": b"Refer-To", b"u": b"Allow-Events", b"x": b"Session-Expires",
        b"y": b"Identity",
    }
    for short in expected:
        assert canon(short) == expected[short]
        assert canon(short.upper()) == expected[short]
    data = (
        b"OPTIONS sip:b@example.com SIP/2.0\r\n"
        b"v: SIP/2.0/UDP h;branch=z9hG4bK1\r\nV: SIP/2.0/UDP g;branch=z9hG4bK2\r\n"
        b"f: <sip:a@example.com>;tag=1\r\nT: sip:b@example.com\r\ni: cid\r\n"
        b"CSeq: 2 OPTIONS\r\nm: <sip:a@192.0.2.1>\r\nk: outbound, path\r\ns: hi\r\n"
        b"c: text/plain\r\nl: 2\r\n\r\nhi"
    )
    m = parse(data)
    assert m.call_id == b"cid" and m.from_tag == b"1" and m.body == b"hi"
    assert [h[0] for h in m.headers] == [
        b"Via", b"Via", b"From", b"To", b"Call-ID", b"CSeq", b"Contact", b"Supported",
        b"Subject", b"Content-Type", b"Content-Length",
    ]
    assert m.has_tag(b"Supported", b"outbound") and m.has_tag(b"Supported", b"path")
    assert not m.has_tag(b"Supported", b"gruu")


def test_header_names_case_insensitive_canonical_storage():
    data = opt(b"mAx-FoRwArDs: 70\r\nwww-authenticate: Digest realm=\"x\"\r\nX-Odd-Case: v\r\n")
    data = data.replace(b"Call-ID:", b"cAlL-iD:").replace(b"CSeq:", b"CSEQ:")
    m = parse(data)
    assert m.get(b"Max-Forwards") == b"70" and m.get(b"Call-ID") == b"c1"
    assert m.get(b"WWW-Authenticate") == b'Digest realm="x"'
    assert m.get(b"X-Odd-Case") == b"v"  # unknown names are kept as received
    assert canon(b"x-odd-case") == b"x-odd-case"
    assert canon(b"CONTENT-LENGTH") == b"Content-Length" and canon(b"cseq") == b"CSeq"


def test_a_canonically_spelled_name_is_kept_as_the_same_object():
    # the parser allocates nothing for a name already spelled right (most senders do)
    for name in (b"Via", b"Call-ID", b"CSeq", b"WWW-Authenticate", b"Content-Length", b"To",
                 b"P-Asserted-Identity"):
        n = bytes(bytearray(name))  # a fresh object, like a slice of the received bytes
        assert canon(n) is n
    # a blob entry's neighbours never match: "To" is an entry, "Refer-To" its own one
    assert canon(b"o") == b"Event" and canon(b"Refer") == b"Refer"
    assert canon(b"Via|To") == b"Via|To" and canon(b"") == b""
    assert canon(b"VIA") == b"Via" and canon(b"via") == b"Via" and canon(b"V") == b"Via"


def test_whitespace_around_colon_and_values():
    m = parse(opt(b"Subject   :   hello there  \r\nX-Tab:\tv\t\r\nX-Empty:\r\n"))
    assert m.get(b"Subject") == b"hello there"
    assert m.get(b"X-Tab") == b"v"
    assert m.get(b"X-Empty") == b""


def test_folding():
    data = opt(b"Subject: first\r\n  second\r\n\tthird\r\n").replace(
        b"To: <sip:b@example.com>\r\n", b"To:\r\n <sip:b@example.com>\r\n ;tag=xy\r\n"
    )
    m = parse(data)
    assert m.get(b"Subject") == b"first second third"
    assert m.get(b"To") == b"<sip:b@example.com> ;tag=xy" and m.to_tag == b"xy"
    bad(b"OPTIONS sip:b@example.com SIP/2.0\r\n folded: first\r\n" + FIVE + b"\r\n")


def test_repeated_headers_and_comma_lists():
    data = opt(
        b"Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
        b"Route: <sip:p3.example.com;lr>\r\n"
        b"Supported: path\r\nSupported: outbound, gruu\r\n"
    ).replace(VIA_LINE, VIA_LINE + b"Via: SIP/2.0/UDP a;branch=z9hG4bK2, SIP/2.0/UDP b;branch=z9hG4bK3\r\n")
    m = parse(data)
    assert len(m.get_all(b"Route")) == 2
    assert m.values(b"Route") == [
        b"<sip:p1.example.com;lr>", b"<sip:p2.example.com;lr>", b"<sip:p3.example.com;lr>"
    ]
    assert [r.uri.host for r in name_addrs(m, b"Route")] == [
        b"p1.example.com", b"p2.example.com", b"p3.example.com"
    ]
    assert [v.host for v in vias(m)] == [b"h.example.com", b"a", b"b"]
    assert m.branch == b"z9hG4bK1"
    assert m.get(b"Supported") == b"path"
    assert m.values(b"Supported") == [b"path", b"outbound", b"gruu"]
    assert m.values(b"Absent") == [] and m.get_all(b"Absent") == []
    assert m.get(b"Absent", b"dflt") == b"dflt"


def test_values_do_not_split_inside_quotes_or_angles():
    m = parse(opt(b'Contact: "Bell, Alexander" <sip:a@x;p=1,2>;q=0.5, <sip:b@y?h=a,b>\r\n'))
    assert m.values(b"Contact") == [
        b'"Bell, Alexander" <sip:a@x;p=1,2>;q=0.5',
        b"<sip:b@y?h=a,b>",
    ]
    cs = contacts(m)
    assert unquote_display(cs[0]) == b"Bell, Alexander"
    assert cs[0].param(b"q") == b"0.5" and cs[1].uri.headers == b"h=a,b"


def unquote_display(na):
    from tinysip.headers import unquote

    return unquote(na.display)


def test_auth_headers_are_never_merged():
    data = opt(
        b'WWW-Authenticate: Digest realm="a.com", nonce="1", algorithm=SHA-256\r\n'
        b'WWW-Authenticate: Digest realm="a.com", nonce="1", algorithm=MD5\r\n'
    )
    m = parse(data)
    assert m.get_all(b"WWW-Authenticate") == [
        b'Digest realm="a.com", nonce="1", algorithm=SHA-256',
        b'Digest realm="a.com", nonce="1", algorithm=MD5',
    ]


def test_unknown_header_values_are_opaque():
    m = parse(opt(b"UnknownHeaderWithUnusualValue: ;;,,;;,;\r\nX-Quote: \"unbalanced\r\n"))
    assert m.get(b"UnknownHeaderWithUnusualValue") == b";;,,;;,;"
    assert m.get(b"X-Quote") == b'"unbalanced'


def test_bad_header_lines():
    bad(opt(b"NoColonHere\r\n"))
    bad(opt(b": no name\r\n"))
    bad(opt(b"Bad Name: x\r\n"))
    bad(opt(b"Bad\x00Name: x\r\n"))


def test_contact_wildcard_and_lists():
    m = parse(opt(b"Contact: *\r\nExpires: 0\r\n"))
    assert contacts(m) == []
    m = parse(opt(b"Contact: <sip:a@h1>, sip:b@h2;expires=60\r\nm: <sip:c@h3>\r\n"))
    assert [c.uri.user for c in contacts(m)] == [b"a", b"b", b"c"]
    assert contacts(m)[1].param(b"expires") == b"60"
    bad(opt(b'Contact: "Joe" <sip:joe@example.org>;;;;\r\n'))
    bad(opt(b"Contact: <sip:a@h1>,,<sip:b@h2>\r\n"))
    bad(opt(b"Contact: sip:a@h?Route=x\r\n"))


# ------------------------------------------------------------------ validation


def test_missing_mandatory_headers():
    for line in FIVE.split(b"\r\n")[:-1]:
        data = opt().replace(line + b"\r\n", b"")
        e = bad(data)
        assert "missing" in e.reason
        assert error_response(data, e) is None  # cannot route a response


def test_duplicated_single_headers():
    for line in FIVE.split(b"\r\n")[1:-1]:  # From, To, Call-ID, CSeq
        data = opt(line.replace(b"1", b"2") + b"\r\n")
        assert "more than one" in bad(data).reason
    bad(opt(b"Max-Forwards: 70\r\nMax-Forwards: 70\r\n"))


def test_two_vias_in_separate_lines_are_fine():
    m = parse(opt(b"Via: SIP/2.0/UDP second;branch=z9hG4bK2\r\n"))
    assert len(vias(m)) == 2 and m.branch == b"z9hG4bK1"


def test_empty_call_id_and_bad_from_to():
    bad(opt().replace(b"Call-ID: c1", b"Call-ID: "))
    bad(opt().replace(b"From: <sip:a@example.com>;tag=1", b"From: Bell, A <sip:a@example.com>"))
    bad(opt().replace(b"To: <sip:b@example.com>", b'To: "unterminated <sip:b@example.com>'))
    bad(opt().replace(b"branch=z9hG4bK1", b"branch=z9hG4bK1;;"))


def test_cseq_limits():
    assert parse(opt().replace(b"CSeq: 1 ", b"CSeq: 4294967295 ")).cseq == 4294967295
    assert parse(opt().replace(b"CSeq: 1 ", b"CSeq: 0 ")).cseq == 0
    assert parse(opt().replace(b"CSeq: 1 ", b"CSeq: 0009 ")).cseq == 9
    bad(opt().replace(b"CSeq: 1 ", b"CSeq: 4294967296 "))
    bad(opt().replace(b"CSeq: 1 ", b"CSeq: 36893488147419103232 "))
    bad(opt().replace(b"CSeq: 1 ", b"CSeq: -1 "))
    bad(opt().replace(b"CSeq: 1 OPTIONS", b"CSeq: 1"))


def test_cseq_method_must_match_request_method():
    e = bad(opt().replace(b"CSeq: 1 OPTIONS", b"CSeq: 1 INVITE"))
    assert "CSeq method" in e.reason
    bad(opt().replace(b"CSeq: 1 OPTIONS", b"CSeq: 1 options"))  # methods are case-sensitive
    # a response's CSeq method is not compared with anything
    assert parse(RESPONSE.replace(b"314159 INVITE", b"1 BYE")).cseq_method == b"BYE"


def cseq(value):
    """(cseq, cseq_method) of a response with that CSeq value (a response: its CSeq
    method is not compared with a request method)."""
    m = parse(RESPONSE.replace(b"CSeq: 314159 INVITE", b"CSeq: " + value))
    return m.cseq, m.cseq_method


def test_parse_cseq():
    assert cseq(b"1 INVITE") == (1, b"INVITE")
    assert cseq(b"0009 INVITE") == (9, b"INVITE")
    assert cseq(b"  9 \t  INVITE  ") == (9, b"INVITE")
    assert cseq(b"0 ACK") == (0, b"ACK")
    assert cseq(b"4294967295 REGISTER") == (4294967295, b"REGISTER")
    assert cseq(b"00000000004294967295 X") == (4294967295, b"X")
    assert cseq(b"8 RE%47IST%45R") == (8, b"RE%47IST%45R")  # method case and text kept


def test_parse_cseq_limits_and_errors():
    for value in (b"4294967296 INVITE", b"36893488147419103232 REGISTER",
                  b"9292394834772304023312 OPTIONS", b"-1 INVITE", b"INVITE", b"1", b"1 ",
                  b"1INVITE", b"1 INV ITE", b"1.0 INVITE", b"", b"0x10 INVITE", b"1 INVITE;x"):
        bad(RESPONSE.replace(b"CSeq: 314159 INVITE", b"CSeq: " + value))


def test_max_forwards():
    assert parse(opt(b"Max-Forwards: 0068\r\n")).get(b"Max-Forwards") == b"0068"
    assert int(parse(opt(b"Max-Forwards: 0068\r\n")).get(b"Max-Forwards")) == 68
    assert parse(opt(b"Max-Forwards: 0\r\n")).get(b"Max-Forwards") == b"0"
    bad(opt(b"Max-Forwards: seventy\r\n"))
    bad(opt(b"Max-Forwards: -1\r\n"))
    bad(opt(b"Max-Forwards:\r\n"))


# ------------------------------------------------------------------ Content-Length and framing


def test_content_length_body():
    m = parse(opt(body=b"hello"))
    assert m.body == b"hello"
    m = parse(opt(b"l: 0005\r\n", body=b"hello", cl=False))
    assert m.body == b"hello"  # leading zeros, compact name


def test_datagram_trailing_bytes_are_discarded():
    data = opt(body=b"abc") + b"\r\nINVITE sip:x SIP/2.0\r\n\r\n"
    assert parse(data).body == b"abc"


def test_datagram_without_content_length_body_runs_to_end():
    assert parse(opt(body=b"whole rest\r\n\r\nof it", cl=False)).body == b"whole rest\r\n\r\nof it"
    assert parse(opt(cl=False)).body == b""


def test_stream_needs_content_length():
    e = bad(opt(cl=False), datagram=False)
    assert "Content-Length" in e.reason
    assert parse(opt(body=b"x"), datagram=False).body == b"x"


def test_bad_content_length():
    bad(opt(b"Content-Length: 10\r\n", body=b"short", cl=False))  # clerr
    bad(opt(b"Content-Length: -999\r\n", cl=False))  # ncl
    bad(opt(b"Content-Length: five\r\n", cl=False))
    bad(opt(b"Content-Length: \r\n", cl=False))
    bad(opt(b"Content-Length: 13\r\nContent-Length: 5\r\n", body=b"x" * 13, cl=False))  # mcl01
    bad(opt(b"Content-Length: 99999999999999999999\r\n", cl=False))
    m = parse(opt(b"Content-Length: 2\r\nl: 2\r\n", body=b"ab", cl=False))
    assert m.body == b"ab"  # the same value twice is harmless


def test_leading_crlf_and_bare_lf():
    assert parse(b"\r\n\r\n" + opt()).method == b"OPTIONS"
    lf = opt(body=b"x\r\ny").replace(b"\r\n", b"\n")
    m = parse(lf.replace(b"Content-Length: 4", b"Content-Length: 3"))
    assert m.call_id == b"c1" and m.body == b"x\ny"


def test_no_empty_line():
    e = bad(opt()[:-2])
    assert "empty line" in e.reason
    bad(b"")
    bad(b"\r\n\r\n")


def test_max_size_is_513():
    data = opt(body=b"x" * 200)
    assert parse(data, max_size=len(data)).body == b"x" * 200
    e = bad(data, 513, max_size=len(data) - 1)
    resp = error_response(data, e)
    assert resp.startswith(b"SIP/2.0 513 Message Too Large\r\n")
    big = opt(body=b"x" * 16384)  # the default max_size
    assert raises(ParseError, parse, big).status == 513


# ------------------------------------------------------------------ header access / building


def test_add_set_remove_get():
    m = Message(method=b"OPTIONS", uri=b"sip:x")
    assert m.add(b"X-A", b"1") is m
    m.add(b"X-A", b"2").add(b"X-B", b"3")
    assert m.get_all(b"X-A") == [b"1", b"2"] and m.get(b"X-A") == b"1"
    m.set(b"X-A", b"9")
    assert m.get_all(b"X-A") == [b"9"]
    assert [h[0] for h in m.headers] == [b"X-B", b"X-A"]
    m.remove(b"X-B")
    m.remove(b"X-Absent")
    assert m.headers == [[b"X-A", b"9"]]


def test_request_builder_to_bytes():
    m = request(b"OPTIONS", b"sip:b@example.com")
    m.add(b"Via", b"SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKx;rport")
    m.add(b"From", b"<sip:a@example.com>;tag=f").add(b"To", b"<sip:b@example.com>")
    m.add(b"Call-ID", b"cid").add(b"CSeq", b"7 OPTIONS").add(b"Max-Forwards", b"70")
    m.add(b"Content-Length", b"999")  # ignored: always written from the body
    m.body = b"ab"
    wire = m.to_bytes()
    assert wire == (
        b"OPTIONS sip:b@example.com SIP/2.0\r\n"
        b"Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKx;rport\r\n"
        b"From: <sip:a@example.com>;tag=f\r\n"
        b"To: <sip:b@example.com>\r\n"
        b"Call-ID: cid\r\n"
        b"CSeq: 7 OPTIONS\r\n"
        b"Max-Forwards: 70\r\n"
        b"Content-Length: 2\r\n"
        b"\r\n"
        b"ab"
    )
    p = parse(wire, datagram=False)
    assert p.cseq == 7 and p.branch == b"z9hG4bKx" and p.body == b"ab"
    m.body = b""
    assert m.to_bytes().endswith(b"Content-Length: 0\r\n\r\n")


def same_values(a, b):
    assert start_line(a) == start_line(b)
    assert a.body == b.body
    assert [h for h in a.headers if h[0] != b"Content-Length"] == [
        h for h in b.headers if h[0] != b"Content-Length"
    ]
    for name in ("method", "uri", "status", "reason", "call_id", "cseq", "cseq_method",
                 "from_tag", "to_tag", "branch"):
        assert getattr(a, name) == getattr(b, name), name


def test_round_trip_parse_to_bytes_parse():
    for data in (INVITE, RESPONSE, opt(b"Subject: a\r\n b\r\n", body=b"\x00\r\n\xff")):
        m = parse(data)
        wire = m.to_bytes()
        same_values(m, parse(wire))
        assert parse(wire).to_bytes() == wire  # stable after one pass


def test_round_trip_rewrites_content_length_and_names():
    data = opt(b"v: SIP/2.0/UDP g;branch=z9hG4bK2\r\nl:  0003\r\n", body=b"abc + junk", cl=False)
    m = parse(data)
    assert m.body == b"abc"
    wire = m.to_bytes()
    assert b"Content-Length: 3\r\n\r\nabc" in wire and b"junk" not in wire
    assert b"\r\nVia: SIP/2.0/UDP g;branch=z9hG4bK2\r\n" in wire and b"l:" not in wire
    again = parse(wire)
    assert again.get_all(b"Content-Length") == [b"3"]
    same_values(m, again)


def test_to_bytes_response_and_empty_reason():
    m = Message(status=100, reason=b"")
    assert m.to_bytes() == b"SIP/2.0 100 \r\nContent-Length: 0\r\n\r\n"
    assert not m.is_request


# ------------------------------------------------------------------ response()


def test_response_copies_the_five_headers():
    req = parse(INVITE.replace(b"Max-Forwards", b"Via: SIP/2.0/UDP second;branch=z9hG4bK2\r\nMax-Forwards"))
    resp = response(req, 180, to_tag=b"a6c85cf")
    assert resp.status == 180 and resp.reason == b"Ringing"
    assert resp.get_all(b"Via") == req.get_all(b"Via")
    assert resp.get(b"From") == req.get(b"From")
    assert resp.get(b"Call-ID") == req.get(b"Call-ID")
    assert resp.get(b"CSeq") == b"314159 INVITE"
    assert resp.get(b"To") == b"Bob <sip:bob@biloxi.com>;tag=a6c85cf"
    for name in (b"Contact", b"Max-Forwards", b"Content-Type"):
        assert resp.get(name) is None
    back = parse(resp.to_bytes())
    assert back.status == 180 and back.to_tag == b"a6c85cf" and back.branch == req.branch
    assert back.call_id == req.call_id and back.cseq == req.cseq and back.from_tag == req.from_tag


def test_response_no_to_tag_on_100():
    req = parse(INVITE)
    resp = response(req, 100, to_tag=b"abc")
    assert resp.get(b"To") == b"Bob <sip:bob@biloxi.com>" and resp.reason == b"Trying"
    assert parse(resp.to_bytes()).to_tag is None


def test_response_keeps_an_existing_to_tag():
    req = parse(opt().replace(b"To: <sip:b@example.com>", b"To: <sip:b@example.com>;tag=old"))
    resp = response(req, 200, to_tag=b"new")
    assert resp.get(b"To") == b"<sip:b@example.com>;tag=old"
    assert response(parse(opt()), 200).get(b"To") == b"<sip:b@example.com>"  # no tag given


def test_response_reason():
    req = parse(opt())
    assert response(req, 486).reason == b"Busy Here"
    assert response(req, 200, b"Fine").reason == b"Fine"
    assert response(req, 599).reason == reason_phrase(599) == b"Unknown"
    assert reason_phrase(505) == b"Version Not Supported" and reason_phrase(513) == b"Message Too Large"


# ------------------------------------------------------------------ error_response()


def test_error_response_400_for_malformed_request():
    data = opt(b"Contact: <sip:a@b>;;\r\n").replace(b"From:", b"From:\r\n ")
    e = bad(data)
    resp = error_response(data, e)
    assert resp.startswith(b"SIP/2.0 400 Bad Request\r\n")
    m = parse(resp)
    assert m.status == 400 and m.call_id == b"c1" and m.cseq == 1 and m.cseq_method == b"OPTIONS"
    assert m.branch == b"z9hG4bK1" and m.from_tag == b"1"
    assert m.get(b"From") == b"<sip:a@example.com>;tag=1"  # unfolded
    assert m.get(b"Contact") is None
    assert m.get(b"Warning").startswith(b'399 tinysip "') and e.reason.encode() in m.get(b"Warning")


def test_error_response_505():
    data = opt(start=b"OPTIONS sip:b@example.com SIP/7.0")
    e = bad(data, 505)
    assert error_response(data, e).startswith(b"SIP/2.0 505 Version Not Supported\r\n")


def test_error_response_none_for_a_response():
    data = RESPONSE.replace(b"180 Ringing", b"1800 Ringing")
    e = bad(data)
    assert error_response(data, e) is None
    assert error_response(b"\r\n" + data, e) is None
    assert error_response(data.replace(b"SIP/2.0 1800", b"sip/2.0 1800"), e) is None


def test_error_response_none_without_the_five_headers():
    data = b"INVITE sip:x@y SIP/2.0\r\nCSeq: 1 INVITE\r\nVia: SIP/2.0/UDP h\r\nl: 0\r\n\r\n"
    assert error_response(data, bad(data)) is None
    assert error_response(b"", ParseError(400, "x")) is None
    assert error_response(b"garbage", ParseError(400, "x")) is None


def test_error_response_folded_line_is_not_a_header():
    # " To: ..." continues Subject; it must not become the To of the answer
    data = opt(b"Subject: x\r\n To: <sip:evil@example.com>\r\n").replace(b"To: <sip:b@example.com>\r\n", b"")
    e = bad(data)
    assert error_response(data, e) is None


def test_error_response_one_of_each_single_header():
    data = opt(b"To: <sip:other@example.net>\r\nCall-ID: c2\r\n")
    e = bad(data)
    m = parse(error_response(data, e))
    assert m.call_id == b"c1" and m.get(b"To") == b"<sip:b@example.com>"


def test_error_response_bare_lf_head_only():
    # the body must not be read as headers: here it holds a second Call-ID line
    data = opt(b"Contact: <sip:a@b>;;\r\n", body=b"Call-ID: body\r\n").replace(b"\r\n", b"\n")
    data = data.replace(b"Content-Length: 15", b"Content-Length: 14")
    e = bad(data)
    m = parse(error_response(data, e))
    assert m.call_id == b"c1"


def test_module_exports():
    for name in ("Message", "ParseError", "parse", "response", "request", "canon", "contacts",
                 "error_response", "reason_phrase"):
        assert hasattr(message, name), name
    assert parse_name_addr(parse(INVITE).get(b"To")).display == b"Bob"


# ------------------------------------------------------------------ where the head ends (issue 15)


def test_a_line_starting_with_cr_or_lf_ends_the_head():
    # Kamailio 5.6's parser rule, so the phone and its proxy agree: CRLF CRLF, LF LF, and
    # CRLF CR followed by anything else (the body starts after the CR)
    for end, body in ((b"\r\n\r\n", b"abc"), (b"\n\n", b"abc"), (b"\r\n\r", b"abc"),
                      (b"\r\n\n", b"abc"), (b"\n\r\n", b"abc"), (b"\r\n\r", b"")):
        data = opt(cl=False)[:-2] + b"Content-Length: %d" % len(body) + end + body
        m = parse(data, datagram=False)
        assert m.body == body and m.get(b"Content-Length") == b"%d" % len(body), end
        assert m.call_id == b"c1"
    # a head ending CRLF CR right before another request: not a header of this one (a
    # datagram's bytes past Content-Length are dropped)
    data = opt()[:-1] + opt().replace(b"c1", b"c2")
    m = parse(data)
    assert m.call_id == b"c1" and m.body == b"" and len(m.headers) == 6


def test_error_response_copies_only_the_five_lines():
    many = b"".join(b"X-%d: v\r\n" % i for i in range(700)) + b"v: SIP/2.0/TCP h2\r\n"
    data = opt(many)
    e = bad(data)
    assert e.reason == "more than 64 header lines"
    m = parse(error_response(data, e))
    assert [h[0] for h in m.headers] == [b"Via", b"From", b"To", b"Call-ID", b"CSeq", b"Via",
                                        b"Warning", b"Content-Length"]
    assert m.get_all(b"Via")[1] == b"SIP/2.0/TCP h2"  # compact "v" spelled out
    assert reason_phrase(414) == b"Request-URI Too Long"


# ------------------------------------------------------------------ the index (issue 16)
# A received message is an index into its bytes: values, body, Request-URI and the header
# list are sliced out when read; nothing changed, it is written back as it came.


def test_an_unchanged_message_is_written_back_as_it_came():
    for data in (INVITE, RESPONSE, opt(body=b"x")):
        m = parse(data)
        assert m.to_bytes() is data  # the very bytes: nothing written anew
    # leading CRLFs (keepalives) and bytes past Content-Length are left out
    m = parse(b"\r\n" + INVITE + b"junk")
    assert m.to_bytes() == INVITE
    # compact names and folding stay as they came: still the same message
    data = opt(b"k: path\r\n").replace(b"Call-ID: c1", b"i: c1")
    assert parse(data).to_bytes() is data


def test_written_anew_unless_it_is_as_tinysip_writes_a_message():
    cases = (
        opt().replace(b"\r\n", b"\n"),  # bare LF line ends
        RESPONSE.replace(b"SIP/2.0 180", b"sip/2.0 180"),  # the version's spelling
        opt(b"Content-Length: 00\r\n", cl=False),  # Content-Length with a leading zero
        opt(b"l: 0\r\n"),  # two Content-Length lines
        opt(cl=False),  # none (a datagram): one is added
    )
    for data in cases:
        m = parse(data)
        wire = m.to_bytes()
        assert wire != data and wire.startswith(start_line(m) + b"\r\n"), data
        assert wire.count(b"Content-Length: ") == 1 and b"\nl:" not in wire
        same_values(m, parse(wire))


def test_an_edit_writes_the_message_anew():
    def edited(fn):
        m = parse(INVITE)
        fn(m)
        return m.to_bytes()

    assert b"\r\nX-New: 1\r\n" in edited(lambda m: m.add(b"X-New", b"1"))
    assert b"Max-Forwards: 69\r\n" in edited(lambda m: m.set(b"Max-Forwards", b"69"))
    assert b"Contact" not in edited(lambda m: m.remove(b"Contact"))
    assert edited(lambda m: m.headers.append([b"X-L", b"2"])).count(b"X-L: 2\r\n") == 1
    wire = edited(lambda m: setattr(m, "body", b"v=1\r\n"))
    assert wire.endswith(b"Content-Length: 5\r\n\r\nv=1\r\n")
    wire = edited(lambda m: setattr(m, "uri", b"sip:x@y"))
    assert wire.startswith(b"INVITE sip:x@y SIP/2.0\r\n")
    assert edited(lambda m: setattr(m, "method", b"INFO")).startswith(b"INFO ")
    r = parse(RESPONSE)
    r.status, r.reason = 183, b"Session Progress"
    assert r.to_bytes().startswith(b"SIP/2.0 183 Session Progress\r\n")


def test_fields_read_after_an_edit_are_those_received():
    m = parse(INVITE)
    m.add(b"X-New", b"1")  # the headers are a list from now on
    assert m.get(b"Contact") == b"<sip:alice@pc33.atlanta.com;transport=tcp;ob>"
    assert m.body == b"v=0\n" and m.uri == b"sip:bob@biloxi.com" and m.reason == b""
    assert m.method == b"INVITE" and m.cseq_method is m.method  # sliced once, shared
    assert m.ruri.host == b"biloxi.com" and m.get(b"X-New") == b"1"
    assert m.call_id == b"a84b4c76e66710@pc33.atlanta.com" and m.cseq == 314159
    assert parse(m.to_bytes()).get_all(b"X-New") == [b"1"]
    r = parse(RESPONSE)
    r.remove(b"Contact")
    assert r.reason == b"Ringing" and r.ruri is None and r.uri is None and r.body == b""
    assert r.method is None and r.cseq_method == b"INVITE" and not r.is_request


def test_each_field_is_read_once_and_kept():
    m = parse(INVITE)
    assert m.body is m.body and m.uri is m.uri and m.ruri is m.ruri
    h = m.headers
    assert h is m.headers
    assert h[0] == [b"Via", b"SIP/2.0/TCP pc33.atlanta.com;branch=z9hG4bK776asdhds"]
    raises(AttributeError, getattr, m, "nothing_like_this")
    raises(AttributeError, getattr, Message(), "nothing_like_this")


def test_lookups_in_the_received_bytes():
    data = opt(b"k: path\r\nSUPPORTED: gruu\r\nx-odd : v1\r\nX-ODD: v2\r\n"
               b"v: SIP/2.0/UDP g;branch=z9hG4bK2\r\n")
    m = parse(data)
    # any letter case and the compact form, as the header list would have them
    assert m.get_all(b"Supported") == [b"path", b"gruu"]
    assert m.get_all(b"x-odd") == [b"v1", b"v2"] and m.get(b"X-Odd") == b"v1"
    assert m.get_all(b"Via") == [b"SIP/2.0/UDP h.example.com;branch=z9hG4bK1",
                                 b"SIP/2.0/UDP g;branch=z9hG4bK2"]
    assert m.values(b"Via")[1] == b"SIP/2.0/UDP g;branch=z9hG4bK2"
    assert m.get(b"Max-Forwards") is None and m.get_all(b"Max-Forwards") == []
    assert m.get(b"Absent", b"d") == b"d" and m.has_tag(b"Supported", b"gruu")
    assert [h[0] for h in m.headers][-5:-1] == [b"Supported", b"x-odd", b"X-ODD", b"Via"]
    # the same answers from the header list
    assert m.get_all(b"x-odd") == [b"v1", b"v2"] and m.get_all(b"Supported") == [b"path", b"gruu"]
    m.remove(b"X-ODD")
    assert m.get(b"x-odd") is None


def test_folded_lines_are_joined_before_the_index_is_built():
    data = opt(b"Subject: a\r\n \r\n\tb\r\nk: x,\r\n  y\r\n").replace(
        b"To: <sip:b@example.com>\r\n", b"t:\r\n <sip:b@example.com>\r\n ;tag=2\r\n")
    m = parse(data)
    assert m.get(b"Subject") == b"a b" and m.values(b"Supported") == [b"x", b"y"]
    assert m.get(b"To") == b"<sip:b@example.com> ;tag=2" and m.to_tag == b"2"
    assert m.call_id == b"c1" and m.body == b""
    wire = m.to_bytes()  # the joined lines, once
    assert b"\r\n " not in wire and b"\r\n\t" not in wire
    same_values(m, parse(wire))


def test_the_checks_read_every_spelling():
    # one From under two spellings, one Call-ID compact and odd-case: still "more than one"
    for extra in (b"f: <sip:x@example.com>;tag=2\r\n", b"I: c2\r\n", b"CSEQ: 2 OPTIONS\r\n",
                  b"t : <sip:b@example.com>\r\n"):
        assert "more than one" in bad(opt(extra)).reason, extra
    # a Via, Contact or To under any spelling is checked
    bad(opt(b"V: SIP/2.0/UDP g;;\r\n"))
    bad(opt(b"m: <sip:a@b>;;\r\n"))
    bad(opt(b"contact : <sip:a@b> x\r\n"))
    # Content-Length under its compact name counts for the body
    assert parse(opt(b"L: 2\r\n", body=b"ab", cl=False)).body == b"ab"


def test_cseq_number_ends_at_any_lws():
    # "9817\r REGISTER": the number is stripped as a whole value would be
    data = RESPONSE.replace(b"CSeq: 314159 INVITE", b"CSeq: 9817\r INVITE")
    assert parse(data).cseq == 9817 and parse(data).cseq_method == b"INVITE"


def test_response_bytes_are_response_to_bytes_from_the_index():
    from tinysip.message import response_bytes

    heads = [
        b"NOTIFY sip:a@h SIP/2.0\r\nVia: SIP/2.0/TLS h;branch=z9hG4bK1\r\nFrom: <sip:n@h>;tag=f"
        b"\r\nTo: <sip:a@h>;tag=t\r\nCall-ID: c1\r\nCSeq: 2 NOTIFY\r\nEvent: certificate\r\n",
        # spacing response() rewrites, compact names, lines between the copied ones, two Vias
        b"NOTIFY sip:a@h SIP/2.0\r\nv:SIP/2.0/TLS h;branch=z9hG4bK1\r\nVia:  SIP/2.0/UDP x\r\n"
        b"Max-Forwards: 70\r\nf: <sip:n@h>;tag=f\r\nTo :<sip:a@h>\r\ni: c2\r\n"
        b"CSeq:\t3 NOTIFY\r\n",
        b"NOTIFY sip:a@h SIP/2.0\nVia: SIP/2.0/TLS h;branch=z9hG4bK1\nFrom: <sip:n@h>;tag=f\n"
        b"To: <sip:a@h>\n ;x=1\nCall-ID: c3\nCSeq: 4 NOTIFY\n",
    ]
    for head in heads:
        req = parse(head + b"Content-Length: 0\r\n\r\n")
        for status, reason, name, value in ((200, None, b"Contact", (b"<", b"sip:u@h", b">")),
                                            (405, None, b"Allow", (b"INVITE", b", NOTIFY")),
                                            (400, b"Bad Event", None, ()), (481, None, None, ())):
            r = response(req, status, reason)
            if name is not None:
                r.add(name, b"".join(value))
            assert response_bytes(req, status, reason, name, value) == r.to_bytes(), head
