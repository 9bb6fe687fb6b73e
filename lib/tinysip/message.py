"""SIP messages (RFC 3261 §7, §8.2.6, §18.3, §20): parse, build, serialise.

Owns: the start line, header lines (compact names, folding, case rules), the checks a UA
needs before it can trust a message (one Call-ID/From/To/CSeq, a Via, CSeq method =
request method, sane Content-Length, the grammar of the Request-URI, Via, From, To and
Contact) and Content-Length framing of a complete message. Stream reassembly lives in
framing.py; header value grammar in headers.py.

A received message is an index into its receive buffer (Message.pos, offsets; see
parse()): the checks run on the bytes where they lie, and only what the UA reads is
sliced out: Call-ID, CSeq, the From/To tags and the top Via's branch at once; every other
value, the body, the Request-URI and the header list when first read. Unchanged, it is
written back as it came. Headers of a message the UA builds are a list of [name, value]
in arrival order: MicroPython dicts do not keep insertion order and SIP cares about the
order of same-name headers. Names are canonical (b"Call-ID", b"CSeq", ...); `canon()`
maps any spelling or compact form to it.

The header block ends at the first line after the start line that begins with CR or LF
(CRLF CRLF, RFC 3261 §7.5's bare LF LF, and CRLF CR followed by anything else), and the
body starts after that line's CRLF, lone LF or lone CR: the rule of Kamailio 5.6's parser,
so the phone and its proxy agree where a relayed message ends (framing.py has the details).

Caps on what a peer may make the parser build, checked on offsets before anything is
sliced out, so that a message over one costs about its own size to refuse (sized for the
phone's heap, with a wide margin over what real messages carry: a baresip INVITE relayed
by Kamailio has 15 header lines of at most ~95 bytes, RFC 4475 longreq 45 lines, the
longest 594 bytes):
- max_size bytes per message (sip.max_message, 16384; offsets are 16-bit, so never more
  than 65535): 513 Message Too Large;
- _MAX_HEADERS header lines (64): 400 "more than 64 header lines";
- _MAX_LINE bytes per header value (4096, folded lines joined; room for a registrar's 2xx
  that lists ~10 bindings with GRUUs on one Contact line) and per name: 400 naming it;
  no value may hold more than 2 x _MAX_PARAMS ';' per comma-list element;
- uri.MAX_URI bytes of Request-URI (1024): 414 Request-URI Too Long; of another URI: 400;
- uri.MAX_PARAMS parameters per URI, Via or name-addr (32), headers.MAX_VALUES comma-list
  elements per header (64) and _MAX_CONTACTS parsed Contacts (32): 400 naming the cap.
"""
from array import array

# headers.py and uri.py by their modules (all but the two used in every loop): two globals
# here instead of ten keep this module's dict on the phone a size smaller
from tinysip import headers, uri
from tinysip.compat import MICROPYTHON, const
from tinysip.errors import ParseError, nth
from tinysip.headers import STRIP_WS
from tinysip.uri import is_token

