"""Throwaway test PKI for the tinysip interop lab.

make_pki(outdir) writes, each as a PEM and a DER file (certificate and private key):

  ca         lab CA (the one the phone trusts)
  server     good server cert: SAN DNS:localhost, DNS:lab.test, IP:127.0.0.1
  expired    like server, but notAfter lies in the past
  wronghost  same CA, SAN only DNS:wrong.example
  rogue_ca   a second CA the phone does not trust
  untrusted  SAN like server, signed by rogue_ca

File names: NAME.pem / NAME.der (certificate), NAME.key.pem / NAME.key.der (PKCS#8,
unencrypted). All keys are EC P-256, signatures ECDSA-SHA256.

The call is idempotent: when every file exists, parses, chains to its issuer and is still
within its intended validity window (expired: still expired), nothing is rewritten.

CLI: python tools/lab/pki.py OUTDIR
"""

import datetime
import ipaddress
import os
import sys

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

GOOD_SAN = ("dns:localhost", "dns:lab.test", "ip:127.0.0.1")

# name -> (issuer name or None for a self-signed CA, SAN tuple, validity kind)
SPEC = {
    "ca": (None, (), "ca"),
    "rogue_ca": (None, (), "ca"),
    "server": ("ca", GOOD_SAN, "good"),
    "expired": ("ca", GOOD_SAN, "expired"),
    "wronghost": ("ca", ("dns:wrong.example",), "good"),
    "untrusted": ("rogue_ca", GOOD_SAN, "good"),
}
# generation order: issuers first
ORDER = ("ca", "rogue_ca", "server", "expired", "wronghost", "untrusted")

CA_DAYS = 3650
LEAF_DAYS = 825
# regenerate when a "good" certificate has less than this left
MIN_LEFT = datetime.timedelta(days=7)

COMMON_NAMES = {
    "ca": "tinysip lab CA",
    "rogue_ca": "tinysip rogue CA (not trusted)",
    "server": "lab.test",
    "expired": "lab.test (expired)",
    "wronghost": "wrong.example",
    "untrusted": "lab.test (untrusted issuer)",
}


def paths(outdir, name):
    """Return the four file paths of one PKI entry."""
    base = os.path.join(outdir, name)
    return {
        "pem": base + ".pem",
        "der": base + ".der",
        "key_pem": base + ".key.pem",
        "key_der": base + ".key.der",
    }


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _san(entries):
    names = []
    for entry in entries:
        kind, value = entry.split(":", 1)
        if kind == "dns":
            names.append(x509.DNSName(value))
        else:
            names.append(x509.IPAddress(ipaddress.ip_address(value)))
    return x509.SubjectAlternativeName(names)


def _validity(kind, now):
    if kind == "ca":
        return now - datetime.timedelta(days=1), now + datetime.timedelta(days=CA_DAYS)
    if kind == "expired":
        return now - datetime.timedelta(days=60), now - datetime.timedelta(days=30)
    return now - datetime.timedelta(days=1), now + datetime.timedelta(days=LEAF_DAYS)


def _build(name, key, issuer_cert, issuer_key, now):
    issuer_name, san, kind = SPEC[name]
    subject = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tinysip interop lab"),
        x509.NameAttribute(NameOID.COMMON_NAME, COMMON_NAMES[name]),
    ])
    not_before, not_after = _validity(kind, now)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert is not None else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if kind == "ca":
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            True,
        )
        signer = key
    else:
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=True, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            True,
        )
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            False,
        )
        builder = builder.add_extension(_san(san), False)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
        signer = issuer_key
    return builder.sign(signer, hashes.SHA256())


def _write(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _save(outdir, name, cert, key):
    p = paths(outdir, name)
    _write(p["pem"], cert.public_bytes(serialization.Encoding.PEM))
    _write(p["der"], cert.public_bytes(serialization.Encoding.DER))
    fmt = serialization.PrivateFormat.PKCS8
    nocrypt = serialization.NoEncryption()
    _write(p["key_pem"], key.private_bytes(serialization.Encoding.PEM, fmt, nocrypt))
    _write(p["key_der"], key.private_bytes(serialization.Encoding.DER, fmt, nocrypt))
    os.chmod(p["key_pem"], 0o600)
    os.chmod(p["key_der"], 0o600)


def _load(outdir, name):
    """Return (cert, key) from disk; raise on anything missing or inconsistent."""
    p = paths(outdir, name)
    with open(p["pem"], "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    with open(p["der"], "rb") as f:
        if x509.load_der_x509_certificate(f.read()) != cert:
            raise ValueError(name + ": PEM and DER differ")
    with open(p["key_pem"], "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    with open(p["key_der"], "rb") as f:
        key_der = serialization.load_der_private_key(f.read(), None)
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    mine = cert.public_key().public_bytes(enc, pub)
    if key.public_key().public_bytes(enc, pub) != mine or key_der.public_key().public_bytes(enc, pub) != mine:
        raise ValueError(name + ": key does not match certificate")
    return cert, key


def _still_valid(outdir):
    """True when the files on disk are a complete, consistent, usable PKI."""
    now = _now()
    loaded = {}
    try:
        for name in ORDER:
            loaded[name] = _load(outdir, name)
    except (OSError, ValueError, TypeError):
        return False
    for name in ORDER:
        cert, _ = loaded[name]
        issuer_name, _, kind = SPEC[name]
        issuer_cert = loaded[issuer_name or name][0]
        try:
            cert.verify_directly_issued_by(issuer_cert)
        except (ValueError, TypeError, InvalidSignature):
            return False
        not_after = cert.not_valid_after_utc
        if kind == "expired":
            if not_after >= now:
                return False
        elif not_after - now < MIN_LEFT or cert.not_valid_before_utc > now:
            return False
    return True


def make_pki(outdir):
    """Create (or keep) the lab PKI in outdir; return {name: paths(outdir, name)}."""
    os.makedirs(outdir, exist_ok=True)
    if not _still_valid(outdir):
        now = _now()
        made = {}
        for name in ORDER:
            key = ec.generate_private_key(ec.SECP256R1())
            issuer_name = SPEC[name][0]
            if issuer_name is None:
                cert = _build(name, key, None, key, now)
            else:
                issuer_cert, issuer_key = made[issuer_name]
                cert = _build(name, key, issuer_cert, issuer_key, now)
            made[name] = (cert, key)
        for name in ORDER:
            _save(outdir, name, made[name][0], made[name][1])
    return dict((name, paths(outdir, name)) for name in ORDER)


def main(argv):
    if len(argv) != 1 or argv[0].startswith("-"):
        sys.stderr.write("usage: python tools/lab/pki.py OUTDIR\n")
        return 2
    result = make_pki(argv[0])
    for name in ORDER:
        print("%-10s %s" % (name, result[name]["pem"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
