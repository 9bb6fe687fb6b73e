"""Issue 15 on virtual time: what a stranger can make the phone do through its proxy.

Trusted identities only (findings 1 and 6), no state per relayed request (finding 3) and
calls that end without a BYE (finding 5)."""
import gc

from fakeregistrar import answers, last_conn, no_internal_errors, setup, up
from test_ua_calls import LOOP, invite, statuses

import ivnames as iv

AUTO = b"Answer-Mode: Auto\r\n"


def phone(outbound=None, trust=None, **extra):
    gc.collect()  # the previous test's phone and registrar are garbage by now
    e = {"autoanswer": {"allow": ["sip:tester@lab.test"]},
         "media": {"ip": "192.0.2.50", "port": 40000}}
    if trust is not None:
        e["autoanswer"]["trust"] = trust
    for k, v in extra.items():
        e[k] = v
    link, reg, ua, clock = setup(extra=e, outbound=outbound)
    up(link)
    return link, reg, ua, clock


def test_from_alone_never_auto_answers():
    link, reg, ua, clock = phone()
    n = len(reg.responses)
    # From is the allowed caller, nobody asserted it: the phone rings like for anyone
    link.inject(last_conn(link), invite(AUTO, pai=b""))
    assert statuses(reg, n) == [(100, b"INVITE"), (180, b"INVITE")]
    assert link.media_opened == []
    inc = link.of("call_incoming")[-1]
    assert inc.caller == b"sip:tester@lab.test"  # shown, not believed
    no_internal_errors(link)


def test_asserted_identity_is_believed_only_over_the_trusted_transports():
    # TLS flow (default trust): answered
    link, reg, ua, clock = phone()
    link.inject(last_conn(link), invite(AUTO))
    assert len(link.media_opened) == 1
    # TCP flow: not by default, yes when autoanswer.trust says so
    for trust, answered in ((None, 0), (["tls", "tcp"], 1)):
        link, reg, ua, clock = phone(outbound=["sip:edge1.lab.test;transport=tcp"], trust=trust)
        link.inject(last_conn(link), invite(AUTO))
        assert len(link.media_opened) == answered, trust
    no_internal_errors(link)


def test_udp_flow_never_vouches_unless_configured():
    # finding 6: anyone can forge the proxy's source address on UDP
    link, reg, ua, clock = phone(outbound=["sip:edge1.lab.test"])
    n = len(reg.responses)
    link.inject(last_conn(link), invite(AUTO))
    assert statuses(reg, n)[-1] == (180, b"INVITE") and link.media_opened == []
    link, reg, ua, clock = phone(outbound=["sip:edge1.lab.test"])
    n = len(reg.responses)
    link.inject(last_conn(link), invite(b"Answer-Mode: Auto;require\r\n"))
    assert statuses(reg, n) == [(403, b"INVITE")]  # RFC 5373: cannot honour ;require
    link, reg, ua, clock = phone(outbound=["sip:edge1.lab.test"], trust=["tls", "udp"])
    link.inject(last_conn(link), invite(AUTO))
    assert len(link.media_opened) == 1
    no_internal_errors(link)


def test_relayed_requests_keep_no_state_and_retransmissions_get_the_same_answer():
    link, reg, ua, clock = phone(outbound=["sip:edge1.lab.test"])  # UDP: Timer J would be 32 s
    conn = last_conn(link)
    n = len(reg.responses)
    ok = 0
    tag7 = None
    link.keep_log = False  # 300 request_answered events: counted, not kept
    for i in range(300):
        link.inject(conn, invite(method=b"OPTIONS", body=b"", branch=b"z9hG4bKo%d" % i)
                    .replace(b"srv-call-1", b"opt-%d" % i))
        r = reg.responses.pop()[2]  # the test keeps no log: its heap is the phone's too
        ok += r.status == 200 and len(reg.responses) == n
        if i == 7:
            tag7 = r.to_tag
    assert ok == 300
    assert ua.ctx == {} and ua.calls == {} and not hasattr(ua, "stx")
    assert ua.next_timer() is not None  # the flow's own timers only
    # a retransmission is answered again, identically (stateless UAS, RFC 3261 §8.2.7)
    again = invite(method=b"OPTIONS", body=b"", branch=b"z9hG4bKo7").replace(b"srv-call-1",
                                                                           b"opt-7")
    link.inject(conn, again)
    assert answers(reg, n)[-1].to_tag == tag7
    no_internal_errors(link)


