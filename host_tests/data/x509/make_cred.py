"""Generate the RFC 6072 credential test data for host_tests/test_ua_certs.py (CPython +
cryptography): an EC P-256 certificate for sip:alice@lab.test (self-signed: the credential
is trusted by the TLS flow it arrives on) with its PKCS#8 key, and a second, unrelated key.

    .venv/bin/python host_tests/data/x509/make_cred.py

Writes cred.der, cred.key.der and cred_other.key.der next to this script; the output is
committed. Fixed dates (2025-01-01 .. 2035-01-01) cover the tests' NOW.
"""
import datetime
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
UTC = datetime.timezone.utc


def pkcs8(key):
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def main():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alice credential")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(datetime.datetime(2025, 1, 1, tzinfo=UTC))
            .not_valid_after(datetime.datetime(2035, 1, 1, tzinfo=UTC))
            .add_extension(x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier("sip:alice@lab.test")]), False)
            .sign(key, hashes.SHA256()))
    out = {"cred.der": cert.public_bytes(serialization.Encoding.DER),
           "cred.key.der": pkcs8(key),
           "cred_other.key.der": pkcs8(ec.generate_private_key(ec.SECP256R1()))}
    for name, data in out.items():
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
