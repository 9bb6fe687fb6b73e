"""RFC 6072 end to end: the firmware (MicroPython unix port) subscribes through a real
Kamailio to a certificate service played by SIPp (host_tests/interop/notifier.py), which
NOTIFYs DER certificates, signed or not by Kamailio's RFC 8224 authentication service
(secsipid); the phone's event lines say what it trusted, rejected or revoked. The credential
package delivers the phone's own certificate and key, with which it registers on a Kamailio
TLS port that requires a client certificate.
"""
import hashlib
import os

import pytest

from notifier import Notifier, subscribes
from phone import Phone, lab_config

ALICE = "sip:alice@lab.test"
T1 = 50  # sip.t1: the "at once" resubscription needs the subscription to have lived 64*T1


def pki(lab, name, ext="der"):
    return os.path.join(lab.pki_dir, "%s.%s" % (name, ext))


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture
def run(lab, tmp_path):
    """run(calls, mac, **certificates) -> (notifier, phone): the service first, then the phone
    subscribing to alice with those `certificates` settings; both stopped after the test."""
    started = []

    def make(calls, mac, ports=None, **certs):
        n = Notifier(lab, tmp_path, calls)
        started.append(n)
        c = {"subscribe": [ALICE]}
        c.update(certs)
        p = Phone(tmp_path, lab_config(lab, mac, ports=ports, certificates=c, sip={"t1": T1}))
        started.append(p)
        return n, p

    yield make
    for x in reversed(started):
        x.stop()


def active(body=None, **kw):
    d = {"state": "active;expires=600", "body": body}
    d.update(kw)
    return d


def test_ca_signed_certificates_are_cached_and_unsubscribed_on_stop(lab, run, tmp_path):
    """RSA PKCS#1 (alice from the RSA user CA), then ECDSA P-256 (alice_ec from the EC lab CA),
    that one cached in a file of certificates.cache_dir (the phone's flash), not its heap."""
    store = str(tmp_path / "certcache")
    for mac, name, ca, extra in (("02:00:00:00:05:01", "alice", "user_ca", {}),
                                 ("02:00:00:00:05:02", "alice_ec", "ca", {"cache_dir": store})):
        n, phone = run([[active(pki(lab, name))]], mac, ca=pki(lab, ca), **extra)
        e = phone.wait_for("certificate_cached", timeout=20)
        assert e["aor"] == ALICE and e["trust"] == "ca" and e["changed"] is None
        assert e["sha256"] == sha256(pki(lab, name))
        if extra:
            files = os.listdir(store)
            assert len(files) == 1 and files[0].endswith(".der"), files
            assert sha256(os.path.join(store, files[0])) == e["sha256"]
        phone.stop()
        code, received = n.finish(timeout=10)
        subs = subscribes(received)
        assert subs[0][1]["event"] == ["certificate"]
        assert subs[0][1]["accept"] == ["application/pkix-cert"]
        assert subs[-1][1]["expires"] == ["0"], "no unsubscribe on shutdown"
        ok = [r for r in received if r[0].startswith("SIP/2.0 200") and
              r[1].get("cseq", [""])[0].endswith("NOTIFY")]
        assert ok, "the phone did not answer the NOTIFY 200"


@pytest.mark.parametrize("case,why", [
    ("from", "from_mismatch"),
    ("alice_expired", "expired"),
    ("alice_future", "not_yet_valid"),
    ("alice_wrongsan", "san_mismatch"),
    ("alice_rogue", "untrusted"),
    ("tampered", "untrusted"),
])
def test_every_failed_check_is_reported_and_nothing_is_cached(lab, run, tmp_path, case, why):
    body, extra = pki(lab, "alice"), {}
    if case == "from":
        extra["from_uri"] = "sip:mallory@lab.test"
    elif case == "tampered":
        with open(body, "rb") as f:
            der = bytearray(f.read())
        der[-10] ^= 0x01  # inside the signature
        body = str(tmp_path / "tampered.der")
        with open(body, "wb") as f:
            f.write(der)
    else:
        body = pki(lab, case)
    mac = "02:00:00:00:05:%02x" % (0x10 + len(case))
    n, phone = run([[active(body, **extra)]], mac, ca=pki(lab, "user_ca"))
    e = phone.wait_for("certificate_rejected", timeout=20)
    assert e["aor"] == ALICE and e["reason"].split(":")[0] == why, e
    assert not phone.named("certificate_cached")


