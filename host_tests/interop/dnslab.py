"""A throw-away DNS server for the RFC 3263 interop tests: dnsmasq on 127.0.0.1 only.

    from dnslab import DnsServer
    records = {
        "naptr": [("lab.test", 10, 50, "s", "SIPS+D2T", "", "_sips._tcp.lab.test")],
        "srv":   [("_sips._tcp.lab.test", "sip1.lab.test", 47061, 10, 60),
                  ("_sips._tcp.lab.test", "sip2.lab.test", 47067, 20, 0)],
        "a":     [("sip1.lab.test", "127.0.0.1"), ("sip2.lab.test", "127.0.0.1")],
        "aaaa":  [("sip1.lab.test", "::1")],
    }
    with DnsServer(workdir, 47053, records) as dns:
        reply = dns.query("_sips._tcp.lab.test", "SRV")    # parsed reply (dict), see parse()
        ...phone resolves against 127.0.0.1:47053...
        dns.queries()        # [("SRV", "_sips._tcp.lab.test"), ("A", "sip1.lab.test"), ...]

records (every key optional, each a list of tuples):
    naptr  (name, order, preference, flags, service, regexp, replacement)
    srv    (name, target, port, priority, weight)
    a      (name, ipv4)        several tuples with one name: several A records
    aaaa   (name, ipv6)
    ttl    int: TTL of every record (default 60; dnsmasq's own default for local data is 0)
Every domain that appears in a record is made local (`local=/domain/`): a name there that
has no record is answered NXDOMAIN/NODATA at once, never forwarded (there is no upstream
anyway). Names in no such domain are answered REFUSED.

dnsmasq is started in the foreground (-k) as a child of this process with a generated
config file in workdir and nothing else: no /etc/dnsmasq.conf, no /etc/resolv.conf
(no-resolv, no upstream), no /etc/hosts (no-hosts), no DHCP (no dhcp-range; its lease file
and pid file are in workdir anyway), bound to 127.0.0.1:<port> only (UDP and TCP,
bind-interfaces). Every query is logged to workdir/dnsmasq.log (log-queries); queries()
parses that log. stop() signals the recorded PID only.

What dnsmasq 2.90 (Debian 12 dnsmasq-base) does with these records, found by running it
(test_resilience_lab.py asserts the parts a phone test could depend on):
  - Positive answers from this local data have AA set; RA is set too (dnsmasq always says
    it recurses). TTL is `ttl` for every record (local-ttl / host-record TTL).
  - Records of one name and type come back in REVERSE configuration order (the last NAPTR,
    SRV or A configured is the first in the answer), priorities and weights untouched:
    sorting NAPTR by order/preference and SRV by priority/weight is the client's job.
  - NAPTR: the answer section holds the NAPTR records only; the additional section is
    EMPTY. dnsmasq does not add the SRV records a replacement points at, nor A/AAAA for
    their targets (RFC 3403 allows it, dnsmasq does not do it): the client follows
    NAPTR -> SRV -> A/AAAA itself.
  - SRV: the additional section holds the A and AAAA records of every SRV target it knows
    (host-record), RFC 2782 "additional data"; a client may use them or ask again.
  - Large answers over UDP: without EDNS0 the reply is cut at 512 bytes with TC set, and
    the cut one is a PARTIAL answer section (e.g. 13 of 60 SRV records plus one additional
    A, 507 bytes): a client must not use a TC answer and must retry over TCP. With an EDNS0
    OPT (any payload size above 1232) dnsmasq answers up to 1232 bytes (its
    edns-packet-max default): additional records that do not fit are dropped silently
    (no TC: e.g. 30 SRV + 8 of 30 A), answers that do not fit are cut with TC set. Over
    TCP (same port, 2-byte length prefix) the whole answer and all additional records
    come back.
  - A local name without a record of the asked type: NOERROR, no answer, empty authority
    (no SOA: NODATA, AA clear). An unknown name in a local domain: NXDOMAIN (AA clear).
    A name outside every local domain: REFUSED (there is no upstream).
  - Each query is logged as `query[SRV] _sips._tcp.lab.test from 127.0.0.1`, written
    synchronously (no log-async) before the reply is sent, so queries() right after a
    reply arrived already lists it.
"""

import os
import pwd
import grp
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import time

HOST = "127.0.0.1"

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16,
         "AAAA": 28, "SRV": 33, "NAPTR": 35, "OPT": 41, "ANY": 255}
