"""io/stream: what a read hands the driver (no network: a fake socket behind the object)."""
from testutil import raises, read_vector
from tinysip.io import stream
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
    c.sock = _Sock(chunks)
    return c


def test_recv_returns_what_was_read_none_when_nothing_and_empty_at_close():
    c = _conn([b"SIP/2.0 200 OK\r\n", None, b""])
    assert c.recv() == b"SIP/2.0 200 OK\r\n"
    assert c.recv() is None
    assert c.recv() == b""


def test_a_read_the_heap_cannot_keep_is_a_stream_error_naming_the_peer_and_the_loss():
    c = _conn([b"x" * 700])
    mv = stream._MV
    stream._MV = _Exhausted()
    try:
        e = raises(StreamError, c.recv)
    finally:
        stream._MV = mv
    assert "192.0.2.1:5061" in e.args[0] and "out of memory" in e.args[0]
    assert "700 bytes lost" in e.args[0] and e.args[1] is False


def _der(name):
    return read_vector("x509/" + name + ".der")


class _Raw:
    def settimeout(self, t):
        pass

    def connect(self, a):
        pass

    def setblocking(self, b):
        pass

    def close(self):
        pass


class _FakeSocket:
    """The socket module as StreamConn uses it, with no network."""
    AF_INET = 2
    AF_INET6 = 10
    SOCK_STREAM = 1

    def getaddrinfo(self, host, port, a, b):
        return [(2, 1, 0, "", (host, port))]

    def socket(self, fam, kind):
        return _Raw()


class _FakeSSL:
    """ssl as StreamConn uses it: every context made is counted; a handshake shows the
    server certificate `leaf` (verify callback on MicroPython, getpeercert on CPython)."""
    PROTOCOL_TLS_CLIENT = 16
    CERT_REQUIRED = 2

    def __init__(self, leaf):
        fake = self
        self.made = []
        self.wrapped = []

        class Ctx:
            def __init__(self, proto):
                self.cadata = self.chain = None
                fake.made.append(self)

            def load_verify_locations(self, cadata=None):
                self.cadata = cadata

            def load_cert_chain(self, cert, key):
                self.chain = (cert, key)

            def wrap_socket(self, raw, server_hostname=None):
                fake.wrapped.append(self)
                return _Tls(self, leaf)

        self.SSLContext = Ctx


class _Tls(_Raw):
    def __init__(self, ctx, leaf):
        self.ctx = ctx
        self.leaf = leaf

    def do_handshake(self):
        cb = getattr(self.ctx, "verify_callback", None)
        if cb is not None:
            cb(self.leaf, 1)  # the CA first, then the server's own
            cb(self.leaf, 0)

    def getpeercert(self, binary):
        return self.leaf


def test_every_tls_connection_shares_one_context_until_the_ca_or_credential_changes():
    from tinysip.compat import MICROPYTHON

    fake = _FakeSSL(_der("ec_leaf_ec_ca"))
    saved = stream.socket, stream.ssl, stream._TLS[:]
    stream.socket, stream.ssl = _FakeSocket(), fake
    stream._TLS[:] = [None, None, None]
    try:
        ca = _der("ec_ca")
        conns = [StreamConn("127.0.0.1", 5061, True, "lab.test", ca, 1000) for _ in range(3)]
        assert len(fake.made) == 1 and fake.wrapped == [fake.made[0]] * 3
        assert fake.made[0].cadata == ca
        StreamConn("127.0.0.1", 5061, True, "lab.test", bytes(ca), 1000)  # equal: kept
        assert len(fake.made) == 1
        if MICROPYTHON:  # (CPython loads a client certificate from files: io/pemfiles)
            cred = (_der("cred"), _der("cred.key"))
            StreamConn("127.0.0.1", 5061, True, "lab.test", ca, 1000, cred)
            assert len(fake.made) == 2 and fake.made[1].chain == cred
            StreamConn("127.0.0.1", 5061, True, "lab.test", ca, 1000, cred)
            assert len(fake.made) == 2
        other = _der("rsa_ca")
        StreamConn("127.0.0.1", 5061, True, "lab.test", other, 1000)
        assert fake.made[-1].cadata == other and stream._TLS[2] is fake.made[-1]
        # a wrong name is still refused with the shared context
        e = raises(StreamError, StreamConn, "127.0.0.1", 5061, True, "other.test", other, 1000)
        assert "other.test" in e.args[0] and e.args[1] is True
        for c in conns:
            c.close()
    finally:
        stream.socket, stream.ssl = saved[0], saved[1]
        stream._TLS[:] = saved[2]
