"""tinysip interop lab: a real Kamailio (edge + registrar roles) on 127.0.0.1.

    from lab import Lab            # with tools/lab on sys.path
    with Lab("/tmp/lab", port_base=15060) as lab:
        lab.port_tls               # 15061
        lab.ul_dump()              # bindings as dicts

CLI:
    python tools/lab/lab.py up --dir DIR [--port-base N] [--flow-timer S] [--user U:P ...]
                               [--profile outbound|plain|nat] [--tcp-lifetime S]
    python tools/lab/lab.py pki DIR

Port layout (offsets from port_base):
    +0   udp            public UDP: SIPp and other plain peers (edge role)
    +1   tls            UA-facing TLS, good certificate (edge role)
    +2   tls_expired    UA-facing TLS, expired certificate
    +3   tls_wronghost  UA-facing TLS, certificate for wrong.example only
    +4   tls_untrusted  UA-facing TLS, certificate from a CA the phone does not trust
    +5   mtls           UA-facing TLS, good certificate; requires a client certificate
                        that chains to pki user_ca (e.g. the phone's credential phone1_cred)
    +6   tcp            UA-facing plain TCP (edge role, like tls: Path + flow token)
    +7   tls2           a second UA-facing TLS port, good certificate (edge role, like tls):
                        the second listener of RFC 3263 / multi-flow tests
    +8   tls_cnonly     UA-facing TLS, certificate from the lab CA with the server's names
                        only in the subject CN (no subjectAltName): RFC 9525 clients refuse it
    +10  registrar      internal UDP: registrar role (auth, save, lookup; certificate and
                        credential SUBSCRIBEs to the certificate service)
    +20  certsvc        NOT Kamailio: the UDP port where a test's certificate service (SIPp,
                        host_tests/interop/notifier.py) listens; Kamailio sends it the
                        RFC 6072 SUBSCRIBEs and takes its NOTIFYs on the udp port

The edge role is the same on udp, tls, tcp and tls2 (and the negative TLS ports): REGISTER
gets a Path with a flow token (;ob for an outbound REGISTER) and goes to the registrar; the
registrar's requests for a binding come back down the registering flow (TCP/TLS: the same
connection or 430; UDP: the address the REGISTER came from, 430 when nothing answers within
fr_timer / 2, so the registrar tries the instance's next flow).
Kamailio's stun module answers RFC 5389 Binding requests on the UDP ports (udp, registrar).

Trust boundary (the same on every edge listener; tools/lab/README.md "What the edge trusts"):
only the registrar role is inside. Every request from outside is rate-limited per source IP
(pike, Lab(pike_density=...)), sanity-checked and stripped of P-Asserted-Identity /
P-Preferred-Identity; every dialog-creating one (INVITE, SUBSCRIBE, REFER without To tag) is
digest-authenticated (407) and gets the authenticated user as P-Asserted-Identity, except a
certificate SUBSCRIBE for a local user (RFC 6072, public data: to the certificate service
only). Replies that match no transaction are dropped.

Fault switch: Lab.fail_register(retry_after) makes every REGISTER (or, with role=, only
those arriving on one listener) get `503 Service Unavailable` (+ `Retry-After: n`) until
Lab.fail_register(False). It is an htable (`lab`, key `reg503::<port>` or `reg503::all`)
set with kamcmd at run time, re-applied after a restart; the edge answers for the registrar
(the same response on the wire), before any digest challenge.

RFC 8224: the edge signs in-dialog NOTIFYs that carry `X-Lab-Sign: domain` (pki identity) or
`X-Lab-Sign: rogue` (pki rogue_identity) with secsipid (kamailio-secsipid-modules, x5u
Lab.identity_x5u); the control header is always removed.

Kamailio runs in the foreground (-DD) as a child of this process; its PID is recorded and
only that PID is ever signalled. Config, TLS profiles, PKI, runtime dir, control socket
and the log (kamailio.log) all live in the work directory.
"""

import argparse
import atexit
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import weakref

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import pki  # noqa: E402  (tools/lab/pki.py)

HOST = "127.0.0.1"