TYPE_NAMES = dict((v, k) for k, v in TYPES.items())
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}

_NAME_RE = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$")
_QUERY_RE = re.compile(r"query\[([A-Za-z0-9]+)\] (\S+) from (\S+)")


class DnsError(Exception):
    """dnsmasq could not be configured, started or queried."""


# ------------------------------------------------------------------ tiny DNS codec
# Test-local on purpose: the lab must not depend on the phone's own DNS code (lib/).


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if not label:
            continue
        raw = label.encode("ascii")
        if len(raw) > 63:
            raise ValueError("label too long: %r" % label)
        out += bytes([len(raw)]) + raw
    return out + b"\x00"


def build_query(name, qtype="A", qid=None, rd=True, edns=None):
    """A DNS query message (bytes). edns=N adds an OPT record with UDP payload size N."""
    if qid is None:
        qid = random.randint(0, 0xFFFF)
    code = TYPES[qtype.upper()] if isinstance(qtype, str) else int(qtype)
    flags = 0x0100 if rd else 0
    msg = struct.pack("!HHHHHH", qid, flags, 1, 0, 0, 1 if edns else 0)
    msg += encode_name(name) + struct.pack("!HH", code, 1)
    if edns:
        msg += b"\x00" + struct.pack("!HHIH", TYPES["OPT"], int(edns), 0, 0)
    return msg


def _read_name(msg, off):
    labels = []
    jumped = False
    end = None
    for _ in range(128):
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if not jumped:
                end = off + 2
            off = ((n & 0x3F) << 8) | msg[off + 1]
            jumped = True
            continue
        off += 1
        if n == 0:
            return ".".join(labels), (end if jumped else off)
        labels.append(msg[off:off + n].decode("ascii", "replace"))
        off += n
    raise ValueError("name compression loop")


def _rdata(msg, rtype, off, length):
    data = msg[off:off + length]
    if rtype == 1 and length == 4:
        return socket.inet_ntop(socket.AF_INET, data)
    if rtype == 28 and length == 16:
        return socket.inet_ntop(socket.AF_INET6, data)
    if rtype in (2, 5, 12):
        return _read_name(msg, off)[0]
    if rtype == 33:
        prio, weight, port = struct.unpack("!HHH", data[:6])
        return {"priority": prio, "weight": weight, "port": port, "target": _read_name(msg, off + 6)[0]}
    if rtype == 35:
        order, pref = struct.unpack("!HH", data[:4])
        p = off + 4
        strings = []
        for _ in range(3):
            n = msg[p]
            strings.append(msg[p + 1:p + 1 + n].decode("utf-8", "replace"))
            p += 1 + n
        return {"order": order, "preference": pref, "flags": strings[0], "service": strings[1],
                "regexp": strings[2], "replacement": _read_name(msg, p)[0]}
    return data


def parse(msg):
    """Parse a DNS reply into a dict: id, rcode (name), tc, aa, ra, questions, answers,
    authority, additional; each record a dict name/type/ttl/data (data decoded for A, AAAA,
    SRV, NAPTR, CNAME, NS, PTR; raw bytes otherwise; OPT records appear as type "OPT")."""
    qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", msg[:12])
    off = 12
    questions = []
    for _ in range(qd):
        name, off = _read_name(msg, off)
        qtype, qclass = struct.unpack("!HH", msg[off:off + 4])
        off += 4
        questions.append((name, TYPE_NAMES.get(qtype, qtype)))
    sections = []
    for count in (an, ns, ar):
        records = []
        for _ in range(count):
            name, off = _read_name(msg, off)
            rtype, rclass, ttl, length = struct.unpack("!HHIH", msg[off:off + 10])
            off += 10
            records.append({"name": name, "type": TYPE_NAMES.get(rtype, rtype), "ttl": ttl,
                            "data": _rdata(msg, rtype, off, length)})
            off += length
        sections.append(records)
    return {"id": qid, "rcode": RCODES.get(flags & 0xF, flags & 0xF), "tc": bool(flags & 0x0200),
            "aa": bool(flags & 0x0400), "ra": bool(flags & 0x0080), "questions": questions,
            "answers": sections[0], "authority": sections[1], "additional": sections[2],
            "size": len(msg)}


