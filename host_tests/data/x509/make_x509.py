"""Generate the X.509 test certificates for host_tests/test_x509.py (CPython + cryptography).

    .venv/bin/python host_tests/data/x509/make_x509.py

Writes NAME.der for every entry of CERTS and REJECTS next to this script, and certs.json: for
each good certificate the values cryptography reads back from it (the oracle the tests compare
tinysip.x509 against), for each rejected one the ParseError reason fragment expected. The
output is committed, so the tests (also under MicroPython) never need cryptography. Keys and
ECDSA signatures are random: a re-run rewrites every file and certs.json consistently.

Same approach as tools/lab/pki.py (cryptography's CertificateBuilder), but with fixed dates so
the expired / not-yet-valid / GeneralizedTime cases do not depend on the day it runs.
"""

import datetime
import hashlib
import ipaddress
import json
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
UTC = datetime.timezone.utc


def _t(*args):
    return datetime.datetime(*args, tzinfo=UTC)


def _name(*pairs):
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in pairs])


def _ku(**bits):
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
             "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**dict((n, bits.get(n, False)) for n in names))


UNKNOWN_OK = "1.3.6.1.4.1.55555.1"
UNKNOWN_CRITICAL = "1.3.6.1.4.1.55555.2"

# name -> (key kind, issuer name or None (self-signed), serial, subject, not before, not after,
#          CA path length or None for a leaf, SAN entries or None, extra extensions)
CERTS = {
    "rsa_ca": ("rsa", None, 1, _name(
        (NameOID.COUNTRY_NAME, "DE"), (NameOID.STATE_OR_PROVINCE_NAME, "Berlin"),
        (NameOID.LOCALITY_NAME, "Berlin"), (NameOID.ORGANIZATION_NAME, "tinysip test"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "PKI"), (NameOID.EMAIL_ADDRESS, "pki@lab.test"),
        (NameOID.COMMON_NAME, "tinysip RSA test CA")),
        _t(2020, 1, 1), _t(2049, 12, 31, 23, 59, 59), 1, None, ()),
    "ec_ca": ("ec", None, 0x80, _name(
        (NameOID.DOMAIN_COMPONENT, "test"), (NameOID.DOMAIN_COMPONENT, "lab"),
        (NameOID.ORGANIZATION_NAME, "tinysip test"), (NameOID.COMMON_NAME, "tinysip EC test CA")),
        _t(2024, 2, 29), _t(9999, 12, 31, 23, 59, 59), 0, None, ()),
    "rsa_leaf_rsa_ca": ("rsa", "rsa_ca", 0x7F0102030405060708090A0B0C0D0E0F10111213, _name(
        (NameOID.ORGANIZATION_NAME, "Zo\u00eb+Co; <lab>"),
        (NameOID.COMMON_NAME, 'alice, "the tester" ')),
        _t(2025, 1, 1), _t(2027, 4, 5, 6, 7, 8), None,
        ["uri:sip:alice@lab.test", "dns:lab.test", "ip:127.0.0.1", "ip:::1",
         "email:alice@lab.test"], ()),
    "ec_leaf_rsa_ca": ("ec", "rsa_ca", 2, _name((NameOID.COMMON_NAME, "#alice")),
        _t(2025, 6, 30, 12, 0, 0), _t(2030, 6, 30, 12, 0, 0), None,
        ["uri:sip:alice@lab.test", "uri:sips:alice@lab.test", "dns:alice.lab.test"], ()),
    "rsa_leaf_ec_ca": ("rsa", "ec_ca", 0x7F, _name((NameOID.COMMON_NAME, "no san")),
        _t(2025, 1, 1), _t(2035, 1, 1), None, None,
        ((x509.UnrecognizedExtension(x509.ObjectIdentifier(UNKNOWN_OK), b"\x04\x03abc"), False),)),
    "ec_leaf_ec_ca": ("ec", "ec_ca", 3, _name((NameOID.COMMON_NAME, "lab.test")),
        _t(2025, 1, 1), _t(2035, 1, 1), None, ["dns:lab.test", "dns:*.lab.test"], ()),
    "expired": ("ec", "ec_ca", 4, _name((NameOID.COMMON_NAME, "expired")),
        _t(1999, 12, 31, 23, 59, 59), _t(2024, 2, 29, 12, 34, 56), None,
        ["uri:sip:alice@lab.test"], ()),
    "not_yet_valid": ("ec", "rsa_ca", 5, _name((NameOID.COMMON_NAME, "not yet valid")),
        _t(2049, 6, 1), _t(2049, 12, 31, 23, 59, 59), None, ["uri:sip:alice@lab.test"], ()),
    "generalized": ("ec", "ec_ca", 6, _name((NameOID.COMMON_NAME, "generalized")),
        _t(2025, 1, 1), _t(2051, 3, 1), None, ["uri:sip:alice@lab.test"], ()),
}

# name -> (key kind, issuer, extra extensions, fragment of the expected ParseError reason)
REJECTS = {
    "critical_unknown": ("ec", "ec_ca",
        ((x509.UnrecognizedExtension(x509.ObjectIdentifier(UNKNOWN_CRITICAL), b"\x05\x00"), True),),
        "unsupported critical extension " + UNKNOWN_CRITICAL),
    "p384": ("p384", "ec_ca", (), "unsupported EC curve 1.3.132.0.34"),
    "ed25519": ("ed25519", "ec_ca", (), "unsupported public key algorithm 1.3.101.112"),
}


