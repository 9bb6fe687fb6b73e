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
returns on the flow it chose), retransmit (SUBSCRIBE runs over the phone's stream flows only:
certservice opens none on UDP).

Transitions (state, input) -> (new state, actions) are the rows of `TRANSITIONS`; an input
without a row in the current state changes nothing. The inputs are decided from the message
by `receive`, and when a subscription is over by the retry policy in `_end`.

Choices the RFC leaves open, made here:
- Refresh (§4.1.2.2 only asks for a refresh before expiry): `_timers`, at a random point
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
from tinysip.compat import const, drop, hexlify, load
from tinysip.errors import ParseError, nth
from tinysip.headers import ALLOW, SUPPORTED, STRIP_WS, addr, element_end, lookup, parse_uint
from tinysip.message import response_bytes
from tinysip.uri import is_token, same

# states (sub.state): private constants, no interned names; certservice keeps copies of the
# three it compares with, the tests of all (test_consts.py holds them equal)
_SUBSCRIBING = const(0)  # initial SUBSCRIBE sent: waiting for its NOTIFY (notify_wait)
_PENDING = const(1)  # the notifier has not decided yet (NOTIFY pending)
_ACTIVE = const(2)  # NOTIFY active: notifications flow, refreshes keep it up
_WAITING = const(3)  # the subscription ended; a new one starts at the retry timer
_UNSUBSCRIBING = const(4)  # Expires: 0 sent (or queued until the dialog exists)
_TERMINATED = const(5)  # over for good: `status`/`reason` say why

# inputs (private: a constant without the _ would be one more interned name)
_R2XX = const(0)  # a 2xx to our latest SUBSCRIBE
_RETRY = const(1)  # a 401/407 we can answer or a 423 with a usable Min-Expires
_RFAIL = const(2)  # the initial SUBSCRIBE (or the unsubscribe) failed
_N_ACTIVE = const(3)  # a NOTIFY with Subscription-State active
_N_PENDING = const(4)
_RESUB = const(5)  # the subscription is over: subscribe again at once
_RESUB_LATER = const(6)  # ... after a wait (`_end`)
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
_ARM_RETRY = const(16)  # wait in _WAITING (_end arms the retry timer)
_STOP = const(32)  # stop every timer

