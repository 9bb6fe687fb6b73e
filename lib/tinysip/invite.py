"""The phone as the called party: one INVITE dialog (RFC 3261 §13.3, §17.2.1, §12), RFC 5373
answer modes and the auto-answer policy.

Owns: the call's state (ringing, answered until the ACK, confirmed, rejected, ended), the
responses the phone sends for it (100, 180, the final, its 2xx retransmissions; a re-INVITE's
200 carries `body`, the UA's answer to its offer), the dialog (route set from Record-Route,
remote target, CSeq numbers both ways), the BYE it sends and request(), which builds our
other requests in the dialog (re-INVITEs: tinysip.hold runs their transaction); the pure
policy functions `answer_mode`, `caller` and `may_auto_answer`.
Must not: do I/O or read a clock (`now` is passed in), parse SDP or choose media (the UA
hands the answer body), choose the flow (the UA sends what `pop_send` returns on the flow
the INVITE came from).

Transitions (state, input) -> (new state, actions) are the rows of `TRANSITIONS`; an input
with no row in the current state changes nothing. Timers: G (2xx retransmission, T1
doubling to T2, §13.3.1.4: kept on reliable transports too because the 2xx is end to end),
H (64*T1 without an ACK: give up; for an answered call send BYE), the ring timeout (480).
"""
from tinysip.compat import const, hexlify
from tinysip.headers import ALLOW, SUPPORTED, addr, lookup
from tinysip.message import reason_phrase, request

# states (public: the UA reads call.state)
# Call states and inputs are private consts (folded: a public name would be interned on the
# phone for good); ua.py keeps the numbers it needs as its own, and host_tests/ivnames.py
# states them for the tests and checks them against this module on CPython.
_C_RINGING = const(0)  # 100 and 180 sent; the user (or the policy) decides
_C_ANSWERED = const(1)  # 2xx sent, retransmitted until the ACK
_C_CONFIRMED = const(2)  # ACK received: the media flows
_C_REJECTED = const(3)  # a non-2xx final sent; its ACK ends the call
_C_ENDED = const(4)

# inputs (public: the UA feeds them with `step`)
_C_ANSWER = const(0)
_C_REJECT = const(1)
_C_ACK = const(2)
_C_BYE = const(3)
_C_CANCEL = const(4)
_C_HANGUP = const(5)
_C_REINVITE = const(6)
_TIMER_G = const(7)
_TIMER_H = const(8)
_RING_TIMEOUT = const(9)

# actions (bit flags, run in this order)
_OK_REQ = const(1)  # answer the request that came in (BYE, CANCEL) with 200
_SEND_2XX = const(2)  # send the 200 with the answer; arm G and H
_RESEND = const(4)  # send the 200 again; G doubles up to T2
_FINAL = const(8)  # send the non-2xx final (status in `call.final`); arm H
_STOP = const(16)  # stop G and H
_BYE = const(32)  # send our BYE (the UA runs its client transaction)

# one byte per cell: a bytes object is ~1/8 of the heap of a tuple of ints; built from a
# list (not a tuple constant, which the module would keep as well)
TRANSITIONS = bytes([
    _C_RINGING, _C_ANSWER, _C_ANSWERED, _SEND_2XX,
    _C_RINGING, _C_REJECT, _C_REJECTED, _FINAL,
    _C_RINGING, _RING_TIMEOUT, _C_REJECTED, _FINAL,  # nobody answered: 480
    _C_RINGING, _C_CANCEL, _C_REJECTED, _OK_REQ | _FINAL,  # 200 to the CANCEL, 487 to the INVITE
    _C_RINGING, _C_HANGUP, _C_REJECTED, _FINAL,  # the user declined
    _C_ANSWERED, _C_ACK, _C_CONFIRMED, _STOP,
    _C_ANSWERED, _TIMER_G, _C_ANSWERED, _RESEND,
    _C_ANSWERED, _TIMER_H, _C_ENDED, _STOP | _BYE,  # no ACK: the dialog is dead (§13.3.1.4)
    _C_ANSWERED, _C_BYE, _C_ENDED, _OK_REQ | _STOP,
    _C_ANSWERED, _C_CANCEL, _C_ANSWERED, _OK_REQ,  # too late: the 2xx stands
    _C_CONFIRMED, _C_BYE, _C_ENDED, _OK_REQ,
    _C_CONFIRMED, _C_HANGUP, _C_ENDED, _BYE,
    _C_CONFIRMED, _C_REINVITE, _C_ANSWERED, _SEND_2XX,  # target refresh, same media
    _C_CONFIRMED, _C_CANCEL, _C_CONFIRMED, _OK_REQ,
    _C_REJECTED, _C_ACK, _C_ENDED, _STOP,
    _C_REJECTED, _TIMER_H, _C_ENDED, 0,
    _C_REJECTED, _C_CANCEL, _C_REJECTED, _OK_REQ,
])

