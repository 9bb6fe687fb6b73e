"""Header value grammar (RFC 3261 §20, §25): lists, parameters, name-addr, Via, numbers.

Owns: splitting comma lists outside quoted strings and <...>, header parameters, display
names, the checks RFC 4475 expects from the Via/Contact/From/To grammar. It never decides
what a header means to the UA.

A parsed name-addr or Via is a plain Params object (see uri.py) holding the fields its
parser sets; `param(name)` reads a header parameter. The parsers read value[a:b] by
offsets; with keep False or None they only check the value where it lies (the message
parser checks a received message in its receive buffer this way) and build nothing but
the one field the UA caches (a From/To tag, a Via branch).

Caps, counted before anything is split (parsed, a Via or Contact costs the heap 20-35
times its bytes and a URI parameter ~170 B on the 64-bit port): _MAX_VALUES elements in one
comma list (split_list; Message.values applies it across all lines of a header: RFC 4475
longreq has 34 Vias, a proxy chain stops at Max-Forwards 70) and uri.MAX_PARAMS parameters
per Via or name-addr. Over a cap is a 400 naming it.
"""
from tinysip import uri  # (its functions by the module: one global here instead of five,
# which keeps this module's dict on the phone a size smaller)
from tinysip.compat import const
from tinysip.errors import ParseError, nth

# The texts of the faults this module names, one string (errors.nth): line _T_X.
_T = (
    "unclosed quoted string\nunclosed <\nmore than %d list elements\nempty list element\n"
    "bad header parameter\ndisplay name without <URI>\ndisplay name needs quotes\n"
    "URI with ? or , outside <>\njunk after >\n"
    "header value with more than %d parameters\nVia with more than %d parameters\n"
    "Via: not SIP/2.0/transport\nVia: bad transport\nVia: bad host\n"
    "%s: not a number up to %d"
)
_T_UNCLOSED_QUOTED_STRING = const(0)
_T_UNCLOSED = const(1)
_T_MORE_THAN_LIST_ELEMENTS = const(2)
_T_EMPTY_LIST_ELEMENT = const(3)
_T_BAD_HEADER_PARAMETER = const(4)
_T_DISPLAY_NAME_WITHOUT_URI = const(5)
_T_DISPLAY_NAME_NEEDS_QUOTE = const(6)
_T_URI_WITH_OR_OUTSIDE = const(7)
_T_JUNK_AFTER = const(8)
_T_HEADER_VALUE_WITH_MORE_T = const(9)
_T_VIA_WITH_MORE_THAN_PARAM = const(10)
_T_VIA_NOT_SIP_2_0_TRANSPOR = const(11)
_T_VIA_BAD_TRANSPORT = const(12)
_T_VIA_BAD_HOST = const(13)
_T_NOT_A_NUMBER_UP_TO = const(14)


# The bytes bytes.strip() removes, for code that trims by offsets instead of slicing
STRIP_WS = b" \t\r\n\x0b\x0c"

_MAX_VALUES = const(64)
_MAX_PARAMS = const(32)  # uri's: a private const per module costs the phone no name


def _close(text, a, b):
    """Offset of the '"' that closes the quoted string opened at text[a] (a backslash
    quotes the byte after it); none before b is a ParseError."""
    p = a + 1
    while True:
        e = text.find(b'"', p, b)
        s = text.find(b"\\", p, b if e < 0 else e)
        if s < 0:
            if e < 0:
                raise ParseError(400, nth(_T, _T_UNCLOSED_QUOTED_STRING))
            return e
        p = s + 2


