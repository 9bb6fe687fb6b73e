"""RFC 6072 certificates the phone learns: the trust checks.

Owns: deciding whether a certificate that came in a `certificate` or `credential` NOTIFY
may be used (`check`; tinysip.credential cuts a credential body into the certificate and
the PKCS#8 key, loaded only for one). The per-AoR cache is certservice's (it stays loaded; this
module and the DER and signature code it loads are dropped after each NOTIFY).
Must not: subscribe or answer NOTIFYs (tinysip.subscribe and the UA do), read a clock (the
wall-clock time `t`, seconds since 1970, is passed in: on ESP32 it comes from NTP or a
REGISTER 200's Date), parse DER itself (tinysip.x509) or do the arithmetic of signatures
(tinysip.sigverify, tinysip.passport).

The checks run in this order and the first failure is the reason (`CertRejected.args[0]`,
a short token, then a colon and the details):
    from_mismatch   the NOTIFY's From is not the URI we subscribed to (RFC 6072 §6)
    malformed       the body is not a DER certificate we can read
    expired / not_yet_valid   against t
    san_mismatch    no subjectAltName URI equals the AoR
    untrusted       neither signed by the configured CA (RSA PKCS#1 v1.5 / SHA-256 or
                    ECDSA P-256 / SHA-256) nor carried with a valid RFC 8224 Identity
                    (ES256 PASSporT) from the configured domain certificate's key
"""
from tinysip import sigverify, x509
from tinysip.headers import addr
from tinysip.compat import const, drop
from tinysip.errors import ParseError, nth

# x509.Certificate's fields this module reads (copies of x509's _C_ constants: test_consts)
_C_TBS = const(2)
_C_ISSUER = const(3)
_C_SUBJECT = const(4)
_C_SIGNATURE = const(5)
_C_SIG_ALG = const(6)
_C_NOT_BEFORE = const(8)
_C_NOT_AFTER = const(9)
_C_RSA = const(11)
_C_EC_POINT = const(12)
_C_SAN_URIS = const(13)
_C_DER = const(0)
_C_FINGERPRINT = const(1)
_C_KEY_TYPE = const(10)
# tinysip.subscribe's state a parked Subscription's "state" is compared with (test_consts)
_TERMINATED = const(5)
# certservice.park's tuple (certservice's and ua.py's copies: test_consts)
_P_IDS = const(1)
_P_DOMAIN = const(2)
_P_DATA = const(3)
_P_SUBS = const(4)
_OPEN = const(4)  # the length of a subscription put off in _due (certservice's copy)

# The texts of the verdicts, one string (errors.nth), part _T_X:
# loaded with every certificate check, each str constant would be one more heap object.
_T = (
    "from_mismatch: NOTIFY From %s, subscribed to %s\nmalformed: \n"
    "expired: not after %d, now %d\nnot_yet_valid: not before %d, now %d\n"
    "san_mismatch: %s not in subjectAltName %s\n(it has no URIs)\n"
    "not signed by the configured CA\n, Identity: \n, no Identity header\nuntrusted: \n"
    "no_clock: the wall clock is not set (NTP or the Date of a REGISTER 200)\n"
    "malformed: Content-Type %s, not application/pkix-cert\nuntrusted: certificates.ca: \n"
    "malformed: credential key: \n"
    "key_mismatch: the credential's private key is not the key of its certificate"
)
_T_FROM = const(0)
_T_MALFORMED = const(1)
_T_EXPIRED = const(2)
_T_NOT_YET = const(3)
_T_SAN = const(4)
_T_NO_URIS = const(5)
_T_NOT_CA = const(6)
_T_IDENTITY = const(7)
_T_NO_IDENTITY = const(8)
_T_UNTRUSTED = const(9)
_T_NO_CLOCK = const(10)
_T_CONTENT_TYPE = const(11)
_T_CA = const(12)
_T_KEY = const(13)
_T_KEY_MISMATCH = const(14)


