"""A re-INVITE without an offer from a real peer (SIPp, sipp/reinvite_uac.xml), as a
third-party call controller sends it (RFC 3261 §14.2, RFC 3725): the phone, in a voice call
with SRTP that it answered on stdin, puts its offer in the 200 and runs the answer the ACK
brings; an ACK without an answer is reported and the call goes on; the peer's BYE ends it.

The module has its own Kamailio lab on port_base 23260; SIPp calls through the lab's public
UDP port (the edge challenges it with 407) as tester. The phone's RTP goes to the test's
socket, which only keeps the port taken.
"""
import base64
import os
import socket
import subprocess

import pytest

from caller import parse_trace, sipp_binary
from conftest import peer_unavailable
from phone import Phone, lab_config

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIO = os.path.join(HERE, "sipp", "reinvite_uac.xml")
PORT_BASE = 23260
KEY = base64.b64encode(bytes(range(1, 31))).decode()  # the caller's SDES key (30 bytes)


@pytest.fixture(scope="module")
def sipp():
    path = sipp_binary()
    if path is None:
        peer_unavailable("sipp not installed")
    return path


def test_an_offerless_re_invite_from_sipp_gets_our_offer_and_the_ack_answer_runs(
        lab_factory, tmp_path, sipp):
    lab = lab_factory("kamailio-reinvite", port_base=PORT_BASE,
                      users={"phone1": "secret1", "tester": "testpw"})
    cfg = lab_config(lab, "02:00:00:00:0d:01",
                     media={"ip": "127.0.0.1", "port_min": 23400, "port_max": 23498,
                            "srtp": "required"},
                     audio={"mic": "tone:440", "speaker": str(tmp_path / "phone.wav")})
    phone = Phone(tmp_path, cfg)
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("127.0.0.1", 0))
    log = str(tmp_path / "sipp-messages.log")
    proc = None
    try:
        phone.wait_for("registered", timeout=15)
        proc = subprocess.Popen(
            [sipp, "-sf", SCENARIO, "-m", "1", "-nostdin", "-i", "127.0.0.1", "-p", "0",
             "-au", "tester", "-ap", "testpw", "-set", "ruri", lab.aor("phone1"),
             "-set", "caller", "tester", "-set", "rtpport", str(rtp.getsockname()[1]),
             "-set", "key", KEY, "-set", "pause", "1500", "-timeout", "30s",
             "-timeout_error", "-trace_msg", "-message_file", log, "127.0.0.1:%d" % lab.port_udp],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=str(tmp_path))
        inc = phone.wait_for("call_incoming", timeout=10)
        phone.command("answer %s" % inc["call_id"])
        held = phone.wait_for("call_held", timeout=15, call_id=inc["call_id"])
        assert (held["direction"], held["status"]) == ("sendonly", 200), held
        dropped = phone.wait_for("message_dropped", timeout=10)
        assert "ACK without the answer" in dropped["reason"], dropped
        end = phone.wait_for("call_ended", timeout=15, call_id=inc["call_id"])
        assert end["reason"] == "bye", end
        rc = proc.wait(20)
        assert rc == 0, proc.stderr.read().decode("utf-8", "replace")
        oks = [m for m in parse_trace(log) if m[0].startswith("SIP/2.0 200")
               and m[1].get("cseq", [""])[0].endswith("INVITE")]
        assert [o[1]["cseq"][0] for o in oks][-3:] == ["2 INVITE", "3 INVITE", "4 INVITE"]
        answer, offer3, offer4 = (o[2] for o in oks[-3:])
        o_lines = [next(x for x in b.split("\n") if x.startswith("o=")) for b in
                   (answer, offer3, offer4)]
        assert [x.split()[2] for x in o_lines] == ["1", "2", "3"]  # same session, version + 1
        assert len({x.split()[1] for x in o_lines}) == 1
        assert "m=audio" in offer3 and "RTP/SAVP" in offer3 and "a=crypto:1" in offer3
        # we hold nobody: each offer is sendrecv; the peer holds us by its answer (recvonly
        # in the first ACK), and holds or frees us again in the next (none: as it was)
        assert "a=sendrecv" in offer3 and "a=sendrecv" in offer4
        assert len(phone.named("call_held")) == 1
        assert not [e for e in phone.events if e.get("event") == "internal_error"]
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        rtp.close()
        phone.stop()
