"""Issue 15, finding 1 (lab side): the edge (tools/lab/kamailio.cfg, the reference deployment)
is the phones' trust boundary on every listener.

A raw TLS UA (test_lab.Phone, not tinysip) registers phone1 and shows what reaches it; callers
are raw UDP, TCP and TLS peers (python ssl). Each test fails against the edge before issue 15,
which challenged only INVITEs on the public UDP port without a Route: an INVITE on the TCP or
TLS listener, or on UDP with a Route (the edge's own or a copied flow token), claiming the
allowed caller in From and in its own P-Asserted-Identity reached the UA unauthenticated;
stray replies were forwarded, bursts and malformed requests relayed, and anyone could have a
NOTIFY signed by the domain (X-Lab-Sign). Labs on port_base 21060 (this module), 21160 (rate
limit) and 21260 (the plain profile).
"""
import re
import socket
import time
import uuid

import pytest

from conftest import start_lab
from lab import Lab
from test_lab import phone  # noqa: F401  (the fixture, registering in this module's lab)
from test_lab import (Phone, Stream, UdpPeer, digest, hdr, hdrs, parse_challenge, response_to,
                      tls_context)

PORT_BASE = 21060
USERS = {"phone1": "secret1", "phone2": "secret2", "tester": "testpw"}
ALLOWED = "sip:tester@lab.test"  # whom a phone would auto-answer
QUIET = 1.0  # how long "nothing reached the UA" is watched


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """This module's own lab (the session lab stays untouched by its bursts): test_lab's
    `phone` fixture registers there."""
    instance = Lab(str(tmp_path_factory.mktemp("kamailio-edge")), port_base=PORT_BASE, users=USERS)
    start_lab(instance)
    yield instance
    instance.close()


@pytest.fixture
def edge(lab):
    """The same lab, named for the role under test."""
    return lab


@pytest.fixture
def ua(phone):
    """phone1 registered over TLS with outbound; `path` is its Path (with the flow token)."""
    phone.path = hdr(phone.responses[-1][1], "Path")
    return phone


class StreamPeer(UdpPeer):
    """UdpPeer's requests over one TCP or TLS connection to an edge listener."""

    def __init__(self, lab, port, tls):
        self.lab = lab
        raw = socket.create_connection((lab.host, port), timeout=5)
        self.sock = tls_context(lab).wrap_socket(raw, server_hostname="127.0.0.1") if tls else raw
        self.proto = "TLS" if tls else "TCP"
        self.port = self.sock.getsockname()[1]
        self.uri = "sip:peer@127.0.0.1:%d;transport=%s" % (self.port, self.proto.lower())
        self.stream = Stream(self.sock)

    def request(self, *args, **kw):
        via = ("SIP/2.0/" + self.proto).encode()
        return UdpPeer.request(self, *args, **kw).replace(b"SIP/2.0/UDP", via, 1)

    def send(self, data, port=None):
        self.stream.send(data)

    def recv_message(self, timeout=5.0, skip_provisional=True):
        while True:
            msg = self.stream.recv_message(timeout)
            if not (skip_provisional and re.match(r"SIP/2\.0 1\d\d ", msg[0])):
                return msg

    def close(self):
        self.stream.close()


def peer_for(lab, how):
    """(peer, Route values) for one way into the edge; see CALLERS."""
    if how == "tcp":
        return StreamPeer(lab, lab.port_tcp, False), ()
    if how == "tls":
        preloaded = "<sip:127.0.0.1:%d;transport=tls;lr>" % lab.port_tls
        return StreamPeer(lab, lab.port_tls, True), (preloaded,)
    if how == "tls2":
        return StreamPeer(lab, lab.port_tls2, True), ()
    return UdpPeer(lab), ("<sip:127.0.0.1:%d;lr>" % lab.port_udp,)


# every way a caller reached a UA unauthenticated before: TCP without a Route, TLS with the
# Route a UA pre-loads, the second TLS port, UDP with a Route naming the edge
CALLERS = ("tcp", "tls", "tls2", "udp+route")


def forged(peer, method, ruri, routes, call_id, cseq=1, auth=None, extra=()):
    """`method` claiming the allowed caller in From, in its own P-Asserted-Identity and in a
    P-Preferred-Identity; with Proxy-Authorization when `auth` is given."""
    lines = ("P-Asserted-Identity: <%s>" % ALLOWED, "P-Preferred-Identity: <%s>" % ALLOWED,
             "Answer-Mode: Auto") + tuple(extra)
    if auth:
        lines += ("Proxy-Authorization: " + auth,)
    data = peer.request(method, ruri, call_id=call_id, cseq=cseq, routes=routes, extra=lines)
    return data.replace(("From: <%s>" % peer.uri).encode(), ("From: <%s>" % ALLOWED).encode(), 1)


def nothing_reaches(ua, timeout=QUIET):
    try:
        got = ua.stream.recv_message(timeout=timeout)
    except socket.timeout:
        return
    raise AssertionError("reached the UA: %r" % (got,))


