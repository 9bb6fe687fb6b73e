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
from tinysip.errors import ParseError
from tinysip.headers import STRIP_WS, parse_name_addr, parse_uint, parse_via, split_list, tokens
from tinysip.uri import is_token, parse_uri

# the five headers a response copies from its request (RFC 3261 §8.2.6)
_FIVE = (b"Via", b"From", b"To", b"Call-ID", b"CSeq")


def canon(name):
    """Canonical spelling of a header name (expands compact forms)."""
    # Header names are kept in blobs, local to this function (not ~100 small bytes objects
    # or dicts: on the phone every object and global costs heap). `known`: the canonical
    # spelling of every known name; `compact`: "|key=Name|" for the compact forms (RFC 3261
    # §7.3.3 and later RFCs). A name already spelled canonically, as nearly every sender
    # writes them, is returned as it is: no allocation on the common path.
    known = (
        b"|Accept|Allow|Authorization|Contact|Content-Length|Content-Type|Date|Event"
        b"|Expires|Flow-Timer|From|Max-Forwards|Min-Expires|Path|Proxy-Authenticate"
        b"|Proxy-Authorization|Proxy-Require|Record-Route|Require|Retry-After|Route|Server"
        b"|Service-Route|Subject|Supported|To|Unsupported|User-Agent|Via|Answer-Mode"
        b"|Priv-Answer-Mode|P-Asserted-Identity|Subscription-State|Allow-Events"
        b"|Content-Encoding|Accept-Contact|Referred-By|Request-Disposition|Reject-Contact"
        b"|Identity-Info|Refer-To|Session-Expires|Identity|Call-ID|CSeq|WWW-Authenticate|"
    )
    n = len(name)
    i = known.find(name) if n else -1
    while i >= 0:
        if known[i - 1] == 124 and known[i + n] == 124:  # |name|, or a non-token like
            return name  # "To|Via", which is returned as it is anyway
        i = known.find(name, i + 1)
    if not is_token(name):
        return name  # never let '|' or '=' match across two entries of a blob
    low = name.lower()
    if n == 1:
        compact = (
            b"|i=Call-ID|m=Contact|e=Content-Encoding|l=Content-Length|c=Content-Type|f=From"
            b"|s=Subject|k=Supported|t=To|v=Via|a=Accept-Contact|b=Referred-By"
            b"|d=Request-Disposition|j=Reject-Contact|n=Identity-Info|o=Event|r=Refer-To"
            b"|u=Allow-Events|x=Session-Expires|y=Identity|"
        )
        i = compact.find(b"|" + low + b"=")
        if i >= 0:
            return compact[i + 3 : compact.find(b"|", i + 3)]
        return name
    i = known.lower().find(b"|" + low + b"|")  # another spelling: rare, may allocate
    return known[i + 1 : i + 1 + n] if i >= 0 else name


def reason_phrase(status):
    reasons = (
        b"|100 Trying|180 Ringing|200 OK|400 Bad Request|401 Unauthorized|403 Forbidden"
        b"|404 Not Found|405 Method Not Allowed|408 Request Timeout|415 Unsupported Media Type"
        b"|416 Unsupported URI Scheme|420 Bad Extension|423 Interval Too Brief"
        b"|480 Temporarily Unavailable|481 Call/Transaction Does Not Exist|482 Loop Detected"
        b"|486 Busy Here|487 Request Terminated|488 Not Acceptable Here"
        b"|500 Server Internal Error|501 Not Implemented|503 Service Unavailable"
        b"|505 Version Not Supported|513 Message Too Large|"
    )
    i = reasons.find(b"|%d " % status)
    if i < 0:
        return b"Unknown"
    return reasons[i + 5 : reasons.find(b"|", i + 5)]


