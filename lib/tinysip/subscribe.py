"""The phone as a subscriber: one SUBSCRIBE/NOTIFY subscription (RFC 6665 §4.1, §4.1.2,
§4.1.3, §8.2.1; dialogs from RFC 3261 §12; digest from §22.2).

Owns: the SUBSCRIBEs of one subscription (initial, refresh, unsubscribe with Expires: 0, and
their retries with credentials on 401/407 or with Min-Expires on 423), the dialog (from the
2xx as its UAC: reversed Record-Route, remote target, remote tag; or from a NOTIFY that beats
the 2xx, §4.1.2.4, as that NOTIFY's UAS: Record-Route in order), the answers to NOTIFYs (200,
481 when they match no subscription of ours, 400 for a missing or malformed
Subscription-State, 500 out of CSeq order) and what each Subscription-State means: when to
refresh, when to subscribe again, when to give up.
Must not: do I/O or read a clock (`now` is passed in), parse the event package's body (the
application gets it with its Content-Type), choose the flow (the UA sends what `pop_send`
returns on the flow it chose), retransmit (SUBSCRIBE runs over the phone's reliable flows; on
UDP the UA wraps each one in a transaction.py client transaction, `branch` names it).

Transitions (state, input) -> (new state, actions) are the rows of `TRANSITIONS`; an input
without a row in the current state changes nothing. The inputs are decided from the message
by `receive`, and when a subscription is over by the pure policy `retry_ms`.

Choices the RFC leaves open, made here:
- Refresh (§4.1.2.2 only asks for a refresh before expiry): `refresh_ms`, at a random point
  between 75 % and 90 % of the granted duration, but at least 64*T1 (one non-INVITE
  transaction's Timer F) before expiry so a refresh that gets no answer has timed out while
  the subscription still stands, and never before half of it. The 2xx's Expires and every
  NOTIFY's `expires` parameter re-arm it.
- Timer N (§4.1.2.4): 64*T1 after the initial SUBSCRIBE without a NOTIFY, the subscription
  failed (status 408; reason says whether a response came at all). The same wait bounds the
  final NOTIFY after an unsubscribe.
- A refresh answered 404, 405, 410, 416, 480-485, 489, 501 or 604 ends the subscription
  (§4.1.2.2): a new initial SUBSCRIBE (new Call-ID and tag). Any other failure of a refresh
  leaves it standing until it expires; at expiry a new initial SUBSCRIBE starts.
- Subscription-State terminated (§4.1.3): deactivated and timeout subscribe again at once
  (retry-after has no meaning there); probation and giveup after retry-after, else after
  `_RETRY_DEFAULT_MS`; rejected, noresource and invariant never again; an unknown reason or
  none "MAY re-subscribe at any time" unless retry-after says when: we wait retry-after,
  else `_RETRY_DEFAULT_MS`, rather than hammer a notifier we do not understand. "At once" is
  only at once when the subscription lived at least 64*T1 (else `_RETRY_DEFAULT_MS`), so a
  notifier that ends every subscription on arrival cannot drive a tight loop.
- A NOTIFY without Subscription-State (every NOTIFY must carry exactly one) or with one we
  cannot parse (no value, bad expires/retry-after) is the notifier's error. RFC 6665 names
  no status for it; RFC 3261 §8.2 answers a malformed request 400, so we do: the reason
  phrase names the fault, the body is not handed on and nothing changes. An unknown
  substate (the grammar allows extension tokens, the RFC gives them no meaning) gets 200
  and is handed on; the subscription's state does not change.
- Forking (§5.4.9): one dialog per subscription. A NOTIFY from another dialog of the same
  SUBSCRIBE gets 481, which ends that extra subscription at its notifier.
- `expires` must be > 0: a fetch (a one-shot poll with Expires: 0) is not a subscription.
"""
from tinysip.compat import const, hexlify
from tinysip.errors import ParseError
from tinysip.headers import parse_uint, split_top
from tinysip.invite import ALLOW, SUPPORTED, addr, lookup
from tinysip.message import request, response
from tinysip.uri import is_token

# states: the UA and the application read sub.state; the three it compares with are public
# (a public constant is one more interned name on the phone)
_SUBSCRIBING = const(0)  # initial SUBSCRIBE sent: waiting for its NOTIFY (notify_wait)
PENDING = const(1)  # the notifier has not decided yet (NOTIFY pending)
ACTIVE = const(2)  # NOTIFY active: notifications flow, refreshes keep it up
_WAITING = const(3)  # the subscription ended; a new one starts at `retry_at`
_UNSUBSCRIBING = const(4)  # Expires: 0 sent (or queued until the dialog exists)
TERMINATED = const(5)  # over for good: `status`/`reason` say why

