# mpy: heap 320k
# (the certificate stack, 51 KB of code on the unix port, on top of the UA and the fake
# registrar: 256 KB leaves no contiguous block for a NOTIFY with a certificate)
"""RFC 6072 through the UserAgent (tinysip.certservice) on virtual time against
fakeregistrar: subscribing once a flow is up, the trust checks as events, the cache, 437,
revocation, the credential and mutual TLS, resubscribing on a new flow, unsubscribing."""
# the UA imports tinysip.certservice (and x509, sigverify, subscribe) on the first flow up;
# importing it first compiles it while the heap is still empty (MicroPython, 256 KB)
import tinysip.certservice  # noqa: F401, I001
from testutil import read_vector

from fakeregistrar import last_conn, no_internal_errors, registers, setup
import obnames as ob
from tinysip.message import response

AOR = b"sip:alice@lab.test"
NOW = 1760000000  # inside the test certificates' validity (host_tests/data/x509)


def der(name):
    return read_vector("x509/" + name + ".der")


def start(extra=None, ca="rsa_ca", flows=1, clock_set=True, store=None):
    ex = {"certificates.subscribe": ["sip:alice@lab.test"], "certificates.ca": "/f/users.der"}
    ex.update(extra or {})
    link, reg, ua, clock = setup(flows, extra=ex, start=False)
    ua.cfg.certs.store = store  # (what the firmware makes of certificates.cache_dir)
    if ca:
        ua.cfg.certs.ca_der = der(ca)
    if clock_set:
        ua.set_wall_clock(NOW, clock.now)
    link.start()
    return link, reg, ua, clock


def live(ua):
    """The UA's CertService with its code (ua.certsvc is what certservice.park made of it:
    between the UA's calls the code is dropped); the UA goes on with this one."""
    from tinysip.certservice import thaw

    if type(ua.certsvc) is tuple:
        ua.certsvc = thaw(ua.certsvc, ua)
    return ua.certsvc


def subs(reg, start=0):
    return [(c, m) for _, c, m in reg.requests[start:] if m.method == b"SUBSCRIBE"]


def accept(link, conn, sub, expires=600, status=200):
    r = response(sub, status, to_tag=b"svc1")
    r.add(b"Contact", b"<sip:certs@192.0.2.9;transport=tls>")
    r.add(b"Expires", b"%d" % expires)
    link.inject(conn, r.to_bytes())


