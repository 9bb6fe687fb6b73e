"""A blocking DNS stub client for tinysip.locate: UDP to one server, TCP when the answer is
truncated, a TTL cache (tinysip.dns.Cache). CPython, MicroPython unix port and ESP32.

`Resolver(...).lookup` is what locate.targets() takes as `lookup`. It BLOCKS: each lookup
that misses the cache takes at most timeout_ms * tries in total (UDP tries plus the TCP
retry share that deadline), so a targets() call that needs NAPTR, three SRV and A/AAAA
queries against a dead server can stall the caller for several of those budgets. Call it
before a flow starts, not from the middle of the poll loop's packet handling.

What it accepts: only an answer from the server's address (the UDP socket is connected),
with our query ID and our question (case-insensitive), QR set. A reply that fails any of
these, or does not parse, is ignored and the wait goes on. NXDOMAIN and empty answers are
cached as negatives (dns.Cache keeps them briefly); a timeout or SERVFAIL is not cached.

Reading: one answer per recv(4096), once poll says one waits, on every runtime: recv is
one datagram, where MicroPython's readinto would join a spoofed reply and the real one
queued behind it into one unparseable read (io/udp.py has the measurements). The few
hundred bytes recv allocates per answer do not matter on this path.
"""
import os
import select
import socket
import struct

from tinysip import dns
from tinysip.errors import ParseError


class Resolver:
    def __init__(self, server, clock_now, timeout_ms=1000, tries=2, rng=os.urandom):
        """server: (host, port) of the DNS server; clock_now() -> monotonic ms."""
        self.server = server
        self.now = clock_now
        self.timeout_ms = timeout_ms
        self.tries = tries
        self.rng = rng
        self.cache = dns.Cache()
        self._addr = None

    def lookup(self, name, qtype):
        """Records of the answer and additional sections ([] when none, on NXDOMAIN or on
        timeout). Blocks up to timeout_ms * tries when not cached."""
        t0 = self.now()
        hit = self.cache.get(name, qtype, t0)
        if hit is not None:
            return hit
        qid = struct.unpack(">H", self.rng(2))[0]
        q = dns.query(qid, name, qtype)
        deadline = t0 + self.timeout_ms * self.tries
        ans = None
        try:
            if self._addr is None:
                ai = socket.getaddrinfo(self.server[0], self.server[1])[0]
                self._addr = ai[0], ai[-1]
            ans = self._udp(q, qid, name, qtype, t0)
            if ans is not None and ans.tc:
                ans = self._tcp(q, qid, name, qtype, deadline)
        except OSError:
            ans = None
        if ans is None or (ans.rcode != dns.NOERROR and ans.rcode != dns.NXDOMAIN):
            return []
        recs = ans.answers + ans.additional
        ttl = min([r[2] for r in recs]) if recs else dns.Cache.NEG_TTL_S
        self.cache.put(name, qtype, recs, ttl, self.now())
        return recs

    def _check(self, data, qid, name, qtype):
        """The Answer when data answers our question, else None."""
        try:
            a = dns.parse(data, qid)
        except ParseError:
            return None
        if not a.qr or a.qtype != qtype or a.qname != name.lower().rstrip(b"."):
            return None
        return a

    def _udp(self, q, qid, name, qtype, t0):
        s = socket.socket(self._addr[0], socket.SOCK_DGRAM)
        try:
            s.connect(self._addr[1])
            p = select.poll()
            p.register(s, select.POLLIN)
            for i in range(self.tries):
                s.send(q)  # the same ID each try, so a late answer to an earlier one counts
                end = t0 + self.timeout_ms * (i + 1)
                while True:
                    left = end - self.now()
                    if left <= 0 or not p.poll(left):
                        break
                    try:
                        a = self._check(s.recv(4096), qid, name, qtype)
                    except OSError:
                        a = None  # e.g. ICMP port unreachable on a connected socket
                    if a is not None:
                        return a
            return None
        finally:
            s.close()

    def _tcp(self, q, qid, name, qtype, deadline):
        """The answer over TCP (RFC 1035 §4.2.2: a 2-byte length before each message)."""
        s = socket.socket(self._addr[0], socket.SOCK_STREAM)
        try:
            buf = b""
            s.settimeout(max(deadline - self.now(), 1) / 1000)
            s.connect(self._addr[1])
            data = struct.pack(">H", len(q)) + q
            while data:
                s.settimeout(max(deadline - self.now(), 1) / 1000)
                data = data[s.send(data) :]
            while len(buf) < 2 or len(buf) < 2 + ((buf[0] << 8) | buf[1]):
                if self.now() >= deadline:
                    return None
                s.settimeout(max(deadline - self.now(), 1) / 1000)
                chunk = s.recv(4096)
                if not chunk:
                    return None
                buf += chunk
            return self._check(buf[2 : 2 + ((buf[0] << 8) | buf[1])], qid, name, qtype)
        finally:
            s.close()
