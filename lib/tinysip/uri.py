"""SIP and SIPS URIs (RFC 3261 §19.1, RFC 5118 IPv6 references).

Owns: splitting a URI into scheme, userinfo, host, port, parameters and headers, the
%HH unescaping rule and serialisation. It never resolves names or looks at transports.

Choices:
- Other schemes (tel:, http:, soap.beep:) parse as opaque absolute URIs so a UAS can answer
  416 instead of 400 (RFC 4475 unkscm / novelsc).
- IPv6 references must be bracketed; the content of the brackets is checked for hex digits,
  ':' and '.' only. RFC 5118 §4.10 asks us to tolerate the RFC 3261 ABNF bug that admits
  three colons (2001:db8:::192.0.2.1), so we do not count colons.
- Parameter names are stored lower-case with their %HH escapes decoded (they compare
  case-insensitively; RFC 4475 esc01 spells lr as %6C%72); values stay as received, still
  escaped.
"""
from tinysip.errors import ParseError

_TOKEN_EXTRA = b"-.!%*_+`'~"
_HOSTCHARS = b"-._"


def _is_alnum(c):
    return 48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122


def _is_hex(c):
    return 48 <= c <= 57 or 65 <= c <= 70 or 97 <= c <= 102


# param-unreserved / unreserved characters (RFC 3261 §25.1) that need no escaping in a pname
_PNAME_EXTRA = b"[]/:&+$-_.!~*'()"


def _pname(name):
    """Lower-case parameter name with %HH escapes decoded (esc01: ';%6C%72' is ';lr').

    The escaped spelling is kept when decoding would yield a byte that must stay escaped
    (';', '=', '?', ...), so that serialising the URI again gives an equivalent URI.
    """
    if b"%" in name:
        plain = unescape(name)
        for c in plain:
            if not (_is_alnum(c) or c in _PNAME_EXTRA):
                return name.lower()
        name = plain
    return name.lower()


def unescape(value):
    """Decode %HH escapes once (RFC 3261 §19.1.2); a bad escape is kept literally."""
    if b"%" not in value:
        return value
    out = bytearray()
    i = 0
    n = len(value)
    while i < n:
        c = value[i]
        # exactly two hex digits: int() alone would also take "+1", " 1" or "-0"
        if c == 37 and i + 2 < n and _is_hex(value[i + 1]) and _is_hex(value[i + 2]):
            out.append(int(value[i + 1 : i + 3], 16))
            i += 3
            continue
        out.append(c)
        i += 1
    return bytes(out)


def _check_host(host):
    if not host:
        raise ParseError(400, "URI has an empty host")
    if host[0] == 91:  # '['
        if host[-1] != 93 or len(host) < 4:
            raise ParseError(400, "URI has an unterminated IPv6 reference")
        for c in host[1:-1]:
            if not (48 <= c <= 57 or 65 <= c <= 70 or 97 <= c <= 102 or c == 58 or c == 46):
                raise ParseError(400, "URI has a bad IPv6 reference")
        return
    for c in host:
        if not (_is_alnum(c) or c in _HOSTCHARS):
            raise ParseError(400, "URI host has a bad character")


def parse_params(text, sep=59):
    """Split ';name=value;name' into [(lname, value-or-None)]; empty parameters are errors."""
    out = []
    if not text:
        return out
    for part in text.split(bytes((sep,))):
        name, eq, value = part.partition(b"=")
        if not name:
            raise ParseError(400, "empty URI parameter")
        out.append((_pname(name), value if eq else None))
    return out