@pytest.mark.parametrize("sign,trusted,why", [
    ("domain", True, None),
    ("rogue", False, "ES256 signature does not verify"),
    (None, False, "no Identity header"),
])
def test_identity_signed_by_the_domain_trusts_a_self_signed_certificate(lab, run, sign,
                                                                        trusted, why):
    mac = "02:00:00:00:05:%02x" % (0x30 + (len(sign) if sign else 0))
    n, phone = run([[active(pki(lab, "alice_self"), sign=sign)]], mac,
                   identity=pki(lab, "identity"))
    if trusted:
        e = phone.wait_for("certificate_cached", timeout=20)
        assert e["trust"] == "identity" and e["sha256"] == sha256(pki(lab, "alice_self"))
    else:
        e = phone.wait_for("certificate_rejected", timeout=20)
        assert e["reason"].startswith("untrusted:") and why in e["reason"], e


def test_deactivated_resubscribes_and_a_new_certificate_is_reported(lab, run):
    calls = [[active(pki(lab, "alice")),
              {"state": "terminated;reason=deactivated", "body": None, "pause_ms": 64 * T1 + 800}],
             [active(pki(lab, "alice_new"))]]
    n, phone = run(calls, "02:00:00:00:05:40", ca=pki(lab, "user_ca"))
    first = phone.wait_for("certificate_cached", timeout=20)
    second = phone.wait_for("certificate_cached", timeout=20, start=first["_index"] + 1)
    assert second["sha256"] == sha256(pki(lab, "alice_new")) != first["sha256"]
    assert second["changed"] is True  # a new key before the old certificate expired
    assert not phone.named("subscription_ended")
    phone.stop()
    _, received = n.finish(timeout=10)
    ids = set(s[1]["call-id"][0] for s in subscribes(received))
    assert len(ids) == 2, "the resubscription must be a new dialog (new Call-ID)"


def test_an_empty_notify_revokes(lab, run):
    n, phone = run([[active(pki(lab, "alice")), active(None)]], "02:00:00:00:05:41",
                   ca=pki(lab, "user_ca"))
    phone.wait_for("certificate_cached", timeout=20)
    e = phone.wait_for("certificate_revoked", timeout=10)
    assert e["aor"] == ALICE and e["package"] == "certificate"


def test_credential_installs_and_registers_on_a_port_that_requires_a_client_cert(lab, run):
    """Flow 0 on the normal TLS port fetches the credential (digest-challenged by Kamailio);
    flow 1, on the mutual-TLS port, is refused until the phone presents it."""
    import pki as labpki  # tools/lab/pki.py

    cred = [[active(pki(lab, "phone1_cred", "multipart"),
                    ctype="multipart/mixed;boundary=" + labpki.CRED_BOUNDARY)]]
    mac = "02:00:00:00:05:50"
    n, phone = run(cred, mac, ports=[lab.port_tls, lab.port_mtls], subscribe=[],
                   credential=True)
    phone.wait_for("registered", flow=0, timeout=20)
    phone.wait_for("flow_failed", flow=1, timeout=20)  # no client certificate yet
    e = phone.wait_for("credential_installed", timeout=20)
    assert e["aor"] == lab.aor("phone1") and e["sha256"] == sha256(pki(lab, "phone1_cred"))
    reg = phone.wait_for("registered", flow=1, timeout=20, start=e["_index"])
    assert reg["reg_id"] == 2
    phone.stop()
    _, received = n.finish(timeout=10)
    s = subscribes(received)  # Kamailio let it through only with phone1's digest (407 first)
    assert s[0][1]["event"] == ["credential"] and s[0][0].startswith("SUBSCRIBE " + lab.aor()), s[0]
