"""tinysip.dns: DNS query/response codec (A, AAAA, SRV, NAPTR) and the TTL cache.

`encode_name`, `encode_record` and `response` are a test-side encoder (names never
compressed) that test_resolver's fake server also uses.
"""
import struct
import sys
from binascii import unhexlify

from testutil import lcg
from testutil import raises as _raises
from tinysip import dns
from tinysip.errors import ParseError


def h(text):
    return unhexlify(text.replace(b" ", b""))


def raises(fn, *args):
    """The ParseError fn(*args) raises (testutil.raises, the type fixed)."""
    return _raises(ParseError, fn, *args)


# ------------------------------------------------------------------ test-side encoder


def encode_name(name):
    out = b""
    for label in name.split(b"."):
        if label:
            out += bytes([len(label)]) + label
    return out + b"\x00"


def _cstr(s):
    return bytes([len(s)]) + s


def encode_record(rec):
    name, rtype, ttl, value = rec
    if rtype == dns.A:
        rd = bytes([int(x) for x in value.split(b".")])
    elif rtype == dns.AAAA:
        rd = b"".join([struct.pack(">H", int(g, 16)) for g in value.split(b":")])
    elif rtype == dns.SRV:
        rd = struct.pack(">HHH", value[0], value[1], value[2]) + encode_name(value[3])
    elif rtype == dns.NAPTR:
        rd = struct.pack(">HH", value[0], value[1]) + _cstr(value[2]) + _cstr(value[3])
        rd += _cstr(value[4]) + encode_name(value[5])
    else:
        rd = value  # raw rdata for other types
    return rr(name, rtype, ttl, rd)


def rr(name, rtype, ttl, rd):
    """One resource record on the wire with raw rdata."""
    return encode_name(name) + struct.pack(">HHIH", rtype, 1, ttl, len(rd)) + rd


def response(q, answers=(), additional=(), rcode=0, tc=False, authority=()):
    """A response to query bytes q (its ID and question echoed); a record is a tuple as
    dns.parse returns it, or bytes already on the wire."""
    qid = struct.unpack(">H", q[:2])[0]
    flags = 0x8180 | rcode | (0x0200 if tc else 0)
    head = struct.pack(">HHHHHH", qid, flags, 1, len(answers), len(authority), len(additional))
    recs = list(answers) + list(authority) + list(additional)
    return head + q[12:] + b"".join([r if isinstance(r, bytes) else encode_record(r) for r in recs])


# ------------------------------------------------------------------ hand-built vectors

# SRV answer for _sip._udp.example.com with compression pointers in owner names, in the
# SRV targets and in the additional section; offsets in the comments.
SRV_VECTOR = h(
    b"1234"  # 0  ID
    b"8180"  # 2  QR, RD, RA; rcode 0
    b"0001 0002 0000 0002"  # 4  1 question, 2 answers, 0 authority, 2 additional
    b"04 5f736970"  # 12 "_sip"
    b"04 5f756470"  # 17 "_udp"
    b"07 6578616d706c65"  # 22 "example"
    b"03 636f6d 00"  # 30 "com", root
    b"0021 0001"  # 35 QTYPE SRV, QCLASS IN
    # answer 1 at 39: owner -> 12, SRV 10 60 5060 sip1.(-> example.com at 22)
    b"c00c 0021 0001 0000012c 000d"  # 39 name ptr, type, class, TTL 300, RDLENGTH 13
    b"000a 003c 13c4"  # 51 priority 10, weight 60, port 5060
    b"04 73697031 c016"  # 57 "sip1" + pointer to 22
    # answer 2 at 64: SRV 10 20 5060 sip2.example.com
    b"c00c 0021 0001 0000012c 000d"  # 64
    b"000a 0014 13c4"  # 76 priority 10, weight 20, port 5060
    b"04 73697032 c016"  # 82 "sip2" + pointer to 22
    # additional 1 at 89: sip1.example.com (pointer -> 57) A 192.0.2.1, TTL 3600
    b"c039 0001 0001 00000e10 0004 c0000201"
    # additional 2 at 105: sip2.example.com (pointer -> 82) AAAA 2001:db8::1
    b"c052 001c 0001 00000e10 0010 20010db8 00000000 00000000 00000001"
)

SRV_RECORDS = [
    (b"_sip._udp.example.com", dns.SRV, 300, (10, 60, 5060, b"sip1.example.com")),
    (b"_sip._udp.example.com", dns.SRV, 300, (10, 20, 5060, b"sip2.example.com")),
]
SRV_ADDITIONAL = [
    (b"sip1.example.com", dns.A, 3600, b"192.0.2.1"),
    (b"sip2.example.com", dns.AAAA, 3600, b"2001:db8:0:0:0:0:0:1"),
]

