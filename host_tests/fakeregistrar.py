"""In-memory fake registrar (+ edge proxy) and a link that drives a UserAgent against it.

Sans-IO and MicroPython compatible: no sockets, no sleeping, no pytest. Time is a testutil
FakeClock shared by the registrar, the link and the UA.

FakeRegistrar.handle(conn, data) takes the bytes the UA wrote on a connection and returns a
list of (delay_ms, bytes) to write back. REGISTERs are parsed with tinysip.message.parse,
challenged with digest (the answer is checked with tinysip.digest.response), and answered
200 with every binding of the AOR: a foreign instance, a "ghost" binding of the requesting
instance with another reg-id, a contact without +sip.instance, and the real bindings -- ours
listed last, so that picking the first Contact (or comparing Contact URIs: the registrar
rewrites them) gives wrong answers. `script` holds one-shot overrides for the next
REGISTERs (a status with headers, no answer at all, raw bytes).

Link runs the UA: it performs its actions (connect/send/close) according to a per-host
connect policy, delivers the registrar's replies, drains and records events, and moves the
FakeClock from timer to timer (run_until / advance).

The helpers at the end (setup, request, long_run, ...) are test_ua's; they live here to keep
test_ua.py small enough for MicroPython to compile within a 256 KB heap.
"""
from testutil import ACT_CLOSE, ACT_CONNECT, ACT_MEDIA, ACT_MEDIA_STOP, ACT_RESOLVE, ACT_SEND, FRAME_ERROR, FRAME_MESSAGE, FRAME_PING, FRAME_PONG, PING, PONG
import gc

# tinysip.ua first: MicroPython compiles the biggest module while the least is loaded
from tinysip.ua import UserAgent

from testutil import FakeClock, FakeRandom

import obnames as ob
from tinysip import digest
from tinysip.config import Config
from tinysip.errors import ParseError
from tinysip.framing import StreamFramer
from tinysip.headers import split_top, unquote
from tinysip.message import contacts, parse, response

AOR = b"sip:alice@lab.test"
USERNAME = b"alice"
PASSWORD = b"secret"
REALM = b"lab.test"
INSTANCE = b"urn:uuid:00000000-0000-1000-8000-aabbccddeeff"
FOREIGN_INSTANCE = b"urn:uuid:99999999-0000-1000-8000-000000000001"
GHOST_REG_ID = 7


def auth_params(value):
    """Lower-case name -> unquoted value of a `Digest ...` credentials value, or None."""
    v = value.strip()
    sp = v.find(b" ")
    if sp < 0 or v[:sp].lower() != b"digest":
        return None
    out = {}
    for piece in split_top(v[sp + 1 :], 44):
        name, eq, val = piece.partition(b"=")
        out[name.strip().lower()] = unquote(val.strip())
    return out


def instance_param(value):
    """b'"<urn:uuid:X>"' -> b'urn:uuid:x' (our own reading, independent of tinysip.gruu)."""
    if value is None:
        return None
    v = value.strip()
    if v[:1] == b'"' and v[-1:] == b'"':
        v = v[1:-1]
    if v[:1] == b"<" and v[-1:] == b">":
        v = v[1:-1]
    return v.lower()


class RegBinding:
    def __init__(self, instance, reg_id, contact, granted, now, conn):
        self.instance = instance
        self.reg_id = reg_id
        self.contact = contact
        self.granted = granted
        self.registered_at = now
        self.expires_at = now + granted * 1000
        self.conn = conn
        self.temp = None
        self.refreshes = 0


