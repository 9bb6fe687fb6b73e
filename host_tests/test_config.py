"""Config validation: every problem is a ConfigError that names the key at fault."""
import binascii

from testutil import raises

from tinysip.config import Config, ConfigError, ca_der, lookup

# a tiny DER-looking blob (SEQUENCE, length, junk) and its PEM wrapping
DER = b"\x30\x82\x01\x0a" + bytes(range(64)) + b"\x02\x01\x00"


def pem(der, label=b"CERTIFICATE"):
    b64 = binascii.b2a_base64(der).strip()
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return (b"-----BEGIN " + label + b"-----\n" + b"\n".join(lines) + b"\n-----END " + label
            + b"-----\n")


def base():
    return {
        "aor": "sip:alice@lab.test",
        "auth": {"username": "alice", "password": "secret"},
        "outbound": ["sips:edge1.lab.test"],
        "tls": {"ca": "/flash/ca.pem"},
    }


def with_(**kw):
    d = base()
    for k in kw:
        d[k] = kw[k]
    return d


def error(cfg):
    e = raises(ConfigError, Config, cfg)
    assert isinstance(e, ValueError)  # architecture.md: a local misuse is a ValueError
    return str(e)


def names(msg, key):
    return ("'%s'" % key) in msg


# -- the happy path and defaults --------------------------------------------------------------
def test_minimal_config_and_defaults():
    c = Config(base())
    assert c.aor.to_bytes() == b"sip:alice@lab.test"
    assert c.username == b"alice" and c.password == b"secret"
    assert isinstance(c.username, bytes)
    assert c.expires == 3600
    assert c.keepalive_ms == 25000
    assert c.outbound_mode == "auto"
    assert c.pong_timeout_ms == 10000
    assert c.base_all_down_ms == 30000
    assert c.base_some_up_ms == 90000
    assert c.max_backoff_ms == 1800000
    assert c.connect_timeout_ms == 10000
    assert c.t1 == 500
    assert c.max_message == 16384
    assert c.user_agent == b"tinysip/0.1"
    assert c.ca_path == "/flash/ca.pem"
    assert c.server_name is None
    assert c.mac is None
    assert len(c.proxies) == 1


def test_all_keys_set():
    d = base()
    d["expires"] = 600
    d["mac"] = "aa:bb:cc:dd:ee:ff"
    d["user_agent"] = "phone/2"
    d["flow"] = {"keepalive": 25, "pong_timeout": 5, "base_all_down": 10, "base_some_up": 20,
                 "max_backoff": 300, "connect_timeout": 3}
    d["sip"] = {"t1": 250, "max_message": 8192}
    c = Config(d)
    assert c.expires == 600
    assert c.mac == "aa:bb:cc:dd:ee:ff"
    assert c.user_agent == b"phone/2"
    assert (c.keepalive_ms, c.pong_timeout_ms, c.base_all_down_ms, c.base_some_up_ms,
            c.max_backoff_ms, c.connect_timeout_ms) == (25000, 5000, 10000, 20000, 300000, 3000)
    assert (c.t1, c.max_message) == (250, 8192)


def test_fractional_seconds_become_ms():
    d = base()
    d["flow"] = {"keepalive": 1.5, "pong_timeout": 0.25, "base_all_down": 0.05}
    c = Config(d)
    assert c.keepalive_ms == 1500
    assert c.pong_timeout_ms == 250
    assert c.base_all_down_ms == 50


def test_literal_dotted_keys_accepted():
    d = {
        "aor": "sip:alice@lab.test",
        "auth.username": "alice",
        "auth.password": "secret",
        "outbound": ["sips:edge1.lab.test"],
        "tls.ca": "/ca.der",
        "flow.keepalive": 30,
        "sip.t1": 100,
    }
    c = Config(d)
    assert c.username == b"alice" and c.password == b"secret"
    assert c.ca_path == "/ca.der"
    assert c.keepalive_ms == 30000
    assert c.t1 == 100
    # a literal dotted key with a bad value is named too
    d["flow.keepalive"] = "x"
    assert names(error(d), "flow.keepalive")