# NAPTR answer for EXAMPLE.com (mixed case in the question: names come back lowercase)
NAPTR_VECTOR = h(
    b"0042 8580 0001 0002 0000 0000"  # 0  ID 0x42, QR AA RD RA, 1 question, 2 answers
    b"07 4558414d504c45 03 636f6d 00"  # 12 "EXAMPLE" "com"
    b"0023 0001"  # 25 QTYPE NAPTR, IN
    # answer 1 at 29: order 50, pref 50, "s", "SIP+D2U", "", _sip._udp.(-> 12)
    b"c00c 0023 0001 00000e10 001b"  # 29 RDLENGTH 27
    b"0032 0032 01 73 07 5349502b443255 00"  # 41 order, pref, flags, services, regexp
    b"04 5f736970 04 5f756470 c00c"  # 55 replacement
    # answer 2 at 68: order 10, pref 100, "S", "SIPS+D2T", "", _sips._tcp.example.com
    b"c00c 0023 0001 80000000 001d"  # 68 TTL with the top bit set (RFC 2181: 0)
    b"000a 0064 01 53 08 534950532b443254 00"  # 80
    b"05 5f73697073 04 5f746370 c00c"  # 95 replacement
)


def test_query_wire_format():
    q = dns.query(0xBEEF, b"_sip._udp.Example.com.", dns.SRV)
    assert q == h(
        b"beef 0100 0001 0000 0000 0000"  # ID, RD, one question
        b"04 5f736970 04 5f756470 07 4578616d706c65 03 636f6d 00"  # labels, case kept
        b"0021 0001"  # SRV, IN
    )
    assert dns.query(1, b".", dns.A)[12:] == h(b"00 0001 0001")  # the root
    for bad in (b"a..b", b"x" * 64 + b".com", (b"a" * 63 + b".") * 4 + b"com"):
        try:
            dns.query(1, bad, dns.A)
        except ValueError:
            pass
        else:
            raise AssertionError(bad)


def test_parse_srv_with_compression():
    a = dns.parse(SRV_VECTOR, 0x1234)
    assert (a.qid, a.rcode, a.tc, a.qr) == (0x1234, 0, False, True)
    assert (a.qname, a.qtype) == (b"_sip._udp.example.com", dns.SRV)
    assert a.answers == SRV_RECORDS
    assert a.additional == SRV_ADDITIONAL


def test_parse_naptr():
    a = dns.parse(NAPTR_VECTOR)
    assert a.qname == b"example.com"
    assert a.answers == [
        (b"example.com", dns.NAPTR, 3600,
         (50, 50, b"s", b"SIP+D2U", b"", b"_sip._udp.example.com")),
        (b"example.com", dns.NAPTR, 0,
         (10, 100, b"S", b"SIPS+D2T", b"", b"_sips._tcp.example.com")),
    ]


def test_wrong_qid():
    e = raises(dns.parse, SRV_VECTOR, 0x1235)
    assert "another query" in e.reason
    assert dns.parse(SRV_VECTOR).qid == 0x1234  # qid=None: no check


def test_every_truncation_is_a_parse_error():
    for vec in (SRV_VECTOR, NAPTR_VECTOR):
        for n in range(len(vec)):
            raises(dns.parse, vec[:n])


def test_truncated_with_tc_keeps_what_parsed():
    tc = SRV_VECTOR[:2] + b"\x83\x80" + SRV_VECTOR[4:]  # TC set
    a = dns.parse(tc[:70])  # cut inside answer 2
    assert a.tc and a.answers == SRV_RECORDS[:1] and a.additional == []
    a = dns.parse(tc[:12])  # header only: still tells the resolver to use TCP
    assert a.tc and a.answers == [] and a.qname is None
    assert dns.parse(tc).answers == SRV_RECORDS


def test_pointer_loops_and_forward_pointers():
    head = h(b"0001 8180 0001 0000 0000 0000")
    raises(dns.parse, head + h(b"c00c 0001 0001"))  # points at itself
    raises(dns.parse, head + h(b"c00e 0001 0001"))  # points forward
    # a -> b -> a: "x" then a pointer back to its own start
    e = raises(dns.parse, head + h(b"01 78 c00c 0001 0001"))
    assert "loop" in e.reason
    # two names pointing at each other through the answer section
    q = head[:6] + b"\x00\x01" + head[8:] + h(b"01 61 00 0001 0001")  # question "a" at 12
    ok = q + h(b"01 62 c00c 0001 0001 00000001 0004 01020304")  # "b.a"
    assert dns.parse(ok).answers == [(b"b.a", dns.A, 1, b"1.2.3.4")]
    raises(dns.parse, q + h(b"01 62 c01f 0001 0001 00000001 0004 01020304"))
    raises(dns.parse, q + h(b"01 62 c0"))  # pointer cut in half