# inputs (private: a constant without the _ would be one more interned name)
_R2XX = const(0)  # a 2xx to our latest SUBSCRIBE
_RETRY = const(1)  # a 401/407 we can answer or a 423 with a usable Min-Expires
_RFAIL = const(2)  # the initial SUBSCRIBE (or the unsubscribe) failed
_N_ACTIVE = const(3)  # a NOTIFY with Subscription-State active
_N_PENDING = const(4)
_RESUB = const(5)  # the subscription is over: subscribe again at once
_RESUB_LATER = const(6)  # ... after `retry_ms`
_ENDED = const(7)  # ... and never again
_UNSUB = const(8)  # the application unsubscribes
_TIMER_N = const(9)  # no NOTIFY 64*T1 after the initial SUBSCRIBE (or the unsubscribe)
_T_REFRESH = const(10)
_T_RETRY = const(11)

# actions (bit flags, run in this order)
_SEND_NEW = const(1)  # a new initial SUBSCRIBE: new Call-ID and From tag, no dialog
_SEND_AGAIN = const(2)  # the last SUBSCRIBE again (CSeq + 1, credentials, Min-Expires)
_SEND_REFRESH = const(4)  # SUBSCRIBE in the dialog with our Expires
_SEND_UNSUB = const(8)  # SUBSCRIBE in the dialog with Expires: 0 (queued until a dialog)
_ARM_RETRY = const(16)  # wait in _WAITING until `retry_at`
_STOP = const(32)  # stop every timer

TRANSITIONS = (
    _SUBSCRIBING, _R2XX, _SUBSCRIBING, 0,  # the dialog exists; Timer N waits for the NOTIFY
    _SUBSCRIBING, _RETRY, _SUBSCRIBING, _SEND_AGAIN,
    _SUBSCRIBING, _RFAIL, TERMINATED, _STOP,  # 3xx, 489 and every other final >= 300
    _SUBSCRIBING, _N_ACTIVE, ACTIVE, 0,
    _SUBSCRIBING, _N_PENDING, PENDING, 0,
    _SUBSCRIBING, _RESUB, _SUBSCRIBING, _SEND_NEW,
    _SUBSCRIBING, _RESUB_LATER, _WAITING, _ARM_RETRY,
    _SUBSCRIBING, _ENDED, TERMINATED, _STOP,
    _SUBSCRIBING, _UNSUB, _UNSUBSCRIBING, _SEND_UNSUB,
    _SUBSCRIBING, _TIMER_N, TERMINATED, _STOP,
    _SUBSCRIBING, _T_REFRESH, _SUBSCRIBING, _SEND_REFRESH,  # a short grant, NOTIFY still due
    PENDING, _R2XX, PENDING, 0,
    PENDING, _RETRY, PENDING, _SEND_AGAIN,
    PENDING, _RFAIL, TERMINATED, _STOP,  # the initial SUBSCRIBE failed after its NOTIFY
    PENDING, _N_ACTIVE, ACTIVE, 0,
    PENDING, _N_PENDING, PENDING, 0,
    PENDING, _RESUB, _SUBSCRIBING, _SEND_NEW,
    PENDING, _RESUB_LATER, _WAITING, _ARM_RETRY,
    PENDING, _ENDED, TERMINATED, _STOP,
    PENDING, _UNSUB, _UNSUBSCRIBING, _SEND_UNSUB,
    PENDING, _T_REFRESH, PENDING, _SEND_REFRESH,
    ACTIVE, _R2XX, ACTIVE, 0,
    ACTIVE, _RETRY, ACTIVE, _SEND_AGAIN,
    ACTIVE, _RFAIL, TERMINATED, _STOP,
    ACTIVE, _N_ACTIVE, ACTIVE, 0,
    ACTIVE, _N_PENDING, PENDING, 0,
    ACTIVE, _RESUB, _SUBSCRIBING, _SEND_NEW,
    ACTIVE, _RESUB_LATER, _WAITING, _ARM_RETRY,
    ACTIVE, _ENDED, TERMINATED, _STOP,
    ACTIVE, _UNSUB, _UNSUBSCRIBING, _SEND_UNSUB,
    ACTIVE, _T_REFRESH, ACTIVE, _SEND_REFRESH,
    _WAITING, _T_RETRY, _SUBSCRIBING, _SEND_NEW,
    _WAITING, _UNSUB, TERMINATED, _STOP,
    _UNSUBSCRIBING, _R2XX, _UNSUBSCRIBING, 0,  # the final NOTIFY is still due
    _UNSUBSCRIBING, _RETRY, _UNSUBSCRIBING, _SEND_AGAIN,
    _UNSUBSCRIBING, _RFAIL, TERMINATED, _STOP,
    _UNSUBSCRIBING, _N_ACTIVE, _UNSUBSCRIBING, 0,  # crossed our unsubscribe
    _UNSUBSCRIBING, _N_PENDING, _UNSUBSCRIBING, 0,
    _UNSUBSCRIBING, _RESUB, TERMINATED, _STOP,  # the terminated NOTIFY, whatever its reason
    _UNSUBSCRIBING, _RESUB_LATER, TERMINATED, _STOP,
    _UNSUBSCRIBING, _ENDED, TERMINATED, _STOP,
    _UNSUBSCRIBING, _TIMER_N, TERMINATED, _STOP,
)

