"""Throwaway test PKI for the tinysip interop lab.

make_pki(outdir) writes, each as a PEM and a DER file (certificate and private key):

  ca              lab CA (the one the phone trusts for TLS)
  server          good server cert: SAN DNS:localhost, DNS:lab.test, IP:127.0.0.1
  expired         like server, but notAfter lies in the past
  wronghost       same CA, SAN only DNS:wrong.example
  rogue_ca        a second CA the phone does not trust
  untrusted       SAN like server, signed by rogue_ca
  cnonly          issued by ca, NO subjectAltName: the server's names only in the subject
                  (CN=127.0.0.1, CN=localhost, CN=lab.test). RFC 9525 clients refuse it;
                  mbedTLS (MicroPython) and OpenSSL with a DNS name fall back to the CN

RFC 6072 certificate service (issue 5):

  user_ca         the "user certificate CA" of lab.test: RSA-2048, sha256WithRSAEncryption;
                  also the CA the mutual-TLS port wants client certificates from
  alice           user_ca, SAN URI:sip:alice@lab.test (signature RSA PKCS#1 v1.5 / SHA-256)
  alice_new       like alice with another key (a renewed certificate)
  alice_ec        issued by ca (ECDSA-SHA256), SAN URI:sip:alice@lab.test
  alice_expired   user_ca, notAfter in the past
  alice_future    user_ca, notBefore 30 days ahead
  alice_wrongsan  user_ca, SAN URI:sip:bob@lab.test
  alice_rogue     issued by rogue_ca, SAN URI:sip:alice@lab.test
  alice_self      self-signed, SAN URI:sip:alice@lab.test (trusted only via Identity)
  identity        the lab.test domain certificate that signs RFC 8224 Identity headers:
                  issued by ca, SAN DNS:lab.test
  rogue_identity  another key and certificate (issued by rogue_ca, SAN DNS:lab.test)
  phone1_cred     the credential of sip:phone1@lab.test: user_ca, SAN URI:sip:phone1@lab.test,
                  EKU clientAuth; plus phone1_cred.multipart, the RFC 6072 credential body
                  (see CRED_BOUNDARY, multipart_credential)

File names: NAME.pem / NAME.der (certificate), NAME.key.pem / NAME.key.der (PKCS#8,
unencrypted). All keys are EC P-256 except user_ca (RSA-2048); a certificate's signature
follows its issuer's key (ECDSA-SHA256 or sha256WithRSAEncryption).

The call is idempotent: when every file exists, parses, chains to its issuer and is still
within its intended validity window (expired: still expired; future: still at least a week
from valid), nothing is rewritten; otherwise the whole PKI is made anew. The multipart file
is rewritten whenever it does not match phone1_cred's certificate and key.

CLI: python tools/lab/pki.py OUTDIR
"""

import datetime
import ipaddress
import os
import sys

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

GOOD_SAN = ("dns:localhost", "dns:lab.test", "ip:127.0.0.1")
ALICE = "uri:sip:alice@lab.test"

# name -> (issuer name or None for self-signed, SAN tuple, validity kind)
# kinds: "ca" (a CA certificate), "good", "expired" (notAfter in the past), "future"
# (notBefore FUTURE_DAYS ahead)
SPEC = {
    "ca": (None, (), "ca"),
    "rogue_ca": (None, (), "ca"),
    "server": ("ca", GOOD_SAN, "good"),
    "expired": ("ca", GOOD_SAN, "expired"),
    "wronghost": ("ca", ("dns:wrong.example",), "good"),
    "untrusted": ("rogue_ca", GOOD_SAN, "good"),
    "cnonly": ("ca", (), "good"),
    "user_ca": (None, (), "ca"),
    "alice": ("user_ca", (ALICE,), "good"),
    "alice_new": ("user_ca", (ALICE,), "good"),
    "alice_ec": ("ca", (ALICE,), "good"),
    "alice_expired": ("user_ca", (ALICE,), "expired"),
    "alice_future": ("user_ca", (ALICE,), "future"),
    "alice_wrongsan": ("user_ca", ("uri:sip:bob@lab.test",), "good"),
    "alice_rogue": ("rogue_ca", (ALICE,), "good"),
    "alice_self": (None, (ALICE,), "good"),
    "identity": ("ca", ("dns:lab.test",), "good"),
    "rogue_identity": ("rogue_ca", ("dns:lab.test",), "good"),
    "phone1_cred": ("user_ca", ("uri:sip:phone1@lab.test",), "good"),
}
# generation order: issuers first
ORDER = ("ca", "rogue_ca", "server", "expired", "wronghost", "untrusted", "cnonly",
         "user_ca", "alice", "alice_new", "alice_ec", "alice_expired", "alice_future",
         "alice_wrongsan", "alice_rogue", "alice_self", "identity", "rogue_identity",
         "phone1_cred")

