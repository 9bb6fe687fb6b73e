"""A lean X.509 certificate reader (RFC 5280 section 4.1) over DER (ITU-T X.690).

Owns: turning one DER certificate into a `Certificate` of plain attributes (names, validity as
epoch seconds, subjectAltName URIs/DNS names/IPs, basicConstraints, keyUsage, extKeyUsage, the
RSA or P-256 public key, the signature and the exact tbsCertificate bytes it covers), and
decoding an ECDSA-Sig-Value. Used for RFC 6072 certificate bodies and TLS peer certificates.

Must not: verify signatures, build or check chains, read the clock or decide validity (the
caller compares `not_before`/`not_after` with its own time: epoch 1970; on ESP32 `time.time()`
counts from 2000), decode attribute values to text (they stay bytes; `name_text` is for display).

Bounds: input over 8192 bytes, nesting over 16 levels, lengths in more than 4 bytes, indefinite
lengths and multi-byte tags are refused. The walk keeps offsets into one memoryview; values are
sliced out once. DER is read strictly (minimal lengths and INTEGERs, DER times), and every
malformed input raises ParseError(400, "x509: ... at offset N"), never IndexError/ValueError.
Critical extensions other than subjectAltName, basicConstraints, keyUsage and extKeyUsage are
refused (RFC 5280 4.2); unknown non-critical ones are skipped. Public keys: RSA, and EC on P-256
only; anything else is refused.
"""
from tinysip.compat import const, sha256_hex
from tinysip.errors import ParseError
from tinysip.sipdate import days_from_civil

MAX_DER = const(8192)
_MAX_DEPTH = const(16)

# universal tags (X.690 8.x); context tags are written inline as 0x8n / 0xAn
_BOOLEAN = const(0x01)
_INTEGER = const(0x02)
_BIT_STRING = const(0x03)
_OCTET_STRING = const(0x04)
_OID = const(0x06)
_UTC_TIME = const(0x17)
_GEN_TIME = const(0x18)
_SEQUENCE = const(0x30)
_SET = const(0x31)

RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
EC_PUBLIC_KEY = "1.2.840.10045.2.1"
P256 = "1.2.840.10045.3.1.7"
SHA256_WITH_RSA = "1.2.840.113549.1.1.11"
ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2"
SERVER_AUTH = "1.3.6.1.5.5.7.3.1"
CLIENT_AUTH = "1.3.6.1.5.5.7.3.2"

# keyUsage bits (RFC 5280 4.2.1.3): named bit n is 1 << n in Certificate.key_usage
KU_DIGITAL_SIGNATURE = const(1)
KU_KEY_ENCIPHERMENT = const(4)
KU_KEY_AGREEMENT = const(16)
KU_KEY_CERT_SIGN = const(32)
KU_CRL_SIGN = const(64)

# RFC 4514 short names for name_text; other attribute types print as their dotted OID
_LABELS = (
    ("2.5.4.3", "CN"), ("2.5.4.7", "L"), ("2.5.4.8", "ST"), ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"), ("2.5.4.6", "C"), ("2.5.4.9", "STREET"),
    ("0.9.2342.19200300.100.1.25", "DC"), ("0.9.2342.19200300.100.1.1", "UID"),
)
# days per month, February of a common year
_MDAYS = b"\x1f\x1c\x1f\x1e\x1f\x1e\x1f\x1f\x1e\x1f\x1e\x1f"


class Certificate:
    """One parsed certificate; see the module docstring for what each attribute holds.

    Names are lists of (dotted OID str, value bytes) in DER order (multi-valued RDNs are
    flattened). `signature` is the BIT STRING payload without its unused-bits octet: the
    RSA signature, or a DER ECDSA-Sig-Value for `ec_signature`. `fingerprint` is the lowercase
    hex SHA-256 of the whole DER, as bytes. Key fields of the other key type are None.
    """

    def __init__(self, der):
        self.der = der
        self.tbs = b""
        self.version = 1
        self.serial = 0
        self.sig_alg = ""
        self.issuer = []
        self.subject = []
        self.not_before = 0
        self.not_after = 0
        self.key_type = ""
        self.rsa_n = None
        self.rsa_e = None
        self.ec_curve = None
        self.ec_point = None
        self.ca = False
        self.path_len = None
        self.key_usage = None  # int of KU_* bits, None without the extension
        self.ext_key_usage = None  # list of purpose OIDs, None without the extension
        self.san_uris = []
        self.san_dns = []
        self.san_ips = []
        self.signature = b""
        self.fingerprint = b""


def _fail(what, pos):
    raise ParseError(400, "x509: %s at offset %d" % (what, pos))


