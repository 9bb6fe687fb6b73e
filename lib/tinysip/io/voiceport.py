"""UDP and audio adapter for one voice call (tinysip.voice.Voice): driven from the driver's
poll loop like the loopback mirror (io.media): `sock` registered for POLLIN, step() when it
is readable, tick(now) every loop iteration (the frame clock), close() at the end.

Sockets: RTP on an even port drawn by the UA (udp.bind walks on inside media.port_min..max)
and RTCP on the next one (RFC 3550 §11), when free. Strict source (issue 15): once started
both are connect()ed to the address the peer's SDP names (c=, m= port and port + 1), so the
kernel drops every other source; a NAT that changes the peer's port is not followed.

Frames: tick(now) asks the microphone for the frame due (`read_frame(buf, due)`, due being
the frame clock's time of that frame; silence when it has none), sends it, and hands the
speaker the frame to play (`write_frame(buf, now)`), at the Voice's ptime; RTCP every ~5 s.
DTMF digits the peer sends collect in
`digits` (bytearray of ASCII codes) for the driver to report. Nothing allocates per frame
on CPython; on MicroPython a read leaves the datagram's bytes as garbage (io.udp).
"""
import socket

from tinysip.io.udp import bind, recv_into, waiter


class VoicePort:
    """host: local address (str); port: the RTP port wanted; low/high: the port range;
    clock(): ms now; wall(): ms since 1970 or None."""

    def __init__(self, host, port, low, high, clock, wall):
        self.sock, self.port = bind(host, port, low, high)
        self.poll = waiter(self.sock)
        self.ctl = None  # the RTCP socket, port + 1, when we could bind it
        try:
            s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                              socket.SOCK_DGRAM)
            s.bind(socket.getaddrinfo(host, self.port + 1)[0][-1])
            s.setblocking(False)
            self.ctl = s
            self._cw = waiter(s)
        except OSError:
            s.close()
        self.now = clock
        self.wall = wall
        self.voice = self.mic = self.speaker = None
        self.digits = bytearray()
        self.errors = 0

    def start(self, voice, addr, mic, speaker):
        """Run `voice` with the peer at addr (ip str, RTP port), mic/speaker adapters (or
        None: silence sent, nothing played)."""
        self.voice = voice
        self.mic = mic
        self.speaker = speaker
        self.sock.connect(socket.getaddrinfo(addr[0], addr[1])[0][-1])
        if self.ctl is not None:
            try:
                self.ctl.connect(socket.getaddrinfo(addr[0], addr[1] + 1)[0][-1])
            except OSError:
                self.ctl.close()
                self.ctl = None
        self._rv = memoryview(voice.rx)

    def step(self):
        """Read one datagram and hand it to the voice. 1 when one was read, else 0."""
        v = self.voice
        if v is None:  # not started (the answer is on its way): leave it queued
            return 0
        try:
            n = recv_into(self.sock, self.poll, self._rv, len(v.rx))
        except OSError:  # an ICMP unreachable: counted, never raised
            self.errors += 1
            return 0
        if not n:
            return 0
        d = v.receive(n, self.now())
        if d:
            self.digits.append(d)
        return 1

    def due(self):
        """When tick() has work next (ms), or None before start()."""
        v = self.voice
        if v is None:
            return None
        return min(v.state[10], v.ctl.due)

    def tick(self, now):
        """Send and play the frames due at now, and RTCP when due."""
        v = self.voice
        if v is None or now < self.due():
            return
        s = self.sock
        if now >= v.state[10]:
            # the microphone is paced by the frame clock (the frame's due time), not by
            # when this tick ran: a first tick late by a few ms must not make the next
            # frame "not due yet" at the microphone and send silence (one frame per call)
            if self.mic is None or not self.mic.read_frame(v.pcm, v.state[10]):
                pcm = v.pcm
                for i in range(len(pcm)):
                    pcm[i] = 0
            n = v.send(now)
            if n:
                self._out(s, v.tx, n)
            v.play(now)
            if self.speaker is not None:
                self.speaker.write_frame(v.out, now)
        c = self.ctl
        if c is not None:
            for _ in range(4):  # RTCP that came (one in ~5 s): into rx, checked in place
                try:
                    n = recv_into(c, self._cw, self._rv, len(v.rx))
                except OSError:
                    n = None
                if not n:
                    break
                v.control(n, now, self.wall())
            n = v.report(now, self.wall() or now)
            if n:
                self._out(c, v.ctl.buf, n)

    def _out(self, s, b, n):
        try:
            if self.poll is not None:  # MicroPython: write from the buffer, no slice
                s.write(b, 0, n)
            else:
                s.send(memoryview(b)[0:n])
        except OSError:
            self.errors += 1

    def close(self):
        self.sock.close()
        if self.ctl is not None:
            self.ctl.close()
        for d in (self.mic, self.speaker):
            if d is not None:
                d.close()