def query(port, name, qtype="A", host=HOST, timeout=2.0, tcp=False, edns=None):
    """Send one query to host:port (UDP, or TCP with tcp=True) and return parse(reply)."""
    qid = random.randint(0, 0xFFFF)
    msg = build_query(name, qtype, qid, edns=edns)
    if tcp:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(struct.pack("!H", len(msg)) + msg)
            buf = b""
            while len(buf) < 2 or len(buf) < 2 + struct.unpack("!H", buf[:2])[0]:
                chunk = s.recv(65535)
                if not chunk:
                    raise DnsError("TCP connection closed before a full reply")
                buf += chunk
            reply = parse(buf[2:2 + struct.unpack("!H", buf[:2])[0]])
    else:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.sendto(msg, (host, port))
            deadline = time.monotonic() + timeout
            while True:
                s.settimeout(max(0.01, deadline - time.monotonic()))
                data, _ = s.recvfrom(65535)
                reply = parse(data)
                if reply["id"] == qid:
                    break
    return reply


# ------------------------------------------------------------------ the server


def _check_name(name, what):
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError("%s: bad DNS name %r" % (what, name))
    return name.rstrip(".")


def _check_text(value, what):
    # dnsmasq's config parser splits on commas and treats quotes/backslashes specially
    if not isinstance(value, str) or re.search(r'[,"\\\s#]', value):
        raise ValueError("%s: %r must not contain commas, quotes, backslashes, '#' or spaces"
                         % (what, value))
    return value


def _domain_of(name):
    parts = name.rstrip(".").split(".")
    # _sips._tcp.lab.test -> lab.test; sip1.lab.test -> lab.test; lab.test -> lab.test
    while parts and parts[0].startswith("_"):
        parts = parts[1:]
    if len(parts) > 2:
        parts = parts[-2:]
    return ".".join(parts)


def config_lines(port, records, workdir):
    """The dnsmasq configuration (list of lines) for records; see the module docstring."""
    ttl = int(records.get("ttl", 60))
    lines = [
        "# generated by host_tests/interop/dnslab.py",
        "port=%d" % port,
        "listen-address=%s" % HOST,
        "bind-interfaces",
        "no-resolv",
        "no-poll",
        "no-hosts",
        "no-negcache",
        "cache-size=0",
        "domain-needed",
        "local-ttl=%d" % ttl,
        "pid-file=%s" % os.path.join(workdir, "dnsmasq.pid"),
        "dhcp-leasefile=%s" % os.path.join(workdir, "dnsmasq.leases"),
        "log-queries",
        "log-facility=%s" % os.path.join(workdir, "dnsmasq.log"),
    ]
    try:
        lines.append("user=%s" % pwd.getpwuid(os.getuid()).pw_name)
        lines.append("group=%s" % grp.getgrgid(os.getgid()).gr_name)
    except KeyError:
        pass
    domains = []
    unknown = set(records) - {"naptr", "srv", "a", "aaaa", "ttl"}
    if unknown:
        raise ValueError("records: unknown keys %s" % sorted(unknown))
    for rec in records.get("naptr", ()):
        name, order, pref, flags, service, regexp, replacement = rec
        name = _check_name(name, "naptr")
        if regexp:
            _check_text(regexp, "naptr regexp")
        line = "naptr-record=%s,%d,%d,%s,%s,%s" % (
            name, int(order), int(pref), _check_text(flags, "naptr flags"),
            _check_text(service, "naptr service"), regexp)
        if replacement and replacement != ".":
            line += "," + _check_name(replacement, "naptr replacement")
        lines.append(line)
        domains.append(_domain_of(name))
    for rec in records.get("srv", ()):
        name, target, port_, prio, weight = rec
        name = _check_name(name, "srv")
        lines.append("srv-host=%s,%s,%d,%d,%d" % (name, _check_name(target, "srv target"),
                                                  int(port_), int(prio), int(weight)))
        domains.append(_domain_of(name))
    for key, family in (("a", socket.AF_INET), ("aaaa", socket.AF_INET6)):
        for name, ip in records.get(key, ()):
            name = _check_name(name, key)
            socket.inet_pton(family, ip)  # ValueError-like OSError on a bad address
            lines.append("host-record=%s,%s,%d" % (name, ip, ttl))
            domains.append(_domain_of(name))
    for d in sorted(set(domains)):
        lines.append("local=/%s/" % d)
    return lines


