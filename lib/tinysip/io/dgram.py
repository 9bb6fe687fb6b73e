"""A UDP flow's socket: connected to its proxy, so the 5-tuple RFC 5626 keeps alive is fixed.

Same interface as io.stream.StreamConn (sock, recv, send, close): the driver polls it like a
stream, and each recv() is one SIP or STUN message, as the datagram that carried it.
A connected UDP socket also reports ICMP port-unreachable as ECONNREFUSED on the next read or
write: the proxy is gone, so the flow fails at once instead of waiting out Timer F.

Reading without a transient block (issue 16): MicroPython's recv(n) takes an n-byte scratch
per read and shrinks it to the datagram (io/udp.py has the measurements). For n = 4096 that
was one contiguous 4 KB block per SIP or STUN datagram, which a fragmented heap near its
smallest cannot give: the TLS + UDP phone needed 106 KB (64-bit) where two TLS flows need 92.
So the flows read into one buffer made with this module (_RX, 4 KB: SIP over UDP stays
under it, RFC 3261 §18.1.1) and copy out only each message (its exact size). CPython reads
one datagram per recv_into. MicroPython's readinto is a stream read: the datagrams already
queued come back as one run (io/udp.py), so the run is cut where each message ends: a STUN
message after its 20-byte header and its length (RFC 5389 §6), SIP after its head and its
Content-Length, CR/LF keepalives as their own unit (the UA drops them); a SIP message
without Content-Length (allowed over UDP, RFC 3261 §20.14) ends with its head when a STUN
header or a SIP start line follows, else it takes the rest of the run as its body (Kamailio
always writes a Content-Length). Bytes that are neither (junk from the proxy's address)
stay one run: datagram boundaries are kept for SIP and STUN, the only things the UA reads. The messages after the first
wait in `out` for the next recv(). A run that fills the buffer may end in a cut datagram
(the kernel drops the rest of it): the UA refuses or drops that one as malformed, as it does
a datagram cut by the buffer's size (RFC 3261 §18.3).
"""
import socket

from tinysip.framing import _start_line
from tinysip.io.stream import _EAGAIN, StreamError, _reason
from tinysip.io.udp import waiter

_BUF = 4096  # the largest datagram taken: SIP over UDP stays under the MTU (RFC 3261 §18.1.1)
_EMPTY = 8  # empty reads in a row that end the flow (ESP32 sockets then never read again)
_RX = bytearray(_BUF)  # every UDP flow's read buffer: a read is cut into its messages at once
_MV = memoryview(_RX)


def _end(b, i, n):
    """Where the message that starts at b[i] ends, in the run b[i:n] (see the docstring)."""
    c = b[i]
    if c == 13 or c == 10:  # keepalive line ends (or stray ones): a unit of their own
        while i < n and (b[i] == 13 or b[i] == 10):
            i += 1
        return i
    if c < 2:  # STUN: the first two bits are zero (a SIP message starts with a letter)
        e = i + 20 + (b[i + 2] << 8 | b[i + 3]) if n - i >= 4 else n
        return e if e <= n else n
    h = b.find(b"\r\n\r\n", i, n)
    if h < 0:
        return n
    e = h + 4
    j = b.find(b"\n", i, h) + 1  # the header lines, after the start line
    while 0 < j <= h:  # (read in place: nothing allocated per line)
        k = b.find(b"\n", j, h + 2)
        col = b.find(b":", j, k)
        m = col
        while m > j and (b[m - 1] == 32 or b[m - 1] == 9):
            m -= 1
        m -= j
        if m == 14:  # "Content-Length" in any case, or its compact form "l"
            m = 0
            while m < 14 and b[j + m] | 32 == b"content-length"[m]:
                m += 1
        if m == 14 or m == 1 and b[j] | 32 == 108:
            v = 0
            d = 0  # digits
            for x in range(col + 1, k):
                c = b[x]
                if 48 <= c <= 57 and d < 9:
                    v = v * 10 + c - 48
                    d += 1
                elif c != 32 and c != 9 and c != 13:
                    return n  # not a number: the UA refuses it, the rest of the run with it
            if not d:
                return n
            return e + v if e + v <= n else n
        j = k + 1
    if e == n:
        return n
    # no Content-Length: what follows is the next datagram when it starts like one (a STUN
    # header with its magic cookie, or a SIP start line), else it is this one's body
    k = b.find(b"\n", e, n)
    if b[e] < 2 and n - e >= 8 and b[e + 4] == 0x21 and b[e + 5] == 0x12 or \
            k > e and _start_line(b, e, k):
        return e
    return n


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
        self.out = []  # messages of the last read not yet handed out

    def recv(self):
        """One message; None when nothing is ready. An empty datagram is skipped; a run of
        _EMPTY empty reads fails the flow (ESP32 marks a socket that read 0 bytes as closed
        and reads nothing more from it: the flow re-forms on a new socket). One longer than
        _BUF comes cut: its Content-Length then exceeds what arrived, and the UA answers or
        drops it as malformed (RFC 3261 §18.3), with a message_dropped event. A heap that
        cannot hold the message's copy fails the flow too (it re-forms; the datagram is
        lost, as UDP may lose it)."""
        q = self.out
        if q:
            return q.pop(0)
        why = "empty datagrams"
        for _ in range(_EMPTY):
            try:
                if self._w is None:  # CPython: one datagram per recv_into
                    n = self.sock.recv_into(_RX, _BUF)
                else:  # MicroPython: ipoll(0) first (an empty socket's read raises EAGAIN,
                    n = None  # and raising allocates)
                    for _ in self._w.ipoll(0):
                        n = self.sock.readinto(_RX, _BUF)
                if n is None:
                    return None
                if n:
                    i = _end(_RX, 0, n)
                    d = bytes(_MV[0:i])
                    while i < n:  # the run held more than one message
                        e = _end(_RX, i, n)
                        q.append(bytes(_MV[i:e]))
                        i = e
                    return d
            except OSError as e:
                if e.args and e.args[0] in _EAGAIN:
                    return None
                why = _reason(e)
                break
            except MemoryError:
                why = "out of memory"
                break
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
