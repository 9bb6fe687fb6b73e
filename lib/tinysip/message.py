"""SIP messages (RFC 3261 §7, §8.2.6, §18.3, §20): parse, build, serialise.

Owns: the start line, header lines (compact names, folding, case rules), the checks a UA
needs before it can trust a message (one Call-ID/From/To/CSeq, a Via, CSeq method =
request method, sane Content-Length) and Content-Length framing of a complete message.
Stream reassembly lives in framing.py; header value grammar in headers.py.

Headers are kept as a list of [name, value] in arrival order: MicroPython dicts do not keep
insertion order and SIP cares about the order of same-name headers. Known names are stored
in their canonical spelling, so look-ups use canonical names (b"Call-ID", b"CSeq", ...);
`canon()` maps any spelling or compact form to it.

The header block ends at the first line after the start line that begins with CR or LF
(CRLF CRLF, RFC 3261 §7.5's bare LF LF, and CRLF CR followed by anything else), and the
body starts after that line's CRLF, lone LF or lone CR: the rule of Kamailio 5.6's parser,
so the phone and its proxy agree where a relayed message ends (framing.py has the details).

Caps on what a peer may make the parser build, checked on offsets before anything is
sliced out, so that a message over one costs about its own size to refuse (sized for the
phone's heap, with a wide margin over what real messages carry: a baresip INVITE relayed
by Kamailio has 15 header lines of at most ~95 bytes, RFC 4475 longreq 45 lines, the
longest 594 bytes):
- max_size bytes per message (sip.max_message, 16384): 513 Message Too Large;
- _MAX_HEADERS header lines (64): 400 "more than 64 header lines";
- _MAX_LINE bytes per header value (4096, folded lines joined; room for a registrar's 2xx
  that lists ~10 bindings with GRUUs on one Contact line) and per name: 400 naming it;
  no value may hold more than 2 x _MAX_PARAMS ';' per comma-list element;
- uri.MAX_URI bytes of Request-URI (1024): 414 Request-URI Too Long; of another URI: 400;
- uri.MAX_PARAMS parameters per URI, Via or name-addr (32), headers.MAX_VALUES comma-list
  elements per header (64) and _MAX_CONTACTS parsed Contacts (32): 400 naming the cap.
"""
from tinysip.compat import const
from tinysip.errors import ParseError
from tinysip.headers import (STRIP_WS, parse_name_addr, parse_uint, parse_via,
                             split_list, tokens)
from tinysip.uri import is_token, parse_uri

_MAX_HEADERS = const(64)
# the caps of headers.py and uri.py again: private consts are folded, importing costs names
_MAX_VALUES = const(64)
_MAX_PARAMS = const(32)
_MAX_URI = const(1024)
_MAX_LINE = const(4096)
_MAX_CONTACTS = const(32)  # a REGISTER 2xx lists every binding of the AoR

# the five headers a response copies from its request (RFC 3261 §8.2.6); _LOW: their names
# in lower case, each ended by '|', and _COMPACT the compact forms of the first four
_FIVE = (b"Via", b"From", b"To", b"Call-ID", b"CSeq")
_LOW = b"via|from|to|call-id|cseq|"
_COMPACT = b"vfti"


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
        b"|404 Not Found|405 Method Not Allowed|408 Request Timeout|414 Request-URI Too Long"
        b"|415 Unsupported Media Type"
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
        """Comma-list header values across all lines, split outside quotes and <>.

        More than headers.MAX_VALUES of them is a ParseError(400), counted before splitting.
        """
        lines = self.get_all(name)
        n = 0
        for v in lines:
            n += v.count(b",") + 1
        if n > _MAX_VALUES:
            raise ParseError(400, "more than %d %s values" % (_MAX_VALUES, name.decode()))
        out = []
        for v in lines:
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


def _end(data, start):
    """(end, body) for the header block of data whose start line begins at `start`: `end`
    is the LF that ends its last line, `body` where the body starts; (-1, -1) when no line
    after the start line begins with CR or LF (see the module comment)."""
    end = data.find(b"\n\r", start)
    lf = data.find(b"\n\n", start)
    if lf >= 0 and (end < 0 or lf < end):
        return lf, lf + 2
    if end < 0:
        return -1, -1
    return end, end + 3 if end + 2 < len(data) and data[end + 2] == 10 else end + 2


