"""UDP flows (RFC 5626 §4.4.2 STUN keepalive, RFC 3261 retransmission), RFC 3263 failover
and 430 in the UA, against the in-memory FakeRegistrar on virtual time."""
from testutil import ACT_CONNECT, ACT_RESOLVE
from fakeregistrar import last_conn, no_internal_errors, registers, setup
import obnames as ob
from tinysip import stun

UDP = ["sip:edge1.lab.test;transport=udp"]


def udp_link(extra=None, outbound=UDP, **kw):
    link, reg, ua, clock = setup(1, extra, outbound=outbound, **kw)
    if kw.get("start", True):
        link.advance(1)  # the first STUN Binding is a timer due at once
    return link, reg, ua, clock


def test_udp_flow_registers_with_udp_via_and_stun_at_once():
    link, reg, ua, clock = udp_link()
    c = link.connects[0]
    assert c[2:5] == ("edge1.lab.test", 5060, False)
    assert link.counts.get("registered") == 1, link.names()
    r = registers(reg)[-1][2]
    assert r.get(b"Via").startswith(b"SIP/2.0/UDP ") and b";rport" in r.get(b"Via")
    assert b"transport=" not in r.get(b"Contact")
    assert b"reg-id=1" in r.get(b"Contact")
    # the first Binding goes out as soon as the flow registered (learn the mapping)
    assert reg.n_ping == 1 and link.counts.get("keepalive") == 1
    assert ua.flows[0].mapped == (b"198.51.100.7", 40000 + c[1])
    no_internal_errors(link)


def test_stun_keepalive_every_80_to_100_percent_of_flow_timer():
    link, reg, ua, clock = udp_link(flow_timer=20)
    times = []
    reg.on_ping = lambda now, conn: times.append(now)
    link.advance(20 * 60 * 1000)
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(times) >= 60 and all(16000 <= g <= 20000 for g in gaps), gaps
    assert link.counts.get("flow_failed", 0) == 0
    no_internal_errors(link)


def test_udp_keepalive_default_without_flow_timer():
    link, reg, ua, clock = udp_link({"flow.keepalive_udp": 25}, flow_timer=None)
    times = []
    reg.on_ping = lambda now, conn: times.append(now)
    link.advance(10 * 60 * 1000)
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert gaps and all(20000 <= g <= 25000 for g in gaps), gaps


def test_mapped_address_change_fails_the_flow_and_reforms_it():
    link, reg, ua, clock = udp_link(flow_timer=20)
    first = last_conn(link)
    mark = link.mark()
    reg.nat_shift = 7  # the NAT lost our binding: the next answer maps us elsewhere
    link.advance(21000)
    ff = link.of("flow_failed", mark)
    assert [e.reason for e in ff] == ["stun_mapped_changed"], link.names(mark)
    assert last_conn(link) != first and link.of("registered", mark)
    # the new flow learns the new mapping and is content with it
    assert ua.flows[0].mapped == (b"198.51.100.7", 40000 + last_conn(link) + 7)
    assert ua.flows[0].state == ob.UP
    assert link.of("flow_recovering", mark) == []  # an up flow re-forms at once (§4.5)
    no_internal_errors(link)


def test_unanswered_stun_is_retransmitted_then_pong_timeout():
    link, reg, ua, clock = udp_link({"flow.pong_timeout": 10}, flow_timer=20)
    reg.answer_pongs = False
    times = []
    reg.on_ping = lambda now, conn: times.append(now)
    mark = link.mark()
    first = last_conn(link)
    link.advance(31000)
    t0 = times[0]
    # RFC 5389 §7.2.1: RTO from T1 (500 ms) doubling, until the pong deadline (10 s)
    assert [t - t0 for t in times[:5]] == [0, 500, 1500, 3500, 7500], [t - t0 for t in times]
    assert [e.reason for e in link.of("flow_failed", mark)][:1] == ["pong_timeout"]
    assert last_conn(link) != first
    no_internal_errors(link)


def test_register_over_udp_retransmits_timer_e_then_408():
    link, reg, ua, clock = udp_link(start=False)
    reg.silent = True
    link.start()
    link.advance(40000)
    times = [t - reg.registers[0][0] for t, _, _ in reg.registers]
    # Timer E: 0, 0.5, 1.5, 3.5, 7.5, then every T2 = 4 s until Timer F (32 s)
    assert times[:6] == [0, 500, 1500, 3500, 7500, 11500], times
    assert max(times) < 32000
    rf = link.of("registration_failed")
    assert rf and rf[0].status == 408
    assert link.of("flow_recovering")
    no_internal_errors(link)


