"""A baresip 1.0.0 peer for the interop tests (Debian `baresip-core`, installed by
tools/deps.sh): headless, on 127.0.0.1, driven over its ctrl_tcp socket.

    b = Baresip(workdir, lab, "tester")   # writes config/accounts/contacts, starts it
    b.wait_registered()
    b.dial(lab.aor("phone1"))
    b.wait_event("CALL_CLOSED")
    b.hangup(); b.stop()

Everything baresip reads lives in a throwaway config directory under `workdir` (`-f`), so it
never touches ~/.baresip:

- modules: g711 (PCMU/PCMA), ausine (a sine wave as the audio source: no capture device),
  aubridge (the audio player/alert device: an in-process bridge, no sound card; 1.0.0 has no
  null player), account (the accounts file), menu (dial/hangup/reginfo commands) and
  ctrl_tcp (netstring-framed JSON commands and events on a local TCP port). No stdio/cons
  UI: stdin is /dev/null.
- `net_interface 127.0.0.1` (an IP: `lo` fails on 1.0.0), SIP over UDP on a free 127.0.0.1
  port (`sip_listen`), RTP in 43000-43100, ctrl_tcp on a free 127.0.0.1 port. `ip` and
  `rtp_ports` move SIP and media to another local address (the near end of an impaired
  link: its SDP then names that address) and RTP range; ctrl_tcp and the DNS stub stay on
  127.0.0.1. The account is `<sip:USER@DOMAIN>` with
  auth_pass, answermode=manual and no outbound proxy: a pre-loaded Route would make the
  lab's edge skip its caller authentication (it challenges only INVITEs without Route), so
  baresip finds the lab the RFC 3263 way instead. `dns_server` points at a stub resolver
  run by this module (`DnsStub`) that answers SRV _sip._udp.DOMAIN -> 127.0.0.1:lab.port_udp
  and A DOMAIN -> 127.0.0.1; NAPTR gets an empty answer. REGISTER and INVITE then reach the
  edge's public UDP port like those of any phone in the domain, and the INVITE is
  challenged (407) and authenticated with the account's credentials.

Voice calls (host_tests/interop/voicecall.py): `tone_hz` is ausine's frequency (ausine
1.0.0 runs at 48 kHz stereo only: `ausrc_srate 48000`, `ausrc_channels 2`, and baresip
resamples to the codec's 8 kHz mono); `record=True` loads the `sndfile` filter, which writes
each call's audio as WAV files under `snd_dir`: dump-<YYYY-MM-DD-HH-MM-SS>-enc.wav (what
baresip encodes and sends) and ...-dec.wav (what it decoded from RTP, one frame per packet
received: lost packets are missing, not silence), 8 kHz mono 16-bit (`recordings()`);
`mediaenc` ("srtp": RTP/AVP + a=crypto, "srtp-mand": RTP/SAVP only) loads the `srtp`
module and puts `;mediaenc=` on the account (CALL_MENC event once the stream is secured).
send_dtmf(digits) sends RFC 4733 events (menu's `sndcode`, one digit at a time); digits
baresip receives come as CALL_DTMF_START events (`param` the digit), each followed by
CALL_DTMF_END (`dtmf_heard()`).

baresip writes its log to stdout (collected in `baresip.log` and `self.lines`); ctrl_tcp
events are collected in `self.events` (dicts with "type", "param", ...). Only the PID of
the process started here is ever signalled.
"""
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time

MODULE_DIRS = ("/usr/lib/baresip/modules", "/usr/lib/x86_64-linux-gnu/baresip/modules",
               "/usr/lib/aarch64-linux-gnu/baresip/modules", "/usr/local/lib/baresip/modules")
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")
# menu's call status, several a second in a call (1.0.0 has no setting to turn it off)
_STATUS_RE = re.compile(r"\[\d+:\d\d:\d\d\] audio=\d+/\d+ \(bit/s\)\s*")
MODULES = ("g711", "ausine", "aubridge", "account", "menu", "ctrl_tcp")
MEDIAENC = ("srtp", "srtp-mand", "srtp-mandf")  # the srtp module's modes (account mediaenc)


