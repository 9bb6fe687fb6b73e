"""tinysip.uri: SIP/SIPS URI forms, parameters, escapes, serialisation (RFC 3261 §19.1)."""
from testutil import raises

from tinysip.errors import ParseError
from tinysip.uri import Uri, parse_uri, unescape


def bad(text):
    e = raises(ParseError, parse_uri, text)
    assert e.status == 400, e
    return e


# ------------------------------------------------------------------ basic forms


def test_sip_uri_with_user():
    u = parse_uri(b"sip:alice@atlanta.com")
    assert u.scheme == b"sip" and u.is_sip
    assert u.user == b"alice" and u.password is None
    assert u.host == b"atlanta.com" and u.port is None
    assert u.params == [] and u.headers is None and u.opaque is None
    assert u.host_port() == (b"atlanta.com", 5060)
    assert u.transport == b"udp" and not u.secure
    assert u.to_bytes() == b"sip:alice@atlanta.com"


def test_sip_uri_without_user():
    u = parse_uri(b"sip:registrar.example.com")
    assert u.user is None and u.host == b"registrar.example.com"
    assert u.to_bytes() == b"sip:registrar.example.com"


def test_sips_defaults_to_tls_and_5061():
    u = parse_uri(b"sips:bob@biloxi.com")
    assert u.scheme == b"sips" and u.secure
    assert u.transport == b"tls"
    assert u.host_port() == (b"biloxi.com", 5061)
    t = parse_uri(b"sips:bob@biloxi.com;transport=tcp")
    assert t.transport == b"tcp" and t.secure and t.host_port()[1] == 5061


def test_scheme_and_host_case_folded_user_kept():
    u = parse_uri(b"SIP:Alice@AtLanTa.CoM")
    assert u.scheme == b"sip"
    assert u.host == b"atlanta.com"
    assert u.user == b"Alice"  # userinfo is case-sensitive


def test_user_and_password():
    u = parse_uri(b"sip:alice:secretword@atlanta.com;transport=tcp")
    assert u.user == b"alice" and u.password == b"secretword"
    assert u.host == b"atlanta.com" and u.param(b"transport") == b"tcp"
    assert u.to_bytes() == b"sip:alice:secretword@atlanta.com;transport=tcp"
    empty = parse_uri(b"sip:alice:@atlanta.com")
    assert empty.user == b"alice" and empty.password == b""
    assert empty.to_bytes() == b"sip:alice:@atlanta.com"


def test_telephone_subscriber_user():
    u = parse_uri(b"sip:+1-212-555-1212:1234@gateway.com;user=phone")
    assert u.user == b"+1-212-555-1212" and u.password == b"1234"
    assert u.param(b"user") == b"phone"


def test_ipv4_with_and_without_port():
    u = parse_uri(b"sip:alice@192.0.2.4")
    assert u.host == b"192.0.2.4" and u.port is None
    assert u.host_port() == (b"192.0.2.4", 5060)
    p = parse_uri(b"sip:alice@192.0.2.4:5070")
    assert p.host == b"192.0.2.4" and p.port == 5070
    assert p.host_port() == (b"192.0.2.4", 5070)
    assert p.to_bytes() == b"sip:alice@192.0.2.4:5070"
    assert parse_uri(b"sip:h:0").port == 0
    assert parse_uri(b"sip:h:65535").port == 65535
    assert parse_uri(b"sip:h:05060").port == 5060


def test_ipv6_without_port():
    u = parse_uri(b"sip:[2001:db8::10]")
    assert u.host == b"[2001:db8::10]" and u.port is None
    assert u.host_port() == (b"2001:db8::10", 5060)  # brackets are URI syntax only
    assert u.to_bytes() == b"sip:[2001:db8::10]"


def test_ipv6_with_port_user_and_params():
    u = parse_uri(b"sips:user@[2001:DB8::A]:5071;transport=tcp")
    assert u.user == b"user"
    assert u.host == b"[2001:db8::a]" and u.port == 5071
    assert u.host_port() == (b"2001:db8::a", 5071)
    assert u.param(b"transport") == b"tcp"
    assert u.to_bytes() == b"sips:user@[2001:db8::a]:5071;transport=tcp"


