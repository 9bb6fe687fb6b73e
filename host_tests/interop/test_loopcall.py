"""tools/loopcall against real peers: the phone (MicroPython unix port) registered through
Kamailio, a SIPp echoing mirror, and the phone as the source calling a second phone.

The accuracy tests are in test_loopcall_accuracy.py (network namespaces, root).
"""
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import peer_unavailable
from phone import MICROPYTHON, REPO, Phone, lab_config

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(REPO, "tools", "loopcall")
MIRROR = os.path.join(HERE, "sipp", "mirror_uas.xml")
TESTER = "sip:tester@lab.test"


def loopcall(lab, workdir, target, *extra, user="tester", password="testpw", timeout=90):
    """Run the tool; (exit status, parsed JSON or None, stdout, stderr)."""
    out = os.path.join(str(workdir), "loopcall-%d.json" % time.monotonic_ns())
    cmd = [sys.executable, TOOL, "--target", target, "--proxy",
           "sips:127.0.0.1:%d" % lab.port_tls, "--user", user, "--password", password,
           "--ca", lab.ca_der, "--server-name", "lab.test", "--json", out] + list(extra)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    data = None
    if os.path.exists(out):
        with open(out) as f:
            data = json.load(f)
    return r.returncode, data, r.stdout, r.stderr


@pytest.fixture
def mirror_phone(lab, tmp_path):
    """phone1 registered through the lab, auto-answering loopback calls from tester."""
    cfg = lab_config(lab, "02:00:00:00:04:01", autoanswer={"allow": [TESTER]},
                     media={"ip": "127.0.0.1", "port": 44000})
    ph = Phone(tmp_path, cfg)
    ph.wait_for("registered")
    yield ph
    ph.stop()