def notify(link, conn, sub, cseq, body=b"", state=b"active;expires=600",
           ctype=b"application/pkix-cert", frm=AOR, extra=b"", run=True):
    head = (b"NOTIFY sip:alice@198.51.100.7:50001;transport=tls SIP/2.0\r\n"
            b"Via: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKn%d\r\n"
            b"Max-Forwards: 70\r\n"
            b"From: <" % cseq + frm + b">;tag=svc1\r\n"
            b"To: <" + sub.uri + b">;tag=" + sub.from_tag + b"\r\n"
            b"Call-ID: " + sub.call_id + b"\r\n"
            b"CSeq: %d NOTIFY\r\n" % cseq
            + b"Event: " + sub.get(b"Event") + b"\r\n"
            b"Subscription-State: " + state + b"\r\n"
            b"Contact: <sip:certs@192.0.2.9;transport=tls>\r\n" + extra)
    if body:
        head += b"Content-Type: " + ctype + b"\r\n"
    link.inject(conn, head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
    # the checks run at the UA's next handle_timer, due at once, as the driver's loop runs
    # it right after the receive (certservice: apart from the NOTIFY's garbage)
    if run:
        link.run_until(link.clock.now)


def notify_status(reg, cseq):
    for _, _, m in reversed(reg.responses):
        if m.cseq_method == b"NOTIFY" and m.cseq == cseq:
            return m.status
    return None


def subscribed(reg, link, expires=600):
    """The one initial SUBSCRIBE, accepted: (conn, SUBSCRIBE)."""
    s = subs(reg)
    assert len(s) == 1, s
    conn, sub = s[0]
    accept(link, conn, sub, expires)
    return conn, sub


def test_subscribes_once_registered_and_caches_a_ca_signed_certificate():
    link, reg, ua, clock = start()
    conn, sub = subscribed(reg, link)
    assert sub.uri == AOR and sub.get(b"Event") == b"certificate"
    assert sub.get(b"Accept") == b"application/pkix-cert" and sub.get(b"Expires") == b"3600"
    assert sub.get(b"Route") and b";ob" in sub.get(b"Contact")  # through the flow, as GRUU/ob
    leaf = der("rsa_leaf_rsa_ca")
    notify(link, conn, sub, 1, leaf)
    assert notify_status(reg, 1) == 200
    e = link.of("certificate_cached")[-1]
    assert e.aor == AOR and e.trust == "ca" and e.changed is None and len(e.sha256) == 64
    assert ua.certificate(AOR, clock.now) == leaf
    notify(link, conn, sub, 2, leaf)  # the same again: cached, not changed
    assert link.of("certificate_cached")[-1].changed is False
    notify(link, conn, sub, 3, der("ec_leaf_rsa_ca"))  # another key before expiry: reported
    assert link.of("certificate_cached")[-1].changed is True
    no_internal_errors(link)


def test_each_failed_check_is_an_event_and_nothing_is_cached():
    link, reg, ua, clock = start()
    conn, sub = subscribed(reg, link)
    leaf = der("rsa_leaf_rsa_ca")
    cases = ((dict(body=leaf, frm=b"sip:mallory@lab.test"), "from_mismatch"),
             (dict(body=der("expired")), "expired"),
             (dict(body=der("not_yet_valid")), "not_yet_valid"),
             (dict(body=der("ec_leaf_ec_ca")), "san_mismatch"),  # no URI in its SAN
             (dict(body=der("generalized")), "untrusted"),  # not from the configured CA
             (dict(body=leaf[:-4]), "malformed"),
             (dict(body=leaf, ctype=b"text/plain"), "malformed"))
    cseq = 0
    for kw, why in cases:
        cseq += 1
        notify(link, conn, sub, cseq, **kw)
        assert notify_status(reg, cseq) == 200  # the NOTIFY was fine; its content is not
        e = link.of("certificate_rejected")[-1]
        assert e.aor == AOR and e.reason.split(":")[0] == why, (why, e.reason)
    assert len(link.of("certificate_rejected")) == len(cases)
    assert not link.of("certificate_cached") and ua.certificate(AOR, clock.now) is None
    no_internal_errors(link)


def test_an_unreadable_ca_makes_every_certificate_untrusted_and_the_ua_goes_on():
    # app.py refuses such a config at boot; a UA handed one anyway reads the CA with the
    # first NOTIFY (certservice keeps only its subject and key) and says why it trusts none
    link, reg, ua, clock = start()
    ua.cfg.certs.ca_der = der("rsa_ca")[:-5]
    conn, sub = subscribed(reg, link)
    for cseq in (1, 2):
        notify(link, conn, sub, cseq, der("rsa_leaf_rsa_ca"))
        e = link.of("certificate_rejected")[-1]
        assert e.reason.startswith("untrusted: certificates.ca: x509: "), e.reason
    assert not link.of("certificate_cached")
    no_internal_errors(link)


def test_a_heap_that_runs_out_while_checking_is_no_verdict_and_the_next_notify_caches():
    import tinysip.certs as real
    from tinysip.compat import drop

    link, reg, ua, clock = start()
    conn, sub = subscribed(reg, link)
    leaf = der("rsa_leaf_rsa_ca")

    def exhausted(*args):
        raise MemoryError("test: heap exhausted")

    # tinysip.certs as loaded for the check (its check() out of memory), dropped after it
    real.check = exhausted
    try:
        notify(link, conn, sub, 1, leaf)
    finally:
        drop("tinysip.certs")  # (the check drops it too; this for a failing assertion)
    e = link.of("certificate_rejected")[-1]
    assert e.reason.split(":")[0] == "out_of_memory" and not link.of("certificate_cached")
    notify(link, conn, sub, 2, leaf)  # a refresh brings it again, with memory to check it
    assert link.of("certificate_cached")[-1].aor == AOR
    no_internal_errors(link)


def test_the_certificate_code_is_dropped_after_each_notify_and_the_cache_keeps_bytes():
    # issue 16: code that is not needed now is not in RAM. The DER reader, the signature
    # arithmetic and the trust checks load for a NOTIFY and are gone after it; what stays
    # is the cache's bytes, and the next NOTIFY loads them again.
    import sys

    link, reg, ua, clock = start()
    conn, sub = subscribed(reg, link)
    gone = ("tinysip.certs", "tinysip.x509", "tinysip.sigverify", "tinysip.ecdsa", "tinysip.sipdate")
    for n in range(2):
        notify(link, conn, sub, 1 + n, der("rsa_leaf_rsa_ca"))
        assert link.of("certificate_cached")[-1].aor == AOR
        assert [m for m in gone if m in sys.modules] == []
        entry = live(ua).cache.entries[AOR]
        assert isinstance(entry[0], bytes) and len(entry) == 3  # DER, not_after, stored at
    assert ua.certificate(AOR, clock.now) == der("rsa_leaf_rsa_ca")
    # the CA was read at the first NOTIFY: its subject and key stay, not its DER
    assert ua.cfg.certs.ca_der is None and isinstance(live(ua).ca[0], bytes)
    notify(link, conn, sub, 3, b"not DER")  # a rejection drops them too
    assert link.of("certificate_rejected")[-1].reason.startswith("malformed")
    assert [m for m in gone if m in sys.modules] == []
    no_internal_errors(link)


def test_the_checks_run_at_the_next_timer_due_at_once_after_the_answer():
    # issue 16: a NOTIFY is answered in the receive; its checks (the certificate code and
    # its garbage) wait for the handle_timer the driver's loop calls right after it
    link, reg, ua, clock = start()
    conn, sub = subscribed(reg, link)
    notify(link, conn, sub, 1, der("rsa_leaf_rsa_ca"), run=False)
    assert notify_status(reg, 1) == 200 and not link.of("certificate_cached")
    assert ua.next_timer() <= clock.now
    ua.handle_timer(clock.now)
    link.settle()
    assert link.of("certificate_cached")[-1].aor == AOR
    assert ua.next_timer() > clock.now
    no_internal_errors(link)


THREE = ["sip:alice@lab.test", "sip:bob@lab.test", "sip:carol@lab.test"]


def test_a_flow_opens_its_subscriptions_one_at_a_time():
    # issue 16: the REGISTER 200 that brings the flow up sends the first SUBSCRIBE; each of
    # the others goes once the one before it has its NOTIFY and that NOTIFY's check ran
    # (so that no two certificates come in, or are checked, side by side on the phone's
    # heap), in their order, on the same flow, with the first one's Via, Contact, From and
    # Route objects (shared, not copies)
    link, reg, ua, clock = start({"certificates.subscribe": THREE}, flows=2)
    assert [m.uri for _, m in subs(reg)] == [AOR]
    assert ua.next_timer() > clock.now  # the others wait for the first one's NOTIFY
    ua.handle_timer(clock.now)
    link.settle()
    for i in range(3):
        s = subs(reg)
        assert len(s) == i + 1, (i, s)
        c, m = s[i]
        accept(link, c, m)
        link.run_until(clock.now)
        assert len(subs(reg)) == i + 1  # its 200 alone opens nothing
        notify(link, c, m, 1, der("rsa_leaf_rsa_ca"), frm=m.uri)
    s = subs(reg)
    assert [m.uri for _, m in s] == [u.encode() for u in THREE]
    assert len({c for c, _ in s}) == 1 and len({m.call_id for _, m in s}) == 3
    assert len({(m.get(b"Via").split(b";")[0], m.get(b"Contact"), m.get(b"Route"))
                for _, m in s}) == 1
    first, second, third = [e[2] for e in live(ua).entries]
    assert all(a is b is c for a, b, c in zip(first.cfg[3:7], second.cfg[3:7], third.cfg[3:7]))
    assert ua.next_timer() > clock.now
    assert [e.aor for e in link.of("certificate_rejected")] == [b"sip:bob@lab.test",
                                                             b"sip:carol@lab.test"]
    assert [e.aor for e in link.of("certificate_cached")] == [AOR]
    no_internal_errors(link)


def test_a_subscription_that_fails_lets_the_next_one_open():
    # the ones put off wait for the NOTIFY of the one before; a refusal (no NOTIFY comes)
    # ends that wait as well
    link, reg, ua, clock = start({"certificates.subscribe": THREE})
    c, m = subs(reg)[0]
    accept(link, c, m, status=480)
    link.run_until(clock.now)
    assert [x.uri for _, x in subs(reg)] == [AOR, b"sip:bob@lab.test"]
    no_internal_errors(link)


def test_parked_subscriptions_share_their_names_and_equal_values_and_thaw_whole():
    # issue 16: a parked Subscription is a tuple (its attribute names, then the values), not
    # its attribute dict; the three dialogs with one server share their Record-Route and
    # remote target objects, and thawing gives back every attribute as it was
    from tinysip.certservice import park

    link, reg, ua, clock = start({"certificates.subscribe": THREE})
    for i in range(3):  # (one at a time: the next once the last one's NOTIFY is checked)
        c, m = subs(reg)[i]
        r = response(m, 200, to_tag=b"svc1")
        r.add(b"Record-Route", b"<sip:proxy.lab.test;lr>")
        r.add(b"Contact", b"<sip:certs@192.0.2.9;transport=tls>")
        r.add(b"Expires", b"600")
        link.inject(c, r.to_bytes())
        notify(link, c, m, 1, der("rsa_leaf_rsa_ca"), frm=m.uri)
    ua.handle_timer(clock.now)  # (the checks)
    link.settle()
    before = [dict(e[2].__dict__) for e in live(ua).entries]
    p = park(live(ua))
    t = [e[2] for e in p[3]["entries"]]
    assert all(type(x) is tuple for x in t) and t[0][0] is t[1][0] is t[2][0]
    i = t[0][0].index("route") + 1
    j = t[0][0].index("target") + 1
    assert t[0][i] == (b"<sip:proxy.lab.test;lr>",) and t[0][i] is t[1][i] is t[2][i]
    assert t[0][j] is t[1][j] is t[2][j]
    ua.certsvc = p
    assert [e[2].__dict__ for e in live(ua).entries] == before
    n = len(reg.requests)
    link.run_until(clock.now + 600 * 1000)  # each refreshes in its own dialog, as before
    got = sorted((m.call_id, m.get(b"Route")) for _, m in subs(reg, n)[:3])
    assert [x[0] for x in got] == sorted(d["call_id"] for d in before)
    assert {x[1] for x in got} == {b"<sip:proxy.lab.test;lr>"}
    no_internal_errors(link)


def test_a_service_parked_with_subscriptions_to_open_says_no_checks_wait():
    # the UA hands the parked service to certs.handle_timer when checks wait
    # (certservice.park's _P_CHECKS); subscriptions put off are no checks, and while the
    # first one waits for its NOTIFY they are not due either
    from tinysip.certservice import park

    link, reg, ua, clock = start({"certificates.subscribe": THREE})
    p = park(live(ua))
    assert len(p[3]["_due"]) == 2 and p[5] is False and p[0] > clock.now


def test_stop_before_the_next_timer_opens_none_of_the_subscriptions_put_off():
    link, reg, ua, clock = start({"certificates.subscribe": THREE})
    ua.stop(clock.now)
    link.settle()
    ua.handle_timer(clock.now)
    link.settle()
    assert [m.uri for _, m in subs(reg)] == [AOR]  # (its unsubscribe waits for a dialog)
    no_internal_errors(link)


def test_a_subscription_put_off_and_opened_on_demand_meanwhile_is_not_opened_twice():
    link, reg, ua, clock = start({"certificates.subscribe": THREE})
    assert ua.subscribe_certificate(b"sip:carol@lab.test", clock.now)  # (asked: at once)
    ua.handle_timer(clock.now)
    link.settle()
    assert [m.uri for _, m in subs(reg)] == [AOR, b"sip:carol@lab.test"]
    for i in range(2):  # bob's waits for their NOTIFYs; carol's put-off entry is not opened
        c, m = subs(reg)[i]
        accept(link, c, m)
        notify(link, c, m, 1, der("rsa_leaf_rsa_ca"), frm=m.uri)
    assert [m.uri for _, m in subs(reg)] == [AOR, b"sip:carol@lab.test", b"sip:bob@lab.test"]
    no_internal_errors(link)


def test_without_a_wall_clock_nothing_is_trusted_and_a_register_date_sets_it():
    link, reg, ua, clock = start(clock_set=False)
    conn, sub = subscribed(reg, link)
    notify(link, conn, sub, 1, der("rsa_leaf_rsa_ca"))
    assert link.of("certificate_rejected")[-1].reason.startswith("no_clock:")
    assert ua.wall_s(clock.now) is None
    ua.set_wall_clock(NOW, clock.now)
    notify(link, conn, sub, 2, der("rsa_leaf_rsa_ca"))
    assert link.of("certificate_cached")


def test_the_first_register_200_date_sets_the_wall_clock_once():
    link, reg, ua, clock = setup(extra={"certificates.subscribe": ["sip:bob@lab.test"],
                                        "certificates.identity": "/f/domain.der"}, start=False)
    reg.date = b"Thu, 09 Oct 2025 08:53:20 GMT"  # 1760000000
    link.start()
    assert ua.wall_s(clock.now) == NOW
    reg.date = b"Fri, 10 Oct 2025 08:53:20 GMT"
    link.run_until(clock.now + 3600000)  # refreshes: the clock is not moved again
    assert ua.wall_s(clock.now) == NOW + 3600


def test_empty_notify_revokes_and_terminated_without_body_does_not():
    link, reg, ua, clock = start()
    conn, sub = subscribed(reg, link)
    notify(link, conn, sub, 1, der("rsa_leaf_rsa_ca"))
    notify(link, conn, sub, 2)
    assert [e.aor for e in link.of("certificate_revoked")] == [AOR]
    assert ua.certificate(AOR, clock.now) is None
    notify(link, conn, sub, 3, der("rsa_leaf_rsa_ca"))
    notify(link, conn, sub, 4, state=b"terminated;reason=noresource")
    assert len(link.of("certificate_revoked")) == 1
    assert ua.certificate(AOR, clock.now) is not None
    e = link.of("subscription_ended")[-1]
    assert e.uri == AOR and e.package == b"certificate" and e.reason == b"noresource"


def test_437_drops_the_certificate_refetches_and_reports_whether_it_changed():
    link, reg, ua, clock = start()
    conn, sub = subscribed(reg, link)
    leaf = der("rsa_leaf_rsa_ca")
    notify(link, conn, sub, 1, leaf)
    n = len(reg.requests)
    assert ua.certificate_unsupported(AOR, clock.now) is True
    link.settle()
    assert ua.certificate(AOR, clock.now) is None
    (c2, refresh), = subs(reg, n)  # a refresh in the dialog: the service NOTIFYs again
    assert refresh.call_id == sub.call_id and refresh.to_tag == b"svc1"
    assert refresh.cseq == sub.cseq + 1
    notify(link, conn, sub, 2, leaf)
    assert link.of("certificate_cached")[-1].changed is False
    ua.certificate_unsupported(AOR, clock.now)
    link.settle()
    notify(link, conn, sub, 3, der("ec_leaf_rsa_ca"))
    assert link.of("certificate_cached")[-1].changed is True
    no_internal_errors(link)


class Store:
    """A certificate store as certservice.Cache calls it (tinysip.io.certstore keeps
    files): store(aor, der) keeps, store(aor, b"") forgets, store(aor) gives back."""

    def __init__(self, fail=False):
        self.files = {}
        self.fail = fail

    def __call__(self, aor, der=None):
        if der:
            if self.fail:
                raise OSError(28)  # ENOSPC
            self.files[aor] = der
        elif der is None:
            return self.files.get(aor)
        else:
            self.files.pop(aor, None)
        return None


def test_a_store_keeps_the_cached_certificates_out_of_the_heap():
    # config certificates.cache_dir: the DER goes to the store (flash), the cache keeps
    # its dates; what the UA answers and reports is the same as with the DER in the heap
    st = Store()
    link, reg, ua, clock = start(store=st)
    conn, sub = subscribed(reg, link)
    leaf = der("rsa_leaf_rsa_ca")
    notify(link, conn, sub, 1, leaf)
    assert link.of("certificate_cached")[-1].changed is None
    assert st.files == {AOR: leaf} and live(ua).cache.entries[AOR][0] is None
    assert ua.certificate(AOR, clock.now) == leaf
    notify(link, conn, sub, 2, leaf)  # the same again: compared with the stored one
    assert link.of("certificate_cached")[-1].changed is False
    other = der("ec_leaf_rsa_ca")
    notify(link, conn, sub, 3, other)
    assert link.of("certificate_cached")[-1].changed is True and st.files == {AOR: other}
    notify(link, conn, sub, 4)  # revoked: forgotten in the store too
    assert st.files == {} and ua.certificate(AOR, clock.now) is None
    notify(link, conn, sub, 5, leaf)
    n = len(reg.requests)
    assert ua.certificate_unsupported(AOR, clock.now) is True  # 437: dropped, fetched again
    link.settle()
    assert st.files == {} and len(subs(reg, n)) == 1
    notify(link, conn, sub, 6, leaf)
    assert link.of("certificate_cached")[-1].changed is False  # (the dropped one's print)
    st.files.clear()  # the store lost it (a file removed): forgotten, not an error
    assert ua.certificate(AOR, clock.now) is None and AOR not in live(ua).cache.entries
    no_internal_errors(link)


def test_a_certificate_its_store_cannot_take_stays_in_the_heap():
    st = Store(fail=True)
    link, reg, ua, clock = start(store=st)
    conn, sub = subscribed(reg, link)
    leaf = der("rsa_leaf_rsa_ca")
    notify(link, conn, sub, 1, leaf)
    assert link.of("certificate_cached")[-1].aor == AOR
    assert st.files == {} and live(ua).cache.entries[AOR][0] == leaf
    assert ua.certificate(AOR, clock.now) == leaf
    notify(link, conn, sub, 2)
    assert ua.certificate(AOR, clock.now) is None
    no_internal_errors(link)


def test_on_demand_subscription_and_a_refused_one_ends_with_its_status():
    link, reg, ua, clock = start()
    subscribed(reg, link)
    n = len(reg.requests)
    assert ua.subscribe_certificate(b"sip:bob@lab.test", clock.now) is True
    assert ua.subscribe_certificate(b"sip:bob@lab.test", clock.now) is True  # already
    link.settle()
    (conn, sub), = subs(reg, n)
    assert sub.uri == b"sip:bob@lab.test"
    accept(link, conn, sub, status=404)
    e = link.of("subscription_ended")[-1]
    assert e.uri == b"sip:bob@lab.test" and e.status == 404


def test_a_notify_for_no_subscription_gets_481():
    link, reg, ua, clock = start()
    conn, sub = subscribed(reg, link)
    sub.call_id = b"other@x"
    notify(link, conn, sub, 1, der("rsa_leaf_rsa_ca"))
    assert notify_status(reg, 1) == 481 and not link.of("certificate_cached")


def test_a_new_connection_gets_a_new_subscription():
    link, reg, ua, clock = start()
    conn, sub = subscribed(reg, link)
    n = len(reg.requests)
    ua.connection_lost(conn, clock.now)
    link.settle()
    link.run_until(clock.now + 5000)
    assert ua.flows[0].state == ob.UP and last_conn(link) != conn
    (c2, again), = subs(reg, n)
    assert c2 == last_conn(link) and again.call_id != sub.call_id and again.to_tag is None
    no_internal_errors(link)


def test_stop_unsubscribes_before_unregistering():
    link, reg, ua, clock = start()
    conn, sub = subscribed(reg, link)
    notify(link, conn, sub, 1, der("rsa_leaf_rsa_ca"))
    n = len(reg.requests)
    r = len(reg.registers)
    ua.stop(clock.now)
    link.settle()
    (c, unsub), = subs(reg, n)
    assert unsub.get(b"Expires") == b"0" and unsub.call_id == sub.call_id
    assert len(reg.registers) > r  # the de-registration came after it
    assert reg.requests.index((reg.requests[n][0], c, unsub)) == n


def test_stop_with_no_heap_for_the_certificate_service_still_unregisters():
    # the service's code is loaded again to unsubscribe; when the heap cannot hold it at
    # stop, it is let go (the subscriptions end at their expiry) and the flows unregister
    link, reg, ua, clock = start()
    conn, sub = subscribed(reg, link)
    notify(link, conn, sub, 1, der("rsa_leaf_rsa_ca"))

    def no_heap(now):
        raise MemoryError

    live(ua).stop = no_heap
    r = len(reg.registers)
    ua.stop(clock.now)
    link.settle()
    assert ua.certsvc is None
    assert [m.get(b"Expires") for _, _, m in registers(reg, r)] == [b"0"]
    assert link.of("unregistered")


def test_no_certificates_configured_loads_nothing():
    link, reg, ua, clock = setup()
    assert ua.certsvc is None and not subs(reg)
    assert ua.subscribe_certificate(AOR, clock.now) is False


def test_subscriptions_go_over_a_stream_flow_not_udp():
    ex = {"certificates.subscribe": ["sip:alice@lab.test"], "certificates.ca": "/f/users.der"}
    link, reg, ua, clock = setup(2, extra=ex, start=False,
                                 outbound=["sip:edge1.lab.test;transport=udp", "sips:edge2.lab.test"])
    ua.cfg.certs.ca_der = der("rsa_ca")
    ua.set_wall_clock(NOW, clock.now)
    link.start()
    s = subs(reg)
    assert len(s) == 1 and s[0][0] == ua.flows[1].conn  # the TLS flow, never the UDP one
    assert ua.up_flow() is ua.flows[0] and ua.up_flow(True) is ua.flows[1]
    no_internal_errors(link)


def test_a_notifys_checks_run_from_the_parked_service_without_its_code():
    # issue 16: the certificate code (certs, x509, sigverify) is not loaded beside the
    # subscriptions' (certservice, subscribe) at a check's peak: the NOTIFY is answered by
    # the thawed service, which parks with the check queued; the UA runs the check from the
    # parked data (certs.handle_timer), and the events and the cache are as before
    import sys

    link, reg, ua, clock = start()
    conn, sub = subscribed(reg, link)
    seen = []
    ev = ua._ev

    def spy(kind, *args):
        seen.append((kind, [m for m in ("tinysip.certservice", "tinysip.subscribe",
                                        "tinysip.certs", "tinysip.x509") if m in sys.modules]))
        return ev(kind, *args)

    ua._ev = spy
    notify(link, conn, sub, 1, der("rsa_leaf_rsa_ca"), run=False)
    assert notify_status(reg, 1) == 200 and not link.of("certificate_cached")
    ua.next_timer()  # the driver asks once it has done what came in: parked, check queued
    p = ua.certsvc
    assert type(p) is tuple and p[5] is True and len(p[3]["_due"]) == 1
    link.run_until(clock.now)
    assert ("certificate_cached", ["tinysip.certs", "tinysip.x509"]) in seen, seen
    p = ua.certsvc
    assert type(p) is tuple and p[5] is False and p[3]["_due"] == [] and p[0] == p[4]
    assert [m for m in ("tinysip.certservice", "tinysip.subscribe", "tinysip.certs",
                        "tinysip.x509", "tinysip.sigverify") if m in sys.modules] == []
    assert ua.certificate(AOR, clock.now) == der("rsa_leaf_rsa_ca")
    # a revocation queued behind a check, and a terminated subscription's end, the same way
    notify(link, conn, sub, 2, der("rsa_leaf_rsa_ca"), run=False)
    notify(link, conn, sub, 3, state=b"terminated;reason=noresource", run=False)
    link.run_until(clock.now)
    ended = link.of("subscription_ended")
    assert len(ended) == 1 and ended[0].reason == b"noresource", ended
    # (reported by certs.handle_timer too: the service's code still not loaded)
    assert ("subscription_ended", ["tinysip.certs", "tinysip.x509"]) in seen, seen
    assert link.of("certificate_cached")[-1].changed is False
    assert ua.certificate(AOR, clock.now) == der("rsa_leaf_rsa_ca")  # (terminated: kept)
    no_internal_errors(link)


def test_between_its_calls_the_service_is_data_and_its_code_is_dropped():
    # issue 16: the subscriptions' code (certservice, subscribe) is loaded for each thing it
    # does and dropped after; what stays is plain data (certservice.park), from which the UA
    # answers its next timer, whether a message is a subscription's, and the domain key
    import sys

    link, reg, ua, clock = start()
    conn, sub = subscribed(reg, link)
    notify(link, conn, sub, 1, der("rsa_leaf_rsa_ca"))
    code = ("tinysip.certservice", "tinysip.subscribe")
    ua.next_timer()  # (the driver asks once it has done what came in: that parks it)
    assert [m for m in code if m in sys.modules] == []
    p = ua.certsvc
    assert type(p) is tuple and p[1] == (sub.call_id,)
    t = p[3]["entries"][0][2]  # the Subscription as its attribute names, then their values
    assert type(t) is tuple and t[t[0].index("call_id") + 1] == sub.call_id
    due = ua.next_timer()
    assert due is not None and due <= p[0]
    ua.handle_timer(clock.now)  # not due: nothing loads
    assert [m for m in code if m in sys.modules] == [] and ua.certsvc is p
    n = len(reg.requests)
    link.run_until(p[0] + 1)  # the refresh, from the parked data, in the same dialog
    (c2, refresh), = subs(reg, n)
    assert refresh.call_id == sub.call_id and refresh.cseq == sub.cseq + 1
    assert [m for m in code if m in sys.modules] == []
    notify(link, conn, sub, 2, der("rsa_leaf_rsa_ca"))
    assert link.of("certificate_cached")[-1].changed is False
    assert ua.certificate(AOR, clock.now) == der("rsa_leaf_rsa_ca")
    no_internal_errors(link)
