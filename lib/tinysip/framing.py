"""Stream framing for SIP over TCP/TLS (RFC 3261 §18.3) and RFC 5626 §4.4.1 CRLF keepalive.

Owns: cutting a byte stream into messages by Content-Length, telling keepalive pings
(CRLFCRLF) and pongs (a lone CRLF) apart from messages, and keeping step with the sender
when a message is malformed or too large. It reads no header but Content-Length;
message.parse() does the rest.

Where a header block ends: at the first line after the start line that begins with CR or
LF. The body starts after that line's CRLF, or after its lone LF or CR. So CRLF CRLF, the
bare LF LF of RFC 3261 §7.5 and a block ending CRLF CR right before the next bytes all end
a head. That is the rule of Kamailio 5.6's message parser (get_hdr_field / get_body),
which builds what it relays; measured on 5.6.3, a UDP request whose head ends CRLF CR is
relayed over TCP just so, its body after the CR (with Content-Length set to that body).
Kamailio's own TCP reader wants an LF after the CR and would run on into the next message:
the phone does not copy that, it never glues two messages together.

One bad message never costs the connection (the message is handed on as _FRAME_MESSAGE and
message.parse() answers it; the UA sends that answer and keeps the flow):
- Content-Length beyond max_size: the head alone is handed on (parse() answers 513) and
  exactly Content-Length body bytes are skipped;
- a head longer than max_size whose first line is a start line: the bytes so far are
  handed on (parse() answers 513 from their whole lines), the rest of the head is dropped
  line by line (its Content-Length noted, up to _DROP_MAX x max_size), then the body;
- no Content-Length, a bad or conflicting one: the head is handed on (parse() answers 400)
  and the framer hunts: it drops lines until one looks like a start line (keepalives
  still count);
- a start line where a header line should be (a head whose empty line was lost): the
  head is handed on without it (400) and the next message starts there.
_FRAME_ERROR (once; then the stream is dead and the transport must be closed) only when the
stream cannot be followed any more: no start line within max_size bytes (garbage), a head
that does not end within _DROP_MAX x max_size bytes, or one line longer than max_size.
"""
from tinysip.compat import const
from tinysip.errors import ParseError

_FRAME_MESSAGE = const(1)
_FRAME_PING = const(2)
_FRAME_PONG = const(3)
_FRAME_ERROR = const(4)


_DROP_MAX = const(4)  # a head too large is followed for up to this many times max_size

# what next() is doing
_IDLE = const(0)  # between messages: keepalives, then a start line (hunting for one)
_HEAD = const(1)  # buf holds a message from its start line; pos: the next line to read
_BODY = const(2)  # the head is read: the message gathers in parts (have of need bytes)
_SKIP = const(3)  # dropping the next `need` bytes (the body of a message too large)
_DROP = const(4)  # dropping the rest of a head too large, line by line
_BAD = const(-1)  # cl: a Content-Length nobody can frame by (not a number, conflicting)


def _start_line(buf, i, k):
    """True when buf[i:k] (one line) is shaped like a start line: "SIP/2.0 " and a status,
    or METHOD SP scheme:... SP SIP/... with exactly two SP. No valid header line is: its
    name is a token, then ':' (LWS may come before the ':', but never a URI)."""
    if buf.startswith(b"SIP/2.0 ", i):
        return True
    s1 = buf.find(b" ", i, k)
    s2 = buf.find(b" ", s1 + 1, k) if s1 > i else -1
    c = buf.find(b":", i, k)
    return (s1 + 1 < c < s2 and buf.find(b" ", s2 + 1, k) < 0
            and buf.startswith(b"SIP/", s2 + 1))


