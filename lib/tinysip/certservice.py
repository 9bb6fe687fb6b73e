"""The phone as an RFC 6072 client of its domain's certificate and credential services.

Owns, for the UA: one tinysip.subscribe Subscription per URI of config
`certificates.subscribe` (Event: certificate) and, with `certificates.credential`, one for
the phone's own AoR (Event: credential, over a TLS flow, with digest); what each NOTIFY
means (the certs.check trust checks in the issue's order, the per-AoR Cache, the
credential's multipart body and its key); the 437 re-fetch; and the events
certificate_cached, certificate_revoked, certificate_rejected, credential_installed and
subscription_ended.
Must not: read a clock (the UA passes `now` in ms and its wall clock), open connections or
pick flows on its own (it subscribes on the flow the UA reports up and sends through the
UA), or run when nothing is configured: the UA imports this module only then, so an idle
phone without certificates carries none of it.

Choices the RFC leaves to the client, made here:
- A subscription lives on the flow it was made on: the edge proxy's Record-Route names that
  flow, so its NOTIFYs can only come down that connection. When that connection is gone and
  a flow registers again, the subscription starts afresh on it (new Call-ID); the old one
  ends at the notifier when its NOTIFYs fail (RFC 5626 §5.3: 430).
- The credential carries the phone's private key, so it is only asked for over TLS, and it
  is trusted by the channel (a verified TLS flow to our own domain, digest-authenticated,
  RFC 6072 §7) when no `certificates.ca` is configured; with one, it must chain to it like
  any certificate. Its key must belong to its certificate (key_mismatch otherwise).
- An empty NOTIFY body revokes (RFC 6072 §5.1): the cached certificate is dropped. A
  terminated NOTIFY without a body revokes nothing: the subscription ended, not the
  certificate.
- When a flow comes up, the first of its subscriptions starts at once and the others one at
  a time: the next once the one before it has its NOTIFY (or ended without one: refused,
  Timer N) and that NOTIFY's check ran, at the handle_timer after that check. So no two
  certificates come in, wait or are checked side by side on the phone's heap: all at once,
  the notifier's answers shared TLS reads (the framer then copies a NOTIFY out of a read
  that holds the next one) and two checks queued, the full scenario's peaks (issue 16,
  docs/benchmarks.md: 1-2 KB of smallest heap on 64 bits). It costs a round trip per
  subscription at start. The ones put off keep the Via, Contact, From and Route bytes of
  the first (so they share them on the heap). A flow that loses its connection meanwhile
  opens nothing more; its next flow_up starts them. subscribe() and unsupported() (asked
  for by the application) do not wait.
- A NOTIFY is answered when it comes; its checks run at the next handle_timer, due at
  once (next_timer() returns the NOTIFY's time), before any subscription put off: the
  driver's loop calls it in the same iteration, so the events come out as before, but
  the check no longer shares a heap
  with the receive that brought the NOTIFY (its framing and parse garbage, the receive
  buffer are dead by then: the 32-bit replay's peak went from 60 to 52 KB). Only what
  the check reads is kept meanwhile: body, Content-Type, From and Identity. The checks'
  code is certs.receive; the service may be parked with checks queued (idle), and the UA
  then runs them from the parked data (certs.handle_timer), so that this module and
  tinysip.subscribe are not loaded beside the certificate code at the check's peak.
- 437 Unsupported Certificate from a peer (RFC 6072 §8): `unsupported(aor)` drops the cached
  certificate and asks the service again (a refresh SUBSCRIBE, which makes it NOTIFY the
  current state); the next certificate_cached says in `changed` whether it differs from the
  dropped one.
"""
from tinysip import subscribe
from tinysip.compat import const, drop, sha256_hex

# subscribe's states this module compares with, and x509.Certificate's fields it reads:
# private copies of their constants (test_consts.py holds them equal), no interned names
_PENDING = const(1)
_ACTIVE = const(2)
_TERMINATED = const(5)
_S_N = const(0)  # Subscription._due's Timer N
_C_EC_POINT = const(12)

# What a certificate check loads ("certs x509 sigverify ecdsa sipdate passport": the DER reader,
# the signature arithmetic, the trust checks and PASSporTs) is dropped again after it: only
# the cache's bytes stay. Those module names and the Accept values are written out where
# they are used: a module-level constant would be one more interned name for good.

