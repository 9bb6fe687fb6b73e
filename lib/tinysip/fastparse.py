"""message.parse() on CPython: the same result in a few C calls (never shipped to the phone).

message.py's parser walks a received message byte by byte through offsets, as it must on
the phone (nothing sliced out that the UA does not read), but on CPython each of its ~300
small calls per message costs ~100 ns. This module gives the same Message from one large
compiled regular expression instead:

- _HEAD matches the start line and every header line in one call: each line by its kind
  (Via, From, To, Call-ID, CSeq, Contact, Content-Length, Max-Forwards, or another name),
  each checked kind against a grammar that is a *subset* of what message.py's checks
  accept (headers.py, uri.py: the Request-URI, name-addr/addr-spec and their parameters,
  Via elements, CSeq, numbers, at most 64 lines); conditional groups (?(n)...) refuse a
  second From, To, Call-ID, CSeq, Content-Length or Max-Forwards. It captures what
  parse() slices out at once (Call-ID, CSeq number and method, the first tag of From and
  To, the first branch of the top Via, Content-Length) and the first value of each kind
  (what get() returns). Every piece of it matches one way only: an ambiguous one would
  backtrack exponentially over a long list that fails in the end;
- a few counts (';' and the lengths of lines against message.py's caps, the Via and
  Contact elements when there are several lines) in C, the rest in Python.

Whatever falls outside that subset (folded lines, bare LF line ends, LWS before a ':' or
at the end of a line, a quoted string with '<' in an addr-spec, a head over the caps, more
than 32 ';' on a checked line, ...), and every message message.py rejects, goes to
message.py's parser, which then decides. So acceptance, the ParseError's status and
reason, the index (Message.pos) and every field are the same by construction where the
subset is right; host_tests/test_fastparse.py checks that they are, message by message,
over every RFC 4475/5118 vector, every message the protocol unit tests parse and a seeded
mutation fuzz.

The Message is a Received (a Message subclass): the fields the UA reads of nearly every
message (method, uri, reason, body) are set at once instead of sliced when first read;
the index is made when something first reads `pos` (from _LINE.findall(): the lengths of
each line's pieces, summed, are its offsets); until then get(), get_all() and to_bytes()
answer from what _HEAD captured. message.py picks this parser when tinysip.compat says it
runs on CPython.
"""
import re
from array import array
from itertools import accumulate, chain, repeat
from operator import itemgetter

from tinysip import message

_slow = message.parse  # message.py's parser: every message outside the subset goes there
_Message = message.Message
_new = object.__new__


def _ci(word):
    """A regular expression for `word` in any letter case ([Vv][Ii][Aa]): faster than
    (?i:...) where an alternation tests the first byte."""
    out = b""
    for c in word:
        ch = bytes((c,))
        out += b"[" + ch.upper() + ch.lower() + b"]" if ch.isalpha() else re.escape(ch)
    return out


# -- the grammar subset (each piece is accepted by headers.py / uri.py as it stands) ----
_TOKEN = rb"[A-Za-z0-9\-.!%*_+`'~]+"
_TOKC = rb"[A-Za-z0-9\-.!%*_+`'~]"
# URI characters (uri.parse_uri: no space, control or DEL), less what would change how
# message.py splits a value: '@' (the first one ends the userinfo), ';' '?' ',' '<' '>' '"'
_USER = rb"[^\x00-\x20\x7f@:;?,<>\"]+"
_HOST = rb"(?:\[[0-9A-Fa-f:.]{2,}\]|[A-Za-z0-9._\-]+)"
# (one way to match each port: an ambiguous pattern backtracks exponentially over a list
# of Vias that does not match in the end)
_PORT = rb"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[0-5][0-9]{4}|[0-9]{1,4})"
_UPARAM = rb";[^\x00-\x20\x7f;?=@<>\",]+(?:=[^\x00-\x20\x7f;?@<>\",]*)?"
_UHEADERS = rb"\?[^\x00-\x20\x7f;@<>\",]*"
_SIP = _ci(b"sip") + rb"[Ss]?:(?:" + _USER + b"(?::" + _USER[:-1] + b"*)?@)?" + _HOST + (
    b"(?::" + _PORT + b")?")
_OTHER = rb"(?!" + _ci(b"sip") + rb"[Ss]?:)[A-Za-z][A-Za-z0-9+.\-]*:"
# the URI of a name-addr (between < and >, at most 1024 bytes) and of an addr-spec (no
# parameters: its ';' starts the header parameters)
_URI_LT = (rb"(?:" + _SIP + b"(?:" + _UPARAM + b")*(?:" + _UHEADERS
           + b")?|" + _OTHER + rb"[^\x00-\x20\x7f<>\",]+)")
