"""An RFC 6072 certificate / credential service for the interop tests: one SIPp UAS (UDP)
behind the lab's Kamailio, scripted per subscription.

The lab's registrar role sends every SUBSCRIBE for a local user with `Event: certificate` or
`Event: credential` to 127.0.0.1:lab.port_certsvc (from the edge's public UDP port, so SIPp
answers and sends everything to lab.port_udp); the edge Record-Routes the phone's SUBSCRIBE
with its flow token, so the NOTIFYs go down the phone's TLS flow, and signs NOTIFYs that
carry `X-Lab-Sign` (RFC 8224 Identity, see tools/lab/kamailio.cfg).

    n = Notifier(lab, tmp_path, [
        [dict(state="active;expires=600", body=lab.pki("alice")["der"], sign="domain"),
         dict(state="terminated;reason=deactivated")],
        [dict(body=lab.pki("alice_new")["der"])],    # the phone's next SUBSCRIBE (new Call-ID)
    ])
    ... the phone subscribes, the test waits for its events ...
    rc, received = n.finish()

`calls` has one entry per incoming initial SUBSCRIBE (new Call-ID), in arrival order; each
is a list of NOTIFY specs (see NOTIFY_DEFAULTS) sent in order after the 200, each waiting
for its final response. After its script a call keeps serving its dialog: an in-dialog
SUBSCRIBE refresh gets 200 + a NOTIFY "active;expires=<refresh Expires>" with the last
spec's body, content type, signing and From; an unsubscribe (Expires: 0) gets 200 + an empty
NOTIFY "terminated" and ends the call. A call whose last scripted state is "terminated..."
ends after that NOTIFY. SUBSCRIBEs beyond the list are answered 480 (no NOTIFY).

Timing the test may need to know about: Kamailio relays the 200 and the first NOTIFY in
different worker processes, so the NOTIFY can reach the phone first (RFC 6665 allows it);
give the first NOTIFY a pause_ms when a test wants the 200 first. The NOTIFYs carry no
Record-Route (the route set comes with the 200). A refresh or unsubscribe that arrives while
a call is still in its scripted NOTIFYs is unexpected for SIPp: that call fails.

finish() stops the service: it sends SIPp a control OPTIONS (the calls still serving their
dialogs see a shared flag and end), SIPp exits by itself when no call is left, and finish
returns SIPp's exit code (0: every call went as scripted) and the messages SIPp received.

The scenario is generated from Python (SIPp's [call_number] selects the per-call branch) and
written to the work directory with the bodies copied next to it under short names (SIPp's
[file name=...] keyword cannot take a long path or one with "-<digit>" in it). Bodies go on
the wire byte-exact (binary DER is fine); SIPp's own message log cuts received bodies at the
first NUL, which does not matter for the responses and SUBSCRIBEs it receives here.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid

from caller import parse_trace, sipp_binary

# the keys of one NOTIFY spec and their defaults
NOTIFY_DEFAULTS = {
    "state": "active;expires=600",   # Subscription-State value
    "body": None,                    # path of the body file; None or "" = empty body
    "ctype": "application/pkix-cert",
    "sign": None,                    # None | "domain" | "rogue": X-Lab-Sign for the edge
    "from_uri": None,                # another From URI (the dialog's tag is kept)
    "pause_ms": 0,                   # wait this long before sending
}
# final responses a NOTIFY may get (SIPp matches response codes exactly)
FINALS = (200, 202, 400, 403, 404, 405, 408, 415, 420, 430, 437, 480, 481, 486, 488, 489,
          500, 501, 503, 504, 603)
IDLE_POLL_MS = 400      # how often a call serving its dialog looks at the stop flag
CONTROL_CALL_ID = "tinysip-notifier-stop"
_IDLE_WARNING = re.compile(r"receive timeout on message [^\n]* jumping to label")
_STAMP = re.compile(r"(?=\d{4}-\d\d-\d\d\t\d\d:\d\d:\d\d\.\d+\t)|\n")
_BOILERPLATE = re.compile(r"The following events occurred:|There were more errors, see |"
                          r"Resolving remote host ")


def _clean(value, what):
    """A value that goes into the SIPp message text as is: no CDATA end, no SIPp keyword
    brackets, no escapes, one line."""
    value = str(value)
    if re.search(r"[\[\]\\\r\n]|\]\]>", value):
        raise ValueError("notifier: %s %r must not contain [ ] \\ or line breaks" % (what, value))
    return value


def _spec(raw, where):
    unknown = set(raw) - set(NOTIFY_DEFAULTS)
    if unknown:
        raise ValueError("notifier: %s: unknown NOTIFY keys %s" % (where, sorted(unknown)))
    spec = dict(NOTIFY_DEFAULTS)
    spec.update(raw)
    spec["state"] = _clean(spec["state"], "state")
    spec["ctype"] = _clean(spec["ctype"], "ctype")
    if spec["sign"] not in (None, "domain", "rogue"):
        raise ValueError("notifier: %s: sign must be None, 'domain' or 'rogue'" % where)
    if spec["from_uri"] is not None:
        spec["from_uri"] = _clean(spec["from_uri"], "from_uri")
    if spec["body"] and not os.path.isfile(str(spec["body"])):
        raise ValueError("notifier: %s: body file %s not found" % (where, spec["body"]))
    spec["pause_ms"] = int(spec["pause_ms"])
    return spec


def _udp_port_free(port):
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def _response_recvs(next_label):
    """Optional recvs for a provisional and every final in FINALS, all jumping to next_label
    (the last one mandatory, so SIPp waits for one of them)."""
    out = ['  <recv response="100" optional="true"/>']
    for i, code in enumerate(FINALS):
        opt = ' optional="true"' if i < len(FINALS) - 1 else ""
        out.append('  <recv response="%d"%s next="%s"/>' % (code, opt, next_label))
    return out


def _notify(state, body_name, spec, unsub=False):
    """The <send> of one NOTIFY of the current call (body_name: file in the work dir or None)."""
    # From: the SUBSCRIBE's To (name-addr and all) with our tag, unless overridden
    frm = ("<%s>" % spec["from_uri"]) if spec["from_uri"] else "[$toval]"
    lines = [
        "NOTIFY [next_url] SIP/2.0",
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK[pid]N[call_number]C[cseq]",
        "[routes]",
        "Max-Forwards: 70",
        "From: %s;tag=[pid]N[call_number]" % frm,
        "To: [$pfrom]",
        "Call-ID: [call_id]",
        "CSeq: [cseq] NOTIFY",
        "Contact: <sip:certsvc@[local_ip]:[local_port]>",
        "Event: [$event]",
        "Subscription-State: " + state,
    ]
    if spec["sign"] and not unsub:
        lines.append("X-Lab-Sign: " + spec["sign"])
    if body_name and not unsub:
        lines += ["Content-Type: " + spec["ctype"], "Content-Length: [len]", ""]
        # the CDATA ends right after the keyword: anything after it would be sent too
        text = "\n".join(lines) + '\n[file name="%s"]' % body_name
    else:
        lines += ["Content-Length: 0", "", ""]
        text = "\n".join(lines)
    return ['  <send retrans="500"><![CDATA[', text + "]]></send>"]


def _response(status, to_tag=True, expires="[$exp]", record_route=False):
    lines = [
        "SIP/2.0 " + status,
        "[last_Via:]",
        "[last_From:]",
        ("To: [$toval];tag=[pid]N[call_number]" if to_tag else "[last_To:]"),
        "[last_Call-ID:]",
        "[last_CSeq:]",
    ]
    if record_route:
        # RFC 3261 12.1.1: the 2xx that makes the dialog carries the Record-Route set
        lines.append("[last_Record-Route:]")
    lines.append("Contact: <sip:certsvc@[local_ip]:[local_port]>")
    if expires:
        lines.append("Expires: " + expires)
    lines += ["Content-Length: 0", "", ""]
    return ["  <send><![CDATA[", "\n".join(lines) + "]]></send>"]


def build_scenario(calls, body_names):
    """SIPp XML for `calls` (lists of specs from _spec); body_names[i][j] is the work-dir file
    name of call i's NOTIFY j body, or None."""
    x = ['<?xml version="1.0" encoding="ISO-8859-1" ?>',
         '<!DOCTYPE scenario SYSTEM "sipp.dtd">',
         "<!-- generated by host_tests/interop/notifier.py: an RFC 6072 certificate service -->",
         '<scenario name="tinysip certificate service">',
         '  <Global variables="halt%s"/>' % (",nsub" if calls else ""),
         # an initial SUBSCRIBE, or the test's control OPTIONS (finish())
         '  <recv request="SUBSCRIBE" optional="true" rrs="true" next="subscribed">',
         "    <action>"]
    if calls:  # (SIPp refuses a scenario with a variable that is set but never used)
        x += ['      <assignstr assign_to="exp" value="3600"/>',
              '      <ereg regexp="[0-9]+" search_in="hdr" header="Expires:" check_it="false" assign_to="exp"/>',
              '      <ereg regexp="[^[:space:]].*" search_in="hdr" header="Event:" check_it="true" assign_to="event"/>',
              '      <ereg regexp="[^[:space:]].*" search_in="hdr" header="From:" check_it="true" assign_to="pfrom"/>']
    x += ['      <ereg regexp="[^[:space:]].*" search_in="hdr" header="To:" check_it="true" assign_to="toval"/>',
          # a To tag: a request of a dialog this SIPp never had (a stray, below)
          '      <ereg regexp=";[[:space:]]*tag=" search_in="hdr" header="To:" check_it="false" assign_to="totag"/>',
          '      <strcmp assign_to="notag" variable="totag" value=""/>',
          '      <test assign_to="stray" variable="notag" compare="not_equal" value="0"/>',
          "    </action>",
          "  </recv>",
          '  <recv request="OPTIONS" next="control"/>',
          "",
          '  <label id="control"/>',
          '  <nop><action><assign assign_to="halt" value="1"/></action></nop>']
    x += _response("200 OK", to_tag=False, expires=None)
    x += ['  <nop next="done"><action><exec int_cmd="stop_gracefully"/></action></nop>',
          "",
          '  <label id="subscribed"/>',
          # A SUBSCRIBE with a To tag belongs to no dialog of this SIPp: e.g. Kamailio's
          # retransmission (over UDP, for up to 32 s) of an unsubscribe that the last run's
          # notifier, stopped since, never answered. Counted as an initial SUBSCRIBE it
          # would take script 1 and push every real one a script on: the 480 below for
          # the last (seen in make bench, 1 flow + 3 certificates, 2 runs of 8 at a heap
          # where memory was no limit; the one way the count can run ahead). Answered 481.
          '  <nop next="stray" test="stray"/>']
    if calls:
        # the Nth initial SUBSCRIBE runs script N. Counted here, not by SIPp's [call_number]:
        # that also counts stray messages (a late 430 for an earlier test's NOTIFY) that
        # SIPp opens a call for and then discards
        x += ["  <nop>",
              "    <action>",
              '      <add assign_to="nsub" value="1"/>']
        for i in range(len(calls)):
            x.append('      <test assign_to="is%d" variable="nsub" compare="equal" value="%d"/>' % (i + 1, i + 1))
        x += ["    </action>", "  </nop>"]
    for i in range(len(calls)):
        x.append('  <nop next="c%d" test="is%d"/>' % (i + 1, i + 1))
    # unscripted SUBSCRIBE: refuse it, no dialog
    x += _response("480 Temporarily Unavailable - no scripted call", to_tag=True, expires=None)
    x.append('  <nop next="done"/>')
    x.append('  <label id="stray"/>')
    x += _response("481 Subscription Does Not Exist", to_tag=False, expires=None)
    x.append('  <nop next="done"/>')

    for i, specs in enumerate(calls):
        c = "c%d" % (i + 1)
        x += ["", "  <!-- call %d: %d NOTIFY -->" % (i + 1, len(specs)), '  <label id="%s"/>' % c]
        x += _response("200 OK", record_route=True)
        last = specs[-1] if specs else dict(NOTIFY_DEFAULTS)
        last_body = body_names[i][-1] if specs else None
        for j, spec in enumerate(specs):
            if spec["pause_ms"] > 0:
                x.append('  <pause milliseconds="%d"/>' % spec["pause_ms"])
            x += _notify(spec["state"], body_names[i][j], spec)
            x += _response_recvs("%sn%d" % (c, j + 1))
            x.append('  <label id="%sn%d"/>' % (c, j + 1))
        if specs and last["state"].strip().lower().startswith("terminated"):
            x.append('  <nop next="done"/>')
            continue
        # serve the dialog: refreshes and the unsubscribe, until finish() raises the flag
        x += ['  <label id="%sserve"/>' % c,
              '  <recv request="SUBSCRIBE" timeout="%d" ontimeout="%sidle">' % (IDLE_POLL_MS, c),
              "    <action>",
              '      <ereg regexp="[0-9]+" search_in="hdr" header="Expires:" check_it="false" assign_to="exp"/>',
              '      <todouble assign_to="expn" variable="exp"/>',
              '      <test assign_to="unsub" variable="expn" compare="equal" value="0"/>',
              "    </action>",
              "  </recv>"]
        x += _response("200 OK", to_tag=False)
        x.append('  <nop next="%sunsub" test="unsub"/>' % c)
        x += _notify("active;expires=[$exp]", last_body, last)
        x += _response_recvs("%sserve" % c)
        x.append('  <label id="%sunsub"/>' % c)
        x += _notify("terminated", None, last, unsub=True)
        x += _response_recvs("done")
        x += ['  <label id="%sidle"/>' % c,
              '  <nop><action><test assign_to="stop" variable="halt" compare="equal" value="1"/></action></nop>',
              '  <nop next="done" test="stop"/>',
              '  <nop next="%sserve"/>' % c]

    x += ["", '  <label id="done"/>', "  <nop/>", "</scenario>", ""]
    return "\n".join(x)