class StreamFramer:
    """feed() bytes as they arrive, then call next() until it returns None.

    `max_size` is the largest message accepted (message.parse()'s default, 16384, unless
    given); `buf` holds bytes not yet looked at as a whole (empty while a body gathers or is
    skipped); `error` is the ParseError that killed the stream, or None.
    """

    def __init__(self, max_size=16384):
        self.max_size = max_size
        self.buf = b""
        self.error = None
        self.state = _IDLE
        self.hunt = -1  # >= 0 while hunting for a start line: the bytes dropped so far
        self.pos = 0
        self.cl = self.cur = self.parts = None
        self.need = self.have = 0

    def feed(self, data):
        if self.error is not None or not data:
            return
        if not isinstance(data, bytes):
            data = bytes(data)
        if self.state == _BODY:  # gathered as it comes, joined once when complete
            parts = self.parts
            if len(parts[-1]) < 512:  # no list of many small pieces (a peer that trickles)
                parts[-1] += data
            else:
                parts.append(data)
            self.have += len(data)
        else:  # bytes are immutable: kept as they are when nothing is pending
            self.buf = self.buf + data if self.buf else data

    def _scan(self, buf, i):
        """Read header lines of buf from offset i (a line start): note Content-Length (a
        folded value, RFC 3261 §7.3.1, continues on lines starting with SP or HTAB) and
        stop at the end of the head or at a start line.

        Returns (i, b): b > 0: the head ended and the body starts at b; b == 0: buf ends
        inside the head, go on from i; b < 0: the line at i is a start line.
        """
        n = len(buf)
        while i < n:
            c = buf[i]
            v = self.cur
            if v is not None and c != 32 and c != 9:  # the Content-Length value just read
                # has no more folded lines: fold it into cl
                v = v.strip()
                self.cur = None
                v = int(v) if v.isdigit() and len(v.lstrip(b"0")) < 10 else _BAD
                if self.cl is not None and self.cl != v:
                    v = _BAD  # repeats must agree; once bad, always bad
                self.cl = v
            if c == 13 or c == 10:  # an empty line, or one that starts with CR: the end
                if c == 10:
                    b = i + 1
                elif i + 1 == n:
                    return i, 0  # CR: CRLF, or CR and the body? the next byte says
                else:
                    b = i + 2 if buf[i + 1] == 10 else i + 1
                return i, b
            j = buf.find(b"\n", i)
            if j < 0:
                return i, 0
            if c == 32 or c == 9:
                if self.cur is not None:
                    self.cur += b" " + buf[i:j].strip()
            else:
                col = buf.find(b":", i, j)
                # SP before any ':' (or no ':'): a header line ("name :") or a start line
                if (col < 0 or buf.find(b" ", i, col) > i) and _start_line(buf, i, j):
                    return i, -1
                if 0 <= col <= i + 20:  # compared in place: no line costs a byte but this one
                    e = col
                    while e > i and buf[e - 1] in b" \t\r\n\x0b\x0c":  # headers.STRIP_WS
                        e -= 1
                    m = e - i
                    if m == 14:  # "Content-Length", any case
                        m = 0
                        while m < 14 and buf[i + m] | 32 == b"content-length"[m]:
                            m += 1
                    if m == 14 or m == 1 and buf[i] | 32 == 108:  # or its compact "l"
                        self.cur = buf[col + 1 : j]
            i = j + 1
        return i, 0

    def next(self):
        """(kind, payload) for the next complete unit, or None when more bytes are needed.

        kind is _FRAME_MESSAGE (payload: message bytes; for a message too large, its head
        or its first bytes: see the module comment), _FRAME_PING, _FRAME_PONG (payload
        None) or _FRAME_ERROR (payload: the ParseError; the stream is dead).
        """
        if self.error is not None:
            return None
        while self.error is None:  # (one that kills the stream ends the loop: _FRAME_ERROR)
            buf = self.buf
            st = self.state
            if st == _BODY:
                extra = self.have - self.need
                if extra < 0:
                    return None
                parts = self.parts
                self.parts = None
                self.state = _IDLE
                last = parts[-1]
                if extra > len(last):  # several feeds without a next(): split the whole
                    data = b"".join(parts)
                    self.buf = data[self.need :]
                    return _FRAME_MESSAGE, data[: self.need]
                if extra:  # the last part runs into the next message
                    self.buf = last[len(last) - extra :]
                    parts[-1] = last[: len(last) - extra]
                return _FRAME_MESSAGE, b"".join(parts)
            if st == _SKIP:
                k = self.need if self.need < len(buf) else len(buf)
                self.need -= k
                if k:
                    self.buf = buf[k:]
                if self.need:
                    return None
                self.state = _IDLE
                continue
            if st == _IDLE:
                # CR/LF before a start line: RFC 5626 pings (CRLFCRLF), pongs (CRLF), strays
                i = 0
                n = len(buf)
                while i < n and buf[i] in b"\r\n":
                    if buf[i : i + 4] == b"\r\n\r\n":
                        self.buf = buf[i + 4 :]
                        return _FRAME_PING, None
                    if buf[i : i + 2] == b"\r\n":
                        if n - i == 3 and buf[i + 2] == 13:
                            self.buf = buf[i:]
                            return None  # "\r\n\r": wait for the rest of a ping
                        self.buf = buf[i + 2 :]
                        return _FRAME_PONG, None
                    if i + 1 == n and buf[i] == 13:
                        break  # a lone CR at the end may be the first half of a CRLF: keep it
                    i += 1  # a bare LF or CR between messages: tolerate and skip
                if self.hunt >= 0:  # drop whole lines until a start line (or CR/LF)
                    while i < n and buf[i] not in b"\r\n":
                        j = buf.find(b"\n", i)
                        if j >= 0 and _start_line(buf, i, j):
                            self.hunt = -1
                            break
                        # (a line not yet whole counts once it is)
                        if self.hunt + (n if j < 0 else j + 1) - i > self.max_size:
                            self.error = ParseError(400, "no start line within %d bytes"
                                                    % self.max_size)
                        if j < 0 or self.error is not None:
                            break
                        self.hunt += j + 1 - i
                        i = j + 1
                    if self.error is not None:
                        break
                if i:
                    self.buf = buf = buf[i:]
                if self.hunt >= 0 or not buf or buf[0] == 13:
                    if buf and buf != b"\r" and buf[0] in b"\r\n":
                        continue  # a keepalive or a stray line end among the dropped lines
                    return None
                self.state = _HEAD
                self.pos = 0
                self.cl = self.cur = None
                continue
            if st == _HEAD:
                i = self.pos
                if not i:  # the start line: anything up to its LF (parse() judges it)
                    i = buf.find(b"\n") + 1
                    if not i:
                        if len(buf) <= self.max_size:
                            return None
                        self.error = ParseError(400, "no start line within %d bytes"
                                                % self.max_size)
                        break
                i, b = self._scan(buf, i)
                self.pos = i
                if b < 0:  # a start line inside the head: the message before it lost its end
                    self.buf = buf[i:]
                    self.pos = 0
                    self.cl = self.cur = None
                    return _FRAME_MESSAGE, buf[:i]
                if b:
                    cl = self.cl
                    if cl is None or cl == _BAD:  # parse() answers 400; the body is unknown
                        self.hunt = 0
                        need = b
                    else:
                        need = b + cl
                        if need > self.max_size:  # 513 from the head; the body is skipped
                            self.state = _SKIP
                            self.need = need
                            return _FRAME_MESSAGE, buf[:b]
                    self.state = _IDLE
                    if need < len(buf):
                        self.buf = buf[need:]
                        return _FRAME_MESSAGE, buf[:need]
                    if need == len(buf):  # the usual case: one whole message, uncopied
                        self.buf = b""
                        return _FRAME_MESSAGE, buf
                    self.state = _BODY
                    self.parts = [buf]
                    self.have = len(buf)
                    self.need = need
                    self.buf = b""
                    return None
                if len(buf) <= self.max_size:
                    return None
                j = buf.find(b"\n")
                if not _start_line(buf, 0, j):
                    self.error = ParseError(400, "no start line within %d bytes" % self.max_size)
                    break
                # too large, and no end yet: parse() answers 513 from what came so far
                self.state = _DROP
                self.need = i  # dropped so far
                self.buf = buf[i:]
                return _FRAME_MESSAGE, buf
            # _DROP: the head goes on beyond max_size; drop it line by line
            i, b = self._scan(buf, 0)
            self.need += i
            if b < 0 or b and (self.cl is None or self.cl == _BAD):
                self.state = _HEAD if b < 0 else _IDLE
                self.hunt = -1 if b < 0 else 0
                self.pos = 0
                self.cl = self.cur = None
                self.buf = buf[i:] if b < 0 else buf[b:]
                continue
            if b:  # the end of the head: now its body
                self.state = _SKIP
                self.need = b + self.cl
                continue
            self.buf = buf[i:]
            if self.need <= _DROP_MAX * self.max_size and len(buf) - i <= self.max_size:
                return None
            self.error = ParseError(513, "header block larger than %d bytes"
                                    % (_DROP_MAX * self.max_size))
        self.buf = b""  # the stream is dead: what is left is never read
        self.parts = None
        return _FRAME_ERROR, self.error