_URI_SPEC = (rb"(?:" + _SIP + b"|" + _OTHER
             + rb"[^\x00-\x20\x7f<>\",;?]+)")
# the Request-URI: no headers (message.py: 400); the start line is at most 1024 bytes
_RURI = (b"(?:" + _SIP + b"(?:" + _UPARAM + b"){0,32}|" + _OTHER + rb"[^\x00-\x20\x7f]+)")
# header parameters: a token, or a quoted string (without '<' where message.py would
# take one for the start of a <URI>)
_QS = rb"\"[^\"\\\r\n]*(?:\\[^\r\n][^\"\\\r\n]*)*\""
_QS_NOLT = rb"\"[^\"\\\r\n<]*(?:\\[^\r\n<][^\"\\\r\n<]*)*\""
_HVAL = rb"[^\x00-\x20\x7f;,\"<>\\]+"
_SEMI = rb"[ \t]*;[ \t]*"


def _param(qs):
    return _TOKEN + rb"(?:[ \t]*=[ \t]*(?:" + _HVAL + b"|" + qs + b"))?"


def _params_first(name, group, qs):
    """Header parameters; the value of the first one called `name` (any case) captured
    in `group` (none when it has no value), as headers._params() returns it."""
    other = b"(?!" + _ci(name) + b"(?!" + _TOKC + b"))" + _param(qs)
    return (b"(?:" + _SEMI + other + b")*(?:" + _SEMI + _ci(name) + rb"(?:[ \t]*=[ \t]*(?P<"
            + group + b">" + _HVAL + b"|" + qs + b"))?(?:" + _SEMI + _param(qs) + b")*)?")


def _params(qs):
    return b"(?:" + _SEMI + _param(qs) + b")*"


_DISPLAY = rb"(?:" + _QS + rb"[ \t]*|" + _TOKEN + rb"(?:[ \t]+" + _TOKEN + rb")*[ \t]*)?"
_NAMEADDR = _DISPLAY + b"<" + _URI_LT + b">"  # + its parameters
_ADDRSPEC = _URI_SPEC
_END = rb"\r\n"  # (no LWS at the end of a line: _LINE takes the value to the CR)


def _list(elem):
    return elem + rb"(?:[ \t]*,[ \t]*" + elem + b")*"


_VIA_ELEM = (_ci(b"sip") + rb"[ \t]*/[ \t]*2\.0[ \t]*/[ \t]*" + _TOKEN + rb"[ \t]+" + _HOST
             + rb"(?:[ \t]*:[ \t]*" + _PORT + b")?")
_VIA = _VIA_ELEM + _params(_QS_NOLT)
_CONTACT = b"(?:" + _NAMEADDR + _params(_QS) + b"|" + _ADDRSPEC + _params(_QS_NOLT) + b")"
# the kind (index in message._NAMES) of a header name as the fast path takes it: the
# spellings senders use (others, e.g. "vIA", go to message.py)
_KIND = {}
for _w, _spellings in enumerate((
        b"Via v V via VIA", b"From f F from FROM", b"To t T to TO",
        b"Call-ID i I Call-Id call-id CALL-ID", b"CSeq Cseq cseq CSEQ",
        b"Contact m M contact CONTACT", b"Content-Length l L Content-length content-length "
        b"CONTENT-LENGTH", b"Max-Forwards Max-forwards max-forwards MAX-FORWARDS")):
    for _s in _spellings.split():
        _KIND[_s] = _w


def _names(w):
    """The header names of kind w, as a regular expression that starts with a byte class
    (an alternation skips an alternative by its first byte, in C)."""
    names = [n for n in _KIND if _KIND[n] == w]
    firsts = sorted(set(n[:1] for n in names))
    alts = []
    for f in firsts:
        rest = [re.escape(n[1:]) for n in names if n[:1] == f]
        rest.sort(key=len, reverse=True)
        alts.append(b"(?<=" + re.escape(f) + b")(?:" + b"|".join(rest) + b")")
    return b"[" + b"".join(re.escape(f) for f in firsts) + b"](?:" + b"|".join(alts) + b"):"