# _due holds two kinds of entry, told apart by length: a subscription flow_up put off
# (at, entry, what _open returned, the entry's Subscription then) and a NOTIFY's checks (7)
_OPEN = const(4)


# park(): what the UA holds between its calls into this module, a tuple: the earliest timer,
# the subscriptions' Call-IDs, the domain key, the service's own data, the subscriptions'
# earliest timer and whether checks wait (ua.py's and certs.py's copies)
_P_T = const(0)
_P_IDS = const(1)
_P_DOMAIN = const(2)
_P_DATA = const(3)
_P_SUBS = const(4)  # the subscriptions' earliest timer (what is due when the checks are run)
_P_CHECKS = const(5)  # checks wait in _due, and nothing else (as idle() has it when parking)


def park(svc):
    """`svc` as plain data (a tuple, `_P_*`), so that this module and tinysip.subscribe can
    be dropped until the UA needs them again (thaw): a CertService or Subscription object
    would keep its class, hence every function of its module, in RAM. The UA answers from
    the tuple alone what it asks most: the next timer, whether a message's Call-ID is one
    of ours, the domain key for RFC 8224. The service becomes its attribute dict, each
    Subscription a tuple: its attribute names (one tuple, shared by the subscriptions that
    have the same ones) then their values (an empty list as (), the empty tuple, which is
    no object), a bytes or tuple value shared with an equal one
    parked before it (the subscriptions' routes, targets, Via and Contact are the same
    server's): 0.8 KB a subscription less than its attribute dict (issue 16). The
    put-off subscriptions in _due say whether their entry's Subscription is still the one
    they were queued with (handle_timer's identity test) instead of holding it.
    Everything is made before anything is changed: a MemoryError leaves `svc` whole."""
    t = svc.next_timer()
    ts = None  # the subscriptions' earliest timer alone (certs.handle_timer's next)
    for e in svc.entries:
        v = e[2].next_timer() if e[2] is not None else None
        if v is not None and (ts is None or v < ts):
            ts = v
    ids = []
    subs = []
    keys = None
    seen = []  # the bytes and tuples parked so far: an equal one is shared
    for e in svc.entries:
        s = e[2]
        if s is not None:
            ids.append(s.call_id)
            a = s.__dict__
            if keys is None or len(keys) != len(a) or not all(k in a for k in keys):
                keys = tuple(a)  # (else the names parked before it, shared)
            v = [keys]
            for k in keys:
                x = a[k]
                if type(x) is list and not x:
                    x = ()  # (no object: thawed as a new empty list; 64 B each)
                if type(x) is bytes or type(x) is tuple:
                    for y in seen:
                        if type(y) is type(x) and y == x:
                            x = y
                            break
                    else:
                        seen.append(x)
                v.append(x)
            s = tuple(v)
        subs.append(s)
    due = []
    k = svc._checks()  # certs.handle_timer runs them (_P_CHECKS); subscriptions wait for them
    b = svc._blocked()
    for n in svc._due:
        if len(n) == _OPEN:
            if not b and (ts is None or n[0] < ts):
                ts = n[0]  # due once the checks are done
            n = (n[0], n[1], n[2], n[1][2] is n[3])
        due.append(n)
    c = svc.cache.__dict__
    d = dict(svc.__dict__)  # (MicroPython's __dict__ is a read-only copy)
    p = (t, tuple(ids), svc.domain, d, ts, k)
    d["_due"] = due  # (no allocation from here on: stores into what exists)
    d["cache"] = c
    del d["ua"]
    for i in range(len(subs)):
        svc.entries[i][2] = subs[i]
    return p


def thaw(p, ua):
    """The CertService that park() made `p` of, with its Subscriptions, for `ua`; `p` is
    changed only once everything is made (a MemoryError leaves it whole)."""
    svc = _new(CertService, p[_P_DATA])
    svc.ua = ua
    svc.cache = _new(Cache, svc.cache)
    subs = []
    for e in svc.entries:
        t = e[2]
        if t is not None:  # (names, values...) as park() made it
            o = object.__new__(subscribe.Subscription)
            k = t[0]
            for i in range(len(k)):
                v = t[i + 1]
                setattr(o, k[i], [] if v == () else v)  # (an empty list was parked as ())
            t = o
        subs.append(t)
    due = []
    for n in svc._due:
        if len(n) == _OPEN:  # the entry's new Subscription if it was still the queued one
            x = False
            for i in range(len(subs)):
                if n[3] and svc.entries[i] is n[1]:
                    x = subs[i]
            n = (n[0], n[1], n[2], x)
        due.append(n)
    svc._due = due
    for i in range(len(subs)):
        svc.entries[i][2] = subs[i]
    return svc