class FakeRegistrar:
    def __init__(self, clock, username=USERNAME, password=PASSWORD, realm=REALM,
                 challenge=401, algorithm=b"MD5", flow_timer=30, require_outbound=True,
                 max_expires=None, min_expires=None, answer_pongs=True, service_route=None,
                 reject_outbound=False, others=True, header_expires=None):
        self.clock = clock
        self.username = username
        self.password = password
        self.realm = realm
        self.challenge = challenge  # 401, 407 or None (no authentication)
        self.algorithm = algorithm
        self.flow_timer = flow_timer  # Flow-Timer header in the 2xx, None: none
        self.require_outbound = require_outbound
        self.max_expires = max_expires
        self.min_expires = min_expires
        self.answer_pongs = answer_pongs
        self.pong_delay_ms = 0
        self.reply_delay_ms = 0
        self.service_route = service_route
        self.reject_outbound = reject_outbound  # answer 439 to a REGISTER with a reg-id
        self.others = others  # list the foreign/ghost/plain bindings too
        self.header_expires = header_expires  # an Expires header in the 2xx
        self.silent = False  # answer no REGISTER at all
        self.script = []  # one-shot overrides for the next REGISTERs, see handle()
        self.bindings = []
        self.keep_log = True
        self.registers = []  # (now, conn, bytes) of every REGISTER received (keep_log)
        self.responses = []  # (now, conn, Message) of every response the UA sent us
        self.requests = []  # (now, conn, Message) of requests other than REGISTER (BYE)
        self.unparsed = []  # (now, conn, bytes) of what the UA sent that we cannot parse
        self.pings = []  # times of the pings received (keep_log; ints: no heap objects)
        self.on_ping = None  # callback(now, conn)
        self.on_register = None  # callback(now, conn, Message)
        self.n_register = 0
        self.n_ping = 0
        self.n_pong = 0  # pongs we sent
        self.n_pong_rx = 0
        self.auth_ok = 0
        self.auth_bad = 0
        self.late_refreshes = 0  # refreshes that arrived after the binding had expired
        self.framing_errors = 0
        self._framers = {}
        self._nonce_seq = 0
        self._nonces = {}  # nonce -> highest nc seen
        self._temp_seq = 0
        self._tag_seq = 0

    # -- wire -----------------------------------------------------------------------------
    date = None  # a Date value for the 200s (the phone's wall clock without NTP)

    def close(self, conn):
        self._framers.pop(conn, None)

    def handle(self, conn, data):
        """Bytes from the UA on `conn` -> list of (delay_ms, bytes) to send back."""
        if data[:1] == b"\x00" or data[:1] == b"\x01":  # a STUN keepalive on a UDP flow
            return self._stun(conn, data)
        fr = self._framers.get(conn)
        if fr is None:
            fr = self._framers[conn] = StreamFramer(65535)
        fr.feed(data)
        out = []
        now = self.clock.now
        while True:
            unit = fr.next()
            if unit is None:
                return out
            kind, payload = unit
            if kind == FRAME_PING:
                self.n_ping += 1
                if self.keep_log:
                    self.pings.append(now)
                if self.on_ping is not None:
                    self.on_ping(now, conn)
                if self.answer_pongs:
                    self.n_pong += 1
                    out.append((self.pong_delay_ms, PONG))
            elif kind == FRAME_PONG:
                self.n_pong_rx += 1  # the UA answered a ping of ours
            elif kind == FRAME_ERROR:
                self.framing_errors += 1
                return out
            elif kind == FRAME_MESSAGE:
                try:
                    msg = parse(payload, 65535, datagram=False)
                except ParseError:
                    # the UA's 400 to a malformed request may echo the malformed header
                    self.unparsed.append((now, conn, payload))
                    continue
                if not msg.is_request:
                    self.responses.append((now, conn, msg))
                    continue
                if msg.method != b"REGISTER":
                    self.requests.append((now, conn, msg))  # e.g. the phone's BYE
                    continue
                if self.keep_log:  # raw bytes: one object each, not a tree of small ones
                    self.registers.append((now, conn, payload))
                reply = self._register(conn, msg, now)
                if reply is not None:
                    out.append((self.reply_delay_ms, reply))

    def _stun(self, conn, data):
        """Answer a Binding request like an edge proxy's STUN server (RFC 5626 §8): the
        mapped address is 198.51.100.7 and port 40000 + conn + nat_shift (a NAT that
        changes nat_shift has lost the UA's binding)."""
        from tinysip import stun

        now = self.clock.now
        self.n_ping += 1
        if self.keep_log:
            self.pings.append(now)
        if self.on_ping is not None:
            self.on_ping(now, conn)
        if not self.answer_pongs or not stun.is_stun(data):
            return []
        self.n_pong += 1
        return [(self.pong_delay_ms, stun.binding_response(
            data[8:20], b"198.51.100.7", 40000 + conn + self.nat_shift))]

    nat_shift = 0

    # -- REGISTER ---------------------------------------------------------------------------
    def _answer(self, msg, status, extra=()):
        self._tag_seq += 1
        resp = response(msg, status, to_tag=b"reg%d" % self._tag_seq)
        for name, value in extra:
            resp.add(name, value)
        return resp.to_bytes()

    def _new_nonce(self):
        self._nonce_seq += 1
        nonce = b"nonce%d" % self._nonce_seq
        self._nonces[nonce] = 0
        return nonce

    def _challenge(self, msg, stale=False):
        name = b"WWW-Authenticate" if self.challenge == 401 else b"Proxy-Authenticate"
        value = (b'Digest realm="' + self.realm + b'", nonce="' + self._new_nonce()
                 + b'", qop="auth", algorithm=' + self.algorithm)
        if stale:
            value += b", stale=true"
        return self._answer(msg, self.challenge, [(name, value)])

    def check_auth(self, msg):
        """True if msg carries credentials that prove the password for a nonce we issued."""
        name = b"Authorization" if self.challenge == 401 else b"Proxy-Authorization"
        values = msg.get_all(name)
        if len(values) != 1:
            return False
        p = auth_params(values[0])
        if p is None:
            return False
        nonce = p.get(b"nonce")
        if nonce not in self._nonces or p.get(b"username") != self.username:
            return False
        if p.get(b"realm") != self.realm or p.get(b"uri") != msg.uri:
            return False
        try:
            nc = int(p.get(b"nc", b"0"), 16)
        except ValueError:
            return False
        if nc <= self._nonces[nonce]:
            return False  # a replayed nc
        ch = digest.Challenge(self.realm, nonce, p.get(b"opaque"),
                              p.get(b"algorithm", b"MD5").upper(), [b"auth"])
        expected = digest.response(ch, self.username, self.password, b"REGISTER", msg.uri,
                                   nc, p.get(b"cnonce"), p.get(b"qop"))
        if p.get(b"response") != expected:
            return False
        self._nonces[nonce] = nc
        return True

    GO_ON = object()  # _gate: the REGISTER passed (scripted, silent, challenged ones did not)

    def _gate(self, conn, msg, now):
        """Count the REGISTER, play the script, stay silent, check digest: the answer to
        send (None: none), or GO_ON when the REGISTER is authenticated and unscripted."""
        self.n_register += 1
        if self.on_register is not None:
            self.on_register(now, conn, msg)
        if self.script:
            step = self.script.pop(0)
            if step is not None:
                if step[0] == "drop":
                    return None
                if step[0] == "raw":
                    return step[1]
                if step[0] == "status":
                    return self._answer(msg, step[1], step[2] if len(step) > 2 else ())
                raise ValueError("unknown script step %r" % (step,))
        if self.silent:
            return None
        if self.challenge:
            if not self.check_auth(msg):
                self.auth_bad += 1
                return self._challenge(msg)
            self.auth_ok += 1
        return self.GO_ON

    def _register(self, conn, msg, now):
        gate = self._gate(conn, msg, now)
        if gate is not self.GO_ON:
            return gate
        cs = contacts(msg)
        if len(cs) != 1:
            return self._answer(msg, 400)
        na = cs[0]
        inst = instance_param(na.param(b"+sip.instance"))
        rid = na.param(b"reg-id")
        reg_id = int(rid) if rid is not None else None
        outbound = reg_id is not None and msg.has_tag(b"Supported", b"outbound")
        if self.reject_outbound and outbound:
            return self._answer(msg, 439)
        ev = na.param(b"expires")
        if ev is None:
            ev = msg.get(b"Expires", b"3600")
        requested = int(ev)
        if self.min_expires is not None and 0 < requested < self.min_expires:
            return self._answer(msg, 423, [(b"Min-Expires", b"%d" % self.min_expires)])
        granted = requested
        if self.max_expires is not None and granted > self.max_expires:
            granted = self.max_expires
        self._purge(now)
        b = self.find(inst, reg_id)
        if requested == 0:
            if b is not None:
                self.bindings.remove(b)
        else:
            if b is None:
                b = RegBinding(inst, reg_id, na.uri.to_bytes(), granted, now, conn)
                self.bindings.append(b)
            else:
                if now > b.expires_at:
                    self.late_refreshes += 1
                b.refreshes += 1
                b.granted = granted
                b.registered_at = now
                b.expires_at = now + granted * 1000
                b.conn = conn
            self._temp_seq += 1
            b.temp = b"sip:tgruu-%d-%d@lab.test;gr" % (reg_id or 0, self._temp_seq)
        extra = [(b"Contact", c) for c in self._contact_values(inst, now)]
        if outbound and self.require_outbound:
            extra.append((b"Require", b"outbound"))
        if self.flow_timer is not None:
            extra.append((b"Flow-Timer", b"%d" % self.flow_timer))
        if self.header_expires is not None:
            extra.append((b"Expires", self.header_expires))
        if self.service_route is not None:
            extra.append((b"Service-Route", self.service_route))
        if self.date:
            extra.append((b"Date", self.date))
        return self._answer(msg, 200, extra)

    def find(self, instance, reg_id):
        for b in self.bindings:
            if b.instance == instance and b.reg_id == reg_id:
                return b
        return None

    def _purge(self, now):
        self.bindings = [b for b in self.bindings if b.expires_at > now]

    def _contact_values(self, instance, now):
        out = []
        if self.others:
            # another phone of the same AOR: reg-id 1 too, a different instance
            out.append(b'<sip:bob@203.0.113.9:5061;transport=tls>;+sip.instance="<'
                       + FOREIGN_INSTANCE + b'>";reg-id=1;expires=1111;pub-gruu="sip:alice'
                       b'@lab.test;gr=' + FOREIGN_INSTANCE + b'";temp-gruu="sip:foreign@lab'
                       b'.test;gr"')
            # an old flow of the requesting instance with another reg-id
            if instance is not None:
                out.append(b'<sip:alice@203.0.113.7:40000;transport=tls;ob>;+sip.instance="<'
                           + instance.upper() + b'>";reg-id=%d;expires=2222;pub-gruu="sip:'
                           b'ghost@lab.test;gr";temp-gruu="sip:ghost@lab.test;gr"'
                           % GHOST_REG_ID)
            out.append(b"<sip:alice@198.51.100.1>;expires=3333")
        for b in self.bindings:
            rewritten = b"<sip:alice@198.51.100.7:%d;transport=tls;ob>" % (50000 + (b.conn or 0))
            v = rewritten + b';+sip.instance="<' + b.instance + b'>"'
            if b.reg_id is not None:
                v += b";reg-id=%d" % b.reg_id
            remaining = (b.expires_at - now + 999) // 1000
            v += b";expires=%d" % remaining
            v += b';pub-gruu="sip:alice@lab.test;gr=' + b.instance + b'"'
            v += b';temp-gruu="' + b.temp + b'"'
            out.append(v)
        return out


