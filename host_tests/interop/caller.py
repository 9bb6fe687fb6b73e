"""A caller for the interop tests: SIPp (signalling, sipp/call_uac.xml) plus an RTP socket
of the test's own that plays the RFC 6849 loopback source.

SIPp runs in the background for one call; the test waits for the phone's events, sends RTP
to the port the phone answered with and reads the mirrored packets; `finish()` waits for
SIPp and returns its exit code and the SIP messages it saw (parsed from -trace_msg).
"""
import os
import re
import shutil
import socket
import struct
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIO = os.path.join(HERE, "sipp", "call_uac.xml")

LOOP_PKT = ("a=loopback:rtp-pkt-loopback", "a=loopback-source",
            "a=rtpmap:100 encaprtp/8000", "a=rtpmap:101 rtploopback/8000")


def sipp_binary():
    return shutil.which("sipp")


class Call:
    """One SIPp call to `ruri` through the lab's public UDP port, authenticated as `user`."""

    def __init__(self, lab, workdir, ruri, user, password, answer_mode=None, caller=None,
                 fmts="100 101", attrs=LOOP_PKT, hold_ms=3000, timeout_s=30):
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.bind(("127.0.0.1", 0))
        self.rtp_port = self.rtp.getsockname()[1]
        self.log = os.path.join(str(workdir), "sipp-%d-messages.log" % self.rtp_port)
        amhdr = answer_mode or "X-Test: no-answer-mode"
        cmd = [sipp_binary(), "-sf", SCENARIO, "-m", "1", "-nostdin", "-i", "127.0.0.1",
               "-p", "0", "-au", user, "-ap", password,
               "-set", "ruri", ruri, "-set", "caller", caller or user, "-set", "amhdr", amhdr,
               "-set", "rtpport", str(self.rtp_port), "-set", "fmts", fmts,
               "-set", "attrs", "\r\n".join(attrs), "-set", "hold", str(hold_ms),
               "-timeout", "%ds" % timeout_s, "-timeout_error",
               "-trace_msg", "-message_file", self.log,
               "127.0.0.1:%d" % lab.port_udp]
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     cwd=str(workdir))

    def finish(self, timeout=40):
        """(SIPp exit code, [(start line, {lower header: [values]}, body)] SIPp received)."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.rtp.close()
        return self.proc.returncode, self.received()

    def received(self):
        return parse_trace(self.log)

    def stderr(self):
        return self.proc.stderr.read().decode("utf-8", "replace") if self.proc.stderr else ""


def final(messages, method="INVITE"):
    """The last final response to `method` SIPp received."""
    for start, headers, body in reversed(messages):
        if (start.startswith("SIP/2.0 ") and not start.startswith("SIP/2.0 1")
                and headers.get("cseq", [""])[0].endswith(" " + method)):
            return start, headers, body
    return None


def rtp_packet(seq, ts, ssrc=0x11223344, pt=0, payload=b"\xd5" * 160):
    return struct.pack("!BBHII", 0x80, pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + payload


def header(pkt):
    """(version, marker, pt, seq, ts, ssrc) of an RTP packet."""
    b0, b1, seq, ts, ssrc = struct.unpack("!BBHII", pkt[:12])
    return b0 >> 6, b1 >> 7, b1 & 0x7F, seq, ts, ssrc


def parse_trace(path, skip_call_id=None):
    """[(start line, {lower header: [values]}, body)] of the messages SIPp received, from its
    -trace_msg log (SIPp's -message_file); messages with Call-ID skip_call_id are left out."""
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    out = []
    for block in re.split(r"-{20,} [^\n]*\n", text):
        if not re.match(r"UDP message received", block):
            continue
        msg = block.split("\n", 2)[2] if block.count("\n") >= 2 else ""
        head, _, body = msg.replace("\r\n", "\n").partition("\n\n")
        lines = head.strip("\n").split("\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        if skip_call_id and skip_call_id in headers.get("call-id", []):
            continue
        out.append((lines[0], headers, body))
    return out


def loopback_call(lab, workdir, phone, packets=20, interval=0.0, hold_ms=1500, timeout_s=30):
    """One auto-answered loopback call from SIPp (as `tester`) to the phone's AoR: send
    `packets` RTP packets to the port it answered with (`interval` s apart; 0: ping-pong),
    count the mirrored ones, wait for the end. Returns (SIPp exit code, mirrored packets,
    the call_incoming event, the call_ended event); raises AssertionError (with the phone's
    output) when the phone never answers or never ends the call."""
    import time

    mark = len(phone.events)
    c = Call(lab, workdir, lab.aor("phone1"), "tester", "testpw",
             answer_mode="Answer-Mode: Auto", hold_ms=hold_ms, timeout_s=timeout_s)
    got = 0
    inc = None
    try:
        ans = phone.wait_for("call_answered", start=mark, timeout=10)
        inc = phone.wait_for("call_incoming", start=mark, timeout=1)
        c.rtp.settimeout(0.5)
        for i in range(packets):
            c.rtp.sendto(rtp_packet(i, 160 * i), ("127.0.0.1", ans["port"]))
            try:
                c.rtp.recvfrom(2048)
                got += 1
            except OSError:
                pass
            if interval:
                time.sleep(interval)
    finally:
        rc, _ = c.finish(timeout=timeout_s + 5)
    end = phone.wait_for("call_ended", start=mark, timeout=10)
    return rc, got, inc, end
