"""SIP digest authentication, client side (RFC 3261 §22, RFC 7616 algorithms, RFC 8760).

Algorithms: MD5, MD5-sess, SHA-256, SHA-256-sess (no SHA-512-256: not in MicroPython's
hashlib). Challenges with any other algorithm are ignored, as RFC 8760 asks.

qop: ``auth`` is used whenever offered. ``auth-int`` is used only when it is the only qop
offered; its A2 then includes H(body), so a caller must pass the request body
(``header(method, uri, body)``; REGISTER has none and needs nothing). A challenge with no
qop gets the RFC 2069 response ``H(HA1:nonce:HA2)``; a ``-sess`` challenge without qop is
ignored (it needs a cnonce, which only exists with qop). Unknown qop values are ignored.

One challenge at a time: ``challenged`` keeps the single best challenge of the last 401/407
(one realm is all a phone registering to its provider needs) and ``header`` answers it.
"""
from tinysip.compat import const, hexlify, md5_hex, sha256_hex
from tinysip.errors import ParseError
from tinysip.headers import STRIP_WS, element_end, unquote
from tinysip.uri import same


class Challenge:
    """One parsed Digest challenge; every value is unquoted, unescaped bytes.

    Also what answering it takes: `hash` (md5_hex or sha256_hex; None for an unsupported
    algorithm), `sess` (a -sess algorithm) and `use_qop`, the qop we answer with: b"auth"
    whenever offered, b"auth-int" when it is the only one, None for the RFC 2069 form (no
    qop offered), b"" when unusable (only unknown qops, or -sess without qop: it needs a
    cnonce, which only exists with qop).
    """

    def __init__(self, realm, nonce, opaque=None, algorithm=b"MD5", qop=None, stale=False):
        self.realm = realm
        self.nonce = nonce
        self.opaque = opaque
        self.algorithm = algorithm  # upper case: b"MD5", b"SHA-256-SESS", ...
        self.qop = qop = qop or []  # lower case tokens: [b"auth", b"auth-int"]
        self.stale = stale
        self.sess = sess = algorithm.endswith(b"-SESS")
        if sess:
            algorithm = algorithm[:-5]
        self.hash = md5_hex if algorithm == b"MD5" else (
            sha256_hex if algorithm == b"SHA-256" else None)
        if b"auth" in qop:
            self.use_qop = b"auth"
        elif b"auth-int" in qop:
            self.use_qop = b"auth-int"
        elif qop or sess:
            self.use_qop = b""
        else:
            self.use_qop = None


# the parameters a challenge is read for (realm, nonce and opaque may come only once)
_NAMES = (b"realm", b"nonce", b"opaque", b"algorithm", b"qop", b"stale")


def parse_challenge(value):
    """Parse one WWW-Authenticate / Proxy-Authenticate value; None unless a valid Digest
    challenge with realm and nonce. Never raises on peer input.

    Walked with offsets: only the values of realm, nonce, opaque, algorithm, qop and stale
    are sliced (a 401 is answered on every registration, in every scenario's heap)."""
    if not isinstance(value, (bytes, bytearray, memoryview)):
        return None
    v = value if isinstance(value, bytes) else bytes(value)
    b = len(v)
    while b and v[b - 1] in STRIP_WS:
        b -= 1
    i = 0
    while i < b and v[i] in STRIP_WS:
        i += 1
    e = i
    while e < b and v[e] not in b" \t\r\n":
        e += 1
    if e == b or not same(v, i, e, b"digest"):
        return None
    got = [None] * 6  # the values of _NAMES, unquoted
    p = e
    try:
        while p <= b:
            q = element_end(v, p, b, 44)
            while p < q and v[p] in STRIP_WS:
                p += 1
            z = q
            while z > p and v[z - 1] in STRIP_WS:
                z -= 1
            if p < z:  # (empty list elements are allowed)
                eq = v.find(b"=", p, z)
                n = eq
                while n > p and v[n - 1] in STRIP_WS:
                    n -= 1
                s = eq + 1
                while s < z and v[s] in STRIP_WS:
                    s += 1
                if eq < 0 or n == p or s == z or (v[s] == 34) != (v[z - 1] == 34):
                    return None
                for k in range(6):
                    if same(v, p, n, _NAMES[k]):  # in place, any letter case
                        if k < 3 and got[k] is not None:
                            return None  # realm, nonce or opaque twice
                        got[k] = unquote(v[s:z])
                        break
            p = q + 1
    except ParseError:  # an unterminated quoted string or '<'
        return None
    if got[0] is None or got[1] is None:
        return None
    qop = []
    if got[4]:
        for q in got[4].split(b","):
            q = q.strip().lower()
            if q:
                qop.append(q)
    return Challenge(got[0], got[1], got[2], b"MD5" if got[3] is None else got[3].upper(), qop,
                     got[5] is not None and got[5].lower() == b"true")


def choose(challenges):
    """The challenge to answer: strongest supported algorithm (SHA-256 over MD5), the first
    one in server order among equals; None entries and unusable challenges are skipped."""
    best = None
    rank = 0
    for ch in challenges:
        if ch is None or ch.hash is None or ch.use_qop == b"":
            continue
        r = 2 if ch.hash is sha256_hex else 1
        if r > rank:
            best = ch
            rank = r
    return best


