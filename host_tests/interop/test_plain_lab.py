"""Issue 14: the phone (MicroPython unix port) against registrars that do not speak SIP Outbound.

Two lab profiles (tools/lab/kamailio-plain.cfg): `plain` (registrar + usrloc only: no
outbound, path or GRUU module, idle TCP/TLS connections closed after a short
tcp_connection_lifetime) and `nat` (the same with nathelper's fix_nated_register). Callers
are SIPp on the public UDP port, challenged and asserted by Kamailio as in the outbound lab.
Each test asserts against Kamailio's own view (`kamcmd ul.dump`) and SIPp's trace.
"""
import os
import time

import pytest

from caller import HERE as SIPP_HERE
from caller import Call, final, loopback_call, parse_trace, sipp_binary
from conftest import peer_unavailable
from phone import Phone, lab_config
from relay import Relay

USERS = {"phone1": "secret1", "tester": "testpw"}
ALLOW = "sip:tester@lab.test"
LIFETIME = 4  # s: the lab drops an idle TCP/TLS connection after this (plus its timer's slack)
_bases = iter(range(20060, 20060 + 100 * 40, 100))  # one Kamailio per test, own ports


@pytest.fixture(autouse=True)
def _sipp():
    if sipp_binary() is None:
        peer_unavailable("sipp is not installed (make deps)")


def _lab(lab_factory, profile, **kw):
    return lab_factory("kamailio-" + profile, port_base=next(_bases), profile=profile,
                       users=USERS, tcp_lifetime=LIFETIME, **kw)


def _proxy(lab, transport, port=None):
    if transport == "tls":
        return "sips:127.0.0.1:%d" % (port or lab.port_tls)
    if transport == "tcp":
        return "sip:127.0.0.1:%d;transport=tcp" % (port or lab.port_tcp)
    return "sip:127.0.0.1:%d" % (port or lab.port_udp)


def _phone(lab, work, mac, proxies, media_port, **extra):
    # the proxy's assertion is believed on every transport here (loopback: nobody can spoof
    # the lab); the default, TLS only, is tested in test_hostile and test_ua_hostile
    cfg = lab_config(lab, mac, autoanswer={"allow": [ALLOW], "trust": ["tls", "tcp", "udp"]},
                     media={"ip": "127.0.0.1", "port": media_port}, call={"ring_timeout": 20},
                     **extra)
    cfg["outbound"] = proxies
    cfg["flow"]["keepalive"] = 1.5
    return Phone(work, cfg)


def _bindings(lab, user="phone1"):
    return [b for b in lab.ul_dump() if b["aor"] == user]


def _one_binding(lab, contact):
    """Exactly one binding for phone1, the Contact the phone said it registered."""
    deadline = time.time() + 5
    while True:
        bs = _bindings(lab)
        if len(bs) == 1 and bs[0]["contact"] == contact or time.time() > deadline:
            break
        time.sleep(0.2)
    assert [b["contact"] for b in bs] == [contact], bs
    assert ".invalid" not in contact
    return bs[0]


def _call_rings_and_is_cancelled(lab, work, phone):
    mark = len(phone.events)
    call = Call(lab, work, lab.aor("phone1"), "tester", "testpw", answer_mode=None,
                hold_ms=800)
    rc, msgs = call.finish()
    assert rc == 0, call.stderr()
    assert final(msgs)[0].startswith("SIP/2.0 487"), msgs
    phone.wait_for("call_incoming", start=mark)
    phone.wait_for("call_ended", start=mark, reason="cancelled")


def _call_is_answered(lab, work, phone):
    rc, got, inc, end = loopback_call(lab, work, phone, packets=10)
    assert rc == 0 and got == 10, (rc, got)
    assert inc["caller"] == ALLOW


@pytest.mark.parametrize("transport", ["tls", "tcp", "udp"])
@pytest.mark.parametrize("profile", ["plain", "nat"])
def test_registers_one_reachable_binding_and_takes_calls(lab_factory, tmp_path, profile,
                                                         transport):
    lab = _lab(lab_factory, profile)
    p = _phone(lab, tmp_path, "02:00:00:00:14:01", [_proxy(lab, transport)], 42000)
    try:
        reg = p.wait_for("registered")
        assert reg["outbound"] is False
        # the Contact is where the registrar saw the phone: learned from Via rport
        assert p.named("contact_rewritten")
        b = _one_binding(lab, reg["contact"])
        assert b["instance"] is not None and "02000000" not in b["contact"]
        if profile == "nat":
            assert b.get("received")  # fix_nated_register stored the source address
        _call_rings_and_is_cancelled(lab, tmp_path, p)
        _call_is_answered(lab, tmp_path, p)
        assert len(_bindings(lab)) == 1
    finally:
        p.stop()
    # unregistered on the way out, asked by the control line `quit` (Phone.stop): a SIGINT
    # could land in a garbage collection and lock the heap before the unregister
    assert not p.signalled and p.named("stopped"), p.log()
    assert _bindings(lab) == [], p.log()


