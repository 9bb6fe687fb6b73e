"""tinysip.headers: lists, quoted strings, parameters, name-addr, Via, numbers (RFC 3261 §20, §25).

CSeq is parsed inside message.parse(): see test_message.py."""
from testutil import raises

from tinysip.errors import ParseError
from tinysip.headers import (
    parse_name_addr,
    parse_uint,
    parse_via,
    split_list,
    split_top,
    tokens,
    unquote,
)
from tinysip.uri import is_token, parse_port


def err(fn, *args):
    e = raises(ParseError, fn, *args)
    assert e.status == 400, e
    return e


# ------------------------------------------------------------------ tokens, lists, quotes


def test_is_token():
    assert is_token(b"INVITE")
    assert is_token(b"!interesting-Method0123456789_*+`.%indeed'~")
    for bad in (b"", b"a b", b"a:b", b'a"', b"a/b", b"a;b", b"a,b", b"a@b", b"\xd0\xb0", b"a\x00"):
        assert not is_token(bad), bad


def test_split_list_outside_quotes_and_angles():
    value = b'"Bell, Alexander" <sip:a@x;p=1,2>;q=0.5 , <sip:b@y?h=a,b>,sip:c@z'
    assert split_list(value) == [
        b'"Bell, Alexander" <sip:a@x;p=1,2>;q=0.5',
        b"<sip:b@y?h=a,b>",
        b"sip:c@z",
    ]
    assert split_list(b"a") == [b"a"]
    assert split_list(b"  a ,\tb  ") == [b"a", b"b"]


def test_split_top_escaped_quote_and_separator():
    assert split_top(b'a;x="q\\";r";b', 59) == [b"a", b'x="q\\";r"', b"b"]
    assert split_top(b'"a\\\\";b', 59) == [b'"a\\\\"', b"b"]  # escaped backslash, then closing quote
    assert split_top(b"<a;b>;c", 59) == [b"<a;b>", b"c"]
    assert split_top(b"", 44) == [b""]
    # without quotes (the find() path) brackets still protect separators
    assert split_top(b"<a;b>;c;<d>", 59) == [b"<a;b>", b"c", b"<d>"]
    assert split_top(b" <sip:a@b>;x , <sip:c,d> ", 44) == [b"<sip:a@b>;x", b"<sip:c,d>"]
    assert split_top(b"a>b;c", 59) == [b"a>b", b"c"]  # a stray '>' closes nothing


def test_split_errors():
    err(split_list, b"a,,b")  # RFC 4475 badinv01
    err(split_list, b"a,")
    err(split_list, b",a")
    err(split_top, b'"unterminated, x', 44)
    err(split_top, b'"ends in backslash\\"', 44)
    err(split_top, b"<sip:a@b, c", 44)
    err(split_top, b"<a>;<b", 59)


def quote(value):
    """The inverse of unquote(), for the round trips below."""
    return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def test_quote_unquote():
    assert unquote(b'"J Rosenberg \\\\\\""') == b'J Rosenberg \\"'
    assert unquote(b'"plain"') == b"plain"
    assert unquote(b"token") == b"token"
    assert unquote(b'"') == b'"'
    assert unquote(b'""') == b""
    assert unquote(b'"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f"') == b"BEL:\x07 NUL:\x00 DEL:\x7f"
    for raw in (b"a", b'a"b', b"a\\b", b'\\"', b""):
        assert unquote(quote(raw)) == raw


# ------------------------------------------------------------------ header parameters


def test_header_params():
    na = parse_name_addr(b'<sip:a@b>;tag = 1918181833n;LR;X="a;b";q=0.33')
    got = na.params
    assert got == [(b"tag", b"1918181833n"), (b"lr", None), (b"x", b'"a;b"'), (b"q", b"0.33")]
    assert na.param(b"tag") == b"1918181833n"
    assert na.param(b"lr", b"d") is None and na.has_param(b"lr")
    assert na.param(b"nope", b"d") == b"d" and not na.has_param(b"nope")
    v = parse_via(b"SIP/2.0/UDP h;X = 1;RPORT")
    assert v.params == [(b"x", b"1"), (b"rport", None)]