class Link:
    """Runs a UserAgent against a FakeRegistrar on virtual time.

    connect_policy maps a host to "ok" (connected at once), "fail" (refused), "tls" (TLS
    verification failed) or "hang" (never answered). Every event is counted by name in
    `counts` and, with keep_log, kept in `events` as (now, event) -- except keepalive
    events, of which only the last is kept.
    """

    def __init__(self, ua, registrar, clock):
        self.ua = ua
        self.reg = registrar
        self.clock = clock
        self.conns = {}  # open conn -> host
        self.connect_policy = {}
        self.dns = {}  # host -> targets, the answer to ACT_RESOLVE (RFC 3263, locate.py)
        self.resolves = []  # (now, conn, host, port, transport, sips)
        self.deliveries = []  # [due, seq, conn, bytes]
        self._seq = 0
        self.keep_log = True
        self.events = []
        self.counts = {}
        self.on_event = None
        self.connects = []  # (now, conn, host, port, tls, server_name, client cert, udp)
        self.closes = []  # (now, conn)
        self.keep_sent = False  # the registrar logs REGISTERs and pings; this is for the rest
        self.sent = []  # (now, conn, bytes) written by the UA (with keep_sent)
        self.last_keepalive = None  # keepalive events are only counted
        self.dead_sends = 0  # sends on a connection that is not open
        self.media_policy = "ok"  # or a reason given to media_failed
        self.media_opened = []  # ACT_MEDIA actions
        self.voices = []  # ACT_VOICE actions: (kind, call id, tinysip.audio params)
        self.media_closed = []  # call ids
        self.media_counts = (0, 0)  # (rx, tx) reported when a mirror stops

    # -- plumbing -------------------------------------------------------------------------
    def _deliver_later(self, conn, delay, data):
        self._seq += 1
        self.deliveries.append([self.clock.now + delay, self._seq, conn, data])

    def _next_delivery(self):
        best = None
        for d in self.deliveries:
            if best is None or (d[0], d[1]) < (best[0], best[1]):
                best = d
        return best

    def _actions(self):
        ua = self.ua
        now = self.clock.now
        while True:
            a = ua.pop_action()
            if a is None:
                return
            kind = a[0]
            if kind == ACT_CONNECT:
                conn, host = a[1], a[2]
                self.connects.append((now, conn, host, a[3], a[4], a[5], a[6], a[7]))
                policy = self.connect_policy.get(host, "ok")
                if policy == "ok":
                    self.conns[conn] = host
                    ua.connected(conn, now)
                elif policy == "fail":
                    ua.connection_failed(conn, now, "connection refused", False)
                elif policy == "tls":
                    ua.connection_failed(conn, now, "certificate verify failed", True)
                elif policy != "hang":
                    raise ValueError("connect policy %r" % policy)
            elif kind == ACT_RESOLVE:
                self.resolves.append((now,) + a[1:])
                ua.resolved(a[1], self.dns.get(a[2], []), now)
            elif kind == ACT_SEND:
                conn, data = a[1], a[2]
                if conn not in self.conns:
                    self.dead_sends += 1
                    continue
                if self.keep_sent:
                    self.sent.append((now, conn, data))
                for delay, out in self.reg.handle(conn, data):
                    self._deliver_later(conn, delay, out)
            elif kind == ACT_CLOSE:
                conn = a[1]
                self.closes.append((now, conn))
                self.conns.pop(conn, None)
                self.reg.close(conn)
                self.deliveries = [d for d in self.deliveries if d[2] != conn]
            elif kind == ACT_MEDIA:  # plays the driver: bind the port (or fail), report
                self.media_opened.append(a)
                if self.media_policy == "ok":
                    ua.media_ready(a[1], a[4], now)
                else:
                    ua.media_failed(a[1], self.media_policy, now)
            elif kind == 7:  # ACT_VOICE (private in ua.py: a name fewer on the phone)
                self.voices.append(a)
            elif kind == ACT_MEDIA_STOP:
                self.media_closed.append(a[1])
                rx, tx = self.media_counts
                ua.media_stopped(a[1], rx, tx, now)
            else:
                raise ValueError("unknown action %r" % (a,))

    def _events(self):
        while True:
            e = self.ua.pop_event()
            if e is None:
                return
            self.counts[e.name] = self.counts.get(e.name, 0) + 1
            if e.name == "keepalive":
                # counted, not logged: one small object per ping kept alive for the whole
                # test fragments a 256 KB MicroPython heap
                self.last_keepalive = e
            elif self.keep_log:
                self.events.append((self.clock.now, e))
            if self.on_event is not None:
                self.on_event(self.clock.now, e)

    def settle(self):
        """Perform actions, drain events and deliver everything due now, until quiet."""
        for _ in range(10000):
            self._actions()
            self._events()
            d = self._next_delivery()
            if d is None or d[0] > self.clock.now:
                return
            self.deliveries.remove(d)
            if d[2] in self.conns:
                self.ua.receive(d[2], d[3], self.clock.now)
        raise AssertionError("the UA and the registrar never went quiet")

    # -- API for tests ----------------------------------------------------------------------
    def start(self):
        self.ua.start(self.clock.now)
        self.settle()

    def run_until(self, t, stop=None):
        """Move time to `t`, firing timers and deliveries on the way. With `stop` (a
        predicate of no arguments) return True as soon as it holds."""
        self.settle()
        if stop is not None and stop():
            return True
        same = 0
        last = None
        while True:
            nt = self.ua.next_timer()
            d = self._next_delivery()
            nxt = nt
            if d is not None and (nxt is None or d[0] < nxt):
                nxt = d[0]
            if nxt is None or nxt > t:
                break
            if nxt > self.clock.now:
                self.clock.now = nxt
            if nxt == last:
                same += 1
                if same > 1000:
                    raise AssertionError("timer at %d never clears" % nxt)
            else:
                same = 0
            last = nxt
            if nt is not None and nt <= self.clock.now:
                self.ua.handle_timer(self.clock.now)
            self.settle()
            if stop is not None and stop():
                return True
        if t > self.clock.now:
            self.clock.now = t
        self.settle()
        return stop is not None and stop()

    def advance(self, ms, stop=None):
        return self.run_until(self.clock.now + ms, stop)

    def wait_for(self, name, within_ms):
        """Run until an event called `name` is recorded after now; return (time, event)."""
        start = len(self.events)

        def seen():
            for i in range(start, len(self.events)):
                if self.events[i][1].name == name:
                    return True
            return False

        if not self.run_until(self.clock.now + within_ms, seen):
            raise AssertionError("no %s event within %d ms; got %r"
                                 % (name, within_ms, self.names(start)))
        for i in range(start, len(self.events)):
            if self.events[i][1].name == name:
                return self.events[i]

    def inject(self, conn, data):
        """Bytes from the server side on `conn`, delivered now."""
        self.ua.receive(conn, data, self.clock.now)
        self.settle()

    def names(self, start=0):
        return [e.name for _, e in self.events[start:]]

    def of(self, name, start=0):
        return [e for _, e in self.events[start:] if e.name == name]

    def mark(self):
        return len(self.events)



