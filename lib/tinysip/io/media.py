"""UDP adapter for the RTP loopback mirror (tinysip.rtp.Mirror): driven from a select.poll
loop, register `sock` for POLLIN and call step() whenever it is readable.

Who is mirrored (restricted latching): latching on the first packet from anyone (RFC 7362
describes latching and its risks; §5 per issue 15 - verify: the stored copy we could read
gave the abstract only) lets a third party take the media over, which is why strict-RTP
phones and SBCs latch only on the SDP's address since "RTP Bleed". `addr` is the
(ip, port) the offer's c=/m= name. Until a first valid RTP packet arrives, only
datagrams from that IP are taken (its source port is learned, for a NAT that keeps the
address; recvfrom, allocating); that source is latched. From the SDP address itself the
socket is then connect()ed, so the kernel drops every other source and reads are plain
recv. From another port of that IP the socket stays unconnected: every datagram is checked
and only the latched source or the SDP address (which takes over for good) is mirrored.
Nothing else ever moves the latch; datagrams from other sources are read and never
answered. addr=None latches on the first valid packet from anyone (benches and
tests only: the phone's driver always names the offer's address).

Exactly one reply per datagram mirrored, built from that datagram's bytes only (at most as
long: encaprtp adds its 12-byte header). With size=-1 (the phone's driver) every read is one
datagram (io.udp.recv_into): no allocation on CPython; on MicroPython a read leaves the
datagram's bytes object as garbage (224 B for a 172-byte packet on the 64-bit unix port, the
figures are in io/udp.py) because its sockets have no allocation-free read that keeps
datagram boundaries. size=0 (tools: the zero-allocation figure of a constant-size test
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


class MediaPort:
    """A bound, non-blocking UDP socket feeding `mirror`. host: local address to bind (str);
    port: the RTP port wanted, the next even ports (inside low..high when given) are tried
    when it is taken; `port` is the one bound. addr: (ip str, port) of the offer, see above.
    size: -1 (the phone) reads one whole datagram per read; 0 (tools) latches the first
    packet's size and reads that much with readinto once connected. `peer` is None until
    latched, then the latched source. `errors` counts failed reads/writes (e.g. an ICMP
    unreachable); it never raises. Few attribute and argument names on purpose: each is
    interned on the phone (docs/benchmarks.md).
    """

    def __init__(self, mirror, host, port, addr=None, low=None, high=None, size=-1):
        self.mirror = mirror
        self.sdp = None if addr is None else socket.getaddrinfo(addr[0], addr[1])[0][-1]
        self.peer = None
        self.conn = False  # connected to peer: the kernel filters the source
        self.size = size  # > 0: bytes of the latched packet, read that much (size=0 tools)
        self.errors = 0
        self.sock, self.port = bind(host, port, low, high)
        self.poll = waiter(self.sock)
        self._mv = memoryview(mirror.buf)  # CPython sends slices of it

    def step(self):
        """Read one datagram and mirror it (or ignore it). Returns 1 when a datagram was
        read, 0 when nothing was waiting or a read failed."""
        mir = self.mirror
        s = self.sock
        w = self.poll
        try:
            if self.conn:
                if w is None or self.size < 0:
                    n = recv_into(s, w, mir.view, len(mir.view))
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
                n = len(mir.view)
                if self.peer is None and len(mir.buf) == n + 12:
                    # recvfrom allocates a scratch of the view's size: let the mirror's buffer
                    # (its own, not a shared one: exactly that size) go first so that one such
                    # block of heap serves both, then make it again
                    size = len(mir.buf)
                    mir.buf = mir.view = self._mv = None
                    try:
                        data, addr = s.recvfrom(n)
                    finally:
                        mir.buf = bytearray(size)
                        mir.view = memoryview(mir.buf)[12:]
                        self._mv = memoryview(mir.buf)
                else:
                    data, addr = s.recvfrom(n)
                n = len(data)
                sdp = self.sdp
                if sdp is None:
                    ok = True
                elif self.peer is None:  # the offer's IP, any port: compare the IPs
                    if isinstance(addr, tuple):  # CPython, ESP32: (ip, port)
                        ok = addr[0] == sdp[0]
                    else:  # the unix port: raw sockaddr bytes
                        ok = socket.sockaddr(addr)[1] == socket.sockaddr(sdp)[1]
                else:
                    ok = addr == self.peer or addr == sdp
                if not ok:
                    return 1  # a stranger's datagram: read, never answered
                mir.view[0:n] = data
            r = mir.reflect(n)
            if r:
                if not self.conn and (self.peer is None or addr == self.sdp):
                    self.peer = addr
                    if self.size >= 0:
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
        """Close the socket: (datagrams mirrored in, replies out, None)."""
        self.sock.close()
        return self.mirror.rx, self.mirror.tx, None