def _tlv(d, pos, end):
    """(tag, content start, element end) of the element at pos, which must end by end."""
    if end - pos < 2:
        _fail("element header runs past the end", pos)
    tag = d[pos]
    if tag & 0x1F == 0x1F:
        _fail("multi-byte tag", pos)
    n = d[pos + 1]
    a = pos + 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0:
            _fail("indefinite length", pos)
        if k > 4:
            _fail("length in more than 4 bytes", pos)
        if end - a < k:
            _fail("length runs past the end", pos)
        if d[a] == 0:
            _fail("length not minimally encoded", pos)
        n = 0
        for i in range(a, a + k):
            n = n << 8 | d[i]
        a += k
        if n < 0x80:
            _fail("length not minimally encoded", pos)
    if n > end - a:
        _fail("length runs past the end", pos)
    return tag, a, a + n


def _walk(d, pos, end, depth):
    """Check that every constructed element in [pos, end) holds whole elements, nesting <= 16."""
    while pos < end:
        tag, a, pos = _tlv(d, pos, end)
        if tag & 0x20:
            if depth >= _MAX_DEPTH:
                _fail("nesting over %d levels" % _MAX_DEPTH, a)
            _walk(d, a, pos, depth + 1)


def _expect(d, pos, end, tag, what):
    """(content start, element end) of the element at pos, which must have this tag."""
    t, a, b = _tlv(d, pos, end)
    if t != tag:
        _fail("expected %s but found tag 0x%02x" % (what, t), pos)
    return a, b


def _done(pos, end, what):
    if pos != end:
        _fail("extra bytes in " + what, pos)


def _int(d, a, b):
    """The signed INTEGER whose content is d[a:b]."""
    if a == b:
        _fail("empty INTEGER", a)
    if b - a > 1 and (d[a] == 0 and d[a + 1] < 0x80 or d[a] == 0xFF and d[a + 1] >= 0x80):
        _fail("INTEGER not minimally encoded", a)
    v = int.from_bytes(d[a:b], "big")
    if d[a] & 0x80:
        v -= 1 << 8 * (b - a)
    return v


def _uint(d, pos, end, what):
    """(value, element end) of a non-negative INTEGER at pos."""
    a, b = _expect(d, pos, end, _INTEGER, what)
    v = _int(d, a, b)
    if v < 0:
        _fail("negative " + what, a)
    return v, b


def _bool(d, a, b):
    if b - a != 1 or d[a] not in (0, 0xFF):
        _fail("BOOLEAN not 00 or FF", a)
    return d[a] == 0xFF


def _oid(d, a, b):
    """Dotted text of the OBJECT IDENTIFIER whose content is d[a:b]."""
    if a == b or d[b - 1] & 0x80:
        _fail("malformed OBJECT IDENTIFIER", a)
    parts = []
    v = 0
    for i in range(a, b):
        c = d[i]
        if v == 0 and c == 0x80:
            _fail("OBJECT IDENTIFIER not minimally encoded", i)
        v = v << 7 | c & 0x7F
        if not c & 0x80:
            if not parts:  # the first subidentifier packs two arcs (X.690 8.19.4)
                x = 0 if v < 40 else (1 if v < 80 else 2)
                parts.append(str(x))
                v -= 40 * x
            parts.append(str(v))
            v = 0
    return ".".join(parts)


def _bits(d, pos, end, what):
    """(payload start, element end) of a BIT STRING at pos with no unused bits."""
    a, b = _expect(d, pos, end, _BIT_STRING, what)
    if a == b or d[a] != 0:
        _fail(what + " has unused bits", a)
    return a + 1, b


def _digits(d, i, k):
    v = 0
    for j in range(i, i + k):
        c = d[j] - 0x30
        if not 0 <= c <= 9:
            _fail("time has a non-digit", j)
        v = v * 10 + c
    return v


def _time(d, pos, end):
    """(epoch seconds, element end) of a DER UTCTime or GeneralizedTime at pos."""
    tag, a, b = _tlv(d, pos, end)
    if tag == _UTC_TIME:
        n = 13
    elif tag == _GEN_TIME:
        n = 15
    else:
        _fail("expected UTCTime or GeneralizedTime", pos)
    if b - a != n or d[b - 1] != 0x5A:  # "Z"
        _fail("time not in DER form (seconds, then Z)", a)
    if n == 13:
        y = _digits(d, a, 2)
        y += 1900 if y >= 50 else 2000  # RFC 5280 4.1.2.5.1
    else:
        y = _digits(d, a, 4)
    i = b - 11
    mo = _digits(d, i, 2)
    day = _digits(d, i + 2, 2)
    h = _digits(d, i + 4, 2)
    mi = _digits(d, i + 6, 2)
    s = _digits(d, i + 8, 2)
    if not 1 <= mo <= 12 or h > 23 or mi > 59 or s > 59:
        _fail("time out of range", a)
    last = _MDAYS[mo - 1]
    if mo == 2 and y % 4 == 0 and (y % 100 != 0 or y % 400 == 0):
        last = 29
    if not 1 <= day <= last:
        _fail("time out of range", a)
    return ((days_from_civil(y, mo, day) * 24 + h) * 60 + mi) * 60 + s, b