class Message:
    """A request (method set) or a response (status set).

    `uri` is the Request-URI as bytes and `ruri` its parsed Uri; `headers` a list of
    [name, value]; `body` bytes; `is_request` says method is set. Parsing also sets
    call_id, cseq, cseq_method, from_tag, to_tag and branch (the top Via's).
    """

    def __init__(self, method=None, uri=None, status=0, reason=b""):
        self.method = method
        self.is_request = method is not None
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

    # -- header access (canonical names) -------------------------------------------
    def get(self, name, default=None):
        """First value of a header, or default."""
        for h in self.headers:
            if h[0] == name:
                return h[1]
        return default

    def get_all(self, name):
        """Every line's value for a header, in order (no comma splitting)."""
        out = []
        for h in self.headers:
            if h[0] == name:
                out.append(h[1])
        return out

    def values(self, name):
        """Comma-list header values across all lines, split outside quotes and <>."""
        out = []
        for v in self.get_all(name):
            out.extend(split_list(v))
        return out

    def add(self, name, value):
        """Append a header line. Returns self so builders can chain."""
        self.headers.append([name, value])
        return self

    def set(self, name, value):
        """Replace every line of a header with one line holding value."""
        self.remove(name)
        return self.add(name, value)

    def remove(self, name):
        out = []
        for h in self.headers:
            if h[0] != name:
                out.append(h)
        self.headers = out

    def has_tag(self, header, tag):
        """True if the option tag is listed in a Supported/Require-style header."""
        return tag in tokens(self.get_all(header))

    # -- serialisation ---------------------------------------------------------------
    def to_bytes(self):
        """Wire form; Content-Length is always written from the body."""
        if self.is_request:
            out = [self.method, b" ", self.uri, b" SIP/2.0\r\n"]
        else:
            out = [b"SIP/2.0 %d " % self.status, self.reason, b"\r\n"]
        for name, value in self.headers:
            if name != b"Content-Length":
                out.append(name)
                out.append(b": ")
                out.append(value)
                out.append(b"\r\n")
        out.append(b"Content-Length: %d\r\n\r\n" % len(self.body))
        out.append(self.body)
        return b"".join(out)


request = Message  # request(method, uri): an empty request to fill with add(); uri is bytes


def _head(data):
    """(start line, headers as [[canonical name, value]], start of the body, fault).

    CR/LF before the start line and bare-LF line ends are tolerated; folded lines are
    joined to the header above. A head that no empty line ends runs to the end of data
    and the body start is -1. `fault` is a ParseError for the first folded line before
    any header or bad header line (kept as it comes), else None: parse() raises it once
    the start line is checked; error_response() answers anyway.

    Works on offsets into `data`: each header costs its name and value slices and their
    list, nothing else (no per-line copies, strips or partitions).
    """
    start = 0
    n = len(data)
    while start < n and data[start] in b"\r\n":
        start += 1
    end = data.find(b"\r\n\r\n", start)
    body = end + 4
    lf = data.find(b"\n\n", start)
    if lf >= 0 and (end < 0 or lf < end):
        end = lf
        body = lf + 2
    if end < 0:
        end = n
        body = -1
    headers = []
    fault = None
    first = None
    i = start
    while i <= end:
        j = data.find(b"\n", i, end)
        if j < 0:
            j = end
        k = j
        while k > i and data[k - 1] == 13:  # the line without its trailing CRs
            k -= 1
        if first is None:
            first = data[i:k]
        elif k > i and data[i] in b" \t":  # a folded line continues the header above it
            if headers:
                while i < k and data[i] in STRIP_WS:
                    i += 1
                while k > i and data[k - 1] in STRIP_WS:
                    k -= 1
                h = headers[-1]
                h[1] = (h[1] + b" " + data[i:k]).strip()
            elif fault is None:
                fault = ParseError(400, "folded line before any header")
        else:
            c = data.find(b":", i, k)
            colon = c >= 0
            v = c + 1
            if not colon:
                c = v = k
            while i < c and data[i] in STRIP_WS:
                i += 1
            e = c
            while e > i and data[e - 1] in STRIP_WS:
                e -= 1
            while v < k and data[v] in STRIP_WS:
                v += 1
            while k > v and data[k - 1] in STRIP_WS:
                k -= 1
            name = data[i:e]
            if fault is None and not (colon and is_token(name)):
                fault = ParseError(400, "bad header line")
            headers.append([canon(name), data[v:k]])
        i = j + 1
    return first, headers, body, fault


