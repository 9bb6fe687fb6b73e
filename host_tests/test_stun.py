"""tinysip.stun: RFC 5389 Binding request/response codec for RFC 5626 keepalives."""
from binascii import unhexlify

from testutil import lcg
from testutil import raises as _raises
from tinysip import stun
from tinysip.errors import ParseError

TXID0 = bytes(range(12))  # 00 01 .. 0b
# RFC 5769 §2.2/§2.3 sample transaction ID
TXID = unhexlify(b"b7e7a701bc34d686fa87dfae")


def h(text):
    return unhexlify(text.replace(b" ", b""))


def raises(fn, *args):
    """The ParseError fn(*args) raises (testutil.raises, the type fixed)."""
    return _raises(ParseError, fn, *args)


# RFC 5769 §2.2: IPv4 Binding success response (SOFTWARE, XOR-MAPPED-ADDRESS,
# MESSAGE-INTEGRITY, FINGERPRINT), mapped address 192.0.2.1:32853
RFC5769_V4 = h(
    b"0101 003c"  # Binding success response, 60 bytes of attributes
    b"2112a442"  # magic cookie
    b"b7e7a701 bc34d686 fa87dfae"  # transaction ID
    b"8022 000b 74657374 20766563 746f7220"  # SOFTWARE "test vector" + 1 pad byte
    b"0020 0008 0001 a147 e112a643"  # XOR-MAPPED-ADDRESS: IPv4, port^0x2112, addr^cookie
    b"0008 0014 2b91f599 fd9e90c3 8c7489f9 2af9ba53 f06be7d7"  # MESSAGE-INTEGRITY
    b"8028 0004 c07d4c96"  # FINGERPRINT
)
# RFC 5769 §2.3: the same for IPv6 2001:db8:1234:5678:11:2233:4455:6677 port 32853
RFC5769_V6 = h(
    b"0101 0048 2112a442 b7e7a701 bc34d686 fa87dfae"  # header, 72 bytes of attributes
    b"8022 000b 74657374 20766563 746f7220"  # SOFTWARE
    b"0020 0014 0002 a147"  # XOR-MAPPED-ADDRESS: IPv6, X-Port
    b"0113a9fa a5d3f179 bc25f4b5 bed2b9d9"  # address ^ (cookie || transaction ID)
    b"0008 0014 a382954e 4be67bf1 1784c97c 8292c275 bfe3ed41"  # MESSAGE-INTEGRITY
    b"8028 0004 c8fb0b4c"  # FINGERPRINT
)


def resp(attrs, txid=TXID0, mtype=b"0101"):
    """A response with the given attribute bytes and a correct length field."""
    return h(mtype) + bytes([len(attrs) >> 8, len(attrs) & 255]) + h(b"2112a442") + txid + attrs


# ------------------------------------------------------------------ requests


def test_request_without_fingerprint():
    req = stun.binding_request(TXID0)
    assert req == h(b"0001 0000 2112a442") + TXID0
    assert stun.is_stun(req)


def test_request_fingerprint_vector():
    # spec digest §10 example: CRC-32 over the header (length already 8) XOR 0x5354554E
    want = h(b"0001 0008 2112a442 000102030405060708090a0b 8028 0004 5b0ff6fc")
    assert stun.binding_request(TXID0, True) == want


def test_new_txid_uses_rng_and_is_fresh():
    rng = lcg(1)
    a = stun.new_txid(rng)
    b = stun.new_txid(rng)
    assert len(a) == 12 and len(b) == 12 and a != b
    assert stun.new_txid(lcg(1)) == a
    try:
        stun.new_txid(lambda n: b"\x00" * 3)
    except ValueError:
        pass
    else:
        raise AssertionError("short rng accepted")


# ------------------------------------------------------------------ demultiplexing


