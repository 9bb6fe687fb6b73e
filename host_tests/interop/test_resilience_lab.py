"""Proves the resilience lab pieces on their own, with plain Python clients (not tinysip):

- dnsmasq (dnslab.DnsServer) serves NAPTR -> SRV -> A for a test domain whose targets are
  the lab's tls and tls2 listeners (and a TLS handshake to each target works);
- Kamailio answers STUN Binding on its public UDP port, through the UDP relay
  (udprelay.UdpRelay), and the XOR-MAPPED-ADDRESS changes after relay.rebind();
- a UDP REGISTER through the relay gets Path (flow token, ;ob) + Require: outbound +
  Flow-Timer; requests for the binding come back to the client through the relay, and are
  lost once the relay re-mapped (the flow token names the old mapping);
- Lab.fail_register(): 503 + Retry-After while on (globally or per listener), 401/200 when off;
- the tcp and tls2 edge listeners take a REGISTER like the tls one.

With CI=true a missing peer (Kamailio, dnsmasq) fails instead of skipping.
"""

import os
import re
import socket
import struct
import time
import uuid

import pytest

from conftest import peer_unavailable, start_lab
from dnslab import DnsError, DnsServer
from lab import Lab
from test_lab import (Stream, branch, digest, hdr, hdrs, parse_challenge, parse_message,
                      response_to, split_contacts, tls_context)
from udprelay import UdpRelay

PORT_BASE = 47060      # this module's Kamailio: udp 47060, tls 47061, tcp 47066, tls2 47067
DNS_PORT = 47053
DNS_PORT_BIG = 47054
USER, PASSWORD = "phone1", "secret1"
TIMEOUT = 5.0
FR_TIMER = 3           # short transaction timeout: a dead UDP flow is noticed quickly


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def rlab(tmp_path_factory):
    instance = Lab(str(tmp_path_factory.mktemp("kamailio-resilience")), port_base=PORT_BASE,
                   flow_timer=30, fr_timer=FR_TIMER,
                   users={USER: PASSWORD, "phone2": "secret2", "tester": "testpw"})
    start_lab(instance)
    yield instance
    instance.close()


@pytest.fixture
def lab_clean(rlab):
    """rlab with every 503 switch off before and after the test."""
    rlab.fail_register(False)
    yield rlab
    rlab.fail_register(False)


def start_dns(workdir, port, records):
    try:
        return DnsServer(str(workdir), port, records)
    except DnsError as e:
        peer_unavailable("dnsmasq cannot start: %s" % e)


def domain_records(lab, ttl=60):
    """lab.test: NAPTR SIPS+D2T / SIP+D2T / SIP+D2U; SRV for each; tls first, tls2 second."""
    d = lab.domain
    return {
        "naptr": [
            (d, 10, 50, "s", "SIPS+D2T", "", "_sips._tcp." + d),
            (d, 20, 50, "s", "SIP+D2T", "", "_sip._tcp." + d),
            (d, 30, 50, "s", "SIP+D2U", "", "_sip._udp." + d),
        ],
        "srv": [
            ("_sips._tcp." + d, "sip1." + d, lab.port_tls, 10, 100),
            ("_sips._tcp." + d, "sip2." + d, lab.port_tls2, 20, 100),
            ("_sip._tcp." + d, "sip1." + d, lab.port_tcp, 10, 0),
            ("_sip._udp." + d, "sip1." + d, lab.port_udp, 10, 0),
        ],
        "a": [("sip1." + d, "127.0.0.1"), ("sip2." + d, "127.0.0.1")],
        "aaaa": [("sip2." + d, "::1")],
        "ttl": ttl,
    }


@pytest.fixture(scope="module")
def dns(rlab, tmp_path_factory):
    server = start_dns(tmp_path_factory.mktemp("dnsmasq"), DNS_PORT, domain_records(rlab))
    yield server
    server.stop()


@pytest.fixture
def relay(rlab):
    r = UdpRelay(rlab.port_udp)
    yield r
    r.close()


# ------------------------------------------------------------------ STUN (RFC 5389)

MAGIC = 0x2112A442