def _head(ref):
    """The regular expression of a whole head. ref(name): the number of group `name`, for
    the conditionals (?(n)...) that let each line see what the lines above it held."""
    def once(group, value):  # a header message.py wants once: a second one fails here
        return rb"(?(%d)(?!))[ \t]*(?P<%s>" % (ref(group), group) + value + b")" + _END

    lines = b"|".join((
        # Via: the first line's value (vv) and the branch of its first element, the second
        # line's value (v2); a third line sets v3 (message.py caps the elements of all lines:
        # then they are counted)
        _names(0) + rb"[ \t]*(?(%d)(?(%d)(?P<v3>)" % (ref(b"vv"), ref(b"v2")) + _list(_VIA)
        + b"|(?P<v2>" + _VIA + rb"(?:[ \t]*,[ \t]*" + _VIA + b"){0,63}))|(?P<vv>" + _VIA_ELEM
        + _params_first(b"branch", b"branch", _QS_NOLT) + rb"(?:[ \t]*,[ \t]*" + _VIA
        + b"){0,63}))" + _END,
        _names(7) + once(b"mfv", rb"[0-9]+"),  # (its group number low: it comes early)
        _names(1) + once(b"fv", b"(?:" + _NAMEADDR + b"|" + _ADDRSPEC + b")"
                         + _params_first(b"tag", b"ftag", _QS_NOLT)),
        _names(2) + once(b"tv", b"(?:" + _NAMEADDR + b"|" + _ADDRSPEC + b")"
                         + _params_first(b"tag", b"ttag", _QS_NOLT)),
        _names(3) + once(b"cid", rb"\S(?:.*\S)?"),
        _names(4) + rb"(?(%d)(?!))[ \t]*(?P<cseq>0*[0-9]{1,10})[ \t]+(?P<cm>" % ref(b"cseq")
        + _TOKEN + b")" + _END,
        # Contact: the first line's value (mv); a second line sets m2
        _names(5) + rb"[ \t]*(?(%d)(?P<m2>)(?:\*|" % ref(b"mv") + _list(_CONTACT)
        + rb")|(?P<mv>\*|" + _CONTACT + rb"(?:[ \t]*,[ \t]*" + _CONTACT + b"){0,31}))" + _END,
        _names(6) + once(b"cl", rb"[0-9]+"),
        # any other name: a token, none of the above in any letter case; any value (a CR
        # inside it too: message.py keeps it)
        rb"(?![Vv](?:[Ii][Aa])?:|[Ff](?:[Rr][Oo][Mm])?:|[Tt][Oo]?:|[Ii]:|[Ll]:|"
        rb"[Mm](?:[Aa][Xx]-[Ff][Oo][Rr][Ww][Aa][Rr][Dd][Ss])?:|"
        rb"[Cc](?:[Aa][Ll][Ll]-[Ii][Dd]|[Ss][Ee][Qq]|[Oo][Nn][Tt](?:[Aa][Cc][Tt]|"
        rb"[Ee][Nn][Tt]-[Ll][Ee][Nn][Gg][Tt][Hh])):)"
        + _TOKEN + rb":(?:.*\S)?\r\n",
    ))
    # (no group in the start line: parse() finds its parts, and each group costs every
    # alternation and repetition after the first one set)
    return re.compile(
        b"(?:" + _TOKEN + b" " + _RURI + b" " + _ci(b"sip") + rb"/2\.0|" + _ci(b"sip")
        + rb"/2\.0 [1-6][0-9][0-9](?: (?:.*[^\r\n])?)?)\r\n(?:" + lines + rb"){0,64}\r\n")


_HEAD = _head(lambda name: 1)
_HEAD = _head(lambda name, g=_HEAD.groupindex: g[name.decode()])
# the groups in their order (Match.groups() is what parse() unpacks)
assert tuple(sorted(_HEAD.groupindex, key=_HEAD.groupindex.get)) == (
    "v3", "v2", "vv", "branch", "mfv", "fv", "ftag", "tv", "ttag", "cid", "cseq", "cm", "m2",
    "mv", "cl")
# the group of the first value of each kind (message._NAMES order; CSeq's is two groups)
_VALUE = tuple(_HEAD.groupindex[n] - 1 if n else None
               for n in ("vv", "fv", "tv", "cid", None, "mv", "cl", "mfv"))  # (in groups())
_CSEQ = _HEAD.groupindex["cseq"]  # (and "cm" the next one)

# a header line: its name, ':' and LWS, the value (the line has no LWS at its end), CR LF
_LINE = re.compile(rb"([^:]+)(:[ \t]*)(.*)(\r\n)")
_name = itemgetter(0)
_val = itemgetter(2)
_KINDS = tuple(bytes((w,)) for w in range(8))
# the first entry of kind w: (b"\xfe" + kinds).find(w) is its line + 1, or -1 for none
_FIRST = (0,) + tuple(15 + 4 * i for i in range(64)) + (0,)
_first = _FIRST.__getitem__


