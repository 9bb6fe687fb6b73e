"""A lean X.509 certificate reader (RFC 5280 section 4.1) over DER (ITU-T X.690).

Owns: turning one DER certificate into a `Certificate` of plain values (issuer and
subject as their DER Name, validity as epoch seconds, subjectAltName URIs, basicConstraints,
keyUsage, extKeyUsage, the RSA or P-256 public key, the signature and the exact
tbsCertificate bytes it covers), and decoding an ECDSA-Sig-Value. Used for RFC 6072
certificate bodies.

Must not: verify signatures, build or check chains, read the clock or decide validity (the
caller compares notBefore/notAfter, _C_NOT_BEFORE/_C_NOT_AFTER, with its own time: epoch
1970; on ESP32 `time.time()` counts from 2000), decode names or attribute values to text
(issuer and subject stay DER; they are compared as bytes).

Bounds: input over 8192 bytes, nesting over 16 levels, lengths in more than 4 bytes, indefinite
lengths and multi-byte tags are refused. DER is read strictly (minimal lengths and INTEGERs,
DER times, well-formed OBJECT IDENTIFIERs, dNSName/iPAddress/URI entries of subjectAltName),
and every malformed input raises ParseError(400, "x509: ... at offset N"), never
IndexError/ValueError. Critical extensions other than subjectAltName, basicConstraints,
keyUsage and extKeyUsage are refused (RFC 5280 4.2); unknown non-critical ones are skipped;
no extension may appear twice. Public keys: RSA, and EC on P-256 only; anything else is
refused.

Memory (the phone checks a certificate in a 56 KB heap): the walk allocates nothing per
element. An element is read as one small int, content start << 14 | element end (offsets
fit 14 bits under the 8192-byte bound), not a tuple; OBJECT IDENTIFIERs are compared as DER
bytes in place and only turned into dotted text for an error message; what is kept are
memoryview slices of the one `der` bytes. Names cost too (MicroPython interns every global,
argument, attribute and short string a module uses, for good; the phone has 620 before the
next ~7.5 KB pool): the error texts are one string, `_T`, indexed by private constants,
which cost nothing; a Certificate is a tuple read by private index constants, not an object
of named attributes; steps used once (the Names, the Validity times) are written where they
run; private helpers reuse names the phone has interned elsewhere (`_tag`, `_scan`,
`_value`, `_uint`); OIDs are bytes literals where they are used; int.from_bytes takes its
default byte order, big-endian (CPython 3.11, MicroPython 1.24+), so "big" is not a name.
"""
from tinysip.compat import const, sha256_hex
from tinysip.errors import ParseError, nth

_MAX_DER = const(8192)
_MAX_DEPTH = const(16)
_S = const(14)  # an element as one int: content start << _S | element end
_M = const(0x3FFF)

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