# The texts of the faults this module names, one string (errors.nth): line _T_X.
_T = (
    "more than %d %s values\nmessage larger than %d bytes\nmore than %d header lines\n"
    "Request-URI longer than %d bytes\nstart line longer than %d bytes\n"
    "folded line before any header\n%s header longer than %d bytes\nbad header line\n"
    "no empty line ends the headers\nrequest line: not METHOD URI SIP/2.0\nbad method\n"
    "unsupported SIP version\nbad SIP version\nbad status code\nRequest-URI inside <>\n"
    "Request-URI with headers\nmissing %s header\nmore than one %s header\n"
    "empty Call-ID\nCSeq: bad method\nCSeq method is not the request's\n"
    "Max-Forwards: not one number\nconflicting Content-Length headers\n"
    "body shorter than Content-Length\nstream message without Content-Length\n"
    "empty list element\nmore than %d Contact values\n"
    "%s header with more than %d parameters in one value"
)
_T_MORE_THAN_VALUES = const(0)
_T_MESSAGE_LARGER_THAN_BYTE = const(1)
_T_MORE_THAN_HEADER_LINES = const(2)
_T_REQUEST_URI_LONGER_THAN = const(3)
_T_START_LINE_LONGER_THAN_B = const(4)
_T_FOLDED_LINE_BEFORE_ANY_H = const(5)
_T_HEADER_LONGER_THAN_BYTES = const(6)
_T_BAD_HEADER_LINE = const(7)
_T_NO_EMPTY_LINE_ENDS_THE_H = const(8)
_T_REQUEST_LINE_NOT_METHOD = const(9)
_T_BAD_METHOD = const(10)
_T_UNSUPPORTED_SIP_VERSION = const(11)
_T_BAD_SIP_VERSION = const(12)
_T_BAD_STATUS_CODE = const(13)
_T_REQUEST_URI_INSIDE = const(14)
_T_REQUEST_URI_WITH_HEADERS = const(15)
_T_MISSING_HEADER = const(16)
_T_MORE_THAN_ONE_HEADER = const(17)
_T_EMPTY_CALL_ID = const(18)
_T_CSEQ_BAD_METHOD = const(19)
_T_CSEQ_METHOD_IS_NOT_THE_R = const(20)
_T_MAX_FORWARDS_NOT_ONE_NUM = const(21)
_T_CONFLICTING_CONTENT_LENG = const(22)
_T_BODY_SHORTER_THAN_CONTEN = const(23)
_T_STREAM_MESSAGE_WITHOUT_C = const(24)
_T_EMPTY_LIST_ELEMENT = const(25)
_T_MORE_THAN_CONTACT_VALUES = const(26)
_T_HEADER_WITH_MORE_THAN_PA = const(27)


_MAX_HEADERS = const(64)
# the caps of headers.py and uri.py again: private consts are folded, importing costs names
_MAX_VALUES = const(64)
_MAX_PARAMS = const(32)
_MAX_URI = const(1024)
_MAX_LINE = const(4096)
_MAX_CONTACTS = const(32)  # a REGISTER 2xx lists every binding of the AoR
# Message.pos of a received message: [0] where the start line starts, [1] where it ends,
# [2] [3] its first and second SP (or its end), [4] [5] where the body starts and ends,
# [6] 1 if the bytes may be sent again as they are, [7 + kind] the first entry of each of
# the 8 kinds of _NAMES (0: none); then from _HEAD 4 per header line (an entry): where its
# name starts, its ':', where its value ends, its kind (index in _NAMES, 255: another)
_HEAD = const(15)
_OTHER = const(255)

# the headers the parser reads, by kind: the first five are the ones a response copies
# from its request (RFC 3261 §8.2.6)
_NAMES = (b"Via", b"From", b"To", b"Call-ID", b"CSeq", b"Contact", b"Content-Length",
          b"Max-Forwards")
# by the length of a name (up to 14): [0:15] the kind of the first of _NAMES that long
# (254: a compact form, 255: none), [15:30] of the second one; [30:] the compact form of
# each kind
_KINDS = const(b"\xff\xfe\x02\x00\x01\xff\xff\x03\xff\xff\xff\xff\x07\xff\x06"
                b"\xff\xff\xff\xff\x04\xff\xff\x05\xff\xff\xff\xff\xff\xff\xff"
                b"vfti\x00ml\x00")


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


def _which(data, a, e):
    """The kind (index in _NAMES) of the header named data[a:e], any case, compact forms
    too; -1 for another name. Compares in place."""
    m = e - a
    if m == 1:
        for w in range(8):
            if _KINDS[30 + w] == data[a] | 32:
                return w
        return -1
    w = _KINDS[m] if 1 < m < 15 else 255
    if w < 8 and not uri.same(data, a, e, _NAMES[w]):
        w = _KINDS[15 + m]
        if w < 8 and not uri.same(data, a, e, _NAMES[w]):
            w = 255
    return w if w < 8 else -1


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


def _value(data, pos, x):
    """The value of header entry x of the index pos (a slice of data)."""
    v = pos[x + 1] + 1
    k = pos[x + 2]
    while v < k and data[v] in STRIP_WS:
        v += 1
    return data[v:k]