def test_header_params_errors():
    for piece in (b"", b"=x", b"tag=", b"tag= ", b"a b=1", b'"q"=1'):  # b"": ";;"
        err(parse_name_addr, b"<sip:a@b>;" + piece)
        err(parse_via, b"SIP/2.0/UDP h;" + piece)


# ------------------------------------------------------------------ name-addr


def test_name_addr_quoted_display():
    na = parse_name_addr(b'"Alice" <sip:alice@atlanta.com>;tag=1928301774')
    assert na.display == b'"Alice"'  # kept as on the wire; unquote() for the text
    assert unquote(na.display) == b"Alice"
    assert na.uri.to_bytes() == b"sip:alice@atlanta.com"
    assert na.param(b"tag") == b"1928301774" and na.params == [(b"tag", b"1928301774")]


def test_name_addr_angle_only():
    na = parse_name_addr(b"<sip:alice@atlanta.com>")
    assert na.display is None and na.params == [] and na.param(b"tag") is None
    assert na.uri.to_bytes() == b"sip:alice@atlanta.com"
    assert parse_name_addr(b'  ""<sip:a@b>  ').display == b'""'


def test_name_addr_addr_spec_params_are_header_params():
    na = parse_name_addr(b"sip:alice@atlanta.com;tag=88sja8x")
    assert na.display is None
    assert na.uri.params == [] and na.param(b"tag") == b"88sja8x"
    assert na.uri.to_bytes() == b"sip:alice@atlanta.com"
    # RFC 4475 cparam01 / cparam02
    c1 = parse_name_addr(b"sip:+19725552222@gw1.example.net;unknownparam")
    assert c1.params == [(b"unknownparam", None)] and c1.uri.params == []
    c2 = parse_name_addr(b"<sip:+19725552222@gw1.example.net;unknownparam>")
    assert c2.params == [] and c2.uri.params == [(b"unknownparam", None)]


def test_name_addr_token_display_names():
    na = parse_name_addr(b"Alice Smith <sip:alice@atlanta.com>")
    assert na.display == b"Alice Smith"
    lws = parse_name_addr(b"caller<sip:caller@example.com>;tag=323")  # RFC 4475 lwsdisp
    assert lws.display == b"caller" and lws.param(b"tag") == b"323"
    odd = parse_name_addr(b"token1~` token2'+_ token3*%!.- <sip:mundane@example.com>")
    assert odd.display == b"token1~` token2'+_ token3*%!.-"


def test_name_addr_quoted_pairs_and_specials_in_display():
    na = parse_name_addr(b'"J Rosenberg \\\\\\""       <sip:jdrosen@example.com> ; tag = 98asjd8')
    assert unquote(na.display) == b'J Rosenberg \\"'
    assert na.param(b"tag") == b"98asjd8"
    na = parse_name_addr(b'"a <b>, c;d" <sip:x@y;lr>;p="q;r"')
    assert unquote(na.display) == b"a <b>, c;d"
    assert na.uri.has_param(b"lr") and na.param(b"p") == b'"q;r"'


def test_name_addr_uri_headers_kept_inside_angles():
    na = parse_name_addr(b"<sip:user@example.com?Route=%3Csip:sip.example.com%3E>")
    assert na.uri.headers == b"Route=%3Csip:sip.example.com%3E"


def test_name_addr_outbound_contact():
    value = (b'<sip:alice@192.0.2.4:5060;transport=tcp;ob>;reg-id=1;'
             b'+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";expires=3600')
    na = parse_name_addr(value)
    assert na.uri.has_param(b"ob")
    assert na.param(b"reg-id") == b"1"
    assert na.param(b"+sip.instance") == b'"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"'
    assert na.param(b"expires") == b"3600"