# Error texts, one string split only when raising: ":"-separated, indexed by the _E_ and
# _W_ constants below (keep both lists in the same order; test_x509 checks the count).
# _W_ entries name what was being read, for "expected %s", "extra bytes in %s" and the like.
_T = (
    "expected %s but found tag 0x%02x:%s of %d bytes is over 8192:"
    "element header runs past the end:multi-byte tag:indefinite length:"
    "length in more than 4 bytes:length runs past the end:length not minimally encoded:"
    "nesting over 16 levels:extra bytes in %s:empty INTEGER:INTEGER not minimally encoded:"
    "negative %s:BOOLEAN not 00 or FF:malformed OBJECT IDENTIFIER:"
    "OBJECT IDENTIFIER not minimally encoded:%s has unused bits:time has a non-digit:"
    "expected UTCTime or GeneralizedTime:time not in DER form (seconds, then Z):"
    "time out of range:empty RelativeDistinguishedName:unsupported EC curve %s:"
    "EC point not uncompressed 65 bytes:zero RSA modulus or exponent:"
    "unsupported public key algorithm %s:iPAddress not 4 or 16 bytes:malformed KeyUsage:"
    "extension %s appears twice:unsupported critical extension %s:input after the %s:"
    "unknown version %s:tbsCertificate signature differs from signatureAlgorithm:"
    "unexpected element in tbsCertificate:extensions in a version %s certificate:"
    "zero ECDSA r or s:unsupported private key algorithm %s:"
    # _W_: what is read
    "Certificate SEQUENCE:tbsCertificate:signatureValue:Certificate:version:serialNumber:"
    "AlgorithmIdentifier:algorithm:Name:RelativeDistinguishedName:AttributeTypeAndValue:"
    "attribute type:Validity:SubjectPublicKeyInfo:subjectPublicKey:RSAPublicKey:"
    "RSA modulus:RSA exponent:namedCurve:Extensions:Extension:extnID:"
    "extnValue OCTET STRING:GeneralNames:BasicConstraints:pathLenConstraint:KeyUsage:"
    "ExtKeyUsageSyntax:KeyPurposeId:ECDSA-Sig-Value:ECDSA r:ECDSA s:PrivateKeyInfo:"
    "PrivateKeyInfo version:privateKey:RSAPrivateKey:RSAPrivateKey version:ECPrivateKey:"
    "ECPrivateKey version:EC private key:EC publicKey:certificate:ECDSA signature:"
    "private key:extension:extensions:element"
)
_E_TAG = const(0)  # the two with two values: (what, tag) and (what, size)
_E_SIZE = const(1)
_E_HEAD = const(2)
_E_MULTI = const(3)
_E_INDEF = const(4)
_E_LEN4 = const(5)
_E_PAST = const(6)
_E_MINLEN = const(7)
_E_DEEP = const(8)
_E_EXTRA = const(9)
_E_INT0 = const(10)
_E_MININT = const(11)
_E_NEG = const(12)
_E_BOOL = const(13)
_E_OID = const(14)
_E_MINOID = const(15)
_E_UNUSED = const(16)
_E_DIGIT = const(17)
_E_TIME = const(18)
_E_TIMEDER = const(19)
_E_TIMERANGE = const(20)
_E_RDN0 = const(21)
_E_CURVE = const(22)
_E_POINT = const(23)
_E_RSA0 = const(24)
_E_KEYALG = const(25)
_E_IP = const(26)
_E_KU = const(27)
_E_TWICE = const(28)
_E_CRIT = const(29)
_E_AFTER = const(30)
_E_VERSION = const(31)
_E_SIGALG = const(32)
_E_UNEXPECTED = const(33)
_E_V3 = const(34)
_E_RS0 = const(35)
_E_PKALG = const(36)
_W_CERT_SEQ = const(37)
_W_TBS = const(38)
_W_SIGVAL = const(39)
_W_CERT = const(40)
_W_VERSION = const(41)
_W_SERIAL = const(42)
_W_ALGID = const(43)
_W_ALG = const(44)
_W_NAME = const(45)
_W_RDN = const(46)
_W_ATV = const(47)
_W_ATTR = const(48)
_W_VALIDITY = const(49)
_W_SPKI = const(50)
_W_SPK = const(51)
_W_RSAPUB = const(52)
_W_RSA_N = const(53)
_W_RSA_E = const(54)
_W_CURVE = const(55)
_W_EXTS = const(56)
_W_EXT = const(57)
_W_EXTNID = const(58)
_W_EXTNVALUE = const(59)
_W_SAN = const(60)
_W_BC = const(61)
_W_PATHLEN = const(62)
_W_KU = const(63)
_W_EKU = const(64)
_W_PURPOSE = const(65)
_W_ECSIG = const(66)
_W_R = const(67)
_W_S = const(68)
_W_PKI = const(69)
_W_PKI_V = const(70)
_W_PRIVKEY = const(71)
_W_RSAPRIV = const(72)
_W_RSAPRIV_V = const(73)
_W_ECPRIV = const(74)
_W_ECPRIV_V = const(75)
_W_ECPRIVKEY = const(76)
_W_ECPUB = const(77)
_W_CERT_SIZE = const(78)
_W_ECSIG_SIZE = const(79)
_W_KEY_SIZE = const(80)
_W_EXTENSION = const(81)
_W_EXTENSIONS = const(82)
_W_ANY = const(83)  # the last: _T has 84 entries