def test_is_stun_against_sip_and_keepalives():
    assert stun.is_stun(RFC5769_V4) and stun.is_stun(RFC5769_V6)
    assert not stun.is_stun(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\n\r\n")
    assert not stun.is_stun(b"OPTIONS sip:a@b SIP/2.0\r\n\r\n")
    assert not stun.is_stun(b"\r\n\r\n")
    assert not stun.is_stun(b"")
    req = stun.binding_request(TXID0)
    assert not stun.is_stun(req[:19])  # short
    assert not stun.is_stun(req + b"\x00\x00\x00\x00")  # length field says 0
    assert not stun.is_stun(b"\x40" + req[1:])  # top bits not zero
    assert not stun.is_stun(req[:4] + b"\x21\x12\xa4\x43" + req[8:])  # wrong cookie
    odd = h(b"0001 0002 2112a442") + TXID0 + b"\x00\x00"
    assert not stun.is_stun(odd)  # length not a multiple of 4


# ------------------------------------------------------------------ responses


def test_rfc5769_ipv4_response():
    assert stun.parse_response(RFC5769_V4, TXID) == (b"192.0.2.1", 32853)


def test_rfc5769_ipv6_response():
    assert stun.parse_response(RFC5769_V6, TXID) == (
        b"2001:db8:1234:5678:11:2233:4455:6677",
        32853,
    )


def test_spec_example_xor_address():
    # spec digest §10: 192.0.2.1:5060 -> X-Port 0x32D6, X-Address 0xE112A643
    r = stun.binding_response(TXID0, b"192.0.2.1", 5060)
    assert r == h(b"0101 000c 2112a442") + TXID0 + h(b"0020 0008 0001 32d6 e112a643")
    assert stun.parse_response(r, TXID0) == (b"192.0.2.1", 5060)


def test_binding_response_roundtrip():
    for ip in (b"127.0.0.1", b"10.0.0.255", b"2001:db8:0:0:0:0:0:1", b"0:0:0:0:0:0:0:1"):
        for fp in (False, True):
            r = stun.binding_response(TXID, ip, 65535, fp)
            assert stun.is_stun(r)
            assert stun.parse_response(r, TXID) == (ip, 65535)
    r = stun.binding_response(TXID, b"::1", 5060)
    assert stun.parse_response(r, TXID) == (b"0:0:0:0:0:0:0:1", 5060)
    r = stun.binding_response(TXID, b"fe80::1:2", 1)
    assert stun.parse_response(r, TXID) == (b"fe80:0:0:0:0:0:1:2", 1)


def test_mapped_address_fallback():
    # MAPPED-ADDRESS only (an RFC 3489 server): not XOR-ed
    attrs = h(b"0001 0008 0001 13c4 c0000201")  # IPv4, port 5060, 192.0.2.1
    assert stun.parse_response(resp(attrs), TXID0) == (b"192.0.2.1", 5060)
    v6 = h(b"0001 0014 0002 13c4 20010db8 00000000 00000000 00000002")
    assert stun.parse_response(resp(v6), TXID0) == (b"2001:db8:0:0:0:0:0:2", 5060)


def test_xor_mapped_wins_over_mapped():
    attrs = h(b"0001 0008 0001 0001 0a000001") + h(b"0020 0008 0001 32d6 e112a643")
    assert stun.parse_response(resp(attrs), TXID0) == (b"192.0.2.1", 5060)


def test_wrong_txid():
    e = raises(stun.parse_response, RFC5769_V4, TXID0)
    assert e.status == 400 and "transaction" in e.reason


def test_not_a_response():
    raises(stun.parse_response, stun.binding_request(TXID0), TXID0)  # a request
    raises(stun.parse_response, b"SIP/2.0 200 OK\r\n\r\n", TXID0)
    ind = resp(h(b"0020 0008 0001 32d6 e112a643"), mtype=b"0011")  # an indication
    raises(stun.parse_response, ind, TXID0)


def test_error_response_carries_error_code():
    # ERROR-CODE: 2 reserved bytes, class 4, number 20, reason "Unknown Attribute"
    phrase = b"Unknown Attribute"  # 17 bytes -> 3 pad bytes
    attr = h(b"0009") + bytes([0, 4 + len(phrase)]) + h(b"0000 04 14") + phrase + b"\x00" * 3
    e = raises(stun.parse_response, resp(attr, mtype=b"0111"), TXID0)
    assert e.status == 420
    assert "420" in e.reason and "Unknown Attribute" in e.reason
    # an error response without ERROR-CODE, and one with a non-ASCII phrase
    e = raises(stun.parse_response, resp(b"", mtype=b"0111"), TXID0)
    assert e.status == 400
    attr = h(b"0009 0008 0000 0500 ff80fe41")
    e = raises(stun.parse_response, resp(attr, mtype=b"0111"), TXID0)
    assert e.status == 500 and e.reason.endswith("???A")


def test_truncated_attributes():
    good = h(b"0020 0008 0001 32d6 e112a643")
    # attribute length runs past the end of the message
    raises(stun.parse_response, resp(good[:2] + b"\x00\x0c" + good[4:]), TXID0)
    # value shorter than the address needs
    raises(stun.parse_response, resp(h(b"0020 0004 0001 32d6")), TXID0)
    # IPv6 family with an IPv4-sized value
    raises(stun.parse_response, resp(h(b"0020 0008 0002 32d6 e112a643")), TXID0)
    # ERROR-CODE too short
    raises(stun.parse_response, resp(h(b"0009 0002 0000 0000"), mtype=b"0111"), TXID0)
    # no address at all
    e = raises(stun.parse_response, resp(h(b"8022 0004 74657374")), TXID0)
    assert "mapped" in e.reason


def test_unknown_address_family():
    e = raises(stun.parse_response, resp(h(b"0020 0008 0003 32d6 e112a643")), TXID0)
    assert "family" in e.reason


def test_unknown_attributes():
    xor = h(b"0020 0008 0001 32d6 e112a643")
    # comprehension-optional (0x8000-0xFFFF) is skipped, padding included
    opt = h(b"c001 0003 616263 00")
    assert stun.parse_response(resp(opt + xor), TXID0) == (b"192.0.2.1", 5060)
    # a known comprehension-required attribute we do not use (USERNAME) is fine
    user = h(b"0006 0004 75736572")
    assert stun.parse_response(resp(user + xor), TXID0) == (b"192.0.2.1", 5060)
    # an unknown comprehension-required one fails the transaction (RFC 5389 §7.3.3)
    e = raises(stun.parse_response, resp(h(b"7001 0000") + xor), TXID0)
    assert "0x7001" in e.reason


def test_fingerprint_checked():
    bad = RFC5769_V4[:-1] + b"\x97"
    e = raises(stun.parse_response, bad, TXID)
    assert "FINGERPRINT" in e.reason
    # FINGERPRINT must be the last attribute
    r = stun.binding_response(TXID0, b"192.0.2.1", 5060, True)
    raises(stun.parse_response, resp(r[20:] + h(b"8022 0000")), TXID0)


def test_attributes_after_message_integrity_ignored():
    # MESSAGE-INTEGRITY (not checked: no credentials), then an XOR-MAPPED-ADDRESS to ignore
    mi = h(b"0008 0014") + b"\x00" * 20
    first = h(b"0020 0008 0001 32d6 e112a643")
    later = h(b"0020 0008 0001 0001 e112a643")
    assert stun.parse_response(resp(first + mi + later), TXID0) == (b"192.0.2.1", 5060)
    raises(stun.parse_response, resp(mi + later), TXID0)


# ------------------------------------------------------------------ fuzz


def test_fuzz_only_parse_error_escapes():
    rng = lcg(5389)
    seeds = [
        RFC5769_V4,
        RFC5769_V6,
        stun.binding_response(TXID, b"10.1.2.3", 5060, True),
        resp(h(b"0009 0008 0000 0401 61626364"), TXID, b"0111"),
    ]
    for i in range(400):
        m = bytearray(seeds[i % len(seeds)])
        r = rng(8)
        for k in range(1 + r[0] % 4):
            pos = rng(2)
            p = ((pos[0] << 8) | pos[1]) % len(m)
            m[p] = rng(1)[0] if r[1] & 1 else m[p] ^ (1 << (r[2] & 7))
        if r[3] & 1:
            m = m[: 20 + (r[4] % max(1, len(m) - 20)) // 4 * 4]
        if r[5] & 1:  # keep the header sane so the attribute walker sees the damage
            n = len(m) - 20
            m[0] &= 0x3F
            m[2:8] = bytes([n >> 8, n & 255]) + h(b"2112a442")
        data = bytes(m)
        stun.is_stun(data)
        try:
            ip, port = stun.parse_response(data, TXID)
            assert isinstance(ip, bytes) and 0 <= port < 65536
        except ParseError:
            pass