def test_datagrams_sip_stun_crlf_and_garbage_are_told_apart():
    link, reg, ua, clock = udp_link()
    conn = last_conn(link)
    mark = link.mark()
    link.inject(conn, b"\r\n\r\n")  # a peer's CRLF keepalive on UDP: dropped silently
    link.inject(conn, b"\x00\x01\x00\x00garbage-not-stun")  # neither SIP nor STUN
    link.inject(conn, stun.binding_response(b"x" * 12, b"1.2.3.4", 9))  # nothing asked
    assert link.names(mark) == ["message_dropped"], link.names(mark)
    assert "STUN" in link.of("message_dropped", mark)[0].reason  # and names the server
    # a SIP request in a datagram is answered on the flow
    opt = (b"OPTIONS sip:alice@198.51.100.7:40001 SIP/2.0\r\n"
           b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKudp1\r\n"
           b"Max-Forwards: 70\r\nFrom: <sip:carol@lab.test>;tag=c1\r\nTo: <sip:alice@lab.test>\r\n"
           b"Call-ID: udp-1@192.0.2.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
    link.inject(conn, opt)
    ra = link.of("request_answered", mark)
    assert ra and ra[-1].status == 200
    assert ua.flows[0].state == ob.UP
    no_internal_errors(link)


def test_stun_off_and_forced():
    link, reg, ua, clock = udp_link({"flow.stun": False})
    link.advance(5 * 60 * 1000)
    assert reg.n_ping == 0 and ua.flows[0].keepalive_ms is None
    # ;stun asks for STUN even from a registrar that does not do outbound
    link, reg, ua, clock = udp_link(outbound=["sip:edge1.lab.test;transport=udp;stun"],
                                    require_outbound=False)
    assert ua.flows[0].binding.outbound is False
    link.advance(3 * 60 * 1000)
    assert reg.n_ping >= 3


def test_rfc3263_targets_failover_then_backoff_and_resolve_again():
    link, reg, ua, clock = setup(1, {"dns.server": "127.0.0.1:5353"}, start=False,
                                 outbound=["sips:lab.test"])
    a = (b"tls", b"10.0.0.1", 5061, b"a.lab.test")
    b = (b"tls", b"10.0.0.2", 5062, b"b.lab.test")
    link.dns["lab.test"] = [a, b]
    link.connect_policy["10.0.0.1"] = "fail"
    link.start()
    assert link.resolves[0][1:] == (1, "lab.test", None, None, True)
    sel = link.of("target_selected")
    assert [(e.ip, e.port) for e in sel] == [("10.0.0.1", 5061), ("10.0.0.2", 5062)], sel
    assert link.connects[-1][2:6] == ("10.0.0.2", 5062, True, "lab.test")  # the SIP domain
    assert link.counts.get("registered") == 1 and link.of("flow_recovering") == []
    # both down: back off, and resolve again when the retry is due
    link.connect_policy["10.0.0.2"] = "fail"
    reg.script.append(("status", 503, [(b"Retry-After", b"1")]))
    mark = link.mark()
    ua.network_changed(clock.now)
    link.settle()
    assert len(link.resolves) == 2
    assert link.of("flow_recovering", mark)
    link.connect_policy["10.0.0.1"] = "ok"
    link.advance(200000)
    assert len(link.resolves) >= 3 and link.of("registered", mark)
    no_internal_errors(link)


def test_503_on_first_target_moves_to_the_second_with_a_new_transaction():
    link, reg, ua, clock = setup(1, {"dns.server": "127.0.0.1"}, start=False,
                                 outbound=["sip:lab.test"])
    link.dns["lab.test"] = [(b"udp", b"10.0.0.1", 5060, b"a.lab.test"),
                            (b"tcp", b"10.0.0.2", 5060, b"b.lab.test")]
    reg.script.append(("status", 503))
    link.start()
    assert link.counts.get("registered") == 1, link.names()
    assert [c[2] for c in link.connects] == ["10.0.0.1", "10.0.0.2"]
    assert link.connects[0][7] is True and link.connects[1][7] is False  # udp, then tcp
    regs = registers(reg)
    branches = set(r.get(b"Via").split(b"branch=")[1] for _, _, r in regs)
    assert len(branches) == len(regs)  # every attempt its own transaction
    assert regs[-1][2].get(b"Via").startswith(b"SIP/2.0/TCP ")
    assert b";transport=tcp" in regs[-1][2].get(b"Contact")


def test_no_dns_answer_is_a_flow_failure_with_backoff():
    link, reg, ua, clock = setup(1, {"dns.server": "127.0.0.1"}, outbound=["sips:nowhere.test"])
    ff = link.of("flow_failed")
    assert ff and "dns" in ff[0].reason and "nowhere.test" in ff[0].reason
    assert link.of("flow_recovering")
    assert not [a for a in link.connects]  # nothing to connect to
    no_internal_errors(link)


def test_430_on_refresh_reforms_the_flow_at_once():
    link, reg, ua, clock = setup(1, flow_timer=30, max_expires=120)
    first = last_conn(link)
    mark = link.mark()
    reg.script.append(("status", 430))
    link.advance(120000)
    ff = link.of("flow_failed", mark)
    assert ff and ff[0].reason == "flow_failed_430", link.names(mark)
    assert last_conn(link) != first and link.of("registered", mark)
    no_internal_errors(link)


def test_resolve_action_shape():
    link, reg, ua, clock = setup(1, {"dns.server": "127.0.0.1"}, start=False,
                                 outbound=["sip:lab.test:5070;transport=tcp"])
    ua.start(clock.now)
    a = ua.pop_action()
    assert a[0] == ACT_RESOLVE and a[2:] == ("lab.test", 5070, b"tcp", False)
    ua.resolved(a[1], [(b"tcp", b"10.1.1.1", 5070, b"lab.test")], clock.now)
    a = ua.pop_action()
    assert a[0] == ACT_CONNECT and a[2:4] == ("10.1.1.1", 5070) and a[7] is False
