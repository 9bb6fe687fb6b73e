"""tinysip.locate: RFC 3263 target selection with RFC 2782 SRV and RFC 3403 NAPTR ordering,
driven by a dict-backed lookup (records as tinysip.dns.parse returns them)."""
from testutil import lcg
from tinysip import locate
from tinysip.dns import A, AAAA, NAPTR, SRV


def fake(table):
    """(lookup, calls): lookup(name, qtype) over {(name, qtype): records}; calls logs each
    query (a list: MicroPython functions take no attributes)."""
    calls = []

    def lookup(name, qtype):
        calls.append((name, qtype))
        return table.get((name, qtype), [])

    return lookup, calls


def srv(owner, prio, weight, port, target, ttl=60):
    return (owner, SRV, ttl, (prio, weight, port, target))


def naptr(order, pref, services, repl, flags=b"s", owner=b"example.com"):
    return (owner, NAPTR, 60, (order, pref, flags, services, b"", repl))


def a(name, ip):
    return (name, A, 60, ip)


def aaaa(name, ip):
    return (name, AAAA, 60, ip)


RNG = lcg(2782)


def T(host, port=None, transport=None, sips=False, table=None):
    lookup, calls = fake(table or {})
    return locate.targets(host, port, transport, sips, lookup, RNG), calls


# ------------------------------------------------------------------ numeric hosts


def test_numeric_ipv4_defaults():
    assert T(b"192.0.2.1") == ([(b"udp", b"192.0.2.1", 5060, b"192.0.2.1")], [])
    assert T(b"192.0.2.1", 5080, b"TCP")[0] == [(b"tcp", b"192.0.2.1", 5080, b"192.0.2.1")]
    assert T(b"192.0.2.1", None, b"tls")[0] == [(b"tls", b"192.0.2.1", 5061, b"192.0.2.1")]
    assert T(b"192.0.2.1", None, None, True)[0] == [(b"tls", b"192.0.2.1", 5061, b"192.0.2.1")]


def test_numeric_ipv6():
    got, calls = T(b"[2001:db8::1]", 5070)
    assert got == [(b"udp", b"2001:db8::1", 5070, b"2001:db8::1")] and calls == []
    assert T(b"::1", None, b"tcp", True)[0] == [(b"tls", b"::1", 5061, b"::1")]


def test_sips_never_udp_and_unknown_transport():
    assert T(b"192.0.2.1", None, b"udp", True) == ([], [])
    assert T(b"example.com", None, b"sctp") == ([], [])
    # sips + transport=tcp is TLS over TCP, found through _sips._tcp only
    table = {(b"_sips._tcp.example.com", SRV): [srv(b"_sips._tcp.example.com", 1, 0, 5061,
                                                    b"t.example.com")],
             (b"t.example.com", A): [a(b"t.example.com", b"10.0.0.9")]}
    got, calls = T(b"example.com", None, b"tcp", True, table)
    assert got == [(b"tls", b"10.0.0.9", 5061, b"t.example.com")]
    assert calls[0] == (b"_sips._tcp.example.com", SRV)


# ------------------------------------------------------------------ explicit port


def test_explicit_port_does_only_address_lookups():
    table = {(b"pbx.example.com", A): [a(b"pbx.example.com", b"192.0.2.10")],
             (b"pbx.example.com", AAAA): [aaaa(b"pbx.example.com", b"2001:db8:0:0:0:0:0:a")],
             (b"pbx.example.com", NAPTR): [naptr(1, 1, b"SIP+D2T", b"_sip._tcp.x")]}
    got, calls = T(b"PBX.Example.com.", 5062, None, False, table)
    assert got == [(b"udp", b"192.0.2.10", 5062, b"pbx.example.com"),
                   (b"udp", b"2001:db8:0:0:0:0:0:a", 5062, b"pbx.example.com")]
    assert calls == [(b"pbx.example.com", A), (b"pbx.example.com", AAAA)]
    got, _ = T(b"pbx.example.com", 5062, None, True, table)
    assert [t[0] for t in got] == [b"tls", b"tls"]


def test_cname_answer_counts():
    # an A answer that followed a CNAME names the canonical host, not the one asked
    table = {(b"www.example.com", A): [a(b"web.example.com", b"192.0.2.20")]}
    assert T(b"www.example.com", 5060, b"tcp", False, table)[0] == [
        (b"tcp", b"192.0.2.20", 5060, b"www.example.com")]


# ------------------------------------------------------------------ transport param


