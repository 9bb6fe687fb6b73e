"""tinysip.x509: the lean DER certificate reader, against certificates made by cryptography.

host_tests/data/x509/make_x509.py wrote the DER files and certs.json (what cryptography reads
back from each); these tests need neither cryptography nor CPython.
"""
import hashlib
import json
from binascii import hexlify, unhexlify

from testutil import (C_CA, C_DER, C_EC_POINT, C_EXT_KEY_USAGE, C_FINGERPRINT, C_ISSUER,
                      C_KEY_TYPE, C_KEY_USAGE, C_NOT_AFTER, C_NOT_BEFORE, C_PATH_LEN, C_RSA,
                      C_SAN_URIS, C_SIG_ALG, C_SIGNATURE, C_SUBJECT, C_TBS, C_VERSION, raises,
                      read_vector)

from tinysip import sipdate, x509
from tinysip.compat import sha256_hex
from tinysip.errors import ParseError

_DOC = None


def _doc():
    global _DOC
    if _DOC is None:
        _DOC = json.loads(read_vector("x509/certs.json").decode())
    return _DOC


def _der(name):
    return read_vector("x509/" + name + ".der")


def _entry(name):
    for e in _doc()["certs"]:
        if e["file"] == name + ".der":
            return e
    raise AssertionError("no " + name + " in certs.json")


def _fails(data, fragment=""):
    e = raises(ParseError, x509.parse, data)
    assert e.status == 400, e
    assert e.reason.startswith("x509: "), e
    assert fragment in e.reason, (fragment, e.reason)
    return e


# a test-side DER writer/splitter to build variants (lengths under 64 KB only)
def _tlv(tag, content):
    n = len(content)
    if n < 0x80:
        head = bytes([tag, n])
    elif n < 0x100:
        head = bytes([tag, 0x81, n])
    else:
        head = bytes([tag, 0x82, n >> 8, n & 0xFF])
    return head + content


def _split(data):
    """[(tag, whole element bytes, content bytes)] of the elements in data."""
    out = []
    pos = 0
    while pos < len(data):
        tag = data[pos]
        n = data[pos + 1]
        a = pos + 2
        if n & 0x80:
            k = n & 0x7F
            n = int.from_bytes(data[a:a + k], "big")
            a += k
        out.append((tag, data[pos:a + n], data[a:a + n]))
        pos = a + n
    return out


def _parts(name):
    """(tbs children, signatureAlgorithm element, signatureValue element) of a generated cert."""
    tbs, alg, sig = _split(_split(_der(name))[0][2])
    return [e[1] for e in _split(tbs[2])], alg[1], sig[1]


def _cert(tbs_children, alg, sig):
    return _tlv(0x30, _tlv(0x30, b"".join(tbs_children)) + alg + sig)


def _with_extensions(name, exts):
    """The named cert with its extensions replaced by exts (raw Extension elements)."""
    children, alg, sig = _parts(name)
    assert children[-1][0] == 0xA3
    return _cert(children[:-1] + [_tlv(0xA3, _tlv(0x30, b"".join(exts)))], alg, sig)


def _ext(oid_content, value, critical=None):
    body = _tlv(0x06, oid_content)
    if critical is not None:
        body += _tlv(0x01, b"\xff" if critical else b"\x00")
    return _tlv(0x30, body + _tlv(0x04, value))


_SAN = b"\x55\x1d\x11"
_BC = b"\x55\x1d\x13"


def _oid_text(content):
    """Dotted text of an OBJECT IDENTIFIER's DER content (the test's own decoder)."""
    arcs = []
    v = 0
    for c in content:
        v = v << 7 | c & 0x7F
        if not c & 0x80:
            if not arcs:
                x = 0 if v < 40 else (1 if v < 80 else 2)
                arcs.append(x)
                v -= 40 * x
            arcs.append(v)
            v = 0
    return ".".join([str(a) for a in arcs])


def _name_list(name):
    """[(dotted OID, value bytes)] of a DER Name, in DER order (what certs.json lists)."""
    (tag, _, content), = _split(bytes(name))
    assert tag == 0x30
    out = []
    for _, _, rdn in _split(content):
        for _, _, atv in _split(rdn):
            (_, _, oid), (_, _, value) = _split(atv)
            out.append((_oid_text(oid), value))
    return out