class CertRejected(Exception):
    """args[0]: "reason_token: details"."""


def _same(a, b):
    """Loose RFC 3261 §19.1.4 comparison for AoRs: scheme, user and host, without parameters;
    scheme and host case-insensitively, the user exactly. Compared in place (a NOTIFY checks
    one URI per subjectAltName entry): no lowered or split copies."""
    p = []  # per URI: end of the scheme (its ":"), the "@" or -1, end before ";" or "?"
    for u in (a, b):
        e = u.find(b";")
        if e < 0:
            e = len(u)
        i = u.find(b"?", 0, e)
        if i >= 0:
            e = i
        c = u.find(b":", 0, e)
        if c < 0:
            c = e
        p.append(c)
        p.append(u.rfind(b"@", c, e))
        p.append(e)
    ca, ta, ea, cb, tb, eb = p
    # the scheme, the user (none without "@"), the host: a[i:n] and b[k:e] must be equal (an
    # end below its start: empty), letters case-folded when f
    for i, n, k, e, f in ((0, ca, 0, cb, True), (ca + 1, ta, cb + 1, tb, False),
                          (min(max(ta, ca) + 1, ea), ea, min(max(tb, cb) + 1, eb), eb, True)):
        if n - i != e - k and (n > i or e > k):
            return False
        for j in range(n - i):
            x = a[i + j]
            y = b[k + j]
            if x != y and (not f or x | 0x20 != y | 0x20 or not 0x61 <= x | 0x20 <= 0x7A):
                return False
    return True


def anchor(der):
    """What checking a signature needs of the CA certificate in `der`, kept as plain values
    (its parsed form is not kept: a Certificate holds the whole DER and far more): the
    tuple (subject Name DER bytes, RSA (modulus, exponent), EC P-256 point bytes), the key
    of the other type None. ParseError when it is not a certificate we read."""
    c = x509.parse(der)
    return bytes(c[_C_SUBJECT]), c[_C_RSA], c[_C_EC_POINT]


def check(aor, uri, value, der, t, ca=None, header=None, domain=None, trust=None):
    """Run the trust checks on a certificate NOTIFY; the parsed x509.Certificate and how it
    was trusted ("ca" or "identity"), or CertRejected.

    aor: the AoR the certificate must name (bytes URI); uri: the URI we subscribed to;
    value: the NOTIFY's From header value; der: the body; t: the wall-clock time (s since
    1970); ca: the configured CA as an `anchor` tuple (or None); domain: the P-256 public
    key (the uncompressed point, bytes) of the domain certificate that signs Identity
    headers, or None; header: the NOTIFY's Identity header value or None; trust: when
    neither a CA nor a domain is configured, the name of the authenticated channel the
    certificate came over (the credential on a verified TLS flow: "tls"), which is then how
    it is trusted. (The argument names are ones the phone has interned anyway: each new one
    would cost it for good.)
    """
    who = addr(value or b"")
    if not _same(who, uri):
        raise CertRejected(nth(_T, _T_FROM) % (
            who.decode(), uri.decode()))
    try:
        cert = x509.parse(der)
    except ParseError as e:
        raise CertRejected(nth(_T, _T_MALFORMED) + e.reason)
    if t > cert[_C_NOT_AFTER]:
        raise CertRejected(nth(_T, _T_EXPIRED) % (cert[_C_NOT_AFTER], t))
    if t < cert[_C_NOT_BEFORE]:
        raise CertRejected(nth(_T, _T_NOT_YET) % (cert[_C_NOT_BEFORE], t))
    ok = False
    for u in cert[_C_SAN_URIS]:
        if _same(u, aor):
            ok = True
    if not ok:
        raise CertRejected(nth(_T, _T_SAN) % (
            aor.decode(), b", ".join(cert[_C_SAN_URIS]).decode() or nth(_T, _T_NO_URIS)))
    if ca is None and domain is None and trust:
        return cert, trust
    if ca is not None and cert[_C_ISSUER] == ca[0]:
        # signed by the CA: its issuer is the CA's subject (byte for byte, before any
        # signature arithmetic) and the signature verifies with one of the two algorithms
        ok = False
        if cert[_C_SIG_ALG] == "rsa" and ca[1] is not None:  # sha256WithRSAEncryption
            ok = sigverify.rsa_pkcs1_sha256(ca[1][0], ca[1][1], cert[_C_TBS], cert[_C_SIGNATURE])
        elif cert[_C_SIG_ALG] == "ec" and ca[2] is not None:  # ecdsa-with-SHA256
            try:
                from tinysip import ecdsa  # only for an EC-signed certificate

                r, s = x509.ec_signature(cert[_C_SIGNATURE])
                ok = ecdsa.ecdsa_p256_sha256(ca[2], cert[_C_TBS], r, s)
            except ParseError:  # not an ECDSA-Sig-Value: not signed by it
                pass
        if ok:
            return cert, "ca"
    why = nth(_T, _T_NOT_CA)
    if header is not None and domain is not None:
        from tinysip import passport  # only when a NOTIFY carries Identity

        good, info = passport.verify(header, domain)
        if good:
            return cert, "identity"
        why += nth(_T, _T_IDENTITY) + info
    elif header is None:
        why += nth(_T, _T_NO_IDENTITY)
    raise CertRejected(nth(_T, _T_UNTRUSTED) + why)