class Message:
    """A request (method set) or a response (status set).

    `uri` is the Request-URI as bytes and `ruri` its parsed Uri; `headers` a list of
    [name, value]; `body` bytes; `is_request` says method is set. Parsing also sets
    call_id, cseq, cseq_method, from_tag, to_tag and branch (the top Via's).

    A received message keeps its bytes (`buf`) and their index (`pos`); uri, ruri, reason,
    body and headers are sliced out when first read (__getattr__). add(), set(), remove()
    and reading `headers` copy the headers out into the list and drop the index: change a
    received message through them (assigning its `headers` instead leaves the index in
    use); to_bytes() then writes it anew.
    """

    pos = None
    status = 0
    is_request = False

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

    def __getattr__(self, name):
        """The fields of a received message that are read from its bytes when first used."""
        p = self.pos
        d = self.buf if p is not None else None
        if name == "ruri":  # from `uri`, which a parsed message keeps once it drops p
            v = uri.parse_uri(self.uri) if self.is_request else None
        elif p is None:
            raise AttributeError(name)
        elif name == "body":
            v = d[p[4] : p[5]]
        elif name == "method":
            v = d[p[0] : p[2]] if self.is_request else None
        elif name == "cseq_method":  # a request's (a response's is read at once)
            v = self.method
        elif name == "uri":
            v = d[p[2] + 1 : p[3]] if self.is_request else None
        elif name == "reason":
            v = b"" if self.is_request else d[p[3] + 1 : p[1]]
        elif name == "headers":
            v = []
            for x in range(_HEAD, len(p), 4):
                e = p[x + 1]
                while d[e - 1] in STRIP_WS:
                    e -= 1
                v.append([canon(d[p[x] : e]), _value(d, p, x)])
            # read (and kept) while p is there
            self.body, self.uri, self.reason, self.method, self.cseq_method  # noqa: B018
            self.pos = None  # the list is the headers now: it may change
        else:
            raise AttributeError(name)
        setattr(self, name, v)
        return v

    # -- header access (canonical names) -------------------------------------------
    def _next(self, name, x):
        """The next entry of the index at or after entry x with the header `name`, or 0."""
        p = self.pos
        w = _NAMES.index(name) if name in _NAMES else _OTHER
        if w != _OTHER and (x <= p[7 + w] or not p[7 + w]):
            return p[7 + w]
        n = len(name)
        d = self.buf
        for y in range(x, len(p), 4):
            if p[y + 3] == w:
                if w != _OTHER:
                    return y
                a = p[y]
                e = p[y + 1]
                while d[e - 1] in STRIP_WS:
                    e -= 1
                # the name in any letter case, or its compact form (header names are
                # case-insensitive, RFC 3261 §7.3.1)
                if e - a == n and uri.same(d, a, e, name) or (
                        e - a == 1 and canon(d[a:e]) == name):
                    return y
        return 0

    def get(self, name, default=None):
        """First value of a header, or default. Header names compare in any letter case
        (RFC 3261 §7.3.1; known names are kept canonical anyway)."""
        if self.pos is None:
            for h in self.headers:
                if h[0] == name or uri.same(h[0], 0, len(h[0]), name):
                    return h[1]
            return default
        p = self.pos
        x = p[7 + _NAMES.index(name)] if name in _NAMES else self._next(name, _HEAD)
        return _value(self.buf, p, x) if x else default

    def get_all(self, name):
        """Every line's value for a header, in order (no comma splitting)."""
        out = []
        if self.pos is None:
            for h in self.headers:
                if h[0] == name or uri.same(h[0], 0, len(h[0]), name):
                    out.append(h[1])
            return out
        x = self._next(name, _HEAD)
        while x:
            out.append(_value(self.buf, self.pos, x))
            x = self._next(name, x + 4)
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
            raise ParseError(400, nth(_T, _T_MORE_THAN_VALUES) % (_MAX_VALUES, name.decode()))
        out = []
        for v in lines:
            out.extend(headers.split_list(v))
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
            if h[0] != name and not uri.same(h[0], 0, len(h[0]), name):
                out.append(h)
        self.headers = out

    def has_tag(self, header, tag):
        """True if the option tag is listed in a Supported/Require-style header."""
        return tag in headers.tokens(self.get_all(header))

    # -- serialisation ---------------------------------------------------------------
    def to_bytes(self):
        """Wire form; Content-Length is always written from the body. A received message
        nothing changed is its bytes as they came (less any past Content-Length)."""
        p = self.pos
        if p is not None and p[6]:  # unless someone assigned another start line or body
            d = self.buf
            v = (self.method + b" " + self.uri + b" SIP/2.0\r\n" if self.is_request
                 else b"SIP/2.0 %d " % self.status + self.reason + b"\r\n")
            b = self.body
            if p[0] + len(v) == p[1] + 2 and d.startswith(v, p[0]) and (
                    len(b) == p[5] - p[4] and d.startswith(b, p[4])):
                return d if p[0] == 0 and p[5] == len(d) else d[p[0] : p[5]]
        if self.is_request:
            out = [self.method, b" ", self.uri, b" SIP/2.0\r\n"]
        else:
            out = [b"SIP/2.0 %d " % self.status, self.reason, b"\r\n"]
        for name, value in self.headers:
            if name != _NAMES[6]:  # Content-Length
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