# -- helpers shared by the UA tests -----------------------------------------------------------
T1 = 500  # sip.t1 default


def config(flows=1, extra=None, outbound=None):
    d = {
        "aor": "sip:alice@lab.test",
        "auth": {"username": "alice", "password": "secret"},
        "outbound": outbound or ["sips:edge%d.lab.test" % (i + 1) for i in range(flows)],
        "tls": {"ca": "/flash/ca.pem"},
    }
    if extra:
        for k in extra:
            d[k] = extra[k]  # literal dotted keys ("flow.keepalive") are accepted
    return Config(d)


def setup(flows=1, extra=None, seed=1, rng=None, start=True, outbound=None, **regopts):
    clock = FakeClock()
    reg = FakeRegistrar(clock, **regopts)
    ua = UserAgent(config(flows, extra, outbound), INSTANCE, rng or FakeRandom(seed))
    link = Link(ua, reg, clock)
    if start:
        link.start()
    return link, reg, ua, clock


def no_internal_errors(link):
    assert link.counts.get("internal_error", 0) == 0, link.of("internal_error")
    assert link.dead_sends == 0  # never a write to a connection that is not open


def registers(reg, start=0):
    """[(now, conn, parsed REGISTER)] the registrar received, from the start-th on."""
    return [(t, c, parse(raw, 65535, datagram=False)) for t, c, raw in reg.registers[start:]]