def test_transport_param_queries_that_srv_only():
    table = {(b"_sip._tcp.example.com", SRV): [srv(b"_sip._tcp.example.com", 0, 0, 5070,
                                                   b"p.example.com")],
             (b"p.example.com", A): [a(b"p.example.com", b"10.1.1.1")]}
    got, calls = T(b"example.com", None, b"tcp", False, table)
    assert got == [(b"tcp", b"10.1.1.1", 5070, b"p.example.com")]
    assert calls == [(b"_sip._tcp.example.com", SRV), (b"p.example.com", A),
                     (b"p.example.com", AAAA)]


def test_transport_param_without_srv_falls_back_to_default_port():
    table = {(b"example.com", A): [a(b"example.com", b"10.2.2.2")]}
    got, calls = T(b"example.com", None, b"tls", False, table)
    assert got == [(b"tls", b"10.2.2.2", 5061, b"example.com")]
    assert calls[0] == (b"_sips._tcp.example.com", SRV)
    assert (b"example.com", NAPTR) not in calls


# ------------------------------------------------------------------ NAPTR


NAPTRS = [
    naptr(20, 10, b"SIP+D2U", b"_sip._udp.example.com"),
    naptr(10, 50, b"SIP+D2T", b"_sip._tcp.example.com"),
    naptr(10, 20, b"sips+d2t", b"_sips._tcp.example.com", b"S"),  # any case
    naptr(5, 1, b"SIP+D2S", b"_sip._sctp.example.com"),  # SCTP: not supported
    naptr(5, 1, b"E2U+sip", b"_x.example.com"),  # not SIP
    naptr(5, 2, b"SIP+D2U", b"_u.example.com", b"a"),  # flag a: not for us
    (b"example.com", A, 60, b"10.9.9.9"),  # other types in the list are ignored
]


def test_naptr_order_and_filter():
    assert locate.naptr_order(NAPTRS, False) == [
        (b"tls", b"_sips._tcp.example.com"),  # order 10 pref 20
        (b"tcp", b"_sip._tcp.example.com"),  # order 10 pref 50
        (b"udp", b"_sip._udp.example.com"),  # order 20
    ]
    # order wins over preference
    recs = [naptr(2, 1, b"SIP+D2U", b"u"), naptr(1, 9, b"SIP+D2T", b"t")]
    assert locate.naptr_order(recs, False) == [(b"tcp", b"t"), (b"udp", b"u")]


def test_naptr_sips_keeps_only_sips_d2t():
    assert locate.naptr_order(NAPTRS, True) == [(b"tls", b"_sips._tcp.example.com")]


def test_naptr_then_srv_with_additional_addresses():
    table = {
        (b"example.com", NAPTR): NAPTRS,
        # the SRV answer carries its target's A in the additional section
        (b"_sips._tcp.example.com", SRV): [
            srv(b"_sips._tcp.example.com", 1, 0, 5061, b"tls1.example.com"),
            a(b"tls1.example.com", b"192.0.2.61"),
        ],
        (b"_sip._tcp.example.com", SRV): [srv(b"_sip._tcp.example.com", 1, 0, 5060,
                                              b"tcp1.example.com")],
        (b"tcp1.example.com", A): [a(b"tcp1.example.com", b"192.0.2.62")],
        (b"_sip._udp.example.com", SRV): [srv(b"_sip._udp.example.com", 1, 0, 5060, b".")],
    }
    got, calls = T(b"example.com", None, None, False, table)
    assert got == [(b"tls", b"192.0.2.61", 5061, b"tls1.example.com"),
                   (b"tcp", b"192.0.2.62", 5060, b"tcp1.example.com")]
    assert (b"tls1.example.com", A) not in calls  # additional section used, no query
    assert (b"tls1.example.com", AAAA) not in calls
    assert calls[0] == (b"example.com", NAPTR)
    assert (b"_sip._sctp.example.com", SRV) not in calls
    # the same domain through sips: only the TLS target
    got, calls = T(b"example.com", None, None, True, table)
    assert got == [(b"tls", b"192.0.2.61", 5061, b"tls1.example.com")]
    assert (b"_sip._tcp.example.com", SRV) not in calls


# ------------------------------------------------------------------ no NAPTR