def parse(data, max_size=16384, datagram=True):
    """message.parse(): the same Message or the same ParseError (see the module comment)."""
    n = len(data)
    m = _HEAD.match(data) if type(data) is bytes and n <= max_size and n <= 65535 else None
    if m is None:
        return _slow(data, max_size, datagram)
    g = m.groups()
    v3, v2, vv, branch, _, fv, ftag, tv, ttag, cid, cseq, cm, m2, _, cl = g
    if vv is None or fv is None or tv is None or cid is None or cseq is None:
        return _slow(data, max_size, datagram)  # (message.py: "missing ... header")
    body = m.end()
    end = body - 3  # the LF of the last header line
    if data[3] != 47:  # a request (a method has no '/'): METHOD SP Request-URI SP SIP/2.0
        a = data.find(b" ")
        e = data.find(b" ", a + 1)
        k = e + 8
        method = data[:a]
        raw = data.startswith(b"SIP/2.0", e + 1)
        if cm != method:
            return _slow(data, max_size, datagram)
    else:  # SIP/2.0 SP status [SP reason]
        method = None
        a = 7
        e = 11
        k = data.find(b"\r\n", 12) if data[11] == 32 else 11
        raw = data.startswith(b"SIP/2.0")
    rest = n - body
    if cl is None:
        if not datagram:
            return _slow(data, max_size, datagram)
        c = rest
        raw = False
    else:
        c = int(cl) if len(cl.lstrip(b"0")) <= 10 else 0x7FFFFFFF
        if c > rest or c > max_size or not datagram and body + c > max_size:
            return _slow(data, max_size, datagram)
        raw = raw and (cl[0] != 48 or len(cl) == 1)
    seq = int(cseq)
    # message.py checks each line against its caps when the head is this large
    semis = data.count(b";", k, end)
    if seq > 0xFFFFFFFF or end - k > 4097 or semis > 64 or k > 1024:
        return _slow(data, max_size, datagram)
    msg = _new(Received)
    msg.buf = data
    msg._pre = (0, k, a, e, body, body + c, raw)
    msg._m = m
    msg._g = g
    if (semis > 32 or end - k > 1024 or v3 is not None or m2 is not None) and _caps(msg._lines):
        return _slow(data, max_size, datagram)
    if v2 is not None and vv.count(b",") + v2.count(b",") > 62:  # (two Via lines)
        return _slow(data, max_size, datagram)
    msg.call_id = cid
    msg.cseq = seq
    msg.from_tag = ftag
    msg.to_tag = ttag
    msg.branch = branch
    msg.body = b = data[body : body + c]
    if method is None:
        msg.status = code = int(data[8:11])
        msg.cseq_method = cm
        msg.reason = v = data[12:k]
        msg.method = msg.uri = None
        msg._same = (code, v, b) if raw and k > 11 else None  # (no reason: written anew)
    else:
        msg.is_request = True
        msg.method = msg.cseq_method = method
        msg.uri = v = data[a + 1 : e]
        msg.reason = b""
        msg._same = (method, v, b) if raw else None
    return msg


def _caps(lines):
    """True when a Via, From, To or Contact line holds more than 32 ';', a From, To or
    Contact value is longer than a URI may be (1024 bytes) or the Via or Contact lines hold
    more elements than message.py allows (64 Vias, 32 Contacts: each line's commas + 1, as
    message._check counts them): then message.py decides."""
    parts, kinds = lines
    n = [0] * 8
    for x, w in enumerate(kinds):
        v = parts[x][2]
        if w in (0, 1, 2, 5) and v.count(b";") > 32 or w in (1, 2, 5) and len(v) > 1024:
            return True
        if w == 0 or w == 5:
            n[w] += v.count(b",") + 1
    return n[0] > 64 or n[5] > 32


_ZEROS = bytes(2 * 15 + 8 * 64)


class _Lines:
    """Received._lines: (the header lines as _LINE cuts them, their kinds as bytes), made
    when first read (a non-data descriptor: then the instance's own value)."""

    def __get__(self, msg, cls=None):
        if msg is None:
            return None
        _, k, _, _, body, _, _ = msg._pre
        parts = _LINE.findall(msg.buf, k + 2, body - 2)
        v = msg._lines = (parts, bytes(map(_KIND.get, map(_name, parts), repeat(255))))
        return v


