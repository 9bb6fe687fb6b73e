"""A UDP flow's socket: connected to its proxy, so the 5-tuple RFC 5626 keeps alive is fixed.

Same interface as io.stream.StreamConn (sock, recv, send, close): the driver polls it like a
stream, and each recv() is one datagram (SIP or STUN). A connected UDP socket also reports
ICMP port-unreachable as ECONNREFUSED on the next read or write: the proxy is gone, so the
flow fails at once instead of waiting out Timer F.
"""
import socket

from tinysip.io.stream import _EAGAIN, StreamError, _reason, local_address


_BUF = 4096  # the largest datagram taken: SIP over UDP stays under the MTU (RFC 3261 §18.1.1)


class DatagramConn:
    def __init__(self, host, port):
        self.host = host
        self.port = port
        # one receive buffer for the flow's life: recv(65535) would ask the heap for a
        # 64 KB block per datagram, more than a phone has in one piece
        self._buf = bytearray(_BUF)
        self._mv = memoryview(self._buf)
        try:
            addr = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)[0][-1]
            self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                                      socket.SOCK_DGRAM)
        except (OSError, IndexError) as e:
            raise StreamError("resolve %s: %s" % (host, _reason(e)), False)
        try:
            self.sock.connect(addr)
        except OSError as e:
            self.sock.close()
            raise StreamError("connect %s:%d (udp): %s" % (host, port, _reason(e)), False)
        self.sock.setblocking(False)

    def local(self):
        return local_address(self.sock)

    def recv(self):
        """One datagram; None when nothing is ready (an empty datagram is skipped). One
        longer than the buffer comes cut: its Content-Length then exceeds what arrived, and
        the UA answers or drops it as malformed (RFC 3261 §18.3), with a message_dropped
        event."""
        s = self.sock
        while True:
            try:
                n = s.recv_into(self._buf) if hasattr(s, "recv_into") else s.readinto(self._buf)
            except OSError as e:
                if e.args and e.args[0] in _EAGAIN:
                    return None
                raise StreamError("read %s:%d (udp): %s" % (self.host, self.port, _reason(e)),
                                  False)
            if n is None:
                return None
            if n:
                return bytes(self._mv[:n])

    def send(self, data):
        try:
            self.sock.send(data)
        except OSError as e:
            if not (e.args and e.args[0] in _EAGAIN):  # a full buffer drops it, as UDP does
                raise StreamError("write %s:%d (udp): %s" % (self.host, self.port, _reason(e)),
                                  False)

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
