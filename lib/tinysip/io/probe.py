"""UDP adapter for the loopback source (tinysip.probe.Source): pacing, sending, receiving.

Owns: one bound non-blocking UDP socket, the microsecond clock of the measurement, the send
schedule (packet k is due at start + k * interval) and the read loop that timestamps every
mirrored datagram. It decides nothing about the packets (tinysip.probe does) and does no SIP.

Driving it from a select.poll loop: register `sock` for POLLIN, poll for at most
pace() // 1000 ms, call step() when readable, and pace() again; after the last packet
(pace() returns None) keep stepping for a drain time, then read source.summary().

Clock: now_us() counts from the port's creation and never wraps: on MicroPython it adds up
time.ticks_diff(ticks_us) (ticks_us wraps after ~17.9 min on ESP32; now_us must be called at
least every ~8 min, which the poll loop does), on CPython time.perf_counter_ns() // 1000.
Starting at 0 keeps the µs values small ints (31-bit on ESP32) for ~17 minutes of test.

Sockets (measured facts in tinysip.io.udp): CPython reads one datagram per recv_into.
MicroPython sockets have no read that keeps datagram boundaries without allocating (recv
leaves ~224 B per reply). Every reply of one test has the same size (our packet, +12 with
encaprtp), so MicroPython reads with readinto(buf, size): readinto stops once `size` bytes
are in, so a backlog of replies comes one reply per read with no allocation and nothing is
split afterwards. A longer datagram is cut to `size` (still one read; the kernel drops its
rest); a shorter one (never one of ours) is read with whatever waits behind it, so a reply
queued right behind a short foreign datagram is lost to the measurement (both count as
foreign). Sending uses sendto(buf, addr) with the source's own buffer (exactly one packet
long, no slice) and a sockaddr resolved once by target(); the socket stays unconnected, so
replies from another address reach receive() (and count as foreign when they carry no
stamp).
"""
import socket
import time
from array import array

from tinysip.io.udp import bind, recv_into
from tinysip.probe import ENCAP

if hasattr(time, "ticks_us"):
    _ticks = time.ticks_us
    _diff = time.ticks_diff
else:
    from operator import sub as _diff

    def _ticks():
        return time.perf_counter_ns() // 1000


class ProbePort:
    """A bound, non-blocking UDP socket sending `source`'s packets and feeding it replies.
    host: local address to bind (str); port: the port wanted, the next even ports are tried
    when it is taken; `port` is the one bound. `errors` counts failed sends and reads
    (e.g. an ICMP unreachable), which never raise.
    """

    def __init__(self, source, host, port):
        self.source = source
        self.errors = 0
        self.mp = hasattr(socket.socket, "readinto")
        self.sock, self.port = bind(host, port)
        self.addr = None
        self.size = len(source.buf) + (12 if source.mode == ENCAP else 0)  # one reply
        self.rbuf = bytearray(self.size if self.mp else 2048)
        self.interval = source.interval_ms * 1000
        self.start = None  # now_us of packet 0
        self.errs = array("i", bytearray(4 * source.capacity))  # send time - due time, µs
        self.nerr = 0
        self._last = _ticks()
        self._now = 0

    def target(self, ip, port):
        """Send to ip (str or bytes) : port from now on (resolved here, once)."""
        if isinstance(ip, bytes):
            ip = ip.decode()
        self.addr = socket.getaddrinfo(ip, port)[0][-1]

    def now_us(self):
        """Microseconds since this port was made; monotonic, never wraps."""
        t = _ticks()
        self._now += _diff(t, self._last)
        self._last = t
        return self._now

    def pace(self, now_us=None):
        """Send every packet whose time has come; returns µs until the next one is due, or
        None when the source has sent all it can. now_us: the time to use (tests); None
        reads now_us() before each send."""
        src = self.source
        if self.addr is None:
            raise ValueError("probe: pace() before target()")
        own = now_us is None
        s = self.sock
        while src.sent < src.capacity:
            now = self.now_us() if own else now_us
            if self.start is None:
                self.start = now
            due = self.start + src.sent * self.interval
            if now < due:
                return due - now
            n = src.packet(now)
            try:
                s.sendto(src.buf, self.addr)
            except OSError:  # EAGAIN on a full send buffer, or an ICMP error: packet lost
                self.errors += 1
            self.errs[self.nerr] = now - due
            self.nerr += 1
        return None

    def step(self):
        """Read every waiting datagram and feed it to the source; returns how many."""
        src = self.source
        s = self.sock
        buf = self.rbuf
        got = 0
        while True:
            try:
                if self.mp:  # one reply per read (see the module docstring), no allocation
                    n = s.readinto(buf, self.size)
                else:
                    n = recv_into(s, None, buf, len(buf))
            except OSError as e:  # ICMP unreachable
                if e.args and e.args[0] not in (11, 35):
                    self.errors += 1  # the next step() reads what waits behind it
                return got
            if not n:  # None: nothing waits; 0: an empty datagram (ESP32: then all are)
                return got
            src.receive(buf, n, self.now_us())
            got += 1

    def timing(self):
        """Send timing error (actual - scheduled, µs) over the packets sent: dict(p50_us,
        p99_us, max_us), values None before the first packet."""
        n = self.nerr
        if not n:
            return {"p50_us": None, "p99_us": None, "max_us": None}
        e = sorted(self.errs[i] for i in range(n))
        return {"p50_us": e[(50 * n + 99) // 100 - 1], "p99_us": e[(99 * n + 99) // 100 - 1],
                "max_us": e[-1]}

    def close(self):
        self.sock.close()
