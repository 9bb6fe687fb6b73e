"""tinysip.certs: the RFC 6072 trust checks in order, the per-AoR cache, the credential body."""
import json

from testutil import (C_DER, C_EC_POINT, C_FINGERPRINT, C_KEY_TYPE, C_NOT_AFTER, C_RSA,
                      C_SAN_URIS, C_SUBJECT, raises, read_vector)

from tinysip import certs, x509
from tinysip.credential import credential
from tinysip.certservice import Cache
from tinysip.errors import ParseError

AOR = b"sip:alice@lab.test"
FROM = b"<sip:alice@lab.test>;tag=n1"
NOW = 1760000000  # 2025-10-09: inside every test certificate's validity but the two below


def der(name):
    return read_vector("x509/" + name + ".der")


def ca(name):
    return certs.anchor(der(name))


def reason(fn, *args, **kw):
    return raises(certs.CertRejected, fn, *args, **kw).args[0].split(":")[0]


def Domain(point_hex):
    """What check() takes of the domain certificate that signs Identity headers: its key."""
    return bytes(bytearray.fromhex(point_hex))


def test_leaf_signed_by_the_configured_ca_is_trusted_with_either_algorithm():
    cert, how = certs.check(AOR, AOR, FROM, der("rsa_leaf_rsa_ca"), NOW, ca("rsa_ca"))
    assert how == "ca" and AOR in cert[C_SAN_URIS]
    cert, how = certs.check(AOR, AOR, FROM, der("ec_leaf_rsa_ca"), NOW, ca("rsa_ca"))
    assert how == "ca" and cert[C_KEY_TYPE] == "ec"


def test_the_curve_code_loads_only_for_a_certificate_an_ec_key_signed():
    # issue 16: an RSA CA's checks do not carry tinysip.ecdsa (1.5 KB while a check runs)
    import sys

    from tinysip.compat import drop

    drop("tinysip.ecdsa")  # (module and package attribute: the next import loads it again)
    certs.check(AOR, AOR, FROM, der("ec_leaf_rsa_ca"), NOW, ca("rsa_ca"))
    assert "tinysip.ecdsa" not in sys.modules
    cert, how = certs.check(AOR, AOR, FROM, der("generalized"), NOW, ca("ec_ca"))
    assert how == "ca" and "tinysip.ecdsa" in sys.modules  # (an ECDSA-signed leaf)


def test_checks_run_in_order_and_name_the_first_failure():
    leaf = der("rsa_leaf_rsa_ca")
    assert reason(certs.check, AOR, AOR, b"<sip:mallory@lab.test>;tag=1", leaf, NOW,
                  ca("rsa_ca")) == "from_mismatch"
    assert reason(certs.check, AOR, AOR, FROM, leaf[:-3], NOW, ca("rsa_ca")) == "malformed"
    assert reason(certs.check, AOR, AOR, FROM, der("expired"), NOW, ca("ec_ca")) == "expired"
    assert reason(certs.check, AOR, AOR, FROM, der("not_yet_valid"), NOW,
                  ca("rsa_ca")) == "not_yet_valid"
    bob = b"sip:bob@lab.test"
    assert reason(certs.check, bob, bob, b"<sip:bob@lab.test>", leaf, NOW,
                  ca("rsa_ca")) == "san_mismatch"
    assert reason(certs.check, AOR, AOR, FROM, leaf, NOW, ca("ec_ca")) == "untrusted"
    assert reason(certs.check, AOR, AOR, FROM, leaf, NOW, None) == "untrusted"


def test_the_ca_is_kept_as_its_subject_and_key_only():
    subject, rsa, point = certs.anchor(der("rsa_ca"))
    c = x509.parse(der("rsa_ca"))
    assert isinstance(subject, bytes) and subject == c[C_SUBJECT] and rsa == c[C_RSA]
    assert point is None and len(rsa) == 2
    subject, rsa, point = certs.anchor(der("ec_ca"))
    assert rsa is None and point == x509.parse(der("ec_ca"))[C_EC_POINT]
    raises(ParseError, certs.anchor, der("rsa_ca")[:-1])
    # the issuer must be the CA's subject, byte for byte, before any signature arithmetic
    other = (subject[:-1] + b"X",) + certs.anchor(der("rsa_ca"))[1:]
    assert not _signed_by("rsa_leaf_rsa_ca", other)
    assert _signed_by("rsa_leaf_rsa_ca", ca("rsa_ca"))
    # (generalized: an ECDSA-signed leaf of the EC CA that names AOR; ec_leaf_ec_ca names none)
    assert _signed_by("generalized", ca("ec_ca"))
    assert not _signed_by("generalized", ca("rsa_ca"))


def _signed_by(leaf, anchor):
    """Does check() trust the leaf by the CA `anchor` (it passes the other checks)?"""
    try:
        return certs.check(AOR, AOR, FROM, der(leaf), NOW, anchor)[1] == "ca"
    except certs.CertRejected as e:
        assert e.args[0].startswith("untrusted: not signed by the configured CA"), e.args[0]
        return False