def _name(d, pos, end):
    """(list of (oid, value bytes), element end) of the Name at pos."""
    a, b = _expect(d, pos, end, _SEQUENCE, "Name")
    out = []
    while a < b:
        ra, rb = _expect(d, a, b, _SET, "RelativeDistinguishedName")
        if ra == rb:
            _fail("empty RelativeDistinguishedName", a)
        while ra < rb:
            ta, tb = _expect(d, ra, rb, _SEQUENCE, "AttributeTypeAndValue")
            oa, ob = _expect(d, ta, tb, _OID, "attribute type")
            _, va, vb = _tlv(d, ob, tb)
            _done(vb, tb, "AttributeTypeAndValue")
            out.append((_oid(d, oa, ob), bytes(d[va:vb])))
            ra = tb
        a = rb
    return out, b


def _alg(d, pos, end):
    """(algorithm OID, parameters start, element end) of the AlgorithmIdentifier at pos."""
    a, b = _expect(d, pos, end, _SEQUENCE, "AlgorithmIdentifier")
    oa, ob = _expect(d, a, b, _OID, "algorithm")
    if ob < b:
        _, _, pe = _tlv(d, ob, b)
        _done(pe, b, "AlgorithmIdentifier")
    return _oid(d, oa, ob), ob, b


def _spki(c, d, pos, end):
    a, b = _expect(d, pos, end, _SEQUENCE, "SubjectPublicKeyInfo")
    alg, pa, pb = _alg(d, a, b)
    ka, kb = _bits(d, pb, b, "subjectPublicKey")
    _done(kb, b, "SubjectPublicKeyInfo")
    if alg == RSA_ENCRYPTION:
        ra, rb = _expect(d, ka, kb, _SEQUENCE, "RSAPublicKey")
        _done(rb, kb, "subjectPublicKey")
        c.rsa_n, na = _uint(d, ra, rb, "RSA modulus")
        c.rsa_e, ea = _uint(d, na, rb, "RSA exponent")
        _done(ea, rb, "RSAPublicKey")
        if not c.rsa_n or not c.rsa_e:
            _fail("zero RSA modulus or exponent", ra)
        c.key_type = "rsa"
    elif alg == EC_PUBLIC_KEY:
        ca, cb = _expect(d, pa, pb, _OID, "namedCurve")
        curve = _oid(d, ca, cb)
        if curve != P256:
            raise ParseError(400, "x509: unsupported EC curve " + curve)
        if kb - ka != 65 or d[ka] != 4:
            _fail("EC point not uncompressed 65 bytes", ka)
        c.ec_curve = curve
        c.ec_point = bytes(d[ka:kb])
        c.key_type = "ec"
    else:
        raise ParseError(400, "x509: unsupported public key algorithm " + alg)
    return b


def _san(c, d, a, b):
    a, b = _expect(d, a, b, _SEQUENCE, "GeneralNames")
    while a < b:
        tag, va, vb = _tlv(d, a, b)
        if tag == 0x86:  # [6] uniformResourceIdentifier
            c.san_uris.append(bytes(d[va:vb]))
        elif tag == 0x82:  # [2] dNSName
            c.san_dns.append(bytes(d[va:vb]))
        elif tag == 0x87:  # [7] iPAddress
            if vb - va not in (4, 16):
                _fail("iPAddress not 4 or 16 bytes", va)
            c.san_ips.append(bytes(d[va:vb]))
        a = vb
    return b


def _basic_constraints(c, d, a, b):
    a, b = _expect(d, a, b, _SEQUENCE, "BasicConstraints")
    if a < b and d[a] == _BOOLEAN:
        _, va, a = _tlv(d, a, b)
        c.ca = _bool(d, va, a)
    if a < b:
        c.path_len, a = _uint(d, a, b, "pathLenConstraint")
    _done(a, b, "BasicConstraints")
    return b