def _what(name):
    """A header name for an error text: only a short token is printable safely."""
    return name.decode() if len(name) <= 40 and is_token(name) else "a"


def _head(data):
    """(start line, headers as [[canonical name, value]], start of the body, fault).

    CR/LF before the start line and bare-LF line ends are tolerated; folded lines are
    joined to the header above. A head that no empty line ends runs to the end of data
    and the body start is -1. `fault` is a ParseError for the first folded line before
    any header or bad header line (kept as it comes), else None: parse() raises it once
    the start line is checked. The caps (module comment) raise at once, before the
    line concerned is sliced out.

    Works on offsets into `data`: each header costs its name and value slices and their
    list, nothing else (no per-line copies, strips or partitions).
    """
    start = 0
    n = len(data)
    while start < n and data[start] in b"\r\n":
        start += 1
    end, body = _end(data, start)
    if end < 0:
        end = n
    if data.count(b"\n", start, end) > _MAX_HEADERS:
        raise ParseError(400, "more than %d header lines" % _MAX_HEADERS)
    headers = []
    fault = None
    first = None
    # two sweeps over the lines: the caps of each line first, so that a line over one is
    # refused before any line is sliced out; then the slices
    for sweep in (0, 1):
        i = start
        while i <= end:
            j = data.find(b"\n", i, end)
            if j < 0:
                j = end
            k = j
            while k > i and data[k - 1] == 13:  # the line without its trailing CRs
                k -= 1
            if i == start:
                if sweep:
                    first = data[i:k]
                elif k - i > _MAX_URI:  # the Request-URI is the text between the first 2 SP
                    s1 = data.find(b" ", i, k)
                    s2 = data.find(b" ", s1 + 1, k) if s1 > i else -1
                    if s2 - s1 > _MAX_URI + 1 and data[i : i + 4].upper() != b"SIP/":
                        raise ParseError(414, "Request-URI longer than %d bytes" % _MAX_URI)
                    if k - i > _MAX_LINE:
                        raise ParseError(400, "start line longer than %d bytes" % _MAX_LINE)
            elif k > i and data[i] in b" \t":  # a folded line continues the header above
                if not sweep:
                    pass  # checked once joined
                elif headers:
                    while i < k and data[i] in STRIP_WS:
                        i += 1
                    while k > i and data[k - 1] in STRIP_WS:
                        k -= 1
                    h = headers[-1]
                    if len(h[1]) + k - i >= _MAX_LINE:
                        raise ParseError(400, "%s header longer than %d bytes" % (
                            _what(h[0]), _MAX_LINE))
                    v = h[1] = (h[1] + b" " + data[i:k]).strip()
                    if v.count(b";") > 2 * _MAX_PARAMS * (v.count(b",") + 1):
                        raise ParseError(400, "%s header with more than %d parameters in one "
                                         "value" % (_what(h[0]), 2 * _MAX_PARAMS))
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
                if sweep:
                    name = canon(data[i:e])
                    if fault is None and not (colon and is_token(name)):
                        fault = ParseError(400, "bad header line")
                    headers.append([name, data[v:k]])
                # no value carries so many ';' in one comma-list element (one that parse()
                # splits is held to _MAX_PARAMS by headers.py)
                elif k - v > _MAX_LINE or e - i > _MAX_LINE or data.count(b";", v, k) > (
                        2 * _MAX_PARAMS * (data.count(b",", v, k) + 1)):
                    what = _what(data[i:e] if e - i < 41 else b"")
                    if k - v > _MAX_LINE or e - i > _MAX_LINE:
                        raise ParseError(400, "%s header longer than %d bytes" % (
                            what, _MAX_LINE))
                    raise ParseError(400, "%s header with more than %d parameters in one "
                                     "value" % (what, 2 * _MAX_PARAMS))
            i = j + 1
    return first, headers, body, fault


def parse(data, max_size=16384, datagram=True):
    """Parse one complete message. Raises ParseError; never anything else on bad input.

    On a datagram (RFC 3261 §18.3) bytes past Content-Length are discarded and a missing
    Content-Length means the body runs to the end. Stream messages come from framing.py,
    which guarantees a Content-Length. A message larger than max_size comes from there as
    its head alone (the framer skips the body): on a stream, a Content-Length that takes
    the message past max_size is a 513 before anything else is checked.
    """
    if len(data) > max_size:
        raise ParseError(513, "message larger than %d bytes" % max_size)
    line, headers, body_start, fault = _head(data)
    if body_start < 0:
        raise ParseError(400, "no empty line ends the headers")
    if not datagram:
        for h in headers:
            if h[0] == b"Content-Length":
                v = h[1].lstrip(b"0")
                if v.isdigit() and len(v) <= 9 and body_start + int(v) > max_size:
                    raise ParseError(513, "message larger than %d bytes" % max_size)
                break
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
    contacts(msg, False)  # valid, one at a time: a list of parsed ones is ~25x the bytes
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