# -- what a NOTIFY means, for tinysip.certservice --------------------------------------------
# Here rather than in certservice: the UA runs the checks the NOTIFYs left from the parked
# service (`handle_timer`), so that certservice and tinysip.subscribe (~6.6 KB live on 64 bits)
# are not loaded beside this module, x509 and sigverify at the check's peak (issue 16). The
# two functions have names the phone interns anyway (each new one would cost it for good).


def receive(ua, d, e, n, now):
    """What a NOTIFY of certservice's subscription entry `e` means: a revocation (no body),
    else the checks of its body and their verdict, cached, installed or rejected, each an
    event. `n`: (time, e, substate, Content-Type, body[, From, Identity]) as certservice
    queues it; `d`: the service's data as a dict (what certservice.park keeps, or a
    CertService's attributes): "ca" (set here when the configured CA is read, once),
    "domain", "cache" (a Cache's attributes: its "entries" changed in place), "stale"."""
    body = n[4]
    aor = e[0]
    entries = d["cache"]["entries"]
    st = d["cache"]["store"]  # (certservice.Cache: None, or where the DERs are kept)
    if not body:
        if n[2] != b"terminated":
            old = entries.pop(aor, None)
            if old is not None and old[0] is None:
                st(aor, b"")
            if e[1] == b"credential":
                ua.client_cert = None
            ua._ev("certificate_revoked", aor, e[1])
        return
    now_s = ua.wall_s(now)
    value = n[3]
    try:
        if now_s is None:
            raise CertRejected(nth(_T, _T_NO_CLOCK))
        key = None
        if e[1] == b"credential":
            try:
                from tinysip.credential import credential  # only for a credential NOTIFY

                body, key = credential(value, body)
            except ParseError as err:
                raise CertRejected(nth(_T, _T_MALFORMED) + err.reason)
        else:
            t = value or b""
            i = t.find(b";")
            t = (t if i < 0 else t[:i]).strip().lower()
            if t != b"application/pkix-cert":
                raise CertRejected(nth(_T, _T_CONTENT_TYPE) % t.decode())
        c = ua.cfg.certs
        if c.ca_der:  # the CA, read once: each NOTIFY is checked against these few bytes
            try:
                d["ca"] = anchor(c.ca_der)
            except ParseError as err:  # app.py checks it at boot: not expected
                raise CertRejected(nth(_T, _T_CA) + err.reason)
            c.ca_der = None  # nothing reads it again: a KB less held
        cert, how = check(aor, aor, n[5], body, now_s, d["ca"], n[6], d["domain"],
                          "tls" if key is not None and e[3].tls else None)
        if key is not None:  # a credential: its key must be the certificate's
            try:
                kind, pub = x509.pkcs8_public(key)
            except ParseError as err:
                raise CertRejected(nth(_T, _T_KEY) + err.reason)
            if kind != cert[_C_KEY_TYPE] or pub is not None and pub != (
                    cert[_C_RSA][0] if kind == "rsa" else cert[_C_EC_POINT]):
                raise CertRejected(nth(_T, _T_KEY_MISMATCH))
    except CertRejected as err:
        ua._ev("certificate_rejected", aor, err.args[0])
        return
    except MemoryError:  # not a verdict on the certificate: the next refresh's NOTIFY
        # (a constant, not a part of _T: slicing that out could fail here again)
        ua._ev("certificate_rejected", aor, "out_of_memory: not checked; it is checked "
               "again when the subscription's refresh brings it")
        return
    if key is not None:  # the TLS client certificate (flows not up re-form with it at once)
        ua.client_cert = (cert[_C_DER], key)
        ua._ev("credential_installed", aor, cert[_C_FINGERPRINT], cert[_C_NOT_AFTER])
        ua.use_credential(now)
        return
    # cached: (DER, not after, stored at), the DER None when the store took it; `changed`
    # None for a new AoR, False when the same certificate came again, True when it replaces
    # a different one that had not expired (worth reporting: a key change before expiry)
    der = cert[_C_DER]
    old = entries.get(aor)
    was = None if old is None else old[0] if old[0] is not None else st(aor)
    keep = der
    if st is not None:
        try:
            st(aor, der)
            keep = None
        except OSError:  # the store cannot take it (flash full): held here, none stale there
            st(aor, b"")
    entries[aor] = (keep, cert[_C_NOT_AFTER], now_s)
    changed = None if old is None else was != der and now_s <= old[1]
    stale = d["stale"]
    if aor in stale:
        old = stale.pop(aor)
        changed = None if old is None else old != cert[_C_FINGERPRINT]
    ua._ev("certificate_cached", aor, cert[_C_FINGERPRINT], cert[_C_NOT_AFTER], how, changed)


