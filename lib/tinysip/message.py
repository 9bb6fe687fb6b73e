"""SIP messages (RFC 3261 §7, §8.2.6, §18.3, §20): parse, build, serialise.

Owns: the start line, header lines (compact names, folding, case rules), the checks a UA
needs before it can trust a message (one Call-ID/From/To/CSeq, a Via, CSeq method =
request method, sane Content-Length) and Content-Length framing of a complete message.
Stream reassembly lives in framing.py; header value grammar in headers.py.

Headers are kept as a list of [name, value] in arrival order: MicroPython dicts do not keep
insertion order and SIP cares about the order of same-name headers. Known names are stored
in their canonical spelling, so look-ups use canonical names (b"Call-ID", b"CSeq", ...);
`canon()` maps any spelling or compact form to it.
"""
from tinysip.compat import const
from tinysip.errors import ParseError
from tinysip.headers import (
    is_token,
    parse_cseq,
    parse_name_addr,
    parse_uint,
    parse_via,
    split_list,
    split_top,
)
from tinysip.uri import parse_uri

DEFAULT_MAX_SIZE = const(16384)

# Header names kept in one blob each (not ~100 small bytes objects and three dicts: on the
# phone every object costs heap). Known names in canonical spelling, then the compact forms
# (RFC 3261 §7.3.3 and later RFCs) as pairs of letter and name.
_NAMES = (
    b"|Accept|Allow|Authorization|Call-ID|Contact|Content-Length|Content-Type|CSeq|Date"
    b"|Event|Expires|Flow-Timer|From|Max-Forwards|Min-Expires|Path|Proxy-Authenticate"
    b"|Proxy-Authorization|Proxy-Require|Record-Route|Require|Retry-After|Route|Server"
    b"|Service-Route|Subject|Supported|To|Unsupported|User-Agent|Via|WWW-Authenticate"
    b"|Answer-Mode|Priv-Answer-Mode|P-Asserted-Identity|Subscription-State|Allow-Events"
    b"|Content-Encoding|Accept-Contact|Referred-By|Request-Disposition|Reject-Contact"
    b"|Identity-Info|Refer-To|Session-Expires|Identity|"
)
_LOWER = _NAMES.lower()
_COMPACT = (
    b"|i=Call-ID|m=Contact|e=Content-Encoding|l=Content-Length|c=Content-Type|f=From"
    b"|s=Subject|k=Supported|t=To|v=Via|a=Accept-Contact|b=Referred-By"
    b"|d=Request-Disposition|j=Reject-Contact|n=Identity-Info|o=Event|r=Refer-To"
    b"|u=Allow-Events|x=Session-Expires|y=Identity|"
)
_REASONS = (
    b"|100 Trying|180 Ringing|200 OK|400 Bad Request|401 Unauthorized|403 Forbidden"
    b"|404 Not Found|405 Method Not Allowed|408 Request Timeout|415 Unsupported Media Type"
    b"|416 Unsupported URI Scheme|420 Bad Extension|423 Interval Too Brief"
    b"|480 Temporarily Unavailable|481 Call/Transaction Does Not Exist|482 Loop Detected"
    b"|486 Busy Here|487 Request Terminated|488 Not Acceptable Here|500 Server Internal Error"
    b"|501 Not Implemented|503 Service Unavailable|505 Version Not Supported"
    b"|513 Message Too Large|"
)


def _field(blob, start):
    return blob[start : blob.find(b"|", start)]


def canon(name):
    """Canonical spelling of a header name (expands compact forms)."""
    low = name.lower()
    if b"|" in low or b"=" in low:
        return name  # not a token; never let it match across two entries of the blob
    if len(low) == 1:
        i = _COMPACT.find(b"|" + low + b"=")
        return _field(_COMPACT, i + 3) if i >= 0 else name
    i = _LOWER.find(b"|" + low + b"|")
    return _field(_NAMES, i + 1) if i >= 0 else name


def reason_phrase(status):
    i = _REASONS.find(b"|%d " % status)
    return _field(_REASONS, i + 5) if i >= 0 else b"Unknown"


