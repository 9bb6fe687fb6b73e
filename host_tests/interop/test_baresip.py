"""A real phone calls ours: baresip 1.0.0 (host_tests/interop/baresip.py) dials the phone's
AoR through the lab with no Answer-Mode header. The phone (MicroPython unix port, registered
over TLS) must ring and never answer by itself, even though the caller is in its
autoanswer.allow list, and give up with 480 after call.ring_timeout.

The test has its own Kamailio lab on port_base 17560. baresip authenticates at the edge
(407, digest as tester) so the phone sees P-Asserted-Identity sip:tester@lab.test.
"""
import pytest

from baresip import MODULES, Baresip, BaresipError, baresip_binary, module_dir
from conftest import peer_unavailable
from phone import Phone, lab_config, logs_on_failure

PORT_BASE = 17560
ALLOW = "sip:tester@lab.test"
RING_TIMEOUT = 4  # s; baresip's own call_local_timeout is 120 s: the phone always ends it


@pytest.fixture
def baresip_lab(lab_factory):
    if baresip_binary() is None or module_dir() is None:  # before starting anything
        peer_unavailable("baresip with the modules %s is not installed (make deps: "
                         "baresip-core)" % ", ".join(MODULES))
    return lab_factory("kamailio-baresip", port_base=PORT_BASE, flow_timer=30,
                       users={"phone1": "secret1", "tester": "testpw"})


@pytest.fixture
def baresip_phone(baresip_lab, tmp_path):
    cfg = lab_config(baresip_lab, "02:00:00:00:0c:b5", autoanswer={"allow": [ALLOW]},
                     media={"ip": "127.0.0.1", "port": 42000},
                     call={"ring_timeout": RING_TIMEOUT})
    p = Phone(tmp_path, cfg)
    try:
        p.wait_for("registered", timeout=15)
        yield p
    finally:
        p.stop()


@pytest.fixture
def baresip(baresip_lab, tmp_path):
    try:
        b = Baresip(tmp_path, baresip_lab, "tester")
    except BaresipError as e:
        peer_unavailable("baresip cannot start: %s" % e)
    try:
        yield b
    finally:
        b.stop()


def test_baresip_call_without_answer_mode_rings_and_is_not_answered(baresip_lab, baresip_phone,
                                                                     baresip):
    phone = baresip_phone
    with logs_on_failure(phone, baresip):
        baresip.wait_registered()
        mark = len(phone.events)
        ev_mark = len(baresip.events)
        baresip.dial(baresip_lab.aor("phone1"))
        try:
            inc = phone.wait_for("call_incoming", start=mark, timeout=10)
            assert inc["caller"] == ALLOW  # asserted by the edge after its 407 challenge
            assert inc["answer_mode"] is None  # baresip sent no Answer-Mode
            ringing = baresip.wait_event("CALL_RINGING", start=ev_mark, timeout=5)
            assert ringing["peeruri"] == baresip_lab.aor("phone1")
            end = phone.wait_for("call_ended", start=mark, timeout=RING_TIMEOUT + 6)
            assert (end["reason"], end["status"]) == ("no_answer", 480)
            assert end["call_id"] == inc["call_id"]
            assert end["t"] - inc["t"] >= RING_TIMEOUT * 1000 - 200
            closed = baresip.wait_event("CALL_CLOSED", start=ev_mark, timeout=5)
            assert closed["param"].startswith("480"), closed
        finally:
            baresip.hangup()  # no call left: harmless; a stuck call: ended here
        assert not [e for e in phone.events[mark:] if e.get("event") == "call_answered"]
        assert not [e for e in baresip.events[ev_mark:]
                    if e.get("type") in ("CALL_ESTABLISHED", "CALL_ANSWERED")]
        # the INVITE went through the edge's digest challenge: baresip sent it twice
        assert len(_public_invite_cseqs(baresip_lab)) == 2, baresip_lab.log_tail(60, quiet=True)


def _public_invite_cseqs(lab):
    """CSeq numbers of the INVITEs Kamailio received on its public UDP port (log prefix
    "{<local port> <method> <cseq>}"): 2 when the first was challenged (407)."""
    prefix = "{%d INVITE " % lab.port_udp
    seqs = set()
    for line in lab.log_tail(2000, quiet=True).splitlines():
        i = line.find(prefix)
        if i >= 0 and "request INVITE " in line:
            seqs.add(line[i + len(prefix):].split("}", 1)[0])
    return seqs
