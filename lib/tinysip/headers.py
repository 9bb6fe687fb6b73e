"""Header value grammar (RFC 3261 §20, §25): lists, parameters, name-addr, Via, CSeq.

Owns: splitting comma lists outside quoted strings and <...>, header parameters, display
names, the checks RFC 4475 expects from the Via/Contact/From/To grammar. It never decides
what a header means to the UA.
"""
from tinysip.errors import ParseError
from tinysip.uri import parse_uri

_WS = b" \t"
_TOKEN_EXTRA = b"-.!%*_+`'~"


def is_token(value):
    if not value:
        return False
    for c in value:
        if not (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 or c in _TOKEN_EXTRA):
            return False
    return True


def split_top(value, sep):
    """Split on the byte `sep` where it stands outside quoted strings and <...>.

    Pieces are stripped of LWS. An unterminated quoted string or '<' is a ParseError.
    """
    out = []
    start = 0
    i = 0
    n = len(value)
    angle = False
    while i < n:
        c = value[i]
        if c == 34:  # '"'
            i += 1
            while i < n and value[i] != 34:
                if value[i] == 92:  # backslash quotes the next byte
                    i += 1
                i += 1
            if i >= n:
                raise ParseError(400, "unterminated quoted string")
        elif c == 60:
            angle = True
        elif c == 62:
            angle = False
        elif c == sep and not angle:
            out.append(value[start:i].strip())
            start = i + 1
        i += 1
    if angle:
        raise ParseError(400, "unterminated <")
    out.append(value[start:].strip())
    return out


def split_list(value):
    """A comma-separated header value as a list of non-empty stripped elements."""
    out = split_top(value, 44)
    for item in out:
        if not item:
            raise ParseError(400, "empty element in a header list")
    return out


def unquote(value):
    """Remove surrounding quotes and quoted-pair escapes; other values are returned as-is."""
    if len(value) < 2 or value[0] != 34 or value[-1] != 34:
        return value
    value = value[1:-1]
    if b"\\" not in value:
        return value
    out = bytearray()
    i = 0
    while i < len(value):
        if value[i] == 92 and i + 1 < len(value):
            i += 1
        out.append(value[i])
        i += 1
    return bytes(out)


def quote(value):
    return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def parse_header_params(pieces):
    """[(lname, value-or-None)] from 'name = value' pieces; empty pieces are ParseErrors."""
    out = []
    for piece in pieces:
        name, eq, value = piece.partition(b"=")
        name = name.strip()
        if not is_token(name):
            raise ParseError(400, "bad or empty header parameter")
        if eq:
            value = value.strip()
            if not value:
                raise ParseError(400, "header parameter without a value")
            out.append((name.lower(), value))
        else:
            out.append((name.lower(), None))
    return out


def get_param(params, name, default=None):
    for n, v in params:
        if n == name:
            return v
    return default


def format_params(params):
    return b"".join(b";" + n if v is None else b";" + n + b"=" + v for n, v in params)


class NameAddr:
    """`display <uri>;params` or `uri;params`. `uri` is a Uri, `params` the header params."""

    __slots__ = ("display", "uri", "params")

    def __init__(self, uri, display=None, params=None):
        self.uri = uri
        self.display = display
        self.params = params if params is not None else []

    def param(self, name, default=None):
        return get_param(self.params, name, default)

    @property
    def tag(self):
        return get_param(self.params, b"tag")

    def to_bytes(self):
        head = b""
        if self.display:
            head = self.display + b" "
        return head + b"<" + self.uri.to_bytes() + b">" + format_params(self.params)

    def __repr__(self):
        return "NameAddr(%r)" % self.to_bytes()


def _check_display(display):
    if display[:1] == b'"':
        return
    for word in display.replace(b"\t", b" ").split(b" "):
        if word and not is_token(word):
            raise ParseError(400, "display name needs quotes")