class _Index:
    """Received.pos: message.py's index of the message, made when first read (a non-data
    descriptor: once made, or once the Message drops it, the instance's own value)."""

    def __get__(self, msg, cls=None):
        if msg is None:
            return None
        parts, kinds = msg._lines
        acc = array("H", list(accumulate(map(len, chain.from_iterable(parts)),
                                         initial=msg._pre[1] + 2)))
        p = array("H", _ZEROS[: 30 + 8 * len(kinds)])
        p[15::4] = acc[0:-1:4]  # where each line starts,
        p[16::4] = acc[1::4]  # its ':',
        p[17::4] = acc[3::4]  # where its value ends
        p[18::4] = array("H", list(kinds))
        p[:15] = array("H", msg._pre + tuple(map(_first, map((b"\xfe" + kinds).find, _KINDS))))
        msg.pos = p
        return p


# message._NAMES by their canonical spelling, as Message.get() and get_all() take them
_CANON = {name: w for w, name in enumerate(message._NAMES)}


class Received(_Message):
    """A Message parsed here: the same fields and behaviour. Its index (pos) is made when
    something first reads it; until then get() and get_all() of the eight headers
    message.py indexes by kind read the values _HEAD captured or the lines _LINE cuts
    out, and to_bytes() of a message nothing changed returns its bytes."""

    pos = _Index()
    _lines = _Lines()

    def get(self, name, default=None):
        w = _CANON.get(name)
        if w is None or "pos" in self.__dict__:
            return _Message.get(self, name, default)
        if w == 4:  # CSeq: number, LWS, method
            return self.buf[self._m.start(_CSEQ) : self._m.end(_CSEQ + 1)]
        v = self._g[_VALUE[w]]
        return default if v is None else v

    def get_all(self, name):
        w = _CANON.get(name)
        if w is None or "pos" in self.__dict__:
            return _Message.get_all(self, name)
        g = self._g
        if w == 0 and g[0] is None:  # one or two Via lines (v3 is not set)
            return [g[2]] if g[1] is None else [g[2], g[1]]
        if w == 5 and g[12] is None or 0 < w != 5:  # (one Contact line: m2 is not set)
            v = self.get(name)
            return [] if v is None else [v]
        parts, kinds = self._lines
        kind = _KINDS[w]
        out = []
        i = kinds.find(kind)
        while i >= 0:
            out.append(parts[i][2])
            i = kinds.find(kind, i + 1)
        return out

    def __getattr__(self, name):
        if name == "headers" and "pos" not in self.__dict__:  # from the lines: no index
            parts = self._lines[0]
            names = list(map(_canon, map(_name, parts)))
            if None in names:  # a spelling not in _canon: message.canon() finds it
                names = [message.canon(n) for n in map(_name, parts)]
            v = list(map(list, zip(names, map(bytes.lstrip, map(_val, parts)))))
            self.pos = None  # (as Message drops it: the list is the headers now)
            self.headers = v
            return v
        return _Message.__getattr__(self, name)

    def to_bytes(self):
        if "pos" not in self.__dict__:
            _, k, _, _, b, e, raw = self._pre
            d = self.buf
            same = self._same  # the start line and body as parsed, if written as they came
            if same is not None and self.body is same[2] and (  # (none assigned since)
                    self.method is same[0] and self.uri is same[1] if self.is_request
                    else self.status == same[0] and self.reason is same[1]):
                return d if e == len(d) else d[:e]
            if raw:
                v = (self.method + b" " + self.uri + b" SIP/2.0\r\n" if self.is_request
                     else b"SIP/2.0 %d " % self.status + self.reason + b"\r\n")
                body = self.body
                if len(v) == k + 2 and d.startswith(v) and len(body) == e - b and (
                        d.startswith(body, b)):
                    return d if e == len(d) else d[:e]
            self.headers  # noqa: B018 - written anew from the header list, as Message does
        return _Message.to_bytes(self)


# message.canon() of the header names senders spell canonically (and of every spelling
# of the eight kinds): a dict look-up instead of its search
_canon = {}
for _s in _KIND:
    _canon[_s] = message.canon(_s)
for _s in (b"Accept Allow Authorization Contact Content-Length Content-Type Date Event Expires "
           b"Flow-Timer From Max-Forwards Min-Expires Path Proxy-Authenticate "
           b"Proxy-Authorization Proxy-Require Record-Route Require Retry-After Route Server "
           b"Service-Route Subject Supported To Unsupported User-Agent Via Answer-Mode "
           b"Priv-Answer-Mode P-Asserted-Identity Subscription-State Allow-Events "
           b"Content-Encoding Accept-Contact Referred-By Request-Disposition Reject-Contact "
           b"Identity-Info Refer-To Session-Expires Identity Call-ID CSeq WWW-Authenticate "
           b"c k s").split():
    _canon[_s] = message.canon(_s)
_canon = _canon.get


# imported first (before tinysip.message), this module found message.py's parser above and
# message.py's hook found this module half-made: it is message.parse now
message.parse = parse
