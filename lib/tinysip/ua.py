"""The user agent facade: flows, registrations, transactions and UAS basics in one object.

Inputs (each takes `now`, integer ms from a monotonic clock):
    start(now), stop(now), network_changed(now)              API calls
    connected(conn, now), connection_failed(conn, now, reason, tls=False),
    connection_lost(conn, now, reason), receive(conn, data, now)   from the driver
    handle_timer(now)                                         when next_timer() is due
Outputs, drained by the driver after every input:
    pop_action() -> (ACT_CONNECT, conn, host, port, tls, server_name) | (ACT_SEND, conn,
                    bytes) | (ACT_CLOSE, conn) | None
    pop_event()  -> an events.Event or None
    next_timer() -> absolute ms of the next timer or None
Every input method may queue actions and events. None of them raises on peer input: a
malformed request is answered 400 (or 505/513), a malformed response dropped with a
MessageDropped event, and a bug surfaces as an InternalError event.
"""
from tinysip import events as ev
from tinysip import outbound as ob
from tinysip.compat import const, hexlify
from tinysip.digest import DigestClient
from tinysip.errors import ParseError
from tinysip.framing import FRAME_ERROR, FRAME_MESSAGE, FRAME_PING, FRAME_PONG, PING, PONG
from tinysip.framing import StreamFramer
from tinysip.headers import tokens
from tinysip.message import error_response, parse, response
from tinysip.register import R_FAIL, R_OK, R_PROVISIONAL, R_RETRY, Registration
from tinysip.transaction import ClientTransaction, ServerTransaction

ACT_CONNECT = const(1)
ACT_SEND = const(2)
ACT_CLOSE = const(3)

SUPPORTED = b"outbound, path, gruu"
ALLOW = b"OPTIONS, ACK"
_SIP_METHODS = (b"INVITE", b"BYE", b"CANCEL", b"REGISTER", b"SUBSCRIBE", b"NOTIFY", b"PRACK",
                b"UPDATE", b"REFER", b"MESSAGE", b"INFO", b"PUBLISH")
_OUR_TAGS = (b"outbound", b"path", b"gruu")


class _Conn:
    def __init__(self, flow, max_size):
        self.flow = flow
        self.framer = StreamFramer(max_size)


