"""The user agent facade: flows, registrations, transactions and UAS basics in one object.

Inputs (each takes `now`, integer ms from a monotonic clock):
    start(now), stop(now), network_changed(now)              API calls
    connected(conn, now), connection_failed(conn, now, reason, tls=False),
    connection_lost(conn, now, reason), receive(conn, data, now)   from the driver
    handle_timer(now)                                         when next_timer() is due
Outputs, drained by the driver after every input:
    pop_action() -> (_ACT_CONNECT, conn, host, port, tls, server_name, client, udp)
                    | (_ACT_SEND, conn, bytes) | (_ACT_CLOSE, conn)
                    | (_ACT_RESOLVE, conn, host, port or None, transport param or None, sips)
                    | (_ACT_MEDIA, call_id, mode, pt, port, rtp_ip, rtp_port, ptime)
                    | (_ACT_MEDIA_STOP, call_id) | (7 ACT_VOICE, call_id, params) | None
    _ACT_MEDIA: port is the RTP port to bind (drawn from media.port_min..port_max), rtp_ip
    (bytes) / rtp_port the offer's c=/m= address: the only source the mirror may latch on.
    mode 0 is a voice call's port (pt, rtp_ip, rtp_port unused): once media_ready has
    written the answer, ACT_VOICE gives the driver the call's tinysip.audio params to run
    (tinysip.voice on that port; the peer's address is in params).
    The driver answers _ACT_RESOLVE with resolved(conn, locate.targets(...), now): RFC 3263,
    then the flow tries each target in turn (connect failure, timeout or 503: the next).
    A UDP conn carries datagrams: SIP, or STUN for the keepalive (RFC 5626 §4.4.2).
    The driver answers _ACT_MEDIA with media_ready(call_id, port, now) (or
    media_failed(call_id, reason, now)) and _ACT_MEDIA_STOP with media_stopped(call_id, rx,
    tx, now).
Calls: an INVITE is auto-answered only when Answer-Mode/Priv-Answer-Mode asks for it, the
policy allows it (invite.caller + may_auto_answer: the proxy's P-Asserted-Identity over
a registered flow of a transport in autoanswer.trust, or a verified RFC 8224 Identity, is in
config autoanswer.allow) and the offer is an RFC 6849 loopback offer; the call is then
loopback only (the mirror, never a microphone). Any other INVITE rings: call_incoming,
then answer(call_id, now) or reject(call_id, now, status), or 480 after call.ring_timeout.
answer() takes a loopback offer as the mirror and any other as a voice call (tinysip.audio:
G.711, telephone-event, SDES per media.srtp; 488 when nothing in the offer fits).
Hold and resume (RFC 3264 §8.4): a peer's re-INVITE in a voice call is answered by
tinysip.audio.reinvite, ours are sent by hold(call_id, now) / resume(call_id, now)
(tinysip.hold, in ctx under its branch like a BYE); each ends in `call_held` and, when it
went through, a new ACT_VOICE for the call (the driver updates its running media).
Bounded state: requests outside a call are answered statelessly (§8.2.7), INVITEs refused
(busy, 420, 403, 503 beyond call.max) too; a running call whose RTP stops (the driver
reports media_rx(call_id, now)) or that lasts too long is ended with BYE.
Certificates (RFC 6072, only with config certificates.*; tinysip.certservice is imported on
the first registration): subscribe_certificate(uri, now), certificate(aor, now),
certificate_unsupported(aor, now) for a 437; set_wall_clock(epoch_s, now) when the board
knows the time (else the first REGISTER 200's Date sets it); a credential becomes
`client_cert`, sent with every later _ACT_CONNECT (its 7th item) for mutual TLS. A
NOTIFY is answered in receive(); its certificate check runs in the next handle_timer,
which next_timer() makes due at once (a driver that fires due timers after each input, as
io.driver does, sees the events in the same order, and the check's heap is not the
receive's).
    pop_event()  -> an events.Event or None
    next_timer() -> absolute ms of the next timer or None
Every input method may queue actions and events. None of them raises on peer input: a
malformed request is answered 400 (or 505/513), a malformed response dropped with a
message_dropped event, and a bug surfaces as an internal_error event.

Heap note: every method is ~100 B of the phone's heap, so one-caller steps are written inline
where the method stays readable.
"""
from tinysip import outbound as ob
from tinysip.compat import const, drop, load, sha256_hex
from tinysip.errors import ParseError
from tinysip.events import Event
from tinysip.framing import StreamFramer
from tinysip.headers import ALLOW, SUPPORTED, requires_unknown
from tinysip.message import error_response, parse, response
from tinysip.register import Registration
from tinysip.transaction import ClientTransaction

_ACT_CONNECT = const(1)
_ACT_SEND = const(2)
_ACT_CLOSE = const(3)
_ACT_MEDIA = const(4)
_ACT_MEDIA_STOP = const(5)
_ACT_RESOLVE = const(6)
_ACT_VOICE = const(7)  # all private (a name fewer each on the phone): the driver states them too
# framing.py's kinds of unit and register.py's outcomes, private there and here (a name
# fewer each on the phone: host_tests/test_consts.py holds the copies together)
_FRAME_MESSAGE = const(1)
_FRAME_PING = const(2)
_FRAME_PONG = const(3)
_FRAME_ERROR = const(4)
_R_PROVISIONAL = const(0)
_R_OK = const(1)
_R_RETRY = const(2)
_R_FAIL = const(3)
# invite.py's call states and inputs (private there too; host_tests/ivnames.py checks them)
# events by their line in tinysip.events.KINDS (a str constant each would be a heap object
# on the phone; test_events checks these numbers against KINDS)
_E_FLOW_CONNECTING = const(0)
_E_FLOW_UP = const(1)
_E_REGISTERED = const(2)
_E_CONTACT_REWRITTEN = const(3)
_E_FLOW_STANDBY = const(4)
_E_REGISTRATION_FAILED = const(5)
_E_FLOW_FAILED = const(6)
_E_FLOW_RECOVERING = const(7)
_E_TARGET_SELECTED = const(8)
_E_TLS_ERROR = const(9)
_E_KEEPALIVE = const(10)
_E_MESSAGE_DROPPED = const(11)
_E_REQUEST_ANSWERED = const(12)
_E_UNREGISTERED = const(13)
_E_INTERNAL_ERROR = const(14)
_E_CALL_INCOMING = const(15)
_E_CALL_ANSWERED = const(16)
_E_CALL_ENDED = const(17)
_E_DTMF = const(18)
_E_CALL_OUTGOING = const(20)
_E_CALL_PROGRESS = const(21)
_E_CALL_CONNECTED = const(22)
_E_CALL_FAILED = const(23)
_IV_RINGING = const(0)
_IV_CONFIRMED = const(2)
_IV_ENDED = const(4)
_IV_ANSWER = const(0)
_IV_REJECT = const(1)
_IV_HANGUP = const(5)
# certservice.park's tuple (test_consts holds these to certservice's)
_P_T = const(0)
_P_IDS = const(1)
_P_DOMAIN = const(2)
_P_CHECKS = const(5)
_R_REWRITE = const(4)  # register.py's outcome "register again with the Contact the Via showed"
# outbound.py's states, inputs and actions, as private consts there too (no interned names;
# host_tests/obnames.py checks that both agree)
_IDLE = const(0)
_CONNECTING = const(1)
_REGISTERING = const(2)
_UP = const(3)
_BACKOFF = const(4)
_STOPPED = const(5)
_STANDBY = const(6)
_START = const(0)
_CONNECTED = const(1)
_CONNECT_FAILED = const(2)
_CONNECTION_LOST = const(3)
_REGISTERED = const(4)
_REGISTER_FAILED = const(5)
_PONG_TIMEOUT = const(6)
_RETRY_DUE = const(7)
_STOP = const(8)
_REFORM = const(9)
_NEXT_TARGET = const(10)
_HOLD = const(11)
_PROMOTE = const(12)
_A_CONNECT = const(1)
_A_REGISTER = const(2)
_A_UP = const(3)
_A_FAIL_RETRY_NOW = const(4)
_A_FAIL_BACKOFF = const(5)
_A_CLOSE = const(6)
_A_STANDBY = const(8)