def test_lookup():
    assert lookup({"a": {"b": {"c": 1}}}, "a.b.c") == 1
    assert lookup({"a.b": 2}, "a.b") == 2
    assert lookup({"a": 3}, "a.b", None) is None
    assert lookup({}, "x.y", 7) == 7
    e = raises(ConfigError, lookup, {"a": 3}, "a.b")
    assert names(str(e), "a.b")


# -- missing required keys ------------------------------------------------------------------------
def test_missing_aor():
    d = base()
    del d["aor"]
    msg = error(d)
    assert names(msg, "aor") and "missing" in msg


def test_missing_username_and_password():
    d = base()
    del d["auth"]["username"]
    assert names(error(d), "auth.username")
    d = base()
    del d["auth"]["password"]
    assert names(error(d), "auth.password")
    d = base()
    del d["auth"]
    assert names(error(d), "auth.username")
    d = base()
    d["auth"] = "alice:secret"  # not an object
    assert names(error(d), "auth.username")


def test_missing_outbound():
    d = base()
    del d["outbound"]
    assert names(error(d), "outbound")


def test_missing_tls_ca_when_tls():
    for proxy in ("sips:edge1.lab.test", "sip:edge1.lab.test;transport=tls"):
        d = base()
        d["outbound"] = [proxy]
        del d["tls"]
        msg = error(d)
        assert names(msg, "tls.ca"), msg
    # one TLS proxy among TCP ones is enough to need the CA
    d = base()
    d["outbound"] = ["sip:a.lab.test;transport=tcp", "sips:b.lab.test"]
    del d["tls"]
    assert names(error(d), "tls.ca")


def test_tls_ca_not_needed_for_tcp():
    d = base()
    d["outbound"] = ["sip:edge1.lab.test;transport=tcp"]
    del d["tls"]
    c = Config(d)
    assert c.ca_path is None
    assert c.proxies[0].tls is False


# -- bad types and ranges ------------------------------------------------------------------------
def test_top_level_must_be_an_object():
    for cfg in ([], "x", None, 5):
        e = raises(ConfigError, Config, cfg)
        assert "object" in str(e)


def test_bad_aor():
    for v in (5, "", None, ["sip:a@b"], "alice@lab.test", "tel:+15551234", "sip:lab.test",
              "sip:alice@", "sip:alice@lab test"):
        msg = error(with_(aor=v))
        assert names(msg, "aor"), (v, msg)


def test_sips_aor_accepted():
    assert Config(with_(aor="sips:alice@lab.test")).aor.scheme == b"sips"


def test_bad_strings():
    for key, sub in (("auth.username", "username"), ("auth.password", "password")):
        for v in ("", 5, None, ["x"]):
            d = base()
            d["auth"][sub] = v
            assert names(error(d), key), (key, v)
    for v in ("", 5, True):
        assert names(error(with_(user_agent=v)), "user_agent")
    d = base()
    d["tls"]["server_name"] = 5
    assert names(error(d), "tls.server_name")
    d = base()
    d["tls"]["ca"] = ""
    assert names(error(d), "tls.ca")


def test_bad_expires():
    for v in ("3600", 0, -1, 3600.5, True, None, [1], 2 ** 32):
        msg = error(with_(expires=v))
        assert names(msg, "expires"), (v, msg)
    assert Config(with_(expires=3600.0)).expires == 3600
    assert Config(with_(expires=1)).expires == 1
    assert Config(with_(expires=0xFFFFFFFF)).expires == 0xFFFFFFFF


def test_non_finite_numbers_name_the_key():
    # JSON "NaN" / "1e400" decode to nan / inf: still a ConfigError naming the key
    nan = float("nan")
    inf = float("inf")
    for v in (nan, inf, -inf):
        assert names(error(with_(expires=v)), "expires"), v
        d = base()
        d["sip"] = {"t1": v}
        assert names(error(d), "sip.t1"), v
        d = base()
        d["flow"] = {"keepalive": v}
        assert names(error(d), "flow.keepalive"), v