def stun_request():
    txid = os.urandom(12)
    return txid, struct.pack("!HHI", 0x0001, 0, MAGIC) + txid


def parse_stun(data):
    """-> (message type, transaction id, {attr type: value}); XOR-MAPPED-ADDRESS decoded."""
    mtype, length, cookie = struct.unpack("!HHI", data[:8])
    assert cookie == MAGIC, data[:8]
    txid = data[8:20]
    attrs = {}
    off = 20
    while off < 20 + length:
        atype, alen = struct.unpack("!HH", data[off:off + 4])
        value = data[off + 4:off + 4 + alen]
        if atype == 0x0020 and value[1] == 1:
            port = struct.unpack("!H", value[2:4])[0] ^ (MAGIC >> 16)
            ip = struct.unpack("!I", value[4:8])[0] ^ MAGIC
            value = (socket.inet_ntoa(struct.pack("!I", ip)), port)
        attrs[atype] = value
        off += 4 + ((alen + 3) & ~3)
    return mtype, txid, attrs


def stun_binding(sock, dest, timeout=2.0):
    """Send a Binding request from sock to dest; -> XOR-MAPPED-ADDRESS (ip, port).
    Non-STUN datagrams (SIP) are skipped, as the phone must tell them apart."""
    txid, req = stun_request()
    sock.sendto(req, dest)
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("no STUN Binding response")
        sock.settimeout(left)
        data, _ = sock.recvfrom(2048)
        if len(data) < 20 or data[0] & 0xC0 or data[4:8] != struct.pack("!I", MAGIC):
            continue
        mtype, rtxid, attrs = parse_stun(data)
        if rtxid == txid:
            assert mtype == 0x0101, hex(mtype)  # Binding success response
            return attrs[0x0020]


def udp_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s


# ------------------------------------------------------------------ a UA on any transport


