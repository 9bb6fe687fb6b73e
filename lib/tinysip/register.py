"""Registration of one flow (RFC 3261 §10.2, RFC 5626 §4.2, RFC 5627 §4.1 and §5, RFC 3608).

Owns: building the REGISTER for a flow (one Call-ID per flow for the boot cycle, CSeq
counting up, `Supported: outbound, path, gruu`, Contact with +sip.instance and reg-id, the
outbound proxy as a pre-loaded Route) and reading every answer to it: digest challenges,
423 Min-Expires, 439 (retry without outbound), 503 Retry-After, and the 2xx (granted
expiry, GRUUs, `Require: outbound`, `Flow-Timer`, Service-Route). Must not: send, connect or
keep time; the flow machine in outbound.py and ua.py decide when to call it. Nor compare
Contact URIs to find our binding in a 2xx (registrars rewrite them: `+sip.instance` and
reg-id identify it) or invent a GRUU.

Outbound or plain (RFC 5626 §4.2.1): a 2xx without `outbound` in Require means the
registrar keeps an ordinary RFC 3261 binding that it reaches through the Contact itself, so
the Contact must then be an address that reaches this connection: the top Via's
`received`/`rport` (RFC 3581: what the registrar saw, NAT included; neither MicroPython port
can tell a socket's own address). A Contact that differs is re-registered at once (outcome
4, "rewrite"), removing the old one in the same request (`Contact: <old>;expires=0`), so the
registrar never holds two bindings for us (RFC 3261 §10.2.2). A `sips:` AoR registers a
`sips:` Contact (§8.1.1.8).

Outcomes of on_response(), as a table of status -> handling:
    1xx                      -> _R_PROVISIONAL
    2xx                      -> _R_OK with a Binding
    2xx plain, Contact wrong -> 4 (rewrite) with the Contact URI just bound (register again
                                with the address the Via showed, removing that one)
    401 / 407 (new nonce)    -> _R_RETRY (credentials added); same nonce again -> _R_FAIL
    423 with Min-Expires     -> _R_RETRY with expires raised to Min-Expires
    439                      -> _R_RETRY without reg-id / outbound (RFC 5626 §4.2.1)
    other                    -> _R_FAIL (503/500/480 keep Retry-After for the backoff)
"""
from tinysip.compat import const, drop, hexlify, load
from tinysip.errors import ParseError
from tinysip.headers import parse_name_addr, parse_uint, parse_via, unquote
from tinysip.message import contacts
from tinysip.transaction import new_branch

_R_PROVISIONAL = const(0)
_R_OK = const(1)
_R_RETRY = const(2)
_R_FAIL = const(3)
_R_REWRITE = const(4)  # ua.py tests for 4 (a private name costs the phone no heap)

_MAX_AUTH_ROUNDS = const(3)  # challenges answered in one attempt (a stale-nonce loop guard)

# The REGISTER on the wire (one constant instead of a constant per header name), filled by
# Registration.build: Request-URI; Via transport, host, branch; the Route line (or nothing);
# To and From tag; To; Call-ID; CSeq; b"outbound, " (or nothing); the Contact to remove (or
# nothing), our Contact and its reg-id (or nothing); Expires; User-Agent; the Authorization
# line (or nothing). No body.
_REGISTER = (
    b"REGISTER %s SIP/2.0\r\n"
    b"Via: SIP/2.0/%s %s;branch=%s;rport\r\n"
    b"%s%s%s"
    b"Max-Forwards: 70\r\n"
    b"From: %s;tag=%s\r\n"
    b"To: %s\r\n"
    b"Call-ID: %s\r\n"
    b"CSeq: %d REGISTER\r\n"
    b"Supported: %spath, gruu\r\n"
    b"Contact: %s%s%s%s%s\r\n"
    b"Expires: %d\r\n"
    b"User-Agent: %s\r\n"
    b"%s%s%s%s"
    b"Content-Length: 0\r\n\r\n"
)