def _key_usage(c, d, a, b):
    ka, b = _expect(d, a, b, _BIT_STRING, "KeyUsage")
    if ka == b or d[ka] > 7:
        _fail("malformed KeyUsage", ka)
    v = 0
    for i in range(ka + 1, min(b, ka + 3)):  # named bits 0..8 fit in two bytes
        x = d[i]
        for k in range(8):
            if x & (0x80 >> k):
                v |= 1 << (8 * (i - ka - 1) + k)
    c.key_usage = v
    return b


def _ext_key_usage(c, d, a, b):
    a, b = _expect(d, a, b, _SEQUENCE, "ExtKeyUsageSyntax")
    c.ext_key_usage = out = []
    while a < b:
        oa, a = _expect(d, a, b, _OID, "KeyPurposeId")
        out.append(_oid(d, oa, a))
    return b


# extensions understood (RFC 5280 4.2.1.x): extnID -> reader(cert, d, start, end) -> end
_EXTENSIONS = (
    ("2.5.29.17", _san),
    ("2.5.29.19", _basic_constraints),
    ("2.5.29.15", _key_usage),
    ("2.5.29.37", _ext_key_usage),
)


def _extensions(c, d, pos, end):
    a, b = _expect(d, pos, end, _SEQUENCE, "Extensions")
    seen = []
    while a < b:
        ea, eb = _expect(d, a, b, _SEQUENCE, "Extension")
        oa, ob = _expect(d, ea, eb, _OID, "extnID")
        oid = _oid(d, oa, ob)
        if oid in seen:
            raise ParseError(400, "x509: extension %s appears twice" % oid)
        seen.append(oid)
        tag, va, vb = _tlv(d, ob, eb)
        critical = False
        if tag == _BOOLEAN:
            critical = _bool(d, va, vb)
            tag, va, vb = _tlv(d, vb, eb)
        if tag != _OCTET_STRING:
            _fail("expected extnValue OCTET STRING", ob)
        _done(vb, eb, "Extension")
        for known, reader in _EXTENSIONS:
            if oid == known:
                _done(reader(c, d, va, vb), vb, "extension " + oid)
                break
        else:
            if critical:
                raise ParseError(400, "x509: unsupported critical extension " + oid)
        a = eb
    return b


def parse(der):
    """The Certificate in `der` (bytes-like, one DER X.509 certificate and nothing after it).

    Raises ParseError(400, ...) on anything malformed, over the bounds or unsupported.
    """
    n = len(der)
    if n > MAX_DER:
        raise ParseError(400, "x509: certificate of %d bytes is over %d" % (n, MAX_DER))
    if not isinstance(der, bytes):
        der = bytes(der)  # TypeError for non-buffers: a caller bug, not the peer's
    d = memoryview(der)
    tag, a, b = _tlv(d, 0, n)
    if tag != _SEQUENCE:
        _fail("expected Certificate SEQUENCE", 0)
    if b != n:
        _fail("input after the Certificate", b)
    _walk(d, a, b, 1)
    c = Certificate(der)

    ta, tb = _expect(d, a, b, _SEQUENCE, "tbsCertificate")
    c.tbs = bytes(d[a:tb])
    sig_alg, _, sb = _alg(d, tb, b)
    c.sig_alg = sig_alg
    sa, c_end = _bits(d, sb, b, "signatureValue")
    _done(c_end, b, "Certificate")
    c.signature = bytes(d[sa:c_end])

    tag, va, vb = _tlv(d, ta, tb)
    pos = ta
    if tag == 0xA0:  # [0] EXPLICIT version DEFAULT v1
        v, pos = _uint(d, va, vb, "version")
        _done(pos, vb, "version")
        if v > 2:
            _fail("unknown version %d" % v, va)
        c.version = v + 1
        pos = vb
    sa, pos = _expect(d, pos, tb, _INTEGER, "serialNumber")
    c.serial = _int(d, sa, pos)  # RFC 5280 4.1.2.2: positive, but take negative ones too
    inner, _, pe = _alg(d, pos, tb)
    if inner != sig_alg or bytes(d[pos:pe]) != bytes(d[tb:sb]):
        _fail("tbsCertificate signature differs from signatureAlgorithm", pos)
    c.issuer, pos = _name(d, pe, tb)
    va, vb = _expect(d, pos, tb, _SEQUENCE, "Validity")
    c.not_before, va = _time(d, va, vb)
    c.not_after, va = _time(d, va, vb)
    _done(va, vb, "Validity")
    c.subject, pos = _name(d, vb, tb)
    pos = _spki(c, d, pos, tb)
    last = 0
    while pos < tb:  # [1] issuerUniqueID, [2] subjectUniqueID (v2+), [3] extensions (v3)
        tag, va, vb = _tlv(d, pos, tb)
        if tag not in (0x81, 0x82, 0xA3) or tag & 0x1F <= last or c.version == 1:
            _fail("unexpected element in tbsCertificate", pos)
        last = tag & 0x1F
        if tag == 0xA3:
            if c.version != 3:
                _fail("extensions in a version %d certificate" % c.version, pos)
            _done(_extensions(c, d, va, vb), vb, "extensions")
        pos = vb
    c.fingerprint = sha256_hex(der)
    return c