class BaresipError(Exception):
    """baresip is not installed or could not be started / driven."""


def baresip_binary():
    """TINYSIP_BARESIP (a path or name) if set, else baresip on PATH; None if not found."""
    return shutil.which(os.environ.get("TINYSIP_BARESIP") or "baresip")


def module_dir():
    for d in MODULE_DIRS:
        if all(os.path.exists(os.path.join(d, m + ".so")) for m in MODULES):
            return d
    return None


def missing_modules(names):
    """The modules of `names` (without .so) that the module directory lacks (all of them
    when baresip's modules are not found)."""
    d = module_dir()
    if d is None:
        return list(names)
    return [m for m in names if not os.path.exists(os.path.join(d, m + ".so"))]


def free_port(kind=socket.SOCK_DGRAM, ip="127.0.0.1"):
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind((ip, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def _bindable(ip, port):
    """True when UDP and TCP can both bind ip:port now."""
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind((ip, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def free_sip_port(ip="127.0.0.1"):
    """A port for baresip's sip_listen: libre binds UDP and TCP on it and TLS on the next
    one, so all of them must be free, not only the UDP port the kernel handed out (a TCP
    socket of another process on it made baresip exit with "Address already in use")."""
    for _ in range(50):
        port = free_port(socket.SOCK_DGRAM, ip)
        if port < 65535 and _bindable(ip, port) and _bindable(ip, port + 1):
            return port
    raise BaresipError("no free UDP+TCP port pair on %s for sip_listen" % ip)


# ------------------------------------------------------------------- DNS stub

_A, _SRV, _NAPTR = 1, 33, 35


def _name(labels):
    out = b""
    for label in labels.strip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


class DnsStub:
    """A UDP resolver on 127.0.0.1 for one SIP domain: SRV _sip._udp.<domain> -> port on
    127.0.0.1, A <domain> -> 127.0.0.1, NAPTR <domain> -> no data; NXDOMAIN elsewhere."""

    def __init__(self, domain, sip_port):
        self.domain = domain.lower().rstrip(".")
        self.sip_port = sip_port
        self.queries = []  # (name, qtype) as asked
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _answer(self, query):
        qid, flags, qd = struct.unpack("!HHH", query[:6])
        if qd != 1:
            return None
        pos, labels = 12, []
        while query[pos]:
            n = query[pos]
            labels.append(query[pos + 1:pos + 1 + n].decode("ascii", "replace"))
            pos += 1 + n
        qtype, qclass = struct.unpack("!HH", query[pos + 1:pos + 5])
        question = query[12:pos + 5]
        name = ".".join(labels).lower()
        self.queries.append((name, qtype))
        answers = []
        rcode = 0
        if name == self.domain:
            if qtype == _A:
                answers.append((_A, name, socket.inet_aton("127.0.0.1")))
        elif name == "_sip._udp." + self.domain:
            if qtype == _SRV:
                answers.append((_SRV, name, struct.pack("!HHH", 0, 0, self.sip_port)
                                + _name(self.domain)))
        elif not name.endswith("." + self.domain):
            rcode = 3  # NXDOMAIN; other names of the domain (_sip._tcp, ...): no data
        extra = []
        if answers and answers[0][0] == _SRV:
            extra.append((_A, self.domain, socket.inet_aton("127.0.0.1")))
        head = struct.pack("!HHHHHH", qid, 0x8400 | (flags & 0x0100) | rcode, 1, len(answers),
                           0, len(extra))
        body = b""
        for rtype, rname, rdata in answers + extra:
            body += _name(rname) + struct.pack("!HHIH", rtype, 1, 60, len(rdata)) + rdata
        return head + question + body

    def _serve(self):
        while not self._stop:
            try:
                data, peer = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                reply = self._answer(data)
            except (IndexError, struct.error, ValueError):
                reply = None
            if reply:
                try:
                    self.sock.sendto(reply, peer)
                except OSError:
                    pass

    def close(self):
        self._stop = True
        self.thread.join(1)
        self.sock.close()


# -------------------------------------------------------------------- baresip


def _netstring(obj):
    data = json.dumps(obj).encode()
    return b"%d:%s," % (len(data), data)


class Baresip:
    """One headless baresip with one account `user`@lab.domain registering to `lab`."""

    def __init__(self, workdir, lab, user, password=None, answermode="manual", regint=600,
                 start_timeout=10.0, tone_hz=440, record=False, mediaenc=None,
                 ip="127.0.0.1", rtp_ports=(43000, 43100)):
        self.binary = baresip_binary()
        if self.binary is None:
            raise BaresipError("baresip is not installed (make deps: baresip-core)")
        self.mod_dir = module_dir()
        if self.mod_dir is None:
            raise BaresipError("baresip modules %s not found in %s" % (", ".join(MODULES),
                                                                      ", ".join(MODULE_DIRS)))
        if mediaenc is not None and mediaenc not in MEDIAENC:
            raise ValueError("mediaenc must be one of %s" % ", ".join(MEDIAENC))
        extra = (["sndfile"] if record else []) + (["srtp"] if mediaenc else [])
        lacking = missing_modules(extra)
        if lacking:
            raise BaresipError("baresip module(s) %s missing in %s (Debian baresip-core "
                               "ships them: tools/deps.sh)" % (", ".join(m + ".so" for m in
                                                                        lacking), self.mod_dir))
        self.extra_modules = extra
        self.tone_hz = tone_hz
        self.mediaenc = mediaenc
        self.ip = ip
        self.rtp_ports = tuple(rtp_ports)
        self.lab = lab
        self.aor = "sip:%s@%s" % (user, lab.domain)
        self.password = password if password is not None else lab.users[user]
        self.dir = os.path.join(str(workdir), "baresip-" + user)
        os.makedirs(self.dir, exist_ok=True)
        self.log_path = os.path.join(self.dir, "baresip.log")
        self.snd_dir = os.path.join(self.dir, "snd")
        os.makedirs(self.snd_dir, exist_ok=True)
        self.sip_port = free_sip_port(ip)
        self.ctrl_port = free_port(socket.SOCK_STREAM)
        self.dns = DnsStub(lab.domain, lab.port_udp)
        self.lines = []
        self.events = []
        self.responses = []
        self.cond = threading.Condition()
        self.proc = None
        self.pid = None
        self.ctrl = None
        self._token = 0
        self._write_config(answermode, regint)
        try:
            self._start(start_timeout)
        except BaseException:
            self.stop()
            raise

    # ---------------------------------------------------------------- config

    def _write_config(self, answermode, regint):
        config = [
            "# written by host_tests/interop/baresip.py for one test run",
            "poll_method\t\tepoll",
            "sip_listen\t\t%s:%d" % (self.ip, self.sip_port),
            "call_local_timeout\t120",
            "call_max_calls\t\t4",
            "audio_player\t\taubridge,tinysip",
            "audio_alert\t\taubridge,tinysip-alert",
            "audio_source\t\tausine,%d" % self.tone_hz,
            "ausrc_srate\t\t48000",  # all ausine 1.0.0 does: 48 kHz stereo, resampled
            "ausrc_channels\t\t2",
            "audio_level\t\tno",
            "ausrc_format\t\ts16",
            "auplay_format\t\ts16",
            "auenc_format\t\ts16",
            "audec_format\t\ts16",
            "audio_buffer\t\t20-160",
            "rtp_ports\t\t%d-%d" % self.rtp_ports,
            "rtcp_mux\t\tno",
            "jitter_buffer_delay\t5-10",
            "rtp_stats\t\tno",
            "net_interface\t\t%s" % self.ip,
            "dns_server\t\t127.0.0.1:%d" % self.dns.port,
            "module_path\t\t%s" % self.mod_dir,
            "module\t\t\tg711.so",
            "module\t\t\tausine.so",
            "module\t\t\taubridge.so",
        ] + ["module\t\t\t%s.so" % m for m in self.extra_modules] + [
            "snd_path\t\t%s" % self.snd_dir,
            "module_tmp\t\taccount.so",
            "module_app\t\tmenu.so",
            "module_app\t\tctrl_tcp.so",
            "ctrl_tcp_listen\t\t127.0.0.1:%d" % self.ctrl_port,
        ]
        account = "<%s>;auth_pass=%s;answermode=%s;regint=%d;audio_codecs=pcmu,pcma" % (
            self.aor, self.password, answermode, regint)
        if self.mediaenc:
            account += ";mediaenc=" + self.mediaenc
        files = {"config": config, "accounts": [account], "contacts": []}
        for name, lines in files.items():
            with open(os.path.join(self.dir, name), "w") as f:
                f.write("\n".join(lines) + "\n")

    # ------------------------------------------------------------- lifecycle

    def _start(self, timeout):
        self._log = open(self.log_path, "ab")
        cmd = [self.binary, "-f", self.dir]
        self.cmd = cmd
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, cwd=self.dir,
                                         start_new_session=True)
        except OSError as e:
            raise BaresipError("cannot run baresip: %s" % e)
        self.pid = self.proc.pid
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise BaresipError("baresip exited with status %s during start-up\n%s" % (
                    self.proc.returncode, self.log()))
            try:
                self.ctrl = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise BaresipError("baresip ctrl_tcp on 127.0.0.1:%d did not answer within "
                                       "%.0f s\n%s" % (self.ctrl_port, timeout, self.log()))
                time.sleep(0.05)
        self.ctrl.settimeout(None)
        self._ctrl_reader = threading.Thread(target=self._read_ctrl, daemon=True)
        self._ctrl_reader.start()

    def _read_log(self):
        for raw in self.proc.stdout:
            self._log.write(raw)
            self._log.flush()
            line = _STATUS_RE.sub("", raw.decode("utf-8", "replace")).rstrip()
            if not line:  # only status (baresip.log keeps it)
                continue
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def _read_ctrl(self):
        buf = b""
        sock = self.ctrl
        while True:
            try:
                data = sock.recv(4096)
            except OSError:
                data = b""
            if not data:
                break
            buf += data
            while True:
                colon = buf.find(b":")
                if colon < 0:
                    break
                try:
                    n = int(buf[:colon])
                except ValueError:
                    buf = b""
                    break
                if len(buf) < colon + 1 + n + 1:
                    break
                payload = buf[colon + 1:colon + 1 + n]
                buf = buf[colon + 1 + n + 1:]
                try:
                    msg = json.loads(payload.decode("utf-8", "replace"))
                except ValueError:
                    continue
                msg["_t"] = time.monotonic()
                with self.cond:
                    if msg.get("event"):
                        self.events.append(msg)
                        self._log_line("ctrl event: %s" % payload.decode("utf-8", "replace"))
                    elif msg.get("response"):
                        self.responses.append(msg)
                        self._log_line("ctrl response: %s" % payload.decode("utf-8", "replace"))
                    self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def _log_line(self, line):
        self.lines.append("[test] " + line)
        try:
            self._log.write(("[test] " + line + "\n").encode())
            self._log.flush()
        except (OSError, ValueError):
            pass

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=5.0):
        """SIGTERM to our PID (baresip unregisters and quits), SIGKILL if it lingers."""
        if self.ctrl is not None:
            try:
                self.ctrl.close()
            except OSError:
                pass
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        if self.proc is not None:
            self._reader.join(2)
        self.dns.close()
        log = getattr(self, "_log", None)
        if log is not None and not log.closed:
            log.close()
        return self.proc.returncode if self.proc is not None else None

    # ------------------------------------------------------------- commands

    def command(self, command, params=None, timeout=5.0):
        """Send one ctrl_tcp command; its response dict ({"ok": bool, "data": text})."""
        self._token += 1
        token = "t%d" % self._token
        msg = {"command": command, "token": token}
        if params is not None:
            msg["params"] = params
        with self.cond:
            self._log_line("ctrl command: %s" % json.dumps(msg))
        self.ctrl.sendall(_netstring(msg))
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for r in self.responses:
                    if r.get("token") == token:
                        return r
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BaresipError("no ctrl_tcp response to %r within %.0f s\n%s" % (
                        command, timeout, self.log()))
                self.cond.wait(min(left, 0.2))

    def dial(self, uri):
        r = self.command("dial", uri)
        if not r.get("ok"):
            raise BaresipError("dial %s failed: %r\n%s" % (uri, r, self.log()))
        return r

    def hangup(self):
        """Hang up the current call (a no-op answer when there is none)."""
        if self.running:
            return self.command("hangup")
        return None

    def send_dtmf(self, digits, gap=0.3):
        """Send digits on the current call as RFC 4733 events: one `sndcode` per digit (its
        press and release), `gap` seconds apart, as keyed by hand (baresip 1.0.0's sndcode
        with several digits presses each and releases only the last)."""
        for i, d in enumerate(digits):
            if i:
                time.sleep(gap)
            r = self.command("sndcode", d)
            if not r.get("ok"):
                raise BaresipError("sndcode %s failed: %r\n%s" % (d, r, self.log()))

    def dtmf_heard(self, start=0):
        """The digits baresip received (CALL_DTMF_START events from index `start`)."""
        with self.cond:
            return "".join(e.get("param") or "?" for e in self.events[start:]
                           if e.get("type") == "CALL_DTMF_START")

    def recordings(self):
        """(enc, dec): the sndfile WAVs of the newest call (paths, None when absent)."""
        names = sorted(os.listdir(self.snd_dir))
        out = []
        for kind in ("enc", "dec"):
            got = [n for n in names if n.startswith("dump-") and n.endswith("-%s.wav" % kind)]
            out.append(os.path.join(self.snd_dir, got[-1]) if got else None)
        return tuple(out)

    # ------------------------------------------------------------- waiting

    def wait_event(self, type_, timeout=10.0, start=0, **match):
        """The first ctrl_tcp event of `type_` (index >= start) whose fields equal `match`."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(start, len(self.events)):
                    e = self.events[i]
                    if e.get("type") == type_ and all(e.get(k) == v for k, v in match.items()):
                        e["_index"] = i
                        return e
                left = deadline - time.monotonic()
                if left <= 0 or not self.running:
                    raise AssertionError("baresip: no %s %r within %.0f s\n%s" % (
                        type_, match, timeout, self.log()))
                self.cond.wait(min(left, 0.2))

    def wait_registered(self, timeout=10.0):
        """Readiness: REGISTER_OK from ctrl_tcp, or (if it came before we connected) the
        account's registration shown as OK by `reginfo`."""
        deadline = time.monotonic() + timeout
        while True:
            with self.cond:
                for e in self.events:
                    if e.get("type") == "REGISTER_OK":
                        return e
                    if e.get("type") == "REGISTER_FAIL":
                        raise AssertionError("baresip registration failed: %r\n%s" % (
                            e, self.log()))
            info = self.command("reginfo")
            for line in _ANSI_RE.sub("", info.get("data") or "").splitlines():
                # "> sip:tester@lab.test    OK  tinysip-lab Expires 600s"
                if self.aor in line and re.search(r"\sOK\s", line + " "):
                    return info
            if time.monotonic() > deadline or not self.running:
                raise AssertionError("baresip did not register within %.0f s\n%s" % (
                    timeout, self.log()))
            with self.cond:
                self.cond.wait(0.3)

    def named(self, type_):
        with self.cond:
            return [e for e in self.events if e.get("type") == type_]

    def log(self, n=120):
        with self.cond:
            lines = list(self.lines[-n:])
        dns = ", ".join("%s/%d" % q for q in self.dns.queries[-10:])
        return "baresip log (%s, last %d lines; dns queries: %s):\n%s" % (
            self.log_path, n, dns or "none", "\n".join(lines))