# One row of 4 bytes per transition: state, input, new state, actions (the names of the
# constants above; one bytes object: a tuple of 180 ints held ~1.4 KB on the phone).
TRANSITIONS = (
    b"\x00\x00\x00\x00"  # _SUBSCRIBING, _R2XX -> _SUBSCRIBING, 0: Timer N waits for the NOTIFY
    b"\x00\x01\x00\x02"  # _SUBSCRIBING, _RETRY -> _SUBSCRIBING, _SEND_AGAIN
    b"\x00\x02\x05\x20"  # _SUBSCRIBING, _RFAIL -> _TERMINATED, _STOP: 3xx, 489, any final >= 300
    b"\x00\x03\x02\x00"  # _SUBSCRIBING, _N_ACTIVE -> _ACTIVE, 0
    b"\x00\x04\x01\x00"  # _SUBSCRIBING, _N_PENDING -> _PENDING, 0
    b"\x00\x05\x00\x01"  # _SUBSCRIBING, _RESUB -> _SUBSCRIBING, _SEND_NEW
    b"\x00\x06\x03\x10"  # _SUBSCRIBING, _RESUB_LATER -> _WAITING, _ARM_RETRY
    b"\x00\x07\x05\x20"  # _SUBSCRIBING, _ENDED -> _TERMINATED, _STOP
    b"\x00\x08\x04\x08"  # _SUBSCRIBING, _UNSUB -> _UNSUBSCRIBING, _SEND_UNSUB
    b"\x00\x09\x05\x20"  # _SUBSCRIBING, _TIMER_N -> _TERMINATED, _STOP
    b"\x00\x0a\x00\x04"  # _SUBSCRIBING, _T_REFRESH -> _SUBSCRIBING, _SEND_REFRESH: NOTIFY due
    b"\x01\x00\x01\x00"  # _PENDING, _R2XX -> _PENDING, 0
    b"\x01\x01\x01\x02"  # _PENDING, _RETRY -> _PENDING, _SEND_AGAIN
    b"\x01\x02\x05\x20"  # _PENDING, _RFAIL -> _TERMINATED, _STOP: initial failed after NOTIFY
    b"\x01\x03\x02\x00"  # _PENDING, _N_ACTIVE -> _ACTIVE, 0
    b"\x01\x04\x01\x00"  # _PENDING, _N_PENDING -> _PENDING, 0
    b"\x01\x05\x00\x01"  # _PENDING, _RESUB -> _SUBSCRIBING, _SEND_NEW
    b"\x01\x06\x03\x10"  # _PENDING, _RESUB_LATER -> _WAITING, _ARM_RETRY
    b"\x01\x07\x05\x20"  # _PENDING, _ENDED -> _TERMINATED, _STOP
    b"\x01\x08\x04\x08"  # _PENDING, _UNSUB -> _UNSUBSCRIBING, _SEND_UNSUB
    b"\x01\x0a\x01\x04"  # _PENDING, _T_REFRESH -> _PENDING, _SEND_REFRESH
    b"\x02\x00\x02\x00"  # _ACTIVE, _R2XX -> _ACTIVE, 0
    b"\x02\x01\x02\x02"  # _ACTIVE, _RETRY -> _ACTIVE, _SEND_AGAIN
    b"\x02\x02\x05\x20"  # _ACTIVE, _RFAIL -> _TERMINATED, _STOP
    b"\x02\x03\x02\x00"  # _ACTIVE, _N_ACTIVE -> _ACTIVE, 0
    b"\x02\x04\x01\x00"  # _ACTIVE, _N_PENDING -> _PENDING, 0
    b"\x02\x05\x00\x01"  # _ACTIVE, _RESUB -> _SUBSCRIBING, _SEND_NEW
    b"\x02\x06\x03\x10"  # _ACTIVE, _RESUB_LATER -> _WAITING, _ARM_RETRY
    b"\x02\x07\x05\x20"  # _ACTIVE, _ENDED -> _TERMINATED, _STOP
    b"\x02\x08\x04\x08"  # _ACTIVE, _UNSUB -> _UNSUBSCRIBING, _SEND_UNSUB
    b"\x02\x0a\x02\x04"  # _ACTIVE, _T_REFRESH -> _ACTIVE, _SEND_REFRESH
    b"\x03\x0b\x00\x01"  # _WAITING, _T_RETRY -> _SUBSCRIBING, _SEND_NEW
    b"\x03\x08\x05\x20"  # _WAITING, _UNSUB -> _TERMINATED, _STOP
    b"\x04\x00\x04\x00"  # _UNSUBSCRIBING, _R2XX -> _UNSUBSCRIBING, 0: final NOTIFY still due
    b"\x04\x01\x04\x02"  # _UNSUBSCRIBING, _RETRY -> _UNSUBSCRIBING, _SEND_AGAIN
    b"\x04\x02\x05\x20"  # _UNSUBSCRIBING, _RFAIL -> _TERMINATED, _STOP
    b"\x04\x03\x04\x00"  # _UNSUBSCRIBING, _N_ACTIVE -> _UNSUBSCRIBING, 0: crossed our unsubscribe
    b"\x04\x04\x04\x00"  # _UNSUBSCRIBING, _N_PENDING -> _UNSUBSCRIBING, 0
    b"\x04\x05\x05\x20"  # _UNSUBSCRIBING, _RESUB -> _TERMINATED, _STOP: any reason
    b"\x04\x06\x05\x20"  # _UNSUBSCRIBING, _RESUB_LATER -> _TERMINATED, _STOP
    b"\x04\x07\x05\x20"  # _UNSUBSCRIBING, _ENDED -> _TERMINATED, _STOP
    b"\x04\x09\x05\x20"  # _UNSUBSCRIBING, _TIMER_N -> _TERMINATED, _STOP
)

_RETRY_DEFAULT_MS = const(60000)  # probation/giveup/unknown reason without retry-after
_MAX_AUTH = const(2)  # challenges answered per SUBSCRIBE
_INITIAL = const(0)  # what the latest SUBSCRIBE was
_REFRESH = const(1)
_UNSUBSCRIBE = const(2)
# the timers, by index in Subscription._due (one list: no interned name per timer)
_N = const(0)  # Timer N: the NOTIFY after the initial SUBSCRIBE (or after the unsubscribe)
_REFRESH_AT = const(1)
_EXPIRE = const(2)
_RETRY_AT = const(3)  # _WAITING: the new initial SUBSCRIBE
# what Subscription.cfg holds, by index: its __init__ arguments that never change
_C_RURI = const(0)
_C_EVENT = const(1)
_C_ACCEPT = const(2)
_C_AOR = const(3)
_C_VIA = const(4)
_C_CONTACT = const(5)
_C_ROUTE = const(6)
_C_RNG = const(7)
_C_T1 = const(8)
_C_UA = const(9)