_SIG_ALGS = {"1.2.840.113549.1.1.11": "rsa", "1.2.840.10045.4.3.2": "ec"}
_SERVER_AUTH = b"\x2b\x06\x01\x05\x05\x07\x03\x01"  # 1.3.6.1.5.5.7.3.1
_CLIENT_AUTH = b"\x2b\x06\x01\x05\x05\x07\x03\x02"  # 1.3.6.1.5.5.7.3.2


def test_generated_certificates_match_cryptography():
    assert len(_doc()["certs"]) == 9
    for e in _doc()["certs"]:
        der = read_vector("x509/" + e["file"])
        c = x509.parse(der)
        where = e["file"]
        assert c[C_DER] == der
        assert c[C_VERSION] == e["version"], where
        assert c[C_SIG_ALG] == _SIG_ALGS.get(e["sig_alg"]), where
        assert _name_list(c[C_ISSUER]) == [(o, unhexlify(v)) for o, v in e["issuer"]], where
        assert _name_list(c[C_SUBJECT]) == [(o, unhexlify(v)) for o, v in e["subject"]], where
        assert c[C_NOT_BEFORE] == e["not_before"], (where, c[C_NOT_BEFORE])
        assert c[C_NOT_AFTER] == e["not_after"], (where, c[C_NOT_AFTER])
        assert c[C_SAN_URIS] == [u.encode() for u in e["san_uris"]], where
        assert c[C_CA] is e["ca"], where
        assert c[C_PATH_LEN] == e["path_len"], where
        assert c[C_KEY_USAGE] == e["key_usage"], where
        eku = c[C_EXT_KEY_USAGE]
        assert (eku if eku is None else [_oid_text(o) for o in eku]) == e["ext_key_usage"], where
        assert c[C_KEY_TYPE] == e["key_type"], where  # (firmware reads it: test_consts)
        if c[C_KEY_TYPE] == "rsa":
            assert c[C_RSA] == (int(e["rsa_n"], 16), e["rsa_e"]), where
            assert len(hex(c[C_RSA][0])) - 2 == 512, where  # RSA-2048
            assert c[C_EC_POINT] is None
        else:
            assert c[C_EC_POINT] == unhexlify(e["ec_point"]), where
            assert len(c[C_EC_POINT]) == 65, where
            assert e["ec_curve"] == "1.2.840.10045.3.1.7", where  # P-256, the only one read
            assert c[C_RSA] is None
        assert bytes(c[C_SIGNATURE]) == unhexlify(e["signature"]), where
        assert sha256_hex(c[C_TBS]) == e["tbs_sha256"].encode(), where
        assert c[C_FINGERPRINT] == e["fingerprint"].encode(), where
        if e["ec_sig"]:
            assert c[C_SIG_ALG] == "ec"
            assert x509.ec_signature(c[C_SIGNATURE]) == (int(e["ec_sig"][0]),
                                                         int(e["ec_sig"][1]))
        else:
            assert c[C_SIG_ALG] == "rsa"


def test_the_cases_the_generator_was_asked_for():
    rsa_leaf = x509.parse(_der("rsa_leaf_rsa_ca"))
    assert rsa_leaf[C_KEY_TYPE] == "rsa" and rsa_leaf[C_SIG_ALG] == "rsa"
    # its SAN also has a dNSName, two iPAddresses and an rfc822Name: checked, not kept
    assert rsa_leaf[C_SAN_URIS] == [b"sip:alice@lab.test"]
    assert rsa_leaf[C_CA] is False and rsa_leaf[C_PATH_LEN] is None
    assert rsa_leaf[C_KEY_USAGE] == 1 | 4  # digitalSignature, keyEncipherment
    assert rsa_leaf[C_EXT_KEY_USAGE] == [_SERVER_AUTH, _CLIENT_AUTH]
    assert _name_list(rsa_leaf[C_SUBJECT]) == [
        ("2.5.4.10", "Zo\u00eb+Co; <lab>".encode()), ("2.5.4.3", b'alice, "the tester" ')]
    assert x509.parse(_der("ec_leaf_rsa_ca"))[C_SIG_ALG] == "rsa"
    assert x509.parse(_der("ec_leaf_ec_ca"))[C_SIG_ALG] == "ec"
    no_san = x509.parse(_der("rsa_leaf_ec_ca"))  # also has a non-critical unknown extension
    assert no_san[C_SAN_URIS] == []
    ca = x509.parse(_der("rsa_ca"))
    assert ca[C_CA] is True and ca[C_PATH_LEN] == 1 and ca[C_ISSUER] == ca[C_SUBJECT]
    assert ca[C_KEY_USAGE] == 1 | 32 | 64  # digitalSignature, keyCertSign, cRLSign
    assert ca[C_EXT_KEY_USAGE] is None
    ec_ca = x509.parse(_der("ec_ca"))
    assert ec_ca[C_CA] is True and ec_ca[C_PATH_LEN] == 0
    assert ec_ca[C_NOT_AFTER] == 253402300799  # 9999-12-31T23:59:59Z, GeneralizedTime
    # 1999-12-31T23:59:59Z (UTCTime 99)
    assert x509.parse(_der("expired"))[C_NOT_BEFORE] == 946684799
    assert x509.parse(_der("expired"))[C_NOT_AFTER] == 1709210096  # 2024-02-29T12:34:56Z
    assert x509.parse(_der("not_yet_valid"))[C_NOT_BEFORE] == 2506118400  # 2049-06-01
    # 2049-12-31T23:59:59Z, UTCTime 49
    assert x509.parse(_der("not_yet_valid"))[C_NOT_AFTER] == 2524607999
    assert x509.parse(_der("generalized"))[C_NOT_AFTER] == 2561241600  # 2051-03-01, GeneralizedTime