# lab profiles: what the registrar does (see Lab.__init__)
PROFILES = ("outbound", "plain", "nat")

# role -> offset from port_base
PORT_OFFSETS = (
    ("udp", 0),
    ("tls", 1),
    ("tls_expired", 2),
    ("tls_wronghost", 3),
    ("tls_untrusted", 4),
    ("mtls", 5),
    ("tcp", 6),
    ("tls2", 7),
    ("tls_cnonly", 8),
    ("registrar", 10),
    ("certsvc", 20),
)
# roles served over TLS (the rest are UDP)
TLS_ROLES = ("tls", "tls_expired", "tls_wronghost", "tls_untrusted", "mtls", "tls2",
             "tls_cnonly")
# roles served over plain TCP
TCP_ROLES = ("tcp",)
# UA-facing edge listeners (fail_register(role=...) accepts these)
EDGE_ROLES = ("udp",) + TLS_ROLES + TCP_ROLES
# modules the config loads beyond tls.so/outbound.so, with the Debian package that has them
_NEEDED_MODULES = (
    ("secsipid.so", "kamailio-secsipid-modules"),
    ("secsipid_proc.so", "kamailio-secsipid-modules"),
)
ROLE_TEXT = {
    "udp": "edge, public UDP (SIPp, plain peers)",
    "tls": "edge, TLS, good certificate (lab CA, SAN localhost/lab.test/127.0.0.1)",
    "tls_expired": "edge, TLS, expired certificate",
    "tls_wronghost": "edge, TLS, certificate for wrong.example only",
    "tls_untrusted": "edge, TLS, certificate from the untrusted rogue CA",
    "mtls": "edge, mutual TLS: good certificate, client certificate from user_ca required",
    "tcp": "edge, plain TCP (like tls: Path with flow token, registrar behind)",
    "tls2": "edge, second TLS port, good certificate (like tls; RFC 3263 second target)",
    "tls_cnonly": "edge, TLS, certificate without subjectAltName (names only in the CN)",
    "registrar": "registrar role, internal UDP (auth, save, lookup; certificate/credential SUBSCRIBE)",
    "certsvc": "not Kamailio: the test's certificate service (SIPp UDP) listens here",
}

_USER_RE = re.compile(r"^[A-Za-z0-9._~+-]+$")
_TOKEN_RE = re.compile(r"@[A-Z][A-Z0-9_]*@")
_NOISE_RE = re.compile(
    r"ksr_tls_fill_missing|set_verification\(\)|ksr_tls_fix_domain|probe_max_receive_buffer|"
    r"cfg_set_now\(\)|tls_h_mod_init_f|tls \[tls_mod\.c|sctp_core_destroy|init_tcp\(\)")
_MODULE_DIRS = (
    "/usr/lib/x86_64-linux-gnu/kamailio/modules",
    "/usr/lib/aarch64-linux-gnu/kamailio/modules",
    "/usr/lib64/kamailio/modules",
    "/usr/lib/kamailio/modules",
    "/usr/local/lib64/kamailio/modules",
    "/usr/local/lib/kamailio/modules",
)


class LabError(Exception):
    """Kamailio could not be configured, started, queried or stopped."""


_running = weakref.WeakSet()  # Labs with a live Kamailio, stopped at interpreter exit


@atexit.register
def _stop_all():
    for lab in list(_running):
        try:
            lab.stop()
        except Exception:
            pass


def _which(name):
    found = shutil.which(name)
    if found:
        return found
    for d in ("/usr/sbin", "/usr/local/sbin", "/sbin"):
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return None


def find_module_dir():
    candidates = list(_MODULE_DIRS) + sorted(glob.glob("/usr/lib/*/kamailio/modules"))
    for d in candidates:
        if os.path.exists(os.path.join(d, "tls.so")) and os.path.exists(os.path.join(d, "outbound.so")):
            return d
    return None


def _num(value):
    try:
        return int(value)
    except ValueError:
        return value


