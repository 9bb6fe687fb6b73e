"""tinysip.tlsname: the server name must be in subjectAltName (RFC 9525 section 6), never only
in the CN. Certificates: the generated test vectors (host_tests/data/x509) and variants of them
with other extensions (the matcher reads names only, so the broken signatures do not matter).
"""
from testutil import read_vector
from test_x509 import _SAN, _ext, _tlv, _with_extensions

from tinysip.tlsname import match, parse

_BASIC = _ext(b"\x55\x1d\x13", _tlv(0x30, b""), True)  # basicConstraints, cA false
_NO_SAN = "certificate has no subjectAltName (a server name only in the CN is not accepted)"


def _san_cert(*names, critical=None):
    """ec_leaf_ec_ca (subject CN=lab.test) with a subjectAltName of (tag, value) names."""
    body = b""
    for tag, value in names:
        body += _tlv(tag, value)
    return _with_extensions("ec_leaf_ec_ca", [_BASIC, _ext(_SAN, _tlv(0x30, body), critical)])


def _dns(*names, critical=None):
    return _san_cert(*[(0x82, n) for n in names], critical=critical)


def test_a_certificate_without_subjectaltname_names_no_server_whatever_its_cn_says():
    cn_only = _with_extensions("ec_leaf_ec_ca", [_BASIC])  # subject CN=lab.test, no SAN
    for name in ("lab.test", "LAB.test", "127.0.0.1", "::1"):
        assert match(cn_only, name) == _NO_SAN, name
    # the generated leaf with "CN=no san" and no subjectAltName extension at all
    assert match(read_vector("x509/rsa_leaf_ec_ca.der"), "no san") == _NO_SAN


def test_dns_names_match_exactly_without_case_or_a_trailing_dot():
    der = read_vector("x509/rsa_leaf_rsa_ca.der")  # DNS lab.test, IP 127.0.0.1 and ::1, URI
    for name in ("lab.test", "LAB.Test", "lab.test."):
        assert match(der, name) is None, name
    why = match(der, "alice.lab.test")
    assert why == ("certificate is not for alice.lab.test: subjectAltName DNS:lab.test, "
                   "IP:127.0.0.1, IP:0:0:0:0:0:0:0:1"), why
    assert match(_dns(b"Lab.Test."), "lab.test") is None
    assert match(_dns(b"lab.test"), "lab.tes") is not None
    assert match(_dns(b"lab.test"), "b.lab.test") is not None
    assert match(_dns(b"lab.test"), "") is not None


def test_ip_names_match_ipaddress_entries_only():
    der = read_vector("x509/rsa_leaf_rsa_ca.der")
    for name in ("127.0.0.1", "::1", "0:0::1", "[::1]", "0:0:0:0:0:0:0:1"):
        assert match(der, name) is None, name
    for name in ("127.0.0.2", "::2", "::127.0.0.1"):
        assert match(der, name) is not None, name
    # an IP written as a dNSName is not an iPAddress (RFC 9525 6.2.1), nor a wildcard over it
    assert match(_dns(b"127.0.0.1"), "127.0.0.1") is not None
    assert match(_dns(b"*.0.0.1"), "127.0.0.1") is not None
    v6 = bytes(15) + b"\x01"
    assert match(_san_cert((0x87, v6)), "0::0.0.0.1") is None
    assert match(_san_cert((0x87, b"\x7f\x00\x00\x01")), "lab.test") == (
        "certificate is not for lab.test: subjectAltName IP:127.0.0.1")


def test_a_wildcard_is_one_whole_left_most_label_above_two_labels_or_more():
    der = read_vector("x509/ec_leaf_ec_ca.der")  # DNS lab.test, *.lab.test
    for name in ("lab.test", "a.lab.test", "Phone-1.LAB.test", "a.lab.test."):
        assert match(der, name) is None, name
    for name in ("a.b.lab.test", ".lab.test", "alab.test", "lab.test.x", "test"):
        assert match(der, name) is not None, name
    assert match(_dns(b"*.test"), "lab.test") is not None  # not over a single label
    assert match(_dns(b"f*.lab.test"), "foo.lab.test") is not None  # no partial labels
    assert match(_dns(b"*oo.lab.test"), "foo.lab.test") is not None
    assert match(_dns(b"a.*.lab.test"), "a.b.lab.test") is not None  # left-most only
    assert match(_dns(b"*.*.lab.test"), "a.b.lab.test") is not None
    assert match(_dns(b"*.lab.test"), "*.lab.test") is not None  # never a * in our name
    assert match(_dns(b"*.lab.test."), "x.lab.test") is None


def test_a_critical_subjectaltname_and_other_name_types():
    assert match(_dns(b"lab.test", critical=True), "lab.test") is None
    assert match(_dns(b"lab.test", critical=False), "lab.test") is None
    uri_only = _san_cert((0x86, b"sip:lab.test"), (0x81, b"ops@lab.test"))
    assert match(uri_only, "lab.test") == "certificate is not for lab.test: subjectAltName (none)"
    assert match(_dns(b"\xffx.test"), "x.test") == (
        "certificate is not for x.test: subjectAltName DNS:\\xffx.test")


def test_malformed_certificates_are_unreadable_never_an_exception():
    good = _dns(b"lab.test")
    for bad in (b"", b"\x30", b"\x30\x85\x00\x00\x00\x00\x01", b"\x30\x03\x30\x10\x00",
                good[:-90], good[: len(good) // 2], b"\x04\x02ab", bytes(40)):
        assert match(bad, "lab.test") in ("unreadable certificate", _NO_SAN), bad
    assert match(good[:40], "lab.test") == "unreadable certificate"
    # a SAN extension whose GeneralNames run past the extension
    broken = _with_extensions("ec_leaf_ec_ca", [_ext(_SAN, b"\x30\x05\x82\x03ab")])
    assert match(broken, "ab") == "unreadable certificate"
    assert match(bytearray(good), "lab.test") is None
    assert match(memoryview(good), "lab.test") is None


def test_ip_literals():
    """parse() gets the name lower-cased as bytes (match() does that); None: a DNS name."""
    assert parse(b"127.0.0.1") == b"\x7f\x00\x00\x01"
    assert parse(b"[192.0.2.10]") == b"\xc0\x00\x02\x0a"
    assert parse(b"::") == bytes(16)
    assert parse(b"::1") == bytes(15) + b"\x01"
    assert parse(b"2001:db8::8:800:200c:417a") == (
        b"\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x08\x08\x00\x20\x0c\x41\x7a")
    assert parse(b"fe80::") == b"\xfe\x80" + bytes(14)
    assert parse(b"1:2:3:4:5:6:7:8") == bytes([0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8])
    assert parse(b"::ffff:192.0.2.1") == bytes(10) + b"\xff\xff\xc0\x00\x02\x01"
    for name in (b"lab.test", b"1.2.3", b"1.2.3.4.5", b"256.1.1.1", b"1.2.3.-4", b"1..2.3",
                 b"01234.1.1.1", b" 1.2.3.4", b"1.2.3.4 ", b"1:2:3:4:5:6:7", b"1:2:3:4:5:6:7:8:9",
                 b"1::2::3", b":1::", b"1:::2", b"12345::", b"g::", b"+1::", b"::1.2.3",
                 b"1:2:3:4:5:6:7::1.2.3.4", b"", b"[]", b"::%eth0"):
        assert parse(name) is None, name