def test_error_texts_table_has_one_entry_per_constant():
    # x509._T is indexed by private constants (_E_*, _W_*; the last, _W_ANY, is 83)
    assert len(x509._T.split(":")) == 84
    # a few of them, through the faults that use them
    _fails(b"\x30\x01\x02", "element header runs past the end at offset 2")
    _fails(b"\x30\x02\x02\x00", "expected tbsCertificate but found tag 0x02 at offset 2")
    e = raises(ParseError, x509.pkcs8_public, b"\x30\x05\x02\x01\x00\x05\x00")
    assert e.reason == "x509: expected AlgorithmIdentifier but found tag 0x05 at offset 5"
    e = raises(ParseError, x509.pkcs8_public, b"\x00" * 9000)
    assert e.reason == "x509: private key of 9000 bytes is over 8192", e.reason


def test_rejected_certificates():
    assert len(_doc()["rejects"]) == 3
    for e in _doc()["rejects"]:
        _fails(read_vector("x509/" + e["file"]), e["reason"])
    e = _fails(_der("critical_unknown"))
    assert e.reason == "x509: unsupported critical extension 1.3.6.1.4.1.55555.2"


def test_bytes_like_input():
    der = _der("ec_leaf_ec_ca")
    fp = x509.parse(der)[C_FINGERPRINT]
    assert x509.parse(bytearray(der))[C_FINGERPRINT] == fp
    assert x509.parse(memoryview(der))[C_FINGERPRINT] == fp
    assert fp == hexlify(hashlib.sha256(der).digest())


_VALIDITY = []


def _epoch(y, m, day):
    """x509's reading of a GeneralizedTime at midnight of that day (as a certificate's
    notBefore)."""
    if not _VALIDITY:
        _VALIDITY.extend(_parts("ec_leaf_ec_ca"))
    children, alg, sig = _VALIDITY
    t = _tlv(0x18, b"%04d%02d%02d000000Z" % (y, m, day))
    not_after = _split(_split(children[4])[0][2])[1][1]  # the Validity's second time, kept
    v = _tlv(0x30, t + not_after)
    return x509.parse(_cert(children[:4] + [v] + children[5:], alg, sig))[C_NOT_BEFORE]