def response(ch, username, password, method, uri, nc, cnonce, qop, body=b""):
    """Hex request-digest. ``nc`` is an int (sent as 8 hex digits); ``qop`` None gives the
    RFC 2069 form H(HA1:nonce:HA2), where nc and cnonce are not used.

    HA1 = H(user:realm:password), for -sess algorithms H(H(user:realm:password):nonce:cnonce);
    HA2 = H(method:uri), or H(method:uri:H(body)) for qop auth-int.
    """
    h = ch.hash
    if h is None:
        raise ValueError("algorithm: unsupported")
    a1 = h(b":".join((username, ch.realm, password)))
    if ch.sess:
        a1 = h(b":".join((a1, ch.nonce, cnonce)))
    a2 = method + b":" + uri
    if qop == b"auth-int":
        a2 += b":" + h(body)
    a2 = h(a2)
    if qop:
        return h(b":".join((a1, ch.nonce, b"%08x" % nc, cnonce, qop, a2)))
    return h(b":".join((a1, ch.nonce, a2)))


def _esc(b):
    """b as the content of a quoted-string: a backslash before each '"' and '\\' (only a
    value that has one is copied)."""
    if 0x22 not in b and 0x5C not in b:
        return b
    out = bytearray()
    for c in b:
        if c == 0x22 or c == 0x5C:
            out.append(0x5C)
        out.append(c)
    return bytes(out)


def authorization(ch, username, password, method, uri, nc, cnonce, body=b""):
    """Authorization / Proxy-Authorization header value answering ``ch`` (one formatting:
    sent with every REGISTER after a challenge)."""
    qop = ch.use_qop
    if qop == b"":
        raise ValueError("qop: none usable")
    return (b'Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", '
            b'algorithm=%s%s%s%s%s%s%s') % (
        _esc(username), _esc(ch.realm), _esc(ch.nonce), _esc(uri),
        response(ch, username, password, method, uri, nc, cnonce, qop, body),
        # the algorithm as RFC 7616 spells it: -sess in lower case
        ch.algorithm[:-5] if ch.sess else ch.algorithm, b"-sess" if ch.sess else b"",
        b', cnonce="' if qop else b"", _esc(cnonce) if qop else b"",
        b'", qop=%s, nc=%08x' % (qop, nc) if qop else b"",
        b', opaque="' if ch.opaque is not None else b"",
        _esc(ch.opaque) + b'"' if ch.opaque is not None else b"")


# A client's state, what whoever sends the requests keeps (a Registration, a Subscription,
# a Dial): the credentials (username, password, rng) until the first 401/407, then the list
# challenged() makes of them (a list: what tells the two apart). Plain data, no object of this module: the module is loaded for
# a challenge or an Authorization and dropped again (issue 16: ~2.8 KB on the 64-bit unix
# port that a registered phone no longer holds between its REGISTERs). The list: username,
# password, rng, the WWW-/Proxy-Authenticate value answered (parsed again when used), its
# status (401 or 407), nc (requests sent with its nonce), whether it was a stale retry.
_D_USER = const(0)
_D_PASSWORD = const(1)
_D_RNG = const(2)
_D_VALUE = const(3)
_D_STATUS = const(4)
_D_NC = const(5)
_D_STALE = const(6)


def challenged(d, msg):
    """The response `msg` answered a request sent with the client state `d` (the credentials
    tuple, or the list this returned before): a 401 (its WWW-Authenticate values) or 407
    (Proxy-Authenticate) is read. Returns the state to keep, the request to be resent with
    header(); None: give up (not a challenge, no usable one, or the credentials were
    refused), `d` unchanged.

    Loop guard: a challenge that answers the first request sent with the current nonce means
    the server refused credentials built from its own fresh challenge, i.e. a wrong password,
    unless it says ``stale=true``; a second stale in a row also gives up. A challenge to a
    later request on the same nonce (nc >= 2) is an expired nonce, even without ``stale``:
    answered once with the new nonce."""
    status = msg.status
    if status != 401 and status != 407:
        return None
    best = None
    value = None
    for v in msg.get_all(b"WWW-Authenticate" if status == 401 else b"Proxy-Authenticate"):
        ch = choose((best, parse_challenge(v)))
        if ch is not best:
            best = ch
            value = v
    if best is None:
        return None
    stale_retry = False
    if type(d) is list and d[_D_NC] == 1:
        if not best.stale or d[_D_STALE]:
            return None
        stale_retry = True
    if type(d) is not list:  # the credentials: the state is made now (as bytes)
        creds = []
        for x in d[:2]:
            if isinstance(x, str):
                x = x.encode()
            elif not isinstance(x, (bytes, bytearray)):
                raise ValueError("auth.username/auth.password: not str or bytes")
            creds.append(bytes(x))
        d = [creds[0], creds[1], d[_D_RNG], None, 0, 0, False]
    d[_D_VALUE] = value
    d[_D_STATUS] = status
    d[_D_NC] = 0
    d[_D_STALE] = stale_retry
    return d


def header(d, method, uri, body=b""):
    """(name, value) for the next request with ``method`` and Request-URI ``uri`` (bytes)
    from the state `d` challenged() returned, or None for the credentials alone (nothing
    challenged yet). Each call counts as one request: nc + 1 and a fresh cnonce. ``body``
    only matters for qop auth-int."""
    if type(d) is not list:
        return None
    ch = parse_challenge(d[_D_VALUE])
    d[_D_NC] += 1
    cnonce = hexlify(d[_D_RNG](8)) if ch.use_qop else None
    name = b"Proxy-Authorization" if d[_D_STATUS] == 407 else b"Authorization"
    return name, authorization(ch, d[_D_USER], d[_D_PASSWORD], method, uri, d[_D_NC], cnonce,
                               body)