def test_name_over_255_bytes():
    # five 50-byte labels: 5 * 51 + 1 = 256 wire bytes, via a chain of pointers
    head = h(b"0001 8180 0001 0000 0000 0000")
    lab = b"\x32" + b"a" * 50
    names = lab + lab + lab + lab + b"\x00"  # 205 bytes at offset 12: fine alone
    pkt = head + names + h(b"0001 0001")
    assert dns.parse(pkt).qname == b".".join([b"a" * 50] * 4)
    pkt = head[:4] + h(b"0001 0001") + head[8:] + names + h(b"0001 0001")
    rr = lab + h(b"c00c 0001 0001 00000001 0004 01020304")  # 5 labels through a pointer
    e = raises(dns.parse, pkt + rr)
    assert "255" in e.reason
    # reserved label types 0x40 / 0x80
    raises(dns.parse, head + h(b"41 61 00 0001 0001"))
    raises(dns.parse, head + h(b"81 61 00 0001 0001"))


def test_bad_rdata_lengths():
    q = dns.query(7, b"h.example", dns.A)
    good = response(q, [(b"h.example", dns.A, 60, b"10.0.0.1")])
    assert dns.parse(good, 7).answers == [(b"h.example", dns.A, 60, b"10.0.0.1")]
    # A with 5 bytes of rdata; AAAA with 4; SRV too short; SRV target past its rdata
    for rtype, rd in ((1, b"12345"), (28, b"1234"), (33, b"\x00\x01"),
                      (33, b"\x00\x01\x00\x02\x13\xc4\x01a"), (35, b"\x00\x01\x00\x02\x05s")):
        bad = response(q, [rr(b"h.example", rtype, 60, rd)])
        raises(dns.parse, bad, 7)
    # rdlength larger than the message
    raises(dns.parse, good[:-6] + b"\x00\x09" + good[-4:], 7)
    # SRV rdata with a trailing byte after the target
    srv = struct.pack(">HHH", 1, 2, 3) + encode_name(b"t.example") + b"\x00"
    raises(dns.parse, response(q, [rr(b"h.example", dns.SRV, 60, srv)]), 7)


def test_other_types_skipped_and_rcode():
    q = dns.query(9, b"www.example", dns.A)
    cname = (b"www.example", 5, 60, encode_name(b"web.example"))  # CNAME
    opt = (b".", 41, 0, b"")  # EDNS OPT in additional
    a = dns.parse(response(q, [cname, (b"web.example", dns.A, 60, b"192.0.2.7")], [opt]), 9)
    assert a.answers == [(b"web.example", dns.A, 60, b"192.0.2.7")] and a.additional == []
    soa = (b"example", 6, 60, b"\x00" * 22)  # authority section is skipped
    a = dns.parse(response(q, rcode=dns.NXDOMAIN, authority=[soa]), 9)
    assert a.rcode == dns.NXDOMAIN and a.answers == [] and a.additional == []


def test_roundtrip_through_test_encoder():
    q = dns.query(0x55AA, b"_sip._udp.example.com", dns.SRV)
    a = dns.parse(response(q, SRV_RECORDS, SRV_ADDITIONAL), 0x55AA)
    assert a.answers == SRV_RECORDS and a.additional == SRV_ADDITIONAL


def test_cross_check_with_dnspython():
    # CPython only, and only where dnspython is installed: bytes from an independent
    # encoder (its name compression included) must parse to the values it encoded
    if sys.implementation.name == "micropython":
        return
    try:
        import importlib

        dm = importlib.import_module("dns.message")
        drr = importlib.import_module("dns.rrset")
    except ImportError:
        return
    qm = dm.make_query("_sip._udp.Example.COM.", "SRV", id=4242)
    assert dns.query(4242, b"_sip._udp.Example.COM", dns.SRV)[12:] == qm.to_wire()[12:]
    r = dm.make_response(qm)
    r.answer.append(drr.from_text("_sip._udp.example.com.", 300, "IN", "SRV",
                                  "10 60 5060 sip1.example.com.", "20 0 5080 sip2.example.com."))
    r.answer.append(drr.from_text("example.com.", 60, "IN", "NAPTR",
                                  '10 100 "S" "SIPS+D2T" "" _sips._tcp.example.com.'))
    r.additional.append(drr.from_text("sip1.example.com.", 30, "IN", "A", "192.0.2.1"))
    r.additional.append(drr.from_text("sip2.example.com.", 30, "IN", "AAAA", "2001:db8::5:6"))
    wire = r.to_wire()
    assert b"\xc0" in wire[40:]  # it did compress
    a = dns.parse(wire, 4242)
    assert sorted(a.answers) == [
        (b"_sip._udp.example.com", dns.SRV, 300, (10, 60, 5060, b"sip1.example.com")),
        (b"_sip._udp.example.com", dns.SRV, 300, (20, 0, 5080, b"sip2.example.com")),
        (b"example.com", dns.NAPTR, 60,
         (10, 100, b"S", b"SIPS+D2T", b"", b"_sips._tcp.example.com")),
    ]
    assert sorted(a.additional) == [
        (b"sip1.example.com", dns.A, 30, b"192.0.2.1"),
        (b"sip2.example.com", dns.AAAA, 30, b"2001:db8:0:0:0:0:5:6"),
    ]


