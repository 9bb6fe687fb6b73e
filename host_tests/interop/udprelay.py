"""A UDP relay between phones and a Kamailio UDP port: a NAT a test can re-map or silence.

    relay = UdpRelay(lab.port_udp)        # phones send to 127.0.0.1:relay.port
    relay.upstream_port(phone_addr)       # the "public" source port Kamailio sees
    relay.rebind()                        # NAT mapping change: new upstream source ports
    relay.blackhole(True)                 # drop everything, both directions
    relay.close()

Every phone source address (ip, port) gets its own upstream socket (its own "public"
port), created on the phone's first datagram: datagrams from the phone go out of that
socket to the target, datagrams arriving on it go back to that phone from the relay's
port. rebind() replaces the upstream sockets with new ones (new source ports) and closes the
old ones, so Kamailio's STUN answer to the next Binding reports the new port in
XOR-MAPPED-ADDRESS, and whatever Kamailio sends to the old mapping (a flow token taken at
REGISTER time) hits a closed port and is lost, as behind a NAT that forgot the binding.
blackhole(True) keeps the mappings but drops every datagram in both directions (counted
in `dropped`).

One thread, select() with a short timeout; the relay's sockets are all on 127.0.0.1.
"""
import select
import socket
import threading


class UdpRelay(object):
    def __init__(self, target_port, host="127.0.0.1", port=0):
        self.host = host
        self.target = (host, target_port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.port = self.sock.getsockname()[1]
        self.address = (host, self.port)
        self.lock = threading.Lock()
        self._up = {}        # phone address -> upstream socket
        self._down = {}      # upstream socket -> phone address
        self._retired = []   # upstream sockets to close in the loop thread
        self._done = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self.silent = False
        self.forwarded_up = 0
        self.forwarded_down = 0
        self.dropped = 0
        self.rebinds = 0
        self.running = True
        self.thread = threading.Thread(target=self._loop, name="udprelay-%d" % self.port, daemon=True)
        self.thread.start()

    # ------------------------------------------------------------ the loop

    def _loop(self):
        while self.running:
            with self.lock:
                retired, self._retired = self._retired, []
                socks = [self.sock, self._wake_r] + list(self._down)
            for s in retired:
                s.close()
            if retired:
                self._done.set()
            try:
                ready, _, _ = select.select(socks, [], [], 0.1)
            except (OSError, ValueError):
                continue
            for s in ready:
                if s is self._wake_r:
                    try:
                        self._wake_r.recv(64)
                    except OSError:
                        pass
                elif s is self.sock:
                    self._from_phone()
                else:
                    self._from_upstream(s)
        with self.lock:
            socks = list(self._down) + self._retired
            self._up.clear()
            self._down.clear()
            self._retired = []
        for s in socks:
            s.close()
        self._done.set()

    def _from_phone(self):
        try:
            data, phone = self.sock.recvfrom(65535)
        except OSError:
            return
        with self.lock:
            up = self._up.get(phone)
            if up is None:
                up = self._new_upstream()
                self._up[phone] = up
                self._down[up] = phone
        if self.silent:
            self.dropped += 1
            return
        # count before sending: the receiver may see the datagram (and a test read the
        # counters) before this thread runs again
        self.forwarded_up += 1
        try:
            up.sendto(data, self.target)
        except OSError:
            self.forwarded_up -= 1
            self.dropped += 1

    def _from_upstream(self, up):
        try:
            data, _src = up.recvfrom(65535)
        except OSError:
            return  # e.g. ICMP port unreachable reported on a connected-less socket
        with self.lock:
            phone = self._down.get(up)
        if phone is None or self.silent:
            self.dropped += 1
            return
        self.forwarded_down += 1
        try:
            self.sock.sendto(data, phone)
        except OSError:
            self.forwarded_down -= 1
            self.dropped += 1

    def _new_upstream(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((self.host, 0))
        return s

    def _wake(self):
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    # ------------------------------------------------------------ the controls

    def clients(self):
        """{phone address: upstream source port} of the current mappings."""
        with self.lock:
            return dict((phone, up.getsockname()[1]) for phone, up in self._up.items())

    def upstream_port(self, phone=None):
        """The upstream ("public") source port of one phone address, or of the only phone
        when phone is None; None when there is no mapping yet."""
        with self.lock:
            if phone is None:
                if len(self._up) != 1:
                    return None
                return next(iter(self._up.values())).getsockname()[1]
            up = self._up.get(tuple(phone))
            return up.getsockname()[1] if up is not None else None

    def rebind(self, phone=None, timeout=2.0):
        """NAT mapping change: every phone's (or only `phone`'s) upstream socket is replaced
        by a new one with a new source port; the old ones are closed before this returns.
        Returns {phone address: new upstream port}."""
        with self.lock:
            targets = [tuple(phone)] if phone is not None else list(self._up)
            changed = {}
            for p in targets:
                old = self._up.get(p)
                if old is None:
                    continue
                new = self._new_upstream()   # bound while the old one still exists: new port
                self._up[p] = new
                del self._down[old]
                self._down[new] = p
                self._retired.append(old)
                changed[p] = new.getsockname()[1]
            if changed:
                self._done.clear()
                self.rebinds += 1
        if changed and self.running:
            self._wake()
            if not self._done.wait(timeout):
                raise RuntimeError("udprelay: old upstream sockets not closed in %.1f s" % timeout)
        return changed

    def forget(self, phone=None):
        """Drop the mapping of one phone (or all): its next datagram gets a new upstream
        port, like a NAT that timed the binding out."""
        with self.lock:
            targets = [tuple(phone)] if phone is not None else list(self._up)
            for p in targets:
                old = self._up.pop(p, None)
                if old is not None:
                    del self._down[old]
                    self._retired.append(old)
            self._done.clear()
        self._wake()
        self._done.wait(2.0)

    def blackhole(self, on=True):
        """Drop every datagram, both directions, while on (mappings are kept)."""
        self.silent = bool(on)

    def close(self):
        if not self.running:
            return
        self.running = False
        self._wake()
        self.thread.join(2)
        self.sock.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