class Message:
    """A request (method set) or a response (status set).

    `uri` is the Request-URI as bytes and `ruri` its parsed Uri; `headers` a list of
    [name, value]; `body` bytes. Parsing also caches call_id, cseq, cseq_method, from_tag,
    to_tag and branch (the top Via's).
    """

    def __init__(self, method=None, uri=None, status=0, reason=b""):
        self.method = method
        self.uri = uri
        self.ruri = None
        self.status = status
        self.reason = reason
        self.headers = []
        self.body = b""
        self.call_id = None
        self.cseq = 0
        self.cseq_method = None
        self.from_tag = None
        self.to_tag = None
        self.branch = None

    @property
    def is_request(self):
        return self.method is not None

    # -- header access (canonical names) -------------------------------------------
    def get(self, name, default=None):
        """First value of a header, or default."""
        for h in self.headers:
            if h[0] == name:
                return h[1]
        return default

    def get_all(self, name):
        """Every line's value for a header, in order (no comma splitting)."""
        return [h[1] for h in self.headers if h[0] == name]

    def values(self, name):
        """Comma-list header values across all lines, split outside quotes and <>."""
        out = []
        for h in self.headers:
            if h[0] == name:
                out.extend(split_list(h[1]))
        return out

    def add(self, name, value):
        """Append a header line. Returns self so builders can chain."""
        self.headers.append([name, value])
        return self

    def set(self, name, value):
        """Replace every line of a header with one line holding value."""
        self.remove(name)
        self.headers.append([name, value])
        return self

    def remove(self, name):
        self.headers = [h for h in self.headers if h[0] != name]

    def has_tag(self, header, tag):
        """True if the option tag is listed in a Supported/Require-style header."""
        for h in self.headers:
            if h[0] == header:
                for t in h[1].split(b","):
                    if t.strip().lower() == tag:
                        return True
        return False

    # -- serialisation ---------------------------------------------------------------
    def start_line(self):
        if self.method is not None:
            return self.method + b" " + self.uri + b" SIP/2.0"
        return b"SIP/2.0 %d " % self.status + self.reason

    def to_bytes(self):
        """Wire form; Content-Length is always written from the body."""
        out = [self.start_line(), b"\r\n"]
        for name, value in self.headers:
            if name != b"Content-Length":
                out.append(name)
                out.append(b": ")
                out.append(value)
                out.append(b"\r\n")
        out.append(b"Content-Length: %d\r\n\r\n" % len(self.body))
        out.append(self.body)
        return b"".join(out)

    def __repr__(self):
        return "<Message %r>" % self.start_line()


def _one(msg, name):
    found = None
    for h in msg.headers:
        if h[0] == name:
            if found is not None:
                raise ParseError(400, "more than one %s header" % name.decode())
            found = h[1]
    if found is None:
        raise ParseError(400, "missing %s header" % name.decode())
    return found


def _content_length(msg, limit):
    value = None
    for h in msg.headers:
        if h[0] == b"Content-Length":
            if value is not None and h[1].strip() != value:
                raise ParseError(400, "conflicting Content-Length headers")
            value = h[1].strip()
    if value is None:
        return None
    return parse_uint(value, limit, "Content-Length")


def _split_head(data, start):
    """Offsets (end of headers, start of body); bare-LF line ends are tolerated."""
    end = data.find(b"\r\n\r\n", start)
    lf = data.find(b"\n\n", start)
    if lf >= 0 and (end < 0 or lf < end):
        return lf, lf + 2
    if end < 0:
        raise ParseError(400, "no empty line ends the headers")
    return end, end + 4


def _start_line(msg, line):
    # the SIP-Version string is case-insensitive (RFC 3261 §7.1); we always send "SIP/2.0"
    if line[:4].upper() == b"SIP/":
        parts = line.split(b" ", 2)
        if parts[0].upper() != b"SIP/2.0":
            raise ParseError(505, "unsupported SIP version in status line")
        code = parts[1] if len(parts) > 1 else b""
        if len(code) != 3 or not code.isdigit() or not 100 <= int(code) <= 699:
            raise ParseError(400, "bad status code")
        msg.status = int(code)
        msg.reason = parts[2] if len(parts) > 2 else b""
        return
    parts = line.split(b" ")
    if len(parts) != 3:
        raise ParseError(400, "request line is not METHOD SP Request-URI SP SIP/2.0")
    method, ruri, version = parts
    if not is_token(method):
        raise ParseError(400, "bad method token")
    if version.upper() != b"SIP/2.0":
        if version[:4].upper() == b"SIP/":
            raise ParseError(505, "unsupported SIP version")
        raise ParseError(400, "bad SIP version")
    if ruri[:1] == b"<":
        raise ParseError(400, "Request-URI must not be inside <>")
    u = parse_uri(ruri)
    if u.headers is not None:
        raise ParseError(400, "Request-URI must not carry headers")
    msg.method = method
    msg.uri = ruri
    msg.ruri = u


def parse(data, max_size=DEFAULT_MAX_SIZE, datagram=True):
    """Parse one complete message. Raises ParseError; never anything else on bad input.

    On a datagram (RFC 3261 §18.3) bytes past Content-Length are discarded and a missing
    Content-Length means the body runs to the end. Stream messages come from framing.py,
    which guarantees a Content-Length.
    """
    if len(data) > max_size:
        raise ParseError(513, "message larger than %d bytes" % max_size)
    start = 0
    n = len(data)
    while start < n and (data[start] == 13 or data[start] == 10):
        start += 1
    head_end, body_start = _split_head(data, start)
    lines = data[start:head_end].split(b"\n")
    msg = Message()
    _start_line(msg, lines[0].rstrip(b"\r"))
    headers = msg.headers
    for i in range(1, len(lines)):
        line = lines[i]
        if line[-1:] == b"\r":
            line = line[:-1]
        if line[:1] == b" " or line[:1] == b"\t":
            if not headers:
                raise ParseError(400, "continuation line before the first header")
            headers[-1][1] = (headers[-1][1] + b" " + line.strip()).strip()
            continue
        name, colon, value = line.partition(b":")
        if not colon:
            raise ParseError(400, "header line without a colon")
        name = name.strip()
        if not is_token(name):
            raise ParseError(400, "bad header name")
        headers.append([canon(name), value.strip()])
    _validate(msg)
    cl = _content_length(msg, max_size)
    rest = len(data) - body_start
    if cl is None:
        if not datagram:
            raise ParseError(400, "stream message without Content-Length")
        cl = rest
    elif cl > rest:
        raise ParseError(400, "Content-Length %d larger than the %d body bytes" % (cl, rest))
    msg.body = data[body_start : body_start + cl]
    return msg