def test_ipv6_port_inside_brackets_is_not_a_port():
    # RFC 5118 §4.3: [2001:db8::10:5070] is one address, default port
    u = parse_uri(b"sip:[2001:db8::10:5070]")
    assert u.port is None
    assert u.host_port() == (b"2001:db8::10:5070", 5060)


def test_ipv6_mapped_and_three_colons():
    assert parse_uri(b"sip:ted@[::ffff:192.0.2.2]").host_port() == (b"::ffff:192.0.2.2", 5060)
    assert parse_uri(b"sip:[::1]:5062").host_port() == (b"::1", 5062)
    # RFC 5118 §4.10: tolerated (uri.py does not count colons)
    assert parse_uri(b"sip:user@[2001:db8:::192.0.2.1]").host == b"[2001:db8:::192.0.2.1]"


def test_ipv6_errors():
    bad(b"sip:2001:db8::10")  # no brackets: host "2001", port "db8::10"
    bad(b"sip:[2001:db8::10")
    bad(b"sip:[2001:db8::10]5070")
    bad(b"sip:[2001:db8::10]:")
    bad(b"sip:[2001:db8::g]")
    bad(b"sip:[]")
    bad(b"sip:[:]")
    bad(b"sip:user@[2001:db8::10]:99999")


def test_bad_ports():
    for text in (b"sip:h:", b"sip:h:65536", b"sip:h:-1", b"sip:h:abc", b"sip:h:123456",
                 b"sip:h:5060:5061", b"sip:h: 5060"):
        bad(text)


def test_bad_hosts_users_and_schemes():
    bad(b"sip:")
    bad(b"sip:user@")
    bad(b"sip:@example.com")
    bad(b"sip::pw@example.com")
    bad(b"sip:exa_mple!.com")
    bad(b"sip:user@example.com;")  # empty parameter
    bad(b"sip:user@example.com;;lr")
    bad(b"sip:user@example.com;=x")
    bad(b"alice@atlanta.com")  # no scheme
    bad(b":alice@atlanta.com")
    bad(b"1sip:alice@atlanta.com")
    bad(b"s!p:alice@atlanta.com")
    bad(b"http:")
    bad(b"")


def test_whitespace_and_controls_are_errors():
    bad(b"sip:user@example.com; lr")  # RFC 4475 lwsruri
    bad(b"sip:us er@example.com")
    bad(b"sip:user@example.com\t")
    bad(b"sip:user\x00@example.com")
    bad(b"sip:user@example.com\x7f")


# ------------------------------------------------------------------ parameters


def test_params_in_order_names_lower_values_as_received():
    u = parse_uri(b"sip:alice@atlanta.com;Transport=TCP;LR;maddr=239.255.255.1;ttl=15;"
                  b"user=phone;method=INVITE;x=")
    assert u.params == [
        (b"transport", b"TCP"),
        (b"lr", None),
        (b"maddr", b"239.255.255.1"),
        (b"ttl", b"15"),
        (b"user", b"phone"),
        (b"method", b"INVITE"),
        (b"x", b""),
    ]
    assert u.transport == b"tcp"
    assert u.has_param(b"lr") and u.param(b"lr") is None
    assert u.param(b"missing") is None and u.param(b"missing", b"d") == b"d"
    assert not u.has_param(b"missing")


def test_lr_param():
    u = parse_uri(b"sip:proxy.example.com;lr")
    assert u.has_param(b"lr") and u.param(b"lr", b"absent") is None
    assert u.to_bytes() == b"sip:proxy.example.com;lr"


def test_outbound_ob_param():
    u = parse_uri(b"sip:alice@192.0.2.4:5060;transport=tcp;ob")
    assert u.has_param(b"ob") and u.param(b"ob") is None
    assert u.transport == b"tcp"
    assert u.to_bytes() == b"sip:alice@192.0.2.4:5060;transport=tcp;ob"


def test_gruu_gr_param_with_value():
    text = b"sip:callee@example.com;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"
    u = parse_uri(text)
    assert u.user == b"callee" and u.host == b"example.com"
    assert u.param(b"gr") == b"urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"
    assert u.to_bytes() == text