def test_a_tampered_certificate_is_untrusted():
    leaf = bytearray(der("rsa_leaf_rsa_ca"))
    i = bytes(leaf).find(b"alice@lab.test")
    leaf[i] = ord("A")  # the SAN URI still compares equal in the host, the signature breaks
    e = raises(certs.CertRejected, certs.check, b"sip:Alice@lab.test", b"sip:Alice@lab.test",
               b"<sip:Alice@lab.test>", bytes(leaf), NOW, ca("rsa_ca"))
    assert e.args[0].startswith("untrusted")


def test_identity_from_the_domain_key_is_the_other_way_to_trust():
    doc = json.loads(read_vector("sig/passport.json").decode())
    good = [c for c in doc["cases"] if c["ok"]][0]["value"].encode()
    leaf = der("generalized")  # signed by the EC CA, not the configured RSA one
    cert, how = certs.check(AOR, AOR, FROM, leaf, NOW, ca("rsa_ca"), good, Domain(doc["point"]))
    assert how == "identity"
    e = raises(certs.CertRejected, certs.check, AOR, AOR, FROM, leaf, NOW, ca("rsa_ca"), good,
               Domain(doc["other_point"]))
    assert e.args[0].startswith("untrusted") and "Identity" in e.args[0]
    e = raises(certs.CertRejected, certs.check, AOR, AOR, FROM, leaf, NOW, ca("rsa_ca"),
               b"not-a-passport", Domain(doc["point"]))
    assert e.args[0].startswith("untrusted")


def _from_matches(uri, value):
    """Does check() take the NOTIFY's From `value` for the subscribed `uri`?"""
    try:
        certs.check(AOR, uri, value, der("rsa_leaf_rsa_ca"), NOW, ca("rsa_ca"))
        return True
    except certs.CertRejected as e:
        assert e.args[0].startswith("from_mismatch: "), e.args[0]
        return False


def test_uri_comparison_ignores_parameters_and_host_case():
    assert _from_matches(b"SIP:alice@lab.test", b"<sip:alice@LAB.test;transport=tls>;tag=1")
    assert _from_matches(b"sip:alice@lab.test?x=1", b"sip:alice@lab.test;tag=1")
    assert not _from_matches(b"sip:alice@lab.test", b"<sip:Alice@lab.test>")
    assert not _from_matches(b"sip:alice@lab.test", b"<sips:alice@lab.test>")
    assert not _from_matches(b"sip:alice@lab.test", b"<sip:lab.test>")


def test_cache_forgets_old_and_expired_entries():
    c = Cache(max_age=3600)
    a = x509.parse(der("rsa_leaf_rsa_ca"))
    c.entries[AOR] = (a[C_DER], a[C_NOT_AFTER], NOW)  # as certs.receive stores a checked one
    assert c.get(AOR, NOW + 30) == a[C_DER]
    assert c.get(AOR, NOW + 3601) is None and AOR not in c.entries  # older than max_age: gone
    c.entries[AOR] = (a[C_DER], a[C_NOT_AFTER], NOW)
    assert c.get(AOR, a[C_NOT_AFTER] + 1) is None  # expired
    c.entries[AOR] = (a[C_DER], a[C_NOT_AFTER], NOW)
    assert c.drop(AOR) and not c.drop(AOR) and c.get(AOR, NOW) is None


def _multipart(parts, boundary=b"b0und"):
    out = b""
    for ctype, content in parts:
        out += b"--" + boundary + b"\r\n"
        if ctype:
            out += b"Content-Type: " + ctype + b"\r\n"
        out += b"\r\n" + content + b"\r\n"
    return out + b"--" + boundary + b"--\r\n"


def test_credential_body_is_cut_at_its_boundaries_binary_safe():
    cert = der("ec_leaf_rsa_ca")
    key = b"\x30\x81\x87\x02\x01\x00\r\n\r\n--b0un\x00\xff"  # binary, with CRLFs inside
    body = _multipart([(b"application/pkix-cert", cert), (b"application/pkcs8", key)])
    got = credential(b'multipart/mixed; boundary="b0und"', body)
    assert got == (cert, key)
    body = _multipart([(b"application/pkcs8", key), (b"text/plain", b"x"),
                       (b"application/pkix-cert", cert)], b"zz")
    assert credential(b"multipart/mixed;boundary=zz", body) == (cert, key)


def test_credential_errors_say_what_is_missing():
    cert = der("ec_leaf_rsa_ca")
    e = raises(ParseError, credential, b"application/pkix-cert", cert)
    assert e.status == 415
    e = raises(ParseError, credential, b"multipart/mixed", b"")
    assert "boundary" in e.reason
    only = _multipart([(b"application/pkix-cert", cert)])
    e = raises(ParseError, credential, b"multipart/mixed; boundary=b0und", only)
    assert "pkcs8" in e.reason
    cut = _multipart([(b"application/pkix-cert", cert), (b"application/pkcs8", b"k")])[:-12]
    raises(ParseError, credential, b"multipart/mixed; boundary=b0und", cut)
