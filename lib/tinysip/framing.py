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
    for line in head.split(b"\n"):
        name, colon, v = line.partition(b":")
        if not colon or line[:1] in (b" ", b"\t"):
            continue
        name = name.strip().lower()
        if name == b"content-length" or name == b"l":
            v = v.strip()
            if value is not None and v != value:
                raise ParseError(400, "conflicting Content-Length headers")
            value = v
    if value is None:
        return None
    if not value or not value.isdigit() or len(value) > 9:
        raise ParseError(400, "bad Content-Length on a stream")
    return int(value)


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
        if buf[:1] == b"\r" or buf[:1] == b"\n":
            if buf[:4] == PING:
                self.buf = buf[4:]
                return FRAME_PING, None
            if buf[:2] == PONG:
                if len(buf) == 2 or buf[2:3] != b"\r":
                    self.buf = buf[2:]
                    return FRAME_PONG, None
                if len(buf) < 4:
                    return None  # "\r\n\r": wait for the rest of a ping
            # a bare LF or CR between messages: tolerate and skip
            i = 0
            while i < len(buf) and buf[i] in b"\r\n" and buf[i : i + 2] != PONG:
                i += 1
            if i:
                self.buf = buf[i:]
                return self.next()
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