def test_gruu_gr_param_valueless_temp_gruu():
    text = b"sip:tgruu.7hs==jd7vnzga5w7fajsc7-ajd6fabz0f8g5@example.com;gr"
    u = parse_uri(text)
    assert u.user == b"tgruu.7hs==jd7vnzga5w7fajsc7-ajd6fabz0f8g5"
    assert u.has_param(b"gr") and u.param(b"gr") is None
    assert u.to_bytes() == text


def test_transport_param_variants():
    assert parse_uri(b"sip:h;transport=TLS").secure
    assert parse_uri(b"sip:h;transport=TLS").host_port() == (b"h", 5061)
    assert parse_uri(b"sip:h;transport=sctp").transport == b"sctp"
    # a valueless transport is odd but must not crash the UA
    odd = parse_uri(b"sip:h;transport")
    assert odd.transport == b"udp" and not odd.secure
    assert odd.host_port() == (b"h", 5060)


def test_param_list_forms():
    assert parse_uri(b"sip:h").params == [] and parse_uri(b"sip:h?x=1").params == []
    assert parse_uri(b"sip:h;a=1;B;c=").params == [(b"a", b"1"), (b"b", None), (b"c", b"")]
    assert parse_uri(b"sip:h;x=a=b").params == [(b"x", b"a=b")]
    bad(b"sip:h;a;;b")
    bad(b"sip:h;;a")
    bad(b"sip:h;a;?x=1")


def test_escaped_param_names_are_decoded_once():
    # RFC 4475 esc01: ';%6C%72' is ';lr'; the value stays escaped as on the wire
    u = parse_uri(b"sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31")
    assert u.has_param(b"lr")
    assert u.param(b"name") == b"v%61lue%25%34%31"
    assert unescape(u.param(b"name")) == b"value%41"
    again = parse_uri(u.to_bytes())
    assert again.params == u.params and again.to_bytes() == u.to_bytes()
    # a name that would decode to a delimiter keeps its escaped spelling
    k = parse_uri(b"sip:h;%3Bx=1")
    assert k.params == [(b"%3bx", b"1")]
    assert parse_uri(k.to_bytes()).params == k.params


# ------------------------------------------------------------------ headers


def test_uri_headers():
    u = parse_uri(b"sip:alice@atlanta.com?subject=project%20x&priority=urgent")
    assert u.params == [] and u.headers == b"subject=project%20x&priority=urgent"
    assert u.to_bytes() == b"sip:alice@atlanta.com?subject=project%20x&priority=urgent"
    v = parse_uri(b"sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com")
    assert v.user is None and v.host == b"biloxi.com"
    assert v.param(b"method") == b"REGISTER"
    assert v.headers == b"to=sip:bob%40biloxi.com"
    w = parse_uri(b"sip:user@example.com?Route=%3Csip:sip.example.com%3E")
    assert w.headers == b"Route=%3Csip:sip.example.com%3E"  # kept escaped, never injected
    assert w.to_bytes() == b"sip:user@example.com?Route=%3Csip:sip.example.com%3E"


# ------------------------------------------------------------------ escapes


def test_user_stays_escaped_unescape_decodes_once():
    u = parse_uri(b"sip:%61lice@atlanta.com")
    assert u.user == b"%61lice" and unescape(u.user) == b"alice"
    assert unescape(b"value%2541") == b"value%41"
    assert unescape(unescape(b"value%2541")) == b"valueA"  # what a double decode would do
    assert unescape(b"I%20have%20spaces") == b"I have spaces"
    assert unescape(b"sips%3Auser%40example.com") == b"sips:user@example.com"
    assert unescape(b"%4a%4A") == b"JJ"


def test_unescape_nul_not_truncated():
    assert unescape(b"null-%00-null") == b"null-\x00-null"
    assert unescape(b"%00%00") == b"\x00\x00"


