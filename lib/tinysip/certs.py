"""RFC 6072 certificates the phone learns: the trust checks and the credential body.

Owns: deciding whether a certificate that came in a `certificate` NOTIFY may be used
(`check`) and cutting a `credential` NOTIFY's multipart/mixed body into the certificate and
the PKCS#8 key (`credential`). The per-AoR cache is certservice's (it stays loaded; this
module and the DER and signature code it loads are dropped after each NOTIFY).
Must not: subscribe or answer NOTIFYs (tinysip.subscribe and the UA do), read a clock (the
wall-clock time `now_s`, seconds since 1970, is passed in: on ESP32 it comes from NTP or a
REGISTER 200's Date), parse DER itself (tinysip.x509) or do the arithmetic of signatures
(tinysip.sigverify, tinysip.passport).

The checks run in this order and the first failure is the reason (`CertRejected.args[0]`,
a short token, then a colon and the details):
    from_mismatch   the NOTIFY's From is not the URI we subscribed to (RFC 6072 §6)
    malformed       the body is not a DER certificate we can read
    expired / not_yet_valid   against now_s
    san_mismatch    no subjectAltName URI equals the AoR
    untrusted       neither signed by the configured CA (RSA PKCS#1 v1.5 / SHA-256 or
                    ECDSA P-256 / SHA-256) nor carried with a valid RFC 8224 Identity
                    (ES256 PASSporT) from the configured domain certificate's key
"""
from tinysip import sigverify, x509
from tinysip.errors import ParseError
from tinysip.invite import addr


class CertRejected(Exception):
    """args[0]: "reason_token: details"."""


def same_uri(a, b):
    """Loose RFC 3261 §19.1.4 comparison for AoRs: scheme, user and host, without parameters;
    scheme and host case-insensitively, the user exactly."""
    def parts(u):
        u = u.split(b";")[0].split(b"?")[0]
        scheme, _, rest = u.partition(b":")
        user, at, host = rest.rpartition(b"@")
        return scheme.lower(), user if at else b"", host.lower()

    return parts(a) == parts(b)


def signed_by(cert, issuer):
    """True if `issuer` (an x509.Certificate) signed `cert` with one of the two algorithms."""
    if cert.issuer != issuer.subject:
        return False
    if cert.sig_alg == x509.SHA256_WITH_RSA and issuer.key_type == "rsa":
        return sigverify.rsa_pkcs1_sha256(issuer.rsa_n, issuer.rsa_e, cert.tbs, cert.signature)
    if cert.sig_alg == x509.ECDSA_WITH_SHA256 and issuer.key_type == "ec":
        try:
            r, s = x509.ec_signature(cert.signature)
        except ParseError:
            return False
        return sigverify.ecdsa_p256_sha256(issuer.ec_point, cert.tbs, r, s)
    return False


def check(aor, subscribed, notify_from, der, now_s, ca=None, identity=None, domain=None,
          channel=None):
    """Run the trust checks on a certificate NOTIFY; the parsed x509.Certificate and how it
    was trusted ("ca" or "identity"), or CertRejected.

    aor: the AoR the certificate must name (bytes URI); subscribed: the URI we subscribed to;
    notify_from: the NOTIFY's From header value; der: the body; ca: the parsed
    x509.Certificate of the configured CA (or None); domain: the P-256 public key (the
    uncompressed point, bytes) of the domain certificate that signs Identity headers, or None; identity: the NOTIFY's Identity header value or None; channel: when neither a CA
    nor a domain is configured, the name of the authenticated channel the certificate came
    over (the credential on a verified TLS flow: "tls"), which is then how it is trusted.
    """
    who = addr(notify_from or b"")
    if not same_uri(who, subscribed):
        raise CertRejected("from_mismatch: NOTIFY From %s, subscribed to %s" % (
            who.decode(), subscribed.decode()))
    try:
        cert = x509.parse(der)
    except ParseError as e:
        raise CertRejected("malformed: " + e.reason)
    if now_s > cert.not_after:
        raise CertRejected("expired: not after %d, now %d" % (cert.not_after, now_s))
    if now_s < cert.not_before:
        raise CertRejected("not_yet_valid: not before %d, now %d" % (cert.not_before, now_s))
    ok = False
    for u in cert.san_uris:
        if same_uri(u, aor):
            ok = True
    if not ok:
        raise CertRejected("san_mismatch: %s not in subjectAltName %s" % (
            aor.decode(), b", ".join(cert.san_uris).decode() or "(no URIs)"))
    if ca is None and domain is None and channel:
        return cert, channel
    if ca is not None and signed_by(cert, ca):
        return cert, "ca"
    why = "not signed by the configured CA"
    if identity is not None and domain is not None:
        from tinysip.passport import verify  # only when a NOTIFY carries Identity

        good, info = verify(identity, domain)
        if good:
            return cert, "identity"
        why += ", Identity: " + info
    elif identity is None:
        why += ", no Identity header"
    raise CertRejected("untrusted: " + why)


def _param(value, name):
    for p in value.split(b";")[1:]:
        k, _, v = p.strip().partition(b"=")
        if k.strip().lower() == name:
            v = v.strip()
            return v[1:-1] if v[:1] == b'"' and v[-1:] == b'"' else v
    return None


def credential(content_type, body):
    """(certificate DER, PKCS#8 key DER) from a `credential` NOTIFY (RFC 6072 §7):
    multipart/mixed (RFC 2046 §5.1) with an application/pkix-cert and an application/pkcs8
    part. Bodies are binary: parts are cut at the boundary lines, never decoded. ParseError
    names what is missing."""
    ct = (content_type or b"").split(b";")[0].strip().lower()
    if ct != b"multipart/mixed":
        raise ParseError(415, "credential: Content-Type %s, not multipart/mixed" % ct.decode())
    b = _param(content_type, b"boundary")
    if not b or len(b) > 70:
        raise ParseError(400, "credential: multipart without a usable boundary")
    delim = b"\r\n--" + b
    data = b"\r\n" + body  # so the first delimiter has its CRLF too
    cert = key = None
    i = data.find(delim)
    while i >= 0:
        k = i + len(delim)
        if data[k:k + 2] == b"--":
            break  # the close delimiter
        start = data.find(b"\r\n", k)  # the rest of the boundary line (padding) is skipped
        j = data.find(delim, start) if start >= 0 else -1
        if j < 0:
            raise ParseError(400, "credential: multipart part without a closing boundary")
        part = data[start + 2:j]
        if part[:2] == b"\r\n":  # no part headers: the content follows the empty line
            head, content = b"", part[2:]
        else:
            head, sep, content = part.partition(b"\r\n\r\n")
            if not sep:
                raise ParseError(400, "credential: multipart part without a header end")
        ptype = b""
        for line in head.split(b"\r\n"):
            name, _, v = line.partition(b":")
            if name.strip().lower() == b"content-type":
                ptype = v.split(b";")[0].strip().lower()
        if ptype == b"application/pkix-cert":
            cert = content
        elif ptype == b"application/pkcs8":
            key = content
        i = j
    if cert is None or key is None:
        raise ParseError(400, "credential: needs an application/pkix-cert and an "
                              "application/pkcs8 part")
    return cert, key
