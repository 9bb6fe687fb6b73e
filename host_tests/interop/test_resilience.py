"""Issue 6 against real peers: UDP flows with STUN keepalive, a primary and a backup flow,
RFC 3263 through a real DNS server, and recovery from network faults.

The phone (firmware on the MicroPython unix port) registers through a Kamailio of its own
(flow_timer 3 s, so keepalives come quickly) with short recovery timers. Each fault is made
by a real component: a TCP relay in front of the TLS listener that cuts or refuses (one flow
only), a UDP relay that changes its source port (the NAT mapping), Kamailio restarted (every
flow), the registrar answering 503 + Retry-After, dnsmasq whose first SRV target is down.
After each, the phone must recover within the RFC 5626 §4.5 bounds and a loopback call
placed by SIPp through Kamailio must reach it (and its media come back).
"""
import time

import pytest

from caller import loopback_call, sipp_binary
from conftest import peer_unavailable
from phone import Phone, lab_config
from relay import Relay

USERS = {"phone1": "secret1", "tester": "testpw"}
# short §4.5 timers: base 1 s all down, 2 s some up, cap 8 s; pong deadline 2 s
FLOW = {"base_all_down": 1, "base_some_up": 2, "max_backoff": 8, "pong_timeout": 2}
# the calls come down UDP flows too: on loopback the lab is the only sender there, so the
# test trusts its proxy's assertion on every transport (autoanswer.trust; default TLS only)
ALLOW = {"allow": ["sip:tester@lab.test"], "trust": ["tls", "tcp", "udp"]}


@pytest.fixture
def rlab(lab_factory):
    return lab_factory("kamailio-resilience", port_base=19060, flow_timer=3, users=USERS)


@pytest.fixture
def phones(tmp_path):
    started = []

    def make(lab, mac, outbound, **extra):
        cfg = lab_config(lab, mac, autoanswer=ALLOW, flow=FLOW,
                         media={"ip": "127.0.0.1", "port": 44000 + 10 * len(started)}, **extra)
        cfg["outbound"] = outbound
        p = Phone(tmp_path, cfg)
        started.append(p)
        return p

    yield make
    for p in started:
        p.stop()


def udp_uri(port):
    return "sip:127.0.0.1:%d;transport=udp" % port


def tls_uri(port):
    return "sips:127.0.0.1:%d" % port


def reach(lab, tmp_path, phone, packets=20):
    """A loopback call from SIPp through Kamailio reaches the phone, which answers it by
    itself and mirrors its RTP; returns the call_incoming event (its flow)."""
    if sipp_binary() is None:
        peer_unavailable("sipp (Debian sip-tester) is not installed")
    rc, got, inc, _ = loopback_call(lab, tmp_path, phone, packets, timeout_s=20)
    assert rc == 0 and got >= packets - 2, (rc, got)
    return inc


def check_backoff(events, base_ms, max_ms=8000):
    """Every flow_recovering delay lies in 50-100 % of min(max, base * 2^failures)."""
    assert events
    for e in events:
        wait = min(max_ms, base_ms * (1 << e["failures"]))
        assert wait // 2 <= e["delay_ms"] <= wait, (e, base_ms)


def after(phone, mark, name, **match):
    return [e for e in phone.events[mark:] if e.get("event") == name
            and all(e.get(k) == v for k, v in match.items())]