def challenged_then_asserted(edge, ua, peer, method, routes, extra=(), user="tester"):
    """The request is answered 407 and nothing reaches the UA; sent again with `user`'s
    digest it reaches the UA asserted as that user, the caller's own claims gone."""
    ruri = edge.aor("phone1")
    call_id = uuid.uuid4().hex + "@edge"
    peer.send(forged(peer, method, ruri, routes, call_id, extra=extra))
    first = peer.recv_message()
    assert first[0] == "SIP/2.0 407 Proxy Authentication Required", first
    nothing_reaches(ua)
    auth = digest("MD5", parse_challenge(hdr(first[1], "Proxy-Authenticate")), method, ruri,
                  user=user, password=USERS[user])
    peer.send(forged(peer, method, ruri, routes, call_id, cseq=2, auth=auth, extra=extra))
    got = ua.stream.recv_message()
    assert got[0].startswith(method + " "), got
    assert hdrs(got[1], "P-Asserted-Identity") == ["<sip:%s@lab.test>" % user], got
    assert hdrs(got[1], "P-Preferred-Identity") == [] and hdr(got[1], "Proxy-Authorization") is None
    ua.stream.send(response_to(got, "486 Busy Here"))
    final = peer.recv_message()
    assert final[0] == "SIP/2.0 486 Busy Here", final
    assert ua.stream.recv_message()[0].startswith("ACK "), "the proxy ACKs the 486 hop by hop"
    return got


@pytest.mark.parametrize("how", CALLERS)
def test_an_invite_claiming_the_allowed_caller_is_challenged_on_every_listener(edge, ua, how):
    peer, routes = peer_for(edge, how)
    try:
        challenged_then_asserted(edge, ua, peer, "INVITE", routes)
    finally:
        peer.close()


def test_a_copied_flow_token_leads_no_caller_past_the_challenge(edge, ua):
    """The Path flow token, as Record-Route shows it to anyone in a call, named in a Route:
    straight down the UA's flow, never through the registrar role."""
    peer = UdpPeer(edge)
    try:
        assert ua.path and ";ob" in ua.path
        got = challenged_then_asserted(edge, ua, peer, "INVITE", (ua.path,))
        assert got[0] == "INVITE %s SIP/2.0" % edge.aor("phone1"), got  # not via lookup
    finally:
        peer.close()


def test_the_registrar_port_takes_requests_from_the_edge_only(edge, ua):
    """The registrar role's requests down to a UA are inside; a caller sending straight to
    its port (reachable here, on 127.0.0.1) must not get its INVITE down as theirs."""
    peer = UdpPeer(edge)
    try:
        peer.send(forged(peer, "INVITE", edge.aor("phone1"), (), uuid.uuid4().hex + "@edge"),
                  port=edge.port_registrar)
        answer = peer.recv_message()
        assert answer[0] == ("SIP/2.0 403 Forbidden - the registrar takes requests from the "
                             "edge only"), answer
        nothing_reaches(ua)
    finally:
        peer.close()


@pytest.mark.parametrize("method,extra", [
    ("SUBSCRIBE", ("Event: presence", "Expires: 60")),
    ("SUBSCRIBE", ("Event: credential", "Expires: 60")),  # another user's credential
    ("REFER", ("Refer-To: <sip:tester@lab.test>",)),
])
def test_subscribe_and_refer_are_dialog_creating_too(edge, ua, method, extra):
    peer, routes = peer_for(edge, "tls")
    try:
        ruri = edge.aor("phone1")
        peer.send(forged(peer, method, ruri, routes, uuid.uuid4().hex + "@edge", extra=extra))
        first = peer.recv_message()
        assert first[0] == "SIP/2.0 407 Proxy Authentication Required", first
        nothing_reaches(ua)
    finally:
        peer.close()


def test_a_certificate_subscribe_needs_no_digest_but_never_reaches_a_ua(edge, ua):
    """RFC 6072: certificates are public, so a certificate SUBSCRIBE for a local user goes to
    the certificate service without a challenge; down a flow token it is refused."""
    peer = UdpPeer(edge)
    try:
        sub = forged(peer, "SUBSCRIBE", edge.aor("phone1"), (ua.path,), uuid.uuid4().hex + "@edge",
                     extra=("Event: certificate", "Expires: 60"))
        peer.send(sub)
        answer = peer.recv_message()
        assert answer[0] == "SIP/2.0 403 Forbidden - certificates of local users only", answer
        nothing_reaches(ua)
    finally:
        peer.close()


