"""tinysip.io.resolver against a tiny DNS server (UDP and TCP on 127.0.0.1) running in a
thread, built from tinysip.dns (to read queries) and test_dns.response (to answer).
Portable: _thread, select.poll and getaddrinfo()[0][-1] addresses work on both runtimes."""
import os
import select
import socket
import time

import _thread

from test_dns import response
from tinysip import dns
from tinysip.io.clock import Clock
from tinysip.io.resolver import Resolver

HOST = "127.0.0.1"


def _sleep_ms(ms):
    if hasattr(time, "sleep_ms"):
        time.sleep_ms(ms)
    else:
        time.sleep(ms / 1000)


class FakeDns:
    """zones: {(name, qtype): (answers, additional, rcode)}; names in `tc` get a truncated
    UDP reply (full answer over TCP); names in `silent` get nothing; names in `spoof` get
    a reply with the wrong ID first. udp / tcp count the queries seen."""

    def __init__(self, zones):
        self.zones = zones
        self.tc = []
        self.silent = []
        self.spoof = []
        self.udp = self.tcp = 0
        self.stop = False
        self.done = False
        base = 20000 + (os.urandom(1)[0] << 5)
        for port in range(base, base + 64):
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            addr = socket.getaddrinfo(HOST, port)[0][-1]
            try:
                u.bind(addr)
                t.bind(addr)
                t.listen(2)
                break
            except OSError:
                u.close()
                t.close()
        self.port = port
        self.u, self.t = u, t
        _thread.start_new_thread(self._run, ())

    def _answer(self, q, udp):
        a = dns.parse(q)
        ans, add, rcode = self.zones.get((a.qname, a.qtype), ([], [], dns.NXDOMAIN))
        if udp and a.qname in self.tc:
            return response(q, tc=True)
        return response(q, ans, add, rcode)

    def _run(self):
        p = select.poll()
        p.register(self.u, select.POLLIN)
        p.register(self.t, select.POLLIN)
        # CPython's poll reports file descriptors, MicroPython's the socket objects
        mine = (self.u, self.u.fileno() if hasattr(self.u, "fileno") else -1)
        try:
            while not self.stop:
                for ev in p.poll(20):
                    if ev[0] in mine:
                        self._udp()
                    else:
                        self._tcp()
        finally:
            self.u.close()
            self.t.close()
            self.done = True

    def _udp(self):
        q, peer = self.u.recvfrom(4096)
        self.udp += 1
        name = dns.parse(q).qname
        if name in self.silent:
            return
        if name in self.spoof:  # three forged replies queued right before the real one
            for _ in range(3):
                self.u.sendto(b"\xff\xff" + self._answer(q, True)[2:], peer)
        self.u.sendto(self._answer(q, True), peer)

    def _tcp(self):
        c = self.t.accept()[0]
        self.tcp += 1
        try:
            c.settimeout(2)
            buf = b""
            while len(buf) < 2 or len(buf) < 2 + ((buf[0] << 8) | buf[1]):
                chunk = c.recv(512)
                if not chunk:
                    return
                buf += chunk
            r = self._answer(buf[2:], False)
            r = bytes([len(r) >> 8, len(r) & 255]) + r
            while r:
                r = r[c.send(r) :]
        finally:
            c.close()

    def close(self):
        self.stop = True
        for _ in range(200):
            if self.done:
                return
            _sleep_ms(10)


A_REC = (b"sip.example.com", dns.A, 300, b"192.0.2.5")
SRV_REC = (b"_sip._udp.example.com", dns.SRV, 120, (1, 10, 5060, b"sip.example.com"))
ZONES = {
    (b"sip.example.com", dns.A): ([A_REC], [], 0),
    (b"_sip._udp.example.com", dns.SRV): ([SRV_REC], [A_REC], 0),
    (b"big.example.com", dns.A): ([(b"big.example.com", dns.A, 60, b"10.0.0.%d" % i)
                                   for i in range(1, 40)], [], 0),
    (b"fail.example.com", dns.A): ([], [], 2),  # SERVFAIL
}


def run(fn):
    srv = FakeDns(ZONES)
    try:
        fn(srv, Resolver((HOST, srv.port), Clock().now, timeout_ms=300, tries=2))
    finally:
        srv.close()


def test_lookup_and_cache_hit():
    def t(srv, r):
        assert r.lookup(b"sip.example.com", dns.A) == [A_REC]
        assert r.lookup(b"SIP.example.com.", dns.A) == [A_REC]  # cached
        assert srv.udp == 1
        # answer and additional merged
        assert r.lookup(b"_sip._udp.example.com", dns.SRV) == [SRV_REC, A_REC]
        assert srv.udp == 2

    run(t)


def test_truncated_answer_retried_over_tcp():
    def t(srv, r):
        srv.tc.append(b"big.example.com")
        got = r.lookup(b"big.example.com", dns.A)
        assert len(got) == 39 and got[0][3] == b"10.0.0.1"
        assert (srv.udp, srv.tcp) == (1, 1)

    run(t)


def test_timeout_gives_empty_list_within_budget():
    def t(srv, r):
        srv.silent.append(b"sip.example.com")
        clock = Clock()
        t0 = clock.now()
        assert r.lookup(b"sip.example.com", dns.A) == []
        took = clock.now() - t0
        assert 550 <= took < 1500, took  # two tries of 300 ms
        assert srv.udp == 2  # sent again on the second try
        srv.silent.remove(b"sip.example.com")
        assert r.lookup(b"sip.example.com", dns.A) == [A_REC]  # a timeout is not cached

    run(t)


def test_nxdomain_cached_servfail_not():
    def t(srv, r):
        assert r.lookup(b"nothere.example.com", dns.A) == []
        assert r.lookup(b"nothere.example.com", dns.A) == []
        assert srv.udp == 1
        assert r.lookup(b"fail.example.com", dns.A) == []
        assert r.lookup(b"fail.example.com", dns.A) == []
        assert srv.udp == 3

    run(t)


def test_reply_with_wrong_id_is_ignored():
    # each reply is read as one datagram (recv), so the forged ones before the real answer
    # are dropped one by one and the answer after them still parses
    def t(srv, r):
        srv.spoof.append(b"sip.example.com")
        assert r.lookup(b"sip.example.com", dns.A) == [A_REC]
        assert srv.udp == 1

    run(t)


def test_no_server_listening():
    srv = FakeDns({})
    port = srv.port
    srv.close()  # nothing listens there any more
    r = Resolver((HOST, port), Clock().now, timeout_ms=200, tries=2)
    assert r.lookup(b"sip.example.com", dns.A) == []