def handle_timer(p, ua, now):
    """Run the checks the NOTIFYs left in the parked certificate service `p` (the tuple
    certservice.park made with checks queued; subscriptions put off may wait behind them,
    and are left for the service) and report the subscriptions that ended behind them, as
    CertService.handle_timer would, but without certservice and tinysip.subscribe loaded.
    Returns the parked tuple again, its next timer now what is due after the checks (the
    subscriptions' timers, the next one to open; the UA thaws the service if that is due
    too). This module and what it loaded are dropped again, whatever happens."""
    d = p[_P_DATA]
    q = d["_due"]
    try:
        i = 0
        while i < len(q):  # the checks; subscriptions put off wait for the service's code
            if len(q[i]) == _OPEN:
                i += 1
            else:
                n = q.pop(i)
                receive(ua, d, n[1], n, now)
        for e in d["entries"]:
            s = e[2]  # a parked Subscription: its attribute names, then their values
            k = s[0] if s is not None else None
            if k is not None and s[k.index("state") + 1] == _TERMINATED and not e[5]:
                e[5] = True
                ua._ev("subscription_ended", e[0], e[1], s[k.index("status") + 1],
                       s[k.index("reason") + 1])
    finally:
        drop("tinysip.certs tinysip.x509 tinysip.sigverify tinysip.ecdsa tinysip.credential "
             "tinysip.sipdate tinysip.passport")
    return p[_P_SUBS], p[_P_IDS], p[_P_DOMAIN], d, p[_P_SUBS], False