@pytest.mark.parametrize("mode", ["encaprtp", "rtploopback", "media"])
def test_tool_measures_the_phone_mirror_in_each_mode(lab, tmp_path, mirror_phone, mode):
    rc, data, out, err = loopcall(lab, tmp_path, lab.aor("phone1"), "--duration", "2",
                                  "--mode", mode, "--plot", str(tmp_path / "p.png"))
    assert rc == 0, err
    s = data["summary"]
    assert s["sent"] == 100 and s["received"] == 100 and s["lost"] == 0
    assert s["duplicates"] == 0 and s["foreign"] == 0
    if mode == "encaprtp":
        assert (s["lost_forward"], s["lost_return"]) == (0, 0)
    else:
        assert s["lost_forward"] is None and s["lost_return"] is None
    r = s["rtt_ms"]
    assert 0 < r["min"] <= r["p50"] <= r["p95"] <= r["max"] < 200  # loopback: plausible
    assert s["mos"] > 4.0
    assert len(data["series"]) == 100
    assert "RTT p95 (ms)" in out and "MOS" in out
    with open(str(tmp_path / "p.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    inc = mirror_phone.wait_for("call_incoming", caller=TESTER)
    assert inc["answer_mode"] == "auto"
    end = mirror_phone.wait_for("call_ended", start=inc["_index"])
    assert end["reason"] == "bye" and end["rx"] == 100 and end["tx"] == 100


def test_tool_names_what_failed(lab, tmp_path, mirror_phone):
    rc, data, out, err = loopcall(lab, tmp_path, "sip:nobody@lab.test", "--duration", "1")
    assert rc == 2 and data is None
    assert "sip:nobody@lab.test answered 404" in err
    rc, _, _, err = loopcall(lab, tmp_path, lab.aor("phone1"), password="wrong")
    assert rc == 2 and "proxy refused the registration: 401" in err
    rc, _, _, err = loopcall(lab, tmp_path, lab.aor("phone1"), "--interval", "1")
    assert rc == 2 and "interval" in err
    # Answer-Mode: Auto;require from a caller the phone's policy does not allow: 403
    rc, _, _, err = loopcall(lab, tmp_path, lab.aor("phone1"), "--require", user="mallory",
                             password="mallorypw")
    assert rc == 2 and "answered 403" in err


def test_tool_gives_up_on_a_phone_that_only_rings(lab, tmp_path, mirror_phone):
    rc, _, _, err = loopcall(lab, tmp_path, lab.aor("phone1"), "--answer-timeout", "2",
                             user="mallory", password="mallorypw")
    assert rc == 2
    assert "no answer within 2 s" in err and "autoanswer.allow" in err
    inc = mirror_phone.wait_for("call_incoming", caller="sip:mallory@lab.test")
    assert inc["answer_mode"] == "auto"
    end = mirror_phone.wait_for("call_ended", start=inc["_index"])
    assert end["reason"] == "cancelled"
    assert not mirror_phone.named("call_answered")[-1:] or all(
        a["call_id"] != inc["call_id"] for a in mirror_phone.named("call_answered"))


def _sipp_mirror(workdir, port, rtp_port, role="a=loopback-mirror", echo=True):
    sipp = shutil.which("sipp")
    if sipp is None:
        peer_unavailable("sipp not installed")
    attrs = "a=rtpmap:97 rtploopback/8000\r\na=rtpmap:8 PCMA/8000\r\na=loopback:rtp-pkt-loopback"
    cmd = [sipp, "-sf", MIRROR, "-m", "1", "-nostdin", "-i", "127.0.0.1", "-p", str(port),
           "-mp", str(rtp_port)] + (["-rtp_echo"] if echo else []) + [
           "-set", "role", role, "-set", "fmts", "97 8",
           "-set", "attrs", attrs, "-timeout", "40s", "-timeout_error",
           "-trace_msg", "-message_file", os.path.join(str(workdir), "mirror-%d.log" % port)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            cwd=str(workdir))


def test_tool_measures_a_sipp_echoing_mirror(lab, tmp_path):
    sipp = _sipp_mirror(tmp_path, 17720, 17730)
    try:
        time.sleep(0.5)
        rc, data, out, err = loopcall(lab, tmp_path, "sip:mirror@127.0.0.1:17720",
                                      "--duration", "2", "--mode", "rtploopback")
        assert rc == 0, err + sipp.stderr.read1().decode("utf-8", "replace") if rc else err
        s = data["summary"]
        assert s["sent"] == 100 and s["received"] == 100
        assert 0 < s["rtt_ms"]["p50"] < 200
        assert sipp.wait(20) == 0  # SIPp saw the whole call, BYE included
    finally:
        if sipp.poll() is None:
            sipp.kill()
            sipp.wait()


def test_tool_refuses_an_answer_without_loopback_mirror(lab, tmp_path):
    sipp = _sipp_mirror(tmp_path, 17722, 17732, role="a=sendrecv")
    try:
        time.sleep(0.5)
        rc, data, out, err = loopcall(lab, tmp_path, "sip:mirror@127.0.0.1:17722",
                                      "--duration", "2", "--mode", "rtploopback")
        assert rc == 2 and "mirror not RFC 6849" in err
        assert sipp.wait(20) == 0  # we hung up with a BYE
    finally:
        if sipp.poll() is None:
            sipp.kill()
            sipp.wait()


def test_tool_reports_a_mirror_that_sends_no_media(lab, tmp_path):
    sipp = _sipp_mirror(tmp_path, 17724, 17734, echo=False)
    try:
        time.sleep(0.5)
        rc, data, out, err = loopcall(lab, tmp_path, "sip:mirror@127.0.0.1:17724",
                                      "--duration", "5", "--mode", "rtploopback",
                                      "--media-timeout", "1")
        assert rc == 1
        assert "no media came back within 1 s (mirror at 127.0.0.1:17734)" in err
        assert sipp.wait(20) == 0  # the call was ended with a BYE
    finally:
        if sipp.poll() is None:
            sipp.kill()
            sipp.wait()


def test_tool_calls_the_phone_by_its_gruu(lab, tmp_path, mirror_phone):
    gruu = mirror_phone.wait_for("registered")["pub_gruu"]
    assert gruu and ";gr=" in gruu
    rc, data, out, err = loopcall(lab, tmp_path, gruu, "--duration", "1")
    assert rc == 0, err
    assert data["summary"]["received"] == 50 and data["meta"]["target"] == gruu


def test_phone_as_source_over_mpremote_calls_a_second_phone(lab, tmp_path):
    """The firmware's app.loopcall() run through mpremote exec on the unix port behind a
    pty: phone1 calls phone2 (a mirror that allows phone1) and prints the summary."""
    if shutil.which("socat") is None:
        peer_unavailable("socat not installed (tools/deps.sh installs it)")
    mpremote = os.path.join(REPO, ".venv", "bin", "mpremote")
    cfg2 = lab_config(lab, "02:00:00:00:04:02", autoanswer={"allow": [lab.aor("phone1")]},
                      media={"ip": "127.0.0.1", "port": 44100},
                      auth={"username": "phone2", "password": lab.users["phone2"]},
                      aor=lab.aor("phone2"))
    mirror = Phone(tmp_path, cfg2)
    mirror.wait_for("registered")
    cfg1 = lab_config(lab, "02:00:00:00:04:03", media={"ip": "127.0.0.1", "port": 44200})
    path1 = str(tmp_path / "source.json")
    with open(path1, "w") as f:
        json.dump(cfg1, f)
    tty = str(tmp_path / "ttyMP")
    socat = subprocess.Popen(["socat", "PTY,link=%s,raw,echo=0" % tty,
                              "EXEC:%s,pty,raw,echo=0,stderr" % MICROPYTHON],
                             cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        for _ in range(50):
            if os.path.exists(tty):
                break
            time.sleep(0.1)
        code = ("import sys; sys.path[:0] = ['firmware', 'lib', 'boards/host']; import app; "
                "s = app.loopcall('%s', 3, 'rtploopback', path='%s')" % (lab.aor("phone2"),
                                                                         path1))
        r = subprocess.run([mpremote, "connect", tty, "resume", "exec", code],
                           capture_output=True, text=True, timeout=60)
        out = r.stdout
        assert r.returncode == 0, out + r.stderr
        assert "loopcall_done" in out, out
        assert "sent 150" in out and "rtt ms" in out and "MOS" in out, out
        done = [json.loads(x) for x in out.splitlines() if '"loopcall_done"' in x][0]
        assert done["summary"]["received"] == 150
        inc = mirror.wait_for("call_incoming", caller=lab.aor("phone1"))
        assert inc["answer_mode"] == "auto"
        end = mirror.wait_for("call_ended", start=inc["_index"])
        assert end["reason"] == "bye" and end["rx"] == 150
    finally:
        os.killpg(socat.pid, 15)
        socat.wait(5)
        mirror.stop()