def element_end(text, a, b, sep):
    """Where the list element that starts at text[a] ends: at the first byte `sep` (44 ','
    or 59 ';') outside quoted strings and <...>, else at b. An unterminated quoted string
    or '<' is a ParseError. Jumps from one '"', '<' or `sep` to the next with find()."""
    p = a
    sep = b";" if sep == 59 else b"," if sep == 44 else bytes((sep,))
    while True:
        q = text.find(sep, p, b)
        if q < 0:
            q = b
        lt = text.find(b"<", p, q)
        dq = text.find(b'"', p, q if lt < 0 else lt)
        if dq >= 0:
            p = _close(text, dq, b) + 1
        elif lt < 0:
            return q
        else:  # inside <...>, where a quoted string still counts, up to its '>'
            p = lt + 1
            while True:
                q = text.find(b">", p, b)
                dq = text.find(b'"', p, b if q < 0 else q)
                if dq >= 0:
                    p = _close(text, dq, b) + 1
                elif q < 0:
                    raise ParseError(400, nth(_T, _T_UNCLOSED))
                else:
                    p = q + 1
                    break


def split_top(value, sep):
    """Split on the byte `sep` where it stands outside quoted strings and <...>.

    Pieces are stripped of LWS. An unterminated quoted string or '<' is a ParseError.
    """
    out = []
    p = 0
    b = len(value)
    while True:
        q = element_end(value, p, b, sep)
        out.append(value[p:q].strip())
        if q >= b:
            return out
        p = q + 1


def split_list(value):
    """A comma-separated header value as a list of non-empty stripped elements."""
    if value.count(b",") >= _MAX_VALUES:
        raise ParseError(400, nth(_T, _T_MORE_THAN_LIST_ELEMENTS) % _MAX_VALUES)
    out = split_top(value, 44)
    for item in out:
        if not item:
            raise ParseError(400, nth(_T, _T_EMPTY_LIST_ELEMENT))
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


def _params(text, a, b, obj, name):
    """Check the ';'-separated 'name = value' parameters in text[a:b]: an empty one (';;'),
    a bad name or 'name=' without a value is a ParseError. With obj, set obj.params to
    [(lower-case name, value or None)] and return obj; else return the value of the
    parameter `name` (a lower-case name, or None), None when absent or valueless."""
    p = a
    out = [] if obj is not None else None
    got = None
    plain = text.find(b'"', p, b) < 0 and text.find(b"<", p, b) < 0
    while True:
        q = text.find(b";", p, b) if plain else element_end(text, p, b, 59)
        if q < 0:
            q = b
        e = q
        while p < e and text[p] in STRIP_WS:
            p += 1
        while e > p and text[e - 1] in STRIP_WS:
            e -= 1
        eq = text.find(b"=", p, e)
        n = e if eq < 0 else eq
        while n > p and text[n - 1] in STRIP_WS:
            n -= 1
        v = eq + 1
        while v < e and text[v] in STRIP_WS:
            v += 1
        if eq >= 0 and v == e or not uri.is_token(text, None, p, n):
            raise ParseError(400, nth(_T, _T_BAD_HEADER_PARAMETER))
        if obj is not None:
            k = text[p:n]
            out.append((k if k.islower() else k.lower(), None if eq < 0 else text[v:e]))
        elif name is not None and n - p == len(name) and uri.same(text, p, n, name):
            if eq >= 0:
                got = text[v:e]
            name = None  # the first one counts
        if q >= b:
            break
        p = q + 1
    if obj is None:
        return got
    obj.params = out
    return obj