def _validate(msg):
    msg.call_id = _one(msg, b"Call-ID")
    if not msg.call_id:
        raise ParseError(400, "empty Call-ID")
    msg.cseq, msg.cseq_method = parse_cseq(_one(msg, b"CSeq"))
    if msg.method is not None and msg.cseq_method != msg.method:
        raise ParseError(400, "CSeq method differs from the request method")
    msg.from_tag = parse_name_addr(_one(msg, b"From")).tag
    msg.to_tag = parse_name_addr(_one(msg, b"To")).tag
    vias = msg.values(b"Via")
    if not vias:
        raise ParseError(400, "missing Via header")
    for i in range(len(vias)):
        v = parse_via(vias[i])
        if i == 0:
            msg.branch = v.branch
    mf = msg.get_all(b"Max-Forwards")
    if len(mf) > 1:
        raise ParseError(400, "more than one Max-Forwards header")
    if mf and not mf[0].isdigit():
        raise ParseError(400, "Max-Forwards is not a number")
    for value in msg.get_all(b"Contact"):
        if value == b"*":
            continue
        for item in split_list(value):
            parse_name_addr(item)


def contacts(msg):
    """Parsed Contact values of a message (the '*' wildcard is skipped)."""
    out = []
    for value in msg.get_all(b"Contact"):
        if value.strip() != b"*":
            for item in split_list(value):
                out.append(parse_name_addr(item))
    return out


def name_addrs(msg, name):
    """Parsed name-addr list of Route/Record-Route/Path/Service-Route style headers."""
    return [parse_name_addr(v) for v in msg.values(name)]


def vias(msg):
    return [parse_via(v) for v in msg.values(b"Via")]


def request(method, uri):
    """An empty request to fill with add(); `uri` is bytes."""
    return Message(method=method, uri=uri)


def response(req, status, reason=None, to_tag=None):
    """A response to `req` with Via, From, To (+ to_tag), Call-ID and CSeq copied (§8.2.6)."""
    resp = Message(status=status, reason=reason or reason_phrase(status))
    for h in req.headers:
        n = h[0]
        if n == b"Via" or n == b"From" or n == b"Call-ID" or n == b"CSeq":
            resp.headers.append([n, h[1]])
        elif n == b"To":
            v = h[1]
            if to_tag and req.to_tag is None and status != 100:
                v = v + b";tag=" + to_tag
            resp.headers.append([n, v])
    return resp


def error_response(data, err):
    """Best-effort response bytes for a request that failed to parse, or None.

    Copies Via, From, To, Call-ID and CSeq lines as received (unfolded); without all of
    them no response can be routed and the caller drops the request instead.
    """
    try:
        start = 0
        while start < len(data) and data[start] in b"\r\n":
            start += 1
        try:
            head_end = _split_head(data, start)[0]  # the same header end as parse()
        except ParseError:
            head_end = len(data)
        lines = data[start:head_end].split(b"\n")
        if lines[0][:4].upper() == b"SIP/":
            return None  # a malformed response is dropped, never answered
        picked = []
        for line in lines[1:]:
            line = line.rstrip(b"\r")
            if line[:1] in (b" ", b"\t"):
                # a folded line belongs to the header above it, kept or not: never
                # read " To: x" under another header as a To line of its own
                if picked and picked[-1][2]:
                    picked[-1][1] = picked[-1][1] + b" " + line.strip()
                continue
            name, colon, value = line.partition(b":")
            name = canon(name.strip()) if name.strip() else b""
            keep = name in (b"Via", b"From", b"To", b"Call-ID", b"CSeq")
            picked.append([name, value.strip(), keep])
        resp = Message(status=err.status, reason=reason_phrase(err.status))
        have = set()
        for name, value, keep in picked:
            # every Via line, but one From/To/Call-ID/CSeq (the first): a response that
            # repeats them (RFC 4475 multi01) would be malformed itself
            if keep and (name == b"Via" or name not in have):
                resp.headers.append([name, value])
                have.add(name)
        if len(have) < 5:
            return None
        resp.headers.append([b"Warning", b'399 tinysip "' + err.reason.encode() + b'"'])
        return resp.to_bytes()
    except Exception:  # noqa: BLE001 - the request was already malformed; drop it
        return None


__all__ = ["Message", "ParseError", "parse", "response", "request", "canon", "split_top"]
