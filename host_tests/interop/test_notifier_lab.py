"""Proves the lab side of issue 5 (RFC 6072 certificate service) without the phone.

- tools/lab/pki.py: the user-certificate PKI (user_ca, alice*, identity, phone1_cred and its
  multipart credential body), read back with tinysip's own X.509 reader.
- tools/lab (Kamailio): the secsipid module, the mutual-TLS port, SUBSCRIBEs with Event
  certificate / credential routed to the certificate service (credential behind digest),
  and the edge signing NOTIFYs (RFC 8224 Identity) on `X-Lab-Sign`.
- host_tests/interop/notifier.py: SIPp as the certificate service, scripted per call.

The subscriber is a small test-local TLS client (not tinysip): it talks to the edge's TLS
port as the phone will (pre-loaded Route to the edge, Contact ;ob), so the NOTIFYs come down
its own connection through the edge's Record-Route flow token. Lab on port_base 18100.
"""

import hashlib
import os
import re
import socket
import ssl
import time
import uuid

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives.asymmetric import rsa

import pki
from conftest import peer_unavailable
from notifier import Notifier, notifies, sipp_binary, subscribes
from testutil import (C_CA, C_EC_POINT, C_EXT_KEY_USAGE, C_ISSUER, C_KEY_TYPE, C_NOT_AFTER,
                      C_NOT_BEFORE, C_RSA, C_SAN_URIS, C_SIG_ALG, C_SUBJECT)
from tinysip import passport, x509

PORT_BASE = 18100
USERS = {"phone1": "secret1", "phone2": "secret2"}
TIMEOUT = 8.0


# ------------------------------------------------------------------ a TLS subscriber


