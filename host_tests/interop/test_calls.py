"""Diagnostic loopback calls to the phone (MicroPython unix port, registered over TLS through
Kamailio) placed by SIPp from the lab's public UDP port; the test plays the RTP loopback
source on its own socket and checks every mirrored packet byte for byte.

Callers authenticate at the edge (407), which asserts who they are: `tester` is in the
phone's autoanswer.allow, `mallory` is not.
"""
import os
import socket

import pytest

from caller import LOOP_PKT, Call, final, header, rtp_packet, sipp_binary
from conftest import peer_unavailable
from phone import Phone, lab_config

ALLOW = "sip:tester@lab.test"
PACKETS = 50


@pytest.fixture(scope="module")
def phone(lab, tmp_path_factory):
    if sipp_binary() is None:
        peer_unavailable("sipp is not installed (make deps)")
    work = tmp_path_factory.mktemp("calls")
    cfg = lab_config(lab, "02:00:00:00:0c:a1", autoanswer={"allow": [ALLOW]},
                     media={"ip": "127.0.0.1", "port": 41000}, call={"ring_timeout": 20})
    p = Phone(work, cfg)
    reg = p.wait_for("registered")
    p.pub_gruu = reg["pub_gruu"]
    p.work = work
    yield p
    p.stop()


def _mirror(call, port, pt, n=PACKETS):
    """Send n packets to the phone's RTP port; [(sent, reply)] of what came back."""
    call.rtp.settimeout(1.0)
    out = []
    for i in range(n):
        sent = rtp_packet(1000 + i, 160 * i, payload=bytes([i % 256]) * 160)
        call.rtp.sendto(sent, ("127.0.0.1", port))
        try:
            reply, src = call.rtp.recvfrom(2048)
        except socket.timeout:
            reply, src = None, None
        out.append((sent, reply))
        assert src is None or src == ("127.0.0.1", port)  # symmetric RTP from our port
    return out


def _check_mirror(pairs, fmt, pt):
    seqs = []
    for sent, reply in pairs:
        assert reply is not None, "a packet was not mirrored"
        v, m, rpt, seq, ts, ssrc = header(reply)
        assert (v, rpt) == (2, pt)
        assert ssrc != 0x11223344  # the mirror's own SSRC, never the source's
        if fmt == "encaprtp":
            assert reply[12:] == sent  # the whole original packet, header included
        else:
            assert reply[12:] == sent[12:]  # the payload, under the mirror's header
        seqs.append(seq)
    assert all((b - a) & 0xFFFF == 1 for a, b in zip(seqs, seqs[1:]))  # its own sequence


@pytest.mark.parametrize("target,fmts,fmt,pt", [
    ("aor", "100 101", "encaprtp", 100),
    ("gruu", "101 100", "rtploopback", 101),
])
def test_auto_answered_loopback_call(lab, phone, target, fmts, fmt, pt):
    mark = len(phone.events)
    ruri = lab.aor("phone1") if target == "aor" else phone.pub_gruu
    call = Call(lab, phone.work, ruri, "tester", "testpw", answer_mode="Answer-Mode: Auto",
                fmts=fmts, hold_ms=4000)
    try:
        ans = phone.wait_for("call_answered", start=mark, timeout=15)
        assert (ans["mode"], ans["loopback"], ans["pt"]) == ("auto", "rtp-pkt-loopback", pt)
        pairs = _mirror(call, ans["port"], pt)
    finally:
        rc, msgs = call.finish()
    assert rc == 0, call.stderr()
    start, h, body = final(msgs)
    assert start == "SIP/2.0 200 OK"
    assert h["answer-mode"] == ["Auto"]
    assert "a=loopback-mirror" in body and "a=loopback:rtp-pkt-loopback" in body
    assert "a=rtpmap:%d %s/8000" % (pt, fmt) in body
    assert h["contact"][0].startswith("<" + phone.pub_gruu) and ";ob>" in h["contact"][0]
    _check_mirror(pairs, fmt, pt)
    inc = phone.wait_for("call_incoming", start=mark)
    assert inc["caller"] == "sip:tester@lab.test"
    end = phone.wait_for("call_ended", start=mark, timeout=10)
    assert (end["reason"], end["rx"], end["tx"]) == ("bye", PACKETS, PACKETS)