def test_days_from_civil_and_x509_times_agree():
    days_from_civil = sipdate.days_from_civil
    assert days_from_civil(1970, 1, 1) == 0
    assert days_from_civil(1969, 12, 31) == -1
    assert days_from_civil(1950, 1, 1) == -7305
    assert days_from_civil(2000, 2, 29) == 11016
    assert days_from_civil(2000, 3, 1) == 11017
    assert days_from_civil(2100, 3, 1) == 47541  # 2100 is not a leap year
    assert days_from_civil(2100, 2, 28) == 47540
    assert days_from_civil(9999, 12, 31) == 2932896
    assert days_from_civil(0, 1, 1) == -719528
    # every day of five years, one day apart, read by both
    for y in (1969, 2023, 2024, 2025, 2100):
        n = days_from_civil(y, 1, 1)
        for m in range(1, 13):
            feb = 29 if y % 4 == 0 and y % 100 else 28
            last = (31, feb, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[m - 1]
            for day in range(1, last + 1):
                assert days_from_civil(y, m, day) == n, (y, m, day)
                assert _epoch(y, m, day) == n * 86400, (y, m, day)
                n += 1
        assert days_from_civil(y + 1, 1, 1) == n
    for y, m, day in ((0, 1, 1), (1950, 1, 1), (2000, 2, 29), (2000, 3, 1), (9999, 12, 31)):
        assert _epoch(y, m, day) == days_from_civil(y, m, day) * 86400, (y, m, day)


def test_truncated_at_every_length():
    der = _der("rsa_leaf_rsa_ca")
    for n in range(len(der)):
        _fails(der[:n])


def test_truncated_tbs_with_consistent_outer_lengths():
    # cut the tbsCertificate after each of its fields, lengths around it re-encoded
    children, alg, sig = _parts("ec_leaf_rsa_ca")
    assert len(children) == 8 and children[-1][0] == 0xA3
    for k in range(1, 7):  # up to but without the SubjectPublicKeyInfo
        _fails(_cert(children[:k], alg, sig))
    assert x509.parse(_cert(children[:7], alg, sig))[C_SAN_URIS] == []  # v3 without extensions
    for k in range(1, 6):  # v1 (no version) cut short
        _fails(_cert(children[1:k], alg, sig))


def test_every_length_byte_changed():
    der = _der("rsa_leaf_rsa_ca")
    spots = []  # (offset of the length octet(s) start, offset of the last length octet)

    def walk(start, end):
        pos = start
        while pos < end:
            tag = der[pos]
            n = der[pos + 1]
            a = pos + 2
            if n & 0x80:
                k = n & 0x7F
                n = int.from_bytes(der[a:a + k], "big")
                a += k
            spots.append((pos + 1, a - 1))
            if tag & 0x20:
                walk(a, a + n)
            pos = a + n

    walk(0, len(der))
    assert len(spots) > 70
    for first, last in spots:
        for at, value in ((last, (der[last] + 1) & 0xFF), (last, (der[last] - 1) & 0xFF),
                          (first, 0x80), (first, 0x85), (first, 0xFF)):
            bad = bytearray(der)
            bad[at] = value
            _fails(bytes(bad))


def test_every_byte_mutated_parses_or_fails_cleanly():
    der = _der("ec_leaf_ec_ca")
    ok = 0
    for i in range(len(der)):
        for flip in (0x01, 0x80, 0xFF):
            bad = bytearray(der)
            bad[i] ^= flip
            try:
                c = x509.parse(bytes(bad))
            except ParseError as e:
                assert e.status == 400 and e.reason.startswith("x509: ")
            else:
                ok += 1
                assert type(c) is tuple and len(c) == C_EXT_KEY_USAGE + 1
    assert ok > 0  # key, signature and name bytes can change without breaking the DER


def test_oversized():
    e = _fails(b"\x30\x82\x20\x01" + b"\x00" * 8193, "over 8192")
    assert "8197 bytes" in e.reason
    # padded inside a valid-looking outer SEQUENCE, just over the limit
    children, alg, sig = _parts("ec_leaf_ec_ca")
    _fails(_cert(children[:-1] + [_tlv(0x04, b"x" * 8200)], alg, sig), "over 8192")


def test_deep_nesting():
    inner = b"\x05\x00"
    for _ in range(40):
        inner = _tlv(0x30, inner)
    _fails(_tlv(0x30, inner), "nesting over 16 levels")
    _fails(_tlv(0x30, b"\x30\x80" + b"\x00\x00"), "indefinite length")
    # 16 levels with the Certificate are only wrong for the schema, 17 for the walker too
    inner = b"\x05\x00"
    for _ in range(15):
        inner = _tlv(0x30, inner)
    e = _fails(_tlv(0x30, inner))
    assert "nesting" not in e.reason
    _fails(_tlv(0x30, _tlv(0x30, inner)), "nesting over 16 levels")


def test_trailing_garbage():
    der = _der("ec_leaf_ec_ca")
    _fails(der + b"\x00", "input after the Certificate")
    _fails(der + der, "input after the Certificate")
    children, alg, sig = _parts("ec_leaf_ec_ca")
    _fails(_cert(children, alg, sig + b"\x05\x00"), "extra bytes in Certificate")
    _fails(_cert(children + [b"\x05\x00"], alg, sig), "unexpected element in tbsCertificate")


def test_length_encodings():
    _fails(b"", "element header runs past the end at offset 0")
    _fails(b"\x30", "element header runs past the end at offset 0")
    _fails(b"\x30\x85\x00\x00\x00\x00\x10", "length in more than 4 bytes")
    _fails(b"\x30\x81\x05" + b"\x05\x00" * 2 + b"\x00", "length not minimally encoded")
    _fails(b"\x30\x82\x00\x85" + b"\x00" * 0x85, "length not minimally encoded")
    _fails(b"\x30\x84\x7f\xff\xff\xff\x00", "length runs past the end at offset 0")
    _fails(b"\x3f\x81\x01\x00", "multi-byte tag")
    _fails(b"\x31\x00", "expected Certificate SEQUENCE")


def test_version_1_and_schema_errors():
    children, alg, sig = _parts("ec_leaf_ec_ca")
    assert children[0][0] == 0xA0 and children[-1][0] == 0xA3
    v1 = x509.parse(_cert(children[1:-1], alg, sig))
    assert v1[C_VERSION] == 1 and v1[C_CA] is False and v1[C_SAN_URIS] == []
    assert v1[C_KEY_USAGE] is None
    _fails(_cert(children[1:], alg, sig), "unexpected element in tbsCertificate")
    v2 = [_tlv(0xA0, b"\x02\x01\x01")] + children[1:-1]
    _fails(_cert(v2 + [children[-1]], alg, sig), "extensions in a version 2 certificate")
    assert x509.parse(_cert(v2 + [_tlv(0x82, b"\x00\x01")], alg, sig))[C_VERSION] == 2
    _fails(_cert([_tlv(0xA0, b"\x02\x01\x03")] + children[1:], alg, sig), "unknown version 3")
    # the inner AlgorithmIdentifier must equal the outer one
    rsa_alg = _parts("ec_leaf_rsa_ca")[1]
    _fails(_cert(children, rsa_alg, sig), "tbsCertificate signature differs")
    # INTEGER and time encodings
    bad_serial = [children[0], b"\x02\x02\x00\x03"] + children[2:]
    _fails(_cert(bad_serial, alg, sig), "INTEGER not minimally encoded")
    x509.parse(_cert([children[0], b"\x02\x01\xfd"] + children[2:], alg, sig))  # -3: taken
    validity = children[4]
    for old, new, why in ((b"Z", b"+", "DER form"), (b"2501", b"2513", "out of range"),
                          (b"250101", b"250230", "out of range"),
                          (b"250101", b"25a101", "non-digit")):
        changed = validity.replace(old, new, 1)
        assert changed != validity, old
        _fails(_cert(children[:4] + [changed] + children[5:], alg, sig), why)
    leap = validity.replace(b"250101", b"240229", 1)  # not_before 2024-02-29T00:00:00Z
    c = x509.parse(_cert(children[:4] + [leap] + children[5:], alg, sig))
    assert c[C_NOT_BEFORE] == 1709164800
    leap = validity.replace(b"250101", b"230229", 1)
    _fails(_cert(children[:4] + [leap] + children[5:], alg, sig), "out of range")


def test_extension_errors():
    san = _tlv(0x30, _tlv(0x86, b"sip:alice@lab.test"))
    c = x509.parse(_with_extensions("ec_leaf_ec_ca", [_ext(_SAN, san, True)]))
    assert c[C_SAN_URIS] == [b"sip:alice@lab.test"]
    assert c[C_KEY_USAGE] is None and c[C_CA] is False
    _fails(_with_extensions("ec_leaf_ec_ca", [_ext(_SAN, san), _ext(_SAN, san)]),
           "extension 2.5.29.17 appears twice")
    bad_bool = _tlv(0x30, _tlv(0x06, _SAN) + b"\x01\x01\x01" + _tlv(0x04, san))
    _fails(_with_extensions("ec_leaf_ec_ca", [bad_bool]), "BOOLEAN not 00 or FF")
    _fails(_with_extensions("ec_leaf_ec_ca", [_ext(_SAN, _tlv(0x30, _tlv(0x87, b"\x01\x02\x03")))]),
           "iPAddress not 4 or 16 bytes")
    _fails(_with_extensions("ec_leaf_ec_ca", [_ext(_SAN, san + b"\x00")]),
           "extra bytes in extension")
    _fails(_with_extensions("ec_leaf_ec_ca", [_ext(_SAN, san[:-1])]), "length runs past the end")
    bc = _tlv(0x30, b"\x01\x01\xff\x02\x01\x02")
    c = x509.parse(_with_extensions("ec_leaf_ec_ca", [_ext(_BC, bc, True)]))
    assert c[C_CA] is True and c[C_PATH_LEN] == 2
    _fails(_with_extensions("ec_leaf_ec_ca", [_ext(_BC, _tlv(0x30, b"\x02\x01\xff"))]),
           "negative pathLenConstraint")
    # unknown: skipped when not critical, refused when critical
    unknown = b"\x2b\x06\x01\x04\x01\x83\xb2\x03\x09"  # 1.3.6.1.4.1.55555.9
    c = x509.parse(_with_extensions("ec_leaf_ec_ca", [_ext(unknown, b"\xff", False)]))
    assert c[C_CA] is False and c[C_SAN_URIS] == []
    _fails(_with_extensions("ec_leaf_ec_ca", [_ext(unknown, b"\xff", True)]),
           "unsupported critical extension 1.3.6.1.4.1.55555.9")
    _fails(_with_extensions("ec_leaf_ec_ca", [_ext(b"\x2b\x80\x01", b"")]),
           "OBJECT IDENTIFIER not minimally encoded")


def test_public_key_errors():
    children, alg, sig = _parts("ec_leaf_ec_ca")
    spki = children[6]
    point = spki[-65:]
    assert point[0] == 4
    compressed = _tlv(0x30, _split(spki[2:])[0][1] + _tlv(0x03, b"\x00\x02" + point[1:33]))
    _fails(_cert(children[:6] + [compressed] + children[7:], alg, sig),
           "EC point not uncompressed 65 bytes")
    unused = spki[:-66] + b"\x01" + point
    _fails(_cert(children[:6] + [unused] + children[7:], alg, sig),
           "subjectPublicKey has unused bits")


def test_ec_signature():
    assert x509.ec_signature(b"\x30\x06\x02\x01\x01\x02\x01\x7f") == (1, 127)
    assert x509.ec_signature(bytearray(b"\x30\x07\x02\x02\x00\x80\x02\x01\x02")) == (128, 2)
    for bad, why in ((b"", "header runs past"),
                     (b"\x30\x00", "header runs past the end at offset 2"),
                     (b"\x30\x03\x02\x01\x01", "header runs past the end at offset 5"),
                     (b"\x30\x03\x04\x01\x01", "expected ECDSA r but found tag 0x04"),
                     (b"\x30\x06\x02\x01\x80\x02\x01\x01", "negative ECDSA r"),
                     (b"\x30\x06\x02\x01\x00\x02\x01\x01", "zero ECDSA r or s"),
                     (b"\x30\x07\x02\x02\x00\x01\x02\x01\x01", "INTEGER not minimally encoded"),
                     (b"\x30\x06\x02\x01\x01\x02\x01\x01\x00", "input after"),
                     (b"\x30\x09\x02\x01\x01\x02\x01\x01\x05\x00\x00", "extra bytes"),
                     (b"\x30\x06\x02\x01\x01\x02\x00", "length runs past"),
                     (b"\x30" + b"\x00" * 9000, "over 8192")):
        e = raises(ParseError, x509.ec_signature, bad)
        assert e.status == 400 and why in e.reason, (bad, e.reason)


def test_pkcs8_public_matches_the_certificate():
    cert = x509.parse(read_vector("x509/cred.der"))
    assert x509.pkcs8_public(read_vector("x509/cred.key.der")) == ("ec", cert[C_EC_POINT])
    other = x509.pkcs8_public(read_vector("x509/cred_other.key.der"))
    assert other[0] == "ec" and other[1] != cert[C_EC_POINT] and len(other[1]) == 65


def test_pkcs8_public_rejects_garbage():
    key = read_vector("x509/cred.key.der")
    for bad in (b"", key[:-1], key + b"\x00", b"\x30\x03\x02\x01\x00", read_vector("x509/cred.der")):
        e = raises(ParseError, x509.pkcs8_public, bad)
        assert e.status == 400 and e.reason.startswith("x509: "), e.reason