# What a Certificate holds, by index (a record read by index: each attribute name would be
# interned on the phone for good). certs.py and certservice.py keep copies of the ones they
# read, and host_tests/testutil.py of all of them (test_consts.py checks the copies).
_C_DER = const(0)
_C_FINGERPRINT = const(1)
_C_TBS = const(2)
_C_ISSUER = const(3)
_C_SUBJECT = const(4)
_C_SIGNATURE = const(5)
_C_SIG_ALG = const(6)
_C_VERSION = const(7)
_C_NOT_BEFORE = const(8)
_C_NOT_AFTER = const(9)
_C_KEY_TYPE = const(10)
_C_RSA = const(11)
_C_EC_POINT = const(12)
_C_SAN_URIS = const(13)
_C_CA = const(14)
_C_PATH_LEN = const(15)
_C_KEY_USAGE = const(16)
_C_EXT_KEY_USAGE = const(17)


# A Certificate, what parse() returns, is a tuple read by the _C_ indexes above:
#
# _C_DER: the certificate (bytes); _C_FINGERPRINT: lowercase hex SHA-256 of it, as bytes;
# _C_TBS: the tbsCertificate element the signature covers; _C_ISSUER, _C_SUBJECT: their Name
# elements (compared as bytes: the issuer of a certificate is its CA's subject, byte for
# byte, as RFC 5280 7.1 allows and every CA here writes it); _C_SIGNATURE: the BIT STRING
# payload without its unused-bits octet (the RSA signature, or a DER ECDSA-Sig-Value for
# `ec_signature`); tbs, issuer, subject and signature are memoryview slices of der.
# _C_SIG_ALG: the signature algorithm, named by the key type that signs with it: "rsa" for
# sha256WithRSAEncryption, "ec" for ecdsa-with-SHA256 (the two the phone verifies), None
# for any other; _C_VERSION 1..3; _C_NOT_BEFORE, _C_NOT_AFTER: seconds since 1970;
# _C_KEY_TYPE "rsa" (_C_RSA: (modulus, exponent)) or "ec" (_C_EC_POINT: the uncompressed
# 65-byte P-256 point, bytes), the other key None; _C_SAN_URIS: the
# uniformResourceIdentifier entries of subjectAltName (bytes); _C_CA (False without the
# extension), _C_PATH_LEN: basicConstraints; _C_KEY_USAGE: int with named bit n (RFC 5280
# 4.2.1.3) as 1 << n (digitalSignature 1, keyEncipherment 4, keyCertSign 32, cRLSign 64),
# None without the extension; _C_EXT_KEY_USAGE: list of KeyPurposeId OIDs as DER content
# bytes (b"+\x06\x01\x05\x05\x07\x03\x01" is serverAuth), None without the extension.
# (firmware/app.py keeps a copy of _C_KEY_TYPE for its boot check.)


def _fail(k, pos, x=None, n=0):
    """Raise ParseError(400) with message k of _T; x: a _W_ index, text, or an OBJECT
    IDENTIFIER's DER content (bytes, checked by _tag) shown as dotted text, for its %s;
    n: the second value of _E_TAG/_E_SIZE; pos < 0: no offset (the fault is not a place).
    _T is not split: its entries are found in place (a malformed certificate is also one
    that arrives when the heap is tight)."""
    if isinstance(x, bytes):
        parts = []
        v = 0
        for c in x:
            v = v << 7 | c & 0x7F
            if not c & 0x80:
                if not parts:  # the first subidentifier packs two arcs (X.690 8.19.4)
                    e = 0 if v < 40 else (1 if v < 80 else 2)
                    parts.append(str(e))
                    v -= 40 * e
                parts.append(str(v))
                v = 0
        x = chr(0x2E).join(parts)  # "." would be one more interned name
    m = []
    for e in (k, x if isinstance(x, int) else -1):
        if e >= 0:
            m.append(nth(_T, e, ":"))  # (":": a name MicroPython has built in)
    s = m[0]
    if len(m) > 1:
        x = m[1]
    if k <= _E_SIZE:
        s = s % (x, n)
    elif x is not None:
        s = s % x
    s = "x509: %s at offset %d" % (s, pos)  # one long string: not an interned name
    raise ParseError(400, s[:s.rfind(" at offset -")] if pos < 0 else s)