# the only RSA key; every other key is EC P-256
RSA_KEYS = ("user_ca",)

_SERVER_AUTH = ExtendedKeyUsageOID.SERVER_AUTH
_CLIENT_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH
# extendedKeyUsage of leaf certificates; None = no extension. Default: serverAuth, clientAuth.
EKU = {
    "alice": (_CLIENT_AUTH,),
    "alice_new": (_CLIENT_AUTH,),
    "alice_ec": (_CLIENT_AUTH,),
    "alice_expired": (_CLIENT_AUTH,),
    "alice_future": (_CLIENT_AUTH,),
    "alice_wrongsan": (_CLIENT_AUTH,),
    "alice_rogue": (_CLIENT_AUTH,),
    "alice_self": (_CLIENT_AUTH,),
    "identity": None,
    "rogue_identity": None,
    "phone1_cred": (_CLIENT_AUTH,),
}

CA_DAYS = 3650
LEAF_DAYS = 825
FUTURE_DAYS = 30
# regenerate when a "good" certificate has less than this left (and a "future" one is
# closer than this to becoming valid)
MIN_LEFT = datetime.timedelta(days=7)

COMMON_NAMES = {
    "ca": "tinysip lab CA",
    "rogue_ca": "tinysip rogue CA (not trusted)",
    "server": "lab.test",
    "expired": "lab.test (expired)",
    "wronghost": "wrong.example",
    "untrusted": "lab.test (untrusted issuer)",
    # one CN attribute per name the phone may use for the lab (a tuple: several CNs)
    "cnonly": ("127.0.0.1", "localhost", "lab.test"),
    "user_ca": "tinysip lab user certificate CA",
    "alice": "alice@lab.test",
    "alice_new": "alice@lab.test (renewed)",
    "alice_ec": "alice@lab.test (EC issuer)",
    "alice_expired": "alice@lab.test (expired)",
    "alice_future": "alice@lab.test (not yet valid)",
    "alice_wrongsan": "alice@lab.test (SAN bob)",
    "alice_rogue": "alice@lab.test (rogue issuer)",
    "alice_self": "alice@lab.test (self-signed)",
    "identity": "lab.test identity signer",
    "rogue_identity": "lab.test identity signer (rogue)",
    "phone1_cred": "phone1@lab.test",
}

# RFC 6072 credential body (RFC 2046 multipart/mixed): certificate, then PKCS#8 key
CRED_BOUNDARY = "tinysip-cred-boundary"
MULTIPART = ("phone1_cred",)


def paths(outdir, name):
    """Return the file paths of one PKI entry (pem, der, key_pem, key_der; and multipart
    for the entries in MULTIPART)."""
    base = os.path.join(outdir, name)
    out = {
        "pem": base + ".pem",
        "der": base + ".der",
        "key_pem": base + ".key.pem",
        "key_der": base + ".key.der",
    }
    if name in MULTIPART:
        out["multipart"] = base + ".multipart"
    return out


def multipart_credential(cert_der, key_der):
    """The multipart/mixed body (boundary CRED_BOUNDARY, CRLF line ends, binary parts, no
    Content-Transfer-Encoding) carrying a DER certificate and a PKCS#8 DER private key."""
    dash = b"--" + CRED_BOUNDARY.encode()
    return b"".join((
        dash, b"\r\nContent-Type: application/pkix-cert\r\n\r\n", cert_der, b"\r\n",
        dash, b"\r\nContent-Type: application/pkcs8\r\n\r\n", key_der, b"\r\n",
        dash, b"--\r\n",
    ))


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _san(entries):
    names = []
    for entry in entries:
        kind, value = entry.split(":", 1)
        if kind == "dns":
            names.append(x509.DNSName(value))
        elif kind == "uri":
            names.append(x509.UniformResourceIdentifier(value))
        elif kind == "ip":
            names.append(x509.IPAddress(ipaddress.ip_address(value)))
        else:
            raise ValueError("SAN kind %r: use dns:, uri: or ip:" % kind)
    return x509.SubjectAlternativeName(names)