class DnsServer(object):
    """dnsmasq on 127.0.0.1:port serving records (see the module docstring)."""

    def __init__(self, workdir, port, records, start=True, timeout=10.0):
        if not 1024 <= int(port) <= 65535:
            raise ValueError("port out of range")
        self.workdir = os.path.abspath(workdir)
        self.host = HOST
        self.port = int(port)
        self.records = dict(records)
        self.conf_path = os.path.join(self.workdir, "dnsmasq.conf")
        self.log_path = os.path.join(self.workdir, "dnsmasq.log")
        self.out_path = os.path.join(self.workdir, "dnsmasq.out")
        self.pid_file = os.path.join(self.workdir, "dnsmasq.pid")
        self.dnsmasq = shutil.which("dnsmasq") or next(
            (p for p in ("/usr/sbin/dnsmasq", "/sbin/dnsmasq") if os.access(p, os.X_OK)), None)
        self.proc = None
        self.pid = None
        self._out = None
        if start:
            self.start(timeout)

    @property
    def server(self):
        """(host, port) to give a resolver."""
        return (self.host, self.port)

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def write_config(self):
        os.makedirs(self.workdir, exist_ok=True)
        with open(self.conf_path, "w") as f:
            f.write("\n".join(config_lines(self.port, self.records, self.workdir)) + "\n")

    def start(self, timeout=10.0):
        """Start dnsmasq and wait until it answers a real query over UDP; raise DnsError."""
        if self.running:
            return
        if self.dnsmasq is None:
            raise DnsError("dnsmasq binary not found (tools/deps.sh installs dnsmasq-base)")
        self.write_config()
        self._out = open(self.out_path, "ab")
        cmd = [self.dnsmasq, "--keep-in-foreground", "--conf-file=" + self.conf_path]
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._out,
                                         stderr=subprocess.STDOUT, cwd=self.workdir,
                                         start_new_session=True)
        except OSError as e:
            self._close_out()
            raise DnsError("cannot run dnsmasq: %s" % e)
        self.pid = self.proc.pid
        deadline = time.monotonic() + timeout
        last = None
        while True:
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self._reap()
                raise DnsError("dnsmasq exited with status %s during start-up\n%s" % (rc, self.log_tail()))
            try:
                # any reply at all proves the UDP socket is served; the probe name is in no
                # local domain, so it never matches a record and dnsmasq answers REFUSED
                query(self.port, "ready.probe.invalid", "A", timeout=0.3)
                return
            except (OSError, ValueError, DnsError) as e:
                last = e
            if time.monotonic() > deadline:
                self.stop()
                raise DnsError("dnsmasq not answering on %s:%d after %.0f s (%s)\n%s"
                               % (self.host, self.port, timeout, last, self.log_tail()))
            time.sleep(0.05)

    def stop(self, timeout=5.0):
        """SIGTERM to dnsmasq's PID (SIGKILL if it does not go)."""
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
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(5)
        self._reap()

    close = stop

    def _reap(self):
        if self.proc is not None:
            try:
                self.proc.wait(0)
            except subprocess.TimeoutExpired:
                pass
        self.proc = None
        self._close_out()

    def _close_out(self):
        if self._out is not None:
            self._out.close()
            self._out = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # ------------------------------------------------------------- inspection

    def query(self, name, qtype="A", tcp=False, edns=None, timeout=2.0):
        """Ask this server (module-level query()); returns the parsed reply."""
        return query(self.port, name, qtype, host=self.host, timeout=timeout, tcp=tcp, edns=edns)

    def queries(self, include_probe=False):
        """Queries logged so far, oldest first: [(qtype, name), ...] (the readiness probe
        left out unless include_probe)."""
        out = []
        for qtype, name, _src in self.query_log():
            if not include_probe and name.endswith(".invalid"):
                continue
            out.append((qtype, name))
        return out

    def query_log(self):
        """[(qtype, name, source), ...] parsed from dnsmasq.log (source like 127.0.0.1/5353
        when dnsmasq logs the port, else the address)."""
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            return []
        return [m.groups() for m in _QUERY_RE.finditer(text)]

    def clear_queries(self):
        """Forget the queries logged so far (queries() then shows only later ones)."""
        # dnsmasq keeps the log file open in append mode: truncating it in place is safe
        try:
            with open(self.log_path, "r+") as f:
                f.truncate(0)
        except OSError:
            pass

    def log_tail(self, n=40):
        text = ""
        for path in (self.out_path, self.log_path):
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    text += "".join(f.readlines()[-n:])
            except OSError:
                pass
        return text
