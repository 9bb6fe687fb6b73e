"""Header value grammar (RFC 3261 §20, §25): lists, parameters, name-addr, Via, numbers.

Owns: splitting comma lists outside quoted strings and <...>, header parameters, display
names, the checks RFC 4475 expects from the Via/Contact/From/To grammar. It never decides
what a header means to the UA.

A parsed name-addr or Via is a plain Params object (see uri.py) holding the fields its
parser sets; `param(name)` reads a header parameter.

Caps, counted before anything is split (parsed, a Via or Contact costs the heap 20-35
times its bytes and a URI parameter ~170 B on the 64-bit port): _MAX_VALUES elements in one
comma list (split_list; Message.values applies it across all lines of a header: RFC 4475
longreq has 34 Vias, a proxy chain stops at Max-Forwards 70) and uri.MAX_PARAMS parameters
per Via or name-addr. Over a cap is a 400 naming it.
"""
from tinysip.compat import const
from tinysip.errors import ParseError
from tinysip.uri import Params, is_token, parse_port, parse_uri  # noqa: F401 is_token

_MAX_VALUES = const(64)
_MAX_PARAMS = const(32)  # uri's: a private const per module costs the phone no name

# The bytes bytes.strip() removes, for code that trims by offsets instead of slicing
STRIP_WS = b" \t\r\n\x0b\x0c"


def split_top(value, sep):
    """Split on the byte `sep` where it stands outside quoted strings and <...>.

    Pieces are stripped of LWS. An unterminated quoted string or '<' is a ParseError.
    """
    if 34 not in value:  # no quoted string: let find() scan (most values have none)
        return _split_plain(value, b";" if sep == 59 else b"," if sep == 44 else bytes((sep,)))
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
                raise ParseError(400, "unclosed quoted string")
        elif c == 60:
            angle = True
        elif c == 62:
            angle = False
        elif c == sep and not angle:
            out.append(value[start:i].strip())
            start = i + 1
        i += 1
    if angle:
        raise ParseError(400, "unclosed <")
    out.append(value[start:].strip())
    return out


def _split_plain(value, sep):
    """split_top() for a value without '"': a `sep` counts unless it is inside <...>, that
    is unless the last angle bracket before it is a '<'."""
    out = []
    start = 0
    p = value.find(sep)
    while p >= 0:
        if value.rfind(b"<", 0, p) <= value.rfind(b">", 0, p):
            out.append(value[start:p].strip())
            start = p + 1
        p = value.find(sep, p + 1)
    if value.rfind(b"<") > value.rfind(b">"):
        raise ParseError(400, "unclosed <")
    out.append(value[start:].strip())
    return out


def split_list(value):
    """A comma-separated header value as a list of non-empty stripped elements."""
    if value.count(b",") >= _MAX_VALUES:
        raise ParseError(400, "more than %d list elements" % _MAX_VALUES)
    out = split_top(value, 44)
    for item in out:
        if not item:
            raise ParseError(400, "empty list element")
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


def _count(value, start, what):
    """Raise the 400 of a value with more than _MAX_PARAMS ';' from `start` on (one C call:
    the check comes before split_top() allocates the pieces)."""
    if value.count(b";", start) > _MAX_PARAMS:
        raise ParseError(400, "%s with more than %d parameters" % (what, _MAX_PARAMS))


def _params(obj, pieces):
    """Set obj.params to [(lname, value-or-None)] from 'name = value' pieces; return obj.

    An empty piece (';;'), a bad name or 'name=' without a value is a ParseError.
    """
    out = obj.params = []
    for piece in pieces:
        eq = piece.find(b"=")
        if eq < 0:
            name = piece  # split_top() stripped it
            value = None
        else:
            name = piece[:eq].strip()
            value = piece[eq + 1 :].strip()
        if not is_token(name) or value == b"":
            raise ParseError(400, "bad header parameter")
        out.append((name if name.islower() else name.lower(), value))
    return obj


