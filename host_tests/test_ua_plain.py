"""The UA against a registrar without SIP Outbound (issue 14): a reachable Contact learned
from the Via (contact rewrite), one binding for the instance whatever the number of flows,
keepalives that need no pong, standby flows that take over, the flow.outbound key, SIPS
Contacts and forked INVITEs (482)."""
from fakeregistrar import INSTANCE, FakeRegistrar, Link, config, no_internal_errors
from fakeregistrar import registers, request
from plainregistrar import PlainRegistrar
from testutil import FakeClock, FakeRandom

import ivnames as iv
import obnames as ob
from tinysip.message import contacts, parse
from tinysip.ua import UserAgent


def plain(flows=1, extra=None, outbound=None, seed=1, start=True, nat=True, reg=None, **kw):
    clock = FakeClock()
    if reg is None:
        reg = PlainRegistrar(clock, nat=nat, **kw)
    else:
        reg = reg(clock, **kw)
    ua = UserAgent(config(flows, extra, outbound), INSTANCE, FakeRandom(seed))
    link = Link(ua, reg, clock)
    if start:
        link.start()
    return link, reg, ua, clock


def contact_lines(msg):
    return [na.uri.to_bytes() + (b";expires=" + na.param(b"expires")
                                  if na.param(b"expires") else b"")
            for na in contacts(msg)]


def test_contact_rewritten_to_the_address_the_registrar_saw():
    link, reg, ua, clock = plain()
    regs = registers(reg)
    first_contact = contacts(regs[0][2])[0].uri.to_bytes()
    assert first_contact.endswith(b".invalid;transport=tls")  # nothing known yet
    rw = link.of("contact_rewritten")
    assert len(rw) == 1 and rw[0].contact == b"sip:alice@203.0.113.5:60001;transport=tls"
    # the rewrite removes the first Contact in the same request: one binding, reachable
    last = regs[-1][2]
    assert contact_lines(last) == [first_contact + b";expires=0",
                                   b"sip:alice@203.0.113.5:60001;transport=tls"]
    assert reg.live() == [b"sip:alice@203.0.113.5:60001;transport=tls"]
    e = link.of("registered")
    assert len(e) == 1 and e[0].outbound is False
    assert e[0].contact == b"sip:alice@203.0.113.5:60001;transport=tls"
    # a refresh keeps the same Contact and adds nothing
    link.advance(3600000)
    assert reg.live() == [b"sip:alice@203.0.113.5:60001;transport=tls"]
    assert len(link.of("contact_rewritten")) == 1
    no_internal_errors(link)


def test_without_nat_the_contact_is_the_connection_address():
    clock = FakeClock()
    reg = PlainRegistrar(clock, nat=False)  # the Via shows 127.0.0.1 and the UA's own port
    reg.local_ports[1] = 45678
    ua = UserAgent(config(), INSTANCE, FakeRandom(1))
    link = Link(ua, reg, clock)
    link.start()
    link.advance(10000)
    assert len(link.of("contact_rewritten")) == 1  # from the .invalid placeholder, once
    assert reg.live() == [b"sip:alice@127.0.0.1:45678;transport=tls"]
    assert link.of("registered")[0].contact == b"sip:alice@127.0.0.1:45678;transport=tls"
    no_internal_errors(link)


def test_crlf_keepalive_without_pongs_and_a_dead_connection_recovers():
    link, reg, ua, clock = plain(extra={"flow.keepalive": 10})
    reg.answer_pongs = False
    n = reg.n_ping
    link.advance(120000)
    assert 12 <= reg.n_ping - n <= 15  # 80-100 % of 10 s
    assert link.counts.get("flow_failed", 0) == 0
    # the server resets the connection: reconnect at once, the new port replaces the old
    old = reg.live()
    conn = ua.flows[0].conn
    link.conns.pop(conn)
    ua.connection_lost(conn, clock.now, "connection_lost: reset")
    link.settle()
    link.advance(1000)
    assert ua.flows[0].state == ob.UP and reg.live() != old and len(reg.live()) == 1
    no_internal_errors(link)


def test_two_flows_hold_one_binding_and_the_standby_takes_over():
    link, reg, ua, clock = plain(flows=2)
    assert [f.state for f in ua.flows] == [ob.UP, ob.STANDBY]
    sb = link.of("flow_standby")
    assert len(sb) == 1 and sb[0].flow == 1
    assert len(reg.live()) == 1 and b":60001;" in reg.live()[0]
    conns = [c for _, c, _ in registers(reg)]
    assert set(conns) == {ua.flows[0].conn}  # the standby sent no REGISTER
    # the standby connection is kept alive too
    n = len(reg.pings)
    link.advance(60000)
    assert len(reg.pings) - n >= 4
    # the registered flow dies: the standby registers at once, removing the old Contact
    dead = ua.flows[0].conn
    mark = link.mark()
    link.conns.pop(dead)
    ua.connection_lost(dead, clock.now, "connection_lost")
    link.settle()
    link.advance(100)
    assert ua.flows[1].state == ob.UP
    assert len(reg.live()) == 1 and b":60002;" in reg.live()[0]
    assert link.of("registered", mark)[0].flow == 1
    # the first flow comes back as the standby: still one binding
    link.advance(10000)
    assert [f.state for f in ua.flows] == [ob.STANDBY, ob.UP]
    assert len(reg.live()) == 1
    no_internal_errors(link)


def test_second_flow_registers_when_the_first_cannot_connect():
    link, reg, ua, clock = plain(flows=2, start=False)
    link.connect_policy["edge1.lab.test"] = "fail"
    link.start()
    link.advance(1000)
    assert ua.flows[1].state == ob.UP and ua.flows[0].state == ob.BACKOFF
    link.connect_policy["edge1.lab.test"] = "ok"
    link.advance(120000)
    assert [f.state for f in ua.flows] == [ob.STANDBY, ob.UP]
    assert len(reg.live()) == 1
    no_internal_errors(link)