@pytest.mark.parametrize("profile", ["plain", "nat"])
def test_keepalive_holds_the_connection_and_a_cut_is_recovered(lab_factory, tmp_path,
                                                               profile):
    lab = _lab(lab_factory, profile)
    relay = Relay(lab.port_tls)
    p = _phone(lab, tmp_path, "02:00:00:00:14:02", [_proxy(lab, "tls", relay.port)], 42100)
    try:
        reg = p.wait_for("registered")
        _one_binding(lab, reg["contact"])
        # three times the server's idle lifetime: CRLF keepalives hold the connection, so
        # no reconnect and no re-registration
        time.sleep(3 * (LIFETIME + 2))
        assert relay.accepted == 1
        assert len(p.named("registered")) == 1 and not p.named("flow_failed"), p.log()
        # the path dies (NAT reset, cable): noticed at once, re-formed without backoff
        mark = len(p.events)
        cut = time.time()
        assert relay.drop_all() == 1
        again = p.wait_for("registered", start=mark, timeout=10)
        assert time.time() - cut < 10  # RFC 5626 §4.5: an up flow re-forms at once
        assert not [e for e in p.events[mark:] if e.get("event") == "flow_recovering"]
        assert again["contact"] != reg["contact"]  # a new connection, a new port
        _one_binding(lab, again["contact"])
        _call_is_answered(lab, tmp_path, p)
    finally:
        p.stop()
        relay.close()


@pytest.mark.parametrize("backup", ["tls2", "udp"])
@pytest.mark.parametrize("profile", ["plain", "nat"])
def test_two_flows_one_binding_and_the_standby_takes_over(lab_factory, tmp_path, profile,
                                                          backup):
    lab = _lab(lab_factory, profile)
    relay = Relay(lab.port_tls)
    second = _proxy(lab, "tls", lab.port_tls2) if backup == "tls2" else _proxy(lab, "udp")
    p = _phone(lab, tmp_path, "02:00:00:00:14:03", [_proxy(lab, "tls", relay.port), second],
               42200)
    try:
        reg = p.wait_for("registered")
        assert reg["flow"] == 0
        p.wait_for("flow_standby", flow=1)
        _one_binding(lab, reg["contact"])
        time.sleep(2)
        assert len(p.named("registered")) == 1 and len(_bindings(lab)) == 1
        # cut the registered flow: the standby takes the single binding over at once
        mark = len(p.events)
        relay.refuse(True)  # and it stays down: the first flow backs off
        moved = p.wait_for("registered", start=mark, timeout=10, flow=1)
        _one_binding(lab, moved["contact"])
        _call_is_answered(lab, tmp_path, p)
        # the first flow comes back as the standby: still one binding, on flow 1
        relay.refuse(False)
        p.wait_for("flow_standby", start=mark, flow=0, timeout=20)
        assert len(_bindings(lab)) == 1
    finally:
        p.stop()
        relay.close()


def test_forked_invite_second_branch_gets_482(lab_factory, tmp_path):
    lab = _lab(lab_factory, "plain")
    p = _phone(lab, tmp_path, "02:00:00:00:14:04", [_proxy(lab, "tls")], 42300)
    try:
        p.wait_for("registered")
        log = os.path.join(str(tmp_path), "sipp-fork-messages.log")
        import subprocess

        cmd = [sipp_binary(), "-sf", os.path.join(SIPP_HERE, "sipp", "fork_uac.xml"),
               "-m", "1", "-nostdin", "-i", "127.0.0.1", "-p", "0", "-au", "tester",
               "-ap", "testpw", "-set", "ruri", lab.aor("phone1"), "-set", "caller", "tester",
               "-set", "hold", "500", "-timeout", "30s", "-timeout_error", "-trace_msg",
               "-message_file", log, "127.0.0.1:%d" % lab.port_udp]
        proc = subprocess.run(cmd, cwd=str(tmp_path), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=40)
        msgs = parse_trace(log)
        assert proc.returncode == 0, (proc.stderr, msgs)
        starts = [m[0] for m in msgs]
        assert any(s.startswith("SIP/2.0 482") for s in starts), starts
        assert any(s.startswith("SIP/2.0 487") for s in starts), starts
        assert len(p.named("call_incoming")) == 1  # the fork was not a second call
        p.wait_for("call_ended", reason="cancelled")
        answered = [e for e in p.named("request_answered") if e["status"] == 482]
        assert answered and answered[0]["method"] == "INVITE"
    finally:
        p.stop()


def test_outbound_lab_unchanged_registers_both_flows_with_outbound(lab, tmp_path):
    """The outbound profile: both flows register (reg-id 1 and 2), flow tokens, no rewrite;
    the second waits for the first 2xx, which tells whether the registrar does outbound."""
    cfg = lab_config(lab, "02:00:00:00:14:05", ports=[lab.port_tls, lab.port_tls2])
    p = Phone(tmp_path, cfg)
    try:
        a = p.wait_for("registered", flow=0)
        b = p.wait_for("registered", flow=1)
        assert a["outbound"] is True and b["outbound"] is True
        assert not p.named("contact_rewritten")
        # flow 1 waited (standby) only until flow 0's 2xx showed the registrar does outbound
        assert a["_index"] < b["_index"]
        mine = [x for x in lab.ul_dump() if x["instance"] and "02000000" not in x["contact"]
                and x["aor"] == "phone1" and x["reg_id"] in (1, 2)]
        assert len(mine) >= 2
    finally:
        p.stop()