def parse_ul_dump(text):
    """Parse `kamcmd ul.dump` output into a list of binding dicts.

    Every dict has at least: aor, contact, instance, reg_id, path, expires (seconds left,
    int, or None for permanent), plus the other fields kamcmd prints with lower-case,
    underscore keys (received, socket, callid, cseq, user_agent, q, flags, cflags,
    methods, ruid, last_keepalive, ...). `instance`/`path`/`received` are None when
    Kamailio prints "[not set]"; reg_id is an int (0 = none).
    """
    bindings = []
    stack = []          # names of the open "{" blocks
    aor = None
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line == "}":
            if stack:
                name = stack.pop()
                if name == "Contact":
                    current = None
            continue
        if line == "{":
            stack.append("")
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip()
        value = value.strip()
        if value == "{":
            stack.append(key)
            continue
        top = stack[-1] if stack else ""
        if top == "Info" and key == "AoR":
            aor = value
            continue
        if top != "Contact":
            continue
        if current is None:
            current = {"aor": aor}
            bindings.append(current)
        norm = key.lower().replace("-", "_").replace(" ", "_")
        if norm == "address":
            current["contact"] = value
            continue
        if norm == "expires":
            if value.lower() == "permanent":
                current["expires"] = None
            elif value.lower() == "deleted":
                current["expires"] = 0
            else:
                current["expires"] = _num(value)
            continue
        if value == "[not set]":
            value = None
        elif norm in ("reg_id", "cseq", "flags", "cflags", "last_keepalive", "keepalive",
                      "ka_roundtrip", "server_id", "tcpconn_id", "last_modified", "methods"):
            value = _num(value)
        current[norm] = value
    for b in bindings:
        b.setdefault("instance", None)
        b.setdefault("reg_id", 0)
        b.setdefault("path", None)
        b.setdefault("expires", None)
    return bindings