def find_binding(contacts, instance, reg_id=None):
    """Our Contact among `contacts` (parsed Contact values of a 2xx, or their spans from
    message.contacts(msg, False): the one found is returned as it was given), or None.

    `instance` is our URN (b'urn:uuid:...'), compared without case with each binding's
    `+sip.instance` value (b'"<urn:uuid:...>"', quotes and <> optional); with `reg_id` the
    binding's reg-id must match too, because every flow of one instance shares the URN. A
    binding that echoes no reg-id is accepted when nothing better matches. Without `reg_id`
    (registered without outbound, after a 439) a binding without reg-id is the exact match;
    one with a reg-id (an older outbound flow of this instance) is only the fallback.
    """
    instance = instance.lower()
    fallback = None
    for na in contacts:  # a NameAddr, or (value, start, end) from contacts(msg, False)
        t = type(na) is tuple
        urn = parse_name_addr(na[0], na[1], na[2], b"+sip.instance") if t else na.param(
            b"+sip.instance")
        if urn is None:
            continue
        urn = unquote(urn)
        if urn[:1] == b"<" and urn[-1:] == b">":
            urn = urn[1:-1]
        if urn.lower() != instance:
            continue
        rid = parse_name_addr(na[0], na[1], na[2], b"reg-id") if t else na.param(b"reg-id")
        if rid is None:
            if reg_id is None:
                return na  # registered without reg-id: the binding without one is ours
        elif reg_id is not None:
            if rid.strip().lstrip(b"0") == b"%d" % reg_id:
                return na
            continue  # another flow of this instance
        if fallback is None:
            fallback = na
    return fallback


def _uint(value, limit):
    """A header or param value as an int, None when absent, unreadable or above `limit`."""
    if value:
        try:
            return parse_uint(value, limit, "value")
        except ParseError:
            pass
    return None


class Binding:
    """What a successful REGISTER granted: `expires` (s; our contact's expires param, else
    the Expires header, else what we asked), `pub_gruu` and `temp_gruu` (URIs as bytes or
    None), `outbound` (RFC 5626 in use), `flow_timer` (s or None), `service_route` (bytes
    or None), `contact` (the Contact URI we registered). Set by Registration.on_response."""