def test_busy_answers_keep_no_call():
    link, reg, ua, clock = phone(call={"max": 2, "ring_timeout": 60})
    conn = last_conn(link)
    link.keep_log = False
    finals = []
    for i in range(20):  # strangers' INVITEs: the first rings, the others are busy
        link.inject(conn, invite(caller=b"<sip:eve@lab.test>", pai=b"<sip:eve@lab.test>",
                                 branch=b"z9hG4bKc%d" % i).replace(b"srv-call-1", b"c%d" % i))
        finals += [r[2].status for r in reg.responses if r[2].status >= 200]
        del reg.responses[:]
    assert len(ua.calls) == 1  # only the ringing call is kept
    assert finals == [486] * 19
    no_internal_errors(link)


def test_beyond_call_max_503_with_retry_after_and_nothing_stored():
    link, reg, ua, clock = phone(call={"max": 1, "ring_timeout": 60})
    conn = last_conn(link)
    n = len(reg.responses)
    for i in range(5):
        link.inject(conn, invite(branch=b"z9hG4bKd%d" % i, pai=b"<sip:eve@lab.test>")
                    .replace(b"srv-call-1", b"d%d" % i))
    finals = [r for r in answers(reg, n) if r.status >= 200]
    assert [r.status for r in finals] == [503] * 4
    assert all(r.get(b"Retry-After") for r in finals) and len(ua.calls) == 1
    no_internal_errors(link)


def _answered(**extra):
    link, reg, ua, clock = phone(**extra)
    conn = last_conn(link)
    link.inject(conn, invite(AUTO))
    ok = [r for r in answers(reg) if r.status == 200 and r.cseq_method == b"INVITE"][-1]
    ack = invite(method=b"ACK", body=b"", to=b"<sip:alice@lab.test>;tag=" + ok.to_tag)
    link.inject(conn, ack)
    cid = link.of("call_answered")[-1].call_id
    assert ua.calls[cid][0].state == iv.CONFIRMED
    return link, reg, ua, clock, cid


def test_a_call_whose_rtp_stops_is_ended_with_bye():
    link, reg, ua, clock, cid = _answered()
    link.advance(20000)
    ua.media_rx(cid, clock.now)  # RTP flows: the limit starts again
    link.advance(29000)
    assert cid in ua.calls
    link.advance(2000)  # 30 s without RTP (autoanswer.rtp_timeout): BYE
    byes = [m for _, _, m in reg.requests if m.method == b"BYE"]
    assert len(byes) == 1
    end = link.of("call_ended")[-1]
    assert end.reason == "rtp_timeout" and cid not in ua.calls
    # the phone is free again: the next call is answered
    link.inject(last_conn(link), invite(AUTO, branch=b"z9hG4bKn2").replace(b"srv-call-1",
                                                                           b"next"))
    assert link.of("call_answered")[-1].call_id == b"next@192.0.2.1"
    no_internal_errors(link)


def test_a_loopback_call_has_a_length_limit():
    link, reg, ua, clock, cid = _answered(autoanswer={"allow": ["sip:tester@lab.test"],
                                                      "max_duration": 120})
    for _ in range(13):  # RTP keeps coming, the BYE never does
        link.advance(10000)
        ua.media_rx(cid, clock.now)
    end = link.of("call_ended")[-1]
    assert end.reason == "max_duration" and cid not in ua.calls
    no_internal_errors(link)

