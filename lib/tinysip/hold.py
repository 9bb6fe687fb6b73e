"""The phone's own re-INVITE in a running voice call: hold and resume (RFC 3264 §8.4, RFC
3261 §14.1), in a call either side placed (tinysip.invite.Call, tinysip.dial.Dial).
Loaded with the first hold: an idle phone does not carry it.

Owns: one re-INVITE of ours at a time (the call's `hold` attribute while it waits for its
final response): the offer (tinysip.audio.reoffer: our last SDP made sendonly, or inactive
while the peer holds us, or sendrecv again, the o= version one more), its client
transaction (Timer A retransmissions on UDP, Timer B at 64*T1), the ACKs (end to end with a
new branch for every 2xx, its retransmissions too, for 64*T1; hop by hop for a non-2xx) and
what its final response means:
- 2xx: the answer (tinysip.audio.accept) is what the call runs from now on
  (tinysip.audio.update: the driver's media, `call_held` with our direction and 200);
- 491 (glare): §14.1, one new try after 2.1-4 s when we own the Call-ID (we placed the
  call), after 0-2 s when the peer does; a second 491 is a failure;
- 401/407: once, the same offer with credentials (auth.username/auth.password, §22.2);
- 408, 481 or no final response at all: §14.1, the dialog is gone: BYE;
- any other: the call goes on as it was (§14.1) and `call_held` says so (the direction
  unchanged, the status).
It lives in ua.ctx under its branch, as a BYE's client transaction does: the UA hands it
the responses to it (receive), its timers (next_timer, handle_timer) and drops it once
`terminated`. It sends on the call's flow itself (pop_send has nothing).
"""
from tinysip.compat import const, drop, hexlify, load
from tinysip.errors import ParseError

_T2 = const(4000)


def send(ua, cid, on, now):
    """Hold (on) or resume call cid of ua now: False when it has no running voice media,
    is not confirmed, or an INVITE of ours is on its way or waiting to be tried again."""
    e = ua.calls.get(cid)
    if e is None or type(e[3]) is not list:
        return False
    c = e[0]
    if c.state != (3 if e[4] == "out" else 2) or getattr(c, "hold", None) is not None:
        return False  # (dial.CONFIRMED, invite's CONFIRMED: no INVITE either way, §14.1)
    Hold(ua, cid, on, now)
    return True


