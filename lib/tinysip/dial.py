"""The phone as the caller: one outgoing INVITE and its dialog (RFC 3261 §13.2, §17.1.1, §12.1.2).

Owns: the INVITE we send (with an offer and extra headers such as Answer-Mode), its retries
(digest on 401/407, §22.2; one redirection hop per 3xx, §8.1.3.4), the ACKs (hop by hop for
a non-2xx final, §17.1.1.3; end to end for every 2xx, §13.2.2.4), CANCEL (§9.1: only after a
provisional response, so a hang-up before any 1xx waits for one), the dialog (route set from
the 2xx's Record-Route in reverse, remote target from its Contact, CSeq) and the BYE, and the
answers to the peer's in-dialog requests (BYE 200, re-INVITE 200 with `body`: our offer
unchanged, or the UA's answer to its new offer in a voice call (tinysip.audio.reinvite),
OPTIONS 200, others 405); request() builds our re-INVITEs (hold, resume: tinysip.hold).
Must not: do I/O or read a clock (`now` is passed in), look inside the SDP (the application
checks the answer body), choose the flow (the UA sends what `pop_send` returns on the flow
it chose, and runs the BYE's non-INVITE client transaction).

Transitions (state, input) -> (new state, actions) are the rows of `TRANSITIONS`; an input
without a row in the current state changes nothing. Timers: A (INVITE retransmission, only on
an unreliable transport), B (64*T1 without any response: 408), the answer timeout (no final
response within `answer_ms`: CANCEL, end reason "no_answer") and the CANCEL's own 64*T1
(no final response to the cancelled INVITE: give up).
"""
from tinysip.compat import const, drop, hexlify, load
from tinysip.errors import ParseError
from tinysip.headers import ALLOW, SUPPORTED, addr, lookup
from tinysip.message import contacts, request, response

# states (public: the UA reads dial.state)
CALLING = const(0)  # INVITE sent, nothing back yet
PROCEEDING = const(1)  # a provisional response came
CANCELLING = const(2)  # CANCEL sent, waiting for the INVITE's final response
CONFIRMED = const(3)  # a 2xx came and was acknowledged: the media flows
ENDED = const(4)

# inputs
R1XX = const(0)
R2XX = const(1)
RETRY = const(2)  # a 401/407 we can answer or a 3xx we follow: a new INVITE
RFAIL = const(3)  # any other final response >= 300
HANGUP = const(4)  # the user (or the application) ends the call
BYE = const(5)  # the peer ended the dialog
_TIMER_B = const(6)  # CALLING: no response at all; CANCELLING: no final response
_NO_ANSWER = const(7)

# actions (bit flags, run in this order)
_ACK_FAIL = const(1)  # ACK the non-2xx final (same branch as the INVITE)
_ACK = const(2)  # ACK the 2xx (end to end, new branch)
_INVITE = const(4)  # send the INVITE again (credentials or the redirection target)
_CANCEL = const(8)
_BYE = const(16)
_OK_REQ = const(32)  # answer the peer's BYE with 200
_PENDING = const(64)  # remember to CANCEL once a provisional response arrives

TRANSITIONS = (
    CALLING, R1XX, PROCEEDING, 0,
    CALLING, R2XX, CONFIRMED, _ACK,
    CALLING, RETRY, CALLING, _ACK_FAIL | _INVITE,
    CALLING, RFAIL, ENDED, _ACK_FAIL,
    CALLING, HANGUP, CALLING, _PENDING,  # §9.1: no CANCEL before a provisional response
    CALLING, _TIMER_B, ENDED, 0,
    CALLING, _NO_ANSWER, CALLING, _PENDING,
    PROCEEDING, R1XX, PROCEEDING, 0,
    PROCEEDING, R2XX, CONFIRMED, _ACK,
    PROCEEDING, RETRY, CALLING, _ACK_FAIL | _INVITE,
    PROCEEDING, RFAIL, ENDED, _ACK_FAIL,
    PROCEEDING, HANGUP, CANCELLING, _CANCEL,
    PROCEEDING, _NO_ANSWER, CANCELLING, _CANCEL,
    CANCELLING, R2XX, ENDED, _ACK | _BYE,  # the answer crossed our CANCEL: end it (§15)
    CANCELLING, RETRY, ENDED, _ACK_FAIL,
    CANCELLING, RFAIL, ENDED, _ACK_FAIL,  # the 487
    CANCELLING, _TIMER_B, ENDED, 0,
    CONFIRMED, R2XX, CONFIRMED, _ACK,  # a 2xx retransmission: our ACK was lost
    CONFIRMED, HANGUP, ENDED, _BYE,
    CONFIRMED, BYE, ENDED, _OK_REQ,
    ENDED, R2XX, ENDED, _ACK,
)