class Registration:
    def __init__(self, aor, instance, reg_id, expires, proxy_route, transport, digest, rng,
                 user_agent=b"tinysip", mode="auto"):
        """`aor` a Uri; `instance` b'urn:uuid:..'; `proxy_route` the Route value (bytes) or
        None; `transport` b"TLS" / b"TCP" / b"UDP" for the Via; `digest` tinysip.digest's
        state (the credentials (username, password, rng) until a 401/407) or None; `mode`
        config flow.outbound: "auto" asks for outbound and uses it when the 2xx confirms it,
        "on" takes every 2xx as outbound (an edge that does outbound behind a registrar that
        does not say so), "off" never asks (no reg-id)."""
        self.instance = instance
        self.reg_id = reg_id
        self.expires = expires
        self.route = proxy_route
        self.digest = digest
        self.rng = rng
        self.user_agent = user_agent
        # 0: never ask (off), 1: ask, use it when confirmed (auto), 2: take every 2xx as
        # outbound (on); a 439 makes it 0
        self.outbound = 0 if mode == "off" else 2 if mode == "on" else 1
        self.address = None  # b"host:port" of the Contact once known, else the .invalid host
        self.sips = aor.scheme == b"sips"
        self.rewrites = 0  # Contact rewrites on this connection (ua resets it per connection)
        self.cseq = 0
        self.auth_rounds = 0
        self.host = host = hexlify(rng(6)) + b".invalid"
        self.call_id = hexlify(rng(10)) + b"@" + host
        self.to = b"<" + aor.to_bytes() + b">"
        self.from_tag = hexlify(rng(6))
        self.user = aor.user or b"tinysip"
        self.set_transport(transport)
        self.request_uri = aor.scheme + b":" + aor.host + (b":%d" % aor.port if aor.port else b"")

    def set_transport(self, transport):
        """The Via transport and Contact of the flow's current server (RFC 3263 may pick a
        server with another transport than the last one)."""
        self.transport = transport
        t = transport.lower()
        sips = self.sips and t == b"tls"  # a sips: AoR: a sips: Contact (RFC 3261 §8.1.1.8)
        self.uri = ((b"sips:" if sips else b"sip:") + self.user + b"@"
                    + (self.address or self.host)
                    + (b"" if t == b"udp" or sips else b";transport=" + t))
        self.contact = b"<" + self.uri + b'>;+sip.instance="<' + self.instance + b'>"'

    def set_address(self, host, port):
        """Register `host`:`port` (bytes, int) as the Contact's address from now on; False
        when that is the address already in it."""
        if b":" in host and host[:1] != b"[":
            host = b"[" + host + b"]"  # IPv6: received= writes it bare
        address = host + b":%d" % port
        if address == self.address:
            return False
        self.address = address
        self.set_transport(self.transport)
        return True

    def build(self, expires=None, remove=None):
        """(REGISTER bytes, branch). Uses the current credentials if challenged before.
        `remove`: a Contact URI bound before (another address, another flow) to unbind in
        the same request."""
        self.cseq += 1
        branch = new_branch(self.rng)
        auth = None
        d = self.digest
        if type(d) is list:  # challenged before (tinysip.digest's state)
            auth = load(b"tinysip.digest header")(d, b"REGISTER", self.request_uri)
            drop("tinysip.digest")
        r = self.route
        # every piece is formatted in place: one allocation of the request's size
        return _REGISTER % (
            self.request_uri, self.transport, self.host, branch,
            b"Route: " if r else b"", r or b"", b"\r\n" if r else b"",
            self.to, self.from_tag, self.to, self.call_id, self.cseq,
            b"outbound, " if self.outbound else b"",
            b"<" if remove else b"", remove or b"", b">;expires=0, " if remove else b"",
            self.contact, b";reg-id=%d" % self.reg_id if self.outbound else b"",
            self.expires if expires is None else expires, self.user_agent,
            auth[0] if auth else b"", b": " if auth else b"", auth[1] if auth else b"",
            b"\r\n" if auth else b"",
        ), branch

    def on_response(self, msg):
        """(outcome, info) for a response to our REGISTER; see the module table. info is
        None, a Binding (_R_OK) or (status, reason, Retry-After s or None) (_R_FAIL)."""
        status = msg.status
        if status < 200:
            return _R_PROVISIONAL, None
        if status < 300:
            self.auth_rounds = 0
            try:  # every Contact checked, ours read in place (none is parsed into objects)
                na = find_binding(contacts(msg, False), self.instance,
                                  self.reg_id if self.outbound else None)
            except ParseError:
                na = None
            pub = temp = granted = None
            if na is not None:
                v, a, z = na
                pub = parse_name_addr(v, a, z, b"pub-gruu")
                temp = parse_name_addr(v, a, z, b"temp-gruu")
                granted = _uint(parse_name_addr(v, a, z, b"expires"), 0xFFFFFFFF)
            if granted is None:
                granted = _uint(msg.get(b"Expires"), 0xFFFFFFFF)
            b = Binding()
            b.expires = self.expires if granted is None else granted
            b.pub_gruu = unquote(pub) if pub else None
            b.temp_gruu = unquote(temp) if temp else None
            b.outbound = self.outbound == 2 or self.outbound == 1 and msg.has_tag(b"Require",
                                                                                  b"outbound")
            if not b.outbound:
                seen = None  # where the registrar saw us: top Via received/rport (RFC 3581)
                try:
                    v = parse_via(msg.values(b"Via")[0])
                    rport = _uint(v.param(b"rport"), 65535)
                    if v.param(b"received") or rport:
                        seen = (v.param(b"received") or v.host,
                                rport or v.port or (5061 if v.transport == b"TLS" else 5060))
                except (ParseError, IndexError):
                    pass
                old = self.uri
                # at most twice a connection: a NAT that moves on every request is not chased
                if seen is not None and self.rewrites < 2 and self.set_address(*seen):
                    self.rewrites += 1
                    return _R_REWRITE, old
            b.contact = self.uri
            b.flow_timer = _uint(msg.get(b"Flow-Timer"), 86400)
            sr = msg.get_all(b"Service-Route")
            b.service_route = b", ".join(sr) if sr else None
            return _R_OK, b
        outcome = _R_RETRY
        info = None
        if status == 401 or status == 407:
            self.auth_rounds += 1
            d = self.digest
            if d is not None and self.auth_rounds <= _MAX_AUTH_ROUNDS:
                d = load(b"tinysip.digest challenged")(d, msg)
                drop("tinysip.digest")
                if d is not None:
                    self.digest = d
            if d is None or self.auth_rounds > _MAX_AUTH_ROUNDS:
                outcome = _R_FAIL
                info = (status, b"auth.username/auth.password rejected", None)
        elif status == 423:
            value = _uint(msg.get(b"Min-Expires"), 0xFFFFFFFF)
            if value is None or value <= self.expires:
                outcome = _R_FAIL
                info = (status, b"Min-Expires missing or not above ours", None)
            else:
                self.expires = value
        elif status == 439 and self.outbound:
            self.outbound = 0
        else:
            ra = msg.get(b"Retry-After")
            outcome = _R_FAIL
            info = (status, msg.reason,
                    _uint(ra.partition(b";")[0].partition(b"(")[0], 86400 * 7) if ra else None)
        if outcome == _R_FAIL:
            self.auth_rounds = 0  # the loop guard is per attempt: the next one starts afresh
        return outcome, info