def parse_name_addr(value, a=0, b=-1, keep=True):
    """Parse From/To/Contact/Route style values. Raises ParseError(400) when malformed.

    Returns a Params with `display` (as on the wire, quotes included; None when absent),
    `uri` (a Uri) and `params` (the header parameters). keep False: only checks, returns
    the tag parameter's value (or None); keep None: only checks; keep a lower-case
    parameter name (bytes): only checks, returns that parameter's value (or None).
    """
    if b < 0:
        b = len(value)
    while a < b and value[a] in STRIP_WS:
        a += 1
    while b > a and value[b - 1] in STRIP_WS:
        b -= 1
    display = None
    if a < b and value[a] == 34:
        lt = _close(value, a, b) + 1
        if keep:
            display = value[a:lt]
        while lt < b and value[lt] in STRIP_WS:
            lt += 1
        if lt >= b or value[lt] != 60:
            raise ParseError(400, nth(_T, _T_DISPLAY_NAME_WITHOUT_URI))
    else:
        lt = value.find(b"<", a, b)
        if lt > a:
            # a display name of tokens (RFC 4475 lwsdisp); anything else needs quotes
            e = lt
            while value[e - 1] in STRIP_WS:
                e -= 1
            p = a
            while p < e:  # words between SP or HTAB
                w = value.find(b" ", p, e)
                t = value.find(b"\t", p, e if w < 0 else w)
                w = t if t >= 0 else e if w < 0 else w
                if w > p and not uri.is_token(value, None, p, w):
                    raise ParseError(400, nth(_T, _T_DISPLAY_NAME_NEEDS_QUOTE))
                p = w + 1
            if keep:
                display = value[a:e]
    if lt < 0:
        # addr-spec: the URI runs to the first ';', which starts header parameters
        p = value.find(b";", a, b)
        e = b if p < 0 else p
        while e > a and value[e - 1] in STRIP_WS:
            e -= 1
        if value.find(b"?", a, e) >= 0 or value.find(b",", a, e) >= 0:
            raise ParseError(400, nth(_T, _T_URI_WITH_OR_OUTSIDE))
        u = a
    else:
        e = value.find(b">", lt, b)
        if e < 0:
            raise ParseError(400, nth(_T, _T_UNCLOSED))
        u = lt + 1
        p = e + 1
        while p < b and value[p] in STRIP_WS:
            p += 1
        if p < b and value[p] != 59:
            raise ParseError(400, nth(_T, _T_JUNK_AFTER))
        if p >= b:
            p = -1
    if p >= 0 and value.count(b";", p, b) > _MAX_PARAMS:
        raise ParseError(400, nth(_T, _T_HEADER_VALUE_WITH_MORE_T) % _MAX_PARAMS)
    u = uri.parse_uri(value, u, e, keep is True)
    if keep is not True:
        return None if p < 0 else _params(value, p + 1, b, None,
                                          b"tag" if keep is False else keep)
    na = uri.Params()
    na.display = display
    na.uri = u
    if p < 0:
        na.params = []
        return na
    return _params(value, p + 1, b, na, None)


def parse_via(value, a=0, b=-1, keep=True):
    """One Via value; LWS is allowed around '/', ':', ';' and '=' (RFC 4475 wsinv).

    Returns a Params with `transport` (upper case), `host` (IPv6 in brackets), `port`
    (None when absent), `params` and `branch` (None when absent). keep False: only checks,
    returns the branch (or None); keep None: only checks.
    """
    if b < 0:
        b = len(value)
    if value.count(b";", a, b) > _MAX_PARAMS:
        raise ParseError(400, nth(_T, _T_VIA_WITH_MORE_THAN_PARAM) % _MAX_PARAMS)
    q = element_end(value, a, b, 59)  # sent-protocol SP sent-by
    e = q
    while a < e and value[a] in STRIP_WS:
        a += 1
    while e > a and value[e - 1] in STRIP_WS:
        e -= 1
    s = value.find(b"/", a, e)  # "SIP" / "2.0" / transport, LWS around each
    t = value.find(b"/", s + 1, e) if s >= 0 else -1
    ok = t >= 0
    if ok:
        p = s
        while p > a and value[p - 1] in STRIP_WS:
            p -= 1
        s += 1
        while s < t and value[s] in STRIP_WS:
            s += 1
        c = t
        while c > s and value[c - 1] in STRIP_WS:
            c -= 1
        ok = uri.same(value, a, p, b"SIP") and c - s == 3 and value.startswith(b"2.0", s)
    if not ok:
        raise ParseError(400, nth(_T, _T_VIA_NOT_SIP_2_0_TRANSPOR))
    t += 1
    while t < e and value[t] in STRIP_WS:
        t += 1
    s = value.find(b" ", t, e)  # the transport ends at the first SP or HTAB
    p = value.find(b"\t", t, e if s < 0 else s)
    s = p if p >= 0 else e if s < 0 else s
    if not uri.is_token(value, None, t, s):
        raise ParseError(400, nth(_T, _T_VIA_BAD_TRANSPORT))
    transport = value[t:s] if keep else None
    while s < e and value[s] in STRIP_WS:  # sent-by: host [":" port]
        s += 1
    c = -1  # the ':' before the port
    if s < e and value[s] == 91:
        h = value.find(b"]", s, e) + 1
        ok = h > 0 and value.find(b" ", s, h) < 0 and value.find(b"\t", s, h) < 0
        p = h
        while p < e and value[p] in STRIP_WS:
            p += 1
        if ok and p < e:
            if value[p] == 58:
                c = p
            else:
                ok = False  # junk between ']' and ':'
    else:
        c = value.find(b":", s, e)
        h = e if c < 0 else c
        while h > s and value[h - 1] in STRIP_WS:
            h -= 1
        ok = h > s and value.find(b" ", s, h) < 0 and value.find(b"\t", s, h) < 0
    if not ok:
        raise ParseError(400, nth(_T, _T_VIA_BAD_HOST))
    if keep:
        via = uri.Params()
        if q < b:
            _params(value, q + 1, b, via, None)
        else:
            via.params = []
        via.transport = transport.upper()
        via.host = value[s:h]
        via.port = uri.parse_port(value, c + 1, e) if c >= 0 else None
        via.branch = via.param(b"branch")
        return via
    got = _params(value, q + 1, b, None, None if keep is None else b"branch") if q < b else None
    if c >= 0:
        uri.parse_port(value, c + 1, e)
    return got