class UserAgent:
    def __init__(self, config, instance, rng):
        """`config` a config.Config, `instance` our URN (b'urn:uuid:...'), `rng(n)->bytes`."""
        self.cfg = config
        self.instance = instance
        self.rng = rng
        self.flows = []
        for i in range(len(config.proxies)):
            p = config.proxies[i]
            f = ob.Flow(i, p.uri, p.tls, p.host, p.port, p.server_name)
            digest = DigestClient(config.username, config.password, rng)
            f.registration = Registration(config.aor, instance, f.reg_id, config.expires,
                                          p.route, b"TLS" if p.tls else b"TCP", digest, rng,
                                          config.user_agent)
            self.flows.append(f)
        self.conns = {}
        self._conn_seq = 0
        self.ctx = {}  # branch -> (ClientTransaction, flow)
        self.stx = {}  # (branch, method) -> (ServerTransaction, conn)
        self.actions = []
        self.events = []
        self.stopping = False

    # -- outputs ---------------------------------------------------------------------
    def pop_action(self):
        return self.actions.pop(0) if self.actions else None

    def pop_event(self):
        return self.events.pop(0) if self.events else None

    def next_timer(self):
        t = None
        for f in self.flows:
            v = f.next_timer()
            if v is not None and (t is None or v < t):
                t = v
        for tx, _ in self.ctx.values():
            v = tx.next_timer()
            if v is not None and (t is None or v < t):
                t = v
        for tx, _ in self.stx.values():
            v = tx.next_timer()
            if v is not None and (t is None or v < t):
                t = v
        return t

    @property
    def registered(self):
        return [f for f in self.flows if f.state == ob.UP]

    def idle(self):
        """True once stop() has finished (no open connections, no transactions)."""
        return not self.conns and not self.ctx

    # -- API -------------------------------------------------------------------------
    def start(self, now):
        """Form every flow: queues connect actions."""
        for f in self.flows:
            self._input(f, ob.START, now)

    def network_changed(self, now):
        """The board's network changed (new IP, Wi-Fi back): re-form every flow at once."""
        for f in self.flows:
            f.failures = 0  # a new network is a fresh start, not one more failure
            self._input(f, ob.REFORM, now, "network_changed")

    def stop(self, now):
        """Unregister up flows (Expires: 0) and close the rest; poll idle() to finish."""
        self.stopping = True
        for f in self.flows:
            if f.state == ob.UP and f.conn is not None:
                f.state = ob.STOPPED
                f.clear_timers()
                for branch in list(self.ctx):  # a refresh in flight must not end the stop
                    if self.ctx[branch][1] is f:
                        del self.ctx[branch]
                self._send_register(f, now, expires=0)
            else:
                f.state, _ = ob.transition(f.state, ob.STOP)
                self._close(f)

    # -- driver inputs -----------------------------------------------------------------
    def connected(self, conn, now):
        c = self.conns.get(conn)
        if c is not None and c.flow.conn == conn:
            self._guard(self._input, c.flow, ob.CONNECTED, now)

    def connection_failed(self, conn, now, reason, tls=False):
        c = self.conns.get(conn)
        if c is None or c.flow.conn != conn:
            return
        f = c.flow
        if tls:
            self.events.append(ev.TlsError(f.index, f.server_name, reason))
        self.events.append(ev.FlowFailed(f.index, f.reg_id, "tls_error" if tls else
                                         "connect_failed: %s" % reason))
        self._guard(self._input, f, ob.CONNECT_FAILED, now)

    def connection_lost(self, conn, now, reason="connection_lost"):
        c = self.conns.get(conn)
        if c is None:
            return
        f = c.flow
        if f.conn != conn:
            self.conns.pop(conn, None)
            return
        if f.state == ob.STOPPED:
            self._close(f)
            return
        self.events.append(ev.FlowFailed(f.index, f.reg_id, reason))
        self._guard(self._input, f, ob.CONNECTION_LOST, now)

    def receive(self, conn, data, now):
        c = self.conns.get(conn)
        if c is None:
            return
        c.framer.feed(data)
        while True:
            unit = c.framer.next()
            if unit is None:
                return
            kind, payload = unit
            if kind == FRAME_MESSAGE:
                self._guard(self._on_message, c, conn, payload, now)
            elif kind == FRAME_PONG:
                self._on_pong(c.flow, now)
            elif kind == FRAME_PING:
                self._send(conn, PONG)
            elif kind == FRAME_ERROR:
                self.events.append(ev.MessageDropped(c.flow.index, "stream framing: %s" % payload))
                if c.flow.conn == conn:
                    self.connection_lost(conn, now, "framing_error")
                return
            if conn not in self.conns:
                return

    def handle_timer(self, now):
        self._guard(self._timers, now)

    # -- internals -----------------------------------------------------------------------
    def _guard(self, fn, *args):
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - the phone keeps running; report the bug
            self.events.append(ev.InternalError(getattr(fn, "__name__", "?"), repr(e)))

    def _send(self, conn, data):
        if conn is not None:
            self.actions.append((ACT_SEND, conn, data))

    def _flush(self, tx, conn):
        while True:
            d = tx.pop_send()
            if d is None:
                return
            self._send(conn, d)

    def _input(self, f, inp, now, reason=None):
        state, action = ob.transition(f.state, inp)
        f.state = state
        if action == ob.A_CONNECT:
            self._connect(f, now)
        elif action == ob.A_REGISTER:
            f.retry_at = None  # the connect timeout no longer applies
            self.events.append(ev.FlowUp(f.index, f.reg_id, f.server))
            self._send_register(f, now)
        elif action == ob.A_UP:
            self._up(f, now)
        elif action == ob.A_FAIL_RETRY_NOW:
            self._close(f)
            if reason:
                self.events.append(ev.FlowFailed(f.index, f.reg_id, reason))
            self._connect(f, now)
        elif action == ob.A_FAIL_BACKOFF:
            self._close(f)
            f.failures += 1
            all_down = not any(g.state == ob.UP for g in self.flows if g is not f)
            c = self.cfg
            delay = ob.recovery_wait(f.failures, all_down, ob.random16(self.rng), c.base_all_down_ms,
                                     c.base_some_up_ms, c.max_backoff_ms)
            if f.retry_after is not None and f.retry_after * 1000 > delay:
                delay = f.retry_after * 1000
            f.retry_after = None
            f.retry_at = now + delay
            self.events.append(ev.FlowRecovering(f.index, f.reg_id, delay, f.failures))
        elif action == ob.A_CLOSE:
            self._close(f)

    def _connect(self, f, now):
        self._conn_seq += 1
        conn = self._conn_seq
        self.conns[conn] = _Conn(f, self.cfg.max_message)
        f.conn = conn
        f.clear_timers()
        f.retry_at = now + self.cfg.connect_timeout_ms  # the driver reports success first
        self.actions.append((ACT_CONNECT, conn, f.host, f.port, f.tls, f.server_name))
        self.events.append(ev.FlowConnecting(f.index, f.reg_id, f.server,
                                             "tls" if f.tls else "tcp"))

    def _close(self, f):
        for branch in list(self.ctx):
            if self.ctx[branch][1] is f:
                del self.ctx[branch]
        if f.conn is not None:
            self.actions.append((ACT_CLOSE, f.conn))
            self.conns.pop(f.conn, None)
            f.conn = None
        f.clear_timers()

    def _send_register(self, f, now, expires=None):
        data, branch = f.registration.build(expires)
        tx = ClientTransaction(data, branch, b"REGISTER", now, True, t1=self.cfg.t1)
        self.ctx[branch] = (tx, f)
        self._flush(tx, f.conn)

    def _up(self, f, now):
        b = f.binding
        f.failures = 0
        f.retry_at = None
        f.refresh_at = now + ob.refresh_wait(b.expires)
        if b.outbound:
            f.keepalive_ms = b.flow_timer * 1000 if b.flow_timer else self.cfg.keepalive_ms
            if f.ping_at is None and f.pong_deadline is None:
                f.ping_at = now + ob.keepalive_wait(f.keepalive_ms, ob.random16(self.rng))
        else:
            f.keepalive_ms = None
        self.events.append(ev.RegistrationSucceeded(f.index, f.reg_id, b.expires, b.pub_gruu,
                                                    b.temp_gruu, b.outbound, b.flow_timer,
                                                    b.service_route))

    def _on_pong(self, f, now):
        if f.pong_deadline is None:
            return  # an unsolicited CRLF: ignore (RFC 5626 §4.4.1)
        rtt = now - f.ping_sent_at
        if f.keepalive_ms:
            # ping to ping is 80-100 % of the interval, whatever the pong took
            f.ping_at = f.ping_sent_at + ob.keepalive_wait(f.keepalive_ms, ob.random16(self.rng))
        f.pong_deadline = None
        f.ping_sent_at = None
        self.events.append(ev.KeepaliveAnswered(f.index, rtt))

    def _timers(self, now):
        for f in self.flows:
            if f.retry_at is not None and now >= f.retry_at:
                f.retry_at = None
                if f.state == ob.CONNECTING:  # the driver never reported: give up on it
                    self.events.append(ev.FlowFailed(f.index, f.reg_id, "connect_timeout"))
                    self._input(f, ob.CONNECT_FAILED, now)
                else:
                    self._input(f, ob.RETRY_DUE, now)
            if f.pong_deadline is not None and now >= f.pong_deadline:
                f.pong_deadline = None
                self._input(f, ob.PONG_TIMEOUT, now, "pong_timeout")
            if f.ping_at is not None and now >= f.ping_at and f.conn is not None:
                f.ping_at = None
                f.ping_sent_at = now
                f.pong_deadline = now + self.cfg.pong_timeout_ms
                self._send(f.conn, PING)
            if f.refresh_at is not None and now >= f.refresh_at:
                f.refresh_at = None
                if f.state == ob.UP:
                    self._send_register(f, now)
        for branch in list(self.ctx):
            entry = self.ctx.get(branch)
            if entry is None:
                continue
            tx, f = entry
            t = tx.next_timer()
            if t is not None and now >= t:
                timed_out = tx.handle_timer(now)
                self._flush(tx, f.conn)
                if timed_out:
                    del self.ctx[branch]
                    self._register_failed(f, now, 408, "no answer to REGISTER", timeout=True)
                    continue
            if tx.terminated:
                self.ctx.pop(branch, None)
        for key in list(self.stx):
            tx, conn = self.stx[key]
            t = tx.next_timer()
            if t is not None and now >= t:
                tx.handle_timer(now)
                self._flush(tx, conn)
            if tx.terminated:
                del self.stx[key]

    def _register_failed(self, f, now, status, reason, timeout=False):
        if f.state == ob.STOPPED:
            self._close(f)
            return
        self.events.append(ev.RegistrationFailed(f.index, f.reg_id, status, reason))
        if timeout and f.state == ob.UP:
            self._input(f, ob.PONG_TIMEOUT, now, "register_timeout")
        else:
            self._input(f, ob.REGISTER_FAILED, now)

    def _on_message(self, c, conn, data, now):
        try:
            msg = parse(data, self.cfg.max_message, datagram=False)
        except ParseError as e:
            resp = error_response(data, e)
            if resp is not None:
                self._send(conn, resp)
            self.events.append(ev.MessageDropped(c.flow.index, "from %s: %s" % (c.flow.server, e)))
            return
        if msg.is_request:
            self._on_request(c, conn, msg, now)
        else:
            self._on_response(c, msg, now)

    def _on_response(self, c, msg, now):
        if len(msg.values(b"Via")) != 1:
            self.events.append(ev.MessageDropped(c.flow.index, "response with more than one Via"))
            return
        entry = self.ctx.get(msg.branch)
        if entry is None or msg.cseq_method != b"REGISTER":
            return  # a late retransmission; nothing waits for it
        tx, f = entry
        out = tx.receive(msg, now)
        if tx.terminated:
            self.ctx.pop(msg.branch, None)
        if out is None:
            return
        if msg.status >= 200:
            self.ctx.pop(msg.branch, None)
        outcome, info = f.registration.on_response(out)
        if outcome == R_PROVISIONAL:
            return
        if f.state == ob.STOPPED:
            if outcome == R_RETRY and msg.status in (401, 407):
                self._send_register(f, now, expires=0)
            else:
                self.events.append(ev.Unregistered(f.index, f.reg_id))
                self._close(f)
            return
        if outcome == R_RETRY:
            self._send_register(f, now)
        elif outcome == R_OK:
            f.binding = info
            self._input(f, ob.REGISTERED, now)
        elif outcome == R_FAIL:
            status, reason, f.retry_after = info
            self._register_failed(f, now, status, reason)

    def _on_request(self, c, conn, msg, now):
        if msg.method == b"ACK":
            return
        key = (msg.branch, msg.method)
        entry = self.stx.get(key)
        if entry is not None:
            entry[0].receive_request(now)
            self._flush(entry[0], conn)
            return
        status, extra = self._uas_decide(msg)
        resp = response(msg, status, to_tag=hexlify(self.rng(6)))
        for name, value in extra:
            resp.add(name, value)
        data = resp.to_bytes()
        if (msg.branch and msg.branch.startswith(b"z9hG4bK") and len(msg.branch) > 7
                and msg.method != b"INVITE"):  # no INVITE server transaction: stateless
            tx = ServerTransaction(msg, now, True, t1=self.cfg.t1)
            self.stx[key] = (tx, conn)
            tx.respond(data, status, now)
            self._flush(tx, conn)
        else:
            self._send(conn, data)  # no RFC 3261 branch: answer statelessly
        self.events.append(ev.RequestAnswered(c.flow.index, msg.method, status))

    def _uas_decide(self, msg):
        """(status, extra headers) for a request this UA does not yet serve (§8.2)."""
        if msg.ruri.scheme not in (b"sip", b"sips"):
            return 416, []
        if msg.branch == b"z9hG4bK":
            return 400, []
        unknown = [t for t in tokens(msg.get_all(b"Require")) if t not in _OUR_TAGS]
        if unknown:
            return 420, [(b"Unsupported", b", ".join(unknown))]
        common = [(b"Allow", ALLOW), (b"Supported", SUPPORTED)]
        if msg.method == b"OPTIONS":
            return 200, common + [(b"Accept", b"application/sdp")]
        if msg.method in _SIP_METHODS:
            return 405, common
        return 501, common
