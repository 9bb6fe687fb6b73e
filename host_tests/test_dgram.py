"""io/dgram: a UDP flow's socket against a local UDP peer (CPython sockets)."""
# mpy: skip
import socket
import time

from tinysip.io.dgram import DatagramConn
from tinysip.io.stream import StreamError


def peer():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]


def wait(conn):
    for _ in range(100):
        d = conn.recv()
        if d is not None:
            return d
        time.sleep(0.01)
    return None


def test_datagrams_both_ways_empty_skipped_and_long_ones_cut():
    s, port = peer()
    c = DatagramConn("127.0.0.1", port)
    try:
        assert c.recv() is None  # nothing yet: no blocking, no exception
        c.send(b"REGISTER sip:lab.test SIP/2.0\r\n\r\n")
        data, addr = s.recvfrom(100)
        assert data.startswith(b"REGISTER")
        s.sendto(b"", addr)  # an empty datagram is not a message
        s.sendto(b"SIP/2.0 200 OK\r\n\r\n", addr)
        assert wait(c) == b"SIP/2.0 200 OK\r\n\r\n"
        s.sendto(b"x" * 6000, addr)  # longer than the buffer: cut (the parser refuses it)
        assert wait(c) == b"x" * 4096
        assert c.recv() is None
    finally:
        c.close()
        s.close()


def test_a_closed_port_fails_the_flow():
    s, port = peer()
    s.close()  # nobody listens there now: ICMP port unreachable -> ECONNREFUSED
    c = DatagramConn("127.0.0.1", port)
    try:
        c.send(b"OPTIONS sip:x SIP/2.0\r\n\r\n")
        try:
            for _ in range(50):
                c.recv()
                c.send(b"\r\n")
                time.sleep(0.01)
        except StreamError as e:
            assert "udp" in e.args[0] and str(port) in e.args[0]
        else:
            raise AssertionError("no StreamError for a refused UDP peer")
    finally:
        c.close()