def test_udp_flow_stun_keepalive_binding_and_call(rlab, phones, tmp_path):
    mac = "02:00:00:00:06:01"
    phone = phones(rlab, mac, [udp_uri(rlab.port_udp)])
    reg = phone.wait_for("registered", flow=0, timeout=15)
    assert reg["outbound"] is True and reg["flow_timer"] == 3
    assert phone.wait_for("flow_connecting", flow=0)["transport"] == "udp"
    # STUN Binding answered by Kamailio's stun module on the SIP socket: at once, then
    # every 80-100 % of the Flow-Timer
    deadline = time.time() + 10
    while len(phone.named("keepalive")) < 3 and time.time() < deadline:
        time.sleep(0.2)
    kas = phone.named("keepalive")
    assert len(kas) >= 3, phone.log()
    gaps = [b["t"] - a["t"] for a, b in zip(kas[1:], kas[2:])]
    assert all(2300 <= g <= 3300 for g in gaps), gaps
    want = "<urn:uuid:00000000-0000-1000-8000-%s>" % mac.replace(":", "")
    b = [b for b in rlab.ul_dump() if b.get("instance") == want]
    assert b and str(b[0]["reg_id"]) == "1" and ";ob" in b[0]["path"], b
    assert b[0]["socket"].startswith("udp:"), b
    assert reach(rlab, tmp_path, phone)["flow"] == 0
    assert not phone.named("flow_failed") and not phone.named("internal_error")


def test_tls_primary_cut_udp_backup_keeps_the_phone_reachable(rlab, phones, tmp_path):
    relay = Relay(rlab.port_tls)
    try:
        phone = phones(rlab, "02:00:00:00:06:02", [tls_uri(relay.port), udp_uri(rlab.port_udp)])
        phone.wait_for("registered", flow=0, timeout=15)
        phone.wait_for("registered", flow=1, timeout=15)
        # cut only the TLS flow and keep its listener down: it must back off with the
        # base for "another flow works" while the UDP flow carries the calls
        mark = len(phone.events)
        relay.refuse(True)
        phone.wait_for("flow_failed", flow=0, start=mark, timeout=10)
        phone.wait_for("flow_recovering", flow=0, start=mark, timeout=10)
        inc = reach(rlab, tmp_path, phone)
        assert inc["flow"] == 1, inc  # through the backup flow, during the recovery
        assert not after(phone, mark, "flow_failed", flow=1)
        relay.refuse(False)
        t_fix = phone.wait_for("registered", flow=0, start=mark, timeout=20)
        check_backoff(after(phone, mark, "flow_recovering", flow=0), 2000)
        # it came back within the largest delay it drew, plus a connect and a REGISTER
        rec = after(phone, mark, "flow_recovering", flow=0)
        assert t_fix["t"] - rec[-1]["t"] <= rec[-1]["delay_ms"] + 3000, (t_fix, rec[-1])
        # a cut that the listener survives: the flow re-forms at once (§4.5: no backoff)
        mark = len(phone.events)
        relay.drop_all()
        ff = phone.wait_for("flow_failed", flow=0, start=mark, timeout=10)
        up = phone.wait_for("registered", flow=0, start=mark, timeout=10)
        assert up["t"] - ff["t"] < 2000 and not after(phone, mark, "flow_recovering")
        reach(rlab, tmp_path, phone)
    finally:
        relay.close()
    assert not phone.named("internal_error")


def test_kamailio_restart_every_flow_recovers(rlab, phones, tmp_path):
    phone = phones(rlab, "02:00:00:00:06:03", [tls_uri(rlab.port_tls), udp_uri(rlab.port_udp)])
    phone.wait_for("registered", flow=0, timeout=15)
    phone.wait_for("registered", flow=1, timeout=15)
    mark = len(phone.events)
    # down for a few seconds, then up again with an empty location table: the TLS flow
    # sees its connection close, the UDP flow its STUN keepalive go unanswered (a restart
    # faster than a keepalive is invisible on UDP until the next refresh)
    rlab.stop()
    time.sleep(6)
    rlab.start()
    for f in (0, 1):
        phone.wait_for("flow_failed", flow=f, start=mark, timeout=15)
        phone.wait_for("registered", flow=f, start=mark, timeout=30)
    for e in after(phone, mark, "flow_recovering"):
        wait = min(8000, 2000 * (1 << e["failures"]))  # either base applies, at the most 2 s
        assert wait // 4 <= e["delay_ms"] <= wait, e
    reasons = set(e["reason"] for e in after(phone, mark, "flow_failed", flow=1))
    # the UDP flow learns it from STUN (no answer while Kamailio is down) or the refresh
    assert reasons & {"pong_timeout", "register_timeout", "connection_lost"} or any(
        r.startswith("connection_lost") for r in reasons), reasons
    reach(rlab, tmp_path, phone)
    assert not phone.named("internal_error")


