"""A UDP flow's socket: connected to its proxy, so the 5-tuple RFC 5626 keeps alive is fixed.

Same interface as io.stream.StreamConn (sock, recv, send, close): the driver polls it like a
stream, and each recv() is exactly one datagram (SIP or STUN) on both runtimes, read with
io.udp.recv: on MicroPython `readinto` would hand back every queued datagram as one (the
parser kept the first message and lost the rest: 18 of 40 back-to-back OPTIONS), so it reads
with recv(4096), which leaves the datagram's bytes object as garbage (224 B for a 172-byte
one, measured on the unix port; the figures are in io/udp.py) and needs a transient 4 KB
block per read instead of a 4 KB buffer for the flow's life. CPython recv is one datagram too.
A connected UDP socket also reports ICMP port-unreachable as ECONNREFUSED on the next read or
write: the proxy is gone, so the flow fails at once instead of waiting out Timer F.
"""
import socket

from tinysip.io.stream import _EAGAIN, StreamError, _reason
from tinysip.io.udp import recv, waiter

_BUF = 4096  # the largest datagram taken: SIP over UDP stays under the MTU (RFC 3261 §18.1.1)
_EMPTY = 8  # empty reads in a row that end the flow (ESP32 sockets then never read again)


class DatagramConn:
    def __init__(self, host, port):
        self.host = host
        self.port = port
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
        self._w = waiter(self.sock)

    def recv(self):
        """One datagram; None when nothing is ready. An empty datagram is skipped; a run of
        _EMPTY empty reads fails the flow (ESP32 marks a socket that read 0 bytes as closed
        and reads nothing more from it: the flow re-forms on a new socket). One longer than
        _BUF comes cut: its Content-Length then exceeds what arrived, and the UA answers or
        drops it as malformed (RFC 3261 §18.3), with a message_dropped event. A heap too
        fragmented for the read's 4 KB fails the flow too (it re-forms; the datagram is lost,
        as UDP may lose it)."""
        why = "empty datagrams"
        for _ in range(_EMPTY):
            try:
                d = recv(self.sock, self._w, _BUF)
            except OSError as e:
                if e.args and e.args[0] in _EAGAIN:
                    return None
                why = _reason(e)
                break
            except MemoryError:
                why = "out of memory"
                break
            if d is None or d:
                return d
        raise StreamError("read %s:%d (udp): %s" % (self.host, self.port, why), False)

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
