"""Stream framing for SIP over TCP/TLS (RFC 3261 §18.3) and RFC 5626 §4.4.1 CRLF keepalive.

Owns: cutting a byte stream into whole messages by Content-Length, and telling keepalive
pings (CRLFCRLF) and pongs (a lone CRLF) apart from messages. It does not parse headers
beyond finding Content-Length; message.parse() does that.

After a framing error (no or bad Content-Length, oversize) the stream cannot be resynced:
the framer reports FRAME_ERROR once and stays broken, and the transport must be closed.
"""
from tinysip.compat import const
from tinysip.errors import ParseError
from tinysip.message import DEFAULT_MAX_SIZE

FRAME_MESSAGE = const(1)
FRAME_PING = const(2)
FRAME_PONG = const(3)
FRAME_ERROR = const(4)

PING = b"\r\n\r\n"
PONG = b"\r\n"


def _content_length(head):
    """Content-Length from raw header bytes, or a ParseError; None when absent."""
    value = None
    cur = None  # the Content-Length value being read, while folded lines may follow
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if cur is not None:  # a folded Content-Length value (RFC 3261 §7.3.1)
                cur = cur + b" " + line.strip()
            continue
        value = _one_length(value, cur)
        cur = None
        name, colon, v = line.partition(b":")
        if not colon:
            continue
        name = name.strip().lower()
        if name == b"content-length" or name == b"l":
            cur = v.strip()
    value = _one_length(value, cur)
    if value is None:
        return None
    if not value or not value.isdigit():
        raise ParseError(400, "bad Content-Length on a stream")
    value = value.lstrip(b"0") or b"0"  # leading zeros are legal (RFC 4475 wsinv)
    if len(value) > 9:
        raise ParseError(400, "bad Content-Length on a stream")
    return int(value)


def _one_length(value, new):
    if new is None:
        return value
    new = new.strip()
    if value is not None and new != value:
        raise ParseError(400, "conflicting Content-Length headers")
    return new


class StreamFramer:
    """feed() bytes as they arrive, then call next() until it returns None."""

    def __init__(self, max_size=DEFAULT_MAX_SIZE):
        self.max_size = max_size
        self.buf = b""
        self.error = None

    def feed(self, data):
        if self.error is None:
            self.buf += data

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
        while i < n and (buf[i] == 13 or buf[i] == 10):
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
        if end < 0:
            if len(buf) > self.max_size:
                return self._fail(ParseError(513, "headers larger than %d bytes" % self.max_size))
            return None
        try:
            cl = _content_length(buf[:end])
            if cl is None:
                raise ParseError(400, "stream message without Content-Length")
        except ParseError as e:
            return self._fail(e)
        total = end + 4 + cl
        if total > self.max_size:
            return self._fail(ParseError(513, "message larger than %d bytes" % self.max_size))
        if len(buf) < total:
            return None
        self.buf = buf[total:]
        return FRAME_MESSAGE, buf[:total]

    def _fail(self, err):
        self.error = err
        self.buf = b""
        return FRAME_ERROR, err