def parse_name_addr(value):
    """Parse From/To/Contact/Route style values. Raises ParseError(400) when malformed."""
    v = value.strip()
    display = None
    if v[:1] == b'"':
        i = 1
        n = len(v)
        while i < n and v[i] != 34:
            if v[i] == 92:
                i += 1
            i += 1
        if i >= n:
            raise ParseError(400, "unterminated quoted display name")
        display = v[: i + 1]
        rest = v[i + 1 :].lstrip()
        if rest[:1] != b"<":
            raise ParseError(400, "quoted display name without <uri>")
    else:
        lt = v.find(b"<")
        if lt >= 0:
            display = v[:lt].strip()
            _check_display(display)
            rest = v[lt:]
        else:
            rest = None
    if rest is None:
        # addr-spec: the URI runs to the first ';', which starts header parameters
        uri_text, semi, ptext = v.partition(b";")
        uri_text = uri_text.strip()
        if b"?" in uri_text or b"," in uri_text:
            raise ParseError(400, "URI with headers or commas must be inside <>")
        pieces = split_top(ptext, 59) if semi else []
    else:
        gt = rest.find(b">")
        if gt < 0:
            raise ParseError(400, "unterminated <")
        uri_text = rest[1:gt]
        ptext = rest[gt + 1 :].strip()
        if ptext and ptext[:1] != b";":
            raise ParseError(400, "junk after >")
        pieces = split_top(ptext[1:], 59) if ptext else []
    return NameAddr(parse_uri(uri_text), display or None, parse_header_params(pieces))


class Via:
    __slots__ = ("transport", "host", "port", "params")

    def __init__(self, transport, host, port=None, params=None):
        self.transport = transport
        self.host = host
        self.port = port
        self.params = params if params is not None else []

    def param(self, name, default=None):
        return get_param(self.params, name, default)

    @property
    def branch(self):
        return get_param(self.params, b"branch")

    def to_bytes(self):
        hp = self.host if self.port is None else self.host + b":%d" % self.port
        return b"SIP/2.0/" + self.transport + b" " + hp + format_params(self.params)


def parse_port(text):
    text = text.strip()
    if not text or len(text) > 5 or not text.isdigit() or int(text) > 65535:
        raise ParseError(400, "bad port")
    return int(text)


def parse_via(value):
    """One Via value; LWS is allowed around '/', ':', ';' and '=' (RFC 4475 wsinv)."""
    pieces = split_top(value, 59)
    proto = pieces[0].split(b"/", 2)
    if len(proto) != 3 or proto[0].strip().upper() != b"SIP":
        raise ParseError(400, "Via without SIP/2.0/transport")
    if proto[1].strip() != b"2.0":
        raise ParseError(400, "Via with an unsupported SIP version")
    rest = proto[2].strip().replace(b"\t", b" ")
    transport, sp, sent_by = rest.partition(b" ")
    if not is_token(transport):
        raise ParseError(400, "Via with a bad transport")
    sent_by = sent_by.strip()
    if not sent_by:
        raise ParseError(400, "Via without sent-by")
    port = None
    if sent_by[:1] == b"[":
        close = sent_by.find(b"]")
        if close < 0:
            raise ParseError(400, "Via with an unterminated IPv6 reference")
        host = sent_by[: close + 1]
        tail = sent_by[close + 1 :].strip()
        if tail:
            if tail[:1] != b":":
                raise ParseError(400, "Via with junk after the host")
            port = parse_port(tail[1:])
    else:
        host, colon, p = sent_by.partition(b":")
        host = host.strip()
        if colon:
            port = parse_port(p)
    if not host or b" " in host:
        raise ParseError(400, "Via with a bad host")
    return Via(transport.upper(), host, port, parse_header_params(pieces[1:]))


def parse_uint(text, limit, what):
    """A decimal unsigned integer no larger than `limit`; leading zeros allowed."""
    text = text.strip()
    if not text or not text.isdigit():
        raise ParseError(400, "%s is not a number" % what)
    text = text.lstrip(b"0") or b"0"
    if len(text) > 10 or int(text) > limit:
        raise ParseError(400, "%s is too large" % what)
    return int(text)


def parse_cseq(value):
    num, _, method = value.strip().replace(b"\t", b" ").partition(b" ")
    method = method.strip()
    if not is_token(method):
        raise ParseError(400, "CSeq without a method")
    return parse_uint(num, 0xFFFFFFFF, "CSeq"), method


def tokens(values):
    """Lower-cased option tags from Supported/Require-style header values."""
    out = []
    for v in values:
        for t in v.split(b","):
            t = t.strip()
            if t:
                out.append(t.lower())
    return out