def test_unescape_keeps_bad_escapes_literally():
    same = b"plain"
    assert unescape(same) is same  # no copy when there is nothing to do
    for text in (b"%", b"%4", b"a%", b"%zz", b"%Z%45", b"%+1x", b"% 1x", b"%-0x", b"%0x",
                 b"%1_"):
        want = text.replace(b"%45", b"E")
        assert unescape(text) == want, (text, unescape(text))


# ------------------------------------------------------------------ opaque schemes


def test_other_schemes_are_opaque():
    for text, scheme, opaque in (
        (b"tel:+1-201-555-0123", b"tel", b"+1-201-555-0123"),
        (b"nobodyKnowsThisScheme:totallyopaquecontent", b"nobodyknowsthisscheme",
         b"totallyopaquecontent"),
        (b"soap.beep://192.0.2.103:3002", b"soap.beep", b"//192.0.2.103:3002"),
        (b"urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6", b"urn",
         b"uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"),
        (b"isbn:2983792873", b"isbn", b"2983792873"),
    ):
        u = parse_uri(text)
        assert not u.is_sip
        assert u.scheme == scheme and u.opaque == opaque
        assert u.to_bytes() == scheme + b":" + opaque


# ------------------------------------------------------------------ serialisation


def test_round_trip():
    for text in (
        b"sip:alice@atlanta.com",
        b"sips:alice:pw@[2001:db8::1]:5061;transport=tcp;lr",
        b"sip:+1-212-555-1212:1234@gateway.com;user=phone",
        b"sip:alice@192.0.2.4:5060;transport=tcp;ob",
        b"sip:callee@example.com;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
        b"sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
        b"sip:user;par=u%40example.net@example.com",
    ):
        u = parse_uri(text)
        assert u.to_bytes() == text
        assert parse_uri(u.to_bytes()).to_bytes() == text


def test_constructor():
    u = Uri(b"sip", b"alice", b"example.com", 5070, [(b"ob", None)])
    assert u.to_bytes() == b"sip:alice@example.com:5070;ob"
    u.password = b"pw"
    assert u.to_bytes() == b"sip:alice:pw@example.com:5070;ob"
    d = Uri()
    d.host = b"h"
    assert d.to_bytes() == b"sip:h" and d.params == [] and d.is_sip
    assert Uri().params is not Uri().params  # no shared default list
    # transport and secure follow the params and scheme given to the constructor
    t = Uri(b"sip", None, b"h", None, [(b"transport", b"TLS")])
    assert t.transport == b"tls" and t.secure and t.host_port() == (b"h", 5061)
    s = Uri(b"sips", None, b"h")
    assert s.transport == b"tls" and s.secure and s.host_port() == (b"h", 5061)
    assert d.transport == b"udp" and not d.secure and d.host_port() == (b"h", 5060)


# ------------------------------------------------------------------ in place (issue 16)


def test_a_uri_checked_in_place():
    buf = b"<sip:alice@atlanta.com;lr?subject=x> tail"
    assert parse_uri(buf, 1, 35, False) == 25  # where its headers start
    assert parse_uri(buf, 1, 25, False) == -1
    assert parse_uri(b"x tel:+1 y", 2, 8, False) == -1
    u = parse_uri(buf, 1, 35)
    assert (u.user, u.host, u.params, u.headers) == (b"alice", b"atlanta.com", [(b"lr", None)],
                                                     b"subject=x")
    for text in (b"sip:", b"sip:us er@example.com", b"sip:user\x00@example.com",
                 b"sip:h;;a", b"sip:[2001:db8::10]5070", b"1sip:a@b", b"sip:h:65536"):
        e = raises(ParseError, parse_uri, b"<" + text + b">", 1, 1 + len(text), False)
        assert e.reason == bad(text).reason, text


def test_same_compares_in_place_in_any_letter_case():
    from tinysip.uri import same

    assert same(b"xxVIA:", 2, 5, b"Via") and same(b"via", 0, 3, b"Via")
    assert not same(b"Vi-", 0, 3, b"Via") and not same(b"Via", 0, 2, b"Via")
    assert same(b"call-id", 0, 7, b"Call-ID") and not same(b"Call\rID", 0, 7, b"Call-ID")
    assert not same(b"\x16ia", 0, 3, b"6ia")  # only letters fold