def test_name_addr_other_schemes():
    assert not parse_name_addr(b"isbn:2983792873").uri.is_sip
    assert parse_name_addr(b"<http://www.example.com>;tag=3").uri.scheme == b"http"
    assert parse_name_addr(b"<name:John_Smith>").uri.opaque == b"John_Smith"


def test_name_addr_errors():
    err(parse_name_addr, b'"Mr. J. User <sip:j.user@example.com>')  # quotbal
    err(parse_name_addr, b'"Joe" sip:joe@example.org')
    err(parse_name_addr, b"Bell, Alexander <sip:a.g.bell@example.com>;tag=43")  # baddn
    err(parse_name_addr, b'"Watson, Thomas" < sip:t.watson@example.org >')  # badaspec
    err(parse_name_addr, b"sip:user@example.com?Route=%3Csip:sip.example.com%3E")  # regbadct
    err(parse_name_addr, b"sip:a@b,c")
    err(parse_name_addr, b"<sip:a@b")
    err(parse_name_addr, b"<sip:a@b> junk")
    err(parse_name_addr, b'"Joe" <sip:joe@example.org>;;;;')  # badinv01
    err(parse_name_addr, b"<sip:a@b>;tag=")
    err(parse_name_addr, b"<sip:a@b>;")
    err(parse_name_addr, b"")
    err(parse_name_addr, b"<>")
    err(parse_name_addr, b"a@b")


# ------------------------------------------------------------------ Via


def test_via_basic():
    v = parse_via(b"SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;rport")
    assert v.transport == b"UDP" and v.host == b"192.0.2.1" and v.port == 5060
    assert v.branch == b"z9hG4bK776asdhds"
    assert v.param(b"rport", b"absent") is None
    assert v.params == [(b"branch", b"z9hG4bK776asdhds"), (b"rport", None)]


def test_via_transport_case_and_unknown():
    assert parse_via(b"sip/2.0/tcp host.example.com").transport == b"TCP"
    assert parse_via(b"SIP/2.0/TLS h").transport == b"TLS"
    assert parse_via(b"SIP/2.0/SCTP h").transport == b"SCTP"
    assert parse_via(b"SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en").transport == b"UNKNOWN"
    v = parse_via(b"SIP/2.0/WSS h;branch=z9hG4bK1")
    assert v.transport == b"WSS" and v.port is None


def test_via_lws_everywhere():
    # RFC 4475 wsinv after unfolding
    v = parse_via(b"SIP  /   2.0 /UDP 192.0.2.2;branch=390skdjuw")
    assert (v.transport, v.host, v.branch) == (b"UDP", b"192.0.2.2", b"390skdjuw")
    v = parse_via(b"SIP  / 2.0  / TCP     spindle.example.com   ; branch  =   z9hG4bK9ikj8")
    assert (v.transport, v.host, v.branch) == (b"TCP", b"spindle.example.com", b"z9hG4bK9ikj8")
    v = parse_via(b"SIP/2.0/UDP\thost.example.com : 5070 ;received=192.0.2.7")
    assert v.host == b"host.example.com" and v.port == 5070
    assert v.param(b"received") == b"192.0.2.7"


def test_via_ipv6():
    v = parse_via(b"SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111")
    assert v.host == b"[2001:db8::9:1]" and v.port == 6050
    v = parse_via(b"SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111")
    assert v.port is None and v.param(b"received") == b"[2001:db8::9:255]"
    v = parse_via(b"SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3")
    assert v.param(b"received") == b"2001:db8::9:255" and v.branch == b"z9hG4bKas3"
    v = parse_via(b"SIP/2.0/UDP [::ffff:192.0.2.10]:19823;branch=z9hG4bKbh19")
    assert v.host == b"[::ffff:192.0.2.10]" and v.port == 19823