def _key(kind):
    if kind == "rsa":
        return rsa.generate_private_key(65537, 2048)
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "p384":
        return ec.generate_private_key(ec.SECP384R1())
    return ed25519.Ed25519PrivateKey.generate()


def _san(entries):
    out = []
    for entry in entries:
        kind, value = entry.split(":", 1)
        if kind == "uri":
            out.append(x509.UniformResourceIdentifier(value))
        elif kind == "dns":
            out.append(x509.DNSName(value))
        elif kind == "email":
            out.append(x509.RFC822Name(value))
        else:
            out.append(x509.IPAddress(ipaddress.ip_address(value)))
    return x509.SubjectAlternativeName(out)


def _build(key, subject, issuer, serial, not_before, not_after, path_len, san, extra):
    """issuer: (cert, key) or None for self-signed."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if path_len is not None:
        builder = builder.add_extension(x509.BasicConstraints(True, path_len), True)
        builder = builder.add_extension(
            _ku(digital_signature=True, key_cert_sign=True, crl_sign=True), True)
    else:
        builder = builder.add_extension(x509.BasicConstraints(False, None), True)
        builder = builder.add_extension(
            _ku(digital_signature=True, key_encipherment=True), True)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                   ExtendedKeyUsageOID.CLIENT_AUTH]), False)
    if san is not None:
        builder = builder.add_extension(_san(san), False)
    for ext, critical in extra:
        builder = builder.add_extension(ext, critical)
    signer = issuer[1] if issuer else key
    return builder.sign(signer, hashes.SHA256())


def _ku_bits(ku):
    v = 0
    for i, name in enumerate(("digital_signature", "content_commitment", "key_encipherment",
                              "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign")):
        if getattr(ku, name):
            v |= 1 << i
    if ku.key_agreement:
        v |= (ku.encipher_only << 7) | (ku.decipher_only << 8)
    return v


def _ext(cert, cls):
    try:
        return cert.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None


def _attrs(name):
    return [[a.oid.dotted_string, a.value.encode().hex()] for a in name]


def _describe(cert):
    """What cryptography reads back: the oracle for tinysip.x509.parse."""
    der = cert.public_bytes(serialization.Encoding.DER)
    san = _ext(cert, x509.SubjectAlternativeName)
    bc = _ext(cert, x509.BasicConstraints)
    ku = _ext(cert, x509.KeyUsage)
    eku = _ext(cert, x509.ExtendedKeyUsage)
    pub = cert.public_key()
    out = {
        "version": cert.version.value + 1,
        "serial": str(cert.serial_number),
        "sig_alg": cert.signature_algorithm_oid.dotted_string,
        "issuer": _attrs(cert.issuer),
        "subject": _attrs(cert.subject),
        "issuer_text": cert.issuer.rfc4514_string(),
        "subject_text": cert.subject.rfc4514_string(),
        "not_before": int(cert.not_valid_before_utc.timestamp()),
        "not_after": int(cert.not_valid_after_utc.timestamp()),
        "san_uris": san.get_values_for_type(x509.UniformResourceIdentifier) if san else [],
        "san_dns": san.get_values_for_type(x509.DNSName) if san else [],
        "san_ips": [ip.packed.hex() for ip in san.get_values_for_type(x509.IPAddress)]
        if san else [],
        "ca": bc.ca if bc else False,
        "path_len": bc.path_length if bc else None,
        "key_usage": _ku_bits(ku) if ku else None,
        "ext_key_usage": [o.dotted_string for o in eku] if eku else None,
        "signature": cert.signature.hex(),
        "tbs_sha256": hashlib.sha256(cert.tbs_certificate_bytes).hexdigest(),
        "fingerprint": hashlib.sha256(der).hexdigest(),
        "ec_sig": None,
    }
    if isinstance(pub, rsa.RSAPublicKey):
        nums = pub.public_numbers()
        out.update(key_type="rsa", rsa_n="%x" % nums.n, rsa_e=nums.e)
    else:
        point = pub.public_bytes(serialization.Encoding.X962,
                                 serialization.PublicFormat.UncompressedPoint)
        out.update(key_type="ec", ec_curve="1.2.840.10045.3.1.7", ec_point=point.hex())
    if cert.signature_algorithm_oid.dotted_string.startswith("1.2.840.10045.4."):
        r, s = decode_dss_signature(cert.signature)
        out["ec_sig"] = [str(r), str(s)]
    return out


def _write(name, data):
    path = os.path.join(HERE, name)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def main():
    made = {}
    described = []
    for name, (kind, issuer, serial, subject, nb, na, path_len, san, extra) in CERTS.items():
        key = _key(kind)
        cert = _build(key, subject, made.get(issuer), serial, nb, na, path_len, san, extra)
        made[name] = (cert, key)
        _write(name + ".der", cert.public_bytes(serialization.Encoding.DER))
        entry = _describe(cert)
        entry["file"] = name + ".der"
        described.append(entry)
    rejects = []
    for name, (kind, issuer, extra, reason) in REJECTS.items():
        cert = _build(_key(kind), _name((NameOID.COMMON_NAME, name)), made[issuer], 100,
                      _t(2025, 1, 1), _t(2035, 1, 1), None, ["uri:sip:alice@lab.test"], extra)
        _write(name + ".der", cert.public_bytes(serialization.Encoding.DER))
        rejects.append({"file": name + ".der", "reason": reason})
    doc = {"certs": described, "rejects": rejects}
    _write("certs.json", (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode())
    for entry in described + rejects:
        print(entry["file"])


if __name__ == "__main__":
    main()