def _tag(d, pos, end, tag, what):
    """The element at pos, which must end by `end` and have `tag` (0: any), as one int:
    content start << _S | element end. `what` (a _W_ index) names it in errors."""
    if end - pos < 2:
        _fail(_E_HEAD, pos)
    t = d[pos]
    if t & 0x1F == 0x1F:
        _fail(_E_MULTI, pos)
    n = d[pos + 1]
    a = pos + 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0:
            _fail(_E_INDEF, pos)
        if k > 4:
            _fail(_E_LEN4, pos)
        if end - a < k:
            _fail(_E_PAST, pos)
        if d[a] == 0:
            _fail(_E_MINLEN, pos)
        n = 0
        for i in range(a, a + k):
            n = n << 8 | d[i]
        a += k
        if n < 0x80:
            _fail(_E_MINLEN, pos)
    if n > end - a:
        _fail(_E_PAST, pos)
    if tag and t != tag:
        _fail(_E_TAG, pos, what, t)
    if tag == _OID:  # an OBJECT IDENTIFIER is checked where it is read as one (X.690 8.19)
        if n == 0 or d[a + n - 1] & 0x80:
            _fail(_E_OID, a)
        first = True  # at the first byte of a subidentifier
        for i in range(a, a + n):
            if first and d[i] == 0x80:
                _fail(_E_MINOID, i)
            first = not d[i] & 0x80
    return a << _S | a + n


def _scan(d, pos, end, n):
    """Check that every constructed element in [pos, end) holds whole elements, nesting <= 16."""
    while pos < end:
        r = _tag(d, pos, end, 0, _W_ANY)
        if d[pos] & 0x20:
            if n >= _MAX_DEPTH:
                _fail(_E_DEEP, r >> _S)
            _scan(d, r >> _S, r & _M, n + 1)
        pos = r & _M


def _value(d, x, what):
    """The INTEGER whose element is x (from _tag); what >= 0: it must not be negative
    (what names it), < 0: a negative value is taken."""
    a = x >> _S
    b = x & _M
    if a == b:
        _fail(_E_INT0, a)
    if b - a > 1 and (d[a] == 0 and d[a + 1] < 0x80 or d[a] == 0xFF and d[a + 1] >= 0x80):
        _fail(_E_MININT, a)
    if d[a] & 0x80:
        if what >= 0:
            _fail(_E_NEG, a, what)
        return int.from_bytes(d[a:b]) - (1 << 8 * (b - a))
    return int.from_bytes(d[a:b])


def _uint(d, i, k):
    """The k decimal digits at d[i] as an int."""
    v = 0
    for j in range(i, i + k):
        c = d[j] - 0x30
        if not 0 <= c <= 9:
            _fail(_E_DIGIT, j)
        v = v * 10 + c
    return v


def _same(d, a, b):
    """Do elements a and b (from _tag, or any content range packed alike) hold the same
    bytes? b may also be the bytes themselves (an OID's DER content). Compared in place."""
    if isinstance(b, bytes):
        i = a >> _S
        return (a & _M) - i == len(b) and d.startswith(b, i)
    i = a >> _S
    n = (a & _M) - i
    j = b >> _S
    if (b & _M) - j != n:
        return False
    for k in range(n):
        if d[i + k] != d[j + k]:
            return False
    return True


# OBJECT IDENTIFIERs are matched as DER contents: 2a864886f70d010101 rsaEncryption
# (1.2.840.113549.1.1.1), 2a864886f70d01010b sha256WithRSAEncryption (1.2.840.113549.1.1.11),
# 2a8648ce3d0201 id-ecPublicKey (1.2.840.10045.2.1), 2a8648ce3d030107 prime256v1
# (1.2.840.10045.3.1.7), 2a8648ce3d040302 ecdsa-with-SHA256 (1.2.840.10045.4.3.2); the
# extensions 2.5.29.n are 551d n.