def parse_name_addr(value):
    """Parse From/To/Contact/Route style values. Raises ParseError(400) when malformed.

    Returns a Params with `display` (as on the wire, quotes included; None when absent),
    `uri` (a Uri) and `params` (the header parameters).
    """
    v = value.strip()
    na = Params()
    na.display = None
    n = len(v)
    lt = -1  # where <URI> starts, if it does
    if v[:1] == b'"':
        i = 1
        while i < n and v[i] != 34:
            if v[i] == 92:
                i += 1
            i += 1
        if i >= n:
            raise ParseError(400, "unclosed quoted string")
        na.display = v[: i + 1]
        lt = i + 1
        while lt < n and v[lt] in STRIP_WS:
            lt += 1
        if lt >= n or v[lt] != 60:
            raise ParseError(400, "display name without <URI>")
    else:
        lt = v.find(b"<")
        if lt > 0:
            # a display name of tokens (RFC 4475 lwsdisp); anything else needs quotes
            display = v[:lt].strip()
            for word in display.replace(b"\t", b" ").split(b" "):
                if word and not is_token(word):
                    raise ParseError(400, "display name needs quotes")
            na.display = display or None
    if lt < 0:
        # addr-spec: the URI runs to the first ';', which starts header parameters
        semi = v.find(b";")
        uri_text = v if semi < 0 else v[:semi].strip()
        if b"?" in uri_text or b"," in uri_text:
            raise ParseError(400, "URI with ? or , outside <>")
        if semi >= 0:
            _count(v, semi, "header value")
        pieces = split_top(v[semi + 1 :], 59) if semi >= 0 else []
    else:
        gt = v.find(b">", lt)
        if gt < 0:
            raise ParseError(400, "unclosed <")
        uri_text = v[lt + 1 : gt]
        p = gt + 1
        while p < n and v[p] in STRIP_WS:
            p += 1
        if p < n and v[p] != 59:
            raise ParseError(400, "junk after >")
        _count(v, p, "header value")
        pieces = split_top(v[p + 1 :], 59) if p < n else []
    na.uri = parse_uri(uri_text)
    return _params(na, pieces)


def parse_via(value):
    """One Via value; LWS is allowed around '/', ':', ';' and '=' (RFC 4475 wsinv).

    Returns a Params with `transport` (upper case), `host` (IPv6 in brackets), `port`
    (None when absent), `params` and `branch` (None when absent).
    """
    _count(value, 0, "Via")
    pieces = split_top(value, 59)
    proto = pieces[0].split(b"/", 2)
    if len(proto) != 3 or proto[0].strip().upper() != b"SIP" or proto[1].strip() != b"2.0":
        raise ParseError(400, "Via: not SIP/2.0/transport")
    transport, _, sent_by = proto[2].strip().replace(b"\t", b" ").partition(b" ")
    if not is_token(transport):
        raise ParseError(400, "Via: bad transport")
    sent_by = sent_by.strip()
    junk = None  # what stands between an IPv6 reference and the ':' of its port
    if sent_by[:1] == b"[":
        close = sent_by.find(b"]")  # none: the host is empty
        junk, colon, port = sent_by[close + 1 :].strip().partition(b":")
        host = sent_by[: close + 1]
    else:
        host, colon, port = sent_by.partition(b":")
        host = host.strip()
    if junk or not host or b" " in host:
        raise ParseError(400, "Via: bad host")
    via = _params(Params(), pieces[1:])
    via.transport = transport.upper()
    via.host = host
    via.port = parse_port(port) if colon else None
    via.branch = via.param(b"branch")
    return via


def parse_uint(text, limit, what):
    """A decimal unsigned integer no larger than `limit`; leading zeros allowed."""
    text = text.strip()
    n = text.lstrip(b"0") or b"0"
    if not text.isdigit() or len(n) > 10 or int(n) > limit:
        raise ParseError(400, "%s: not a number up to %d" % (what, limit))
    return int(n)


def tokens(values):
    """Lower-cased option tags from Supported/Require-style header values."""
    out = []
    for v in values:
        for t in v.split(b","):
            t = t.strip()
            if t:
                out.append(t if t.islower() else t.lower())
    return out