def test_nat_rebinding_is_seen_by_stun_and_the_flow_reforms(rlab, phones, tmp_path):
    from udprelay import UdpRelay

    with UdpRelay(rlab.port_udp) as nat:
        phone = phones(rlab, "02:00:00:00:06:04", [udp_uri(nat.port)])
        phone.wait_for("registered", flow=0, timeout=15)
        phone.wait_for("keepalive", flow=0, timeout=10)
        mark = len(phone.events)
        nat.rebind()  # the NAT forgets us: the same phone socket now leaves from a new port
        ff = phone.wait_for("flow_failed", flow=0, start=mark, timeout=10)
        assert ff["reason"] == "stun_mapped_changed", ff
        up = phone.wait_for("registered", flow=0, start=mark, timeout=10)
        assert up["t"] - ff["t"] < 2000 and not after(phone, mark, "flow_recovering")
        assert reach(rlab, tmp_path, phone)["flow"] == 0  # through the new mapping
    assert not phone.named("internal_error")


def test_503_with_retry_after_delays_the_next_attempt(rlab, phones, tmp_path):
    rlab.fail_register(retry_after=3)
    try:
        phone = phones(rlab, "02:00:00:00:06:05", [tls_uri(rlab.port_tls)])
        rf = phone.wait_for("registration_failed", flow=0, timeout=15)
        assert rf["status"] == 503, rf
        rec = phone.wait_for("flow_recovering", flow=0, timeout=5)
        assert rec["delay_ms"] >= 3000, rec  # Retry-After wins over the shorter backoff
        rlab.fail_register(False)
        up = phone.wait_for("registered", flow=0, timeout=20)
        assert up["t"] - rec["t"] >= 3000
    finally:
        rlab.fail_register(False)
    reach(rlab, tmp_path, phone)


def test_rfc3263_srv_first_target_down_then_second(rlab, phones, tmp_path):
    from dnslab import DnsServer

    dead = Relay(rlab.port_tls)  # the first SRV target: nothing listens there any more
    dead.close()
    records = {
        "naptr": [("lab.test", 10, 10, "s", "SIPS+D2T", "", "_sips._tcp.lab.test"),
                  ("lab.test", 20, 10, "s", "SIP+D2U", "", "_sip._udp.lab.test")],
        "srv": [("_sips._tcp.lab.test", "edge1.lab.test", dead.port, 10, 0),
                ("_sips._tcp.lab.test", "edge2.lab.test", rlab.port_tls2, 20, 0),
                ("_sip._udp.lab.test", "edge1.lab.test", rlab.port_udp, 10, 0)],
        "a": [("edge1.lab.test", "127.0.0.1"), ("edge2.lab.test", "127.0.0.1")],
    }
    with DnsServer(tmp_path / "dns", 19053, records) as dns:
        phone = phones(rlab, "02:00:00:00:06:06", ["sips:lab.test"],
                       dns={"server": "127.0.0.1:19053"})
        up = phone.wait_for("registered", flow=0, timeout=20)
        sel = [e for e in phone.events[:up["_index"]] if e.get("event") == "target_selected"]
        assert [(e["transport"], e["port"]) for e in sel] == [
            ("tls", dead.port), ("tls", rlab.port_tls2)], sel
        assert not phone.named("flow_recovering")  # failover is not a backoff
        # what the phone asked: NAPTR, then SRV for the one service a sips: URI allows
        asked = dns.queries()
        assert ("NAPTR", "lab.test") in asked and ("SRV", "_sips._tcp.lab.test") in asked
        assert ("SRV", "_sip._udp.lab.test") not in asked, asked
        reach(rlab, tmp_path, phone)
    assert not phone.named("internal_error")
