"""The select.poll loop that drives a sans-IO UserAgent (CPython, unix port, ESP32).

One iteration: perform the UA's queued actions (connect, send, close), dispatch its events,
poll the open streams until the next timer, feed what arrived to the UA, fire due timers.
The application loops on step(); to stop, it calls ua.stop(), steps until ua.idle(), then
closes what is left (`close` every id in `conns`).

A flow connects only while the system heap has room for it (ESP32: the ESP-IDF heap that
mbedTLS and lwIP allocate from, read by the board's `sys_heap`): config flow.min_sys_heap
bytes free for TLS (and one block for mbedTLS's incoming record buffer), a quarter of it
for TCP and UDP. Short of that the connect fails (`low_sys_heap`, the figures) and the
flow backs off as after any failed connect, instead of failing inside the handshake.
"""
import gc
import select

from tinysip.compat import MICROPYTHON, const, load

from tinysip.io.stream import BUF, StreamConn, StreamError

# mbedTLS's incoming record buffer, one allocation: 16 KiB of content + 320 B of IV, MAC
# and padding + a 13-byte header (MBEDTLS_SSL_IN_BUFFER_LEN, ESP-IDF's default content length)
_TLS_IN_BUF = const(16717)
# ua.py's actions (private there too: a name fewer each on the phone; test_consts.py holds
# the copies together)
_ACT_CONNECT = const(1)
_ACT_SEND = const(2)
_ACT_CLOSE = const(3)
_ACT_MEDIA = const(4)
_ACT_MEDIA_STOP = const(5)
_ACT_RESOLVE = const(6)
_ACT_VOICE = const(7)