def test_via_params():
    v = parse_via(b"SIP/2.0/TCP h;branch=z9hG4bKx;rport=5061;received=192.0.2.1;maddr=224.2.0.1;ttl=16")
    assert v.param(b"rport") == b"5061" and v.param(b"ttl") == b"16"
    assert v.param(b"maddr") == b"224.2.0.1"
    assert parse_via(b"SIP/2.0/TCP h").branch is None
    assert parse_via(b"SIP/2.0/UDP h;BRANCH=z9hG4bKAbC").branch == b"z9hG4bKAbC"  # value case kept


def test_via_errors():
    for bad in (
        b"SIP/2.0 host",
        b"SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw",
        b"XIP/2.0/UDP h",
        b"SIP/2.0/UDP",
        b"SIP/2.0/UDP ",
        b"SIP/2.0/UDP h:99999",
        b"SIP/2.0/UDP h:",
        b"SIP/2.0/UDP h:x",
        b"SIP/2.0/UDP [::1",
        b"SIP/2.0/UDP [::1]x",
        b"SIP/2.0/UDP 192.0.2.15;;",
        b"SIP/2.0/UDP h;branch=",
        b"SIP/2.0/U@P h",
        b"SIP/2.0/UDP a b",
        b"SIP/2.0/UDP/X h",
        b"",
    ):
        err(parse_via, bad)


# ------------------------------------------------------------------ numbers


def test_parse_uint():
    assert parse_uint(b"0068", 255, "Max-Forwards") == 68
    assert parse_uint(b"0", 5, "x") == 0
    assert parse_uint(b"000000000000000000000", 5, "x") == 0
    assert parse_uint(b" 5 ", 5, "x") == 5
    e = err(parse_uint, b"6", 5, "Thing")
    assert "Thing" in e.reason
    for bad in (b"", b" ", b"-1", b"+1", b"1e3", b"10000000000000000000000000000000000"):
        err(parse_uint, bad, 0xFFFFFFFF, "x")


def test_parse_port():
    assert parse_port(b"5060") == 5060 and parse_port(b" 1 ") == 1
    for bad in (b"", b"65536", b"123456", b"-1", b"x"):
        err(parse_port, bad)


def test_tokens():
    assert tokens([b"outbound, Path", b"gruu", b" , 100rel"]) == [b"outbound", b"path", b"gruu", b"100rel"]
    assert tokens([]) == []


# ------------------------------------------------------------------ caps (issue 15)


def test_caps_are_counted_before_splitting():
    # headers.py's caps (private consts there: a public name would cost the phone heap)
    MAX_PARAMS, MAX_VALUES = 32, 64
    assert len(split_list(b", ".join([b"a"] * MAX_VALUES))) == MAX_VALUES
    e = err(split_list, b",".join([b"a"] * (MAX_VALUES + 1)))
    assert e.reason == "more than 64 list elements"
    via = b"SIP/2.0/UDP h;branch=z9hG4bK1" + b";p" * (MAX_PARAMS - 1)
    assert len(parse_via(via).params) == MAX_PARAMS
    assert err(parse_via, via + b";q").reason == "Via with more than 32 parameters"
    # header parameters and the URI's own are counted apart
    uri = b"<sip:a@h" + b";u" * MAX_PARAMS + b">"
    assert len(parse_name_addr(uri + b";t" * MAX_PARAMS).params) == MAX_PARAMS
    e = err(parse_name_addr, uri + b";t" * (MAX_PARAMS + 1))
    assert e.reason == "header value with more than 32 parameters"
    e = err(parse_name_addr, b"sip:a@h" + b";t" * (MAX_PARAMS + 1))  # addr-spec form
    assert e.reason == "header value with more than 32 parameters"


# ------------------------------------------------------------------ in place (issue 16)
# message.parse() checks a received message where it lies: the parsers read value[a:b]
# and, with keep False or None, build nothing but the tag or branch.

NAME_ADDRS = (b'"J Rosenberg \\\\\\""  <sip:jdrosen@example.com> ; tag = 98asjd8',
              b"caller<sip:caller@example.com>;tag=323", b"sip:a@b;tag=x", b"<sip:a@b>",
              b"<sip:a@b;lr>;p=\"q;r\";TAG=t1", b"Alice Smith <sip:a@h>;tag")