# What the 400s to a bad Subscription-State say, one string (errors.nth): a str constant is
# a heap object on the phone, one string is one object.
_T = ("Subscription-State missing or repeated\nSubscription-State: bad value\n"
      "Subscription-State: bad parameter\nSubscription-State: bad reason\n"
      "Subscription-State expires\nSubscription-State retry-after")


def _params(v):
    """The `;`-separated pieces of the header value v, as offsets, 4 per piece: name start,
    name end, value start (-1 without "="), value end, LWS trimmed; the first piece is one
    name (an "=" in it is kept). split_top's split (quoted strings and <...> kept whole, an
    unclosed one a ParseError), without slicing anything out."""
    out = []
    i = 0
    n = len(v)
    while True:
        q = element_end(v, i, n, 59)
        a, b = i, q
        while a < b and v[a] in STRIP_WS:
            a += 1
        while b > a and v[b - 1] in STRIP_WS:
            b -= 1
        e = v.find(b"=", a, b) if out else -1
        c = b if e < 0 else e
        while c > a and v[c - 1] in STRIP_WS:
            c -= 1
        out.append(a)
        out.append(c)
        if e >= 0:
            e += 1
            while e < b and v[e] in STRIP_WS:
                e += 1
        out.append(e)
        out.append(b)
        if q >= n:
            return out
        i = q + 1


def _same(a, b):
    """True when the Event values a and b name the same event (RFC 6665 §8.2.1): the package
    and the id parameter (the last one; b"" when it has no value) equal byte for byte. An
    absent or unreadable value matches none. Read by offsets, not split."""
    if not a or not b:
        return False
    k = []
    for v in (a, b):
        try:
            p = _params(v)
        except ParseError:
            return False
        i = None
        for j in range(4, len(p), 4):
            if same(v, p[j], p[j + 1], b"id"):
                i = j
        k.append(v[p[0]:p[1]])
        k.append(None if i is None else (v[p[i + 2]:p[i + 3]] if p[i + 2] >= 0 else b""))
    return k[0] == k[2] and k[1] == k[3]