def parse(data):
    """bytes -> (start line, [(name, value)], body bytes)."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("utf-8").split("\r\n")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return lines[0], headers, body


def hget(msg, name, default=None):
    name = name.lower()
    for n, v in msg[1]:
        if n.lower() == name:
            return v
    return default


def hall(msg, name):
    name = name.lower()
    return [v for n, v in msg[1] if n.lower() == name]


def tag_of(value):
    m = re.search(r";\s*tag=([^;>\s]+)", value)
    return m.group(1) if m else None


class Subscriber(object):
    """A SUBSCRIBE-ing UA over one TLS connection to the lab's edge (test-local)."""

    def __init__(self, lab, user="phone1", port=None):
        self.lab = lab
        self.user = user
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cafile=lab.ca_pem)
        raw = socket.create_connection((lab.host, port or lab.port_tls), timeout=TIMEOUT)
        self.sock = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        self.buf = b""
        self.lport = self.sock.getsockname()[1]
        self.contact = "sip:%s@127.0.0.1:%d;transport=tls;ob" % (user, self.lport)
        self.edge = "<sip:127.0.0.1:%d;transport=tls;lr>" % lab.port_tls
        self.tag = uuid.uuid4().hex[:8]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def recv(self, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            while self.buf.startswith(b"\r\n"):
                self.buf = self.buf[2:]
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                m = re.search(rb"\r\n(?:Content-Length|l)[ \t]*:[ \t]*(\d+)", self.buf[:end], re.I)
                total = end + 4 + (int(m.group(1)) if m else 0)
                if len(self.buf) >= total:
                    data, self.buf = self.buf[:total], self.buf[total:]
                    return parse(data)
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no complete SIP message from the lab")
            self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("the lab closed the connection")
            self.buf += data

    def subscribe(self, dlg, expires=600, auth=None):
        """Send a SUBSCRIBE in dialog `dlg` (a dict: ruri, to, call_id, cseq, event, and once
        established: route, to_tag, target)."""
        dlg["cseq"] += 1
        established = dlg.get("to_tag") is not None
        lines = ["SUBSCRIBE %s SIP/2.0" % (dlg["target"] if established else dlg["ruri"]),
                 "Via: SIP/2.0/TLS 127.0.0.1:%d;rport;branch=z9hG4bK-%s" % (self.lport, uuid.uuid4().hex[:16])]
        lines += ["Route: " + r for r in (dlg["route"] if established else [self.edge])]
        lines += [
            "Max-Forwards: 70",
            "From: <%s>;tag=%s" % (self.lab.aor(self.user), self.tag),
            "To: <%s>%s" % (dlg["ruri"], (";tag=" + dlg["to_tag"]) if established else ""),
            "Call-ID: " + dlg["call_id"],
            "CSeq: %d SUBSCRIBE" % dlg["cseq"],
            "Contact: <%s>" % self.contact,
            "Event: " + dlg["event"],
            "Accept: application/pkix-cert, multipart/mixed",
            "Supported: outbound",
            "Expires: %d" % expires,
        ]
        if auth:
            lines.append("Proxy-Authorization: " + auth)
        lines += ["Content-Length: 0", "", ""]
        self.sock.sendall("\r\n".join(lines).encode())

    def answer(self, req, status="200 OK"):
        lines = ["SIP/2.0 " + status]
        for name, value in req[1]:
            if name.lower() in ("via", "from", "to", "call-id", "cseq"):
                lines.append("%s: %s" % (name, value))
        lines += ["Content-Length: 0", "", ""]
        self.sock.sendall("\r\n".join(lines).encode())

    def exchange(self, dlg, notifies_wanted, expires=600, auth=None):
        """SUBSCRIBE, then read until its final response and `notifies_wanted` NOTIFYs have
        come (in whatever order Kamailio delivers them; each NOTIFY answered 200). Returns
        (final response, [NOTIFY messages]); a 2xx establishes `dlg`."""
        self.subscribe(dlg, expires=expires, auth=auth)
        final = None
        got = []
        while final is None or len(got) < notifies_wanted:
            msg = self.recv()
            if msg[0].startswith("NOTIFY "):
                self.answer(msg)
                got.append(msg)
            elif msg[0].startswith("SIP/2.0 ") and hget(msg, "CSeq") == "%d SUBSCRIBE" % dlg["cseq"]:
                if msg[0].split()[1][0] != "1":
                    final = msg
                    if not msg[0].startswith("SIP/2.0 2"):
                        break
        if final[0].startswith("SIP/2.0 2") and dlg.get("to_tag") is None:
            dlg["to_tag"] = tag_of(hget(final, "To"))
            rr = [r.strip() for v in hall(final, "Record-Route") for r in v.split(",")]
            dlg["route"] = list(reversed(rr))
            dlg["target"] = hget(final, "Contact").strip("<>").split(">")[0]
        return final, got


def new_dialog(ruri, event):
    return {"ruri": ruri, "event": event, "call_id": uuid.uuid4().hex + "@sub", "cseq": 0}


def digest(challenge, method, uri, user, password):
    """Proxy-Authorization value (MD5, qop=auth when offered) for a Proxy-Authenticate value."""
    params = dict((k.lower(), a or b) for k, a, b in
                  re.findall(r'(\w+)=(?:"([^"]*)"|([^\s,]+))', challenge[len("Digest "):]))
    md5 = lambda s: hashlib.md5(s.encode()).hexdigest()  # noqa: E731
    ha1 = md5("%s:%s:%s" % (user, params["realm"], password))
    ha2 = md5("%s:%s" % (method, uri))
    out = ['username="%s"' % user, 'realm="%s"' % params["realm"], 'nonce="%s"' % params["nonce"],
           'uri="%s"' % uri, "algorithm=MD5"]
    if "auth" in [q.strip() for q in params.get("qop", "").split(",")]:
        cnonce = uuid.uuid4().hex[:12]
        out += ["qop=auth", "nc=00000001", 'cnonce="%s"' % cnonce,
                'response="%s"' % md5("%s:%s:00000001:%s:auth:%s" % (ha1, params["nonce"], cnonce, ha2))]
    else:
        out.append('response="%s"' % md5("%s:%s:%s" % (ha1, params["nonce"], ha2)))
    if "opaque" in params:
        out.append('opaque="%s"' % params["opaque"])
    return "Digest " + ", ".join(out)


def read(path):
    with open(path, "rb") as f:
        return f.read()


# ------------------------------------------------------------------ fixtures


@pytest.fixture
def certlab(lab_factory):
    return lab_factory("certsvc-lab", port_base=PORT_BASE, users=dict(USERS))


@pytest.fixture
def notifier(certlab, tmp_path):
    """make(calls, timeout_s=60) -> a started Notifier; stopped after the test."""
    if sipp_binary() is None:
        peer_unavailable("sipp is not installed (make deps)")
    made = []

    def make(calls, timeout_s=60):
        n = Notifier(certlab, tmp_path, calls, timeout_s=timeout_s)
        made.append(n)
        return n

    yield make
    for n in made:
        n.stop()


@pytest.fixture
def subscriber(certlab):
    subs = []

    def make(user="phone1"):
        s = Subscriber(certlab, user)
        subs.append(s)
        return s

    yield make
    for s in subs:
        s.close()


# ------------------------------------------------------------------ PKI


def test_pki_user_certificates_read_back_with_tinysip_x509(tmp_path):
    paths = pki.make_pki(str(tmp_path))
    der = dict((name, read(paths[name]["der"])) for name in pki.ORDER)
    certs = dict((name, x509.parse(d)) for name, d in der.items())
    crypto = dict((name, cx509.load_der_x509_certificate(d)) for name, d in der.items())
    now = time.time()

    def valid_now(c):
        return c[C_NOT_BEFORE] <= now <= c[C_NOT_AFTER]

    ca = certs["user_ca"]
    assert ca[C_KEY_TYPE] == "rsa" and ca[C_RSA][0].bit_length() == 2048
    assert ca[C_SIG_ALG] == "rsa" and ca[C_CA] and ca[C_ISSUER] == ca[C_SUBJECT]
    assert isinstance(crypto["user_ca"].public_key(), rsa.RSAPublicKey)

    alice_uri = [b"sip:alice@lab.test"]
    expect = {
        # name: (issuer, signature algorithm, SAN URIs, validity)
        "alice": ("user_ca", "rsa", alice_uri, "now"),
        "alice_new": ("user_ca", "rsa", alice_uri, "now"),
        "alice_ec": ("ca", "ec", alice_uri, "now"),
        "alice_expired": ("user_ca", "rsa", alice_uri, "expired"),
        "alice_future": ("user_ca", "rsa", alice_uri, "future"),
        "alice_wrongsan": ("user_ca", "rsa", [b"sip:bob@lab.test"], "now"),
        "alice_rogue": ("rogue_ca", "ec", alice_uri, "now"),
        "alice_self": ("alice_self", "ec", alice_uri, "now"),
        "phone1_cred": ("user_ca", "rsa", [b"sip:phone1@lab.test"], "now"),
        "identity": ("ca", "ec", [], "now"),
        "rogue_identity": ("rogue_ca", "ec", [], "now"),
    }
    for name, (issuer, alg, uris, when) in expect.items():
        c = certs[name]
        assert c[C_KEY_TYPE] == "ec" and len(c[C_EC_POINT]) == 65, name
        assert c[C_ISSUER] == certs[issuer][C_SUBJECT], name
        assert c[C_SIG_ALG] == alg, name
        assert c[C_SAN_URIS] == uris, name
        assert not c[C_CA], name
        # the signature is the issuer's (checked independently of tinysip)
        crypto[name].verify_directly_issued_by(crypto[issuer])
        if when == "now":
            assert valid_now(c), name
        elif when == "expired":
            assert c[C_NOT_AFTER] < now, name
        else:
            assert c[C_NOT_BEFORE] > now + 7 * 86400, name
    assert certs["alice_new"][C_EC_POINT] != certs["alice"][C_EC_POINT]
    assert crypto["identity"].extensions.get_extension_for_class(
        cx509.SubjectAlternativeName).value.get_values_for_type(cx509.DNSName) == ["lab.test"]
    assert certs["rogue_identity"][C_EC_POINT] != certs["identity"][C_EC_POINT]
    # clientAuth
    assert certs["phone1_cred"][C_EXT_KEY_USAGE] == [b"\x2b\x06\x01\x05\x05\x07\x03\x02"]

    # the credential body: RFC 2046 multipart/mixed, cert DER then PKCS#8 DER, binary
    body = read(paths["phone1_cred"]["multipart"])
    assert body == pki.multipart_credential(der["phone1_cred"], read(paths["phone1_cred"]["key_der"]))
    dash = b"--" + pki.CRED_BOUNDARY.encode()
    assert body.startswith(dash + b"\r\n") and body.endswith(b"\r\n" + dash + b"--\r\n")
    parts = body[len(dash) + 2:-(len(dash) + 6)].split(b"\r\n" + dash + b"\r\n")
    assert [p.partition(b"\r\n\r\n")[0] for p in parts] == [
        b"Content-Type: application/pkix-cert", b"Content-Type: application/pkcs8"]
    assert parts[0].partition(b"\r\n\r\n")[2] == der["phone1_cred"]
    assert parts[1].partition(b"\r\n\r\n")[2] == read(paths["phone1_cred"]["key_der"])

    # idempotent: a second call rewrites nothing
    stamps = dict((p, (os.stat(p).st_mtime_ns, read(p))) for e in paths.values() for p in e.values())
    pki.make_pki(str(tmp_path))
    assert stamps == dict((p, (os.stat(p).st_mtime_ns, read(p))) for p in stamps)


# ------------------------------------------------------------------ Kamailio


def test_lab_loads_secsipid_and_has_mtls_and_certsvc_ports(certlab):
    assert (certlab.port_mtls, certlab.port_certsvc) == (PORT_BASE + 5, PORT_BASE + 20)
    assert certlab.ports["mtls"] == PORT_BASE + 5 and certlab.ports["certsvc"] == PORT_BASE + 20
    assert "secsipid" in certlab.rpc("core.modules").split()
    roles = dict((line.split()[0], line.split()[1]) for line in certlab.describe())
    assert roles["mtls"] == "tls" and roles["certsvc"] == "udp"
    assert certlab.proxy_uri("mtls") == "sip:127.0.0.1:%d;transport=tls;lr" % (PORT_BASE + 5)


def test_lab_refuses_to_start_without_secsipid(tmp_path, monkeypatch):
    import lab as lab_module

    fake = tmp_path / "modules"
    fake.mkdir()
    for name in ("tls.so", "outbound.so", "secsipid_proc.so"):
        (fake / name).write_bytes(b"")
    monkeypatch.setattr(lab_module, "find_module_dir", lambda: str(fake))
    with pytest.raises(lab_module.LabError) as e:
        lab_module.Lab(str(tmp_path / "lab"), port_base=PORT_BASE).write_config()
    assert "secsipid.so" in str(e.value) and "kamailio-secsipid-modules" in str(e.value)


def _mtls_pong(lab, cert=None):
    """True if the mutual-TLS port takes a connection (with `cert` as client certificate)
    and answers a CRLFCRLF keep-alive; False if the TLS layer refuses it."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=lab.ca_pem)
    if cert:
        ctx.load_cert_chain(lab.pki(cert)["pem"], lab.pki(cert)["key_pem"])
    raw = socket.create_connection((lab.host, lab.port_mtls), timeout=TIMEOUT)
    try:
        s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        s.sendall(b"\r\n\r\n")
        return s.recv(16) == b"\r\n"
    except (ssl.SSLError, ConnectionError, EOFError):
        return False  # with TLS 1.3 the refusal shows up at the first read
    finally:
        raw.close()


def test_mtls_port_requires_a_client_certificate_from_user_ca(certlab):
    assert _mtls_pong(certlab, None) is False
    assert _mtls_pong(certlab, "alice_rogue") is False  # a certificate, but not from user_ca
    assert _mtls_pong(certlab, "phone1_cred") is True
    # the other TLS ports still take a client without a certificate
    s = Subscriber(certlab)
    s.close()


def test_certificate_subscription_through_kamailio(certlab, notifier, subscriber):
    alice, alice_new, alice_ec = (read(certlab.pki(n)["der"]) for n in ("alice", "alice_new", "alice_ec"))
    n = notifier([
        [dict(body=certlab.pki("alice")["der"]), dict(state="terminated;reason=deactivated")],
        [dict(body=certlab.pki("alice_new")["der"]),
         dict(body=certlab.pki("alice_ec")["der"], from_uri="sip:mallory@lab.test", pause_ms=50)],
    ])
    s = subscriber()
    ruri = certlab.aor("alice")

    d1 = new_dialog(ruri, "certificate")
    final, got = s.exchange(d1, 2)
    assert final[0] == "SIP/2.0 200 OK", (final, n.report())
    assert hget(final, "Expires") == "600"
    # the edge's double Record-Route (its UDP and TLS sides), copied by SIPp into one header
    assert len([r for v in hall(final, "Record-Route") for r in v.split(",")]) == 2
    first, second = got
    assert first[2] == alice  # DER byte-exact through SIPp and Kamailio
    assert hget(first, "Content-Type") == "application/pkix-cert"
    assert hget(first, "Content-Length") == str(len(alice))
    assert hget(first, "Subscription-State") == "active;expires=600"
    assert hget(first, "Event") == "certificate"
    assert hget(first, "From") == "<%s>;tag=%s" % (ruri, d1["to_tag"])
    assert tag_of(hget(first, "To")) == s.tag
    assert hget(first, "Identity") is None and hget(first, "X-Lab-Sign") is None
    assert hget(second, "Subscription-State") == "terminated;reason=deactivated"
    assert second[2] == b"" and hget(second, "Content-Length") == "0"

    # the re-subscription after "deactivated" is the notifier's second scripted call
    d2 = new_dialog(ruri, "certificate")
    final, got = s.exchange(d2, 2)
    assert final[0] == "SIP/2.0 200 OK", (final, n.report())
    assert got[0][2] == alice_new
    assert got[1][2] == alice_ec
    assert hget(got[1], "From") == "<sip:mallory@lab.test>;tag=%s" % d2["to_tag"]

    # in-dialog refresh: through the edge (Route from the Record-Route) to the service,
    # answered 200 + NOTIFY with the last body
    final, got = s.exchange(d2, 1, expires=300)
    assert final[0] == "SIP/2.0 200 OK" and hget(final, "Expires") == "300"
    assert hget(got[0], "Subscription-State") == "active;expires=300"
    assert got[0][2] == alice_ec

    # unsubscribe: 200 + NOTIFY terminated, empty; the call ends
    final, got = s.exchange(d2, 1, expires=0)
    assert final[0] == "SIP/2.0 200 OK" and hget(final, "Expires") == "0"
    assert hget(got[0], "Subscription-State") == "terminated" and got[0][2] == b""

    rc, received = n.finish()
    assert rc == 0, n.report()
    subs = subscribes(received)
    assert len(subs) == 4, [m[0] for m in received]
    assert [m[1]["event"] for m in subs] == [["certificate"]] * 4
    assert [code for code, _ in notifies(received)] == [200] * 6


def test_unscripted_subscribe_is_refused(certlab, notifier, subscriber):
    n = notifier([])
    s = subscriber()
    final, got = s.exchange(new_dialog(certlab.aor("alice"), "certificate"), 0)
    assert final[0].startswith("SIP/2.0 480 "), final
    assert got == []
    rc, received = n.finish()
    assert rc == 0, n.report()
    assert len(subscribes(received)) == 1


def test_a_stray_in_dialog_subscribe_gets_481_and_takes_no_scripted_call(certlab, notifier,
                                                                           subscriber):
    # what Kamailio retransmits over UDP for up to 32 s when the last run's notifier stopped
    # before answering the phone's unsubscribe: a SUBSCRIBE with a To tag, for a dialog this
    # SIPp never had. It must not count as the first initial SUBSCRIBE (make bench's
    # certificate rows saw the third subscription refused 480 when it did).
    alice = read(certlab.pki("alice")["der"])
    n = notifier([[dict(body=certlab.pki("alice")["der"])]])
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(TIMEOUT)
    try:
        u.bind(("127.0.0.1", 0))
        lport = u.getsockname()[1]
        ruri = certlab.aor("alice")
        u.sendto(("SUBSCRIBE sip:certsvc@127.0.0.1:%d SIP/2.0\r\n"
                  "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-stray1\r\n"
                  "Max-Forwards: 69\r\n"
                  "From: <sip:phone1@lab.test>;tag=old1\r\n"
                  "To: <%s>;tag=gone1\r\n"
                  "Call-ID: stray-%s@sub\r\n"
                  "CSeq: 7 SUBSCRIBE\r\n"
                  "Event: certificate\r\n"
                  "Expires: 0\r\n"
                  "Content-Length: 0\r\n\r\n" % (certlab.port_certsvc, lport, ruri,
                                                     uuid.uuid4().hex)).encode(),
                 ("127.0.0.1", certlab.port_certsvc))
        answer = u.recv(4096).decode()
    finally:
        u.close()
    assert answer.startswith("SIP/2.0 481 "), answer
    assert "tag=gone1" in answer  # the stray's own To, no new tag: no dialog made
    final, got = subscriber().exchange(new_dialog(ruri, "certificate"), 1)
    assert final[0] == "SIP/2.0 200 OK", (final, n.report())
    assert got[0][2] == alice  # script 1 served the real initial SUBSCRIBE
    rc, received = n.finish()
    assert rc == 0, n.report()
    assert len(subscribes(received)) == 2


def test_credential_subscription_needs_the_owners_digest(certlab, notifier, subscriber):
    body = read(certlab.pki("phone1_cred")["multipart"])
    ctype = "multipart/mixed;boundary=" + pki.CRED_BOUNDARY
    n = notifier([[dict(body=certlab.pki("phone1_cred")["multipart"], ctype=ctype)]])
    s = subscriber()
    ruri = certlab.aor("phone1")

    d = new_dialog(ruri, "credential")
    final, _ = s.exchange(d, 0)
    assert final[0].startswith("SIP/2.0 407 "), final
    challenge = hget(final, "Proxy-Authenticate")
    assert challenge and 'realm="%s"' % certlab.domain in challenge
    final, got = s.exchange(d, 1, auth=digest(challenge, "SUBSCRIBE", ruri, "phone1", USERS["phone1"]))
    assert final[0] == "SIP/2.0 200 OK", (final, n.report())
    assert hget(got[0], "Event") == "credential"
    assert hget(got[0], "Content-Type") == ctype
    assert got[0][2] == body  # binary multipart byte-exact

    # another authenticated user cannot fetch phone1's credential
    other = subscriber("phone2")
    d2 = new_dialog(ruri, "credential")
    final, _ = other.exchange(d2, 0)
    assert final[0].startswith("SIP/2.0 407 "), final
    auth = digest(hget(final, "Proxy-Authenticate"), "SUBSCRIBE", ruri, "phone2", USERS["phone2"])
    final, _ = other.exchange(d2, 0, auth=auth)
    assert final[0] == "SIP/2.0 403 Forbidden - not your credential", final

    final, got = s.exchange(d, 1, expires=0)
    assert final[0] == "SIP/2.0 200 OK"
    rc, received = n.finish()
    assert rc == 0, n.report()
    assert len(subscribes(received)) == 2  # phone2's never reached the service


def test_x_lab_sign_makes_the_edge_add_an_identity_header(certlab, notifier, subscriber):
    cert = certlab.pki("alice_self")["der"]
    n = notifier([[dict(body=cert, sign="domain"), dict(body=cert, sign="rogue"), dict(body=cert)]])
    s = subscriber()
    d = new_dialog(certlab.aor("alice"), "certificate")
    final, (signed, rogue, plain) = s.exchange(d, 3)
    assert final[0] == "SIP/2.0 200 OK", (final, n.report())
    point = x509.parse(read(certlab.pki("identity")["der"]))[C_EC_POINT]
    rogue_point = x509.parse(read(certlab.pki("rogue_identity")["der"]))[C_EC_POINT]

    value = hget(signed, "Identity")
    assert value is not None, signed
    ok, claims = passport.verify(value, point)
    assert ok, claims
    assert claims["orig"] == {"tn": "alice"} and claims["dest"] == {"tn": ["phone1"]}
    assert isinstance(claims["iat"], int) and abs(claims["iat"] - time.time()) < 3600
    assert claims["attest"] == "A"
    params = passport.parse_identity(value)[3]
    assert params[b"info"] == certlab.identity_x5u.encode()
    assert params[b"alg"] == b"ES256" and params[b"ppt"] == b"shaken"
    assert signed[2] == read(cert)

    value = hget(rogue, "Identity")
    assert value is not None, rogue
    assert passport.verify(value, point) == (False, "ES256 signature does not verify")
    assert passport.verify(value, rogue_point)[0] is True  # a real signature, by the wrong key

    assert hget(plain, "Identity") is None
    for msg in (signed, rogue, plain):
        assert hget(msg, "X-Lab-Sign") is None  # never relayed

    final, _ = s.exchange(d, 1, expires=0)
    rc, _ = n.finish()
    assert rc == 0, n.report()