class Hold:
    """One re-INVITE of ours in call cid of ua: hold (on) or resume; tries: the 491s so
    far; auth: tinysip.digest's state answering a 401/407 to the one before. Sends the
    INVITE."""

    def __init__(self, ua, cid, on, now, tries=0, auth=None):
        e = ua.calls[cid]
        c = e[0]
        self.ua = ua
        self.cid = cid
        self.on = on
        self.tries = tries
        self.auth = auth
        self.old = c.body
        from tinysip.audio import reoffer  # (not kept: io.voiceport drops it once media runs)

        c.body = reoffer(e[3], c.body, on)
        if e[4] == "out":
            c.cseq += 1
            self.seq = c.cseq
        else:
            c.lseq += 1
            self.seq = c.lseq
        self.branch = b"z9hG4bK" + hexlify(ua.rng(8))
        m = c.request(b"INVITE", self.branch, self.seq)
        if auth is not None:  # (tinysip.digest is loaded: _auth made this state just now)
            h = load(b"tinysip.digest header")(auth, b"INVITE", c.target)
            drop("tinysip.digest")
            m.add(h[0], h[1])
        m.add(b"Content-Type", b"application/sdp")
        m.body = c.body
        self.req = m.to_bytes()
        t1 = ua.cfg.t1
        self.a_int = t1
        self.a_at = now + t1 if e[1].udp else None
        self.b_at = now + 64 * t1
        self.retry_at = None
        self.final = 0
        self.terminated = False
        c.hold = self
        ua.ctx[self.branch] = (self, None)
        ua._send(e[1].conn, self.req)

    def pop_send(self):
        return None  # sent on the call's flow as it goes

    def next_timer(self):
        if self.terminated or self.cid not in self.ua.calls:
            return 0  # done, or the call ended: the UA drops it at once
        t = self.b_at
        for v in (self.a_at, self.retry_at):
            if v is not None and (t is None or v < t):
                t = v
        return t

    def handle_timer(self, now):
        """Timers due at now; never a timeout the UA must report (False)."""
        ua = self.ua
        e = ua.calls.get(self.cid)
        if e is None:
            self.terminated = True
            return False
        c = e[0]
        if self.retry_at is not None and now >= self.retry_at:
            if c.state != (3 if e[4] == "out" else 2):  # the peer's INVITE: after it
                self.retry_at = now + 500
                return False
            self.terminated = True
            c.hold = None
            Hold(ua, self.cid, self.on, now, self.tries + 1)
            return False
        if self.a_at is not None and now >= self.a_at:
            self.a_int = min(2 * self.a_int, _T2)
            self.a_at = now + self.a_int
            ua._send(e[1].conn, self.req)
        if self.b_at is not None and now >= self.b_at:
            self.a_at = self.b_at = None
            self.terminated = True
            if not self.final:  # Timer B: no final response at all
                self._failed(e, 408, now)
        return False

    def receive(self, msg, now):
        """A response to our re-INVITE."""
        st = msg.status
        self.a_at = None  # a response stops the retransmissions (§17.1.1.2)
        if st < 200:
            return
        ua = self.ua
        e = ua.calls.get(self.cid)
        if e is None:
            self.terminated = True
            return
        c = e[0]
        # every 2xx is acknowledged end to end with a new branch, every non-2xx hop by hop
        b = b"z9hG4bK" + hexlify(ua.rng(8)) if st < 300 else self.branch
        ua._send(e[1].conn, c.request(b"ACK", b, self.seq).to_bytes())
        if self.final:
            return  # a retransmission: acknowledged again
        self.final = st
        if st >= 300:
            self.b_at = None
            self.terminated = True
            if (st == 401 or st == 407) and self.auth is None and self._auth(e, msg, now):
                return
            self._failed(e, st, now)
            return
        self.b_at = now + 64 * ua.cfg.t1  # 2xx retransmissions are acknowledged till then
        c.hold = None
        p = e[3]
        from tinysip.audio import accept, update

        try:
            from tinysip.sdp import parse

            q = accept(parse(msg.body or b""), [p[1]], ua.cfg.voice[1] if p[7] else 0, p[7],
                       p[3])
        except ParseError as err:  # an answer we cannot run: the call cannot go on
            ua._ev("message_dropped", e[1].index, err.reason)
            ua.hangup(self.cid, now)
            return
        q.append(self.on)
        update(ua, self.cid, q, now, st)

    def _auth(self, e, msg, now):
        """A 401/407 to our re-INVITE (a proxy or the peer asks for credentials, RFC 3261
        §22.2): the same offer again, with a new branch and CSeq, answering the challenge
        with auth.username/auth.password (a digest state of its own: a placed call's has
        counted its nonce, and would take this challenge for a refusal). True when sent; a
        challenge to the answered INVITE is a failure."""
        from tinysip.digest import challenged

        ua = self.ua
        c = e[0]
        d = challenged((ua.cfg.username, ua.cfg.password, ua.rng), msg)
        if d is None:
            return False  # (parse_challenge never raises: no usable challenge is None)
        c.body = self.old
        c.hold = None
        Hold(ua, self.cid, self.on, now, self.tries, d)
        return True

    def _failed(self, e, st, now):
        """Our re-INVITE failed with st: tried again (491), the call ended (408, 481), or
        the call goes on as it was; the app hears call_held with the unchanged direction."""
        c = e[0]
        c.body = self.old
        c.hold = None
        ua = self.ua
        if st == 491 and not self.tries:
            r = ua.rng(2)
            r = r[0] << 8 | r[1]
            c.hold = 0  # (falsy: the peer's own new try is taken meanwhile)
            self.terminated = False
            self.retry_at = now + (2100 + r % 1901 if e[4] == "out" else r % 2001)
            return
        ua._ev("call_held", self.cid, e[3][9].decode(), st)
        if st == 408 or st == 481:
            ua.hangup(self.cid, now)
