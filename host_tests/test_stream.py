"""io/stream: what a read hands the driver (no network: a fake socket behind the object)."""
from testutil import raises
from tinysip.io.stream import StreamConn, StreamError


class _Sock:
    """recv_into() copies the next chunk; None means nothing ready (MicroPython TLS)."""

    def __init__(self, chunks):
        self.chunks = list(chunks)

    def recv_into(self, buf):
        c = self.chunks.pop(0)
        if c is None:
            return None
        buf[: len(c)] = c
        return len(c)


class _Exhausted:
    """A view whose slices cannot be copied: the heap is gone."""

    def __getitem__(self, i):
        raise MemoryError("test: heap exhausted")


class _Bare(StreamConn):
    def __init__(self):  # no connect: the read path only
        pass


def _conn(chunks):
    c = _Bare()
    c.host, c.port = "192.0.2.1", 5061
    c._buf = bytearray(2048)
    c._mv = memoryview(c._buf)
    c.sock = _Sock(chunks)
    return c


def test_recv_returns_what_was_read_none_when_nothing_and_empty_at_close():
    c = _conn([b"SIP/2.0 200 OK\r\n", None, b""])
    assert c.recv() == b"SIP/2.0 200 OK\r\n"
    assert c.recv() is None
    assert c.recv() == b""


def test_a_read_the_heap_cannot_keep_is_a_stream_error_naming_the_peer_and_the_loss():
    c = _conn([b"x" * 700])
    c._mv = _Exhausted()
    e = raises(StreamError, c.recv)
    assert "192.0.2.1:5061" in e.args[0] and "out of memory" in e.args[0]
    assert "700 bytes lost" in e.args[0] and e.args[1] is False