# methods known to SIP that we do not serve (405, else 501): one bytes constant, not twelve
# heap objects (a request's method never holds a space)
_SIP_METHODS = (b" INVITE BYE CANCEL REGISTER SUBSCRIBE NOTIFY PRACK UPDATE REFER MESSAGE INFO"
                b" PUBLISH ")


def _earliest(t, v):
    return v if v is not None and (t is None or v < t) else t


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
            f.udp, f.stun, f.resolve, f.settings = p.udp, p.stun, p.resolve, p
            digest = (config.username, config.password, rng)  # (tinysip.digest: on a 401)
            f.registration = Registration(config.aor, instance, f.reg_id, config.expires,
                                          p.route, b"TLS" if p.tls else b"UDP" if p.udp
                                          else b"TCP", digest, rng, config.user_agent,
                                          config.outbound_mode)
            self.flows.append(f)
        # what the registrar does (RFC 5626 §4.2.1): 0 not known yet, 1 outbound (each flow
        # its own binding, by reg-id), 2 plain RFC 3261 (one binding: one flow registers)
        self.ob_mode = 2 if config.outbound_mode == "off" else 0
        self.bound = None  # plain: the Contact URI the registrar holds for us, any flow's
        self.conns = {}  # conn id -> (flow, StreamFramer)
        self._conn_seq = 0
        self.ctx = {}  # branch -> (ClientTransaction, flow)
        # call id -> [Call, flow, SDP offer bytes until answered, media params (type, mode,
        # pt, the offer's RTP ip and port), mode, media state: 0 none, 1 opening, 2 running,
        # 3 stopping, 4 its limits fired; the RTP inactivity deadline; the length limit]
        self.calls = {}
        self.actions = []
        self.events = []
        self.stopping = False
        # certificates (only when configured): None until a flow is up, then what
        # certservice.park makes of its CertService between our calls into it (_cs)
        self.certsvc = None
        self.client_cert = None  # (certificate DER, PKCS#8 key DER): the credential
        self.wall_ms = None  # wall clock (ms since 1970) minus `now`, once known

    # -- outputs ---------------------------------------------------------------------
    def pop_action(self):
        return self.actions.pop(0) if self.actions else None

    def pop_event(self):
        return self.events.pop(0) if self.events else None

    def next_timer(self):
        t = None
        for f in self.flows:
            t = _earliest(t, f.next_timer())
        for e in self.ctx.values():
            t = _earliest(t, e[0].next_timer())
        for e in self.calls.values():
            t = _earliest(t, e[0].next_timer())
            if e[5] == 2:  # media running: its inactivity and length limits
                t = _earliest(_earliest(t, e[6]), e[7])
        p = self.certsvc
        if p is not None and type(p) is not tuple and p.idle():
            # the driver asks when it has done what came in: the certificate service, if
            # its code was loaded for it (_cs) and it waits for nothing that comes at once
            # (certservice's idle), becomes plain data again and its code is dropped
            # (issue 16)
            try:
                p = self.certsvc = load(b"tinysip.certservice park")(p)
                drop("certservice subscribe")
            except MemoryError:  # (it stays as it is, loaded: parked at a later call)
                pass
        if p is not None:
            t = _earliest(t, p[_P_T] if type(p) is tuple else p.next_timer())
        return t

    def idle(self):
        """True once stop() has finished (no open connections, no transactions)."""
        return not self.conns and not self.ctx

    # -- API -------------------------------------------------------------------------
    def start(self, now):
        """Form every flow: queues connect actions."""
        for f in self.flows:
            self._input(f, _START, now)

    def network_changed(self, now):
        """The board's network changed (new IP, Wi-Fi back): re-form every flow at once."""
        for f in self.flows:
            f.failures = 0  # a new network is a fresh start, not one more failure
            f.settled = False  # and the first configured flow that works holds the binding
        for f in self.flows:
            self._input(f, _REFORM, now, "network_changed")

    def stop(self, now):
        """Unregister up flows (Expires: 0) and close the rest; poll idle() to finish."""
        self.stopping = True
        for cid in list(self.calls):  # calls end first: their BYE still has a flow
            c = self.calls[cid][0]
            if self.calls[cid][4] == "out":
                c.hangup(now)
            elif c.state == _IV_RINGING:
                c.final = 480
                c.step(_IV_REJECT, now)
            else:
                c.step(_IV_HANGUP, now)
            self._call_flush(cid, now)
        if self.certsvc is not None:  # unsubscribe while the flows still carry it
            try:
                self._cs(b"stop", now)
            except MemoryError:
                # a heap too full for the service's code beside the rest of the phone: let
                # it go (the subscriptions end at their expiry), the unregisters matter more
                self.certsvc = None
        for f in self.flows:
            if f.state == _UP and f.conn is not None:
                f.state = _STOPPED
                f.clear_timers()
                self._drop_ctx(f)  # a refresh in flight must not end the stop
                try:
                    self._send_register(f, now, 0)
                    continue
                except MemoryError:  # (not even that fits: the binding expires on its own)
                    pass
            f.state, _ = ob.transition(f.state, _STOP)
            self._close(f)

    # -- driver inputs -----------------------------------------------------------------
    def _flow_of(self, conn):
        """The flow whose current connection is `conn`, or None (a stale connection)."""
        c = self.conns.get(conn)
        return c[0] if c is not None and c[0].conn == conn else None

    def connected(self, conn, now):
        f = self._flow_of(conn)
        if f is not None:
            self._guard(self._input, f, _CONNECTED, now)

    def connection_failed(self, conn, now, reason, tls=False):
        f = self._flow_of(conn)
        if f is None:
            return
        if tls:
            self._ev(_E_TLS_ERROR, f.index, f.server_name, reason)
        self._ev(_E_FLOW_FAILED, f.index, f.reg_id,
                 "tls_error" if tls else "connect_failed: %s" % reason)
        if not self._next_target(f, now):
            self._guard(self._input, f, _CONNECT_FAILED, now)

    def resolved(self, conn, targets, now):
        """The driver's answer to _ACT_RESOLVE: locate.targets() for the flow's host, in
        order ([] when DNS gave nothing)."""
        f = self._flow_of(conn)
        if f is None:
            return
        f.targets, f.target_i = targets, 0
        if targets:
            self._guard(self._open, f, conn)
        else:
            self._ev(_E_FLOW_FAILED, f.index, f.reg_id, "dns: no server for %s" % f.host)
            self._guard(self._input, f, _CONNECT_FAILED, now)

    def connection_lost(self, conn, now, reason="connection_lost"):
        f = self._flow_of(conn)
        if f is None:
            self.conns.pop(conn, None)
        elif f.state == _STOPPED:
            self._close(f)
        else:
            self._ev(_E_FLOW_FAILED, f.index, f.reg_id, reason)
            self._guard(self._input, f, _CONNECTION_LOST, now)

    def receive(self, conn, data, now):
        c = self.conns.get(conn)
        if c is None:
            return
        f, framer = c
        if framer is None:  # UDP: one datagram, SIP or STUN (RFC 5626 §8 / RFC 5389)
            if data[:1] == b"\x00" or data[:1] == b"\x01":
                self._guard(self._on_stun, f, data, now)
            elif data.strip(b"\r\n"):  # CRLF alone: a peer's keepalive, dropped
                self._guard(self._on_message, f, conn, data, now, True)
            return
        framer.feed(data)
        while conn in self.conns:
            unit = framer.next()
            if unit is None:
                return
            kind, payload = unit
            if kind == _FRAME_MESSAGE:
                self._guard(self._on_message, f, conn, payload, now)
            elif kind == _FRAME_PONG:
                if f.ping_sent_at is not None:  # else unsolicited: ignore (§4.4.1)
                    self._pong(f, now)
            elif kind == _FRAME_PING:
                self._send(conn, b"\r\n")
            else:  # _FRAME_ERROR: the stream cannot be resynchronised
                self._ev(_E_MESSAGE_DROPPED, f.index, "stream framing: %s" % payload)
                if f.conn == conn:
                    self.connection_lost(conn, now, "framing_error")
                return

    def handle_timer(self, now):
        self._guard(self._timers, now)

    def _pong(self, f, now):
        """The keepalive was answered (CRLF pong or STUN Binding response)."""
        if f.keepalive_ms and f.pongs:
            # ping to ping is 80-100 % of the interval, whatever the pong took
            f.ping_at = f.ping_sent_at + ob.keepalive_wait(f.keepalive_ms, ob.random16(self.rng))
        self._ev(_E_KEEPALIVE, f.index, now - f.ping_sent_at)
        f.pong_deadline = f.ping_sent_at = f.stun_rexmit_at = f.stun_txid = None

    def _on_stun(self, f, data, now):
        """A STUN Binding response on a UDP flow: a pong, unless the NAT mapping changed."""
        is_stun, parse_response = load(b"tinysip.stun is_stun parse_response")
        if not is_stun(data):
            self._ev(_E_MESSAGE_DROPPED, f.index, "from %s: a datagram neither SIP nor STUN"
                     % f.server)
            return
        if f.stun_txid is None:
            return  # nothing asked (a late retransmission's answer): ignored
        try:
            mapped = parse_response(data, f.stun_txid)
        except ParseError as e:
            self._ev(_E_MESSAGE_DROPPED, f.index, "STUN from %s: %s" % (f.server, e))
            return
        if f.mapped is not None and mapped != f.mapped:
            # RFC 5626 §4.4.2: a new mapped address means the NAT lost our binding; the
            # proxy's flow token names the old one, so this flow is gone: re-form it
            f.pong_deadline = None
            self._input(f, _PONG_TIMEOUT, now, "stun_mapped_changed")
            return
        f.mapped = mapped
        self._pong(f, now)

    def _next_target(self, f, now):
        """RFC 3263 §4.3 failover: True when the flow moved on to its next target."""
        if f.targets and f.target_i + 1 < len(f.targets) and f.state in (_CONNECTING,
                                                                         _REGISTERING):
            f.target_i += 1
            self._input(f, _NEXT_TARGET, now)
            return True
        return False

    # -- internals -----------------------------------------------------------------------
    def _ev(self, name, *values):
        self.events.append(Event(name, values))

    def _guard(self, fn, *args):
        """fn(*args); an exception is reported (internal_error) and returned, not raised."""
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - the phone keeps running; report the bug
            self._ev(_E_INTERNAL_ERROR, getattr(fn, "__name__", "?"), repr(e))
            return e
        return None

    def _send(self, conn, data):
        if conn is not None:
            self.actions.append((_ACT_SEND, conn, data))

    def _flush(self, tx, conn):
        d = tx.pop_send()
        while d is not None:
            self._send(conn, d)
            d = tx.pop_send()

    def _input(self, f, inp, now, reason=None):
        f.state, action = ob.transition(f.state, inp)
        if f.state != _CONNECTING and f.state != _IDLE:
            f.settled = True
        if action == _A_CONNECT:
            self._connect(f, now)
        elif action == _A_REGISTER:
            f.retry_at = None  # the connect timeout no longer applies
            if inp == _CONNECTED:
                self._ev(_E_FLOW_UP, f.index, f.reg_id, f.server)
            if self._may_register(f):
                self._send_register(f, now)
            else:
                self._input(f, _HOLD, now)
        elif action == _A_STANDBY:
            # keep the connection open (a server drops idle ones) to take over at once
            self._ev(_E_FLOW_STANDBY, f.index, f.reg_id, f.server)
            self._keepalive(f, None, now)
        elif action == _A_UP:
            b = f.binding
            f.failures = 0
            f.retry_at = None
            f.refresh_at = now + ob.refresh_wait(b.expires)
            self._keepalive(f, b, now)
            self._ev(_E_REGISTERED, f.index, f.reg_id, b.expires, b.pub_gruu, b.temp_gruu,
                     b.outbound, b.flow_timer, b.service_route, b.contact)
            if b.outbound:
                self._promote(now)  # outbound: every standby flow registers its own reg-id
            if self.cfg.certs is not None and not self.stopping:
                if self.certsvc is None:
                    # only when configured
                    self.certsvc = load(b"tinysip.certservice CertService")(self)
                self._cs(b"flow_up", f, now)
        elif action == _A_FAIL_RETRY_NOW:
            if inp != _NEXT_TARGET:
                f.targets = None  # a flow that failed after working re-resolves (TTL cache)
            self._close(f)
            if reason:
                self._ev(_E_FLOW_FAILED, f.index, f.reg_id, reason)
            self._connect(f, now)
            self._promote(now)
        elif action == _A_FAIL_BACKOFF:
            self._close(f)
            f.targets = None
            f.failures += 1
            all_down = True
            for g in self.flows:
                if g is not f and g.state == _UP:
                    all_down = False
            c = self.cfg
            delay = ob.recovery_wait(f.failures, all_down, ob.random16(self.rng),
                                     c.base_all_down_ms, c.base_some_up_ms, c.max_backoff_ms)
            if f.retry_after is not None and f.retry_after * 1000 > delay:
                delay = f.retry_after * 1000
            f.retry_after = None
            f.retry_at = now + delay
            self._ev(_E_FLOW_RECOVERING, f.index, f.reg_id, delay, f.failures)
            self._promote(now)
        elif action == _A_CLOSE:
            self._close(f)

    def _keepalive(self, f, b, now):
        """Arm the keepalive of a registered (binding `b`) or standby (None) flow.

        Outbound (RFC 5626 §4.4): CRLF or STUN at 80-100 % of Flow-Timer (else the config
        interval), a missing pong fails the flow. Plain registrar or standby: CRLF on
        TCP/TLS every flow.keepalive, nothing is promised back (RFC 3261 §7.5 only says a
        server ignores it); on UDP a re-REGISTER at that interval keeps the NAT binding,
        or STUN where the proxy URI says ;stun. A dead connection still shows: a read
        error or reset, a REGISTER refresh without an answer."""
        c = self.cfg
        was = f.keepalive_ms
        f.keepalive_ms = None
        f.pongs = True
        if b is not None and b.outbound:
            if f.stun or not f.udp:
                f.keepalive_ms = b.flow_timer * 1000 if b.flow_timer else (
                    c.keepalive_udp_ms if f.udp else c.keepalive_ms)
        elif f.udp:
            if f.settings.stun_forced:
                f.keepalive_ms = c.keepalive_udp_ms
            elif b is not None:
                t = now + ob.keepalive_wait(c.keepalive_ms, ob.random16(self.rng))
                if t < f.refresh_at:
                    f.refresh_at = t  # the refresh is the keepalive
        else:
            f.keepalive_ms = c.keepalive_ms
            f.pongs = False
        if f.keepalive_ms and f.pong_deadline is None and (f.ping_at is None
                                                           or f.keepalive_ms != was):
            # a new UDP flow asks STUN at once, to learn the mapping it must keep; a flow
            # whose interval changed (standby -> registered at the Flow-Timer) re-arms
            f.ping_at = now if f.udp and f.mapped is None else now + ob.keepalive_wait(
                f.keepalive_ms, ob.random16(self.rng))

    def _may_register(self, f):
        """May flow f register now? Always under outbound; with a plain (or not yet known)
        registrar only while no other flow is registered or registering, and not before
        the flows configured ahead of it made their first attempt: one binding, on the
        first configured flow that works."""
        if self.ob_mode == 1:
            return True
        for g in self.flows:
            if g is not f and (g.state == _UP or g.state == _REGISTERING
                               or g.index < f.index and not g.settled):
                return False
        return True

    def _promote(self, now):
        """Standby flows that may register now do (the registered flow failed, or the
        registrar turned out to do outbound)."""
        for g in self.flows:
            if g.state == _STANDBY and self._may_register(g):
                self._input(g, _PROMOTE, now)

    def _connect(self, f, now):
        self._conn_seq += 1
        conn = self._conn_seq
        self.conns[conn] = (f, None)
        f.conn = conn
        f.clear_timers()
        f.mapped = f.stun_txid = None
        f.registration.rewrites = 0
        f.retry_at = now + self.cfg.connect_timeout_ms  # the driver reports success first
        if f.resolve and f.targets is None:  # RFC 3263 first: resolved() goes on
            self.actions.append((_ACT_RESOLVE, conn, f.host, f.settings.port_given,
                                 f.settings.transport, f.settings.sips))
            return
        self._open(f, conn)

    def _open(self, f, conn):
        """Connect `conn` to the flow's current target (or its configured host)."""
        host, port = f.host, f.port
        if f.targets:
            t = f.targets[f.target_i]
            host, port = t[1].decode(), t[2]
            f.tls, f.udp = t[0] == b"tls", t[0] == b"udp"
            f.registration.set_transport(t[0].upper())
            f.server = "%s:%d" % (host, port)
            self._ev(_E_TARGET_SELECTED, f.index, f.host, t[0], host, port)
        self.conns[conn] = (f, None if f.udp else StreamFramer(self.cfg.max_message))
        self.actions.append((_ACT_CONNECT, conn, host, port, f.tls, f.server_name,
                             self.client_cert if f.tls else None, f.udp))
        self._ev(_E_FLOW_CONNECTING, f.index, f.reg_id, f.server,
                 "tls" if f.tls else "udp" if f.udp else "tcp")

    def _drop_ctx(self, f):
        for branch in list(self.ctx):
            if self.ctx[branch][1] is f:
                del self.ctx[branch]

    def _close(self, f):
        self._drop_ctx(f)
        if f.conn is not None:
            self.actions.append((_ACT_CLOSE, f.conn))
            self.conns.pop(f.conn, None)
            f.conn = None
        f.clear_timers()

    def _send_register(self, f, now, expires=None):
        reg = f.registration
        # plain: the binding another address (flow, NAT port) holds goes in the same request
        old = self.bound if self.ob_mode != 1 and expires != 0 and self.bound != reg.uri else None
        data, branch = reg.build(expires, old)
        tx = ClientTransaction(data, branch, b"REGISTER", now, not f.udp, t1=self.cfg.t1)
        self.ctx[branch] = (tx, f)
        self._flush(tx, f.conn)

    def _timers(self, now):
        for f in self.flows:
            if f.retry_at is not None and now >= f.retry_at:
                f.retry_at = None
                if f.state == _CONNECTING:  # the driver never reported: give up on it
                    self._ev(_E_FLOW_FAILED, f.index, f.reg_id, "connect_timeout")
                    if not self._next_target(f, now):
                        self._input(f, _CONNECT_FAILED, now)
                else:
                    self._input(f, _RETRY_DUE, now)
            if f.pong_deadline is not None and now >= f.pong_deadline:
                f.pong_deadline = None
                self._input(f, _PONG_TIMEOUT, now, "pong_timeout")
            if f.ping_at is not None and now >= f.ping_at and f.conn is not None:
                f.ping_at = None
                f.ping_sent_at = now
                if f.pongs:
                    f.pong_deadline = now + self.cfg.pong_timeout_ms
                else:  # nothing promised back: the next ping is due whatever comes
                    f.ping_at = now + ob.keepalive_wait(f.keepalive_ms, ob.random16(self.rng))
                if f.udp:  # STUN Binding, retransmitted from T1 doubling until the deadline
                    f.stun_txid = load(b"tinysip.stun new_txid")(self.rng)
                    f.stun_rto = self.cfg.t1
                    f.stun_rexmit_at = now
                else:
                    self._send(f.conn, b"\r\n\r\n")
            if f.stun_rexmit_at is not None and now >= f.stun_rexmit_at:
                f.stun_rexmit_at = now + f.stun_rto
                f.stun_rto *= 2
                self._send(f.conn, load(b"tinysip.stun binding_request")(f.stun_txid))
            if f.refresh_at is not None and now >= f.refresh_at:
                f.refresh_at = None
                if f.state == _UP:
                    self._send_register(f, now)
        for branch in list(self.ctx):
            entry = self.ctx.get(branch)
            if entry is None:
                continue
            tx, f = entry
            t = tx.next_timer()
            if t is not None and now >= t:
                timed_out = tx.handle_timer(now)
                if f is not None:  # (a BYE's or re-INVITE's: its flow is the call's)
                    self._flush(tx, f.conn)
                if timed_out:
                    del self.ctx[branch]
                    if f is not None:
                        self._register_failed(f, now, 408, "no answer to REGISTER", True)
                    continue
            if tx.terminated:
                self.ctx.pop(branch, None)
        for cid in list(self.calls):
            e = self.calls[cid]
            if e[5] == 2 and (now >= e[6] or e[7] is not None and now >= e[7]):
                if e[0].state == _IV_CONFIRMED:
                    e[5] = 4  # the limits fire once; _call_flush stops the mirror
                    e[0].end_reason = "rtp_timeout" if now >= e[6] else "max_duration"
                    e[0].step(_IV_HANGUP, now)  # BYE
                    self._call_flush(cid, now)
                else:  # the 2xx is not acknowledged yet: the ACK, or Timer H, decides
                    e[6] = now + 1000
                    if e[7] is not None and now >= e[7]:
                        e[7] = e[6]
            c = e[0]
            t = c.next_timer()
            if t is not None and now >= t:
                state = c.state
                c.handle_timer(now)
                if self.calls[cid][4] == "out":
                    self._dial_report(cid, c, state, c.status)
                self._call_flush(cid, now)
        p = self.certsvc
        if type(p) is tuple and p[_P_CHECKS] and p[_P_T] <= now:
            # the checks the NOTIFYs left run from the parked service (certs.handle_timer),
            # without its code and tinysip.subscribe loaded beside theirs (issue 16); what
            # the subscriptions want at the same time, with the service thawed below
            p = self.certsvc = load(b"tinysip.certs handle_timer")(p, self, now)
        if p is not None and (type(p) is not tuple or p[_P_T] is not None and p[_P_T] <= now):
            self._cs(b"handle_timer", now)

    def _register_failed(self, f, now, status, reason, timeout=False):
        if f.state == _STOPPED:
            self._close(f)
            return
        self._ev(_E_REGISTRATION_FAILED, f.index, f.reg_id, status, reason)
        if (status == 503 or timeout) and self._next_target(f, now):
            return  # RFC 3263 §4.3: the next server, in a new transaction
        if status == 430:  # RFC 5626 §5.3 Flow Failed: the edge lost this flow, re-form it
            self._input(f, _CONNECTION_LOST, now, "flow_failed_430")
        elif timeout and f.state == _UP:
            self._input(f, _PONG_TIMEOUT, now, "register_timeout")
        else:
            self._input(f, _REGISTER_FAILED, now)

    def _on_message(self, f, conn, data, now, datagram=False):
        try:
            msg = parse(data, self.cfg.max_message, datagram=datagram)
        except ParseError as e:
            resp = error_response(data, e)
            if resp is not None:
                self._send(conn, resp)
            self._ev(_E_MESSAGE_DROPPED, f.index, "from %s: %s" % (f.server, e))
            return
        if msg.is_request:
            self._on_request(f, conn, msg, now)
            return
        # a response
        if len(msg.values(b"Via")) != 1:
            self._ev(_E_MESSAGE_DROPPED, f.index, "response with more than one Via")
            return
        entry = self.ctx.get(msg.branch)
        if entry is None:
            if self._ours(msg) and self._cs(b"receive", msg, conn, now):
                return
            e = self.calls.get(msg.call_id)
            if e is not None and e[4] == "out":
                self._dial_input(msg.call_id, e[0].receive, msg, now)
            return
        if msg.cseq_method != (b"REGISTER" if entry[1] else b"BYE"):
            if msg.cseq_method == b"INVITE":  # our re-INVITE's (tinysip.hold)
                entry[0].receive(msg, now)
            return  # else a late retransmission; nothing waits for it
        tx, f = entry
        out = tx.receive(msg, now)
        if tx.terminated or (out is not None and msg.status >= 200):
            self.ctx.pop(msg.branch, None)
        if out is None or f is None:  # f None: the answer to our BYE, which changes nothing
            return
        outcome, info = f.registration.on_response(out)
        if outcome == _R_PROVISIONAL:
            return
        if f.state == _STOPPED:
            if outcome == _R_RETRY and msg.status in (401, 407):
                self._send_register(f, now, 0)
            else:
                if self.bound == f.registration.uri:
                    self.bound = None
                self._ev(_E_UNREGISTERED, f.index, f.reg_id)
                self._close(f)
        elif outcome == _R_RETRY:
            self._send_register(f, now)
        elif outcome == _R_REWRITE:  # plain registrar, behind a NAT: register what it saw
            self.ob_mode = 2
            self.bound = info  # the Contact just registered: the next request removes it
            self._ev(_E_CONTACT_REWRITTEN, f.index, f.reg_id, f.registration.uri)
            self._send_register(f, now)
        elif outcome == _R_OK:
            self.ob_mode = 1 if info.outbound else 2
            if not info.outbound:
                self.bound = info.contact
            if self.wall_ms is None and msg.get(b"Date"):  # no NTP: the registrar's clock
                t = load(b"tinysip.sipdate parse")(msg.get(b"Date"))
                drop("tinysip.sipdate")  # needed once
                if t is not None:
                    self.set_wall_clock(t, now)
            f.binding = info
            self._input(f, _REGISTERED, now)
        elif outcome == _R_FAIL:
            status, reason, f.retry_after = info
            self._register_failed(f, now, status, reason)

    def _on_request(self, f, conn, msg, now):
        """Answer a request this UA does not yet serve as a dialog (RFC 3261 §8.2)."""
        m = msg.method
        if self._ours(msg) and self._cs(b"receive", msg, conn, now):
            return
        if (m == b"INVITE" or m == b"ACK" or m == b"CANCEL" or m == b"BYE"
                or msg.to_tag is not None):
            e = self.calls.get(msg.call_id)
            if e is not None and (msg.to_tag is None or msg.to_tag == e[0].local_tag):
                if m == b"INVITE" and msg.to_tag is None and msg.branch != (
                        e[0].branch if e[4] != "out" else None):
                    # the same call on another branch: a fork of it (or a loop) reached us
                    # twice; the first goes on, this one is refused (RFC 3261 §8.2.2.2)
                    self._send(conn, response(msg, 482, to_tag=self._tag(msg)).to_bytes())
                    self._ev(_E_REQUEST_ANSWERED, f.index, m, 482)
                    return
                if m != b"INVITE" or msg.to_tag is not None:  # else a retransmitted INVITE
                    if type(e[3]) is list and (m == b"INVITE" or m == b"ACK" and type(
                            getattr(e[0], "hold", None)) is list):  # a voice call's new offer
                        # (or the ACK with the answer to ours, after an offerless re-INVITE)
                        # hold, resume (RFC 3264 §8.4)
                        load(b"tinysip.audio reinvite")(self, msg, now)
                        return
                    if e[4] == "out":
                        self._dial_input(msg.call_id, e[0].receive, msg, now)
                        return
                    if m != b"CANCEL" or msg.branch == e[0].branch:
                        e[0].receive(msg, now)
                        self._call_flush(msg.call_id, now)
                        return
                    # a CANCEL matching no INVITE we have: 481 below
                else:
                    return
            elif m == b"INVITE" and msg.to_tag is None:
                e = self._guard(self._on_invite, f, msg, now)
                if isinstance(e, MemoryError) and msg.call_id not in self.calls:
                    # no heap for the call, and nothing of it kept: refused statelessly, 503
                    # and try again shortly, rather than left unanswered until the caller's
                    # Timer B (the heap the failed work took is free again by now)
                    resp = response(msg, 503, to_tag=self._tag(msg))
                    resp.add(b"Retry-After", b"5")
                    self._send(f.conn, resp.to_bytes())
                    self._ev(_E_CALL_ENDED, msg.call_id, "rejected", 503, 0, 0)
                return
            if m == b"ACK":
                return  # an ACK for nothing we know: absorbed (§17.2.3)
            if m != b"OPTIONS":
                self._send(conn, response(msg, 481).to_bytes())  # no such dialog/transaction
                self._ev(_E_REQUEST_ANSWERED, f.index, m, 481)
                return
        common = [(b"Allow", ALLOW), (b"Supported", SUPPORTED)]
        extra = common
        if msg.ruri.scheme not in (b"sip", b"sips"):
            status, extra = 416, []
        elif msg.branch == b"z9hG4bK":
            status, extra = 400, []
        else:
            unknown = requires_unknown(msg, SUPPORTED)
            if unknown:
                status, extra = 420, [(b"Unsupported", b", ".join(unknown))]
            elif msg.method == b"OPTIONS":
                status = 200
                extra = common + [(b"Accept", b"application/sdp")]
            else:
                status = 405 if b" %s " % msg.method in _SIP_METHODS else 501
        resp = response(msg, status, to_tag=self._tag(msg))
        for name, value in extra:
            resp.add(name, value)
        # stateless (§8.2.7): a retransmission is answered again the same way; nothing is
        # kept, so a flood of OPTIONS or MESSAGEs costs no heap beyond the answer in flight
        self._send(conn, resp.to_bytes())
        self._ev(_E_REQUEST_ANSWERED, f.index, msg.method, status)

    def _tag(self, msg):
        """The To tag of a stateless answer: the same for every copy of one request."""
        return sha256_hex(self.instance + (msg.call_id or b"") + (msg.from_tag or b"")
                          + (msg.branch or b""))[:12]

    # -- calls (the phone as called party) ------------------------------------------------
    def _on_invite(self, f, msg, now):
        """A new INVITE: reject, auto-answer (policy + loopback offer) or ring."""
        # tinysip.invite loads with the first INVITE (issue 16: ~6 KB, 64-bit, that an idle
        # phone does not hold) and stays: a call needs its Call class from here on
        from tinysip import invite as iv

        cfg = self.cfg
        b = f.binding
        from tinysip.uri import same  # loaded: same() is not a new function on the heap

        u = msg.uri  # a sips: Request-URI, seen in place (msg.ruri would parse it all)
        via, contact = self._local(f, len(u) > 4 and same(u, 0, 5, b"sips:"))
        am = iv.answer_mode(msg)
        auto = am is not None and am[1] == b"auto"
        require = am is not None and am[2]
        # who is calling, as far as anyone vouches: the proxy's P-Asserted-Identity over a
        # registered flow of a trusted transport (RFC 3325 §9: TLS by default), or an RFC
        # 8224 Identity signed by our domain; never From, never a UDP source by default
        who = iv.caller(msg, f.state == _UP and b is not None and (
            "tls" if f.tls else "udp" if f.udp else "tcp") in cfg.trust)
        if who is None and auto and msg.get(b"Identity") is not None:
            # only for a signed INVITE
            p = self.certsvc
            who = load(b"tinysip.identity vouched")(
                msg, p if p is None else p[_P_DOMAIN] if type(p) is tuple else p.domain,
                self.wall_s(now))
            drop("identity passport ecdsa")  # and gone again after it
        allowed = auto and iv.may_auto_answer(who, cfg.autoanswer)
        params = None
        status = 0
        unknown = requires_unknown(msg, SUPPORTED)
        busy = False
        for e in self.calls.values():
            if e[0].state != _IV_ENDED:
                busy = True
        if len(self.calls) >= cfg.max_calls:
            status = 503  # bounded state: nothing is stored for this one
        elif unknown:
            status = 420
        elif busy:
            status = 486
        elif auto and require and not allowed:
            status = 403  # RFC 5373: the required mode cannot be honoured
        else:  # the offer is read only for a call that may go on (not for each refusal)
            try:  # the parsed offer is dropped at once: an auto-answered call keeps the
                # answer decided and written here (its port a placeholder, 65535: media_ready
                # writes the bound one in), a ringing one the offer's bytes
                # SDP and the RFC 6849 choice load with the INVITE: an idle phone does not
                # carry them (nor their names, which would stay interned)
                offer, p = load(b"tinysip.loopback answer")(
                    load(b"tinysip.sdp parse")(msg.body), cfg.media_ip, None, 0, 0)
                params = (p[0], p[1], p[2], p[4], p[5], p[6])  # type, mode, pt, the offer's
                # RTP ip and port, its ptime (one tuple: no slices)
            except ParseError as e:  # not an offer the mirror can serve
                status = e.status if require and allowed else 0
            if params is None:
                allowed = False  # an auto-answered call is loopback only: ring instead
            elif allowed:
                for x in offer:
                    if type(x) is list:  # the mirrored stream
                        x[1] = 65535
                offer = load(b"tinysip.sdp write")(cfg.media_ip, now & 0xFFFFFF, 1, offer)
            # the SDP code goes before the call is made, and is not needed to answer it
            # (issue 16: the call's set-up was the full scenario's peak, in pieces)
            drop("sdp loopback")
        self._ev(_E_CALL_INCOMING, f.index, msg.call_id,
                 who or iv.addr(msg.get(b"From") or b""),
                 (am[1] + b";require" if require else am[1]) if am else None)
        if status:
            # refused statelessly (§8.2.7): the same answer to every retransmission, its
            # ACK absorbed, and no call kept, so a flood of INVITEs costs no heap
            resp = response(msg, status, to_tag=self._tag(msg))
            resp.add(b"Allow", ALLOW)
            resp.add(b"Supported", SUPPORTED)
            if status == 503:
                resp.add(b"Retry-After", b"%d" % (cfg.t1 // 100 + 1))
            elif status == 420:
                resp.add(b"Unsupported", b", ".join(unknown))
            self._send(f.conn, resp.to_bytes())
            self._ev(_E_CALL_ENDED, msg.call_id, "rejected", status, 0, 0)
            return
        call = iv.Call(msg, now, via, contact, self.rng, cfg.t1,
                       None if allowed else cfg.ring_ms)
        # [Call, flow, offer (its bytes; auto-answered: the answer, its port 65535), media params,
        #  mode, media state, RTP deadline, length limit]
        self.calls[msg.call_id] = [call, f, offer if allowed else msg.body, params,
                                   "auto" if allowed else "manual", 0, None, None]
        if allowed:
            call.extra = ((am[0], b"Auto"),)
            self.answer(msg.call_id, now)
        self._call_flush(msg.call_id, now)

    def _local(self, f, sips=False):
        """(Via without branch, Contact URI) for a dialog on flow f: the GRUU, else the
        registered Contact; ;ob on an outbound flow (RFC 5626 §4.3); a sips: Contact for a
        sips: Request-URI (RFC 3261 §8.1.1.8)."""
        b = f.binding
        reg = f.registration
        c = b.pub_gruu if b is not None and b.pub_gruu else reg.uri
        if sips and c[:4] == b"sip:":
            c = b"sips:" + c[4:].replace(b";transport=tls", b"")
        return (b"SIP/2.0/%s %s" % (reg.transport, reg.host),
                c + b";ob" if b is not None and b.outbound else c)

    # -- certificates (RFC 6072, tinysip.certservice) ----------------------------------------
    def set_wall_clock(self, epoch_s, now):
        """The board knows the time (NTP, RTC): seconds since 1970 at `now`."""
        self.wall_ms = epoch_s * 1000 - now

    def wall_s(self, now):
        """Seconds since 1970, or None while the wall clock is unknown."""
        return None if self.wall_ms is None else (now + self.wall_ms) // 1000

    def up_flow(self, stream=False):
        """The first registered flow with a connection (`stream`: a TLS/TCP one), or None."""
        for g in self.flows:
            if g.state == _UP and g.conn is not None and not (stream and g.udp):
                return g
        return None

    def subscribe_certificate(self, uri, now):
        """Subscribe to `uri`'s certificate (RFC 6072) now; events certificate_cached,
        certificate_revoked or certificate_rejected follow. False when certificates are not
        configured or no flow is up yet (it then starts once one registers)."""
        return self.certsvc is not None and self._cs(b"subscribe", uri, now)

    def certificate_unsupported(self, aor, now):
        """A peer answered 437 Unsupported Certificate for `aor`'s certificate: drop it and
        fetch it again; the next certificate_cached says whether it `changed`. True when a
        certificate was cached."""
        return self.certsvc is not None and self._cs(b"unsupported", aor, now)

    def certificate(self, aor, now):
        """The DER of `aor`'s usable cached certificate, or None."""
        w = self.wall_s(now)
        return None if self.certsvc is None or w is None else self._cs(b"certificate", aor, w)

    def _ours(self, msg):
        """Might msg belong to a certificate subscription? (by its Call-ID, without loading
        the certificate code)"""
        p = self.certsvc
        return p is not None and (type(p) is not tuple or msg.call_id in p[_P_IDS])

    def _cs(self, op, *args):
        """Call the CertService's method `op` (bytes), its code loaded and the service
        made again from what certservice.park left (thaw) if it is parked; next_timer()
        parks it again once the driver has done what came in."""
        p = self.certsvc
        if type(p) is tuple:
            p = self.certsvc = load(b"tinysip.certservice thaw")(p, self)
        return getattr(p, op.decode())(*args)

    def use_credential(self, now):
        """A credential was installed: TLS flows that are not up (a port that requires a
        client certificate refused them) re-form with it at once."""
        for f in self.flows:
            if f.tls and f.state == _BACKOFF:
                f.failures = 0
                self._input(f, _REFORM, now)

    # -- calls (the phone as caller) -------------------------------------------------------
    def dial(self, target, now, body, headers=(), answer_ms=None, media=False):
        """Call `target` (URI bytes) with the offer `body` over the first registered flow.

        Returns the call id, or None when no flow is up. `headers`: extra (name, value) pairs
        (Answer-Mode). Events: call_outgoing, call_progress, call_connected or call_failed,
        then call_ended. The application reads the answer from dial_answer() once connected
        and runs the media itself; hangup(call_id, now) ends the call. media=True: the
        driver runs it (a voice call's port): ending the call asks it to stop with
        _ACT_MEDIA_STOP, and call_ended waits for media_stopped (with the media figures)."""
        Dial = load(b"tinysip.dial Dial")  # the caller side is loaded only when used
        f = self.up_flow()
        if f is None:
            return None
        cfg = self.cfg
        via, contact = self._local(f)
        d = Dial(target, cfg.aor.to_bytes(), via, contact, [f.registration.route], body, now,
                 self.rng, (cfg.username, cfg.password, self.rng), headers, cfg.t1,
                 not f.udp, cfg.ring_ms if answer_ms is None else answer_ms, cfg.user_agent)
        cid = d.call_id
        self.calls[cid] = [d, f, None, None, "out", 1 if media else 0, None, None]
        self._ev(_E_CALL_OUTGOING, f.index, cid, target)
        self._call_flush(cid, now)
        return cid

    def dial_answer(self, call_id):
        """The SDP answer of a connected outgoing call, or None."""
        e = self.calls.get(call_id)
        return e[0].answer if e is not None and e[4] == "out" else None

    def _dial_input(self, cid, fn, msg, now):
        """Feed an outgoing call and report what changed."""
        d = self.calls[cid][0]
        state, status = d.state, d.status
        fn(msg, now)
        self._dial_report(cid, d, state, status)
        self._call_flush(cid, now)

    def _dial_report(self, cid, d, state, status):
        if d.status != status and d.status < 200:
            self._ev(_E_CALL_PROGRESS, cid, d.status, d.reason)
        if d.state != state:
            if d.state == 3:  # dial.CONFIRMED
                self._ev(_E_CALL_CONNECTED, cid, d.final)
            elif d.state == 4 and d.final >= 300 and state < 3:  # ENDED without an answer
                self._ev(_E_CALL_FAILED, cid, d.final, d.reason)

    def answer(self, call_id, now):
        """Answer a ringing call by hand (only loopback offers: the host has no audio)."""
        e = self.calls.get(call_id)
        if e is None or e[4] == "out" or e[0].state != _IV_RINGING or e[5]:
            return False
        p = e[3] or (0, 0, 0, None, 0, 0)  # no loopback offer: a voice call (mode 0)
        e[5] = 1  # opening the port: media_ready (or media_failed) goes on
        # an even port drawn at random from media.port_min..port_max (the driver walks on
        # from it when taken), so the mirror's port cannot be guessed from the config
        lo = self.cfg.media_port
        r = self.rng(3)
        even = (self.cfg.media_port_max - lo) // 2 + 1  # even ports in the range
        port = lo + 2 * ((r[0] << 16 | r[1] << 8 | r[2]) % even)
        self.actions.append((_ACT_MEDIA, call_id, p[1], p[2], port, p[3], p[4], p[5]))
        return True

    def hold(self, call_id, now):
        """Put a running voice call on hold: a re-INVITE with our offer sendonly (inactive
        while the peer holds us), RFC 3264 §8.4, run by tinysip.hold; `call_held` follows
        with our direction and the status. False when the call has no running voice or an
        INVITE is on its way."""
        return load(b"tinysip.hold send")(self, call_id, True, now)

    def resume(self, call_id, now):
        """Take a call we hold off hold (our offer sendrecv again), as hold()."""
        return load(b"tinysip.hold send")(self, call_id, False, now)

    def reject(self, call_id, now, status=486):
        e = self.calls.get(call_id)
        if e is None or e[4] == "out" or e[0].state != _IV_RINGING:
            return False
        e[0].final = status
        e[0].step(_IV_REJECT, now)
        self._call_flush(call_id, now)
        return True

    def hangup(self, call_id, now):
        e = self.calls.get(call_id)
        if e is None:
            return False
        c = e[0]
        ok = c.hangup(now) if e[4] == "out" else c.step(_IV_HANGUP, now)
        self._call_flush(call_id, now)
        return ok

    def media_ready(self, call_id, port, now):
        """The driver bound the RTP port for _ACT_MEDIA: send the 200 with the answer."""
        e = self.calls.get(call_id)
        if e is None:
            return
        c = e[0]
        e[5] = 2  # running: ended when its RTP stops, or (auto-answered) lasts too long, so
        # a call whose BYE never comes cannot keep the phone busy for ever
        lim = self.cfg.rtp_limits
        e[6] = now + lim[1 if e[4] == "auto" else 0]
        e[7] = now + lim[2] if e[4] == "auto" else None
        if c.state != _IV_RINGING:  # cancelled meanwhile
            self._call_flush(call_id, now)
            return
        try:
            cfg = self.cfg
            if e[3] is None:  # a voice call: our answer, then the driver runs its media
                parse_sdp = load(b"tinysip.sdp parse")
                answer = load(b"tinysip.audio answer")
                v = cfg.voice
                try:
                    c.body, p = answer(parse_sdp(e[2]), cfg.media_ip, port, now & 0xFFFFFF,
                                       v[0], v[1], self.rng(30) if v[1] else None, v[2])
                except ParseError as err:  # nothing we can take: 488, the port is closed
                    self._ev(_E_MESSAGE_DROPPED, e[1].index, err.reason)
                    e[2] = None
                    c.final = 488
                    c.step(_IV_REJECT, now)
                    self._call_flush(call_id, now)
                    return
                e[3] = p
                self.actions.append((_ACT_VOICE, call_id, p))
                label = None
            else:  # a loopback call: the answer (tinysip.loopback) with the mirror's port
                s = e[2]
                if e[4] == "auto":  # written by _on_invite, the port a placeholder
                    i = s.find(b" 65535 ", s.find(b"\r\nm="))
                    c.body = b"".join((s[:i], b" %d " % port, s[i + 7:]))
                else:  # answered by hand: decided from the offer now
                    parse_sdp, write = load(b"tinysip.sdp parse write")
                    s = load(b"tinysip.loopback answer")(parse_sdp(s), cfg.media_ip, None, 0,
                                                         0)[0]
                    for x in s:
                        if type(x) is list:  # the mirrored stream
                            x[1] = port
                    c.body = write(cfg.media_ip, now & 0xFFFFFF, 1, s)
                    drop("sdp loopback")  # the mirror runs without them
                p = e[3]
                label = p[0]
            e[2] = None  # the offer is not needed any more: free its heap for the call
            c.step(_IV_ANSWER, now)
            self._ev(_E_CALL_ANSWERED, call_id, e[4], label, p[0] if label is None else p[2],
                     port)
            self._call_flush(call_id, now)
        except MemoryError:  # no heap for the answer: refused (500) rather than left ringing
            # (the port closes when the call ends: e[5] still says it is open)
            e[2] = None
            self._ev(_E_MESSAGE_DROPPED, e[1].index, "media: out of memory for the answer")
            c.final = 500
            c.step(_IV_REJECT, now)
            self._call_flush(call_id, now)

    def media_rx(self, call_id, now):
        """The driver saw RTP for the call's mirror: its inactivity limit starts again."""
        e = self.calls.get(call_id)
        if e is not None and e[5] == 2:
            e[6] = now + self.cfg.rtp_limits[1 if e[4] == "auto" else 0]

    def media_failed(self, call_id, reason, now):
        e = self.calls.get(call_id)
        if e is None:
            return
        e[5] = 0
        self._ev(_E_MESSAGE_DROPPED, e[1].index, "media: %s" % reason)
        e[0].final = 500
        e[0].step(_IV_REJECT, now)
        self._call_flush(call_id, now)

    def media_stopped(self, call_id, rx, tx, now, media=None):
        """The driver closed the call's port: rx/tx packets; media: a voice call's figures
        (tinysip.voice.Voice.stats), for call_ended."""
        e = self.calls.pop(call_id, None)
        if e is not None:
            c = e[0]
            self._ev(_E_CALL_ENDED, call_id, c.end_reason or "ended", c.final, rx, tx, media)

    def media_dtmf(self, call_id, d, now):
        """The peer of a voice call sent an RFC 4733 digit (d: its ASCII code)."""
        if call_id in self.calls:
            self._ev(_E_DTMF, call_id, chr(d))

    def _call_flush(self, cid, now):
        """Send what the call queued on its flow; finish it once it ended."""
        e = self.calls.get(cid)
        if e is None:
            return
        c, f = e[0], e[1]
        conn = f.conn
        d = c.pop_send()
        while d is not None:
            if d.startswith(b"BYE "):
                tx = ClientTransaction(d, c.bye_branch, b"BYE", now, not f.udp, t1=self.cfg.t1)
                self.ctx[c.bye_branch] = (tx, None)
                self._flush(tx, conn)
            else:
                self._send(conn, d)
            d = c.pop_send()
        if c.state == _IV_ENDED and e[5] != 3:
            if e[5]:  # the mirror is open (or opening): stop it, media_stopped finishes
                e[5] = 3
                self.actions.append((_ACT_MEDIA_STOP, cid))
            else:
                self.media_stopped(cid, 0, 0, now)
