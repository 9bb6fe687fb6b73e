"""SIP and SIPS URIs (RFC 3261 §19.1, RFC 5118 IPv6 references).

Owns: splitting a URI into scheme, userinfo, host, port, parameters and headers, the
%HH unescaping rule and serialisation. It never resolves names or looks at transports.
Also the character-class test (is_token) and the parameter look-up (Params) that
headers.py shares.

Choices:
- Other schemes (tel:, http:, soap.beep:) parse as opaque absolute URIs so a UAS can answer
  416 instead of 400 (RFC 4475 unkscm / novelsc).
- IPv6 references must be bracketed; the content of the brackets is checked for hex digits,
  ':' and '.' only. RFC 5118 §4.10 asks us to tolerate the RFC 3261 ABNF bug that admits
  three colons (2001:db8:::192.0.2.1), so we do not count colons.
- Parameter names are stored lower-case with their %HH escapes decoded (they compare
  case-insensitively; RFC 4475 esc01 spells lr as %6C%72); values stay as received, still
  escaped.
- No URI comparison (RFC 3261 §19.1.4): nothing in the UA compares URIs yet.
- Caps, checked before anything is split out, so that what a peer's URI costs the heap
  is bounded (a parsed parameter ~170 B on the 64-bit port): _MAX_URI bytes per URI
  (Kamailio's own MAX_URI_SIZE; the longest URI in RFC 4475 is 107 bytes, a GRUU
  Request-URI ~100) and _MAX_PARAMS parameters per URI or header value (real ones carry up
  to ~12: an IMS Contact's feature tags; RFC 4475 at most 5). Over a cap is a 400 naming
  it; message.parse() answers an over-long Request-URI 414 before it gets here.
"""
from tinysip.compat import const
from tinysip.errors import ParseError

_MAX_URI = const(1024)
_MAX_PARAMS = const(32)


def is_token(value, extra=b"-.!%*_+`'~"):
    """True if `value` is not empty and every byte is a letter, a digit or in `extra`.

    The default `extra` makes it the RFC 3261 §25.1 token test.
    """
    if value.isalpha():  # one C call for most names (Via, From, tag, branch, ...)
        return True
    if not value:
        return False
    for c in value:
        # c | 32 folds upper-case letters (65-90) onto lower-case ones (97-122)
        if not (48 <= c <= 57 or 97 <= c | 32 <= 122 or c in extra):
            return False
    return True


def unescape(value):
    """Decode %HH escapes once (RFC 3261 §19.1.2); a bad escape is kept literally."""
    if b"%" not in value:
        return value
    out = bytearray()
    i = 0
    n = len(value)
    while i < n:
        c = value[i]
        if c == 37 and i + 2 < n:
            # exactly two hex digits: int() alone would also take "+1", " 1" or "-0"
            for h in value[i + 1 : i + 3]:
                if not (48 <= h <= 57 or 97 <= h | 32 <= 102):
                    break
            else:
                out.append(int(value[i + 1 : i + 3], 16))
                i += 3
                continue
        out.append(c)
        i += 1
    return bytes(out)


def parse_port(text):
    """A port number (LWS around it allowed): 1 to 5 digits, at most 65535."""
    text = text.strip()
    if not text or len(text) > 5 or not text.isdigit() or int(text) > 65535:
        raise ParseError(400, "bad port number")
    return int(text)


class Params:
    """Base of everything with `params`, a list of (lower-case name, value-or-None)."""

    def param(self, name, default=None):
        """Value of a parameter (None for a valueless one), or default when absent."""
        for n, v in self.params:
            if n == name:
                return v
        return default

    def has_param(self, name):
        return self.param(name, False) is not False


class Uri(Params):
    """A parsed URI. `user`, `password` and param values stay escaped as on the wire.

    `is_sip` is False for other schemes, whose text after the colon is `opaque`.
    `transport` is the lower-case transport param, else tls for sips:, else udp; `secure`
    says sips: or ;transport=tls. Both are computed here: set params through the
    constructor.
    """

    def __init__(self, scheme=b"sip", user=None, host=b"", port=None, params=None, headers=None):
        self.scheme = scheme
        self.user = user
        self.password = None
        self.host = host
        self.port = port
        self.params = params if params is not None else []
        self.headers = headers
        self.opaque = None
        self.is_sip = True
        # a valueless ';transport' gives the default: no AttributeError on a peer's URI
        t = self.param(b"transport")
        t = t.lower() if t else b""
        self.secure = scheme == b"sips" or t == b"tls"
        self.transport = t or (b"tls" if scheme == b"sips" else b"udp")

    def host_port(self):
        """(host without IPv6 brackets, port or the RFC 3261 §19.1.2 default)."""
        host = self.host
        if host[:1] == b"[":
            host = host[1:-1]
        port = self.port
        if port is None:
            port = 5061 if self.secure else 5060
        return host, port

    def to_bytes(self):
        if not self.is_sip:
            return self.scheme + b":" + self.opaque
        out = self.scheme + b":"
        if self.user is not None:
            out += self.user
            if self.password is not None:
                out += b":" + self.password
            out += b"@"
        out += self.host
        if self.port is not None:
            out += b":%d" % self.port
        for n, v in self.params:
            out += b";" + n if v is None else b";" + n + b"=" + v
        if self.headers:
            out += b"?" + self.headers
        return out