def test_stray_responses_are_not_forwarded(edge):
    """A response whose top Via names the edge but which matches no transaction used to be
    forwarded statelessly to the next Via."""
    target = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    target.bind(("127.0.0.1", 0))
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        port = target.getsockname()[1]
        for status in ("200 OK", "180 Ringing", "486 Busy Here"):
            stray = ("SIP/2.0 %s\r\n"
                     "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-stray%s\r\n"
                     "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-victim;rport\r\n"
                     "From: <sip:tester@lab.test>;tag=a\r\nTo: <sip:phone1@lab.test>;tag=b\r\n"
                     "Call-ID: stray-%s@edge\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
                     % (status, edge.port_udp, uuid.uuid4().hex[:8], port, uuid.uuid4().hex))
            sender.sendto(stray.encode(), (edge.host, edge.port_udp))
        target.settimeout(QUIET)
        with pytest.raises(socket.timeout):
            got = target.recv(65536)
            raise AssertionError("forwarded: %r" % got)
        assert "stray reply 200 OK" in edge.log_tail(400)
    finally:
        target.close()
        sender.close()


@pytest.mark.parametrize("fault,status", [
    (("CSeq: 1 OPTIONS", "CSeq: 1 INVITE"), "400"),  # CSeq method is not the request's
    (("CSeq: 1 OPTIONS", "CSeq: one OPTIONS"), "400"),  # CSeq number is not a number
    (("Max-Forwards: 70", "Max-Forwards: 70\r\nProxy-Require: x-unknown"), "420"),
    (("Max-Forwards: 70", "Max-Forwards: 70\r\nExpires: soon"), "400"),
])
def test_malformed_requests_fail_sanity_check(edge, ua, fault, status):
    peer = UdpPeer(edge)
    try:
        bad = peer.request("OPTIONS", edge.aor("phone1"))
        bad = bad.replace(fault[0].encode(), fault[1].encode(), 1)
        assert bad.count(fault[1].encode()) == 1
        peer.send(bad)
        answer = peer.recv_message()
        assert answer[0].startswith("SIP/2.0 %s " % status), answer
        nothing_reaches(ua)
        # a well-formed one still goes through
        peer.send(peer.request("OPTIONS", edge.aor("phone1")))
        got = ua.stream.recv_message()
        ua.stream.send(response_to(got))
        assert peer.recv_message()[0] == "SIP/2.0 200 OK"
    finally:
        peer.close()


def test_x_lab_sign_is_honoured_from_the_certificate_service_only(edge, ua):
    """Anyone could send an in-dialog NOTIFY with X-Lab-Sign: domain down a flow token and
    have the edge sign it with the domain's Identity key."""
    peer = UdpPeer(edge)
    try:
        notify = peer.request("NOTIFY", ua.contact_uri, to_tag="t1", routes=(ua.path,),
                              extra=("Event: certificate", "Subscription-State: active",
                                     "X-Lab-Sign: domain"))
        peer.send(notify)
        got = ua.stream.recv_message()
        assert got[0].startswith("NOTIFY "), got
        assert hdr(got[1], "Identity") is None and hdr(got[1], "X-Lab-Sign") is None, got
        ua.stream.send(response_to(got))
        assert peer.recv_message()[0] == "SIP/2.0 200 OK"
    finally:
        peer.close()


def test_a_burst_from_one_source_is_rate_limited(lab_factory, tmp_path):
    """pike: over the limit a source's requests are dropped unanswered, and answered again
    once it has been quiet for a sampling period."""
    lab = lab_factory("kamailio-pike", port_base=21160, users=USERS, pike_density=8)
    peer = UdpPeer(lab)
    try:
        sent = 120
        for i in range(sent):
            peer.send(peer.request("OPTIONS", lab.aor("nobody"), call_id="burst-%d" % i))
        answered = 0
        while True:
            try:
                answered += peer.recv_message(timeout=1.5)[0] == "SIP/2.0 404 Not Found"
            except socket.timeout:
                break
        assert 0 < answered < sent // 2, answered
        assert "rate limit: requests from 127.0.0.1 dropped" in lab.log_tail(2000)
        deadline = time.monotonic() + 12
        while True:  # unblocked after a quiet sampling period
            time.sleep(2.5)
            peer.send(peer.request("OPTIONS", lab.aor("nobody")))
            try:
                assert peer.recv_message(timeout=1.0)[0] == "SIP/2.0 404 Not Found"
                break
            except socket.timeout:
                assert time.monotonic() < deadline, "still blocked"
    finally:
        peer.close()


def test_the_plain_profile_challenges_callers_on_every_listener(lab_factory):
    """kamailio-plain.cfg: the same caller rules (no edge, no registrar role behind it)."""
    lab = lab_factory("kamailio-plain-edge", port_base=21260, users=USERS, profile="plain")
    ua = Phone(lab)  # the lab goes away with the test: no need to unregister
    try:
        assert ua.register()[0] == "SIP/2.0 200 OK"
        for how in ("tcp", "tls", "udp+route"):
            peer, routes = peer_for(lab, how)
            try:
                challenged_then_asserted(lab, ua, peer, "INVITE", routes)
            finally:
                peer.close()
    finally:
        ua.close()


def test_the_lab_config_names_the_modules_it_loads(edge):
    modules = edge.rpc("core.modules").split()
    assert "sanity" in modules and "pike" in modules
    with open(edge.cfg_path) as f:
        cfg = f.read()
    assert 'modparam("pike", "reqs_density_per_unit", 100)' in cfg
