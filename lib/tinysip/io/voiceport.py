"""UDP and audio adapter for one voice call (tinysip.voice.Voice): driven from the driver's
poll loop like the loopback mirror (io.media): `sock` registered for POLLIN, step() when it
is readable, handle_timer(now) when next_timer() is due (the frame clock), close() at the
end (-> received, sent, the media figures). Everything voice-specific of the driver is
here too, loaded with the first call: `call(driver, target)` places one, the port's
start(params) runs an answered one (and, called again, follows a re-INVITE: hold, resume, a
new peer address), connected() reads the answer to ours. Digits the peer
sends and the RTP that keeps a call alive go straight to the UA (media_dtmf, media_rx).

Sockets: RTP on an even port drawn by the UA (udp.bind walks on inside media.port_min..max)
and RTCP on the next one (RFC 3550 §11), when free. Strict source (issue 15): once started
both are connect()ed to the address the peer's SDP names (c=, m= port and port + 1), so the
kernel drops every other source; a NAT that changes the peer's port is not followed.
The RTCP socket is a port of the driver's poll loop of its own (added with
driver.add_media: a second VoicePort, made without __init__, whose step() reads for the
call's port): a report is read and stamped when it arrives, so the RTT from the peer's
LSR/DLSR and the DLSR of our next report are exact, not up to a frame late.

Frames: handle_timer(now) asks the microphone (`src`) for the frame due
(`readinto(buf, due)`, due being the frame clock's time of that frame; silence when it
has none), sends it, and hands the speaker (`dest`) the frame to play
(`write(buf, now)`), at the Voice's ptime; our RTCP report every ~5 s.
Names (attributes, methods) are ones the phone already interns where one fits (`rtcp` the
RTCP socket's reader): each new one costs it heap for good.
Heap while a call runs: each method kept costs ~80 B (64-bit unix port, ROMFS), so the
helpers are inline, io.udp is loaded to bind and dropped again (step() reads on its own,
one datagram per read as io.udp does), and the engine is made (and its figures read at
close) by tinysip.voicesetup, loaded for that and dropped.
Nothing allocates per frame on CPython; on MicroPython a read leaves the datagram's bytes as
garbage (io.udp). The packets are sent from and read into io.stream's read buffer (the
Voice's tx and rx): every use of it, a stream's read there or a datagram here, is over
before the loop does anything else, so the call keeps no buffer of its own for them.
"""
import socket

from tinysip.io import stream