def _new(cls, d):
    o = object.__new__(cls)  # no __init__: the attributes are the parked ones
    for k in d:
        setattr(o, k, d[k])
    return o


class Cache:
    """Usable certificates per AoR: aor -> (der, not_after, stored at); the fingerprint is
    not kept (64 bytes a certificate): it is the DER's SHA-256, made again when needed.
    Checked certificates are stored by certs.receive (code loaded with the checks).

    `store`: None (the DERs are held here), or the application's store for them, a
    callable (config certificates.cache_dir: a file per AoR in the device's flash,
    tinysip.io.certstore): store(aor, der) keeps der for aor (OSError when it cannot:
    the DER is then held here), store(aor, b"") forgets it, store(aor) gives it back (None
    when it has none). A stored certificate's entry holds None for its DER: three are
    2.3 KB of heap less on 32 bits as on 64 (bytes do not shrink with the word size).

    `get` forgets an entry older than `max_age` s (default one day) or past its not_after.
    Only the DER and two numbers stay per AoR: the parsed form is re-made on demand.
    """

    def __init__(self, max_age=86400, store=None):
        self.max_age = max_age
        self.entries = {}
        self.store = store

    def get(self, aor, t):
        """The DER of aor's usable certificate at wall-clock time `t`, or None."""
        e = self.entries.get(aor)
        if e is None:
            return None
        if t > e[1] or t - e[2] > self.max_age:
            self.drop(aor)
            return None
        return self.der(aor)

    def der(self, aor):
        """The DER cached for aor, whatever its age, or None (its store lost it: forgotten)."""
        e = self.entries.get(aor)
        if e is None or e[0] is not None:
            return None if e is None else e[0]
        d = self.store(aor)
        if d is None:
            del self.entries[aor]
        return d

    def drop(self, aor):
        """Forget aor (revoked, or a 437 Unsupported Certificate for it). True if known."""
        e = self.entries.pop(aor, None)
        if e is not None and e[0] is None:
            self.store(aor, b"")
        return e is not None


