"""The select.poll loop that drives a sans-IO UserAgent (CPython, unix port, ESP32).

One iteration: perform the UA's queued actions (connect, send, close), dispatch its events,
poll the open streams until the next timer, feed what arrived to the UA, fire due timers.
"""
import select

from tinysip.io.stream import StreamConn, StreamError
from tinysip.ua import ACT_CLOSE, ACT_CONNECT, ACT_SEND

_POLL_CAP_MS = 1000  # wake at least once a second (lets the app check for Ctrl-C/stop)


class Driver:
    def __init__(self, ua, clock, ca_der=None, on_event=None, client_cert=None):
        self.ua = ua
        self.clock = clock
        self.ca_der = ca_der
        self.client_cert = client_cert
        self.on_event = on_event or (lambda e: None)
        self.conns = {}  # conn id -> StreamConn
        self.by_sock = {}  # id(sock) -> conn id
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
                self.on_event(e)
                continue
            kind = a[0]
            if kind == ACT_SEND:
                self._send(a[1], a[2])
            elif kind == ACT_CONNECT:
                self._connect(a[1], a[2], a[3], a[4], a[5])
            elif kind == ACT_CLOSE:
                self._close(a[1])

    def _connect(self, conn, host, port, tls, server_name):
        try:
            s = StreamConn(host, port, tls, server_name, self.ca_der,
                           self.ua.cfg.connect_timeout_ms, self.client_cert)
        except StreamError as e:
            self.ua.connection_failed(conn, self.clock.now(), e.reason, e.tls)
            return
        self.conns[conn] = s
        self.by_sock[id(s.sock)] = conn
        self.poll.register(s.sock, select.POLLIN)
        self.ua.connected(conn, self.clock.now())

    def _send(self, conn, data):
        s = self.conns.get(conn)
        if s is None:
            return
        try:
            s.send(data)
        except StreamError as e:
            self._close(conn)
            self.ua.connection_lost(conn, self.clock.now(), "connection_lost: " + e.reason)

    def _close(self, conn):
        s = self.conns.pop(conn, None)
        if s is None:
            return
        self.by_sock.pop(id(s.sock), None)
        try:
            self.poll.unregister(s.sock)
        except (OSError, KeyError, ValueError):
            pass
        s.close()

    def step(self, max_wait_ms=_POLL_CAP_MS):
        """One loop iteration; returns after at most max_wait_ms."""
        self.pump()
        now = self.clock.now()
        t = self.ua.next_timer()
        wait = max_wait_ms if t is None else max(0, min(max_wait_ms, t - now))
        ready = self.poll.poll(wait) if self.conns else _sleep(wait)
        for item in ready or ():
            conn = self._conn_of(item[0])
            if conn is None:
                continue
            self._read(conn)
        now = self.clock.now()
        t = self.ua.next_timer()
        if t is not None and now >= t:
            self.ua.handle_timer(now)
        self.pump()

    def _conn_of(self, obj):
        cid = self.by_sock.get(id(obj))
        if cid is not None:
            return cid
        for cid, s in self.conns.items():  # CPython's poll returns file descriptors
            if s.sock is obj or (isinstance(obj, int) and s.sock.fileno() == obj):
                return cid
        return None

    def _read(self, conn):
        s = self.conns.get(conn)
        while s is not None:
            try:
                data = s.recv()
            except StreamError as e:
                self._close(conn)
                self.ua.connection_lost(conn, self.clock.now(), "connection_lost: " + e.reason)
                return
            if data is None:
                return
            if not data:
                self._close(conn)
                self.ua.connection_lost(conn, self.clock.now(), "connection_lost")
                return
            self.ua.receive(conn, data, self.clock.now())
            s = self.conns.get(conn)

    def run(self, should_stop=None):
        while should_stop is None or not should_stop():
            self.step()

    def close_all(self):
        for conn in list(self.conns):
            self._close(conn)


def _sleep(ms):
    import time

    if hasattr(time, "sleep_ms"):
        time.sleep_ms(ms)
    else:
        time.sleep(ms / 1000)
    return ()