def test_priv_answer_mode_follows_the_same_policy(lab, phone):
    mark = len(phone.events)
    call = Call(lab, phone.work, lab.aor("phone1"), "tester", "testpw",
                answer_mode="Priv-Answer-Mode: Auto", hold_ms=500)
    rc, msgs = call.finish()
    assert rc == 0, call.stderr()
    start, h, body = final(msgs)
    assert start == "SIP/2.0 200 OK" and h["priv-answer-mode"] == ["Auto"]
    phone.wait_for("call_ended", start=mark, timeout=10)


@pytest.mark.parametrize("header_name", ["Answer-Mode", "Priv-Answer-Mode"])
def test_caller_not_allowed_with_require_gets_403(lab, phone, header_name):
    mark = len(phone.events)
    call = Call(lab, phone.work, lab.aor("phone1"), "mallory", "mallorypw",
                answer_mode=header_name + ": Auto;require", hold_ms=500)
    rc, msgs = call.finish()
    start, _, _ = final(msgs)
    assert start.startswith("SIP/2.0 403"), msgs
    end = phone.wait_for("call_ended", start=mark, timeout=10)
    assert (end["reason"], end["status"]) == ("rejected", 403)
    assert not [e for e in phone.events[mark:] if e.get("event") == "call_answered"]


def test_spoofed_from_does_not_fool_the_policy(lab, phone):
    """mallory authenticates but writes tester in From: the edge asserts mallory."""
    mark = len(phone.events)
    call = Call(lab, phone.work, lab.aor("phone1"), "mallory", "mallorypw", caller="tester",
                answer_mode="Answer-Mode: Auto;require", hold_ms=500)
    rc, msgs = call.finish()
    assert final(msgs)[0].startswith("SIP/2.0 403"), msgs
    assert phone.wait_for("call_incoming", start=mark)["caller"] == "sip:mallory@lab.test"


def test_caller_not_allowed_without_require_rings_and_is_never_answered(lab, phone):
    mark = len(phone.events)
    call = Call(lab, phone.work, lab.aor("phone1"), "mallory", "mallorypw",
                answer_mode="Answer-Mode: Auto", hold_ms=2000)
    rc, msgs = call.finish()
    assert rc == 0, call.stderr()
    assert any(m[0].startswith("SIP/2.0 180") for m in msgs)
    assert final(msgs)[0].startswith("SIP/2.0 487")  # SIPp gave up with CANCEL
    end = phone.wait_for("call_ended", start=mark, timeout=10)
    assert end["reason"] == "cancelled"
    assert not [e for e in phone.events[mark:] if e.get("event") == "call_answered"]


def test_registrar_without_outbound_still_routes_and_auto_answers(lab_factory, tmp_path):
    """A registrar without RFC 5626 support (issue 14): the registration is a plain binding
    of the address the registrar saw, the INVITE still comes down the phone's own TLS
    connection to its proxy, so the allowed caller's loopback call is answered."""
    if sipp_binary() is None:
        peer_unavailable("sipp is not installed (make deps)")
    plain = lab_factory("kamailio-no-outbound", port_base=16560, outbound_mode=0, flow_timer=0,
                        users={"phone1": "secret1", "tester": "testpw"})
    cfg = lab_config(plain, "02:00:00:00:0c:a2", autoanswer={"allow": [ALLOW]},
                     media={"ip": "127.0.0.1", "port": 41200})
    p = Phone(tmp_path, cfg)
    try:
        reg = p.wait_for("registered")
        assert reg["outbound"] is False and ".invalid" not in reg["contact"]
        call = Call(plain, tmp_path, plain.aor("phone1"), "tester", "testpw",
                    answer_mode="Answer-Mode: Auto;require", hold_ms=500)
        rc, msgs = call.finish()
        assert final(msgs)[0].startswith("SIP/2.0 200"), msgs
    finally:
        p.stop()


def test_baresip_like_call_without_answer_mode_rings(lab, phone):
    """No Answer-Mode at all (what an ordinary phone sends): ring, never auto-answer."""
    mark = len(phone.events)
    call = Call(lab, phone.work, lab.aor("phone1"), "tester", "testpw", answer_mode=None,
                hold_ms=1500)
    rc, msgs = call.finish()
    assert rc == 0, call.stderr()
    assert final(msgs)[0].startswith("SIP/2.0 487")
    inc = phone.wait_for("call_incoming", start=mark)
    assert inc["answer_mode"] is None
    assert not [e for e in phone.events[mark:] if e.get("event") == "call_answered"]


def test_sipp_present_in_ci():
    if os.environ.get("CI", "").lower() == "true":
        assert sipp_binary() is not None
    else:
        pytest.skip("only checked in CI")
