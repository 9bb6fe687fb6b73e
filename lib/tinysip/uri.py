"""SIP and SIPS URIs (RFC 3261 §19.1, RFC 5118 IPv6 references).

Owns: splitting a URI into scheme, userinfo, host, port, parameters and headers, the
%HH unescaping rule and serialisation. It never resolves names or looks at transports.
Also the byte-class tests (is_token, same) and the parameter look-up (Params) that
headers.py and message.py share.

Everything here reads a range of a buffer by offsets (text[a:b]; b < 0: to its end), so
the message parser checks the URIs of a received message where they lie in the receive
buffer: with keep=False, parse_uri() checks and builds nothing (on the phone every object
is heap the next packet may not find).

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
from tinysip.compat import MICROPYTHON, const
from tinysip.errors import ParseError, nth

# The texts of the faults this module names, one string (errors.nth): line _T_X.
_T = (
    "bad port number\nURI longer than %d bytes\nURI: bad scheme\n"
    "URI: space or control char\nURI: empty after scheme\nURI: empty user\n"
    "URI: bad host\nURI with more than %d parameters\nURI: empty parameter"
)
_T_BAD_PORT_NUMBER = const(0)
_T_URI_LONGER_THAN_BYTES = const(1)
_T_URI_BAD_SCHEME = const(2)
_T_URI_SPACE_OR_CONTROL_CHA = const(3)
_T_URI_EMPTY_AFTER_SCHEME = const(4)
_T_URI_EMPTY_USER = const(5)
_T_URI_BAD_HOST = const(6)
_T_URI_WITH_MORE_THAN_PARAM = const(7)
_T_URI_EMPTY_PARAMETER = const(8)


_MAX_URI = const(1024)
_MAX_PARAMS = const(32)


def is_token(value, extra=None, a=0, b=-1):
    """True if value[a:b] is not empty and every byte is a letter, a digit or in `extra`.

    The default `extra` (None) makes it the RFC 3261 §25.1 token test.
    """
    if extra is None:
        extra = b"-.!%*_+`'~"
    if b < 0:
        b = len(value)
    if a >= b:
        return False
    for p in range(a, b):
        c = value[p]
        # c | 32 folds upper-case letters (65-90) onto lower-case ones (97-122)
        if not (48 <= c <= 57 or 97 <= c | 32 <= 122 or c in extra):
            return False
    return True


if not MICROPYTHON:  # CPython: a slice and one C method beat a loop over the bytes (on
    # the phone the loop above runs in place: a slice there is heap)

    def is_token(value, extra=None, a=0, b=-1):  # noqa: F811 - the same test, faster
        v = value[a:b] if b >= 0 else value[a:]
        return v.isalpha() or v != b"" and not v.strip(
            b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
            + (b"-.!%*_+`'~" if extra is None else extra))


def same(text, a, b, name):
    """True if text[a:b] is `name` in any letter case (ASCII), compared in place."""
    n = len(name)
    if b - a != n:
        return False
    if text.startswith(name, a):
        return True
    for p in range(n):
        c = text[a + p]
        x = name[p]
        if c != x and (c | 32 != x | 32 or not 97 <= x | 32 <= 122):
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


def parse_port(text, a=0, b=-1):
    """A port number (LWS around it allowed): 1 to 5 digits, at most 65535."""
    if b < 0:
        b = len(text)
    while a < b and text[a] in b" \t\r\n\x0b\x0c":  # what bytes.strip() removes
        a += 1
    while b > a and text[b - 1] in b" \t\r\n\x0b\x0c":
        b -= 1
    n = 0 if 0 < b - a <= 5 else 99999
    for p in range(a, b if n == 0 else a):
        c = text[p] - 48
        n = n * 10 + c if 0 <= c <= 9 else 99999
    if n > 65535:
        raise ParseError(400, nth(_T, _T_BAD_PORT_NUMBER))
    return n


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


def parse_uri(text, a=0, b=-1, keep=True):
    """Parse the URI text[a:b], given without angle brackets; raises ParseError(400) when
    malformed. Returns a Uri, or with keep False only checks it and returns where its
    headers start (the offset of its '?'), -1 when it has none.
    """
    if b < 0:
        b = len(text)
    if b - a > _MAX_URI:
        raise ParseError(400, nth(_T, _T_URI_LONGER_THAN_BYTES) % _MAX_URI)
    c = text.find(b":", a, b)
    sips = other = False
    if c != a + 3 or not text.startswith(b"sip", a):  # else a sip: URI, as most are
        if c <= a or not 97 <= text[a] | 32 <= 122 or not is_token(text, b"+-.", a, c):
            raise ParseError(400, nth(_T, _T_URI_BAD_SCHEME))
        sips = same(text, a, c, b"sips")
        other = not sips and not same(text, a, c, b"sip")
    if not is_token(text, (  # every byte but the space and control characters
            b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
            b"\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f"
            b"\x90\x91\x92\x93\x94\x95\x96\x97\x98\x99\x9a\x9b\x9c\x9d\x9e\x9f"
            b"\xa0\xa1\xa2\xa3\xa4\xa5\xa6\xa7\xa8\xa9\xaa\xab\xac\xad\xae\xaf"
            b"\xb0\xb1\xb2\xb3\xb4\xb5\xb6\xb7\xb8\xb9\xba\xbb\xbc\xbd\xbe\xbf"
            b"\xc0\xc1\xc2\xc3\xc4\xc5\xc6\xc7\xc8\xc9\xca\xcb\xcc\xcd\xce\xcf"
            b"\xd0\xd1\xd2\xd3\xd4\xd5\xd6\xd7\xd8\xd9\xda\xdb\xdc\xdd\xde\xdf"
            b"\xe0\xe1\xe2\xe3\xe4\xe5\xe6\xe7\xe8\xe9\xea\xeb\xec\xed\xee\xef"
            b"\xf0\xf1\xf2\xf3\xf4\xf5\xf6\xf7\xf8\xf9\xfa\xfb\xfc\xfd\xfe\xff"), a, b):
        raise ParseError(400, nth(_T, _T_URI_SPACE_OR_CONTROL_CHA))
    if other:
        if c + 1 == b:
            raise ParseError(400, nth(_T, _T_URI_EMPTY_AFTER_SCHEME))
        if not keep:
            return -1
        u = Uri(text[a:c].lower())
        u.opaque = text[c + 1 : b]
        u.is_sip = False
        return u
    i = c + 1
    user = password = None
    at = text.find(b"@", i, b)
    if at >= 0:
        pc = text.find(b":", i, at)
        if pc == i or at == i:
            raise ParseError(400, nth(_T, _T_URI_EMPTY_USER))
        if keep:
            user = text[i : at if pc < 0 else pc]
            if pc >= 0:
                password = text[pc + 1 : at]
        i = at + 1
    # host[:port] ends at the first ';' or '?' (neither occurs inside an IPv6 reference)
    end = text.find(b";", i, b)
    if end < 0:
        end = b
    k = text.find(b"?", i, end)
    if k >= 0:
        end = k
    ps = -1  # where the port starts, if there is a ':'
    if i < end and text[i] == 91:  # '[': an IPv6 reference
        he = text.find(b"]", i, end) + 1
        # the brackets hold hex digits, ':' (48-58 with the digits) and '.' only
        ok = he - i > 3
        for p in range(i + 1, he - 1 if ok else i):
            ch = text[p]
            if not (48 <= ch <= 58 or 97 <= ch | 32 <= 102 or ch == 46):
                ok = False
        if he < end:
            if text[he] == 58:
                ps = he + 1
            else:
                ok = False  # junk between ']' and the port
    else:
        he = text.find(b":", i, end)
        if he >= 0:
            ps = he + 1
        else:
            he = end
        ok = is_token(text, b"-._", i, he)
    if not ok:
        raise ParseError(400, nth(_T, _T_URI_BAD_HOST))
    # no LWS for parse_port to strip: it was rejected above
    port = parse_port(text, ps, end) if ps >= 0 else None
    params = [] if keep else None
    q = -1  # the '?' of the headers
    if end < b and text[end] == 59:  # ';'
        if text.count(b";", end, b) > _MAX_PARAMS:
            raise ParseError(400, nth(_T, _T_URI_WITH_MORE_THAN_PARAM) % _MAX_PARAMS)
        q = text.find(b"?", end, b)
        stop = b if q < 0 else q
        j = end + 1
        while j <= stop:  # "sip:h;" is one empty parameter
            k = text.find(b";", j, stop)
            if k < 0:
                k = stop
            eq = text.find(b"=", j, k)
            if eq == j or k == j:
                raise ParseError(400, nth(_T, _T_URI_EMPTY_PARAMETER))
            if keep:
                # a name is decoded (esc01: ';%6C%72' is ';lr') unless decoding yields a
                # byte that must stay escaped (';', '=', '?', ...), so that serialising the
                # URI again gives an equivalent URI: param-unreserved and unreserved
                # characters (RFC 3261 §25.1) need no escaping
                name = text[j : k if eq < 0 else eq]
                plain = unescape(name)
                if is_token(plain, b"[]/:&+$-_.!~*'()"):
                    name = plain
                params.append((name if name.islower() else name.lower(),
                               None if eq < 0 else text[eq + 1 : k]))
            j = k + 1
    elif end < b:  # '?'
        q = end
    if not keep:
        return q
    host = text[i:he]
    u = Uri(b"sips" if sips else b"sip", user, host if host.islower() else host.lower(), port,
            params, None if q < 0 else text[q + 1 : b])
    u.password = password
    return u
