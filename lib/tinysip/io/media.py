"""UDP adapter for the RTP loopback mirror (tinysip.rtp.Mirror): driven from a select.poll
loop, register `sock` for POLLIN and call step() whenever it is readable.

Who is mirrored (restricted latching): latching on the first packet from anyone (RFC 7362
describes latching and its risks; §5 per issue 15 - verify: the stored copy we could read
gave the abstract only) lets a third party take the media over, which is why strict-RTP
phones and SBCs latch only on the SDP's address since "RTP Bleed". `remote` is the
(ip, port) the offer's c=/m= name. Until a first valid RTP packet arrives, only
datagrams from that IP are taken (its source port is learned, for a NAT that keeps the
address; recvfrom, allocating); that source is latched. From the SDP address itself the
socket is then connect()ed, so the kernel drops every other source and reads are plain
recv. From another port of that IP the socket stays unconnected: every datagram is checked
and only the latched source or the SDP address (which takes over for good) is mirrored.
Nothing else ever moves the latch; datagrams from other sources are counted in `foreign`
and never answered. remote=None latches on the first valid packet from anyone (benches and
tests only: the phone's driver always names the offer's address).

Exactly one reply per datagram mirrored, built from that datagram's bytes only (at most as
long: encaprtp adds its 12-byte header). With `exact` (the phone's driver) every read is one
datagram (io.udp.recv_into): no allocation on CPython; on MicroPython a read leaves the
datagram's bytes object as garbage (224 B for a 172-byte packet on the 64-bit unix port, the
figures are in io/udp.py) because its sockets have no allocation-free read that keeps
datagram boundaries. exact=False (tools: the zero-allocation figure of a constant-size test
stream) reads with readinto(view, size) once latched, size being the latched packet's: one
datagram per read while every datagram has that size; a longer one is cut to it (one reply,
never longer than the datagram), a shorter one takes the start of the next one queued.

Replies are written straight from the mirror's buffer: sock.write(buf, off, n) on
MicroPython (no slice), send() on CPython; sendto while unconnected. Heap: recvfrom needs a
scratch block of the largest datagram (~1.5 KB) besides the mirror's buffer of the same
size; both at once are the biggest contiguous need of a call, so while unlatched the buffer
is let go before each recvfrom (the scratch can take its place) and made again after it.
The unix port has no getsockname: the caller names the port (see io.udp.bind). After an
ICMP port unreachable the next read raises OSError(111) once: counted in `errors`.
"""
import socket

from tinysip.io.udp import bind, recv_into, waiter


def _ip(a):
    """The IP of a socket address: CPython and ESP32 give (ip, port) tuples, the unix port
    raw sockaddr bytes."""
    return a[0] if isinstance(a, tuple) else socket.sockaddr(a)[1]


class MediaPort:
    """A bound, non-blocking UDP socket feeding `mirror`. host: local address to bind (str);
    port: the RTP port wanted, the next even ports (inside lo..hi when given) are tried when
    it is taken; `port` is the one bound. remote: (ip str, port) of the offer, see above.
    `peer` is None until latched, then the latched source. `errors` counts failed
    reads/writes (e.g. an ICMP unreachable), `foreign` datagrams from sources not accepted;
    neither ever raises.
    """

    def __init__(self, mirror, host, port, exact=False, tries=16, remote=None, lo=None,
                 hi=None):
        self.mirror = mirror
        self.sdp = None if remote is None else socket.getaddrinfo(remote[0], remote[1])[0][-1]
        self._sip = None if remote is None else _ip(self.sdp)
        self.peer = None
        self.conn = False  # connected to peer: the kernel filters the source
        self.size = 0  # bytes of the latched packet (exact=False reads that much)
        self.errors = self.foreign = 0
        self.exact = exact
        self.sock, self.port = bind(host, port, tries, lo, hi)
        self._w = waiter(self.sock)
        self._mv = memoryview(mirror.buf)  # CPython sends slices of it

    def step(self):
        """Read one datagram and mirror it (or ignore it). Returns 1 when a datagram was
        read, 0 when nothing was waiting or a read failed."""
        mir = self.mirror
        s = self.sock
        w = self._w
        try:
            if self.conn:
                if w is None or self.exact:
                    n = recv_into(s, w, mir.view, mir.lim + 1)
                else:
                    n = s.readinto(mir.view, self.size)
                if not n:  # None: nothing waits; 0: an empty datagram, nothing to mirror
                    return 0
                addr = self.peer
            else:
                if w is not None:
                    for _ in w.ipoll(0):
                        break
                    else:
                        return 0  # nothing waits (MicroPython: do not raise EAGAIN)
                if self.peer is None:
                    # recvfrom allocates a scratch of lim + 1 bytes: let the mirror's buffer
                    # go first so that one such block of heap serves both, then make it again
                    size = len(mir.buf)
                    mir.buf = mir.view = self._mv = None
                    try:
                        data, addr = s.recvfrom(mir.lim + 1)
                    finally:
                        mir.buf = bytearray(size)
                        mir.view = memoryview(mir.buf)[12:]
                        self._mv = memoryview(mir.buf)
                else:
                    data, addr = s.recvfrom(mir.lim + 1)
                n = len(data)
                if self.sdp is None:
                    ok = True
                elif self.peer is None:
                    ok = _ip(addr) == self._sip
                else:
                    ok = addr == self.peer or addr == self.sdp
                if not ok:
                    self.foreign += 1
                    return 1
                mir.view[0:n] = data
            r = mir.reflect(n)
            if r:
                if not self.conn and (self.peer is None or addr == self.sdp):
                    self.peer = addr
                    self.size = n
                    if self.sdp is None or addr == self.sdp:
                        s.connect(addr)
                        self.conn = True
                if not self.conn:
                    s.sendto(self._mv[mir.off:mir.off + r], addr)
                elif w is not None:
                    s.write(mir.buf, mir.off, r)
                else:
                    s.send(self._mv[mir.off:mir.off + r])
            return 1
        except OSError as e:  # EAGAIN (CPython: BlockingIOError), or ICMP unreachable
            if e.args and e.args[0] not in (11, 35):
                self.errors += 1
            return 0

    def close(self):
        self.sock.close()