def ec_signature(der_sig):
    """(r, s) ints of a DER ECDSA-Sig-Value (RFC 3279 2.2.3); ParseError(400) if malformed."""
    n = len(der_sig)
    if n > MAX_DER:
        raise ParseError(400, "x509: ECDSA signature of %d bytes is over %d" % (n, MAX_DER))
    d = memoryview(der_sig)  # any bytes-like; nothing is kept
    a, b = _expect(d, 0, n, _SEQUENCE, "ECDSA-Sig-Value")
    if b != n:
        _fail("input after the ECDSA-Sig-Value", b)
    r, a = _uint(d, a, b, "ECDSA r")
    s, a = _uint(d, a, b, "ECDSA s")
    _done(a, b, "ECDSA-Sig-Value")
    if not r or not s:
        _fail("zero ECDSA r or s", 0)
    return r, s


def _escape(v):
    """Display text of one attribute value: RFC 4514 escapes, bytes that are not UTF-8 as \\xx."""
    try:
        t = v.decode()
    except UnicodeError:
        return "".join([chr(x) if 0x20 <= x < 0x7F and x != 0x5C else "\\%02x" % x for x in v])
    out = []
    last = len(t) - 1
    for i, ch in enumerate(t):
        if ch in ',+"\\<>;' or ch == "#" and i == 0 or ch == " " and (i == 0 or i == last):
            out.append("\\" + ch)
        elif ch < " " or ch == "\x7f":
            out.append("\\%02x" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


def name_text(name):
    """"CN=..,O=.." for display: RFC 4514 order (last attribute first) and escapes."""
    parts = []
    for oid, value in name:
        label = oid
        for o, short in _LABELS:
            if o == oid:
                label = short
                break
        parts.append(label + "=" + _escape(value))
    parts.reverse()
    return ",".join(parts)


def pkcs8_public(der):
    """The public half of a PKCS#8 PrivateKeyInfo (RFC 5208 §5) for comparing with a
    certificate: ("rsa", modulus) or ("ec", uncompressed point, or None when the ECPrivateKey
    (RFC 5915 §3) leaves out its optional publicKey). The private values are not kept.
    ParseError(400, "x509: ...") when malformed or not an RSA / P-256 key."""
    n = len(der)
    if n > MAX_DER:
        raise ParseError(400, "x509: private key of %d bytes is over %d" % (n, MAX_DER))
    d = memoryview(der)
    a, b = _expect(d, 0, n, _SEQUENCE, "PrivateKeyInfo")
    if b != n:
        _fail("input after the PrivateKeyInfo", b)
    _walk(d, a, b, 1)
    _, pos = _uint(d, a, b, "PrivateKeyInfo version")
    alg, pa, pos = _alg(d, pos, b)
    ka, kb = _expect(d, pos, b, _OCTET_STRING, "privateKey")
    if alg == RSA_ENCRYPTION:
        ra, rb = _expect(d, ka, kb, _SEQUENCE, "RSAPrivateKey")
        _, ra = _uint(d, ra, rb, "RSAPrivateKey version")
        return "rsa", _uint(d, ra, rb, "RSA modulus")[0]
    if alg != EC_PUBLIC_KEY:
        raise ParseError(400, "x509: unsupported private key algorithm " + alg)
    ca, cb = _expect(d, pa, pos, _OID, "namedCurve")
    if _oid(d, ca, cb) != P256:
        raise ParseError(400, "x509: unsupported EC curve " + _oid(d, ca, cb))
    ea, eb = _expect(d, ka, kb, _SEQUENCE, "ECPrivateKey")
    _, ea = _uint(d, ea, eb, "ECPrivateKey version")
    _, ea = _expect(d, ea, eb, _OCTET_STRING, "EC private key")
    while ea < eb:
        tag, va, vb = _tlv(d, ea, eb)
        if tag == 0xA1:  # [1] publicKey
            pa, pb = _bits(d, va, vb, "EC publicKey")
            return "ec", bytes(d[pa:pb])
        ea = vb
    return "ec", None