def parse(data, max_size=16384, datagram=True):
    """Parse one complete message. Raises ParseError; never anything else on bad input.

    On a datagram (RFC 3261 §18.3) bytes past Content-Length are discarded and a missing
    Content-Length means the body runs to the end. Stream messages come from framing.py,
    which guarantees a Content-Length. A message larger than max_size comes from there as
    its head alone (the framer skips the body): on a stream, a Content-Length that takes
    the message past max_size is a 513 before anything else is checked.

    CR/LF before the start line and bare-LF line ends are tolerated; folded lines are
    joined to the header above. The result indexes `data` (see Message): every check
    reads the bytes in place and each header costs the index 4 offsets, nothing else.
    """
    n = len(data)
    if n > max_size or n > 65535:
        raise ParseError(513, nth(_T, _T_MESSAGE_LARGER_THAN_BYTE) % min(max_size, 65535))
    s = 0
    while s < n and data[s] in b"\r\n":
        s += 1
    end, body = _end(data, s)
    if end < 0:
        end = n
    if data.count(b"\n", s, end) > _MAX_HEADERS:
        raise ParseError(400, nth(_T, _T_MORE_THAN_HEADER_LINES) % _MAX_HEADERS)
    # -- the caps (module comment), before anything is sliced out
    j = data.find(b"\n", s, end)
    if j < 0:
        j = end
    k = j
    while k > s and data[k - 1] == 13:
        k -= 1
    if k - s > _MAX_URI:  # the Request-URI is the text between the first two SP
        a = data.find(b" ", s, k)
        e = data.find(b" ", a + 1, k) if a > s else -1
        if e - a > _MAX_URI + 1 and not uri.same(data, s, s + 4, b"SIP/"):
            raise ParseError(414, nth(_T, _T_REQUEST_URI_LONGER_THAN) % _MAX_URI)
        if k - s > _MAX_LINE:
            raise ParseError(400, nth(_T, _T_START_LINE_LONGER_THAN_B) % _MAX_LINE)
    # the caps of each header line are checked below: only so large a head, or one with
    # so many ';', can break one
    big = end - j > _MAX_LINE or data.count(b";", j, end) > 2 * _MAX_PARAMS
    fault = None
    if data.find(b"\n ", s, end + 1) >= 0 or data.find(b"\n\t", s, end + 1) >= 0:
        # folded lines (RFC 3261 §7.3.1; rare): the message again, each joined to the line
        # above, with the caps of each joined value checked
        out = []
        i = j + 1
        out.append(data[s:i])
        name = None  # the header being joined: its "name:" part and its value so far
        while i < end:  # (a joined line ends in a bare LF: to_bytes() writes it anew)
            j = data.find(b"\n", i, end)
            if j < 0:
                j = end
            if data[i] in b" \t":
                if name is None and fault is None and len(out) == 1:
                    fault = ParseError(400, nth(_T, _T_FOLDED_LINE_BEFORE_ANY_H))
                elif name is not None:
                    v = data[i:j].strip()
                    over = len(value) + len(v) >= _MAX_LINE
                    if not over:
                        value = (value + b" " + v).strip()
                    if over or value.count(b";") > 2 * _MAX_PARAMS * (value.count(b",") + 1):
                        v = canon(name[:-1].strip())
                        v = v.decode() if len(v) <= 40 and is_token(v) else "a"
                        raise ParseError(400, nth(_T, _T_HEADER_LONGER_THAN_BYTES) % (
                            v, _MAX_LINE) if over else nth(_T, _T_HEADER_WITH_MORE_THAN_PA) % (
                            v, 2 * _MAX_PARAMS))
                    out[-1] = name + value + b"\n"
            else:
                c = data.find(b":", i, j)
                name = data[i : c + 1] if c >= 0 else None
                value = data[c + 1 : j].strip()
                out.append(data[i : j + 1])
            i = j + 1
        if body >= 0:
            out.append(data[end + 1 :])
        j = len(out[0]) - 1  # the start line, now at 0
        k -= s
        s = 0
        data = b"".join(out)
        n = len(data)
        end, body = _end(data, 0)
        if end < 0:
            end = n
    # -- the index: the start line, then an entry per header line
    p = array("H", b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                   b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")
    p[0] = s
    p[1] = k
    seen = dup = 0  # bit w: a header of kind w, two of them
    i = j + 1
    while i < end:  # (no line here is empty or starts with SP, HTAB, CR or LF)
        j = data.find(b"\n", i, end)
        if j < 0:
            j = end
        k = j - 1 if data[j - 1] == 13 else j
        if data[k - 1] in STRIP_WS:
            while k > i and data[k - 1] in STRIP_WS:
                k -= 1
        c = data.find(b":", i, k)
        a = i
        w = -1
        if i < c and not big:
            # the kind: a name spelled as _NAMES has it is told by its length and one compare
            w = _KINDS[c - i] if c < i + 15 else _OTHER
            if w < 8 and not data.startswith(_NAMES[w], i) or w == 254:
                w = _which(data, i, c)
                if w < 0:
                    w = _OTHER
            if w == _OTHER and not is_token(data, None, i, c):
                w = -1
        if w < 0:  # LWS around the name ("Via :"), no name or a bad one; a large head
            e = c if c >= 0 else k
            while a < e and data[a] in STRIP_WS:
                a += 1
            while e > a and data[e - 1] in STRIP_WS:
                e -= 1
            if big:  # no value carries so many ';' in one comma-list element (one that is
                # checked below is held to _MAX_PARAMS by headers.py)
                v = e if c < 0 else c + 1
                while v < k and data[v] in STRIP_WS:
                    v += 1
                if k - v > _MAX_LINE or e - a > _MAX_LINE or data.count(b";", v, k) > (
                        2 * _MAX_PARAMS * (data.count(b",", v, k) + 1)):
                    what = data[a:e] if e - a < 41 else b""
                    what = what.decode() if is_token(what) else "a"
                    if k - v > _MAX_LINE or e - a > _MAX_LINE:
                        raise ParseError(400, nth(_T, _T_HEADER_LONGER_THAN_BYTES) % (
                            what, _MAX_LINE))
                    raise ParseError(400, nth(_T, _T_HEADER_WITH_MORE_THAN_PA) % (
                        what, 2 * _MAX_PARAMS))
            if c >= 0 and e > a:
                w = _which(data, a, e)
                if w < 0 and is_token(data, None, a, e):
                    w = _OTHER
        if w < 0:
            if fault is None:
                fault = ParseError(400, nth(_T, _T_BAD_HEADER_LINE))
        else:
            if w == _OTHER:
                pass
            elif seen & (1 << w):
                dup |= 1 << w
            else:
                seen |= 1 << w
                p[7 + w] = len(p)
            p.append(a)
            p.append(c)
            p.append(k)
            p.append(w)
        i = j + 1
    if body < 0:
        raise ParseError(400, nth(_T, _T_NO_EMPTY_LINE_ENDS_THE_H))
    x = p[13]  # the first Content-Length
    if not datagram and x:
        a = p[x + 1] + 1
        e = p[x + 2]
        while a < e and data[a] in STRIP_WS:
            a += 1
        if body + headers.parse_uint(data, 999999999, None, a, e) > max_size:
            raise ParseError(513, nth(_T, _T_MESSAGE_LARGER_THAN_BYTE) % max_size)
    msg = object.__new__(Message)
    msg.buf = data
    msg.pos = p
    # -- the start line; the SIP-Version string is case-insensitive (RFC 3261 §7.1), we
    # always send "SIP/2.0"
    s = p[0]
    k = p[1]
    a = data.find(b" ", s, k)
    e = data.find(b" ", a + 1, k) if a >= 0 else -1
    status_line = uri.same(data, s, s + 4, b"SIP/") if k - s >= 4 else False
    if status_line:
        if a < 0:
            a = k
        if e < 0:
            e = k
        v = s
        c = a
    else:
        if a < 0 or e < 0 or data.find(b" ", e + 1, k) >= 0:
            raise ParseError(400, nth(_T, _T_REQUEST_LINE_NOT_METHOD))
        if not is_token(data, None, s, a):
            raise ParseError(400, nth(_T, _T_BAD_METHOD))
        v = e + 1
        c = k
    p[2] = a
    p[3] = e
    if not uri.same(data, v, c, b"SIP/2.0"):
        if c - v >= 4 and uri.same(data, v, v + 4, b"SIP/"):
            raise ParseError(505, nth(_T, _T_UNSUPPORTED_SIP_VERSION))
        raise ParseError(400, nth(_T, _T_BAD_SIP_VERSION))
    raw = data.startswith(b"SIP/2.0", v)  # spelled as we send it
    if status_line:
        code = headers.parse_uint(data, 699, None, a + 1, e) if e - a == 4 else -1
        if not 100 <= code <= 699:
            raise ParseError(400, nth(_T, _T_BAD_STATUS_CODE))
        msg.status = code
    else:
        if data[a + 1] == 60:
            raise ParseError(400, nth(_T, _T_REQUEST_URI_INSIDE))
        if uri.parse_uri(data, a + 1, e, False) >= 0:
            raise ParseError(400, nth(_T, _T_REQUEST_URI_WITH_HEADERS))
        msg.is_request = True
    if fault is not None:
        raise fault
    # -- the checks a UA needs: the five headers, Via as often as needed, the others once
    for w in range(5):
        if not seen & (1 << w):
            raise ParseError(400, nth(_T, _T_MISSING_HEADER) % _NAMES[w].decode())
        if w and dup & (1 << w):
            raise ParseError(400, nth(_T, _T_MORE_THAN_ONE_HEADER) % _NAMES[w].decode())
    msg.call_id = _value(data, p, p[10])
    if not msg.call_id:
        raise ParseError(400, nth(_T, _T_EMPTY_CALL_ID))
    x = p[11]  # CSeq: number SP method, LWS around both
    a = p[x + 1] + 1
    k = p[x + 2]
    while a < k and data[a] in STRIP_WS:
        a += 1
    e = data.find(b" ", a, k)
    c = data.find(b"\t", a, k if e < 0 else e)
    e = c if c >= 0 else k if e < 0 else e
    c = e
    while c < k and data[c] in STRIP_WS:
        c += 1
    if not is_token(data, None, c, k):
        raise ParseError(400, nth(_T, _T_CSEQ_BAD_METHOD))
    while e > a and data[e - 1] in STRIP_WS:  # (a CR, VT or FF may end the number too)
        e -= 1
    msg.cseq = headers.parse_uint(data, 0xFFFFFFFF, "CSeq", a, e)
    if msg.is_request:  # the same bytes as the method of the request line, compared in place
        e = p[2] - s
        if k - c != e:
            e = -1
        for a in range(e):
            if data[c + a] != data[s + a]:
                e = -1
        if e < 0:
            raise ParseError(400, nth(_T, _T_CSEQ_METHOD_IS_NOT_THE_R))
    else:
        msg.cseq_method = data[c:k]
    # the From and To tags
    msg.from_tag = headers.parse_name_addr(data, p[p[8] + 1] + 1, p[p[8] + 2], False)
    msg.to_tag = headers.parse_name_addr(data, p[p[9] + 1] + 1, p[p[9] + 2], False)
    msg.branch = _check(data, p, 0, dup)  # every Via, and the top one's branch
    x = p[14]
    if x:
        if dup & 128:
            raise ParseError(400, nth(_T, _T_MAX_FORWARDS_NOT_ONE_NUM))
        a = p[x + 1] + 1
        k = p[x + 2]
        while a < k and data[a] in STRIP_WS:
            a += 1
        e = a
        while e < k and 48 <= data[e] <= 57:
            e += 1
        if e == a or e < k:
            raise ParseError(400, nth(_T, _T_MAX_FORWARDS_NOT_ONE_NUM))
    if p[12]:
        _check(data, p, 5, dup)  # every Contact, one at a time
    # -- the body
    x = p[13]
    rest = n - body
    if x:
        a = p[x + 1] + 1
        e = p[x + 2]
        while a < e and data[a] in STRIP_WS:
            a += 1
        y = msg._next(_NAMES[6], x + 4)
        raw = raw and not y and (data[a] != 48 or e - a == 1)
        while y:
            c = p[y + 1] + 1
            while c < p[y + 2] and data[c] in STRIP_WS:
                c += 1
            if p[y + 2] - c != e - a or not data.startswith(data[a:e], c):
                raise ParseError(400, nth(_T, _T_CONFLICTING_CONTENT_LENG))
            y = msg._next(_NAMES[6], y + 4)
        cl = headers.parse_uint(data, max_size, "Content-Length", a, e)
        if cl > rest:
            raise ParseError(400, nth(_T, _T_BODY_SHORTER_THAN_CONTEN))
    else:
        if not datagram:
            raise ParseError(400, nth(_T, _T_STREAM_MESSAGE_WITHOUT_C))
        cl = rest
        raw = False
    p[4] = body
    p[5] = body + cl
    # sent again as it came only with CRLF line ends and one Content-Length as we write it
    p[6] = raw and data.count(b"\n", s, body) == data.count(b"\r\n", s, body) and data[
        body - 2] == 13
    return msg


def _check(data, pos, c, d):
    """Check in place each element of every Via (return the top one's branch) or Contact
    line (the '*' wildcard skipped): the headers of kind c of the index pos (d: the kinds
    with more than one line, as bits)."""
    p = pos
    w = c
    x = p[7 + w]
    stop = len(p) if d & (1 << w) else x + 1
    n = 0  # count the elements first: each check costs
    for y in range(x, stop, 4):
        if p[y + 3] == w:
            n += data.count(b",", p[y + 1], p[y + 2]) + 1
    if n > (_MAX_CONTACTS if w else _MAX_VALUES):
        raise ParseError(400, nth(_T, _T_MORE_THAN_VALUES) % (
            (_MAX_CONTACTS, "Contact") if w else (_MAX_VALUES, "Via")))
    got = None
    for sweep in (0, 1):  # no element is empty, then the grammar of each
        for y in range(x, stop, 4):
            if p[y + 3] != w:
                continue
            a = p[y + 1] + 1
            k = p[y + 2]
            while a < k and data[a] in STRIP_WS:
                a += 1
            if w and k - a == 1 and data[a] == 42:  # "*"
                continue
            one = sweep and data.find(b",", a, k) < 0  # (sweep 0 checked the '"' and '<')
            while a <= k:
                e = k if one else headers.element_end(data, a, k, 44)
                c = e
                while a < c and data[a] in STRIP_WS:
                    a += 1
                while c > a and data[c - 1] in STRIP_WS:
                    c -= 1
                if not sweep:
                    if a == c:
                        raise ParseError(400, nth(_T, _T_EMPTY_LIST_ELEMENT))
                elif w:
                    headers.parse_name_addr(data, a, c, None)
                elif got is None:
                    got = headers.parse_via(data, a, c, False) or b""
                else:
                    headers.parse_via(data, a, c, None)
                a = e + 1
    return got or None


def contacts(msg, keep=True):
    """Parsed Contact values of a message (the '*' wildcard is skipped); more than
    _MAX_CONTACTS of them is a ParseError(400), counted before any is parsed. With `keep`
    False each is checked in place and the list holds (value, start, end) of each: a
    Contact parsed costs ~3 KB (64-bit), so a REGISTER 2xx parses only ours
    (register.find_binding)."""
    lines = msg.get_all(_NAMES[5])  # Contact
    n = 0
    for value in lines:
        n += value.count(b",") + 1
    if n > _MAX_CONTACTS:
        raise ParseError(400, nth(_T, _T_MORE_THAN_CONTACT_VALUES) % _MAX_CONTACTS)
    out = []
    for value in lines:
        if value.find(b"*") >= 0 and value.strip() == b"*":
            continue
        if keep:
            for item in headers.split_list(value):
                out.append(headers.parse_name_addr(item))
            continue
        p = 0
        b = len(value)
        while p <= b:  # (an empty element fails the check as a URI would)
            q = headers.element_end(value, p, b, 44)
            headers.parse_name_addr(value, p, q, None)
            out.append((value, p, q))
            p = q + 1
    return out


def response(req, status, reason=None, to_tag=None):
    """A response to `req` with Via, From, To (+ to_tag), Call-ID and CSeq copied (§8.2.6)."""
    resp = Message(status=status, reason=reason or reason_phrase(status))
    p = req.pos
    for x in range(_HEAD, len(p), 4) if p is not None else req.headers:
        if p is None:
            w = _NAMES.index(x[0]) if x[0] in _NAMES else _OTHER
            v = x[1]
        else:
            w = p[x + 3]
            v = _value(req.buf, p, x) if w < 5 else None
        if w < 5:
            if w == 2 and to_tag and req.to_tag is None and status != 100:
                v = v + b";tag=" + to_tag
            resp.add(_NAMES[w], v)
    return resp


def response_bytes(req, status, reason=None, name=None, value=()):
    """The bytes of response(req, status, reason) with one more header `name` (its value
    in pieces, `value`), no body. A parsed request is answered from its index, without a
    Message, its header list and to_bytes() (a third of the garbage): each line response()
    copies (Via, From, To, Call-ID, CSeq, in their order) is sliced out as it came when
    response() would write it so, and runs of such lines as one slice."""
    p = req.pos
    if p is None:  # a request built here (tests) or whose headers were copied out
        r = response(req, status, reason)
        if name is not None:
            r.add(name, b"".join(value))
        return r.to_bytes()
    d = req.buf
    out = [b"SIP/2.0 %d %s\r\n" % (status, reason or reason_phrase(status))]
    s = e = -1  # the run of lines kept as they came
    for i in range(_HEAD, len(p), 4):
        w = p[i + 3]
        if w < 5:
            n = _NAMES[w]
            a = p[i]
            c = p[i + 1]
            k = p[i + 2]
            v = c + 1
            while v < k and d[v] in STRIP_WS:
                v += 1
            if c - a == len(n) and v == c + 2 and d[c + 1] == 32 and d.startswith(n, a):
                if e < 0 or a != e + 2 or d[e] != 13 or d[e + 1] != 10:  # a new run
                    if e >= 0:
                        out.append(d[s:e])
                        out.append(b"\r\n")
                    s = a
                e = k  # "Name: value" as it came, CRLF after it
                continue
            if e >= 0:
                out.append(d[s:e])
                out.append(b"\r\n")
                e = -1
            out.append(n + b": " + d[v:k])
            out.append(b"\r\n")
    if e >= 0:
        out.append(d[s:e])
        out.append(b"\r\n")
    if name is not None:
        out.append(name)
        out.append(b": ")
        out += value
        out.append(b"\r\n")
    out.append(b"Content-Length: 0\r\n\r\n")
    return b"".join(out)


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
        have = 0  # bit w: _NAMES[w] copied
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
                if w == 0 or 0 < w < 5 and not have & (1 << w):
                    have |= 1 << w
                    if w == 0:
                        vias += 1
                        if vias > _MAX_HEADERS:
                            return None
                    c += 1
                    while c < k and data[c] in STRIP_WS:
                        c += 1
                    out.append(_NAMES[w])
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


if not MICROPYTHON:  # CPython: the same parser in a few large regular expressions (C calls
    # are what costs there; tinysip/fastparse.py, which never goes to the phone)
    parse = getattr(__import__("tinysip.fastparse", None, None, ("parse",)), "parse", parse)
