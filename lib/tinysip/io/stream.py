"""TCP and TLS stream connections for flows (CPython, MicroPython unix port, ESP32).

TLS is always verified: CERT_REQUIRED, the configured CA (DER) and the server name. There
is no code path that connects without verification or falls back to plain TCP when TLS
fails. Connect and handshake block (bounded by a timeout); afterwards the socket is
non-blocking and read from the poll loop. Per-runtime differences are kept here:
- MicroPython raises ValueError for verification failures, CPython SSLCertVerificationError
  (a subclass of both OSError and ValueError): we catch (OSError, ValueError).
- MicroPython's non-blocking TLS read returns None when no data is ready; CPython raises
  SSLWantReadError. Both mean "nothing now".
- The unix port wants raw sockaddr bytes: getaddrinfo()[0][-1] works everywhere.
"""
import socket
import ssl

try:
    _WANT = (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError)
except AttributeError:  # MicroPython
    _WANT = ()

_EAGAIN = (11, 35, 115)


class StreamError(Exception):
    def __init__(self, reason, tls=False):
        super().__init__(reason)
        self.reason = reason
        self.tls = tls


def _reason(e):
    text = (str(e) or repr(e)).strip()
    if isinstance(e, OSError) and e.args and isinstance(e.args[0], int) and len(e.args) == 1:
        text = "OSError %d" % e.args[0]
    return text


class StreamConn:
    """One connected TCP/TLS stream. `sock` is the object to register with select.poll."""

    def __init__(self, host, port, tls, server_name=None, ca_der=None, timeout_ms=10000,
                 client_cert=None):
        self.host = host
        self.port = port
        self.tls = tls
        self.server_name = server_name or host
        self.sock = None
        self._raw = None
        try:
            addr = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0][-1]
        except (OSError, IndexError) as e:
            raise StreamError("cannot resolve %s: %s" % (host, _reason(e)))
        raw = socket.socket(socket.AF_INET6 if _is_v6(host) else socket.AF_INET,
                            socket.SOCK_STREAM)
        self._raw = raw
        try:
            raw.settimeout(timeout_ms / 1000)
            raw.connect(addr)
        except (OSError, ValueError) as e:
            raw.close()
            raise StreamError("connect to %s:%d failed: %s" % (host, port, _reason(e)))
        if not tls:
            self.sock = raw
            raw.setblocking(False)
            return
        if ca_der is None:
            raw.close()
            raise StreamError("no CA configured for %s" % host, tls=True)
        try:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.verify_mode = ssl.CERT_REQUIRED
            if hasattr(ctx, "check_hostname"):
                ctx.check_hostname = True
            ctx.load_verify_locations(cadata=ca_der)
            if client_cert is not None:
                ctx.load_cert_chain(client_cert[0], client_cert[1])
            self.sock = ctx.wrap_socket(raw, server_hostname=self.server_name)
            # MicroPython may defer the handshake to the first write: SIP speaks first, but
            # verification must fail here, before any SIP byte, so force it now.
            if hasattr(self.sock, "do_handshake"):
                self.sock.do_handshake()
            else:
                self.sock.write(b"")
        except (OSError, ValueError) as e:
            raw.close()
            raise StreamError("TLS with %s (%s:%d) failed: %s" % (self.server_name, host, port,
                                                                 _reason(e)), tls=True)
        self.sock.setblocking(False)  # CPython's wrap_socket detached `raw` already

    def recv(self, n=2048):
        """Bytes read now; b'' when the peer closed; None when nothing is ready."""
        try:
            data = self.sock.recv(n) if hasattr(self.sock, "recv") else self.sock.read(n)
        except _WANT:
            return None
        except OSError as e:
            if e.args and e.args[0] in _EAGAIN:
                return None
            raise StreamError("read from %s:%d failed: %s" % (self.host, self.port, _reason(e)))
        if data is None:
            return None
        return data

    def send(self, data):
        """Write everything (blocking up to a few seconds); StreamError on failure."""
        mv = memoryview(data)
        sent = 0
        tries = 0
        while sent < len(data):
            try:
                n = self.sock.write(mv[sent:]) if not hasattr(self.sock, "send") else \
                    self.sock.send(mv[sent:])
            except _WANT:
                n = None
            except OSError as e:
                if e.args and e.args[0] in _EAGAIN:
                    n = None
                else:
                    raise StreamError("write to %s:%d failed: %s" % (self.host, self.port,
                                                                     _reason(e)))
            if not n:
                tries += 1
                if tries > 500:
                    raise StreamError("write to %s:%d stalled" % (self.host, self.port))
                _pause()
                continue
            sent += n

    def close(self):
        for s in (self.sock, self._raw):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass
        self.sock = None
        self._raw = None


def _is_v6(host):
    return ":" in host


def _pause():
    import time

    if hasattr(time, "sleep_ms"):
        time.sleep_ms(10)
    else:
        time.sleep(0.01)
