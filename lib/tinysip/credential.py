"""RFC 6072 §7 credential bodies: a multipart/mixed (RFC 2046 §5.1) NOTIFY body cut into its
certificate and its PKCS#8 private key.

Owns: finding the boundary and the two parts, binary-safe (parts are cut at the delimiter
lines, never decoded). Must not: check the certificate (tinysip.certs does) or read the key
(tinysip.x509.pkcs8_public does). A module of its own, loaded for a credential NOTIFY only:
a certificate check does not carry its code and byte constants (0.45 KB of heap on the
64-bit unix port, issue 16).
"""
from tinysip.compat import const
from tinysip.errors import ParseError, nth

# the faults' texts, one string (errors.nth): each str constant of a module run in place
# from ROMFS is a heap object of its own
_T = ("credential: Content-Type %s, not multipart/mixed\n"
      "credential: multipart without a usable boundary\n"
      "credential: multipart part without a closing boundary\n"
      "credential: multipart part without a header end\n"
      "credential: needs an application/pkix-cert and an application/pkcs8 part")
_T_TYPE = const(0)
_T_BOUNDARY = const(1)
_T_CLOSE = const(2)
_T_HEAD = const(3)
_T_PARTS = const(4)


def credential(value, body):
    """(certificate DER, PKCS#8 key DER) from a `credential` NOTIFY (RFC 6072 §7):
    multipart/mixed (RFC 2046 §5.1) with an application/pkix-cert and an application/pkcs8
    part; `value` is the NOTIFY's Content-Type. Bodies are binary: parts are cut at the
    boundary lines, never decoded. ParseError names what is missing."""
    ct = (value or b"").split(b";")[0].strip().lower()
    if ct != b"multipart/mixed":
        raise ParseError(415, nth(_T, _T_TYPE) % ct.decode())
    b = None  # the boundary parameter, unquoted
    for p in value.split(b";")[1:]:
        k, _, v = p.strip().partition(b"=")
        if k.strip().lower() == b"boundary":
            v = v.strip()
            b = v[1:-1] if v[:1] == b'"' and v[-1:] == b'"' else v
            break
    if not b or len(b) > 70:
        raise ParseError(400, nth(_T, _T_BOUNDARY))
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
            raise ParseError(400, nth(_T, _T_CLOSE))
        part = data[start + 2:j]
        if part[:2] == b"\r\n":  # no part headers: the content follows the empty line
            head, content = b"", part[2:]
        else:
            head, sep, content = part.partition(b"\r\n\r\n")
            if not sep:
                raise ParseError(400, nth(_T, _T_HEAD))
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
        raise ParseError(400, nth(_T, _T_PARTS))
    return cert, key
