# mpy: heap 320k
# (as test_ua_certs: the certificate stack on top of the UA and the fake registrar)
"""RFC 6072 §7 through the UserAgent: the credential subscription, its checks, and mutual TLS
(a TLS flow refused for want of a client certificate re-forms with the credential)."""
import tinysip.certservice  # noqa: F401, I001 - compiled first (see test_ua_certs)
from testutil import read_vector

from fakeregistrar import no_internal_errors, setup
from test_ua_certs import AOR, NOW, der, notify, subscribed
import obnames as ob

# -- the credential (RFC 6072 §7) and mutual TLS ------------------------------------------
B = b"cred-boundary"


def cred_body(cert, key):
    return (b"--" + B + b"\r\nContent-Type: application/pkix-cert\r\n\r\n" + cert
            + b"\r\n--" + B + b"\r\nContent-Type: application/pkcs8\r\n\r\n" + key
            + b"\r\n--" + B + b"--\r\n")


def cred_start(policy):
    ex = {"certificates.subscribe": [], "certificates.credential": True,
          "certificates.ca": None}
    link, reg, ua, clock = setup(2, extra=ex, start=False)
    link.connect_policy["edge2.lab.test"] = policy  # a port that wants a client certificate
    ua.set_wall_clock(NOW, clock.now)
    link.start()
    return link, reg, ua, clock


def test_the_credential_is_installed_and_a_refused_tls_flow_reforms_with_it():
    link, reg, ua, clock = cred_start("tls")
    assert ua.flows[1].state == ob.BACKOFF
    conn, sub = subscribed(reg, link)
    assert sub.get(b"Event") == b"credential" and sub.uri == AOR
    assert b"application/pkcs8" in sub.get(b"Accept")
    n = len(link.connects)
    link.connect_policy["edge2.lab.test"] = "ok"
    cert, key = der("cred"), read_vector("x509/cred.key.der")
    notify(link, conn, sub, 1, cred_body(cert, key),
           ctype=b'multipart/mixed;boundary="' + B + b'"')
    e = link.of("credential_installed")[-1]
    assert e.aor == AOR and ua.client_cert == (cert, key)
    c = link.connects[n]
    assert c[2] == "edge2.lab.test" and c[0] == clock.now and c[6] == (cert, key)
    assert ua.flows[1].state == ob.UP
    no_internal_errors(link)


def test_a_credential_whose_key_is_not_its_certificates_is_refused():
    link, reg, ua, clock = cred_start("ok")
    conn, sub = subscribed(reg, link)
    notify(link, conn, sub, 1, cred_body(der("cred"), read_vector("x509/cred_other.key.der")),
           ctype=b"multipart/mixed; boundary=" + B)
    assert link.of("certificate_rejected")[-1].reason.startswith("key_mismatch:")
    notify(link, conn, sub, 2, der("cred"), ctype=b"application/pkix-cert")
    assert link.of("certificate_rejected")[-1].reason.startswith("malformed:")
    assert ua.client_cert is None and not link.of("credential_installed")
