"""Stream framing for SIP over TCP/TLS (RFC 3261 §18.3) and RFC 5626 §4.4.1 CRLF keepalive.

Owns: cutting a byte stream into whole messages by Content-Length, and telling keepalive
pings (CRLFCRLF) and pongs (a lone CRLF) apart from messages. It does not parse headers
beyond finding Content-Length; message.parse() does that.

After a framing error (no or bad Content-Length, oversize) the stream cannot be resynced:
the framer reports FRAME_ERROR once and stays broken, and the transport must be closed.
"""
from tinysip.compat import const
from tinysip.errors import ParseError
from tinysip.headers import STRIP_WS, parse_uint

FRAME_MESSAGE = const(1)
FRAME_PING = const(2)
FRAME_PONG = const(3)
FRAME_ERROR = const(4)

PING = b"\r\n\r\n"
PONG = b"\r\n"


def _one_length(cl, cur):
    """The Content-Length so far after one more value `cur`: repeats must agree."""
    cur = cur.strip()
    if cl is not None and cur != cl:
        raise ParseError(400, "conflicting Content-Length headers")
    return cur


class StreamFramer:
    """feed() bytes as they arrive, then call next() until it returns None.

    `max_size` is the largest message accepted (message.parse()'s default, 16384, unless
    given); `buf` holds the bytes not yet returned; `error` is the ParseError that killed
    the stream, or None.
    """

    def __init__(self, max_size=16384):
        self.max_size = max_size
        self.buf = b""
        self.error = None

    def feed(self, data):
        if self.error is None:
            # bytes are immutable: keep them as they are when nothing is pending
            self.buf = data if not self.buf and isinstance(data, bytes) else self.buf + data

    def next(self):
        """(kind, payload) for the next complete unit, or None when more bytes are needed.

        kind is FRAME_MESSAGE (payload: message bytes), FRAME_PING, FRAME_PONG (payload
        None) or FRAME_ERROR (payload: the ParseError; the stream is dead).
        """
        if self.error is not None:
            return None
        buf = self.buf
        # CR/LF before a start line: RFC 5626 pings (CRLFCRLF), pongs (CRLF) and strays
        i = 0
        n = len(buf)
        while i < n and buf[i] in b"\r\n":
            if buf[i : i + 4] == PING:
                self.buf = buf[i + 4 :]
                return FRAME_PING, None
            if buf[i : i + 2] == PONG:
                if n - i == 3 and buf[i + 2] == 13:
                    self.buf = buf[i:]
                    return None  # "\r\n\r": wait for the rest of a ping
                self.buf = buf[i + 2 :]
                return FRAME_PONG, None
            if i + 1 == n and buf[i] == 13:
                break  # a lone CR at the end may be the first half of a CRLF: keep it
            i += 1  # a bare LF or CR between messages: tolerate and skip
        if i:
            self.buf = buf = buf[i:]
        if buf[:1] == b"\r":
            return None
        end = buf.find(b"\r\n\r\n")
        total = len(buf)  # while the headers are incomplete
        try:
            if end >= 0:
                # Content-Length from the header lines; a folded value (RFC 3261 §7.3.1)
                # continues on lines starting with SP or HTAB, other folded lines are skipped
                cl = None
                cur = None  # the Content-Length value being read
                # offsets into buf: a line costs nothing unless it is Content-Length
                i = 0
                while i <= end:
                    j = buf.find(b"\n", i, end)
                    if j < 0:
                        j = end
                    if j > i and buf[i] in b" \t":
                        if cur is not None:
                            cur += b" " + buf[i:j].strip()
                        i = j + 1
                        continue
                    if cur is not None:  # a complete Content-Length value
                        cl = _one_length(cl, cur)
                        cur = None
                    c = buf.find(b":", i, j)
                    if c >= 0:
                        a, e = i, c
                        while a < e and buf[a] in STRIP_WS:
                            a += 1
                        while e > a and buf[e - 1] in STRIP_WS:
                            e -= 1
                        if e - a == 14 or e - a == 1:  # "Content-Length" or its compact "l"
                            name = buf[a:e].lower()
                            if name == b"content-length" or name == b"l":
                                cur = buf[c + 1 : j].strip()
                    i = j + 1
                if cur is not None:
                    cl = _one_length(cl, cur)
                if cl is None:
                    raise ParseError(400, "stream message without Content-Length")
                # leading zeros are legal (RFC 4475 wsinv); more than 9 digits is a 400
                total = end + 4 + parse_uint(cl, 999999999, "Content-Length")
            if total > self.max_size:
                raise ParseError(513, "message larger than %d bytes" % self.max_size)
        except ParseError as e:
            self.error = e
            self.buf = b""
            return FRAME_ERROR, e
        if end < 0 or len(buf) < total:
            return None
        if total == len(buf):  # the usual case: one whole message, handed on uncopied
            self.buf = b""
            return FRAME_MESSAGE, buf
        self.buf = buf[total:]
        return FRAME_MESSAGE, buf[:total]