def test_no_naptr_tries_srv_for_each_transport():
    table = {(b"_sip._udp.example.com", SRV): [srv(b"_sip._udp.example.com", 0, 0, 5066,
                                                   b"u.example.com")],
             (b"u.example.com", A): [a(b"u.example.com", b"10.3.3.3")]}
    got, calls = T(b"example.com", None, None, False, table)
    assert got == [(b"udp", b"10.3.3.3", 5066, b"u.example.com")]
    assert calls[:4] == [(b"example.com", NAPTR), (b"_sips._tcp.example.com", SRV),
                         (b"_sip._tcp.example.com", SRV), (b"_sip._udp.example.com", SRV)]


def test_sips_no_naptr_only_sips_tcp():
    got, calls = T(b"example.com", None, None, True, {})
    assert got == [] and (b"_sip._tcp.example.com", SRV) not in calls
    assert (b"_sip._udp.example.com", SRV) not in calls
    assert (b"_sips._tcp.example.com", SRV) in calls


def test_no_srv_falls_back_to_address_default_port():
    table = {(b"example.com", A): [a(b"example.com", b"10.4.4.4")],
             (b"example.com", AAAA): [aaaa(b"example.com", b"2001:db8:0:0:0:0:0:4")]}
    assert T(b"example.com", None, None, False, table)[0] == [
        (b"udp", b"10.4.4.4", 5060, b"example.com"),
        (b"udp", b"2001:db8:0:0:0:0:0:4", 5060, b"example.com")]
    assert T(b"example.com", None, None, True, table)[0] == [
        (b"tls", b"10.4.4.4", 5061, b"example.com"),
        (b"tls", b"2001:db8:0:0:0:0:0:4", 5061, b"example.com")]
    assert T(b"nowhere.example", None, None, False, {})[0] == []


# ------------------------------------------------------------------ SRV ordering


def test_srv_priority_first_and_dot_dropped():
    recs = [srv(b"s", 20, 100, 1, b"c"), srv(b"s", 10, 0, 2, b"a"), srv(b"s", 10, 0, 3, b"."),
            srv(b"s", 30, 0, 4, b"d"), srv(b"s", 10, 5, 5, b"b")]
    for seed in range(20):
        got = [r[3][3] for r in locate.srv_order(recs, lcg(seed))]
        assert sorted(got[:2]) == [b"a", b"b"] and got[2:] == [b"c", b"d"]
    assert locate.srv_order([srv(b"s", 0, 0, 0, b".")], RNG) == []
    assert locate.srv_order([], RNG) == []


def test_srv_weighting_statistics():
    recs = [srv(b"s", 1, 60, 1, b"sixty"), srv(b"s", 1, 30, 2, b"thirty"),
            srv(b"s", 1, 10, 3, b"ten"), srv(b"s", 1, 0, 4, b"zero")]
    rng = lcg(42)
    first = {}
    n = 2000
    for i in range(n):
        order = locate.srv_order(recs, rng)
        assert len(order) == 4
        name = order[0][3][3]
        first[name] = first.get(name, 0) + 1
    # P(first) = weight / (total + 1) for weighted ones, 1 / 101 for weight 0
    assert 0.54 * n < first[b"sixty"] < 0.65 * n
    assert 0.25 * n < first[b"thirty"] < 0.35 * n
    assert 0.06 * n < first[b"ten"] < 0.14 * n
    assert first.get(b"zero", 0) < 0.03 * n
    # deterministic for a given rng
    assert locate.srv_order(recs, lcg(7)) == locate.srv_order(recs, lcg(7))


def test_srv_all_weight_zero_keeps_every_record():
    recs = [srv(b"s", 1, 0, p, b"t%d" % p) for p in range(5)]
    got = locate.srv_order(recs, lcg(3))
    assert sorted([r[3][2] for r in got]) == [0, 1, 2, 3, 4]


def test_srv_targets_follow_srv_order_with_multiple_addresses():
    table = {
        (b"_sip._udp.example.com", SRV): [
            srv(b"_sip._udp.example.com", 2, 0, 5060, b"backup.example.com"),
            srv(b"_sip._udp.example.com", 1, 0, 5062, b"main.example.com"),
            aaaa(b"main.example.com", b"2001:db8:0:0:0:0:0:1"),
            a(b"main.example.com", b"192.0.2.1"),
        ],
        (b"backup.example.com", A): [a(b"backup.example.com", b"192.0.2.2")],
    }
    got, _ = T(b"example.com", None, b"udp", False, table)
    assert got == [(b"udp", b"192.0.2.1", 5062, b"main.example.com"),  # IPv4 first
                   (b"udp", b"2001:db8:0:0:0:0:0:1", 5062, b"main.example.com"),
                   (b"udp", b"192.0.2.2", 5060, b"backup.example.com")]