class CertService:
    """`entries`, one per subscription: [uri, event, Subscription or None, flow, connection id,
    ended reported].

    `domain`: the P-256 key (uncompressed point) of config certificates.identity, the
    certificate whose key signs Identity headers, or None; `ca`: config certificates.ca as
    certs.anchor's few values (its subject and key), read once at the first NOTIFY (its
    DER is dropped then: the certificate code is loaded for that NOTIFY anyway), or None
    until then. The certificate
    code (x509, signatures, the checks) is imported for each NOTIFY and dropped after it
    (compat.drop): between NOTIFYs the phone holds only the cache's bytes and those.
    """

    def __init__(self, ua):
        c = ua.cfg.certs
        self.ua = ua
        self.cache = Cache(c.max_age, c.store)
        self.domain = self.ca = None  # the CA is read with the first NOTIFY (_check)
        if c.identity_der:  # app.py checked at boot that it is an EC certificate
            from tinysip import x509  # (one name less than "from tinysip.x509 import")

            self.domain = x509.parse(c.identity_der)[_C_EC_POINT]
            c.identity_der = None  # nothing reads it again
            drop("tinysip.x509 tinysip.sipdate")
        self.entries = []
        # what waits for the next handle_timer, due at once, oldest first: the checks, (at,
        # entry, substate, Content-Type, body, From, Identity) per NOTIFY (see _flush), and
        # the subscriptions flow_up put off, (at, entry, what _open returned, the entry's
        # Subscription or None then)
        self._due = []
        self.stale = {}  # aor -> the fingerprint dropped by unsupported()
        for u in c.subscribe:
            self.entries.append([u, b"certificate", None, None, None, False])
        if c.credential:
            self.entries.append([ua.cfg.aor.to_bytes(), b"credential", None, None, None, False])

    # -- what the UA calls -------------------------------------------------------------
    def flow_up(self, f, now):
        """Flow f registered: start every subscription that has none, or whose connection
        is gone, on it (credential: only on a TLS flow); the first at once, the others one
        at a time (see the module docstring)."""
        q = self._due
        a = None
        for e in self.entries:
            s = e[2]
            if s is not None and (s.state == _TERMINATED or e[3].conn == e[4]):
                continue
            if e[1] == b"credential" and not f.tls or f.udp:
                continue  # SUBSCRIBE runs over a stream flow (no retransmission here)
            waits = False  # put off already (by this flow or another one that came up)
            for n in q:
                if len(n) == _OPEN and n[1] is e:
                    waits = True
            if waits:
                continue
            if a is None:
                a = self._open(e, f, now)
            else:
                q.append((now, e, a, s))

    def _open(self, e, a, now):
        """Subscribe e; `a` the flow, or what _open returned for it before (the flow, its
        connection then, and the Via, Contact, From, Route and credentials, shared by the
        subscriptions of one flow_up). Returns that."""
        ua = self.ua
        cfg = ua.cfg
        if not isinstance(a, tuple):
            via, contact = ua._local(a)
            a = (a, a.conn, via, contact, cfg.aor.to_bytes(), (a.registration.route,),
                 (cfg.username, cfg.password, ua.rng))
        f = a[0]
        if f.conn != a[1]:
            return a  # put off, and the flow lost that connection since: not on it
        e[2] = subscribe.Subscription(
            e[0], e[1], b"multipart/mixed, application/pkix-cert, application/pkcs8"
            if e[1] == b"credential" else b"application/pkix-cert",
            a[4], a[2], a[3], a[5], cfg.certs.expires, now, ua.rng, a[6], cfg.t1,
            cfg.user_agent)
        e[3], e[4], e[5] = f, f.conn, False
        self._flush(e, None, now)
        return a

    def subscribe(self, uri, now):
        """Subscribe to `uri`'s certificate on demand (a no-op when already subscribed);
        False when no flow is up yet (it starts with the next flow that registers)."""
        for e in self.entries:
            if e[0] == uri and e[1] == b"certificate":
                if e[2] is not None and e[2].state != _TERMINATED:
                    return True
                break
        else:
            e = [uri, b"certificate", None, None, None, False]
            self.entries.append(e)
        f = self.ua.up_flow(True)
        if f is None:
            e[2] = None
            return False
        self._open(e, f, now)
        return True

    def unsupported(self, aor, now):
        """A peer answered 437 for aor's certificate: drop it and fetch it again. True when
        a certificate was cached."""
        old = self.cache.der(aor)
        if old is not None:
            old = sha256_hex(old)  # its fingerprint
        self.cache.drop(aor)
        self.stale[aor] = old
        for e in self.entries:
            s = e[2]
            if e[0] == aor and e[1] == b"certificate" and s is not None and e[3].conn == e[4] \
                    and (s.state == _ACTIVE or s.state == _PENDING):
                s.refresh(now)
                self._flush(e, None, now)
                return old is not None
        self.subscribe(aor, now)
        return old is not None

    def stop(self, now):
        """Unsubscribe everything (Expires: 0) before the flows unregister; what flow_up put
        off is not opened."""
        q = self._due
        i = 0
        while i < len(q):
            if len(q[i]) == _OPEN:
                q.pop(i)
            else:
                i += 1
        for e in self.entries:
            if e[2] is not None and e[3].conn == e[4]:
                e[2].unsubscribe(now)
                self._flush(e, None, now)

    def idle(self):
        """Checks wait (the UA runs those from the parked service, certs.handle_timer, so
        that this module and tinysip.subscribe are not loaded beside the certificate code at
        a check's peak; subscriptions put off wait for them), or nothing waits to be opened
        and no subscription waits for the NOTIFY of its initial SUBSCRIBE (or of its
        unsubscribe): the UA may park the service (ua.next_timer) rather than load it again
        for answers that come in a moment."""
        return self._checks() or not self._due and not self._blocked()

    def _checks(self):
        """Does a NOTIFY's check wait in _due?"""
        for n in self._due:
            if len(n) != _OPEN:
                return True
        return False

    def _blocked(self):
        """Does a subscription wait for the NOTIFY of its initial SUBSCRIBE (or of its
        unsubscribe)? The ones put off are not opened meanwhile (see the module docstring)."""
        for e in self.entries:
            if e[2] is not None and e[2]._due[_S_N] is not None:
                return True
        return False

    def certificate(self, aor, t):
        """The DER of aor's usable cached certificate at wall-clock time t (s), or None."""
        return self.cache.get(aor, t)

    def next_timer(self):
        t = None
        b = self._blocked()
        for n in self._due:  # (oldest first: the first that may run)
            if len(n) != _OPEN or not b:
                t = n[0]
                break
        for e in self.entries:
            v = e[2].next_timer() if e[2] is not None else None
            if v is not None and (t is None or v < t):
                t = v
        return t

    def handle_timer(self, now):
        """Run what waits in _due: the checks the NOTIFYs left, in their order, then the
        subscriptions flow_up put off, one at a time (the next once the last one's NOTIFY
        came and its check ran); then what the subscriptions' timers want. May queue sends
        and events."""
        q = self._due
        i = 0
        while i < len(q):
            if len(q[i]) == _OPEN:
                i += 1
                continue
            n = q.pop(i)
            self._on_message(n[1], n, now)
            if not self._checks():  # what waited for them: the ended reports (_flush)
                for e in self.entries:
                    if e[2] is not None:
                        self._flush(e, None, now)
        while q and not self._blocked():  # (only subscriptions to open are left)
            n = q.pop(0)
            e = n[1]
            if e[2] is n[3]:  # (else subscribe() or unsupported() opened it meanwhile)
                self._open(e, n[2], now)
        for e in self.entries:
            s = e[2]
            if s is not None:
                t = s.next_timer()
                if t is not None and now >= t:
                    s.handle_timer(now)
                    self._flush(e, None, now)

    def receive(self, msg, conn, now):
        """A message for one of our subscriptions (by Call-ID): True when it was taken.
        Queues its answer; a NOTIFY's checks wait for handle_timer (due at once)."""
        for e in self.entries:
            s = e[2]
            if s is not None and s.call_id == msg.call_id:
                s.receive(msg, now)
                self._flush(e, conn, now)
                return True
        return False

    # -- internals -----------------------------------------------------------------------
    def _flush(self, e, conn, now):
        """Send what the subscription queued (answers on the connection the request came
        in on), act on its notifications, report when it ended for good."""
        s = e[2]
        ua = self.ua
        d = s.pop_send()
        while d is not None:
            if d.startswith(b"SIP/2.0 ") and conn is not None:
                ua._send(conn, d)
            elif e[3].conn == e[4]:
                ua._send(e[4], d)
            d = s.pop_send()
        q = self._due
        while s.notifications:
            sub, _, ctype, body, msg = s.notifications.pop(0)
            if sub == b"active" or sub == b"pending" or sub == b"terminated":  # else ignored
                if body or self._checks():  # a check (or after one): at the next handle_timer
                    q.append((now, e, sub, ctype, body, msg.get(b"From"),
                              msg.get(b"Identity")))
                else:  # a revocation, or a terminated NOTIFY without a body: at once
                    self._on_message(e, (now, e, sub, ctype, body), now)
        if s.state == _TERMINATED and not e[5] and not self._checks():  # (after the checks)
            e[5] = True
            ua._ev("subscription_ended", e[0], e[1], s.status, s.reason)

    def _on_message(self, e, n, now):
        """What a NOTIFY means (certs.receive: `n` as _flush keeps it); the certificate code
        it loads is dropped after it, whatever the verdict."""
        from tinysip import certs

        d = dict(self.__dict__)  # (MicroPython's __dict__ is a read-only copy)
        d["cache"] = self.cache.__dict__  # (its "entries" is the Cache's own dict)
        try:
            certs.receive(self.ua, d, e, n, now)
        finally:
            self.ca = d["ca"]  # the CA, when this NOTIFY read it
            drop("tinysip.certs tinysip.x509 tinysip.sigverify tinysip.ecdsa tinysip.credential "
                 "tinysip.sipdate tinysip.passport")