_T2 = const(4000)

# Call.cfg, by index: what the call keeps that never changes (one tuple, no name each)
_F_CALL_ID = const(0)
_F_VIA = const(1)
_F_RNG = const(2)
_F_T1 = const(3)
# Call._due, by index: the timers (absolute ms or None), then G's interval; one list
_G_AT = const(0)
_H_AT = const(1)
_RING_AT = const(2)
_G_INT = const(3)

# why a call ended, by the input that ended it (None: keep the reason found before)
_REASONS = const((None, "rejected", None, "bye", "cancelled", "hangup", None, None,
                  "no_ack", "no_answer"))


def answer_mode(msg):
    """RFC 5373: (header name, mode, require) of the mode the caller asks for, or None.

    Priv-Answer-Mode (administrative level) wins over Answer-Mode when both are present.
    Modes compare case-insensitively and come back lower case (b"auto", b"manual", or an
    extension token); `require` is True with the `;require` parameter.
    """
    for name in (b"Priv-Answer-Mode", b"Answer-Mode"):
        v = msg.get(name)
        if v is not None:
            parts = v.split(b";")
            req = False
            for p in parts[1:]:
                if p.strip().lower() == b"require":
                    req = True
            return name, parts[0].strip().lower(), req
    return None


def caller(msg, secure):
    """The caller the phone's proxy asserts (URI bytes), or None.

    RFC 3325 §9: a P-Asserted-Identity means something only from inside the trust domain,
    over a connection that cannot be spoofed: `secure` says the INVITE came over a
    registered TLS flow to the phone's own proxy (or TCP/UDP where config autoanswer.trust
    says so). The other voucher is an RFC 8224 Identity header (tinysip.identity). From
    alone is never believed.
    """
    if secure:
        pai = msg.get(b"P-Asserted-Identity")
        if pai:
            return addr(pai)
    return None


def may_auto_answer(uri, allow):
    """The auto-answer policy: `uri` (the caller someone vouched for, None when nobody did)
    is one of `allow` (URIs as bytes, compared case-insensitively). Argument names are
    ones the phone has interned anyway: each new one costs heap for good."""
    if uri is None or not allow:
        return False
    uri = uri.lower()
    for a in allow:
        if a.lower() == uri:
            return True
    return False