class Ua(object):
    """A REGISTER-ing UA (test-local) over udp (to `dest`, e.g. a UdpRelay), tcp or tls."""

    def __init__(self, lab, transport, port=None, dest=None, user=USER, password=PASSWORD,
                 instance=None, reg_id=1):
        self.lab, self.transport = lab, transport
        self.user, self.password = user, password
        self.instance = instance or "urn:uuid:" + str(uuid.uuid4())
        self.reg_id = reg_id
        if transport == "udp":
            self.sock = udp_socket()
            self.dest = dest or (lab.host, port or lab.port_udp)
            self.stream = None
        else:
            raw = socket.create_connection((lab.host, port), timeout=TIMEOUT)
            if transport == "tls":
                raw = tls_context(lab).wrap_socket(raw, server_hostname="127.0.0.1")
            self.sock = raw
            self.stream = Stream(raw)
        self.local_port = self.sock.getsockname()[1]
        self.call_id = uuid.uuid4().hex + "@ua"
        self.tag = uuid.uuid4().hex[:10]
        self.cseq = 0
        suffix = "" if transport == "udp" else ";transport=" + transport
        self.contact_uri = "sip:%s@127.0.0.1:%d%s" % (user, self.local_port, suffix)
        self.responses = []
        self.last_source = None  # UDP: where the last SIP message came from

    def send(self, data):
        if self.stream is None:
            self.sock.sendto(data, self.dest)
        else:
            self.stream.send(data)

    def recv_message(self, timeout=TIMEOUT):
        """Next SIP message (provisional responses skipped); STUN and keep-alives ignored."""
        deadline = time.monotonic() + timeout
        while True:
            if self.stream is not None:
                msg = self.stream.recv_message(timeout=max(0.01, deadline - time.monotonic()))
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise socket.timeout("no SIP message over UDP")
                self.sock.settimeout(left)
                data, source = self.sock.recvfrom(65535)
                if not data[:1].isalpha():
                    continue
                self.last_source = source
                msg = parse_message(data)
            if re.match(r"SIP/2\.0 1\d\d ", msg[0]):
                continue
            return msg

    def register_request(self, authorization=None, expires=600):
        self.cseq += 1
        aor = self.lab.aor(self.user)
        lines = [
            "REGISTER sip:%s SIP/2.0" % self.lab.domain,
            "Via: SIP/2.0/%s 127.0.0.1:%d;rport;branch=%s" % (self.transport.upper(), self.local_port, branch()),
            "Max-Forwards: 70",
            "From: <%s>;tag=%s" % (aor, self.tag),
            "To: <%s>" % aor,
            "Call-ID: " + self.call_id,
            "CSeq: %d REGISTER" % self.cseq,
            "Supported: outbound, path",
            'Contact: <%s;ob>;+sip.instance="<%s>";reg-id=%d' % (self.contact_uri, self.instance, self.reg_id),
            "Expires: %d" % expires,
        ]
        if authorization:
            lines.append("Authorization: " + authorization)
        lines += ["Content-Length: 0", "", ""]
        return "\r\n".join(lines).encode()

    def register(self, expires=600):
        """REGISTER, answer one 401; -> the final response (start, headers, body)."""
        self.send(self.register_request(expires=expires))
        first = self.recv_message()
        self.responses.append(first)
        if not first[0].startswith("SIP/2.0 401"):
            return first
        challenge = parse_challenge(hdr(first[1], "WWW-Authenticate"))
        auth = digest("MD5", challenge, "REGISTER", "sip:" + self.lab.domain, self.user, self.password)
        self.send(self.register_request(auth, expires=expires))
        final = self.recv_message()
        self.responses.append(final)
        return final

    def binding(self):
        mine = [b for b in self.lab.ul_dump()
                if b["instance"] == "<%s>" % self.instance and b["reg_id"] == self.reg_id]
        return mine[0] if len(mine) == 1 else mine or None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Peer(object):
    """A plain UDP peer that sends OPTIONS to the lab's public UDP port."""

    def __init__(self, lab):
        self.lab = lab
        self.sock = udp_socket()
        self.port = self.sock.getsockname()[1]

    def options(self, ruri):
        uri = "sip:peer@127.0.0.1:%d" % self.port
        msg = "\r\n".join([
            "OPTIONS %s SIP/2.0" % ruri,
            "Via: SIP/2.0/UDP 127.0.0.1:%d;rport;branch=%s" % (self.port, branch()),
            "Max-Forwards: 70",
            "From: <%s>;tag=peer" % uri,
            "To: <%s>" % ruri,
            "Call-ID: %s@peer" % uuid.uuid4().hex,
            "CSeq: 1 OPTIONS",
            "Contact: <%s>" % uri,
            "Content-Length: 0", "", ""]).encode()
        self.sock.sendto(msg, (self.lab.host, self.lab.port_udp))

    def recv_final(self, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("peer: no final response")
            self.sock.settimeout(left)
            msg = parse_message(self.sock.recvfrom(65535)[0])
            if not re.match(r"SIP/2\.0 1\d\d ", msg[0]):
                return msg

    def close(self):
        self.sock.close()


@pytest.fixture
def peer(rlab):
    p = Peer(rlab)
    yield p
    p.close()


def assert_outbound_200(lab, final, ua):
    start, headers, _ = final
    assert start == "SIP/2.0 200 OK", final
    require = [t.strip() for t in ",".join(hdrs(headers, "Require")).split(",")]
    assert "outbound" in require, headers
    assert hdr(headers, "Flow-Timer") == str(lab.flow_timer)
    path = hdr(headers, "Path")
    # flow token as the user part, the edge's public UDP socket (which talks to the
    # registrar) as host, ;ob because the UA asked for outbound
    assert path is not None and re.match(r"<sip:[A-Za-z0-9+/=]+@127\.0\.0\.1:%d;" % lab.port_udp, path), path
    assert re.search(r";ob\b", path), path
    contacts = [c for v in hdrs(headers, "Contact") for c in split_contacts(v)]
    ours = [c for c in contacts if ('+sip.instance="<%s>"' % ua.instance) in c
            and re.search(r";reg-id=%d\b" % ua.reg_id, c)]
    assert len(ours) == 1, contacts
    b = ua.binding()
    assert isinstance(b, dict) and b["reg_id"] == ua.reg_id and ";ob" in (b["path"] or ""), lab.ul_dump()
    return b


def deliver_options(lab, peer, ua, timeout=TIMEOUT):
    """A peer's OPTIONS to the AoR reaches ua over its flow; ua answers 200; peer sees 200."""
    peer.options(lab.aor(ua.user))
    got = ua.recv_message(timeout=timeout)
    assert got[0] in ("OPTIONS %s SIP/2.0" % ua.contact_uri, "OPTIONS %s;ob SIP/2.0" % ua.contact_uri), got
    ua.send(response_to(got))
    answer = peer.recv_final()
    assert answer[0] == "SIP/2.0 200 OK", answer
    return got


# ------------------------------------------------------------------ tests: layout


def test_new_roles_in_port_layout(rlab):
    assert rlab.ports["tcp"] == PORT_BASE + 6 == rlab.port_tcp
    assert rlab.ports["tls2"] == PORT_BASE + 7 == rlab.port_tls2
    assert rlab.proxy_uri("tcp") == "sip:127.0.0.1:%d;transport=tcp;lr" % rlab.port_tcp
    assert rlab.proxy_uri("tls2") == "sip:127.0.0.1:%d;transport=tls;lr" % rlab.port_tls2
    described = "\n".join(rlab.describe())
    assert "tcp            tcp 127.0.0.1:%d" % rlab.port_tcp in described
    assert "tls2           tls 127.0.0.1:%d" % rlab.port_tls2 in described
    # the unchanged roles keep their offsets
    assert [rlab.ports[r] - PORT_BASE for r in ("udp", "tls", "tls_expired", "tls_wronghost",
                                                 "tls_untrusted", "mtls", "registrar", "certsvc")] \
        == [0, 1, 2, 3, 4, 5, 10, 20]


# ------------------------------------------------------------------ tests: DNS


def test_dns_naptr_srv_a_point_at_tls_and_tls2(rlab, dns):
    d = rlab.domain
    dns.clear_queries()
    naptr = dns.query(d, "NAPTR")
    assert naptr["rcode"] == "NOERROR" and naptr["aa"] and not naptr["tc"]
    got = sorted((r["data"]["order"], r["data"]["preference"], r["data"]["flags"],
                  r["data"]["service"], r["data"]["regexp"], r["data"]["replacement"])
                 for r in naptr["answers"])
    assert got == [(10, 50, "s", "SIPS+D2T", "", "_sips._tcp." + d),
                   (20, 50, "s", "SIP+D2T", "", "_sip._tcp." + d),
                   (30, 50, "s", "SIP+D2U", "", "_sip._udp." + d)]
    assert all(r["ttl"] == 60 for r in naptr["answers"])
    # documented: dnsmasq adds nothing to a NAPTR answer (no SRV, no A)
    assert naptr["additional"] == []
    # documented: reverse configuration order
    assert [r["data"]["order"] for r in naptr["answers"]] == [30, 20, 10]

    best = min(naptr["answers"], key=lambda r: (r["data"]["order"], r["data"]["preference"]))
    srv = dns.query(best["data"]["replacement"], "SRV")
    assert srv["rcode"] == "NOERROR" and srv["aa"]
    targets = sorted((r["data"]["priority"], r["data"]["weight"], r["data"]["target"], r["data"]["port"])
                     for r in srv["answers"])
    assert targets == [(10, 100, "sip1." + d, rlab.port_tls), (20, 100, "sip2." + d, rlab.port_tls2)]
    # documented: the SRV answer carries the targets' A/AAAA as additional records
    extra = sorted((r["name"], r["type"], r["data"]) for r in srv["additional"])
    assert extra == [("sip1." + d, "A", "127.0.0.1"), ("sip2." + d, "A", "127.0.0.1"),
                     ("sip2." + d, "AAAA", "::1")]

    for _prio, _weight, target, port in targets:
        a = dns.query(target, "A")
        assert [r["data"] for r in a["answers"]] == ["127.0.0.1"], a
        # the record points at a live listener with the good certificate for the domain
        raw = socket.create_connection((a["answers"][0]["data"], port), timeout=TIMEOUT)
        tls = tls_context(rlab).wrap_socket(raw, server_hostname=d)
        try:
            tls.sendall(b"\r\n\r\n")
            tls.settimeout(TIMEOUT)
            assert tls.recv(2) == b"\r\n"
        finally:
            tls.close()

    for name, port in (("_sip._tcp." + d, rlab.port_tcp), ("_sip._udp." + d, rlab.port_udp)):
        assert [r["data"]["port"] for r in dns.query(name, "SRV")["answers"]] == [port]
    # the log shows what was asked, in order (for assertions on the phone's queries)
    assert dns.queries() == [("NAPTR", d), ("SRV", "_sips._tcp." + d), ("A", "sip1." + d),
                             ("A", "sip2." + d), ("SRV", "_sip._tcp." + d), ("SRV", "_sip._udp." + d)]


def test_dns_negative_answers(rlab, dns):
    d = rlab.domain
    nodata = dns.query("sip1." + d, "AAAA")
    assert nodata["rcode"] == "NOERROR" and nodata["answers"] == []
    assert dns.query("nosuch." + d, "A")["rcode"] == "NXDOMAIN"
    assert dns.query("_sips._tcp.nosuch.example", "SRV")["rcode"] == "REFUSED"
    aaaa = dns.query("sip2." + d, "AAAA")
    assert [r["data"] for r in aaaa["answers"]] == ["::1"]


def test_dns_large_answer_truncated_over_udp_complete_over_tcp(tmp_path):
    records = {"srv": [], "a": []}
    for i in range(60):
        records["srv"].append(("_sip._udp.big.test", "h%02d.big.test" % i, 6000 + i, 10, i))
        records["a"].append(("h%02d.big.test" % i, "127.0.0.1"))
    server = start_dns(tmp_path, DNS_PORT_BIG, records)
    try:
        udp = server.query("_sip._udp.big.test", "SRV")
        assert udp["tc"] and udp["size"] <= 512 and 0 < len(udp["answers"]) < 60, udp["size"]
        edns = server.query("_sip._udp.big.test", "SRV", edns=4096)
        assert edns["tc"] and 512 < edns["size"] <= 1232
        tcp = server.query("_sip._udp.big.test", "SRV", tcp=True)
        assert not tcp["tc"] and len(tcp["answers"]) == 60 and len(tcp["additional"]) == 60
        assert server.queries() == [("SRV", "_sip._udp.big.test")] * 3
        pid = server.pid
    finally:
        server.stop()
    assert not server.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


# ------------------------------------------------------------------ tests: STUN + UDP relay


def test_stun_binding_on_public_udp_port(rlab):
    s = udp_socket()
    try:
        mapped = stun_binding(s, (rlab.host, rlab.port_udp))
        assert mapped == s.getsockname()
    finally:
        s.close()


def test_stun_through_relay_and_rebind_changes_mapping(rlab, relay):
    phone = udp_socket()
    try:
        first = stun_binding(phone, relay.address)
        assert first == ("127.0.0.1", relay.upstream_port())
        assert first[1] not in (phone.getsockname()[1], relay.port)
        assert stun_binding(phone, relay.address) == first  # stable while nothing changes

        changed = relay.rebind()
        assert list(changed) == [phone.getsockname()]
        second = stun_binding(phone, relay.address)
        assert second == ("127.0.0.1", changed[phone.getsockname()]) and second[1] != first[1]

        relay.blackhole(True)
        with pytest.raises(socket.timeout):
            stun_binding(phone, relay.address, timeout=0.5)
        relay.blackhole(False)
        assert stun_binding(phone, relay.address) == second
        assert relay.dropped >= 1 and relay.forwarded_up >= 4 and relay.forwarded_down >= 4
    finally:
        phone.close()


def test_relay_maps_each_phone_address_to_its_own_upstream(rlab, relay):
    phones = [udp_socket() for _ in range(3)]
    try:
        mapped = [stun_binding(p, relay.address) for p in phones]
        assert len(set(m[1] for m in mapped)) == 3
        assert relay.clients() == dict((p.getsockname(), m[1]) for p, m in zip(phones, mapped))
        # re-map one phone only
        relay.rebind(phones[0].getsockname())
        again = [stun_binding(p, relay.address) for p in phones]
        assert again[0] != mapped[0] and again[1:] == mapped[1:]
    finally:
        for p in phones:
            p.close()


def test_udp_register_through_relay_outbound_and_dead_mapping(rlab, relay, peer):
    ua = Ua(rlab, "udp", dest=relay.address)
    try:
        b = assert_outbound_200(rlab, ua.register(), ua)
        public = relay.upstream_port()
        assert b["received"] is None or str(public) in b["received"]
        # STUN on the SIP socket tells the UA its public mapping
        assert stun_binding(ua.sock, relay.address) == ("127.0.0.1", public)
        # requests for the binding come down the UDP flow, through the relay (not straight
        # from Kamailio to the Contact address, which loopback would make reachable too)
        deliver_options(rlab, peer, ua)
        assert ua.last_source == relay.address

        # NAT re-mapping: the flow token now names a dead mapping
        relay.rebind()
        assert stun_binding(ua.sock, relay.address)[1] != public
        peer.options(rlab.aor(USER))
        with pytest.raises(socket.timeout):
            ua.recv_message(timeout=1.0)
        t0 = time.monotonic()
        lost = peer.recv_final(timeout=FR_TIMER * 3 + 5)
        # the edge gives up on the UDP flow at fr_timer / 2, before the registrar does
        assert lost[0] == "SIP/2.0 430 Flow Failed", lost
        assert time.monotonic() - t0 < FR_TIMER

        # re-registering from the new mapping repairs the flow
        assert_outbound_200(rlab, ua.register(), ua)
        deliver_options(rlab, peer, ua)
    finally:
        try:
            ua.register(expires=0)
        except (OSError, EOFError):
            pass
        ua.close()


def test_two_udp_flows_one_remapped_request_reaches_the_other(rlab, relay, peer):
    """reg-id 1 and 2 of one instance over UDP; re-mapping flow 1 only: a request for the
    AoR still arrives, on flow 2 (edge 430 on the dead flow, registrar tries the next)."""
    instance = "urn:uuid:" + str(uuid.uuid4())
    flows = [Ua(rlab, "udp", dest=relay.address, instance=instance, reg_id=n) for n in (1, 2)]
    try:
        for f in flows:
            assert_outbound_200(rlab, f.register(), f)
        assert sorted(b["reg_id"] for b in rlab.ul_dump() if b["instance"] == "<%s>" % instance) == [1, 2]
        relay.rebind(flows[0].sock.getsockname())
        peer.options(rlab.aor(USER))
        got = flows[1].recv_message(timeout=FR_TIMER + 2)
        assert got[0].startswith("OPTIONS %s" % flows[1].contact_uri), got
        assert flows[1].last_source == relay.address
        flows[1].send(response_to(got))
        assert peer.recv_final()[0] == "SIP/2.0 200 OK"
        with pytest.raises(socket.timeout):
            flows[0].recv_message(timeout=0.2)
    finally:
        for f in flows:
            try:
                f.register(expires=0)
            except (OSError, EOFError):
                pass
            f.close()
    assert [b for b in rlab.ul_dump() if b["instance"] == "<%s>" % instance] == []


# ------------------------------------------------------------------ tests: 503 switch


def register_status(lab, transport, port, dest=None):
    ua = Ua(lab, transport, port=port, dest=dest)
    try:
        final = ua.register()
        responses = list(ua.responses)
        if final[0].startswith("SIP/2.0 200"):
            ua.register(expires=0)
        return final, responses
    finally:
        ua.close()


def test_fail_register_503_with_retry_after_then_restored(lab_clean):
    lab = lab_clean
    final, responses = register_status(lab, "tls", lab.port_tls)
    assert [r[0] for r in responses] == ["SIP/2.0 401 Unauthorized", "SIP/2.0 200 OK"]

    lab.fail_register(120)
    assert lab.register_failures() == {"reg503::all": 120}
    for transport, port in (("tls", lab.port_tls), ("udp", lab.port_udp), ("tcp", lab.port_tcp)):
        final, responses = register_status(lab, transport, port)
        assert len(responses) == 1, responses  # before any challenge
        assert final[0] == "SIP/2.0 503 Service Unavailable", final
        assert hdrs(final[1], "Retry-After") == ["120"], final

    lab.fail_register()  # no Retry-After
    final, _ = register_status(lab, "tls", lab.port_tls2)
    assert final[0] == "SIP/2.0 503 Service Unavailable" and hdr(final[1], "Retry-After") is None

    lab.fail_register(False)
    assert lab.register_failures() == {}
    final, responses = register_status(lab, "tls", lab.port_tls)
    assert [r[0] for r in responses] == ["SIP/2.0 401 Unauthorized", "SIP/2.0 200 OK"]


def test_fail_register_per_listener(lab_clean):
    """"The first SRV target answers 503": only tls fails, tls2 still registers."""
    lab = lab_clean
    lab.fail_register(30, role="tls")
    lab.fail_register(0, role=lab.port_tcp)   # by port number; Retry-After: 0
    assert lab.register_failures() == {"reg503::%d" % lab.port_tls: 30, "reg503::%d" % lab.port_tcp: 0}
    final, _ = register_status(lab, "tls", lab.port_tls)
    assert final[0] == "SIP/2.0 503 Service Unavailable" and hdr(final[1], "Retry-After") == "30"
    final, _ = register_status(lab, "tcp", lab.port_tcp)
    assert final[0] == "SIP/2.0 503 Service Unavailable" and hdr(final[1], "Retry-After") == "0"
    final, _ = register_status(lab, "tls", lab.port_tls2)
    assert final[0] == "SIP/2.0 200 OK", final

    # a per-listener switch wins over the global one
    lab.fail_register(99)
    final, _ = register_status(lab, "tls", lab.port_tls)
    assert hdr(final[1], "Retry-After") == "30"
    final, _ = register_status(lab, "tls", lab.port_tls2)
    assert hdr(final[1], "Retry-After") == "99"

    lab.fail_register(False, role="tls")
    assert set(lab.register_failures()) == {"reg503::all", "reg503::%d" % lab.port_tcp}
    lab.fail_register(False)
    final, _ = register_status(lab, "tls", lab.port_tls)
    assert final[0] == "SIP/2.0 200 OK", final

    with pytest.raises(ValueError):
        lab.fail_register(5, role="registrar")
    with pytest.raises(ValueError):
        lab.fail_register(5, role=12345)


# ------------------------------------------------------------------ tests: tcp + tls2 edges


@pytest.mark.parametrize("role,transport", [("tcp", "tcp"), ("tls2", "tls"), ("tls", "tls")])
def test_edge_listener_registers_with_outbound(lab_clean, peer, role, transport):
    lab = lab_clean
    ua = Ua(lab, transport, port=lab.ports[role], user="phone2", password="secret2")
    try:
        if transport == "tls":
            assert ua.sock.version() in ("TLSv1.2", "TLSv1.3")
            assert ("IP Address", "127.0.0.1") in ua.sock.getpeercert()["subjectAltName"]
        b = assert_outbound_200(lab, ua.register(), ua)
        assert b["contact"] == ua.contact_uri + ";ob"
        # a request for the binding goes down this very connection
        got = deliver_options(lab, peer, ua)
        assert hdrs(got[1], "Via")[0].startswith("SIP/2.0/%s 127.0.0.1:%d;" % (transport.upper(), lab.ports[role]))
        ua.send(b"\r\n\r\n")
        assert ua.stream.recv_raw(2) == b"\r\n"
        final = ua.register(expires=0)
        assert final[0] == "SIP/2.0 200 OK"
        assert ua.binding() is None
    finally:
        ua.close()


def test_fail_register_survives_restart(lab_clean):
    lab = lab_clean
    lab.fail_register(15, role="tls2")
    lab.restart()
    assert lab.register_failures() == {"reg503::%d" % lab.port_tls2: 15}
    final, _ = register_status(lab, "tls", lab.port_tls2)
    assert final[0] == "SIP/2.0 503 Service Unavailable" and hdr(final[1], "Retry-After") == "15"
    lab.fail_register(False)
    assert register_status(lab, "tls", lab.port_tls2)[0][0] == "SIP/2.0 200 OK"