_T2 = const(4000)
_MAX_AUTH = const(2)
_MAX_REDIRECTS = const(3)

# why the call ended, by the input that ended it
_REASONS = ("", "", "", "rejected", "hangup", "bye", "timeout", "no_answer")


class Dial:
    """One outgoing call; `pop_send()` drains what to send on the chosen flow."""

    def __init__(self, target, local, via, contact, route, body, now, rng, digest=None,
                 headers=(), t1=500, reliable=True, answer_ms=60000, user_agent=None):
        """`target` the Request-URI (bytes); `local` our AoR URI (bytes, the From); `via` our
        Via without branch (b"SIP/2.0/TLS h.invalid"); `contact` our Contact URI (GRUU;ob);
        `route` the pre-loaded Route values (bytes list: the outbound proxy); `body` the SDP
        offer; `headers` extra (name, value) pairs for the INVITE (Answer-Mode);
        `digest` tinysip.digest's state for 401/407 (the credentials (username, password,
        rng) until one came) or None. Sends the INVITE."""
        self.target = self.ruri = target
        self.to = b"<" + target + b">"
        self.local = local
        self.via = via
        self.contact = contact
        self.route = list(route)  # becomes the dialog's route set on the 2xx
        self.body = body
        self.rng = rng
        self.digest = digest
        self.headers = headers
        self.t1 = t1
        self.reliable = reliable
        self.user_agent = user_agent
        self.call_id = hexlify(rng(10)) + b"@" + via.split(b" ")[-1]
        self.local_tag = hexlify(rng(6))
        self.remote_tag = None
        self.remote_cseq = None
        self.cseq = 0
        self.state = CALLING
        self.out = []
        self.status = 0  # the last response's status and reason phrase
        self.reason = b""
        self.final = 0  # the final response's status (0: none yet)
        self.answer = None  # the 2xx's body (the SDP answer)
        self.end_reason = None
        self.pending_cancel = False
        self.auth_rounds = self.redirects = 0
        self.bye_branch = None
        self.a_at = self.b_at = None
        self.a_int = t1
        self.answer_at = now + answer_ms if answer_ms else None
        self._invite(now)

    # -- outputs ---------------------------------------------------------------------
    def pop_send(self):
        return self.out.pop(0) if self.out else None

    def next_timer(self):
        t = None
        for v in (self.a_at, self.b_at, self.answer_at):
            if v is not None and (t is None or v < t):
                t = v
        return t

    def _request(self, method, uri, branch, cseq, dialog):
        m = request(method, uri)
        m.add(b"Via", self.via + b";branch=" + branch + b";rport")
        for v in self.route:
            m.add(b"Route", v)
        m.add(b"Max-Forwards", b"70")
        m.add(b"From", b"<" + self.local + b">;tag=" + self.local_tag)
        to = self.to
        if dialog and self.remote_tag is not None:
            to += b";tag=" + self.remote_tag
        m.add(b"To", to)
        m.add(b"Call-ID", self.call_id)
        m.add(b"CSeq", b"%d %s" % (cseq, method))
        return m

    def _invite(self, now):
        """(Re)send the INVITE: a new branch and CSeq, credentials when challenged."""
        self.cseq += 1
        self.invite_cseq = self.cseq
        self.branch = b"z9hG4bK" + hexlify(self.rng(8))
        m = self._request(b"INVITE", self.ruri, self.branch, self.cseq, False)
        m.add(b"Contact", b"<" + self.contact + b">")
        m.add(b"Allow", ALLOW)
        m.add(b"Supported", SUPPORTED)
        if self.user_agent:
            m.add(b"User-Agent", self.user_agent)
        for name, value in self.headers:
            m.add(name, value)
        d = self.digest
        if type(d) is list:  # challenged before (tinysip.digest's state)
            h = load(b"tinysip.digest header")(d, b"INVITE", self.ruri)
            drop("tinysip.digest")
            m.add(h[0], h[1])
        m.add(b"Content-Type", b"application/sdp")
        m.body = self.body
        self.last_invite = m.to_bytes()
        self.out.append(self.last_invite)
        self.b_at = now + 64 * self.t1
        self.a_int = self.t1
        self.a_at = None if self.reliable else now + self.t1

    # -- inputs --------------------------------------------------------------------------
    def step(self, inp, now, msg=None):
        """Feed one input; `msg` the response or request that carried it. True when the
        input applied in this state."""
        state, acts = lookup(TRANSITIONS, self.state, inp)
        applied = state != self.state or acts != 0
        self.state = state
        if state == ENDED and self.end_reason is None:
            self.end_reason = _REASONS[inp] or "ended"
        if acts & _ACK_FAIL:  # §17.1.1.3: R-URI, Via and Route of the INVITE, To of the answer
            a = self._request(b"ACK", self.ruri, self.branch, self.invite_cseq, False)
            a.set(b"To", msg.get(b"To"))
            self.out.append(a.to_bytes())
        if acts & _ACK:
            if self.remote_tag is None or msg.to_tag == self.remote_tag:
                self._dialog(msg)
                self._ack()
            else:  # a second dialog from a forking proxy: acknowledge it and end it
                self._extra_dialog(msg)
        if acts & _INVITE:
            self._invite(now)
        if acts & _PENDING:
            self.pending_cancel = True
        if acts & _CANCEL:  # §9.1: same R-URI, Via branch, Route, Call-ID, From, To, CSeq number
            self.out.append(self._request(b"CANCEL", self.ruri, self.branch, self.invite_cseq,
                                          False).to_bytes())
            self.a_at = None
            self.b_at = now + 64 * self.t1
            self.answer_at = None
        if acts & _OK_REQ:
            self.out.append(response(msg, 200).to_bytes())
        if acts & _BYE:
            self.out.append(self.bye())
        if state != CALLING:
            self.a_at = None
        if state >= CONFIRMED:
            self.a_at = self.b_at = self.answer_at = None
        return applied

    def _dialog(self, resp):
        """The dialog as the 2xx sets it (§12.1.2): remote tag, target, reversed route set."""
        if self.remote_tag is None:
            self.remote_tag = resp.to_tag
            self.answer = resp.body
            self.route = resp.values(b"Record-Route")
            self.route.reverse()
        c = resp.get(b"Contact")
        if c:
            self.target = addr(c)

    def request(self, method, branch, cseq):
        """Our request in the dialog (§12.2.1.1); an INVITE (hold, resume: tinysip.hold)
        carries our Contact. Our CSeq numbers are `cseq` (the last one used)."""
        m = self._request(method, self.target, branch, cseq, True)
        if method == b"INVITE":
            m.add(b"Contact", b"<" + self.contact + b">")
        return m

    def _ack(self):
        self.out.append(self._request(b"ACK", self.target, b"z9hG4bK" + hexlify(self.rng(8)),
                                      self.invite_cseq, True).to_bytes())

    def _extra_dialog(self, resp):
        keep = (self.remote_tag, self.target, self.route, self.answer)
        self.remote_tag = None
        self._dialog(resp)
        self._ack()
        self.out.append(self.bye())
        self.remote_tag, self.target, self.route, self.answer = keep

    def receive(self, msg, now):
        """A response to our INVITE, or a request inside the dialog."""
        if msg.is_request:
            self._request_in(msg, now)
            return
        if msg.cseq_method != b"INVITE" or msg.cseq != self.invite_cseq:
            return  # the CANCEL's 200, or a response to an INVITE we replaced
        st = msg.status
        self.status = st
        self.reason = msg.reason
        if st >= 200:
            self.final = st
        if st < 200:
            if self.state == CALLING:  # Timers A and B stop at the first response
                self.a_at = self.b_at = None
            self.step(R1XX, now, msg)
            if self.pending_cancel and self.state == PROCEEDING:
                self.step(HANGUP, now, msg)
            return
        if st < 300:
            self.step(R2XX, now, msg)
            if self.pending_cancel and self.state == CONFIRMED:  # hung up before any 1xx
                self.end_reason = "hangup"
                self.step(HANGUP, now, msg)
            return
        if st == 401 or st == 407:
            self.auth_rounds += 1
            d = self.digest
            ok = d is not None and self.auth_rounds <= _MAX_AUTH
            if ok:
                d = load(b"tinysip.digest challenged")(d, msg)
                drop("tinysip.digest")
                ok = d is not None
                if ok:
                    self.digest = d
            if not ok:
                self.reason = b"credentials refused (auth.username/auth.password)"
        elif 300 <= st < 400:
            self.redirects += 1
            ok = False
            try:
                cs = contacts(msg)
            except ParseError:
                cs = []
            if cs and self.redirects <= _MAX_REDIRECTS and not self.pending_cancel:
                self.ruri = cs[0].uri.to_bytes()
                ok = True
        else:
            ok = False
        if ok and self.state != CANCELLING and not self.pending_cancel:
            self.step(RETRY, now, msg)
        else:
            self.step(RFAIL, now, msg)

    def _request_in(self, msg, now):
        m = msg.method
        if m == b"ACK":
            return  # the ACK of our 200 to a re-INVITE
        if self.remote_cseq is not None and msg.cseq <= self.remote_cseq:
            self.out.append(response(msg, 500).to_bytes())  # §12.2.2: out of order
            return
        self.remote_cseq = msg.cseq
        if m == b"BYE":
            if not self.step(BYE, now, msg):
                self.out.append(response(msg, 481).to_bytes())
            return
        status = 405
        if self.state == CONFIRMED and (m == b"INVITE" or m == b"OPTIONS"):
            status = 200
        r = response(msg, status)
        r.add(b"Allow", ALLOW)
        if status == 200 and m == b"INVITE":  # a target refresh: same media, our offer again
            c = msg.get(b"Contact")
            if c:
                self.target = addr(c)
            r.add(b"Contact", b"<" + self.contact + b">")
            r.add(b"Content-Type", b"application/sdp")
            r.body = self.body
        self.out.append(r.to_bytes())

    def handle_timer(self, now):
        if self.answer_at is not None and now >= self.answer_at:
            self.answer_at = None
            self.end_reason = "no_answer"
            self.step(_NO_ANSWER, now)
        if self.b_at is not None and now >= self.b_at:
            self.b_at = None
            if self.state == CALLING:
                self.status = self.final = 408
                self.reason = b"no response to INVITE (Timer B)"
            self.step(_TIMER_B, now)
        if self.a_at is not None and now >= self.a_at:
            self.a_int = min(2 * self.a_int, _T2)
            self.a_at = now + self.a_int
            self.out.append(self.last_invite)

    def hangup(self, now):
        """End the call from our side: CANCEL before the answer, BYE after it."""
        if self.end_reason is None and self.state < CONFIRMED:
            self.end_reason = "cancelled"
        return self.step(HANGUP, now)

    def bye(self):
        """Our BYE in this dialog (§15.1.1)."""
        self.cseq += 1
        self.bye_branch = b"z9hG4bK" + hexlify(self.rng(8))
        return self._request(b"BYE", self.target, self.bye_branch, self.cseq, True).to_bytes()