def contacts(msg, keep=True):
    """Parsed Contact values of a message (the '*' wildcard is skipped); more than
    _MAX_CONTACTS of them is a ParseError(400), counted before any is parsed. With `keep`
    False each is parsed (checked) and let go: the list is empty."""
    lines = msg.get_all(b"Contact")
    n = 0
    for value in lines:
        n += value.count(b",") + 1
    if n > _MAX_CONTACTS:
        raise ParseError(400, "more than %d Contact values" % _MAX_CONTACTS)
    out = []
    for value in lines:
        if value.strip() != b"*":
            for item in split_list(value):
                na = parse_name_addr(item)
                if keep:
                    out.append(na)
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


def _which(data, a, e):
    """Index in _FIVE of the header named by data[a:e] (any case, compact forms too), or
    -1; compares in place: a request refused for its size may have hundreds of lines."""
    n = e - a
    if n == 1:
        c = data[a] | 32
        for w in range(4):
            if _COMPACT[w] == c:
                return w
        return -1
    p = 0
    for w in range(5):
        q = _LOW.find(b"|", p)
        if q - p == n:
            m = 0
            while m < n and data[a + m] | 32 == _LOW[p + m]:
                m += 1
            if m == n:
                return w
        p = q + 1
    return -1


def error_response(data, err):
    """Best-effort response bytes for a request that failed to parse, or None.

    Copies Via, From, To, Call-ID and CSeq lines as received (unfolded); without all of
    them no response can be routed and the caller drops the request instead. Reads the
    head by offsets and slices out only those five, so that answering a request refused
    for its size (700 headers, a huge Via) costs about the answer's own size. Of a head
    that no empty line ends (a datagram cut short, or the first max_size bytes of a head
    too large) only whole lines count.
    """
    try:
        n = len(data)
        i = 0
        while i < n and data[i] in b"\r\n":
            i += 1
        if data[i : i + 4].upper() == b"SIP/":
            return None  # a malformed response is dropped, never answered
        end = _end(data, i)[0]
        if end < 0:
            end = data.rfind(b"\n")
        j = data.find(b"\n", i, end)
        i = end + 1 if j < 0 else j + 1  # past the start line
        out = [b"SIP/2.0 %d %s\r\n" % (err.status, reason_phrase(err.status))]
        have = 0  # bit w: _FIVE[w] copied
        vias = 0
        take = False  # the header above was copied: so are its folded lines
        while i <= end:
            j = data.find(b"\n", i, end)
            if j < 0:
                j = end
            k = j
            while k > i and data[k - 1] in STRIP_WS:
                k -= 1
            if k > i and data[i] in b" \t":
                if take:
                    while data[i] in STRIP_WS:
                        i += 1
                    out[-1] = b" "  # in place of the line end
                    out.append(data[i:k])
                    out.append(b"\r\n")
            else:
                take = False
                c = data.find(b":", i, k)
                a = i
                while a < c and data[a] in STRIP_WS:
                    a += 1
                e = c
                while e > a and data[e - 1] in STRIP_WS:
                    e -= 1
                w = _which(data, a, e) if c > a else -1
                if w == 0 or w > 0 and not have & (1 << w):
                    have |= 1 << w
                    if w == 0:
                        vias += 1
                        if vias > _MAX_HEADERS:
                            return None
                    c += 1
                    while c < k and data[c] in STRIP_WS:
                        c += 1
                    out.append(_FIVE[w])
                    out.append(b": ")
                    out.append(data[c:k])
                    out.append(b"\r\n")
                    take = True
            i = j + 1
        if have != 31:
            return None
        out.append(b'Warning: 399 tinysip "%s"\r\nContent-Length: 0\r\n\r\n'
                   % err.reason.encode())
        return b"".join(out)
    except Exception:  # noqa: BLE001 - the request was already malformed; drop it
        return None