def parse(data, max_size=16384, datagram=True):
    """Parse one complete message. Raises ParseError; never anything else on bad input.

    On a datagram (RFC 3261 §18.3) bytes past Content-Length are discarded and a missing
    Content-Length means the body runs to the end. Stream messages come from framing.py,
    which guarantees a Content-Length.
    """
    if len(data) > max_size:
        raise ParseError(513, "message larger than %d bytes" % max_size)
    line, headers, body_start, fault = _head(data)
    if body_start < 0:
        raise ParseError(400, "no empty line ends the headers")
    msg = Message()
    msg.headers = headers
    # -- start line; the SIP-Version string is case-insensitive (RFC 3261 §7.1), we
    # always send "SIP/2.0"
    status_line = line[:4].upper() == b"SIP/"
    if status_line:
        parts = line.split(b" ", 2)
        version = parts[0]
    else:
        parts = line.split(b" ")
        if len(parts) != 3:
            raise ParseError(400, "request line: not METHOD URI SIP/2.0")
        method, ruri, version = parts
        if not is_token(method):
            raise ParseError(400, "bad method")
    if version.upper() != b"SIP/2.0":
        if version[:4].upper() == b"SIP/":
            raise ParseError(505, "unsupported SIP version")
        raise ParseError(400, "bad SIP version")
    if status_line:
        code = parts[1] if len(parts) > 1 else b""
        if len(code) != 3 or not code.isdigit() or not 100 <= int(code) <= 699:
            raise ParseError(400, "bad status code")
        msg.status = int(code)
        msg.reason = parts[2] if len(parts) > 2 else b""
    else:
        if ruri[:1] == b"<":
            raise ParseError(400, "Request-URI inside <>")
        msg.ruri = parse_uri(ruri)
        if msg.ruri.headers is not None:
            raise ParseError(400, "Request-URI with headers")
        msg.method = method
        msg.is_request = True
        msg.uri = ruri
    if fault is not None:
        raise fault
    # -- the checks a UA needs: the five headers, Via as often as needed, the others once
    for name in _FIVE:
        n = len(msg.get_all(name))
        if not n:
            raise ParseError(400, "missing %s header" % name.decode())
        if n > 1 and name != b"Via":
            raise ParseError(400, "more than one %s header" % name.decode())
    msg.call_id = msg.get(b"Call-ID")
    if not msg.call_id:
        raise ParseError(400, "empty Call-ID")
    num, _, method = msg.get(b"CSeq").replace(b"\t", b" ").strip().partition(b" ")
    method = method.strip()
    if not is_token(method):
        raise ParseError(400, "CSeq: bad method")
    msg.cseq = parse_uint(num, 0xFFFFFFFF, "CSeq")
    msg.cseq_method = method
    if msg.is_request and method != msg.method:
        raise ParseError(400, "CSeq method is not the request's")
    msg.from_tag = parse_name_addr(msg.get(b"From")).param(b"tag")
    msg.to_tag = parse_name_addr(msg.get(b"To")).param(b"tag")
    vias = msg.values(b"Via")
    msg.branch = parse_via(vias[0]).branch  # the top Via's
    for v in vias[1:]:
        parse_via(v)
    mf = msg.get_all(b"Max-Forwards")
    if len(mf) > 1 or mf and not mf[0].isdigit():
        raise ParseError(400, "Max-Forwards: not one number")
    contacts(msg)
    # -- the body
    cl = None
    for v in msg.get_all(b"Content-Length"):
        if cl is not None and v != cl:
            raise ParseError(400, "conflicting Content-Length headers")
        cl = v
    rest = len(data) - body_start
    if cl is None:
        if not datagram:
            raise ParseError(400, "stream message without Content-Length")
        cl = rest
    else:
        cl = parse_uint(cl, max_size, "Content-Length")
        if cl > rest:
            raise ParseError(400, "body shorter than Content-Length")
    msg.body = data[body_start : body_start + cl]
    return msg


def contacts(msg):
    """Parsed Contact values of a message (the '*' wildcard is skipped)."""
    out = []
    for value in msg.get_all(b"Contact"):
        if value.strip() != b"*":
            for item in split_list(value):
                out.append(parse_name_addr(item))
    return out


def response(req, status, reason=None, to_tag=None):
    """A response to `req` with Via, From, To (+ to_tag), Call-ID and CSeq copied (§8.2.6)."""
    resp = Message(status=status, reason=reason or reason_phrase(status))
    for n, v in req.headers:
        if n in _FIVE:
            if n == b"To" and to_tag and req.to_tag is None and status != 100:
                v = v + b";tag=" + to_tag
            resp.add(n, v)
    return resp


def error_response(data, err):
    """Best-effort response bytes for a request that failed to parse, or None.

    Copies Via, From, To, Call-ID and CSeq lines as received (unfolded); without all of
    them no response can be routed and the caller drops the request instead.
    """
    try:
        line, headers, _, _ = _head(data)
        if line[:4].upper() == b"SIP/":
            return None  # a malformed response is dropped, never answered
        resp = Message(status=err.status, reason=reason_phrase(err.status))
        have = []
        for name, value in headers:
            # every Via line, but one From/To/Call-ID/CSeq (the first): a response that
            # repeats them (RFC 4475 multi01) would be malformed itself
            if name in _FIVE and (name == b"Via" or name not in have):
                resp.add(name, value)
                if name not in have:
                    have.append(name)
        if len(have) < 5:
            return None
        resp.add(b"Warning", b'399 tinysip "' + err.reason.encode() + b'"')
        return resp.to_bytes()
    except Exception:  # noqa: BLE001 - the request was already malformed; drop it
        return None