def last_conn(link, host=None):
    for c in reversed(link.connects):
        if host is None or c[2] == host:
            return c[1]
    return None


def up(link, flows=1):
    """Start already done: assert every flow registered."""
    assert link.counts.get("registered", 0) >= flows, link.names()
    assert len([f for f in link.ua.flows if f.state == ob.UP]) == flows


def request(method, extra=b"", to=b"<sip:alice@lab.test>", branch=b"z9hG4bKsrv1",
            ruri=b"sip:alice@198.51.100.7:50001;transport=tls", body=b""):
    return (method + b" " + ruri + b" SIP/2.0\r\n"
            b"Via: SIP/2.0/TLS 192.0.2.1:5061;branch=" + branch + b"\r\n"
            b"Max-Forwards: 70\r\n"
            b"From: <sip:carol@lab.test>;tag=c1\r\n"
            b"To: " + to + b"\r\n"
            b"Call-ID: srv-call-1@192.0.2.1\r\n"
            b"CSeq: 11 " + method + b"\r\n" + extra
            + b"Content-Length: %d\r\n\r\n" % len(body) + body)


def answers(reg, start=0):
    return [r[2] for r in reg.responses[start:]]


class PinnedR16:
    """FakeRandom, except that every 2-byte draw (the UA's r16 for jitter) is fixed."""

    def __init__(self, r16, seed=3):
        self.fixed = bytes([r16 >> 8, r16 & 0xFF])
        self.rng = FakeRandom(seed)

    def __call__(self, n):
        if n == 2:
            return self.fixed
        return self.rng(n)