_RETRY_DEFAULT_MS = const(60000)  # probation/giveup/unknown reason without retry-after
_MAX_AUTH = const(2)  # challenges answered per SUBSCRIBE
_INITIAL = const(0)  # what the latest SUBSCRIBE was
_REFRESH = const(1)
_UNSUBSCRIBE = const(2)


def refresh_ms(expires, t1, r):
    """When to refresh a subscription granted for `expires` s: ms after the grant. `r` is a
    random byte (0-255): 75 % to 90 % of the grant, at least 64*T1 before its end, never
    before half of it (see the module docstring)."""
    e = expires * 1000
    at = e * (75 * 255 + 15 * r) // (100 * 255)
    return max(min(at, e - 64 * t1), e // 2)


def retry_ms(reason, retry_after, n, t1=500):
    """After a terminated subscription: None (never again), 0 (at once) or ms to wait.
    `reason` the Subscription-State reason (lower case bytes or None), `retry_after` its
    retry-after in s or None, `n` how long ago (ms) the subscription was started."""
    if reason in (b"rejected", b"noresource", b"invariant"):
        return None
    if reason in (b"deactivated", b"timeout"):
        wait = 0
    elif retry_after is not None:
        wait = retry_after * 1000
    else:
        wait = _RETRY_DEFAULT_MS
    if wait == 0 and n < 64 * t1:
        wait = _RETRY_DEFAULT_MS  # ended as soon as it began: do not loop
    return wait


def parse_state(values):
    """(substate, reason, expires, retry_after) from the Subscription-State lines of a NOTIFY:
    substate and reason lower-case bytes (reason None when absent), the numbers int or None.
    Raises ParseError(400) when the header is missing, repeated or malformed."""
    if len(values) != 1:
        raise ParseError(400, "Subscription-State missing or repeated")
    parts = split_top(values[0], 59)
    sub = parts[0].lower()
    if not is_token(sub):
        raise ParseError(400, "Subscription-State: bad value")
    reason = expires = retry = None
    for p in parts[1:]:
        name, eq, v = p.partition(b"=")
        name = name.strip().lower()
        v = v.strip()
        if not is_token(name) or eq and not v:
            raise ParseError(400, "Subscription-State: bad parameter")
        if name == b"reason":
            if not is_token(v):
                raise ParseError(400, "Subscription-State: bad reason")
            reason = v.lower()
        elif name == b"expires":
            expires = parse_uint(v, 0xFFFFFFFF, "Subscription-State expires")
        elif name == b"retry-after":
            retry = parse_uint(v, 0xFFFFFFFF, "Subscription-State retry-after")
    return sub, reason, expires, retry


def event_key(value):
    """(package, id) of an Event value, both compared byte by byte (RFC 6665 §8.2.1); None
    when absent or unreadable."""
    if not value:
        return None
    try:
        parts = split_top(value, 59)
    except ParseError:
        return None
    eid = None
    for p in parts[1:]:
        name, _, v = p.partition(b"=")
        if name.strip().lower() == b"id":
            eid = v.strip()
    return parts[0], eid


class Subscription:
    """One subscription of ours; `pop_send()` drains what to send on the chosen flow and
    `pop_notification()` what the notifier told us."""

    def __init__(self, target, event, accept, aor, via, contact, route, expires, now, rng,
                 digest=None, t1=500, user_agent=None):
        """`target` the resource's URI (bytes: Request-URI and To); `event` the Event value
        (b"message-summary", may carry ;id=); `accept` the Accept value or None; `aor` our
        AoR URI (the From); `via` our Via without branch; `contact` our Contact URI;
        `route` the pre-loaded Route values (the outbound proxy); `expires` the duration we
        ask for in s (> 0); `digest` a DigestClient for 401/407 or None. Sends the initial
        SUBSCRIBE."""
        if expires <= 0:
            raise ValueError("expires: must be > 0 (a fetch is not a subscription)")
        self.ruri = target
        self.event = event
        self.event_key = event_key(event)
        self.accept = accept
        self.aor = aor
        self.via = via
        self.contact = contact
        self.proxy_route = list(route)
        self.expires = expires
        self.rng = rng
        self.digest = digest
        self.t1 = t1
        self.user_agent = user_agent
        self.state = _SUBSCRIBING
        self.status = 0  # the last failure: SIP status (408 for our timeouts, 0: by NOTIFY)
        self.reason = b""  # its reason phrase, or the Subscription-State reason
        self.granted_s = None  # the duration the notifier granted last (s)
        self.cseq = 0
        self.count = 0  # initial SUBSCRIBEs sent (1 + resubscriptions)
        self.out = []
        self.notifications = []  # (substate, reason, content type, body, NOTIFY)
        self.n_at = self.refresh_at = self.expire_at = self.retry_at = None
        self.retry_wait = 0
        self.stopping = False  # an unsubscribe waits for the dialog to exist
        self._open(now)

    # -- outputs -------------------------------------------------------------------------
    def pop_send(self):
        return self.out.pop(0) if self.out else None

    def pop_notification(self):
        """The oldest notification not yet taken: (substate, reason, content type, body,
        the parsed NOTIFY), or None."""
        return self.notifications.pop(0) if self.notifications else None

    def next_timer(self):
        t = None
        for v in (self.n_at, self.refresh_at, self.expire_at, self.retry_at):
            if v is not None and (t is None or v < t):
                t = v
        return t

    def _open(self, now):
        """A new initial SUBSCRIBE: new Call-ID and From tag, no dialog (§4.1.2.1)."""
        self.call_id = hexlify(self.rng(10)) + b"@" + self.via.split(b" ")[-1]
        self.local_tag = hexlify(self.rng(6))
        self.in_dialog = False
        self.remote_tag = self.remote_cseq = None
        self.route = list(self.proxy_route)
        self.target = self.ruri
        self.settled = False  # the SUBSCRIBE has its 2xx
        self.auth_rounds = 0
        self.start = now
        self.count += 1
        self.refresh_at = self.expire_at = self.retry_at = None
        self._send(_INITIAL, now)

    def _send(self, kind, now):
        """Queue a SUBSCRIBE of `kind` (in the dialog once there is one)."""
        self.kind = kind
        self.cseq += 1
        self.branch = b"z9hG4bK" + hexlify(self.rng(8))
        uri = self.target
        m = request(b"SUBSCRIBE", uri)
        m.add(b"Via", self.via + b";branch=" + self.branch + b";rport")
        for v in self.route:
            m.add(b"Route", v)
        m.add(b"Max-Forwards", b"70")
        m.add(b"From", b"<" + self.aor + b">;tag=" + self.local_tag)
        to = b"<" + self.ruri + b">"
        if self.in_dialog:
            to += b";tag=" + self.remote_tag
        m.add(b"To", to)
        m.add(b"Call-ID", self.call_id)
        m.add(b"CSeq", b"%d SUBSCRIBE" % self.cseq)
        m.add(b"Event", self.event)
        if self.accept:
            m.add(b"Accept", self.accept)
        m.add(b"Expires", b"%d" % (0 if kind == _UNSUBSCRIBE else self.expires))
        m.add(b"Contact", b"<" + self.contact + b">")
        m.add(b"Supported", SUPPORTED)
        if self.user_agent:
            m.add(b"User-Agent", self.user_agent)
        if self.digest is not None:
            h = self.digest.header(b"SUBSCRIBE", uri)
            if h is not None:
                m.add(h[0], h[1])
        self.out.append(m.to_bytes())
        if kind != _REFRESH:
            self.n_at = now + 64 * self.t1

    def _close(self, now):
        self.refresh_at = self.expire_at = None
        self.n_at = now + 64 * self.t1
        self.stopping = not self.in_dialog
        if self.in_dialog:
            self._send(_UNSUBSCRIBE, now)

    # -- inputs --------------------------------------------------------------------------
    def step(self, inp, now):
        """Feed one input; True when it applied in this state."""
        state, acts = lookup(TRANSITIONS, self.state, inp)
        applied = state != self.state or acts != 0
        self.state = state
        if acts & _SEND_NEW:
            self._open(now)
        if acts & _SEND_AGAIN:
            self._send(self.kind, now)
        if acts & _SEND_REFRESH:
            self._send(_REFRESH, now)
        if acts & _SEND_UNSUB:
            self._close(now)
        if acts & _ARM_RETRY:
            self.n_at = self.refresh_at = self.expire_at = None
            self.retry_at = now + self.retry_wait
        if acts & _STOP:
            self.n_at = self.refresh_at = self.expire_at = self.retry_at = None
        if state == ACTIVE or state == PENDING:
            self.n_at = None  # Timer N ends with the first NOTIFY
        return applied

    def unsubscribe(self, now):
        """End the subscription: SUBSCRIBE with Expires: 0 in the dialog (queued until the
        dialog exists), then wait for the terminated NOTIFY or 64*T1. True when it applied."""
        return self.step(_UNSUB, now)

    def refresh(self, now):
        """Refresh now, before the timer: the notifier answers every SUBSCRIBE with a NOTIFY
        of the current state (RFC 6665 §4.2.1.2), which is how a client fetches it again.
        True when it applied (pending or active)."""
        return (self.state == ACTIVE or self.state == PENDING) and self.step(_T_REFRESH, now)

    def _end(self, now, reason, retry_after):
        """The input for a subscription that is over, by the `retry_ms` policy."""
        wait = retry_ms(reason, retry_after, now - self.start, self.t1)
        if wait is None:
            return _ENDED
        if wait == 0:
            return _RESUB
        self.retry_wait = wait
        return _RESUB_LATER

    def _timers(self, now, n):
        """The notifier granted `n` s from now: schedule the refresh and the expiry."""
        if self.state == _UNSUBSCRIBING:
            return
        self.granted_s = n
        self.expire_at = now + n * 1000
        self.refresh_at = now + refresh_ms(n, self.t1, self.rng(1)[0]) if n else None

    def matches(self, msg, event=True):
        """True when `msg` belongs to this subscription: a response to one of its SUBSCRIBEs
        or a NOTIFY of its dialog and Event (package and id, §8.2.1). With `event` False,
        any request or response that carries its Call-ID and tags (a NOTIFY from another
        fork of the SUBSCRIBE does not)."""
        if self.state == _WAITING or self.state == TERMINATED or msg.call_id != self.call_id:
            return False
        if not msg.is_request:
            return msg.from_tag == self.local_tag and (
                not event or msg.cseq_method == b"SUBSCRIBE")
        if msg.to_tag != self.local_tag or self.in_dialog and msg.from_tag != self.remote_tag:
            return False
        return not event or msg.method == b"NOTIFY" and event_key(
            msg.get(b"Event")) == self.event_key

    def receive(self, msg, now):
        """A response to our SUBSCRIBE or a request (NOTIFY) for this subscription; may
        queue an answer or a new SUBSCRIBE. False when it was not ours (a request that is
        not ours still gets its 481 queued)."""
        if msg.is_request:
            return self._on_request(msg, now)
        if not self.matches(msg) or msg.cseq != self.cseq:
            return False  # a response to a SUBSCRIBE we replaced
        st = msg.status
        if st < 200:
            return True
        if st < 300:
            self._response(msg, now)
            return True
        self.status = st
        self.reason = msg.reason
        inp = _RFAIL
        if st == 401 or st == 407:
            self.auth_rounds += 1
            d = self.digest
            if (d is not None and self.auth_rounds <= _MAX_AUTH and d.on_challenge(
                    st, msg.get_all(b"WWW-Authenticate" if st == 401 else b"Proxy-Authenticate"))):
                inp = _RETRY
            else:
                self.reason = b"credentials refused (auth.username/auth.password)"
        elif st == 423:
            try:
                least = parse_uint(msg.get(b"Min-Expires") or b"", 0xFFFFFFFF, "Min-Expires")
            except ParseError:
                least = 0
            if least > self.expires:
                self.expires = least
                inp = _RETRY
        if inp == _RETRY and self.stopping:
            inp = _RFAIL  # nothing was set up yet: nothing to take down
        if inp == _RFAIL and self.kind == _REFRESH:
            # the answers to a refresh that end the subscription (§4.1.2.2)
            if st not in (404, 405, 410, 416, 480, 481, 482, 483, 484, 485, 489, 501, 604):
                return True  # it stands until it expires (§4.1.2.2)
            inp = self._end(now, b"timeout", None)
        self.step(inp, now)
        return True

    def _response(self, msg, now):
        self.auth_rounds = 0
        if self.kind == _UNSUBSCRIBE:
            self.step(_R2XX, now)
            return
        if not self.in_dialog:  # the dialog as the 2xx sets it (RFC 3261 §12.1.2)
            self.in_dialog = True
            self.remote_tag = msg.to_tag
            try:
                self.route = msg.values(b"Record-Route")
            except ParseError:
                self.route = []
            self.route.reverse()
        elif msg.to_tag != self.remote_tag:
            return  # a 2xx from another fork: its NOTIFYs get 481
        c = msg.get(b"Contact")
        if c:
            self.target = addr(c)
        self.settled = True
        try:
            granted = parse_uint(msg.get(b"Expires") or b"", 0xFFFFFFFF, "Expires header")
        except ParseError:
            granted = self.expires  # the 2xx must say; assume what we asked for
        self._timers(now, granted)
        self.step(_R2XX, now)
        if self.stopping:
            self._close(now)

    def answer(self, msg, status, reason=None):
        """Queue our answer to the request `msg` (a NOTIFY, or one that is not for us)."""
        r = response(msg, status, reason)
        if status == 405:
            r.add(b"Allow", ALLOW + b", NOTIFY")
        elif status == 200:
            r.add(b"Contact", b"<" + self.contact + b">")
        self.out.append(r.to_bytes())

    def _on_request(self, msg, now):
        if msg.method == b"ACK":
            return False
        if msg.method != b"NOTIFY":
            if not self.matches(msg, False):
                self.answer(msg, 481)
                return False
            self.answer(msg, 405)
            return True
        if not self.matches(msg):
            self.answer(msg, 481)  # §4.1.3: no subscription of ours
            return False
        if self.remote_cseq is not None and msg.cseq <= self.remote_cseq:
            self.answer(msg, 500)  # RFC 3261 §12.2.2: out of order
            return True
        try:
            sub, reason, expires, retry = parse_state(msg.get_all(b"Subscription-State"))
        except ParseError as e:
            self.answer(msg, 400, e.reason.encode())
            return True
        if not self.in_dialog:  # §4.1.2.4: the NOTIFY came first; as its UAS (RFC 3261 §12.1.1)
            self.in_dialog = True
            self.remote_tag = msg.from_tag
            try:
                self.route = msg.values(b"Record-Route")
            except ParseError:
                self.route = []
        c = msg.get(b"Contact")
        if c:
            self.target = addr(c)  # NOTIFY is a target refresh request
        self.remote_cseq = msg.cseq
        self.answer(msg, 200)
        self.notifications.append((sub, reason, msg.get(b"Content-Type"), msg.body, msg))
        if sub == b"terminated":
            self.status = 0
            self.reason = reason or b"terminated"
            self.step(self._end(now, reason, retry), now)
        elif sub == b"active" or sub == b"pending":
            if expires is not None:
                self._timers(now, expires)
            elif self.expire_at is None:
                self._timers(now, self.expires)  # no 2xx yet, no expires: what we asked for
            self.step(_N_ACTIVE if sub == b"active" else _N_PENDING, now)
        if self.stopping and self.state == _UNSUBSCRIBING:
            self._close(now)
        return True

    def handle_timer(self, now):
        if self.n_at is not None and now >= self.n_at:
            self.n_at = None
            if self.state == _SUBSCRIBING:
                self.status = 408
                self.reason = (b"no NOTIFY after the 2xx (Timer N)" if self.settled
                               else b"no response to SUBSCRIBE (64*T1)")
            self.step(_TIMER_N, now)
        if self.expire_at is not None and now >= self.expire_at:
            self.expire_at = self.refresh_at = None
            self.status = 408
            self.reason = b"expired without a successful refresh"
            self.step(self._end(now, b"timeout", None), now)
        if self.refresh_at is not None and now >= self.refresh_at:
            self.refresh_at = None
            self.step(_T_REFRESH, now)
        if self.retry_at is not None and now >= self.retry_at:
            self.retry_at = None
            self.step(_T_RETRY, now)