def parse_uri(text):
    """Parse a URI given without angle brackets; raises ParseError(400) when malformed.

    Works on offsets into `text`: the fields are its only slices (on the phone every
    intermediate bytes object is heap the next packet may not find).
    """
    n = len(text)
    if n > _MAX_URI:
        raise ParseError(400, "URI longer than %d bytes" % _MAX_URI)
    c = text.find(b":")
    scheme = text[:c] if c > 0 else b""
    if not is_token(scheme, b"+-.") or not 97 <= scheme[0] | 32 <= 122:
        raise ParseError(400, "URI: bad scheme")
    for ch in text:
        if ch <= 32 or ch == 127:
            raise ParseError(400, "URI: space or control char")
    if scheme != b"sip" and scheme != b"sips":  # lower-cased only when not already sip(s)
        scheme = scheme.lower()
        if scheme != b"sip" and scheme != b"sips":
            if c + 1 == n:
                raise ParseError(400, "URI: empty after scheme")
            u = Uri(scheme)
            u.opaque = text[c + 1 :]
            u.is_sip = False
            return u
    i = c + 1
    user = password = None
    at = text.find(b"@", i)
    if at >= 0:
        pc = text.find(b":", i, at)
        user = text[i : at if pc < 0 else pc]
        if not user:
            raise ParseError(400, "URI: empty user")
        if pc >= 0:
            password = text[pc + 1 : at]
        i = at + 1
    # host[:port] ends at the first ';' or '?' (neither occurs inside an IPv6 reference)
    end = n
    for k in (text.find(b";", i), text.find(b"?", i)):
        if 0 <= k < end:
            end = k
    if i < end and text[i] == 91:  # '[': an IPv6 reference
        host = text[i:end]
        close = host.find(b"]")
        # the brackets hold hex digits, ':' (48-58 with the digits) and '.' only
        ok = close > 2
        for ch in host[1:close]:
            if not (48 <= ch <= 58 or 97 <= ch | 32 <= 102 or ch == 46):
                ok = False
        junk, colon, port = host[close + 1 :].partition(b":")
        if junk:
            ok = False
        host = host[: close + 1]
    else:
        pc = text.find(b":", i, end)
        colon = pc >= 0
        host = text[i : pc if colon else end]
        port = text[pc + 1 : end] if colon else None
        ok = is_token(host, b"-._")
    if not ok:
        raise ParseError(400, "URI: bad host")
    # no LWS for parse_port to strip: it was rejected above
    port = parse_port(port) if colon else None
    params = []
    headers = None
    if end < n and text[end] == 59:  # ';'
        if text.count(b";", end) > _MAX_PARAMS:
            raise ParseError(400, "URI with more than %d parameters" % _MAX_PARAMS)
        q = text.find(b"?", end)
        stop = n
        if q >= 0:
            headers = text[q + 1 :]
            stop = q
        j = end + 1
        while j <= stop:  # "sip:h;" is one empty parameter
            k = text.find(b";", j, stop)
            if k < 0:
                k = stop
            eq = text.find(b"=", j, k)
            name = text[j : k if eq < 0 else eq]
            if not name:
                raise ParseError(400, "URI: empty parameter")
            # a name is decoded (esc01: ';%6C%72' is ';lr') unless decoding yields a byte
            # that must stay escaped (';', '=', '?', ...), so that serialising the URI
            # again gives an equivalent URI: param-unreserved and unreserved characters
            # (RFC 3261 §25.1) need no escaping
            plain = unescape(name)
            if is_token(plain, b"[]/:&+$-_.!~*'()"):
                name = plain
            params.append((name if name.islower() else name.lower(),
                           None if eq < 0 else text[eq + 1 : k]))
            j = k + 1
    elif end < n:  # '?'
        headers = text[end + 1 :]
    u = Uri(scheme, user, host if host.islower() else host.lower(), port, params, headers)
    u.password = password
    return u