def parse_uint(text, limit, what, a=0, b=-1):
    """A decimal unsigned integer no larger than `limit`, leading zeros allowed: all of
    text (LWS around it allowed), or text[a:b]. Anything else is a ParseError naming
    `what`, or -1 if what is None."""
    if b < 0:
        text = text.strip()  # (text itself when there is nothing to strip)
        b = len(text)
    z = a
    while z < b and text[z] == 48:
        z += 1
    n = 0 if a < b and b - z <= 10 else -1
    for p in range(a, b if n == 0 else a):
        c = text[p] - 48
        if not 0 <= c <= 9:
            n = -1
            break
        n = n * 10 + c
    if n < 0 or n > limit:
        if what is None:
            return -1
        raise ParseError(400, nth(_T, _T_NOT_A_NUMBER_UP_TO) % (what, limit))
    return n


def tokens(values):
    """Lower-cased option tags from Supported/Require-style header values."""
    out = []
    for v in values:
        for t in v.split(b","):
            t = t.strip()
            if t:
                out.append(t if t.islower() else t.lower())
    return out


# What the phone serves and supports (Allow, Supported), the requests' Require checked against
# it, a name-addr's URI and the flat state tables' lookup: here, always loaded, rather than in
# tinysip.invite, which the UA loads with the first INVITE (issue 16: ~6 KB on the 64-bit
# unix port that an idle phone, or one checking certificates, does not hold).
ALLOW = b"INVITE, ACK, BYE, CANCEL, OPTIONS"
SUPPORTED = b"outbound, path, gruu, answermode"


def requires_unknown(msg, ours):
    """Option tags in Require that are not in `ours` (a bytes list like SUPPORTED)."""
    req = msg.get_all(b"Require")
    if not req:
        return []  # most requests: nothing to split
    mine = tokens([ours])
    out = []
    for t in tokens(req):
        if t not in mine:
            out.append(t)
    return out


def addr(value):
    """The URI inside a name-addr (`"Bob" <sip:b@x>;tag=1` -> sip:b@x) or an addr-spec."""
    i = value.find(b"<")
    if i >= 0:
        j = value.find(b">", i)
        return value[i + 1:j] if j > i else value[i + 1:]
    return value.split(b";")[0].strip()


def lookup(t, state, inp):
    """(new state, actions) from a flat table `t` of (state, input, new state, actions) rows;
    an input without a row changes nothing. Shared by every call and subscription machine."""
    for i in range(0, len(t), 4):
        if t[i] == state and t[i + 1] == inp:
            return t[i + 2], t[i + 3]
    return state, 0