def test_bad_durations():
    cases = (
        ("keepalive", (0, 0.5, 86401, "120", True, None)),
        ("pong_timeout", (0, 0.01, 601, "10", False)),
        ("base_all_down", (0, 86401, "30")),
        ("base_some_up", (0, -1, [90])),
        ("max_backoff", (0, 100000)),
        ("connect_timeout", (0.05, 601, {})),
    )
    for sub, values in cases:
        for v in values:
            d = base()
            d["flow"] = {sub: v}
            msg = error(d)
            assert names(msg, "flow." + sub), (sub, v, msg)


def test_bad_sip_numbers():
    for sub, values in (("t1", (9, 60001, "500", 500.5)), ("max_message", (1023, 65536, 0))):
        for v in values:
            d = base()
            d["sip"] = {sub: v}
            msg = error(d)
            assert names(msg, "sip." + sub), (sub, v, msg)
    d = base()
    d["sip"] = {"t1": 10, "max_message": 65535}
    c = Config(d)
    assert (c.t1, c.max_message) == (10, 65535)


def test_range_message_says_the_range():
    msg = error(with_(expires=0))
    assert "between" in msg


def test_min_sys_heap_default_0_for_off_and_errors():
    assert Config(base()).min_sys_heap == 40000  # bytes before a TLS flow connects
    assert Config(with_(flow={"min_sys_heap": 0})).min_sys_heap == 0  # never checked
    for bad in (-1, 1.5, "40k", True):
        assert names(error(with_(flow={"min_sys_heap": bad})), "flow.min_sys_heap")


# -- media: the mirror's RTP port range ---------------------------------------------------------
def test_media_port_range_defaults_alias_and_errors():
    c = Config(base())
    assert (c.media_port, c.media_port_max) == (40000, 40998)  # 500 even ports
    c = Config(with_(media={"port": 44000}))  # the older key names the range's start
    assert (c.media_port, c.media_port_max) == (44000, 44998)
    c = Config(with_(media={"port": 44000, "port_min": 30001, "port_max": 30011}))
    assert (c.media_port, c.media_port_max) == (30002, 30011)  # RTP on even ports
    c = Config(with_(media={"port_min": 65533}))
    assert (c.media_port, c.media_port_max) == (65534, 65534)
    c = Config(with_(media={"port_min": 50000, "port_max": 50000}))  # one fixed port
    assert (c.media_port, c.media_port_max) == (50000, 50000)
    assert names(error(with_(media={"port_min": 50000, "port_max": 49998})), "media.port_max")
    assert names(error(with_(media={"port_min": 50001, "port_max": 50001})), "media.port_max")
    for key in ("port", "port_min", "port_max"):
        for bad in (80, 65535, 4.5, "40000", True):
            assert names(error(with_(media={key: bad})), "media." + key), (key, bad)


# -- outbound proxies ------------------------------------------------------------------------------
def test_outbound_must_be_a_non_empty_list():
    for v in ("sips:edge1.lab.test", [], {}, None, 5):
        assert names(error(with_(outbound=v)), "outbound"), v


def test_outbound_entries_named_by_index():
    msg = error(with_(outbound=["sips:a.lab.test", 5]))
    assert names(msg, "outbound[1]")
    msg = error(with_(outbound=["sips:a.lab.test", "sips:b.lab.test", "not a uri"]))
    assert names(msg, "outbound[2]")
    msg = error(with_(outbound=["http://example.com/"]))
    assert names(msg, "outbound[0]")
    msg = error(with_(outbound=["sips:"]))
    assert names(msg, "outbound[0]")