class Watch:
    """Checks every ping and refresh on the fly, without keeping a log (long runs on a
    small heap). `bad` lists every keepalive gap outside 80-100 % of `ft_ms` and every
    refresh later than the grant (or earlier than 90 % of it with `strict`)."""

    def __init__(self, link, reg, ft_ms, granted_s, strict=True):
        self.ft = ft_ms
        self.granted_ms = granted_s * 1000
        self.strict = strict
        self.first_ping = {}  # conn -> time
        self.last_ping = {}
        self.pings = {}  # conn -> count
        self.min_gap = None
        self.max_gap = None
        self.last_registered = {}  # reg-id -> time of the last 2xx
        self.registered = {}
        self.refreshes = {}
        self.max_refresh_gap = 0
        self.bad = []
        reg.on_ping = self.ping
        reg.on_register = self.register
        link.on_event = self.event

    def ping(self, now, conn):
        prev = self.last_ping.get(conn)
        if prev is None:
            self.first_ping[conn] = now
        else:
            gap = now - prev
            if self.min_gap is None or gap < self.min_gap:
                self.min_gap = gap
            if self.max_gap is None or gap > self.max_gap:
                self.max_gap = gap
            if not (self.ft * 8 // 10 <= gap <= self.ft):
                self.bad.append(("ping", now, gap))
        self.last_ping[conn] = now
        self.pings[conn] = self.pings.get(conn, 0) + 1

    def register(self, now, conn, msg):
        rid = int(contacts(msg)[0].param(b"reg-id"))
        prev = self.last_registered.get(rid)
        if prev is None:
            return  # the initial registration
        gap = now - prev
        if gap > self.max_refresh_gap:
            self.max_refresh_gap = gap
        if gap >= self.granted_ms:
            self.bad.append(("late refresh", now, gap))
        elif self.strict and gap * 10 < self.granted_ms * 9:
            self.bad.append(("early refresh", now, gap))
        self.refreshes[rid] = self.refreshes.get(rid, 0) + 1

    def event(self, now, e):
        if e.name == "registered":
            self.registered[e.reg_id] = self.registered.get(e.reg_id, 0) + 1
            self.last_registered[e.reg_id] = now

    def gaps_ok(self):
        return self.bad == [] and self.min_gap is not None


def watched(flows=1, ft=30, granted=600, extra=None, rng=None, ka_ms=None, outbound=None,
            **regopts):
    """A started UA with logging off and a Watch on it: (link, reg, ua, clock, watch).
    `ft` is the registrar's Flow-Timer (None: none, then `ka_ms` is the interval)."""
    link, reg, ua, clock = setup(flows, extra, rng=rng, flow_timer=ft, max_expires=granted,
                                 start=False, outbound=outbound, **regopts)
    link.keep_log = False
    reg.keep_log = False
    watch = Watch(link, reg, ka_ms or (ft or 120) * 1000, granted)
    link.start()
    return link, reg, ua, clock, watch


def long_run(rng, hours, heap_check=False):
    """Two flows, Flow-Timer 30 s, 600 s granted, for `hours` of virtual time."""
    link, reg, ua, clock, watch = watched(2, rng=rng)
    assert link.counts["registered"] == 2
    t_up = clock.now
    end = t_up + hours * 3600000
    before = after = None
    if heap_check:
        link.run_until(t_up + 3600000)  # warm up: every code path ran once
        gc.collect()
        before = gc.mem_alloc()
    link.run_until(end)
    if heap_check:
        gc.collect()
        after = gc.mem_alloc()
    return link, reg, ua, watch, end - t_up, before, after