def parse(der):
    """The Certificate in `der` (bytes-like, one DER X.509 certificate and nothing after it).

    Raises ParseError(400, ...) on anything malformed, over the bounds or unsupported.
    """
    n = len(der)
    if n > _MAX_DER:
        _fail(_E_SIZE, -1, _W_CERT_SIZE, n)
    if not isinstance(der, bytes):
        der = bytes(der)  # TypeError for non-buffers: a caller bug, not the peer's
    d = der
    r = _tag(d, 0, n, _SEQUENCE, _W_CERT_SEQ)
    a = r >> _S
    b = r & _M
    if b != n:
        _fail(_E_AFTER, b, _W_CERT)
    _scan(d, a, b, 1)
    v = memoryview(der)
    t = _tag(d, a, b, _SEQUENCE, _W_TBS)
    ta = t >> _S
    tb = t & _M
    tbs = v[a:tb]
    g = _tag(d, tb, b, _SEQUENCE, _W_ALGID)  # signatureAlgorithm
    o = _tag(d, g >> _S, g & _M, _OID, _W_ALG)  # its OID, and at most one parameters element
    if o & _M < g & _M and _tag(d, o & _M, g & _M, 0, _W_ALGID) & _M != g & _M:
        _fail(_E_EXTRA, o & _M, _W_ALGID)
    sig_alg = "rsa" if _same(d, o, b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b") else (
        "ec" if _same(d, o, b"\x2a\x86\x48\xce\x3d\x04\x03\x02") else None)
    s = _tag(d, g & _M, b, _BIT_STRING, _W_SIGVAL)  # a BIT STRING without unused bits
    if s >> _S == s & _M or d[s >> _S] != 0:
        _fail(_E_UNUSED, s >> _S, _W_SIGVAL)
    s += 1 << _S  # its payload
    if s & _M != b:
        _fail(_E_EXTRA, s & _M, _W_CERT)
    signature = v[s >> _S:b]

    x = _tag(d, ta, tb, 0, _W_TBS)
    pos = ta
    version = 1
    if d[ta] == 0xA0:  # [0] EXPLICIT version DEFAULT v1
        q = _tag(d, x >> _S, x & _M, _INTEGER, _W_VERSION)
        k = _value(d, q, _W_VERSION)
        if q & _M != x & _M:
            _fail(_E_EXTRA, q & _M, _W_VERSION)
        if k > 2:
            _fail(_E_VERSION, x >> _S, str(k))
        version = k + 1
        pos = x & _M
    x = _tag(d, pos, tb, _INTEGER, _W_SERIAL)
    _value(d, x, -1)  # RFC 5280 4.1.2.2: positive, but take negative ones too; not kept
    pos = x & _M
    x = _tag(d, pos, tb, _SEQUENCE, _W_ALGID)
    o = _tag(d, x >> _S, x & _M, _OID, _W_ALG)  # AlgorithmIdentifier, as above
    if o & _M < x & _M and _tag(d, o & _M, x & _M, 0, _W_ALGID) & _M != x & _M:
        _fail(_E_EXTRA, o & _M, _W_ALGID)
    if not _same(d, pos << _S | x & _M, tb << _S | g & _M):
        _fail(_E_SIGALG, pos)
    pos = x & _M
    # issuer Name, Validity, subject Name; each Name is checked (no empty RDN, each
    # AttributeTypeAndValue an OID and one value) and kept as a slice of der
    names = []
    while True:
        r = _tag(d, pos, tb, _SEQUENCE, _W_NAME)
        a = r >> _S
        b = r & _M
        while a < b:
            q = _tag(d, a, b, _SET, _W_RDN)
            i = q >> _S
            k = q & _M
            if i == k:
                _fail(_E_RDN0, a)
            while i < k:
                t = _tag(d, i, k, _SEQUENCE, _W_ATV)
                q = t & _M
                o = _tag(d, t >> _S, q, _OID, _W_ATTR)
                if _tag(d, o & _M, q, 0, _W_ATV) & _M != q:
                    _fail(_E_EXTRA, o & _M, _W_ATV)
                i = q
            a = k
        names.append(v[pos:b])
        pos = b
        if len(names) == 2:
            break
        x = _tag(d, pos, tb, _SEQUENCE, _W_VALIDITY)  # between the two: Validity
        e = x & _M
        pos = x >> _S
        times = []  # notBefore, notAfter: epoch seconds of each UTCTime or GeneralizedTime
        for _ in range(2):
            t = _tag(d, pos, e, 0, _W_VALIDITY)
            a = t >> _S
            b = t & _M
            n = 13 if d[pos] == _UTC_TIME else (15 if d[pos] == _GEN_TIME else 0)
            if not n:
                _fail(_E_TIME, pos)
            if b - a != n or d[b - 1] != 0x5A:  # "Z"
                _fail(_E_TIMEDER, a)
            if n == 13:
                y = _uint(d, a, 2)
                y += 1900 if y >= 50 else 2000  # RFC 5280 4.1.2.5.1
            else:
                y = _uint(d, a, 4)
            i = b - 11
            mo = _uint(d, i, 2)
            day = _uint(d, i + 2, 2)
            h = _uint(d, i + 4, 2)
            mi = _uint(d, i + 6, 2)
            s = _uint(d, i + 8, 2)
            if not 1 <= mo <= 12 or h > 23 or mi > 59 or s > 59:
                _fail(_E_TIMERANGE, a)
            md = b"\x1f\x1c\x1f\x1e\x1f\x1e\x1f\x1f\x1e\x1f\x1e\x1f"  # days per month; Feb: 28
            leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
            if not 1 <= day <= (29 if mo == 2 and leap else md[mo - 1]):
                _fail(_E_TIMERANGE, a)
            # days since 1970-01-01: the whole years with their leap days (477 of them before
            # 1970), the months of this one, the day. Here rather than sipdate's
            # days_from_civil: that module would load with each certificate check.
            n = y - 1
            days = 365 * (y - 1970) + n // 4 - n // 100 + n // 400 - 477 + day - 1
            for k in range(mo - 1):
                days += md[k]
            if mo > 2 and leap:
                days += 1
            times.append(((days * 24 + h) * 60 + mi) * 60 + s)
            pos = b
        if pos != e:
            _fail(_E_EXTRA, pos, _W_VALIDITY)
    # SubjectPublicKeyInfo (s*: its elements, as _tag gives them)
    sr = _tag(d, pos, tb, _SEQUENCE, _W_SPKI)
    sb = sr & _M
    sg = _tag(d, sr >> _S, sb, _SEQUENCE, _W_ALGID)
    so = _tag(d, sg >> _S, sg & _M, _OID, _W_ALG)  # AlgorithmIdentifier, as above
    if so & _M < sg & _M and _tag(d, so & _M, sg & _M, 0, _W_ALGID) & _M != sg & _M:
        _fail(_E_EXTRA, so & _M, _W_ALGID)
    sk = _tag(d, sg & _M, sb, _BIT_STRING, _W_SPK)  # BIT STRING, as above
    if sk >> _S == sk & _M or d[sk >> _S] != 0:
        _fail(_E_UNUSED, sk >> _S, _W_SPK)
    sk += 1 << _S
    ska = sk >> _S
    skb = sk & _M
    if skb != sb:
        _fail(_E_EXTRA, skb, _W_SPKI)
    if _same(d, so, b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01"):  # rsaEncryption
        sq = _tag(d, ska, skb, _SEQUENCE, _W_RSAPUB)
        se = sq & _M
        if se != skb:
            _fail(_E_EXTRA, se, _W_SPK)
        sx = _tag(d, sq >> _S, se, _INTEGER, _W_RSA_N)
        sa = _value(d, sx, _W_RSA_N)
        sx = _tag(d, sx & _M, se, _INTEGER, _W_RSA_E)
        rsa = sa, _value(d, sx, _W_RSA_E)
        if sx & _M != se:
            _fail(_E_EXTRA, sx & _M, _W_RSAPUB)
        if not sa or not rsa[1]:
            _fail(_E_RSA0, sq >> _S)
        key_type = "rsa"
        ec_point = None
    elif _same(d, so, b"\x2a\x86\x48\xce\x3d\x02\x01"):  # id-ecPublicKey
        sx = _tag(d, so & _M, sg & _M, _OID, _W_CURVE)  # namedCurve: P-256
        if not _same(d, sx, b"\x2a\x86\x48\xce\x3d\x03\x01\x07"):
            _fail(_E_CURVE, -1, d[sx >> _S:sx & _M])
        if skb - ska != 65 or d[ska] != 4:
            _fail(_E_POINT, ska)
        ec_point = d[ska:skb]
        key_type = "ec"
        rsa = None
    else:
        _fail(_E_KEYALG, -1, d[so >> _S:so & _M])
    pos = sb
    san_uris = []
    ca = False
    path_len = key_usage = ext_key_usage = None
    last = 0
    while pos < tb:  # [1] issuerUniqueID, [2] subjectUniqueID (v2+), [3] extensions (v3)
        x = _tag(d, pos, tb, 0, _W_TBS)
        t = d[pos]
        if t != 0x81 and t != 0x82 and t != 0xA3 or t & 0x1F <= last or version == 1:
            _fail(_E_UNEXPECTED, pos)
        last = t & 0x1F
        if t == 0xA3:
            if version != 3:
                _fail(_E_V3, pos, str(version))
            # Extensions (RFC 5280 4.2.1.6, .9, .3, .12)
            r = _tag(d, x >> _S, x & _M, _SEQUENCE, _W_EXTS)
            a = r >> _S
            b = r & _M
            seen = []  # the extnID elements so far: no extension twice
            while a < b:
                y = _tag(d, a, b, _SEQUENCE, _W_EXT)
                eb = y & _M
                o = _tag(d, y >> _S, eb, _OID, _W_EXTNID)
                for p in seen:
                    if _same(d, p, o):
                        _fail(_E_TWICE, -1, d[o >> _S:o & _M])
                seen.append(o)
                p = o & _M
                crit = False
                if p < eb and d[p] == _BOOLEAN:
                    q = _tag(d, p, eb, _BOOLEAN, _W_EXT)
                    p = q & _M
                    if p - (q >> _S) != 1 or d[p - 1] != 0 and d[p - 1] != 0xFF:
                        _fail(_E_BOOL, q >> _S)
                    crit = d[p - 1] == 0xFF
                v = _tag(d, p, eb, _OCTET_STRING, _W_EXTNVALUE)
                if v & _M != eb:
                    _fail(_E_EXTRA, v & _M, _W_EXT)
                va = v >> _S
                vb = v & _M
                oa = o >> _S
                k = d[oa + 2] if (o & _M) - oa == 3 and d[oa] == 0x55 and d[oa + 1] == 0x1D else 0
                if k == 0x11:  # subjectAltName: URIs kept; iPAddress sizes checked
                    q = _tag(d, va, vb, _SEQUENCE, _W_SAN)
                    i = q >> _S
                    e = q & _M
                    san_uris = u = []
                    while i < e:
                        g = _tag(d, i, e, 0, _W_SAN)
                        w = d[i]
                        ga = g >> _S
                        i = g & _M
                        if w == 0x86:  # [6] uniformResourceIdentifier
                            u.append(d[ga:i])
                        elif w == 0x87 and i - ga != 4 and i - ga != 16:  # [7] iPAddress
                            _fail(_E_IP, ga)
                elif k == 0x13:  # basicConstraints
                    q = _tag(d, va, vb, _SEQUENCE, _W_BC)
                    i = q >> _S
                    e = q & _M
                    if i < e and d[i] == _BOOLEAN:
                        g = _tag(d, i, e, _BOOLEAN, _W_BC)
                        i = g & _M
                        if i - (g >> _S) != 1 or d[i - 1] != 0 and d[i - 1] != 0xFF:
                            _fail(_E_BOOL, g >> _S)
                        ca = d[i - 1] == 0xFF
                    if i < e:
                        g = _tag(d, i, e, _INTEGER, _W_PATHLEN)
                        path_len = _value(d, g, _W_PATHLEN)
                        i = g & _M
                    if i != e:
                        _fail(_E_EXTRA, i, _W_BC)
                elif k == 0x0F:  # keyUsage
                    q = _tag(d, va, vb, _BIT_STRING, _W_KU)
                    i = q >> _S
                    e = q & _M
                    if i == e or d[i] > 7:
                        _fail(_E_KU, i)
                    n = 0
                    for j in range(i + 1, min(e, i + 3)):  # named bits 0..8 fit in two bytes
                        w = d[j]
                        for m in range(8):
                            if w & (0x80 >> m):
                                n |= 1 << (8 * (j - i - 1) + m)
                    key_usage = n
                elif k == 0x25:  # extKeyUsage
                    q = _tag(d, va, vb, _SEQUENCE, _W_EKU)
                    i = q >> _S
                    e = q & _M
                    ext_key_usage = u = []
                    while i < e:
                        g = _tag(d, i, e, _OID, _W_PURPOSE)
                        u.append(d[g >> _S:g & _M])
                        i = g & _M
                else:
                    if crit:
                        _fail(_E_CRIT, -1, d[o >> _S:o & _M])
                    e = vb
                if e != vb:
                    _fail(_E_EXTRA, e, _W_EXTENSION)
                a = eb
            if b != x & _M:
                _fail(_E_EXTRA, b, _W_EXTENSIONS)
        pos = x & _M
    return (der, sha256_hex(der), tbs, names[0], names[1], signature, sig_alg, version,
            times[0], times[1], key_type, rsa, ec_point, san_uris, ca, path_len, key_usage,
            ext_key_usage)


def ec_signature(data):
    """(r, s) ints of a DER ECDSA-Sig-Value (RFC 3279 2.2.3); ParseError(400) if malformed."""
    n = len(data)
    if n > _MAX_DER:
        _fail(_E_SIZE, -1, _W_ECSIG_SIZE, n)
    d = data if isinstance(data, bytes) else bytes(data)
    r = _tag(d, 0, n, _SEQUENCE, _W_ECSIG)
    if r & _M != n:
        _fail(_E_AFTER, r & _M, _W_ECSIG)
    x = _tag(d, r >> _S, n, _INTEGER, _W_R)
    y = _tag(d, x & _M, n, _INTEGER, _W_S)
    if y & _M != n:
        _fail(_E_EXTRA, y & _M, _W_ECSIG)
    x = _value(d, x, _W_R)
    y = _value(d, y, _W_S)
    if not x or not y:
        _fail(_E_RS0, 0)
    return x, y


def pkcs8_public(der):
    """The public half of a PKCS#8 PrivateKeyInfo (RFC 5208 §5) for comparing with a
    certificate: ("rsa", modulus) or ("ec", uncompressed point, or None when the ECPrivateKey
    (RFC 5915 §3) leaves out its optional publicKey). The private values are not kept.
    ParseError(400, "x509: ...") when malformed or not an RSA / P-256 key."""
    n = len(der)
    if n > _MAX_DER:
        _fail(_E_SIZE, -1, _W_KEY_SIZE, n)
    d = der if isinstance(der, bytes) else bytes(der)
    r = _tag(d, 0, n, _SEQUENCE, _W_PKI)
    b = r & _M
    if b != n:
        _fail(_E_AFTER, b, _W_PKI)
    _scan(d, r >> _S, b, 1)
    x = _tag(d, r >> _S, b, _INTEGER, _W_PKI_V)
    _value(d, x, _W_PKI_V)
    g = _tag(d, x & _M, b, _SEQUENCE, _W_ALGID)
    o = _tag(d, g >> _S, g & _M, _OID, _W_ALG)  # AlgorithmIdentifier, as in parse
    if o & _M < g & _M and _tag(d, o & _M, g & _M, 0, _W_ALGID) & _M != g & _M:
        _fail(_E_EXTRA, o & _M, _W_ALGID)
    k = _tag(d, g & _M, b, _OCTET_STRING, _W_PRIVKEY)
    if _same(d, o, b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01"):  # rsaEncryption
        q = _tag(d, k >> _S, k & _M, _SEQUENCE, _W_RSAPRIV)
        x = _tag(d, q >> _S, q & _M, _INTEGER, _W_RSAPRIV_V)
        _value(d, x, _W_RSAPRIV_V)
        x = _tag(d, x & _M, q & _M, _INTEGER, _W_RSA_N)
        return "rsa", _value(d, x, _W_RSA_N)
    if not _same(d, o, b"\x2a\x86\x48\xce\x3d\x02\x01"):  # id-ecPublicKey
        _fail(_E_PKALG, -1, d[o >> _S:o & _M])
    x = _tag(d, o & _M, g & _M, _OID, _W_CURVE)  # namedCurve: P-256
    if not _same(d, x, b"\x2a\x86\x48\xce\x3d\x03\x01\x07"):
        _fail(_E_CURVE, -1, d[x >> _S:x & _M])
    q = _tag(d, k >> _S, k & _M, _SEQUENCE, _W_ECPRIV)
    e = q & _M
    x = _tag(d, q >> _S, e, _INTEGER, _W_ECPRIV_V)
    _value(d, x, _W_ECPRIV_V)
    i = _tag(d, x & _M, e, _OCTET_STRING, _W_ECPRIVKEY) & _M
    while i < e:
        x = _tag(d, i, e, 0, _W_ECPRIV)
        if d[i] == 0xA1:  # [1] publicKey
            p = _tag(d, x >> _S, x & _M, _BIT_STRING, _W_ECPUB)  # BIT STRING, as in parse
            if p >> _S == p & _M or d[p >> _S] != 0:
                _fail(_E_UNUSED, p >> _S, _W_ECPUB)
            return "ec", d[(p >> _S) + 1:p & _M]
        i = x & _M
    return "ec", None