class VoicePort:
    """One call's port for `driver` (io.driver.Driver: its UA, clock and audio factory)
    under call id `cid`, bound at or after `port` (even) in media.port_min..port_max."""

    def __init__(self, driver, cid, port):
        import sys

        from tinysip.compat import collect_every, drop, load

        # io.udp's bind and waiter are set-up code: loaded for this, and forgotten again
        # unless something else had it (io.dgram's UDP flows); step() reads on its own
        had = "tinysip.io.udp" in sys.modules
        bind, waiter = load(b"tinysip.io.udp bind waiter")
        cfg = driver.ua.cfg
        host = cfg.media_ip.decode()
        self.driver = driver
        self.cid = cid
        self.key = None  # our SDES key, for a call we place
        self.sock, self.port = bind(host, port, cfg.media_port, cfg.media_port_max)
        self.poll = waiter(self.sock)
        self.rtcp = None  # the RTCP socket's reader (port + 1), when we could bind it
        try:
            s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                              socket.SOCK_DGRAM)
            s.bind(socket.getaddrinfo(host, self.port + 1)[0][-1])
            s.setblocking(False)
            # the RTCP socket's reader: a VoicePort too (what the driver polls has `sock`
            # and step(); a class of its own would cost the call heap), its driver None
            # and `port` the call's port; with no voice its timers are never due
            self.rtcp = r = object.__new__(VoicePort)
            r.driver = r.voice = None
            r.port = self
            r.sock = s
            r.poll = waiter(s)
            driver.add_media(r, r)  # polled with the others: each report read on arrival
        except OSError:
            s.close()
        self.voice = self.src = self.dest = None  # the call's Voice, microphone, speaker
        self.errors = 0
        if not had:
            drop("tinysip.io.udp")
        collect_every(0)  # until close(): no collection every few dozen packets

    def start(self, p):
        """Run the call: tinysip.audio params p (the peer's address is in them), with the
        driver's audio devices for its ptime (none: silence sent, nothing played). On a
        running call, an update (a new offer/answer: hold, resume, RFC 3264 §8.4): the
        direction (p[9]) and the peer's address are followed at once; the SRTP contexts of
        keys that did not change go on (their ROC and replay window), and a new codec,
        ptime or suite starts a new Voice on the same sockets and devices."""
        from tinysip.compat import drop, load

        # the negotiation's modules (~6 KB on the 64-bit unix port) are not needed while the
        # media runs: forgotten now, imported again (from ROMFS) by the next offer/answer;
        # the engine is made by tinysip.voicesetup, forgotten too once it is made (what a
        # call runs per frame is all that stays: tinysip.voice, jitter, srtp, this module)
        drop("audio sdes sdp")
        d = self.driver
        v = self.voice
        make = load(b"tinysip.voicesetup Voice Context")
        o = p if v is None else v.params
        addr = v is None or p[4] != o[4] or p[5] != o[5]
        if v is None and d.audio is not None:
            self.src, self.dest = d.audio(p[3])
        if v is None or p[0] != o[0] or p[3] != o[3] or p[6] != o[6]:
            self.voice = make[0](p, d.ua.rng, d.clock.now(), stream.BUF)
            addr = True
        else:
            if p[6]:
                e, c = v.srtp
                if p[7] != o[7]:
                    e = make[1](p[7], p[6])
                if p[8] != o[8]:
                    c = make[1](p[8], p[6])
                v.srtp = (e, c)
            v.params = p
        make = None
        drop("tinysip.voicesetup")
        if addr:  # take RTP (and RTCP on port + 1) from the peer's address only
            h = p[4].decode()
            self.sock.connect(socket.getaddrinfo(h, p[5])[0][-1])
            c = self.rtcp
            if c is not None:
                try:
                    c.sock.connect(socket.getaddrinfo(h, p[5] + 1)[0][-1])
                except OSError:  # no RTCP then
                    self.close(c)

    def connected(self):
        """Our call was answered (call_connected): read the answer, start the media; an
        answer we cannot take is said (message_dropped) and the call hung up."""
        from tinysip.audio import accept
        from tinysip.errors import ParseError
        from tinysip.sdp import parse

        ua = self.driver.ua
        v = ua.cfg.voice
        try:
            p = accept(parse(ua.dial_answer(self.cid) or b""), v[0], v[1], self.key, v[2])
        except ParseError as e:  # said (message_dropped), then the call is hung up
            e2 = ua.calls.get(self.cid)
            if e2 is not None:
                ua._ev("message_dropped", e2[1].index, e.reason)
                ua.hangup(self.cid, self.driver.clock.now())
            return
        e = ua.calls.get(self.cid)
        if e is not None:  # the running params, for a re-INVITE (tinysip.audio.reinvite)
            e[3] = p
        self.start(p)

    def step(self):
        """Read one datagram and hand it to the voice: RTP, or on the RTCP socket's reader
        (self.driver None) RTCP, stamped now, at its arrival: the RTT from an RR's
        LSR/DLSR and the DLSR we send back are exact to the clock, not up to a frame late.
        1 when one was read, else 0. Before the media runs RTP stays queued (the answer is
        on its way) and RTCP is dropped (so the poll does not spin on it)."""
        c = self
        r = None
        if self.driver is None:  # the RTCP reader: its call's port reads for it
            r = self
            self = self.port
        v = self.voice
        if v is None and r is None:
            return 0
        b = stream.BUF if v is None else v.rx  # (RTCP before the media runs: read, dropped)
        # the largest datagram taken: RTP, a frame at the negotiated ptime with 15 CSRCs, a
        # header extension and the SRTP tag; MicroPython's recv(k) takes a k-byte scratch per
        # packet (io/udp.py), and 2 KB in one piece 50 times a second is what a fragmented
        # heap lacks first. RTCP (one compound in ~5 s) may take the whole buffer: baresip's
        # are over 512 B
        k = 64 if v is None else len(b) if r is not None else 352 + 8 * max(v.params[3], 20)
        # one datagram per read, as io.udp's recv_into (its docstring has why), inline: a
        # call that kept io.udp loaded for it would carry its set-up functions too
        try:
            if c.poll is None:  # CPython: recv_into, one datagram, nothing allocated
                n = c.sock.recv_into(b, k)
            else:  # MicroPython: recv() keeps the datagram whole; ipoll(0) first, as a
                n = 0  # recv on an empty socket raises (and allocates)
                for _ in c.poll.ipoll(0):
                    d = c.sock.recv(k)
                    n = len(d)
                    b[0:n] = d
                    break
        except OSError as e:
            if not (e.args and e.args[0] in (11, 35)):  # EAGAIN: Linux, ESP32 (lwIP), macOS
                self.errors += 1  # an ICMP unreachable: counted, never raised
            return 0
        if not n:
            return 0
        if v is None:
            return 1
        now = self.driver.clock.now()
        if r is not None:
            w = self.driver.ua.wall_ms  # ms since 1970 (RTCP's NTP), None while unknown
            v.parse(n, now, None if w is None else now + w)
            return 1
        ua = self.driver.ua
        d = v.receive(n, now)
        ua.media_rx(self.cid, now)  # RTP came: the call's silence limit starts again
        if d:
            ua.media_dtmf(self.cid, d, now)
        return 1

    def next_timer(self):
        """When handle_timer() has work next (ms), or None before the media runs."""
        v = self.voice
        if v is None:
            return None
        return min(v.state[10], v.rtcp[21])  # (voice's _DUE, _R_NEXT)

    def handle_timer(self, now):
        """Send and play the frames due at now, and RTCP when due."""
        v = self.voice
        if v is None or now < self.next_timer():
            return
        s = self.sock
        t = v.state[10]  # this frame's due time on the call's frame clock
        if now >= t:
            # the microphone and the jitter buffer are paced by the frame clock, not by
            # when this tick ran: a first tick late by a few ms must not make the next
            # frame "not due yet" at the microphone and send silence (one frame per call),
            # and a tick 1 ms late then one on time must not look to the jitter buffer like
            # a frame played 1 ms early, which it answered by repeating a frame (a gap) and
            # keeping 20 ms more delay for the rest of the call (~1 call in 25 on a loaded
            # host: test_voice_impaired found it)
            if self.src is None or not self.src.readinto(v.buf, t):
                pcm = v.buf
                for i in range(len(pcm)):
                    pcm[i] = 0
            n = v.send(now)
            if n:
                try:
                    if self.poll is not None:  # MicroPython: write from the buffer, no slice
                        s.write(v.tx, 0, n)
                    else:
                        s.send(memoryview(v.tx)[0:n])
                except OSError:
                    self.errors += 1
            v.get(t)
            if self.dest is not None:
                self.dest.write(v.buf, now)
        c = self.rtcp
        if c is not None:
            w = self.driver.ua.wall_ms
            n = v.report(now, now if w is None else now + w)
            if n:  # (as above: a helper method would cost the phone heap during the call)
                b = v.rtcp[20]  # the packet (voice's _R_BUF)
                try:
                    if self.poll is not None:
                        c.sock.write(b, 0, n)
                    else:
                        c.sock.send(memoryview(b)[0:n])
                except OSError:
                    self.errors += 1

    def close(self, r=None):
        """Close the sockets and devices: (packets received, sent, the media figures or
        None when the media never ran). close(r), r our RTCP reader: stop polling and close
        the RTCP socket alone (start(): it could not take the peer's address)."""
        c = self.rtcp
        if c is not None:
            self.rtcp = None
            self.driver.remove_media(c)
            c.sock.close()
        if r is not None:
            return None
        from tinysip.compat import collect_every, drop, load

        self.sock.close()
        collect_every(-1)
        for d in (self.src, self.dest):
            if d is not None:
                d.close()
        v = self.voice
        if v is None:
            return 0, 0, None

        st = load(b"tinysip.voicesetup stats")(v)  # the set-up module, for a moment again
        drop("tinysip.voicesetup")
        k = "received sent".split()  # (one long string: a short one would be interned)
        return st[k[0]], st[k[1]], st


def call(driver, target, headers=()):
    """Place a voice call to `target` (URI bytes) from `driver`'s UA: bind its RTP port,
    offer G.711 (and SDES per media.srtp), dial. Returns the call id, or None when no flow
    is up. The media starts once it is answered (call_connected: connected())."""
    from tinysip.audio import offer

    ua = driver.ua
    cfg = ua.cfg
    v = cfg.voice
    now = driver.clock.now()
    r = ua.rng(3)
    lo = cfg.media_port
    m = VoicePort(driver, None, lo + 2 * ((r[0] << 16 | r[1] << 8 | r[2])
                                         % ((cfg.media_port_max - lo) // 2 + 1)))
    m.key = ua.rng(30) if v[1] else None
    cid = ua.dial(target, now, offer(cfg.media_ip, m.port, now & 0xFFFFFF, v[0], v[1],
                                     m.key, v[2]), headers, media=True)
    if cid is None:
        m.close()
        return None
    m.cid = cid
    driver.add_media(cid, m)
    return cid
