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
- A client certificate (the RFC 6072 credential, DER certificate and PKCS#8 key) goes to
  MicroPython's load_cert_chain as bytes; CPython only loads it from files, so it is
  written to two private temporary PEM files for the call.
- The server name must be in the certificate's subjectAltName (RFC 9525): a name only in
  the subject CN is refused. mbedTLS falls back to the CN when a certificate has no
  subjectAltName, and so does OpenSSL for a DNS name unless told not to. So after every
  handshake tinysip.tlsname checks the server certificate itself (imported for that and
  dropped again, it is not kept between connects): CPython gives it with getpeercert(True);
  MicroPython's SSLSocket has no getpeercert (mbedTLS built without
  MBEDTLS_SSL_KEEP_PEER_CERTIFICATE), so the handshake's verify callback (tls.SSLContext
  .verify_callback, MicroPython 1.23+) copies it. CPython's
  own CN fallback is switched off as well (hostname_checks_common_name).
"""
import socket
import sys
import time

try:  # MicroPython: its C module, which its ssl module (Python, frozen) only wraps: that
    # wrapper costs the phone 1,056 B of heap on the 64-bit unix port, 544 B on 32 bits
    import tls as ssl
except ImportError:  # CPython
    import ssl

from tinysip.compat import MICROPYTHON, load

try:
    _WANT = (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError)
except AttributeError:  # MicroPython
    _WANT = ()

_EAGAIN = (11, 35, 115)

# Shared by every connection (they connect one at a time, and recv() hands out a copy):
# - the read buffer, taken at import while the heap is young: a fresh 2 KB block per read
#   was the allocation that failed first on a fragmented heap, and one per flow is 2 KB
#   more for each;
# - the TLS context, made for the first connection and kept while the CA and the client
#   credential stay the same: MicroPython's SSLContext is one ~3 KB block of the GC heap
#   (64-bit; it holds mbedTLS's config, CA chain and RNG state), and each SSLSocket keeps
#   its context alive, so one context per connection cost ~3 KB per flow for good and a
#   fresh 3 KB block at every reconnect.
BUF = bytearray(2048)  # (io.voiceport's packet buffer too)
_MV = memoryview(BUF)
_TLS = [None, None, None]  # CA DER, client (certificate DER, key DER) or None, SSLContext


class StreamError(Exception):
    """args: (reason text naming the operation and the peer, True when TLS failed)."""


def _reason(e):
    text = (str(e) or repr(e)).strip()
    if isinstance(e, OSError) and e.args and isinstance(e.args[0], int) and len(e.args) == 1:
        text = "OSError %d" % e.args[0]
    return text


def tls_context(ca_der, client=None):
    """The TLS context every connection uses (_TLS), made anew only when the CA or the
    client credential changed. The firmware makes it at boot, while the heap is in one
    piece: the context is one ~3 KB block (64-bit), the largest the first connect needs."""
    t = _TLS
    ctx = t[2]
    if ctx is None or t[0] != ca_der or t[1] != client:
        t[2] = ctx = None  # the old one goes with the last connection using it
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.verify_mode = ssl.CERT_REQUIRED
        if not MICROPYTHON:  # (setattr: no interned name)
            setattr(ctx, "check_hostname", True)
            setattr(ctx, "hostname_checks_common_name", False)
        if MICROPYTHON:  # (tls takes it as its one argument; CPython's first is a file)
            ctx.load_verify_locations(ca_der)
        else:
            ctx.load_verify_locations(cadata=ca_der)
        if client is not None and MICROPYTHON:
            ctx.load_cert_chain(client[0], client[1])
        elif client is not None:  # CPython loads one only from PEM files: io/pemfiles
            load(b"tinysip.io.pemfiles load_cert_chain")(ctx, client[0], client[1])
        t[0], t[1], t[2] = ca_der, client, ctx
    return ctx


class StreamConn:
    """One connected TCP/TLS stream. `sock` is the object to register with select.poll."""

    def __init__(self, host, port, tls, server_name, ca_der, timeout_ms, client=None):
        """`client`: (certificate DER, PKCS#8 key DER) to present, or None."""
        self.host = host
        self.port = port
        self.sock = None
        self._raw = None
        try:
            addr = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0][-1]
        except (OSError, IndexError) as e:
            raise StreamError("resolve %s: %s" % (host, _reason(e)), False)
        raw = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                            socket.SOCK_STREAM)
        self._raw = raw
        try:
            raw.settimeout(timeout_ms / 1000)
            raw.connect(addr)
        except (OSError, ValueError) as e:
            raw.close()
            raise StreamError("connect %s:%d: %s" % (host, port, _reason(e)), False)
        if not tls:
            self.sock = raw
            raw.setblocking(False)
            return
        if ca_der is None:
            raw.close()
            raise StreamError("no CA for TLS", True)
        server_name = server_name or host
        # the server certificate as the handshake saw it (MicroPython), and whether the heap
        # could not hold a copy; the callback fills slots that exist: it must not allocate
        # more than the copy, nor raise inside mbedTLS, nor return anything but an int.
        # Its names are ones the phone has interned already (data: the certificate, nth:
        # its depth in the chain, 0 for the server's own).
        leaf = [None, False]

        def verify_callback(data, nth):
            if nth == 0:
                try:
                    leaf[0] = bytes(data)
                except MemoryError:
                    leaf[1] = True
            return 0

        try:
            ctx = tls_context(ca_der, client)
            if MICROPYTHON:
                try:
                    ctx.verify_callback = verify_callback
                except AttributeError:
                    raise ValueError("this firmware cannot show the server certificate "
                                     "(tls verify_callback, MicroPython 1.23+)")
            self.sock = ctx.wrap_socket(raw, server_hostname=server_name)
            # MicroPython may defer the handshake to the first write: SIP speaks first, but
            # verification must fail here, before any SIP byte, so force it now.
            if hasattr(self.sock, "do_handshake"):
                self.sock.do_handshake()
            else:
                self.sock.write(b"")
            why = None
            if not MICROPYTHON:
                leaf[0] = getattr(self.sock, "getpeercert")(True)
            if leaf[1]:
                raise MemoryError
            if leaf[0] is None:
                why = "no server certificate seen"
            else:
                from tinysip import tlsname

                why = tlsname.match(leaf[0], server_name)
        except (OSError, ValueError) as e:
            self.close()
            raise StreamError("TLS %s (%s:%d): %s" % (server_name, host, port, _reason(e)), True)
        except MemoryError:  # the driver fails the flow, which backs off and retries
            self.close()
            raise
        finally:
            leaf[0] = None
            if sys.modules.pop("tinysip.tlsname", None) is not None:
                try:
                    delattr(sys.modules["tinysip"], "tlsname")
                except (AttributeError, KeyError):
                    pass
        if why is not None:
            self.close()
            raise StreamError("TLS %s (%s:%d): %s" % (server_name, host, port, why), True)
        self.sock.setblocking(False)  # CPython's wrap_socket detached `raw` already

    def recv(self):
        """Bytes read now; b'' when the peer closed; None when nothing is ready."""
        s = self.sock
        try:
            n = s.recv_into(BUF) if hasattr(s, "recv_into") else s.readinto(BUF)
        except _WANT:
            return None
        except OSError as e:
            if e.args and e.args[0] in _EAGAIN:
                return None
            raise StreamError("read %s:%d: %s" % (self.host, self.port, _reason(e)), False)
        if n is None:  # MicroPython: a non-blocking TLS read with nothing ready
            return None
        try:
            return bytes(_MV[:n])
        except MemoryError:  # the bytes are read but cannot be kept: the stream has a hole
            raise StreamError("read %s:%d: out of memory, %d bytes lost" % (
                self.host, self.port, n), False)

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
                if not (e.args and e.args[0] in _EAGAIN):
                    raise StreamError("write %s:%d: %s" % (self.host, self.port, _reason(e)),
                                      False)
                n = None
            if not n:
                tries += 1
                if tries > 500:
                    raise StreamError("write %s:%d: stalled" % (self.host, self.port), False)
                time.sleep(0.01)
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