class Notifier:
    """The certificate service: one SIPp UAS on 127.0.0.1:lab.port_certsvc (see the module
    docstring). Attributes: cmd (the SIPp command line), scenario (XML path), log (SIPp's
    message trace), proc."""

    def __init__(self, lab, workdir, calls, timeout_s=30):
        binary = sipp_binary()
        if binary is None:
            raise RuntimeError("notifier: sipp not found (sip-tester, tools/deps.sh)")
        self.lab = lab
        self.workdir = str(workdir)
        self.port = lab.port_certsvc
        self.calls = [[_spec(s, "call %d NOTIFY %d" % (i + 1, j + 1)) for j, s in enumerate(specs)]
                      for i, specs in enumerate(calls)]
        tag = "notifier%d" % self.port
        body_names = []
        for i, specs in enumerate(self.calls):
            names = []
            for j, spec in enumerate(specs):
                if spec["body"]:
                    name = "%s_c%dn%d.bin" % (tag, i + 1, j + 1)
                    shutil.copyfile(str(spec["body"]), os.path.join(self.workdir, name))
                    names.append(name)
                else:
                    names.append(None)
            body_names.append(names)
        self.scenario = os.path.join(self.workdir, tag + ".xml")
        with open(self.scenario, "w") as f:
            f.write(build_scenario(self.calls, body_names))
        self.log = os.path.join(self.workdir, tag + "-messages.log")
        self.err_log = os.path.join(self.workdir, tag + "-errors.log")
        self.stderr_path = os.path.join(self.workdir, tag + "-stderr.log")
        for path in (self.log, self.err_log):
            if os.path.exists(path):
                os.unlink(path)
        self.cmd = [binary, "-sf", self.scenario, "-nostdin", "-i", "127.0.0.1",
                    "-p", str(self.port), "-t", "u1", "-default_behaviors", "all,-bye",
                    "-timeout", "%ds" % timeout_s, "-timeout_error",
                    "-trace_msg", "-message_file", self.log,
                    "-trace_err", "-error_file", self.err_log,
                    "127.0.0.1:%d" % lab.port_udp]
        if not _udp_port_free(self.port):
            raise RuntimeError("notifier: UDP 127.0.0.1:%d (lab.port_certsvc) is already in use"
                               % self.port)
        # stderr to a file: a pipe nobody reads would fill up and stall SIPp
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self._stderr, cwd=self.workdir)
        self._wait_listening()

    def _wait_listening(self, timeout=5.0):
        """Wait until SIPp has bound its UDP port (or exited: then say why)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("notifier: sipp exited with %s at start\n%s\n%s"
                                   % (self.proc.returncode, " ".join(self.cmd), self.stderr()))
            if not _udp_port_free(self.port):
                return  # free before the start, taken now: SIPp is listening
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("notifier: sipp did not bind 127.0.0.1:%d\n%s" % (self.port, self.stderr()))

    @property
    def running(self):
        return self.proc.poll() is None

    def _control(self, timeout):
        """Send the stop OPTIONS until SIPp answers it; True if it did."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        lport = sock.getsockname()[1]
        msg = "\r\n".join([
            "OPTIONS sip:certsvc@127.0.0.1:%d SIP/2.0" % self.port,
            "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s" % (lport, uuid.uuid4().hex[:16]),
            "Max-Forwards: 70",
            "From: <sip:test@127.0.0.1>;tag=stop",
            "To: <sip:certsvc@127.0.0.1>",
            "Call-ID: " + CONTROL_CALL_ID,
            "CSeq: 1 OPTIONS",
            "Content-Length: 0", "", ""]).encode()
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline and self.running:
                sock.sendto(msg, ("127.0.0.1", self.port))
                sock.settimeout(0.5)
                try:
                    data = sock.recv(65535)
                except socket.timeout:
                    continue
                if data.startswith(b"SIP/2.0 200"):
                    return True
            return False
        finally:
            sock.close()

    def finish(self, timeout=40):
        """Stop serving, wait for SIPp to end; (SIPp exit code, [(start line, {lower header:
        [values]}, body)] SIPp received: the SUBSCRIBEs and the NOTIFY responses)."""
        deadline = time.monotonic() + timeout
        if self.running:
            self._control(min(5.0, timeout))
        try:
            self.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.stop()
        self._close()
        return self.proc.returncode, self.received()

    def stop(self):
        """End SIPp now (its calls are aborted): SIGUSR1 twice (SIPp's forced exit), then kill."""
        if self.running:
            for _ in range(2):
                try:
                    self.proc.send_signal(signal.SIGUSR1)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close()

    def _close(self):
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def received(self):
        """The messages SIPp received so far (the control OPTIONS left out)."""
        return parse_trace(self.log, skip_call_id=CONTROL_CALL_ID)

    def stderr(self):
        """SIPp's stderr and error log for a failure report (idle-poll warnings left out)."""
        parts = []
        for path in (self.stderr_path, self.err_log):
            try:
                with open(path, "rb") as f:
                    text = f.read().decode("utf-8", "replace")
            except OSError:
                continue
            # SIPp writes its warnings without a line break between them: split at the stamps
            entries = [e.strip() for e in _STAMP.split(text)]
            entries = [e for e in entries if e and not _IDLE_WARNING.search(e)
                       and not _BOILERPLATE.match(e)]
            if entries:
                parts.append("== %s\n%s" % (os.path.basename(path), "\n".join(entries)))
        return "\n".join(parts)

    def report(self):
        """Command line, stderr/errors: for a failure message."""
        return "sipp: %s\n%s" % (" ".join(self.cmd), self.stderr())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def notifies(received):
    """The final responses SIPp got to its NOTIFYs, in order: [(status code, headers)]."""
    out = []
    for start, headers, _ in received:
        if start.startswith("SIP/2.0 ") and headers.get("cseq", [""])[0].endswith(" NOTIFY"):
            code = int(start.split()[1])
            if code >= 200:
                out.append((code, headers))
    return out


def subscribes(received):
    """The SUBSCRIBEs SIPp received (initial and in-dialog), in order."""
    return [m for m in received if m[0].startswith("SUBSCRIBE ")]