def _validity(kind, now):
    if kind == "ca":
        return now - datetime.timedelta(days=1), now + datetime.timedelta(days=CA_DAYS)
    if kind == "expired":
        return now - datetime.timedelta(days=60), now - datetime.timedelta(days=30)
    if kind == "future":
        start = now + datetime.timedelta(days=FUTURE_DAYS)
        return start, start + datetime.timedelta(days=LEAF_DAYS)
    return now - datetime.timedelta(days=1), now + datetime.timedelta(days=LEAF_DAYS)


def _new_key(name):
    if name in RSA_KEYS:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _build(name, key, issuer_cert, issuer_key, now):
    issuer_name, san, kind = SPEC[name]
    cns = COMMON_NAMES[name]
    if not isinstance(cns, tuple):
        cns = (cns,)
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tinysip interop lab")]
                        + [x509.NameAttribute(NameOID.COMMON_NAME, cn) for cn in cns])
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
        eku = EKU.get(name, (_SERVER_AUTH, _CLIENT_AUTH))
        if eku:
            builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), False)
        if san:  # cnonly: no subjectAltName extension at all
            builder = builder.add_extension(_san(san), False)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
        signer = issuer_key
    # an RSA signer gives sha256WithRSAEncryption (PKCS#1 v1.5), an EC one ECDSA-SHA256
    return builder.sign(signer, hashes.SHA256())


def _write(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _key_der(key):
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _save(outdir, name, cert, key):
    p = paths(outdir, name)
    _write(p["pem"], cert.public_bytes(serialization.Encoding.PEM))
    _write(p["der"], cert.public_bytes(serialization.Encoding.DER))
    fmt = serialization.PrivateFormat.PKCS8
    nocrypt = serialization.NoEncryption()
    _write(p["key_pem"], key.private_bytes(serialization.Encoding.PEM, fmt, nocrypt))
    _write(p["key_der"], _key_der(key))
    os.chmod(p["key_pem"], 0o600)
    os.chmod(p["key_der"], 0o600)


def _save_multipart(outdir, name, cert, key):
    """(Re)write NAME.multipart when its content is not the one for cert and key."""
    path = paths(outdir, name)["multipart"]
    want = multipart_credential(cert.public_bytes(serialization.Encoding.DER), _key_der(key))
    try:
        with open(path, "rb") as f:
            if f.read() == want:
                return
    except OSError:
        pass
    _write(path, want)
    os.chmod(path, 0o600)


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
    want_rsa = name in RSA_KEYS
    if isinstance(key, rsa.RSAPrivateKey) != want_rsa:
        raise ValueError(name + ": wrong key type")
    return cert, key


def _still_valid(outdir):
    """The loaded {name: (cert, key)} when the files on disk are a complete, consistent,
    usable PKI, else None."""
    now = _now()
    loaded = {}
    try:
        for name in ORDER:
            loaded[name] = _load(outdir, name)
    except (OSError, ValueError, TypeError):
        return None
    for name in ORDER:
        cert, _ = loaded[name]
        issuer_name, _, kind = SPEC[name]
        issuer_cert = loaded[issuer_name or name][0]
        try:
            cert.verify_directly_issued_by(issuer_cert)
        except (ValueError, TypeError, InvalidSignature):
            return None
        not_after = cert.not_valid_after_utc
        if kind == "expired":
            if not_after >= now:
                return None
        elif kind == "future":
            if cert.not_valid_before_utc - now < MIN_LEFT:
                return None
        elif not_after - now < MIN_LEFT or cert.not_valid_before_utc > now:
            return None
    return loaded


def make_pki(outdir):
    """Create (or keep) the lab PKI in outdir; return {name: paths(outdir, name)}."""
    os.makedirs(outdir, exist_ok=True)
    made = _still_valid(outdir)
    if made is None:
        now = _now()
        made = {}
        for name in ORDER:
            key = _new_key(name)
            issuer_name = SPEC[name][0]
            if issuer_name is None:
                cert = _build(name, key, None, key, now)
            else:
                issuer_cert, issuer_key = made[issuer_name]
                cert = _build(name, key, issuer_cert, issuer_key, now)
            made[name] = (cert, key)
        for name in ORDER:
            _save(outdir, name, made[name][0], made[name][1])
    for name in MULTIPART:
        _save_multipart(outdir, name, made[name][0], made[name][1])
    return dict((name, paths(outdir, name)) for name in ORDER)


def main(argv):
    if len(argv) != 1 or argv[0].startswith("-"):
        sys.stderr.write("usage: python tools/lab/pki.py OUTDIR\n")
        return 2
    result = make_pki(argv[0])
    for name in ORDER:
        print("%-15s %s" % (name, result[name]["pem"]))
    for name in MULTIPART:
        print("%-15s %s" % (name, result[name]["multipart"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