def test_udp_flows_and_bad_transports():
    for v in ("sip:edge1.lab.test", "sip:edge1.lab.test;transport=udp",
              "sip:edge1.lab.test;transport=UDP"):
        p = Config(with_(outbound=["sips:ok.lab.test", v])).proxies[1]
        assert p.udp and not p.tls and p.port == 5060 and p.stun and not p.stun_forced, v
    for v in ("sip:edge1.lab.test;transport=sctp", "sips:edge1.lab.test;transport=udp"):
        msg = error(with_(outbound=["sips:ok.lab.test", v]))
        assert names(msg, "outbound[1]"), (v, msg)
    assert "sctp" in error(with_(outbound=["sip:a.lab.test;transport=sctp"]))
    assert "UDP" in error(with_(outbound=["sips:a.lab.test;transport=udp"]))
    # flow.stun false turns STUN keepalive off, a ;stun param forces it on
    c = Config(with_(outbound=["sip:a.lab.test", "sip:b.lab.test;stun"], flow={"stun": False}))
    assert not c.proxies[0].stun and c.proxies[1].stun and c.proxies[1].stun_forced
    assert names(error(with_(flow={"stun": "yes"})), "flow.stun")


def test_dns_server_and_resolve():
    c = Config(with_(outbound=["sips:edge.lab.test", "sips:192.0.2.1", "sip:[::1];transport=tcp"]))
    assert c.dns_server is None and not any(p.resolve for p in c.proxies)
    c = Config(with_(outbound=["sips:edge.lab.test", "sips:192.0.2.1:5071",
                               "sip:lab.test;transport=tcp"], dns={"server": "127.0.0.1:5353"}))
    assert c.dns_server == ("127.0.0.1", 5353)
    assert [p.resolve for p in c.proxies] == [True, False, True]
    assert [p.port_given for p in c.proxies] == [None, 5071, None]
    assert [p.transport for p in c.proxies] == [None, None, b"tcp"]
    assert c.proxies[0].sips and not c.proxies[2].sips
    assert Config(with_(dns={"server": "10.0.0.53"})).dns_server == ("10.0.0.53", 53)
    for bad in ("dns.example", "1.2.3.4:x", "1.2.3.4:70000", ""):
        assert names(error(with_(dns={"server": bad})), "dns.server"), bad


def test_transport_detection_and_ports():
    cases = (
        ("sips:edge1.lab.test", True, 5061),
        ("sips:edge1.lab.test:5071", True, 5071),
        ("sip:edge1.lab.test;transport=tls", True, 5061),
        ("sip:edge1.lab.test;transport=TLS", True, 5061),
        ("sip:edge1.lab.test:443;transport=tls", True, 443),
        ("sips:edge1.lab.test;transport=tcp", True, 5061),  # SIPS over TCP is TLS
        ("sip:edge1.lab.test;transport=tcp", False, 5060),
        ("sip:edge1.lab.test:5080;transport=tcp", False, 5080),
        ("sips:192.0.2.10", True, 5061),
        ("sips:[2001:db8::1]:5062", True, 5062),
    )
    for uri, tls, port in cases:
        c = Config(with_(outbound=[uri]))
        p = c.proxies[0]
        assert (p.tls, p.port) == (tls, port), (uri, p.tls, p.port)
        assert isinstance(p.host, str)
        assert p.host == p.server_name
    c = Config(with_(outbound=["sips:[2001:db8::1]:5062"]))
    assert c.proxies[0].host == "2001:db8::1"


def test_server_name_default_and_override():
    c = Config(with_(outbound=["sips:edge1.lab.test", "sips:192.0.2.7"]))
    assert [p.server_name for p in c.proxies] == ["edge1.lab.test", "192.0.2.7"]
    assert [p.host for p in c.proxies] == ["edge1.lab.test", "192.0.2.7"]
    d = with_(outbound=["sips:192.0.2.7", "sips:192.0.2.8"])
    d["tls"]["server_name"] = "sip.lab.test"
    c = Config(d)
    assert [p.server_name for p in c.proxies] == ["sip.lab.test", "sip.lab.test"]
    assert [p.host for p in c.proxies] == ["192.0.2.7", "192.0.2.8"]  # still connect there


def test_at_most_four_proxies():
    four = ["sips:e%d.lab.test" % i for i in range(4)]
    c = Config(with_(outbound=four))
    assert [p.host for p in c.proxies] == ["e0.lab.test", "e1.lab.test", "e2.lab.test",
                                           "e3.lab.test"]
    msg = error(with_(outbound=four + ["sips:e4.lab.test"]))
    assert names(msg, "outbound") and "4" in msg


