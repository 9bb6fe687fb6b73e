"""A TCP relay between the phone and Kamailio, so a test can cut or silence one flow.

TLS passes through untouched (the phone still verifies Kamailio's certificate for
127.0.0.1). drop_all() resets every relayed connection (a dead NAT or a cut cable, seen as
a closed connection); blackhole(True) keeps connections open but forwards nothing (a
silent path: only the keepalive can tell).
"""
import select
import socket
import threading


class Relay:
    def __init__(self, target_port, host="127.0.0.1"):
        self.target = (host, target_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.pairs = []
        self.accepted = 0
        self.silent = False
        self.refusing = False  # accept, then close at once: the TLS handshake fails
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while self.running:
            with self.lock:
                socks = [self.listener] + [s for p in self.pairs for s in p]
            try:
                ready, _, _ = select.select(socks, [], [], 0.1)
            except (OSError, ValueError):
                continue
            for s in ready:
                if s is self.listener:
                    self._accept()
                else:
                    self._pump(s)

    def _accept(self):
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        if self.refusing:
            client.close()
            return
        upstream = socket.create_connection(self.target)
        with self.lock:
            self.pairs.append((client, upstream))
            self.accepted += 1

    def _pump(self, s):
        with self.lock:
            pair = next((p for p in self.pairs if s in p), None)
        if pair is None:
            return
        try:
            data = s.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._close_pair(pair)
            return
        if self.silent:
            return
        other = pair[1] if s is pair[0] else pair[0]
        try:
            other.sendall(data)
        except OSError:
            self._close_pair(pair)

    def _close_pair(self, pair):
        with self.lock:
            if pair in self.pairs:
                self.pairs.remove(pair)
        for s in pair:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                s.close()
            except OSError:
                pass

    def drop_all(self):
        with self.lock:
            pairs = list(self.pairs)
        for p in pairs:
            self._close_pair(p)
        return len(pairs)

    def refuse(self, on=True):
        """Refuse new connections (and cut the open ones): a listener that is down."""
        self.refusing = on
        if on:
            self.drop_all()

    def blackhole(self, on=True):
        self.silent = on

    def close(self):
        self.running = False
        self.drop_all()
        self.listener.close()
        self.thread.join(2)