def test_outbound_registrar_still_registers_every_flow():
    link, reg, ua, clock = plain(flows=2, reg=FakeRegistrar)
    assert [f.state for f in ua.flows] == [ob.UP, ob.UP]
    assert len(link.of("registered")) == 2 and all(e.outbound for e in link.of("registered"))
    assert link.counts.get("contact_rewritten", 0) == 0
    for _, _, m in registers(reg):
        assert contacts(m)[0].param(b"reg-id") is not None
        assert len(contacts(m)) == 1


def test_outbound_off_sends_no_reg_id_and_on_forces_outbound():
    link, reg, ua, clock = plain(extra={"flow.outbound": "off"})
    for _, _, m in registers(reg):
        assert contacts(m)[-1].param(b"reg-id") is None
        assert b"outbound" not in m.get(b"Supported")
    assert link.of("registered")[0].outbound is False
    link, reg, ua, clock = plain(flows=2, extra={"flow.outbound": "on"})
    # "on": every 2xx is taken as outbound (an edge that does not say so): two flows
    assert [f.state for f in ua.flows] == [ob.UP, ob.UP]
    assert link.of("registered")[0].outbound is True
    assert link.counts.get("contact_rewritten", 0) == 0


def test_udp_flow_keeps_the_nat_binding_with_re_registers():
    link, reg, ua, clock = plain(outbound=["sip:edge1.lab.test"],
                                 extra={"flow.keepalive": 20})
    assert reg.live() == [b"sip:alice@203.0.113.5:60001"]  # rport learned, no transport
    n = reg.n_register
    link.advance(200000)
    assert 10 <= reg.n_register - n <= 13  # a REGISTER every 16-20 s, no STUN
    assert reg.n_ping == 0 and len(reg.live()) == 1
    no_internal_errors(link)


def test_sips_aor_registers_a_sips_contact():
    link, reg, ua, clock = plain(extra={"aor": "sips:alice@lab.test"})
    m = registers(reg)[-1][2]
    assert m.uri == b"sips:lab.test"
    assert contacts(m)[-1].uri.to_bytes() == b"sips:alice@203.0.113.5:60001"
    assert reg.live() == [b"sips:alice@203.0.113.5:60001"]


def test_forked_invite_second_branch_gets_482():
    link, reg, ua, clock = plain(extra={"call.ring_timeout": 30})
    conn = ua.flows[0].conn
    body = b"v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n" \
           b"m=audio 4000 RTP/AVP 0\r\n"
    extra = b"Contact: <sip:carol@192.0.2.9>\r\nContent-Type: application/sdp\r\n"
    n = len(reg.responses)
    link.inject(conn, request(b"INVITE", extra, branch=b"z9hG4bKfork1", body=body))
    link.inject(conn, request(b"INVITE", extra, branch=b"z9hG4bKfork2", body=body))
    got = [(m.status, m.branch) for _, _, m in reg.responses[n:]]
    assert (482, b"z9hG4bKfork2") in got
    assert 482 not in [s for s, b in got if b == b"z9hG4bKfork1"]
    assert len(link.of("call_incoming")) == 1
    # a retransmission of the first branch is still just that: no 482 for it
    link.inject(conn, request(b"INVITE", extra, branch=b"z9hG4bKfork1", body=body))
    assert 482 not in [m.status for _, _, m in reg.responses[n:] if m.branch == b"z9hG4bKfork1"]
    # the first call goes on: it rings, with the reachable Contact and no ;ob (no outbound)
    cid = link.of("call_incoming")[0].call_id
    assert ua.calls[cid][0].state == iv.RINGING
    ring = [m for _, _, m in reg.responses[n:] if m.status == 180]
    assert ring and ring[0].branch == b"z9hG4bKfork1"
    assert contacts(ring[0])[0].uri.to_bytes() == b"sip:alice@203.0.113.5:60001;transport=tls"
    assert ua.reject(cid, clock.now, 486)
    link.settle()
    assert 486 in [m.status for _, _, m in reg.responses[n:] if m.branch == b"z9hG4bKfork1"]
    no_internal_errors(link)


def test_sips_request_uri_gets_a_sips_contact():
    link, reg, ua, clock = plain(extra={"call.ring_timeout": 30})
    conn = ua.flows[0].conn
    n = len(reg.responses)
    link.inject(conn, request(b"INVITE", b"Contact: <sips:carol@192.0.2.9>\r\n",
                              ruri=b"sips:alice@203.0.113.5:60001"))
    ring = [m for _, _, m in reg.responses[n:] if m.status == 180]
    assert ring and contacts(ring[0])[0].uri.to_bytes() == b"sips:alice@203.0.113.5:60001"
    assert parse(ring[0].to_bytes()).status == 180


def test_after_a_network_change_the_first_flow_that_works_holds_the_binding():
    link, reg, ua, clock = plain(flows=2)
    assert [f.state for f in ua.flows] == [ob.UP, ob.STANDBY]
    # the new network: the first flow's server does not answer; the second connects at once
    link.connect_policy["edge1.lab.test"] = "hang"
    ua.network_changed(clock.now)
    link.settle()
    assert ua.flows[1].state == ob.STANDBY  # waits for the first flow's attempt
    link.advance(11000)  # flow.connect_timeout (10 s): the first flow failed, the second goes
    assert ua.flows[1].state == ob.UP and ua.flows[0].state in (ob.BACKOFF, ob.CONNECTING)
    assert len(reg.live()) == 1 and b":6000" in reg.live()[0]
    assert reg.live()[0] == link.of("registered")[-1].contact
    no_internal_errors(link)