class Driver:
    def __init__(self, ua, clock, ca_der, on_event, dns_server=None, sys_heap=None,
                 audio=None):
        """`ca_der` the CA certificate TLS flows verify against; `on_event(e)` gets every
        UA event; `dns_server` (ip, port) for RFC 3263 (config dns.server, or the board's);
        `sys_heap()` -> (free bytes, largest free block) of the system heap, checked before
        each connect (None: not checked); `audio(ptime)` -> (microphone, speaker) for a
        voice call (io.wav, io.i2s; None: silence sent, nothing played). Voice calls run on
        io.voiceport.VoicePort (_ACT_MEDIA mode 0, ACT_VOICE); io.voiceport.call() places
        one."""
        self.audio = audio
        self.dns_server = dns_server
        self.sys_heap = sys_heap
        self.resolver = None
        self.ua = ua
        self.clock = clock
        self.ca_der = ca_der
        self.on_event = on_event
        self.conns = {}  # conn id -> StreamConn
        self.media = {}  # call id -> io.media.MediaPort (the RTP mirror of a call)
        self.poll = select.poll()

    def pump(self):
        """Perform every queued action and dispatch every queued event."""
        ua = self.ua
        while True:
            a = ua.pop_action()
            if a is None:
                e = ua.pop_event()
                if e is None:
                    return
                if e.name == "call_connected":  # our voice call was answered: its media
                    f = getattr(self.media.get(e.values[0]), "connected", None)
                    if f is not None:
                        f()
                self.on_event(e)
                continue
            kind = a[0]
            conn = a[1]
            if kind == _ACT_SEND:
                s = self.conns.get(conn)
                if s is not None:
                    try:
                        s.send(a[2])
                    except StreamError as e:
                        self.close(conn)
                        ua.connection_lost(conn, self.clock.now(), "connection_lost: " + e.args[0])
            elif kind == _ACT_CONNECT:  # (kind, conn, host, port, tls, server_name, client, udp)
                h = self.sys_heap and self.sys_heap()
                if h:  # (free, largest block): room for the socket (and the TLS session)?
                    n = ua.cfg.min_sys_heap >> (0 if a[4] else 2)
                    if n and (h[0] < n or a[4] and h[1] < _TLS_IN_BUF):
                        ua.connection_failed(conn, self.clock.now(), "low_sys_heap: %d B free, "
                                             "largest block %d B (needs %d B free%s)" % (
                                                 h[0], h[1], n, ", a %d B block" % _TLS_IN_BUF
                                                 if a[4] else ""), False)
                        continue
                try:
                    if a[7]:
                        s = load(b"tinysip.io.dgram DatagramConn")(a[2], a[3])
                    else:
                        s = StreamConn(a[2], a[3], a[4], a[5], self.ca_der,
                                       ua.cfg.connect_timeout_ms, a[6])
                except StreamError as e:
                    ua.connection_failed(conn, self.clock.now(), e.args[0], e.args[1])
                    continue
                except MemoryError:  # e.g. in the TLS handshake: the flow backs off, retries
                    ua.connection_failed(conn, self.clock.now(),
                                         "connect %s:%d: out of memory" % (a[2], a[3]), False)
                    continue
                self.conns[conn] = s
                self.poll.register(s.sock, select.POLLIN)
                ua.connected(conn, self.clock.now())
            elif kind == _ACT_CLOSE:
                self.close(conn)
            elif kind == _ACT_RESOLVE:  # (kind, conn, host, port, transport, sips): RFC 3263
                # targets; blocks for the DNS round trips (at most timeout x tries per query;
                # answers are cached for their TTL), as getaddrinfo does
                t = []
                if self.resolver is None and self.dns_server is not None:
                    self.resolver = load(b"tinysip.io.resolver Resolver")(self.dns_server,
                                                                       self.clock.now)
                if self.resolver is not None:
                    try:
                        t = load(b"tinysip.locate targets")(a[2].encode(), a[3], a[4], a[5],
                                                            self.resolver.lookup, ua.rng)
                    except Exception:  # noqa: BLE001 - a DNS failure is a flow failure
                        t = []
                ua.resolved(conn, t, self.clock.now())
            elif kind == _ACT_MEDIA:  # (kind, call id, mode, pt, port, rtp ip, rtp port, ptime)
                if MICROPYTHON:
                    # the INVITE's garbage is dead now: collect before the call's long-lived
                    # blocks (modules, mirror buffer, socket) so they do not land between it
                    gc.collect()
                cfg = ua.cfg
                try:  # mirrors only the offer's c=/m= address, one reply per datagram
                    # imported on the first answered call: an idle phone does not carry it
                    if a[2] == 0:  # a voice call's port: its media starts with ACT_VOICE
                        m = load(b"tinysip.io.voiceport VoicePort")(self, conn, a[4])
                    else:
                        m = load(b"tinysip.io.media MediaPort")(
                            # (working in the streams' read buffer: no ~1.5 KB block per call;
                            # reads sized by the offer's ptime)
                            load(b"tinysip.rtp Mirror")(a[2], a[3], ua.rng, buf=BUF, ptime=a[7]),
                            cfg.media_ip.decode(), a[4], (a[5].decode(), a[6]),
                            cfg.media_port, cfg.media_port_max)
                except (OSError, ValueError, MemoryError) as e:
                    # ValueError: a c= that is not UTF-8; MemoryError: the call is refused
                    # (500) rather than left ringing with its action lost
                    ua.media_failed(conn, "RTP port %d: %r" % (a[4], e), self.clock.now())
                    continue
                self.media[conn] = m
                self.poll.register(m.sock, select.POLLIN)
                ua.media_ready(conn, m.port, self.clock.now())
            elif kind == _ACT_VOICE:  # (kind, call id, tinysip.audio params): run the call
                # (again for a running one after a re-INVITE: VoicePort.start updates it)
                m = self.media.get(conn)
                if m is not None:
                    m.start(a[2])
            elif kind == _ACT_MEDIA_STOP:
                m = self.media.pop(conn, None)
                r = (0, 0, None)
                if m is not None:
                    self.poll.unregister(m.sock)
                    r = m.close()  # (received, sent, a voice call's figures)
                ua.media_stopped(conn, r[0], r[1], self.clock.now(), r[2])

    def add_media(self, key, port):
        """Poll another media port (anything with `sock` and `step()`, e.g. the loopback
        source of io.loopcall) in this loop; `remove_media(key)` stops it."""
        self.media[key] = port
        self.poll.register(port.sock, select.POLLIN)

    def remove_media(self, key):
        m = self.media.pop(key, None)
        if m is not None:
            self.poll.unregister(m.sock)

    def close(self, conn):
        """Close the stream of `conn` (nothing when it is not open)."""
        s = self.conns.pop(conn, None)
        if s is None:
            return
        try:
            self.poll.unregister(s.sock)
        except (OSError, KeyError, ValueError):
            pass
        s.close()

    def step(self, timeout=1000):
        """One loop iteration; returns after at most `timeout` ms (by default it wakes once a
        second, which lets the app check for Ctrl-C/stop)."""
        ua = self.ua
        self.pump()
        now = self.clock.now()
        t = ua.next_timer()
        media = self.media
        if media:  # voice calls: the next frame (or RTCP) due (an idle loop makes no view)
            for m in media.values():
                f = getattr(m, "next_timer", None)
                d = f() if f is not None else None
                if d is not None and (t is None or d < t):
                    t = d
        wait = timeout if t is None else max(0, min(timeout, t - now))
        # with no stream registered, poll() just waits: the timer's sleep
        for item in self.poll.poll(wait):
            # MicroPython's poll returns the registered object, CPython's a file descriptor
            obj = item[0]
            for key, m in self.media.items():  # RTP first: the latency-sensitive path
                if m.sock is obj or (isinstance(obj, int) and m.sock.fileno() == obj):
                    mir = getattr(m, "mirror", None)  # a call's mirror (not a loopcall port)
                    sent = mir.tx if mir is not None else 0
                    for _ in range(64):  # bounded: a flood must not starve signalling
                        if not m.step():
                            break
                    if mir is not None and mir.tx != sent:  # RTP that was mirrored
                        ua.media_rx(key, self.clock.now())
                    obj = None
            if obj is None:
                continue
            conn = None
            for c, s in self.conns.items():
                if s.sock is obj or (isinstance(obj, int) and s.sock.fileno() == obj):
                    conn = c
            s = self.conns.get(conn)
            while s is not None:  # read until nothing is ready or the conn is gone
                try:
                    data = s.recv()
                except StreamError as e:
                    self.close(conn)
                    ua.connection_lost(conn, self.clock.now(), "connection_lost: " + e.args[0])
                    break
                if data is None:
                    break
                if not data:
                    self.close(conn)
                    ua.connection_lost(conn, self.clock.now(), "connection_lost")
                    break
                if MICROPYTHON:
                    # collect here, with a shallow stack and the last message's objects
                    # dead, rather than deep inside the parse when the heap runs out: the
                    # phone then needs a smaller heap (a few ms per SIP message; the RTP
                    # path above allocates nothing and never collects)
                    gc.collect()
                ua.receive(conn, data, self.clock.now())
                # not held past its use: a NOTIFY's checks or an INVITE's media set-up run
                # in this step's handle_timer / pump below, and a KB of read bytes would
                # stay alive through them (issue 16: both are the full scenario's peaks)
                data = None
                s = self.conns.get(conn)
        now = self.clock.now()
        if media:  # handle_timer sends and plays; it never adds or removes a port
            for m in media.values():
                f = getattr(m, "handle_timer", None)
                if f is not None:
                    f(now)
        t = ua.next_timer()
        if t is not None and now >= t:
            ua.handle_timer(now)
        self.pump()