# ------------------------------------------------------------------ cache


def test_cache_expiry():
    c = dns.Cache()
    recs = [(b"h.example", dns.A, 60, b"10.0.0.1")]
    c.put(b"H.example.", dns.A, recs, 60, 1000)
    assert c.get(b"h.example", dns.A, 1000) == recs
    assert c.get(b"h.EXAMPLE", dns.A, 60999) == recs
    assert c.get(b"h.example", dns.AAAA, 2000) is None  # other type
    assert c.get(b"h.example", dns.A, 61000) is None  # expired
    assert c.entries == []  # and gone
    c.put(b"z", dns.A, recs, 0, 0)  # TTL 0: not cached
    assert c.get(b"z", dns.A, 0) is None


def test_cache_negative_and_caps():
    c = dns.Cache()
    c.put(b"nx.example", dns.SRV, [], 3600, 0)  # a negative answer: kept briefly
    assert c.get(b"nx.example", dns.SRV, 1000) == []
    assert c.get(b"nx.example", dns.SRV, dns.Cache.NEG_TTL_S * 1000) is None
    c.put(b"long", dns.A, [1], 10 ** 9, 0)
    assert c.get(b"long", dns.A, dns.Cache.MAX_TTL_S * 1000 - 1) == [1]
    assert c.get(b"long", dns.A, dns.Cache.MAX_TTL_S * 1000) is None


def test_cache_replace_and_eviction():
    c = dns.Cache(3)
    c.put(b"a", dns.A, [1], 100, 0)
    c.put(b"a", dns.A, [2], 100, 0)  # replaces
    assert len(c.entries) == 1 and c.get(b"a", dns.A, 0) == [2]
    c.put(b"b", dns.A, [3], 100, 0)
    c.put(b"c", dns.A, [4], 100, 0)
    c.put(b"d", dns.A, [5], 100, 1)  # full: the oldest ("a") goes
    assert c.get(b"a", dns.A, 1) is None
    assert [c.get(n, dns.A, 1) for n in (b"b", b"c", b"d")] == [[3], [4], [5]]
    c = dns.Cache(3)
    c.put(b"a", dns.A, [1], 100, 0)
    c.put(b"b", dns.A, [2], 1, 0)  # expires at 1000
    c.put(b"c", dns.A, [3], 100, 0)
    c.put(b"d", dns.A, [4], 100, 5000)  # full: the expired "b" goes first, "a" stays
    assert c.get(b"a", dns.A, 5000) == [1] and c.get(b"d", dns.A, 5000) == [4]
    assert len(c.entries) == 3
    for i in range(100):  # bounded
        c.put(b"n%d" % i, dns.A, [i], 100, 6000)
    assert len(c.entries) == 3


# ------------------------------------------------------------------ fuzz


def test_fuzz_only_parse_error_escapes():
    rng = lcg(1035)
    q = dns.query(3, b"_sip._udp.example.com", dns.SRV)
    seeds = [SRV_VECTOR, NAPTR_VECTOR, response(q, SRV_RECORDS, SRV_ADDITIONAL)]
    for i in range(500):
        m = bytearray(seeds[i % len(seeds)])
        r = rng(6)
        for k in range(1 + r[0] % 4):
            p = rng(1)[0] % len(m) if r[1] & 1 else 12 + rng(1)[0] % (len(m) - 12)
            if r[2] % 3 == 0:
                m[p] = 0xC0 | (m[p] & 0x3F)  # make it a pointer
            elif r[2] % 3 == 1:
                m[p] = rng(1)[0]
            else:
                m[p] ^= 1 << (r[3] & 7)
        if r[4] & 3 == 0:
            m = m[: r[5] % len(m)]
        try:
            a = dns.parse(bytes(m))
        except ParseError:
            continue
        for rec in a.answers + a.additional:
            assert isinstance(rec[0], bytes) and len(rec[0]) < 256