def test_proxy_route_value():
    c = Config(with_(outbound=["sips:edge1.lab.test", "sip:edge2.lab.test:5080;transport=tcp",
                               "sips:edge3.lab.test;lr"]))
    assert c.proxies[0].route == b"<sips:edge1.lab.test;lr>"
    assert c.proxies[1].route == b"<sip:edge2.lab.test:5080;transport=tcp;lr>"
    assert c.proxies[2].route == b"<sips:edge3.lab.test;lr>"  # lr not doubled
    assert c.proxies[0].uri.host == b"edge1.lab.test"


def test_route_value_keeps_user_and_params():
    c = Config(with_(outbound=["sip:px@edge.lab.test;transport=tls;ob"]))
    assert c.proxies[0].route == b"<sip:px@edge.lab.test;transport=tls;ob;lr>"


# -- tls.ca: PEM -> DER -------------------------------------------------------------------------
def test_ca_der_passes_der_through():
    assert ca_der(DER) == DER


def test_ca_der_from_pem():
    assert ca_der(pem(DER)) == DER
    # CRLF line ends, text before, a chain: the first certificate
    other = b"\x30\x03\x02\x01\x05"
    data = b"subject=CN=lab CA\r\n" + pem(DER).replace(b"\n", b"\r\n") + pem(other)
    assert ca_der(data) == DER


def test_ca_der_bad_input():
    for data in (b"", b"hello", b"-----BEGIN CERTIFICATE-----\nMIIB",
                 pem(DER).replace(b"BEGIN", b"BEGUN"),
                 b"-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\n",
                 pem(b"\x04\x05notder"),
                 b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
                 b"-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n"):
        e = raises(ConfigError, ca_der, data)
        assert names(str(e), "tls.ca"), data
    e = raises(ConfigError, ca_der, b"junk", "tls.client_ca")
    assert names(str(e), "tls.client_ca")


def test_ca_der_private_key_pem_is_not_a_certificate():
    assert names(str(raises(ConfigError, ca_der, pem(DER, b"PRIVATE KEY"))), "tls.ca")


# -- certificates (RFC 6072) -------------------------------------------------------------------
def test_certificates_off_by_default_and_defaults_when_on():
    assert Config(base()).certs is None
    c = Config(with_(certificates={"subscribe": ["sip:bob@lab.test"], "ca": "/f/users.pem"}))
    s = c.certs
    assert s.subscribe == [b"sip:bob@lab.test"] and s.credential is False
    assert s.expires == 3600 and s.max_age == 86400 and s.ca_path == "/f/users.pem"
    assert s.identity_path is None and s.ca_der is None and s.identity_der is None
    c = Config(with_(certificates={"credential": True, "max_age": 60, "expires": 600}))
    assert c.certs.subscribe == [] and c.certs.credential and c.certs.max_age == 60


def test_certificates_errors_name_the_key():
    assert names(error(with_(certificates={"subscribe": "sip:bob@lab.test"})),
                 "certificates.subscribe")
    for bad in (["tel:+15551234"], ["sip:lab.test"], [7], ["sip:bob@"]):
        assert names(error(with_(certificates={"subscribe": bad, "ca": "x"})),
                     "certificates.subscribe"), bad
    assert names(error(with_(certificates={"credential": "yes"})), "certificates.credential")
    assert names(error(with_(certificates={"credential": True, "max_age": 0})),
                 "certificates.max_age")
    assert names(error(with_(certificates={"credential": True, "expires": 10})),
                 "certificates.expires")
    # nothing to trust a subscribed certificate with
    msg = error(with_(certificates={"subscribe": ["sip:bob@lab.test"]}))
    assert names(msg, "certificates.ca") and "certificates.identity" in msg
    assert Config(with_(certificates={"subscribe": ["sip:bob@lab.test"],
                                      "identity": "/f/domain.pem"})).certs is not None