class Lab(object):
    """A Kamailio edge+registrar on 127.0.0.1, configured from tools/lab/*.cfg."""

    def __init__(self, workdir, port_base=5060, flow_timer=30, users=None, domain="lab.test",
                 min_expires=60, max_expires=3600, default_expires=3600, tcp_lifetime=None,
                 auth_algorithm="MD5", auth_qop=True, path_mode=1, outbound_mode=1,
                 fr_timer=10, fr_inv_timer=60, debug=2, shm_mb=64, pkg_mb=8, listen_extra=(),
                 profile="outbound", pike_density=100):
        """`profile`: "outbound" (edge + registrar with outbound, Path and GRUU:
        kamailio.cfg), "plain" (registrar + usrloc only on the UA-facing ports, no outbound,
        path or GRUU: kamailio-plain.cfg) or "nat" (plain with nathelper's
        fix_nated_register: the registrar routes to the address a REGISTER came from).
        `pike_density`: the edge's rate limit (outbound profile), requests per 2 s from one
        source IP before pike drops that IP's requests (it blocks somewhere between 1x and
        3x); every test shares 127.0.0.1, hence the generous default."""
        if profile not in PROFILES:
            raise ValueError("profile must be one of %s" % ", ".join(PROFILES))
        self.profile = profile
        if users is None:
            users = {"phone1": "secret1"}
        if auth_algorithm not in ("MD5", "SHA-256"):
            raise ValueError("auth_algorithm must be 'MD5' or 'SHA-256'")
        if not 1024 <= port_base <= 65535 - PORT_OFFSETS[-1][1]:
            raise ValueError("port_base out of range")
        if flow_timer < 0:
            raise ValueError("flow_timer must be >= 0")
        if not isinstance(pike_density, int) or pike_density < 1:
            raise ValueError("pike_density must be an int >= 1")
        self.pike_density = pike_density
        for user, password in users.items():
            self._check_user(user, password)
        if not re.match(r"^[A-Za-z0-9.-]+$", domain):
            raise ValueError("domain: invalid characters")
        for ip in listen_extra:
            if not re.match(r"^[0-9.]+$", ip):
                raise ValueError("listen_extra: %r is not an IPv4 address" % (ip,))
        self.listen_extra = tuple(listen_extra)
        self.workdir = os.path.abspath(workdir)
        self.host = HOST
        self.domain = domain
        self.port_base = port_base
        self.flow_timer = flow_timer
        self.users = dict(users)
        self.min_expires = min_expires
        self.max_expires = max_expires
        self.default_expires = default_expires
        if tcp_lifetime is None:
            tcp_lifetime = (flow_timer + 15) if flow_timer else 120
        self.tcp_lifetime = tcp_lifetime
        self.auth_algorithm = auth_algorithm
        self.auth_qop = auth_qop
        self.path_mode = path_mode
        self.outbound_mode = outbound_mode
        self.fr_timer = fr_timer
        self.fr_inv_timer = fr_inv_timer
        self.debug = debug
        self.shm_mb = shm_mb
        self.pkg_mb = pkg_mb

        self.ports = dict((role, port_base + off) for role, off in PORT_OFFSETS)
        self.port_udp = self.ports["udp"]
        self.port_tls = self.ports["tls"]
        self.port_tls_expired = self.ports["tls_expired"]
        self.port_tls_wronghost = self.ports["tls_wronghost"]
        self.port_tls_untrusted = self.ports["tls_untrusted"]
        self.port_mtls = self.ports["mtls"]
        self.port_tcp = self.ports["tcp"]
        self.port_tls2 = self.ports["tls2"]
        self.port_tls_cnonly = self.ports["tls_cnonly"]
        self.port_registrar = self.ports["registrar"]
        self.port_certsvc = self.ports["certsvc"]
        # x5u / Identity info URI the edge puts in the Identity headers it signs (nothing
        # serves it: the phone is configured with the identity certificate instead)
        self.identity_x5u = "https://%s/identity.pem" % domain

        self.pki_dir = os.path.join(self.workdir, "pki")
        self.ca_pem = os.path.join(self.pki_dir, "ca.pem")
        self.ca_der = os.path.join(self.pki_dir, "ca.der")
        self.cfg_path = os.path.join(self.workdir, "kamailio.cfg")
        self.tls_cfg_path = os.path.join(self.workdir, "tls.cfg")
        self.log_path = os.path.join(self.workdir, "kamailio.log")
        self.run_dir = os.path.join(self.workdir, "run")
        self.pid_file = os.path.join(self.run_dir, "kamailio.pid")
        self.ctl_socket = os.path.join(self.run_dir, "kamailio_ctl")
        self._ctl_tmpdir = None
        if len(self.ctl_socket) > 100:  # sun_path limit is 108 bytes
            self._ctl_tmpdir = tempfile.mkdtemp(prefix="kamlab-")
            self.ctl_socket = os.path.join(self._ctl_tmpdir, "kamailio_ctl")

        self.kamailio = _which("kamailio")
        self.kamcmd = _which("kamcmd")
        self.proc = None
        self.pid = None
        self._log_file = None
        self._reg503 = {}  # htable key (reg503::<port> | reg503::all) -> Retry-After (-1: none)

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _check_user(user, password):
        if not _USER_RE.match(user):
            raise ValueError("users: invalid user name %r" % (user,))
        if not password or re.search(r'["\\$\r\n]', password):
            raise ValueError("users: password for %r must be non-empty, without \" \\ $" % (user,))

    def pki(self, name):
        """File paths of one PKI entry (pem, der, key_pem, key_der[, multipart]), e.g.
        lab.pki("alice")["der"]; see tools/lab/pki.py for the names."""
        if name not in pki.SPEC:
            raise KeyError("no PKI entry %r (have: %s)" % (name, ", ".join(pki.ORDER)))
        return pki.paths(self.pki_dir, name)

    def aor(self, user="phone1"):
        """The address of record of a lab user, e.g. sip:phone1@lab.test."""
        return "sip:%s@%s" % (user, self.domain)

    def proxy_uri(self, role="tls"):
        """Outbound proxy URI for a UA-facing port, e.g. sip:127.0.0.1:15061;transport=tls;lr."""
        port = self.ports[role]
        if role in TLS_ROLES:
            return "sip:%s:%d;transport=tls;lr" % (self.host, port)
        if role in TCP_ROLES:
            return "sip:%s:%d;transport=tcp;lr" % (self.host, port)
        return "sip:%s:%d;lr" % (self.host, port)

    def describe(self):
        """One line per port: 'role host:port proto  text'."""
        lines = []
        for role, _ in PORT_OFFSETS:
            proto = "tls" if role in TLS_ROLES else ("tcp" if role in TCP_ROLES else "udp")
            lines.append("%-14s %s %s:%d  %s" % (role, proto, self.host, self.ports[role], ROLE_TEXT[role]))
        return lines

    # ------------------------------------------------------------ configuration

    def _substitutions(self):
        user_lines = []
        for user in sorted(self.users):
            user_lines.append('\t$sht(users=>%s) = "%s";' % (user, self.users[user]))
        mpath = find_module_dir()
        if mpath is None:
            raise LabError("Kamailio module directory (with tls.so and outbound.so) not found")
        for module, package in _NEEDED_MODULES:
            if not os.path.exists(os.path.join(mpath, module)):
                raise LabError("Kamailio module %s not found in %s: install %s (tools/deps.sh)"
                               % (module, mpath, package))
        return {
            "DEBUG": str(self.debug),
            "DOMAIN": self.domain,
            "MPATH": mpath,
            "TCP_LIFETIME": str(self.tcp_lifetime),
            "PORT_UDP": str(self.port_udp),
            "PORT_TLS": str(self.port_tls),
            "PORT_TLS_EXPIRED": str(self.port_tls_expired),
            "PORT_TLS_WRONGHOST": str(self.port_tls_wronghost),
            "PORT_TLS_UNTRUSTED": str(self.port_tls_untrusted),
            "PORT_MTLS": str(self.port_mtls),
            "PORT_TCP": str(self.port_tcp),
            "PORT_TLS2": str(self.port_tls2),
            "PORT_TLS_CNONLY": str(self.port_tls_cnonly),
            "PIKE_DENSITY": str(self.pike_density),
            "PORT_REGISTRAR": str(self.port_registrar),
            "PORT_CERTSVC": str(self.port_certsvc),
            "IDENTITY_X5U": self.identity_x5u,
            "TLS_CFG": self.tls_cfg_path,
            "CTL_SOCKET": self.ctl_socket,
            "FR_TIMER_MS": str(int(self.fr_timer * 1000)),
            "FR_INV_TIMER_MS": str(int(self.fr_inv_timer * 1000)),
            "FLOW_FR_TIMER_MS": str(max(500, int(self.fr_timer * 500))),
            "PATH_MODE": str(self.path_mode),
            "OUTBOUND_MODE": str(self.outbound_mode),
            "FLOW_TIMER": str(self.flow_timer),
            "MIN_EXPIRES": str(self.min_expires),
            "MAX_EXPIRES": str(self.max_expires),
            "DEFAULT_EXPIRES": str(self.default_expires),
            "AUTH_ALGORITHM": self.auth_algorithm,
            "AUTH_FLAGS": "1" if self.auth_qop else "0",
            "USER_LINES": "\n".join(user_lines) or "\t# no users",
            "PKI_DIR": self.pki_dir,
            "EXTRA_LISTEN": "\n".join("listen=tls:%s:%d" % (ip, self.port_tls)
                                      for ip in self.listen_extra) or "# none",
            "NAT_MODULES": 'loadmodule "nathelper.so"' if self.profile == "nat" else "# no nathelper",
            "NAT_PARAMS": ('modparam("nathelper", "received_avp", "$avp(RECEIVED)")\n'
                           'modparam("registrar", "received_avp", "$avp(RECEIVED)")'
                           if self.profile == "nat" else "# no received_avp"),
            "NAT_REGISTER": ("\t\tfix_nated_register();" if self.profile == "nat"
                             else "\t\t# plain: the Contact as sent"),
        }

    @staticmethod
    def _render(template_path, subs, out_path):
        with open(template_path) as f:
            text = f.read()
        for key, value in subs.items():
            text = text.replace("@" + key + "@", value)
        left = _TOKEN_RE.findall(text)
        if left:
            raise LabError("%s: unreplaced template tokens %s" % (template_path, sorted(set(left))))
        tmp = out_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, out_path)

    def write_config(self):
        """Create the work directory, the PKI and the generated kamailio.cfg / tls.cfg."""
        os.makedirs(self.workdir, exist_ok=True)
        os.makedirs(self.run_dir, exist_ok=True)
        pki.make_pki(self.pki_dir)
        subs = self._substitutions()
        self._render(os.path.join(HERE, "tls.cfg"), subs, self.tls_cfg_path)
        template = "kamailio.cfg" if self.profile == "outbound" else "kamailio-plain.cfg"
        self._render(os.path.join(HERE, template), subs, self.cfg_path)

    # ---------------------------------------------------------------- lifecycle

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=20.0, attempts=2):
        """Start Kamailio and wait until its control socket answers; raise LabError.

        A start that does not answer within timeout is stopped and tried once more: on a
        loaded 2-core CI machine one start in several hundred was seen to create its control
        socket and then not answer it for 20 s (kamcmd timed out each time). The error says
        what every Kamailio process was doing (state and kernel wait channel) when it gave up.
        """
        stuck = []
        for attempt in range(attempts):
            try:
                return self._start_once(timeout)
            except LabError as e:
                if "not ready after" not in str(e) or attempt + 1 == attempts:
                    if stuck:
                        raise LabError("%s\nearlier attempts:\n%s" % (e, "\n".join(stuck)))
                    raise
                stuck.append(str(e).split("\n", 1)[0])

    def _group_states(self):
        """'pid state wchan comm' of every process in Kamailio's process group (Linux /proc)."""
        rows = []
        try:
            pids = [p for p in os.listdir("/proc") if p.isdigit()]
        except OSError:
            return "(no /proc)"
        for p in pids:
            try:
                with open("/proc/%s/stat" % p) as f:
                    stat = f.read()
                fields = stat[stat.rindex(")") + 2:].split()
                if int(fields[2]) != self.pid:
                    continue
                with open("/proc/%s/wchan" % p) as f:
                    wchan = f.read().strip() or "-"
                comm = stat[stat.index("(") + 1:stat.rindex(")")]
                rows.append("%s %s %s %s" % (p, fields[0], wchan, comm))
            except (OSError, ValueError, IndexError):
                continue
        return "; ".join(rows) or "(none left)"

    def _start_once(self, timeout):
        if self.running:
            return
        if self.kamailio is None:
            raise LabError("kamailio binary not found")
        if self.kamcmd is None:
            raise LabError("kamcmd binary not found")
        self.write_config()
        if os.path.exists(self.ctl_socket):
            os.unlink(self.ctl_socket)
        self._log_file = open(self.log_path, "ab")
        self._log_file.write(("\n===== lab start %s =====\n" % time.strftime("%Y-%m-%d %H:%M:%S")).encode())
        self._log_file.flush()
        cmd = [
            self.kamailio, "-DD", "-E",
            "-f", self.cfg_path,
            "-P", self.pid_file,
            "-Y", self.run_dir,
            "-w", self.run_dir,
            "-m", str(self.shm_mb),
            "-M", str(self.pkg_mb),
            "-a", "no",
        ]
        try:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=subprocess.STDOUT,
                cwd=self.workdir, start_new_session=True,
            )
        except OSError as e:
            self._close_log()
            raise LabError("cannot run kamailio: %s" % e)
        self.pid = self.proc.pid
        _running.add(self)
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self._reap()
                raise LabError("kamailio exited with status %s during start-up\n%s" % (rc, self.log_tail(60)))
            if os.path.exists(self.ctl_socket):
                ok, out = self._kamcmd(["core.uptime"], timeout=3)
                if ok:
                    self._apply_reg503()
                    return
                last = out
            if time.monotonic() > deadline:
                states = self._group_states()
                self.stop()
                raise LabError("kamailio not ready after %.0f s (%s; processes: %s)\n%s"
                               % (timeout, last.strip(), states, self.log_tail(60)))
            time.sleep(0.1)

    def stop(self, timeout=10.0):
        """Stop Kamailio (SIGTERM to its PID, SIGKILL to its own process group if stuck)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    # the session/group was created by us for this kamailio alone
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(5)
        self._reap()
        # children may outlive the main process by a moment: wait for the group to empty
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._group_alive():
            time.sleep(0.05)

    def _group_alive(self):
        if self.pid is None:
            return False
        try:
            os.killpg(self.pid, 0)
            return True
        except (ProcessLookupError, PermissionError):
            return False

    def restart(self, timeout=20.0):
        """Stop and start again (usrloc is in memory: all bindings are dropped)."""
        self.stop()
        self.start(timeout=timeout)

    def _reap(self):
        _running.discard(self)
        if self.proc is not None:
            try:
                self.proc.wait(0)
            except subprocess.TimeoutExpired:
                pass
        self.proc = None
        self._close_log()

    def _close_log(self):
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def close(self):
        self.stop()
        if self._ctl_tmpdir is not None:
            shutil.rmtree(self._ctl_tmpdir, ignore_errors=True)
            self._ctl_tmpdir = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -------------------------------------------------------------- inspection

    def _kamcmd(self, args, timeout=5):
        try:
            r = subprocess.run(
                [self.kamcmd, "-s", "unix:" + self.ctl_socket] + list(args),
                capture_output=True, timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return False, "kamcmd timed out"
        out = r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")
        return r.returncode == 0 and not out.startswith("error:"), out

    def rpc(self, *args, **kw):
        """Run one kamcmd command against the lab; return its text output or raise LabError."""
        ok, out = self._kamcmd([str(a) for a in args], timeout=kw.get("timeout", 5))
        if not ok:
            raise LabError("kamcmd %s failed: %s" % (" ".join(str(a) for a in args), out.strip()))
        return out

    def ul_dump(self):
        """Bindings from `kamcmd ul.dump` (see parse_ul_dump)."""
        return parse_ul_dump(self.rpc("ul.dump"))

    def add_user(self, user, password):
        """Add or change a user at run time (and for later restarts)."""
        self._check_user(user, password)
        self.users[user] = password
        if self.running:
            self.rpc("htable.sets", "users", user, password)

    # ------------------------------------------------------------ fault switches

    def _reg503_key(self, role):
        if role is None:
            return "reg503::all"
        if isinstance(role, int) and not isinstance(role, bool):
            port = role
        elif role in EDGE_ROLES:
            port = self.ports[role]
        else:
            raise ValueError("fail_register: role must be None, a port or one of %s" % (EDGE_ROLES,))
        if port not in [self.ports[r] for r in EDGE_ROLES]:
            raise ValueError("fail_register: %d is not an edge listener port" % port)
        return "reg503::%d" % port

    def fail_register(self, retry_after=None, role=None):
        """Make REGISTER fail with 503 Service Unavailable, at run time.

        fail_register()                   every REGISTER: 503 without Retry-After
        fail_register(120)                every REGISTER: 503 + `Retry-After: 120`
        fail_register(5, role="tls")      only REGISTERs arriving on that listener (a role
                                          name from EDGE_ROLES or its port number), e.g.
                                          "the first SRV target answers 503"
        fail_register(False)              stop failing everywhere (all switches off)
        fail_register(False, role="tls")  switch that listener's own switch off only

        A per-listener switch wins over the global one. The switches survive restart().
        """
        if retry_after is False:
            if role is None:
                keys = list(self._reg503)
                self._reg503.clear()
            else:
                key = self._reg503_key(role)
                keys = [key]
                self._reg503.pop(key, None)
            if self.running:
                for key in keys:
                    self._kamcmd(["htable.delete", "lab", key])
            return
        if retry_after is True or retry_after is None:
            value = -1
        else:
            value = int(retry_after)
            if not 0 <= value <= 2 ** 31 - 1:
                raise ValueError("retry_after must be None, False or 0..2^31-1 seconds")
        key = self._reg503_key(role)
        self._reg503[key] = value
        if self.running:
            self.rpc("--", "htable.seti", "lab", key, value)  # "--": -1 is a value, not an option

    def _apply_reg503(self):
        for key, value in self._reg503.items():
            self.rpc("--", "htable.seti", "lab", key, value)  # "--": -1 is a value, not an option

    def register_failures(self):
        """The 503 switches as Kamailio has them: {key: retry_after or -1}."""
        out = {}
        for m in re.finditer(r"name:\s*(reg503::\S+)\s+value:\s*(-?\d+)", self.rpc("htable.dump", "lab")):
            out[m.group(1)] = int(m.group(2))
        return out

    def log_tail(self, n=60, quiet=False):
        """The last n lines of kamailio.log (all starts of this work directory).

        quiet=True leaves out Kamailio's start-up chatter (TLS profile dumps, socket
        buffer probing) so a short tail shows the SIP traffic and the errors.
        """
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, 2)
                size = f.tell()
                f.seek(max(0, size - 256 * 1024))
                data = f.read()
        except OSError:
            return ""
        lines = data.decode("utf-8", "replace").splitlines()
        if quiet:
            lines = [line for line in lines if not _NOISE_RE.search(line)]
        return "\n".join(lines[-n:])


# ---------------------------------------------------------------------- CLI


def _cmd_up(args):
    users = {}
    for spec in args.user or ["phone1:secret1"]:
        if ":" not in spec:
            sys.stderr.write("--user wants USER:PASSWORD\n")
            return 2
        u, p = spec.split(":", 1)
        users[u] = p
    lab = Lab(args.dir, port_base=args.port_base, flow_timer=args.flow_timer, users=users,
              domain=args.domain, auth_algorithm=args.auth_algorithm, debug=args.debug,
              profile=args.profile, tcp_lifetime=args.tcp_lifetime)
    stop = {"flag": False}

    def on_signal(signum, frame):
        stop["flag"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        lab.start()
    except LabError as e:
        sys.stderr.write("lab: %s\n" % e)
        return 1
    print("kamailio pid %d, domain %s, flow timer %d s, log %s" % (lab.pid, lab.domain, lab.flow_timer, lab.log_path))
    for line in lab.describe():
        print(line)
    print("CA: %s (DER %s)" % (lab.ca_pem, lab.ca_der))
    print("user CA (mtls clients, RFC 6072 certificates): %s; Identity signer: %s (x5u %s)"
          % (lab.pki("user_ca")["pem"], lab.pki("identity")["pem"], lab.identity_x5u))
    print("users: %s" % ", ".join("%s:%s" % kv for kv in sorted(users.items())))
    sys.stdout.flush()
    rc = 0
    try:
        while not stop["flag"]:
            if not lab.running:
                sys.stderr.write("lab: kamailio exited\n%s\n" % lab.log_tail(40))
                rc = 1
                break
            time.sleep(0.2)
    finally:
        lab.close()
    print("stopped")
    return rc


def _cmd_pki(args):
    result = pki.make_pki(args.dir)
    for name in pki.ORDER:
        print("%-15s %s" % (name, result[name]["pem"]))
    for name in pki.MULTIPART:
        print("%-15s %s" % (name, result[name]["multipart"]))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="lab.py", description="tinysip interop lab (Kamailio)")
    sub = ap.add_subparsers(dest="cmd")
    up = sub.add_parser("up", help="start Kamailio and stay in the foreground")
    up.add_argument("--dir", required=True, help="work directory (config, PKI, log)")
    up.add_argument("--port-base", type=int, default=5060)
    up.add_argument("--flow-timer", type=int, default=30)
    up.add_argument("--profile", default="outbound", choices=PROFILES,
                    help="outbound edge + registrar (default), plain registrar, or plain + NAT handling")
    up.add_argument("--tcp-lifetime", type=int, default=None,
                    help="idle TCP/TLS connections closed after this many seconds")
    up.add_argument("--domain", default="lab.test")
    up.add_argument("--user", action="append", help="USER:PASSWORD (repeatable; default phone1:secret1)")
    up.add_argument("--auth-algorithm", default="MD5", choices=("MD5", "SHA-256"))
    up.add_argument("--debug", type=int, default=2, help="Kamailio debug level (3 = verbose)")
    p = sub.add_parser("pki", help="write the test PKI")
    p.add_argument("dir")
    args = ap.parse_args(argv)
    if args.cmd == "up":
        return _cmd_up(args)
    if args.cmd == "pki":
        return _cmd_pki(args)
    ap.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