class Uri:
    """A parsed URI. `user`, `password` and param values stay escaped as on the wire."""

    __slots__ = ("scheme", "user", "password", "host", "port", "params", "headers", "opaque")

    def __init__(self, scheme=b"sip", user=None, host=b"", port=None, params=None, headers=None):
        self.scheme = scheme
        self.user = user
        self.password = None
        self.host = host
        self.port = port
        self.params = params if params is not None else []
        self.headers = headers
        self.opaque = None

    @property
    def is_sip(self):
        return self.opaque is None

    def param(self, name, default=None):
        """Value of a URI parameter (None for a valueless one), or default when absent."""
        for n, v in self.params:
            if n == name:
                return v
        return default

    def has_param(self, name):
        for n, _ in self.params:
            if n == name:
                return True
        return False

    def set_param(self, name, value=None):
        for i in range(len(self.params)):
            if self.params[i][0] == name:
                self.params[i] = (name, value)
                return
        self.params.append((name, value))

    def remove_param(self, name):
        self.params = [p for p in self.params if p[0] != name]

    @property
    def transport(self):
        """Lower-case transport: the `transport` param, else tls for sips:, else udp."""
        t = self.param(b"transport")
        if t:
            return t.lower()
        return b"tls" if self.scheme == b"sips" else b"udp"

    @property
    def secure(self):
        # a valueless ';transport' gives None: no AttributeError on a peer's URI
        return self.scheme == b"sips" or (self.param(b"transport") or b"").lower() == b"tls"

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
        if self.opaque is not None:
            return self.scheme + b":" + self.opaque
        out = [self.scheme, b":"]
        if self.user is not None:
            out.append(self.user)
            if self.password is not None:
                out.append(b":" + self.password)
            out.append(b"@")
        out.append(self.host)
        if self.port is not None:
            out.append(b":%d" % self.port)
        for n, v in self.params:
            out.append(b";" + n if v is None else b";" + n + b"=" + v)
        if self.headers:
            out.append(b"?" + self.headers)
        return b"".join(out)

    def __eq__(self, other):
        # RFC 3261 §19.1.4: scheme; userinfo (user and password) case-sensitive after
        # unescaping; host case-insensitive; port (an absent port never equals 5060); a
        # parameter present in both must match (case-insensitive, unescaped); transport,
        # user, ttl, method and maddr must not appear in only one of them (the RFC's own
        # examples treat transport that way); other parameters in only one are ignored;
        # headers are never ignored (same set of name=value, in any order).
        if not isinstance(other, Uri):
            return False
        if self.scheme != other.scheme or self.opaque != other.opaque:
            return False
        for a, b in ((self.user, other.user), (self.password, other.password)):
            if (a is None) != (b is None):
                return False
            if a is not None and unescape(a) != unescape(b):
                return False
        if self.host.lower() != other.host.lower() or self.port != other.port:
            return False
        for name in (b"transport", b"user", b"ttl", b"method", b"maddr"):
            if self.has_param(name) != other.has_param(name):
                return False
        for n, v in self.params:
            if other.has_param(n):
                w = other.param(n)
                if (v is None) != (w is None):
                    return False
                if v is not None and unescape(v).lower() != unescape(w).lower():
                    return False
        return _header_set(self.headers) == _header_set(other.headers)

    def __ne__(self, other):
        return not self.__eq__(other)

    def __repr__(self):
        return "Uri(%r)" % self.to_bytes()


def _header_set(headers):
    """URI headers as a sorted list of (lower-case name, unescaped value) for comparison."""
    if not headers:
        return []
    out = []
    for h in headers.split(b"&"):
        name, _, value = h.partition(b"=")
        out.append((unescape(name).lower(), unescape(value)))
    out.sort()
    return out


def _check_scheme(scheme):
    if not scheme or not (65 <= scheme[0] <= 90 or 97 <= scheme[0] <= 122):
        raise ParseError(400, "URI has no scheme")
    for c in scheme:
        if not (_is_alnum(c) or c in b"+-."):
            raise ParseError(400, "URI scheme has a bad character")


def parse_uri(text):
    """Parse a URI given without angle brackets; raises ParseError(400) when malformed."""
    scheme, colon, rest = text.partition(b":")
    if not colon:
        raise ParseError(400, "URI has no scheme")
    _check_scheme(scheme)
    scheme = scheme.lower()
    u = Uri(scheme)
    for c in text:
        if c <= 32 or c == 127:
            raise ParseError(400, "URI contains whitespace or a control character")
    if scheme != b"sip" and scheme != b"sips":
        if not rest:
            raise ParseError(400, "URI has nothing after the scheme")
        u.opaque = rest
        return u
    at = rest.find(b"@")
    if at >= 0:
        userinfo = rest[:at]
        rest = rest[at + 1 :]
        user, colon, password = userinfo.partition(b":")
        if not user:
            raise ParseError(400, "URI has an empty user part")
        u.user = user
        if colon:
            u.password = password
    # host[:port] ends at the first ';' or '?' (neither occurs inside an IPv6 reference)
    end = len(rest)
    for sep in (b";", b"?"):
        i = rest.find(sep)
        if 0 <= i < end:
            end = i
    hostport = rest[:end]
    tail = rest[end:]
    if hostport[:1] == b"[":
        close = hostport.find(b"]")
        if close < 0:
            raise ParseError(400, "URI has an unterminated IPv6 reference")
        host = hostport[: close + 1]
        portpart = hostport[close + 1 :]
        if portpart and portpart[:1] != b":":
            raise ParseError(400, "URI has junk after the IPv6 reference")
        port = portpart[1:] if portpart else None
    else:
        host, colon, port = hostport.partition(b":")
        if not colon:
            port = None
    _check_host(host)
    u.host = host.lower()
    if port is not None:
        if not port or len(port) > 5 or not port.isdigit() or int(port) > 65535:
            raise ParseError(400, "URI has a bad port")
        u.port = int(port)
    if tail[:1] == b";":
        params, q, headers = tail[1:].partition(b"?")
        if not params:  # "sip:h;" (parse_params treats b"" as "no parameters")
            raise ParseError(400, "empty URI parameter")
        u.params = parse_params(params)
        if q:
            u.headers = headers
    elif tail[:1] == b"?":
        u.headers = tail[1:]
    return u