class Call:
    """One INVITE received; `pop_send()` drains what to send on the INVITE's flow.

    Heap: the parsed INVITE is not kept (its headers, body and Request-URI are ~5 KB on the
    64-bit unix port). The call keeps what its responses and its BYE need, as bytes: `head`,
    the five header lines a response copies (§8.2.6; To with our tag), and `dlg`, the
    Record-Route lines (the route set, §12.1.1) and our Contact that dialog-forming
    responses carry; plus the INVITE's CSeq (`cseq`), top-Via branch (`branch`) and remote
    target. `cfg` holds what never changes (Call-ID, our Via, rng, T1) and `_due` the
    timers: fewer attributes, a smaller attribute table. Attributes most calls never set
    are class defaults.
    """

    body = None  # the SDP answer, set before ANSWER
    extra = ()  # headers for the 2xx, e.g. ((b"Answer-Mode", b"Auto"),)
    last_2xx = None
    bye_branch = None  # set when the phone sent BYE: the UA tracks its transaction
    lseq = 0  # the CSeq of our last request in the dialog (BYE, re-INVITE)
    end_reason = None  # "bye", "hangup", "cancelled", "rejected", "no_answer", ...

    def __init__(self, invite, now, via, contact, rng, t1=500, ring_ms=None):
        """`invite` the parsed INVITE; `via` our Via without branch (b"SIP/2.0/TLS h.invalid");
        `contact` our Contact URI for this dialog (GRUU;ob); `rng(n) -> bytes`. Sends 100;
        with `ring_ms` also 180, and 480 if nobody answers within that many ms."""
        self.cfg = (invite.call_id, via, rng, t1)
        self._due = [None, None, None if ring_ms is None else now + ring_ms, t1]
        self.local_tag = hexlify(rng(6))
        self.remote_cseq = invite.cseq
        self.state = _C_RINGING
        self.target = b""
        self.final = 480
        # the 100 and `head` are joined from one list of pieces (the lines' names, values
        # and separators, no line built on its own): a 100 carries no To tag (§8.2.6)
        h = [b"SIP/2.0 100 Trying\r\n"]
        t = self._lines(invite, h)
        h.append(b"Content-Length: 0\r\n\r\n")
        if t:
            h[t] = h[t + 1] = b""
        self.out = [b"".join(h)]
        if t:
            h[t] = b";tag="
            h[t + 1] = self.local_tag
        h[0] = h[-1] = b""
        self._keep(invite, b"".join(h))
        h = []
        for v in invite.get_all(b"Record-Route"):  # the UAS keeps their order (§12.1.1)
            h.append(b"Record-Route: ")
            h.append(v)
            h.append(b"\r\n")
        h.append(b"Contact: <")
        h.append(contact)
        h.append(b">\r\n")
        self.dlg = b"".join(h)
        if ring_ms is not None:
            self.out.append(self._response(180))

    def _keep(self, req, head):
        """Keep of the INVITE `req` what answering it needs (see the class docstring);
        `head`: its header lines when the caller joined them already, else None."""
        if head is None:
            h = []
            self._lines(req, h)
            head = b"".join(h)
        self.head = head
        self.cseq = req.cseq
        self.branch = req.branch
        c = req.get(b"Contact")
        if c is not None:
            self.target = addr(c)

    def _lines(self, req, out):
        """Append to `out` the header lines a response to `req` copies, To with our tag
        (§8.2.6), as pieces for one join (name, ": ", value, CRLF: no line is built on its
        own; a name goes with its ": " and the CRLF before it in one constant piece). Returns
        the index in `out` of the tag's two pieces (";tag=", ours), else 0."""
        # read on the parser's index (req.headers would copy every header out): every Via;
        # the parser lets a request have the other four once only
        for v in req.get_all(b"Via"):
            out.append(b"Via: ")
            out.append(v)
            out.append(b"\r\n")
        out.append(b"From: ")
        out.append(req.get(b"From"))
        out.append(b"\r\nTo: ")
        out.append(req.get(b"To"))
        t = 0
        if req.to_tag is None:
            t = len(out)
            out.append(b";tag=")
            out.append(self.local_tag)
        out.append(b"\r\nCall-ID: ")
        out.append(req.call_id)
        out.append(b"\r\nCSeq: ")
        out.append(req.get(b"CSeq"))
        out.append(b"\r\n")
        return t

    # -- outputs -----------------------------------------------------------------------
    def pop_send(self):
        return self.out.pop(0) if self.out else None

    def next_timer(self):
        d = self._due
        t = None
        for i in range(3):  # the deadlines, not G's interval (a counted loop: no iterator)
            v = d[i]
            if v is not None and (t is None or v < t):
                t = v
        return t

    def _response(self, status, req=None):
        """A response to `req`, by default the INVITE; dialog-forming responses to the
        INVITE carry our tag, Record-Route and Contact (§12.1.1)."""
        h = [b"SIP/2.0 %d %s\r\n" % (status, reason_phrase(status))]
        if req is None:
            h.append(self.head)
        else:
            self._lines(req, h)
        body = b""
        if req is None and 100 < status < 300:
            h.append(self.dlg)
        if (req is None or req.method == b"INVITE") and status >= 200:
            h.append(b"Allow: ")  # pieces as in _lines: no line is built on its own
            h.append(ALLOW)
            h.append(b"\r\nSupported: ")
            h.append(SUPPORTED)
            h.append(b"\r\n")
            for name, value in self.extra:  # Answer-Mode for a 2xx, Unsupported for a 420
                h.append(name)
                h.append(b": ")
                h.append(value)
                h.append(b"\r\n")
            if status < 300:
                h.append(b"Content-Type: application/sdp\r\n")
                body = self.body or b""
        h.append(b"Content-Length: %d\r\n\r\n" % len(body))
        h.append(body)
        return b"".join(h)

    # -- inputs --------------------------------------------------------------------------
    def step(self, inp, now, req=None):
        """Feed one input (ANSWER, REJECT, ACK, BYE, CANCEL, HANGUP, REINVITE); `req` the
        request that carried it. Returns True when the input applied in this state."""
        state, acts = lookup(TRANSITIONS, self.state, inp)
        d = self._due
        applied = state != self.state or acts != 0
        self.state = state
        if state >= _C_REJECTED and self.end_reason is None:
            self.end_reason = _REASONS[inp]
        if acts & _OK_REQ:
            self.out.append(self._response(200, req))
        if acts & (_SEND_2XX | _RESEND):
            t1 = self.cfg[_F_T1]
            if acts & _SEND_2XX:
                d[_RING_AT] = None
                self.final = 200
                if req is not None and inp == _C_REINVITE:
                    self._keep(req, None)  # the 2xx answers the re-INVITE
                self.last_2xx = self._response(200)
                d[_G_INT] = t1
                d[_H_AT] = now + 64 * t1
            else:
                d[_G_INT] = min(2 * d[_G_INT], _T2)
            self.out.append(self.last_2xx)
            d[_G_AT] = now + d[_G_INT]
        if acts & _FINAL:
            d[_RING_AT] = None
            if inp == _C_CANCEL:
                self.final = 487
            elif inp == _RING_TIMEOUT:
                self.final = 480
            self.out.append(self._response(self.final))
            d[_H_AT] = now + 64 * self.cfg[_F_T1]
        if acts & _STOP:
            d[_G_AT] = d[_H_AT] = None
            if self.last_2xx is not None:
                self.last_2xx = None  # acknowledged: no more retransmissions
        if acts & _BYE:  # our BYE (§15.1.1)
            d[_G_AT] = d[_H_AT] = d[_RING_AT] = None
            self.bye_branch = b"z9hG4bK" + hexlify(self.cfg[_F_RNG](8))
            self.lseq += 1
            self.out.append(self.request(b"BYE", self.bye_branch, self.lseq).to_bytes())
        if self.state == _C_ENDED:
            d[_G_AT] = d[_H_AT] = d[_RING_AT] = None
        return applied

    def request(self, method, branch, cseq):
        """Our request in this dialog (§12.2.1.1): remote target, route set, From/To
        swapped; an INVITE (hold, resume: tinysip.hold) carries our Contact. Our CSeq
        numbers (`lseq`, the last one used) start at 1: the BYE's is one more than the
        last re-INVITE's."""
        m = request(method, self.target)
        c = self.cfg
        m.add(b"Via", c[_F_VIA] + b";branch=" + branch + b";rport")
        ours = theirs = me = None
        for line in (self.dlg + self.head).split(b"\r\n"):
            n, _, v = line.partition(b": ")
            if n == b"Record-Route":
                m.add(b"Route", v)
            elif n == b"To":  # with our tag
                ours = v
            elif n == b"From":
                theirs = v
            elif n == b"Contact":
                me = v
        m.add(b"Max-Forwards", b"70")
        m.add(b"From", ours)
        m.add(b"To", theirs)
        m.add(b"Call-ID", c[_F_CALL_ID])
        m.add(b"CSeq", b"%d %s" % (cseq, method))
        if method == b"INVITE":
            m.add(b"Contact", me)
        return m

    def handle_timer(self, now):
        d = self._due
        if d[_RING_AT] is not None and now >= d[_RING_AT]:
            d[_RING_AT] = None
            self.step(_RING_TIMEOUT, now)
        if d[_H_AT] is not None and now >= d[_H_AT]:
            self.step(_TIMER_H, now)
        if d[_G_AT] is not None and now >= d[_G_AT]:
            self.step(_TIMER_G, now)

    def receive(self, msg, now):
        """An in-dialog request (ACK, BYE, CANCEL, re-INVITE) of this call.

        A request older than the last one (lower CSeq) is answered 500 (§12.2.2); an
        INVITE while one is pending, 491. Others no row applies to are answered 200 for
        BYE/CANCEL-like requests by the table or absorbed (ACK)."""
        m = msg.method
        if m == b"ACK":
            if msg.cseq == self.cseq:
                self.step(_C_ACK, now, msg)
            return
        if m == b"CANCEL":
            self.step(_C_CANCEL, now, msg)
            return
        if msg.cseq <= self.remote_cseq:
            self.out.append(self._response(500, msg))
            return
        self.remote_cseq = msg.cseq
        if m == b"BYE":
            if not self.step(_C_BYE, now, msg):
                self.out.append(self._response(481, msg))
        elif m == b"INVITE":
            if not self.step(_C_REINVITE, now, msg):
                self.out.append(self._response(491, msg))
        else:
            r = 200 if m == b"OPTIONS" else 405
            self.out.append(self._response(r, msg))