BAD_NAME_ADDRS = (b'"Mr. J. User <sip:j.user@example.com>', b'"Joe" sip:joe@example.org',
                  b"Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
                  b'"Watson, Thomas" < sip:t.watson@example.org >', b"sip:a@b,c", b"<sip:a@b",
                  b"<sip:a@b> junk", b'"Joe" <sip:joe@example.org>;;;;', b"<sip:a@b>;tag=",
                  b"<sip:a@b>;", b"", b"<>", b"a@b", b"<sip:a@b" + b";u" * 33 + b">")


def embedded(value):
    """value inside other bytes: (buffer, start, end)."""
    return b"xx:" + value + b"\r\nyy", 3, 3 + len(value)


def test_name_addr_in_place_gives_the_tag_and_checks_the_same():
    for value in NAME_ADDRS:
        buf, a, b = embedded(value)
        assert parse_name_addr(buf, a, b, False) == parse_name_addr(value).param(b"tag"), value
        assert parse_name_addr(buf, a, b, None) is None
        assert parse_name_addr(buf, a, b).params == parse_name_addr(value).params
    for value in BAD_NAME_ADDRS:
        buf, a, b = embedded(value)
        for keep in (True, False, None):
            e = err(parse_name_addr, buf, a, b, keep)
            assert e.reason == err(parse_name_addr, value).reason, (value, keep)


def test_via_in_place_gives_the_branch_and_checks_the_same():
    for value in (b"SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;rport",
                  b"SIP  / 2.0  / TCP     spindle.example.com   ; branch  =   z9hG4bK9ikj8",
                  b"SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;BRANCH=z9hG4bKas3",
                  b"SIP/2.0/TCP h"):
        buf, a, b = embedded(value)
        assert parse_via(buf, a, b, False) == parse_via(value).branch
        assert parse_via(buf, a, b, None) is None
        v = parse_via(buf, a, b)
        assert (v.host, v.port, v.params) == (parse_via(value).host, parse_via(value).port,
                                             parse_via(value).params)
    for value in (b"SIP/2.0 host", b"XIP/2.0/UDP h", b"SIP/2.0/UDP h:99999", b"SIP/2.0/UDP [::1",
                  b"SIP/2.0/UDP [:: 1]", b"SIP/2.0/UDP 192.0.2.15;;", b"SIP/2.0/U@P h",
                  b"SIP/2.0/UDP a b", b"", b"SIP/2.0/UDP h;branch=" + b";p" * 33):
        buf, a, b = embedded(value)
        for keep in (True, False, None):
            assert err(parse_via, buf, a, b, keep).reason == err(parse_via, value).reason


def test_element_end_skips_quotes_and_angle_brackets():
    from tinysip.headers import element_end

    v = b'a;x="q\\";r";<s;t>;"u;v"<w;x>z;y'
    ends = []
    p = 0
    while p <= len(v):
        e = element_end(v, p, len(v), 59)
        ends.append(v[p:e])
        p = e + 1
    assert ends == [b"a", b'x="q\\";r"', b"<s;t>", b'"u;v"<w;x>z', b"y"]
    assert element_end(b"abc;d", 0, 2, 59) == 2 and element_end(b"a,b", 0, 3, 44) == 1
    err(element_end, b'a"b;c', 0, 5, 59)
    err(element_end, b"<a;b", 0, 4, 59)


def test_parse_uint_in_place_and_without_raising():
    buf = b"CSeq: 0009 INVITE"
    assert parse_uint(buf, 0xFFFFFFFF, "CSeq", 6, 10) == 9
    assert parse_uint(buf, 5, None, 6, 10) == -1  # over the limit
    assert parse_uint(buf, 99, None, 6, 17) == -1 and parse_uint(b"", 9, None) == -1
    assert err(parse_uint, buf, 5, "CSeq", 6, 10).reason == "CSeq: not a number up to 5"
