"""Registration of one flow (RFC 3261 §10.2, RFC 5626 §4.2, RFC 5627 §4.1, RFC 3608).

Owns: building the REGISTER for a flow (one Call-ID per flow for the boot cycle, CSeq
counting up, `Supported: outbound, path, gruu`, Contact with +sip.instance and reg-id, the
outbound proxy as a pre-loaded Route) and reading every answer to it: digest challenges,
423 Min-Expires, 439 (retry without outbound), 503 Retry-After, and the 2xx (granted
expiry, GRUUs, `Require: outbound`, `Flow-Timer`, Service-Route). Must not: send, connect or
keep time; the flow machine in outbound.py and ua.py decide when to call it.

Outcomes of on_response(), as a table of status -> handling:
    1xx                      -> R_PROVISIONAL
    2xx                      -> R_OK with a Binding
    401 / 407 (new nonce)    -> R_RETRY (credentials added); same nonce again -> R_FAIL
    423 with Min-Expires     -> R_RETRY with expires raised to Min-Expires
    439                      -> R_RETRY without reg-id / outbound (RFC 5626 §4.2.1)
    other                    -> R_FAIL (503/500/480 keep Retry-After for the backoff)
"""
from tinysip.compat import const, hexlify
from tinysip.errors import ParseError
from tinysip.gruu import binding_expires, find_binding, gruus
from tinysip.headers import parse_uint
from tinysip.message import contacts, request
from tinysip.transaction import new_branch

R_PROVISIONAL = const(0)
R_OK = const(1)
R_RETRY = const(2)
R_FAIL = const(3)

MAX_AUTH_ROUNDS = const(3)


class Binding:
    """What a successful REGISTER granted."""

    def __init__(self, expires, pub_gruu, temp_gruu, outbound, flow_timer, service_route):
        self.expires = expires
        self.pub_gruu = pub_gruu
        self.temp_gruu = temp_gruu
        self.outbound = outbound
        self.flow_timer = flow_timer
        self.service_route = service_route


class Registration:
    def __init__(self, aor, instance, reg_id, expires, proxy_route, transport, digest, rng,
                 user_agent=b"tinysip"):
        """`aor` a Uri; `instance` b'urn:uuid:..'; `proxy_route` the Route value (bytes)."""
        self.aor = aor
        self.aor_bytes = aor.to_bytes()
        self.instance = instance
        self.reg_id = reg_id
        self.expires = expires
        self.route = proxy_route
        self.transport = transport  # b"TLS" / b"TCP" / b"UDP" for the Via
        self.digest = digest
        self.rng = rng
        self.user_agent = user_agent
        self.outbound = True
        host = hexlify(rng(6))
        self.via_host = host + b".invalid"
        self.call_id = hexlify(rng(10)) + b"@" + self.via_host
        self.from_tag = hexlify(rng(6))
        self.cseq = 0
        self.auth_rounds = 0
        self.contact_uri = self._contact_uri()
        r = aor
        self.request_uri = r.scheme + b":" + r.host + (b":%d" % r.port if r.port else b"")

    def _contact_uri(self):
        user = self.aor.user or b"tinysip"
        t = self.transport.lower()
        uri = b"sip:" + user + b"@" + self.via_host
        if t != b"udp":
            uri += b";transport=" + t
        return uri

    def build(self, expires=None):
        """(REGISTER bytes, branch). Uses the current credentials if challenged before."""
        if expires is None:
            expires = self.expires
        self.cseq += 1
        branch = new_branch(self.rng)
        m = request(b"REGISTER", self.request_uri)
        m.add(b"Via", b"SIP/2.0/" + self.transport + b" " + self.via_host + b";branch=" + branch
              + b";rport")
        if self.route:
            m.add(b"Route", self.route)
        m.add(b"Max-Forwards", b"70")
        m.add(b"From", b"<" + self.aor_bytes + b">;tag=" + self.from_tag)
        m.add(b"To", b"<" + self.aor_bytes + b">")
        m.add(b"Call-ID", self.call_id)
        m.add(b"CSeq", b"%d REGISTER" % self.cseq)
        if self.outbound:
            m.add(b"Supported", b"outbound, path, gruu")
        else:
            m.add(b"Supported", b"path, gruu")
        contact = b"<" + self.contact_uri + b'>;+sip.instance="<' + self.instance + b'>"'
        if self.outbound:
            contact += b";reg-id=%d" % self.reg_id
        m.add(b"Contact", contact)
        m.add(b"Expires", b"%d" % expires)
        m.add(b"User-Agent", self.user_agent)
        if self.digest is not None:
            auth = self.digest.header(b"REGISTER", self.request_uri)
            if auth is not None:
                m.add(auth[0], auth[1])
        return m.to_bytes(), branch

    def on_response(self, msg):
        """(outcome, info) for a response to our REGISTER; see the module table."""
        outcome, info = self._outcome(msg)
        if outcome == R_FAIL:
            self.auth_rounds = 0  # the loop guard is per attempt: the next one starts afresh
        return outcome, info

    def _outcome(self, msg):
        status = msg.status
        if status < 200:
            return R_PROVISIONAL, None
        if status < 300:
            self.auth_rounds = 0
            return R_OK, self._binding(msg)
        if status == 401 or status == 407:
            name = b"WWW-Authenticate" if status == 401 else b"Proxy-Authenticate"
            self.auth_rounds += 1
            if (self.digest is not None and self.auth_rounds <= MAX_AUTH_ROUNDS
                    and self.digest.on_challenge(status, msg.get_all(name))):
                return R_RETRY, None
            return R_FAIL, (status, b"authentication rejected (check auth.username and "
                                    b"auth.password)", None)
        if status == 423:
            me = msg.get(b"Min-Expires")
            try:
                value = parse_uint(me or b"", 0xFFFFFFFF, "Min-Expires")
            except ParseError:
                return R_FAIL, (status, b"423 without a usable Min-Expires", None)
            if value <= self.expires:
                return R_FAIL, (status, b"423 Min-Expires not above what we asked", None)
            self.expires = value
            return R_RETRY, None
        if status == 439 and self.outbound:
            self.outbound = False
            return R_RETRY, None
        retry_after = None
        ra = msg.get(b"Retry-After")
        if ra:
            try:
                retry_after = parse_uint(ra.partition(b";")[0].partition(b"(")[0], 86400 * 7,
                                         "Retry-After")
            except ParseError:
                retry_after = None
        return R_FAIL, (status, msg.reason, retry_after)

    def _binding(self, msg):
        try:
            cs = contacts(msg)
        except ParseError:
            cs = []
        na = find_binding(cs, self.instance, self.reg_id if self.outbound else None)
        granted = binding_expires(na, msg.get(b"Expires"), self.expires)
        pub, temp = gruus(na) if na is not None else (None, None)
        outbound = self.outbound and msg.has_tag(b"Require", b"outbound")
        ft = msg.get(b"Flow-Timer")
        flow_timer = None
        if ft:
            try:
                flow_timer = parse_uint(ft, 86400, "Flow-Timer")
            except ParseError:
                flow_timer = None
        sr = msg.get_all(b"Service-Route")
        return Binding(granted, pub, temp, outbound, flow_timer, b", ".join(sr) if sr else None)