class Subscription:
    """One subscription of ours; `pop_send()` drains what to send on the chosen flow, and
    the owner takes what the notifier told us from the front of `notifications`.

    `settled`: None before the dialog exists, False once a NOTIFY made it (§4.1.2.4), True
    once the SUBSCRIBE has its 2xx. `_due`: the four timers (absolute ms or None), by the
    _N, _REFRESH_AT, _EXPIRE, _RETRY_AT indexes."""

    def __init__(self, target, event, accept, aor, via, contact, route, expires, now, rng,
                 digest=None, t1=500, user_agent=None):
        """`target` the resource's URI (bytes: Request-URI and To); `event` the Event value
        (b"message-summary", may carry ;id=); `accept` the Accept value or None; `aor` our
        AoR URI (the From); `via` our Via without branch; `contact` our Contact URI;
        `route` the pre-loaded Route values (the outbound proxy; a tuple is kept as it is, so
        subscriptions may share it); `expires` the duration we ask for in s (> 0); `digest`
        for 401/407: tinysip.digest's state, or the (username, password, rng) it is made of
        when the first challenge comes, or None. Sends the initial
        SUBSCRIBE."""
        if expires <= 0:
            raise ValueError("expires: must be > 0 (a fetch is not a subscription)")
        # what never changes, one tuple (by the _C_ indexes): an instance's attributes are
        # a hash table that grows (and leaves its old tables as garbage) per attribute
        self.cfg = (target, event, accept, aor, via, contact, tuple(route), rng, t1, user_agent)
        self.digest = digest  # (tinysip.digest's list once a challenge needed it: see receive)
        self.expires = expires
        self.state = _SUBSCRIBING
        self.status = 0  # the last failure: SIP status (408 for our timeouts, 0: by NOTIFY)
        self.reason = b""  # its reason phrase, or the Subscription-State reason
        self.granted_s = None  # the duration the notifier granted last (s)
        self.cseq = 0
        self.count = 0  # initial SUBSCRIBEs sent (1 + resubscriptions)
        self.out = []
        # (substate, reason, content type, body, the parsed NOTIFY) per NOTIFY, oldest first
        self.notifications = []
        self._due = [None, None, None, None]
        self._open(now)

    # -- outputs -------------------------------------------------------------------------
    def pop_send(self):
        return self.out.pop(0) if self.out else None

    def next_timer(self):
        t = None
        for v in self._due:
            if v is not None and (t is None or v < t):
                t = v
        return t

    def _open(self, now):
        """A new initial SUBSCRIBE: new Call-ID and From tag, no dialog (§4.1.2.1)."""
        c = self.cfg
        via = c[_C_VIA]
        self.call_id = hexlify(c[_C_RNG](10)) + b"@" + via[via.rfind(b" ") + 1:]
        self.local_tag = hexlify(c[_C_RNG](6))
        self.settled = None
        self.remote_tag = self.remote_cseq = None
        self.route = c[_C_ROUTE]  # (cfg's tuple, shared: the dialog's route replaces it)
        self.target = c[_C_RURI]
        self.auth_rounds = 0
        self.start = now
        self.count += 1
        t = self._due
        t[_REFRESH_AT] = t[_EXPIRE] = t[_RETRY_AT] = None
        self._send(_INITIAL, now)

    def _send(self, kind, now):
        """Queue a SUBSCRIBE of `kind` (in the dialog once there is one). Written in one go
        from one template: no Message, header list or per-header constants (each bytes
        constant of a module is a heap object on the phone)."""
        ruri, event, accept, aor, via, contact, _, rng, t1, agent = self.cfg
        self.kind = kind
        self.cseq += 1
        branch = hexlify(rng(8))  # (not kept: it is in the bytes sent)
        uri = self.target
        d = self.digest
        h = None
        if type(d) is list:  # challenged before (tinysip.digest's state)
            h = load(b"tinysip.digest header")(d, b"SUBSCRIBE", uri)
            drop("tinysip.digest")
        r = b""
        for v in self.route:
            r += b"Route: %s\r\n" % v
        self.out.append(
            b"SUBSCRIBE %s SIP/2.0\r\nVia: %s;branch=z9hG4bK%s;rport\r\n%sMax-Forwards: 70\r\n"
            b"From: <%s>;tag=%s\r\nTo: <%s>%s%s\r\nCall-ID: %s\r\nCSeq: %d SUBSCRIBE\r\n"
            b"Event: %s\r\n%sExpires: %d\r\nContact: <%s>\r\nSupported: %s\r\n%s%s"
            b"Content-Length: 0\r\n\r\n" % (
                uri, via, branch, r, aor, self.local_tag, ruri,
                b"" if self.settled is None else b";tag=",
                b"" if self.settled is None else self.remote_tag,
                self.call_id, self.cseq, event,
                b"Accept: %s\r\n" % accept if accept else b"",
                0 if kind == _UNSUBSCRIBE else self.expires, contact, SUPPORTED,
                b"User-Agent: %s\r\n" % agent if agent else b"",
                b"%s: %s\r\n" % h if h is not None else b""))
        if kind != _REFRESH:
            self._due[_N] = now + 64 * t1

    def _close(self, now):
        t = self._due
        t[_REFRESH_AT] = t[_EXPIRE] = None
        t[_N] = now + 64 * self.cfg[_C_T1]
        # without a dialog yet, the unsubscribe waits for it: _UNSUBSCRIBING with `settled`
        # None is that wait (the 2xx or the first NOTIFY sends it, see receive)
        if self.settled is not None:
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
        t = self._due
        if acts & _ARM_RETRY:  # (_end sets the retry timer itself)
            t[_N] = t[_REFRESH_AT] = t[_EXPIRE] = None
        if acts & _STOP:
            t[_N] = t[_REFRESH_AT] = t[_EXPIRE] = t[_RETRY_AT] = None
        if state == _ACTIVE or state == _PENDING:
            t[_N] = None  # Timer N ends with the first NOTIFY
        return applied

    def unsubscribe(self, now):
        """End the subscription: SUBSCRIBE with Expires: 0 in the dialog (queued until the
        dialog exists), then wait for the terminated NOTIFY or 64*T1. True when it applied."""
        return self.step(_UNSUB, now)

    def refresh(self, now):
        """Refresh now, before the timer: the notifier answers every SUBSCRIBE with a NOTIFY
        of the current state (RFC 6665 §4.2.1.2), which is how a client fetches it again.
        True when it applied (pending or active)."""
        return (self.state == _ACTIVE or self.state == _PENDING) and self.step(_T_REFRESH, now)

    def _end(self, now, reason, retry_after):
        """The subscription is over (`reason` the Subscription-State reason, lower case bytes
        or None; `retry_after` its retry-after in s or None): the retry policy picks never
        again, at once or after a wait (see the module docstring); feed that input and arm
        the retry timer when it waits."""
        if reason == b"rejected" or reason == b"noresource" or reason == b"invariant":
            wait = None
        elif reason == b"deactivated" or reason == b"timeout":
            wait = 0
        elif retry_after is not None:
            wait = retry_after * 1000
        else:
            wait = _RETRY_DEFAULT_MS
        if wait == 0 and now - self.start < 64 * self.cfg[_C_T1]:
            wait = _RETRY_DEFAULT_MS  # ended as soon as it began: do not loop
        self.step(_ENDED if wait is None else (_RESUB if wait == 0 else _RESUB_LATER), now)
        if wait and self.state == _WAITING:
            self._due[_RETRY_AT] = now + wait

    def _timers(self, now, n):
        """The notifier granted `n` s from now: schedule the expiry and the refresh, at a
        random point (one random byte) from 75 % to 90 % of the grant, at least 64*T1 before
        its end, never before half of it (see the module docstring)."""
        if self.state == _UNSUBSCRIBING:
            return
        self.granted_s = n
        t = self._due
        e = n * 1000
        t[_EXPIRE] = now + e
        t[_REFRESH_AT] = None
        if n:
            c = self.cfg
            at = e * (75 * 255 + 15 * c[_C_RNG](1)[0]) // (100 * 255)
            t[_REFRESH_AT] = now + max(min(at, e - 64 * c[_C_T1]), e // 2)

    def matches(self, msg, event=True):
        """True when `msg` belongs to this subscription: a response to one of its SUBSCRIBEs
        or a NOTIFY of its dialog and Event (package and id, §8.2.1). With `event` False,
        any request or response that carries its Call-ID and tags (a NOTIFY from another
        fork of the SUBSCRIBE does not)."""
        if self.state == _WAITING or self.state == _TERMINATED or msg.call_id != self.call_id:
            return False
        if not msg.is_request:
            return msg.from_tag == self.local_tag and (
                not event or msg.cseq_method == b"SUBSCRIBE")
        if msg.to_tag != self.local_tag or (
                self.settled is not None and msg.from_tag != self.remote_tag):
            return False
        return not event or msg.method == b"NOTIFY" and _same(msg.get(b"Event"),
                                                              self.cfg[_C_EVENT])

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
            ok = d is not None and self.auth_rounds <= _MAX_AUTH
            if ok:
                d = load(b"tinysip.digest challenged")(d, msg)
                drop("tinysip.digest")
                ok = d is not None
            if ok:
                self.digest = d
                inp = _RETRY
            else:
                self.reason = b"credentials refused (auth.username/auth.password)"
        elif st == 423:
            least = parse_uint(msg.get(b"Min-Expires") or b"", 0xFFFFFFFF, None)  # -1: bad
            if least > self.expires:
                self.expires = least
                inp = _RETRY
        if inp == _RETRY and self.state == _UNSUBSCRIBING and self.settled is None:
            inp = _RFAIL  # nothing was set up yet: nothing to take down
        if inp == _RFAIL and self.kind == _REFRESH:
            # the answers to a refresh that end the subscription (§4.1.2.2)
            if st not in (404, 405, 410, 416, 480, 481, 482, 483, 484, 485, 489, 501, 604):
                return True  # it stands until it expires (§4.1.2.2)
            self._end(now, b"timeout", None)
            return True
        self.step(inp, now)
        return True

    def _response(self, msg, now):
        self.auth_rounds = 0
        if self.kind == _UNSUBSCRIBE:
            self.step(_R2XX, now)
            return
        stopping = self.state == _UNSUBSCRIBING and self.settled is None  # (see _close)
        if self.settled is None:  # the dialog as the 2xx sets it (RFC 3261 §12.1.2)
            self.remote_tag = msg.to_tag
            try:
                r = msg.values(b"Record-Route")
            except ParseError:
                r = []
            r.reverse()
            self.route = tuple(r)  # (a tuple: parked subscriptions share an equal one)
        elif msg.to_tag != self.remote_tag:
            return  # a 2xx from another fork: its NOTIFYs get 481
        c = msg.get(b"Contact")
        if c:
            self.target = addr(c)
        self.settled = True
        granted = parse_uint(msg.get(b"Expires") or b"", 0xFFFFFFFF, None)
        if granted < 0:
            granted = self.expires  # the 2xx must say; assume what we asked for
        self._timers(now, granted)
        self.step(_R2XX, now)
        if stopping:
            self._close(now)

    def answer(self, msg, status, reason=None):
        """Queue our answer to the request `msg` (a NOTIFY, or one that is not for us):
        message.response_bytes with an Allow (405) or our Contact (200)."""
        h = self.cfg[_C_CONTACT] if status == 200 else ALLOW
        if status == 200:
            r = response_bytes(msg, 200, reason, b"Contact", (b"<", h, b">"))
        elif status == 405:
            r = response_bytes(msg, 405, reason, b"Allow", (h, b", NOTIFY"))
        else:
            r = response_bytes(msg, status, reason)
        self.out.append(r)

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
        # Subscription-State, exactly one: the substate and the reason, lower-case bytes
        # (reason None when absent), expires and retry-after ints or None; a missing,
        # repeated or malformed one is answered 400 naming the fault. Read by offsets in the
        # one value: only the substate and the reason are sliced out.
        values = msg.get_all(b"Subscription-State")
        try:
            if len(values) != 1:
                raise ParseError(400, nth(_T, 0))
            v = values[0]
            p = _params(v)
            if not is_token(v, None, p[0], p[1]):
                raise ParseError(400, nth(_T, 1))
            reason = expires = retry = None
            for j in range(4, len(p), 4):
                a = p[j]
                c = p[j + 1]
                d = p[j + 2]
                b = p[j + 3]
                if not is_token(v, None, a, c) or d >= b:  # d == b: "=" and no value
                    raise ParseError(400, nth(_T, 2))
                if same(v, a, c, b"reason"):
                    if d < 0 or not is_token(v, None, d, b):
                        raise ParseError(400, nth(_T, 3))
                    reason = v[d:b].lower()
                else:
                    k = 4 if same(v, a, c, b"expires") else (
                        5 if same(v, a, c, b"retry-after") else 0)
                    if k:
                        n = parse_uint(v, 0xFFFFFFFF, None, d, b) if d >= 0 else -1
                        if n < 0:  # the error parse_uint names, with its text
                            parse_uint(v[d:b] if d >= 0 else b"", 0xFFFFFFFF, nth(_T, k))
                        if k == 4:
                            expires = n
                        else:
                            retry = n
        except ParseError as e:
            self.answer(msg, 400, e.reason.encode())
            return True
        sub = v[p[0]:p[1]].lower()
        stopping = self.state == _UNSUBSCRIBING and self.settled is None  # (see _close)
        if self.settled is None:  # §4.1.2.4: the NOTIFY came first; its UAS (RFC 3261 §12.1.1)
            self.settled = False
            self.remote_tag = msg.from_tag
            try:
                self.route = tuple(msg.values(b"Record-Route"))
            except ParseError:
                self.route = ()
        c = msg.get(b"Contact")
        if c:
            self.target = addr(c)  # NOTIFY is a target refresh request
        self.remote_cseq = msg.cseq
        self.answer(msg, 200)
        self.notifications.append((sub, reason, msg.get(b"Content-Type"), msg.body, msg))
        if sub == b"terminated":
            self.status = 0
            self.reason = reason or b"terminated"
            self._end(now, reason, retry)
        elif sub == b"active" or sub == b"pending":
            if expires is not None:
                self._timers(now, expires)
            elif self._due[_EXPIRE] is None:
                self._timers(now, self.expires)  # no 2xx yet, no expires: what we asked for
            self.step(_N_ACTIVE if sub == b"active" else _N_PENDING, now)
        if stopping and self.state == _UNSUBSCRIBING:
            self._close(now)
        return True

    def handle_timer(self, now):
        t = self._due
        if t[_N] is not None and now >= t[_N]:
            t[_N] = None
            if self.state == _SUBSCRIBING:
                self.status = 408
                self.reason = (b"no NOTIFY after the 2xx (Timer N)" if self.settled
                               else b"no response to SUBSCRIBE (64*T1)")
            self.step(_TIMER_N, now)
        if t[_EXPIRE] is not None and now >= t[_EXPIRE]:
            t[_EXPIRE] = t[_REFRESH_AT] = None
            self.status = 408
            self.reason = b"expired without a successful refresh"
            self._end(now, b"timeout", None)
        if t[_REFRESH_AT] is not None and now >= t[_REFRESH_AT]:
            t[_REFRESH_AT] = None
            self.step(_T_REFRESH, now)
        if t[_RETRY_AT] is not None and now >= t[_RETRY_AT]:
            t[_RETRY_AT] = None
            self.step(_T_RETRY, now)
