"""A network link with known delay, jitter and loss, for accuracy tests (CPython, root only).

ImpairedLink puts a far network namespace behind a userspace router (impair_router.py) that
plays netem: per-direction delay, uniform jitter, random or bursty (Gilbert) loss, and writes
a ground-truth log of every UDP packet it handled. read_log() and truth() turn that log into
per-probe delays and losses and the figures a loopback measurement should report.

Why not netem: `tc qdisc ... netem` is missing on the kernels we run on (no sch_netem, no
modules), and only the router can give a per-packet truth log anyway; so there is one
backend, "tun" ("auto" means tun). netem_available() still tells whether the kernel has it.

Topology (all created by ImpairedLink, removed by close()):

    root namespace                                   namespace <name>-far
    <name>0  <subnet>.1  ==  router  ==  <name>1  <subnet>.2, default route, lo up
              (up = root -> far, down = far -> root)

- The router runs in the root namespace and creates both TUN devices (IFF_TUN | IFF_NO_PI);
  this module then moves <name>1 into the far namespace. A TUN fd keeps reading and writing
  its device after the device changes namespace, so no fd passing is needed.
- Root side: <subnet>.1 peer <subnet>.2 (point-to-point /32). Far side: <subnet>.2 peer
  <subnet>.1 with a default route through the TUN. IPv6 is disabled on both TUNs (no
  router solicitations in the way). A process started with link.popen(cmd) or
  subprocess.Popen(link.wrap(cmd)) runs in the far namespace and reaches root-side services
  bound to 0.0.0.0 or <subnet>.1 at <subnet>.1; root-side clients reach it at <subnet>.2.
- Cleanup: close() (also on errors in __enter__, and at interpreter exit) ends the processes
  started with popen(), stops the router (closing its stdin; it also stops by itself if this
  process dies) which removes both TUNs, and deletes the namespace. A stale namespace or
  near TUN of the same name from a crashed run is removed at start.

Profiles and loss: see Profile. The log format is described in impair_router.py.
"""
import atexit
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

ROUTER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "impair_router.py")


class ImpairError(Exception):
    pass


class Profile:
    """The impairment of one direction.

    delay_ms: fixed delay; jitter_ms: + uniform(-jitter, +jitter) per packet, like netem's
    default distribution, clamped at 0; packets leave at their own due time, so they reorder
    when the jitter exceeds their spacing. loss_pct: independent loss probability. burst=(p, r):
    Gilbert model instead (good->bad p %, bad->good r %, every packet in the bad state lost),
    average loss p/(p+r) (as a fraction; x100 for %), mean burst 100/r packets, like netem
    `loss gemodel p r`. udp_only: anything but UDP (TCP, ICMP) passes at once, unimpaired.
    """

    def __init__(self, delay_ms=0, jitter_ms=0, loss_pct=0, burst=None, udp_only=True):
        for label, v in (("delay_ms", delay_ms), ("jitter_ms", jitter_ms), ("loss_pct", loss_pct)):
            if not isinstance(v, (int, float)) or v < 0:
                raise ValueError("Profile: %s must be a number >= 0, got %r" % (label, v))
        if loss_pct > 100:
            raise ValueError("Profile: loss_pct is a percentage, got %r" % (loss_pct,))
        if burst is not None:
            if loss_pct:
                raise ValueError("Profile: give loss_pct or burst=(p, r), not both")
            if len(burst) != 2 or not all(isinstance(x, (int, float)) and 0 < x <= 100
                                          for x in burst):
                raise ValueError("Profile: burst must be (p, r) with percentages in (0, 100], "
                                 "got %r" % (burst,))
            burst = (burst[0], burst[1])
        self.delay_ms = delay_ms
        self.jitter_ms = jitter_ms
        self.loss_pct = loss_pct
        self.burst = burst
        self.udp_only = bool(udp_only)

    def expected_loss_pct(self):
        """The long-run average loss in %: loss_pct, or 100 p/(p+r) for a Gilbert burst."""
        if self.burst:
            p, r = self.burst
            return 100.0 * p / (p + r)
        return float(self.loss_pct)

    def to_dict(self):
        return {"delay_ms": self.delay_ms, "jitter_ms": self.jitter_ms, "loss_pct": self.loss_pct,
                "burst": list(self.burst) if self.burst else None, "udp_only": self.udp_only}

    def __repr__(self):
        return "Profile(%s)" % ", ".join("%s=%r" % kv for kv in sorted(self.to_dict().items()))


def _run(cmd, check=True, quiet=False):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and r.returncode != 0:
        raise ImpairError("`%s` failed (%d): %s" % (" ".join(cmd), r.returncode,
                                                      (r.stderr or r.stdout).strip()))
    return r


def _netns_exists(ns):
    r = _run(["ip", "netns", "list"], check=False)
    return any(line.split()[0] == ns for line in r.stdout.splitlines() if line.strip())


def netem_available():
    """(bool, reason): whether `tc ... netem` works here (tried in a scratch namespace)."""
    ok, why = ImpairedLink.available()
    if not ok:
        return False, why
    if shutil.which("tc") is None:
        return False, "no tc binary"
    ns = "tsimp-probe-%d" % os.getpid()
    try:
        _run(["ip", "netns", "add", ns])
        _run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"])
        r = _run(["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "lo", "root", "netem",
                  "delay", "1ms"], check=False)
        if r.returncode != 0:
            return False, "tc netem: %s" % r.stderr.strip()
        return True, "netem works"
    except ImpairError as e:
        return False, str(e)
    finally:
        _run(["ip", "netns", "del", ns], check=False)


class ImpairedLink:
    """A far namespace behind an impairing router; see the module docstring. Context manager.

    up: Profile for root -> far, down: Profile for far -> root. seed: the per-direction RNGs
    derive from it. log_path: the router's JSON-lines log (default: a new temp file, kept
    after close() so it can be read). Attributes: ns, near_dev, far_dev, near_ip
    (<subnet>.1), far_ip (<subnet>.2), log_path.
    """

    def __init__(self, name="tsimp", subnet="10.213.0", up=None, down=None, seed=1,
                 log_path=None, backend="auto"):
        if backend not in ("auto", "tun"):
            raise ValueError("ImpairedLink: backend %r: only 'tun' (or 'auto') exists; netem has "
                             "no per-packet log and is missing on these kernels" % (backend,))
        if not name or len(name) + 1 > 15 or not name.replace("-", "").isalnum():
            raise ValueError("ImpairedLink: name %r must be alphanumeric and at most 14 chars "
                             "(it names the TUN devices)" % (name,))
        parts = subnet.split(".")
        if len(parts) != 3 or not all(p.isdigit() and int(p) < 256 for p in parts):
            raise ValueError("ImpairedLink: subnet %r must be three octets like '10.213.0'"
                             % (subnet,))
        self.name = name
        self.ns = name + "-far"
        self.near_dev = name + "0"
        self.far_dev = name + "1"
        self.near_ip = subnet + ".1"
        self.far_ip = subnet + ".2"
        self.up = up if up is not None else Profile()
        self.down = down if down is not None else Profile()
        self.seed = int(seed)
        if log_path is None:
            fd, log_path = tempfile.mkstemp(prefix="impair-%s-" % name, suffix=".jsonl")
            os.close(fd)
        self.log_path = log_path
        self.router = None
        self.children = []
        self._ns_made = False
        self._err = None

    @staticmethod
    def available():
        """(bool, reason): root, /dev/net/tun and `ip netns` are all usable here."""
        if os.geteuid() != 0:
            return False, "needs root (TUN devices and network namespaces)"
        if not os.path.exists("/dev/net/tun"):
            return False, "no /dev/net/tun"
        try:
            os.close(os.open("/dev/net/tun", os.O_RDWR))
        except OSError as e:
            return False, "cannot open /dev/net/tun: %s" % e.strerror
        if shutil.which("ip") is None:
            return False, "no `ip` (iproute2)"
        r = _run(["ip", "netns", "list"], check=False)
        if r.returncode != 0:
            return False, "`ip netns list` failed: %s" % r.stderr.strip()
        return True, "tun backend available"

    # -- lifecycle ------------------------------------------------------------------------
    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()
        return False

    def open(self, timeout=30.0):
        ok, why = self.available()
        if not ok:
            raise ImpairError("ImpairedLink unavailable: %s" % why)
        atexit.register(self.close)
        try:
            self._remove_stale()
            _run(["ip", "netns", "add", self.ns])
            self._ns_made = True
            self._start_router(timeout)
            self._configure()
        except BaseException:
            self.close()
            raise
        return self

    def _remove_stale(self):
        if _netns_exists(self.ns):
            _run(["ip", "netns", "del", self.ns])
        if _run(["ip", "link", "show", "dev", self.near_dev], check=False).returncode == 0:
            _run(["ip", "link", "del", "dev", self.near_dev])

    def _start_router(self, timeout):
        self._err = tempfile.TemporaryFile(mode="w+")
        self.router = subprocess.Popen(
            [sys.executable, ROUTER, self.near_dev, self.far_dev,
             json.dumps(self.up.to_dict()), json.dumps(self.down.to_dict()), str(self.seed),
             self.log_path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err)
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.router.stdout], [], [], left)[0]:
                raise ImpairError("impair_router did not get ready in %.0f s: %s"
                                  % (timeout, self._router_stderr()))
            chunk = os.read(self.router.stdout.fileno(), 1)
            if not chunk:
                self.router.wait()
                raise ImpairError("impair_router exited (%s): %s"
                                  % (self.router.returncode, self._router_stderr()))
            line += chunk
        if line.strip() != b"ready":
            raise ImpairError("impair_router said %r instead of ready" % line)

    def _router_stderr(self):
        if self._err is None:
            return ""
        self._err.seek(0)
        return self._err.read().strip()

    def _configure(self):
        ns_exec = ["ip", "netns", "exec", self.ns]
        _run(["ip", "link", "set", "dev", self.far_dev, "netns", self.ns])
        self._no_ipv6([], self.near_dev)
        self._no_ipv6(ns_exec, self.far_dev)
        _run(["ip", "addr", "add", self.near_ip, "peer", self.far_ip, "dev", self.near_dev])
        _run(["ip", "link", "set", "dev", self.near_dev, "up"])
        _run(ns_exec + ["ip", "link", "set", "dev", "lo", "up"])
        _run(ns_exec + ["ip", "addr", "add", self.far_ip, "peer", self.near_ip,
                        "dev", self.far_dev])
        _run(ns_exec + ["ip", "link", "set", "dev", self.far_dev, "up"])
        _run(ns_exec + ["ip", "route", "add", "default", "via", self.near_ip,
                        "dev", self.far_dev])

    @staticmethod
    def _no_ipv6(prefix, dev):
        _run(prefix + ["sysctl", "-q", "-w", "net.ipv6.conf.%s.disable_ipv6=1" % dev], check=False)

    def close(self):
        """End popen() children, stop the router (the TUNs go with it), delete the namespace."""
        atexit.unregister(self.close)
        for p in self.children:
            _stop(p)
        self.children = []
        if self.router is not None:
            try:
                self.router.stdin.close()
            except OSError:
                pass
            _stop(self.router, grace=5.0)
            self.router.stdout.close()
            self.router = None
        if self._ns_made:
            # TUNs vanish with the router's fds; this also covers a router that never started
            _run(["ip", "netns", "del", self.ns], check=False)
            self._ns_made = False
        if _run(["ip", "link", "show", "dev", self.near_dev], check=False).returncode == 0:
            _run(["ip", "link", "del", "dev", self.near_dev], check=False)
        if self._err is not None:
            self._err.close()
            self._err = None

    # -- far-namespace processes ----------------------------------------------------------
    def wrap(self, cmd):
        """cmd (argv list, or a shell string) prefixed to run in the far namespace."""
        if isinstance(cmd, str):
            return "ip netns exec %s %s" % (self.ns, cmd)
        return ["ip", "netns", "exec", self.ns] + list(cmd)

    def popen(self, cmd, **kw):
        """subprocess.Popen of cmd in the far namespace; ended by close() if still running."""
        p = subprocess.Popen(self.wrap(cmd), **kw)
        self.children.append(p)
        return p

    def router_stats(self):
        """The router's final counters (after close()): {"up": {...}, "down": {...}} or None."""
        for rec in read_log(self.log_path):
            if rec.get("type") == "stats":
                return rec
        return None


def _stop(p, grace=2.0):
    if p.poll() is None:
        if p.stdin is None or p.stdin.closed:
            p.terminate()
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            p.terminate()
            try:
                p.wait(grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


# -- ground truth ---------------------------------------------------------------------------

def read_log(path):
    """All records of a router log (dicts with "type": "config" | "pkt" | "stats").

    A torn last line (router killed mid-write) is ignored.
    """
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def packets(log, direction=None, proto="udp"):
    """The "pkt" records of log (from read_log), optionally of one direction / protocol."""
    return [r for r in log if r.get("type") == "pkt" and (direction is None or r["dir"] == direction)
            and (proto is None or r.get("proto") == proto)]


def rfc3550_jitter(transits):
    """RFC 3550 §6.4.1 interarrival jitter over transit times given in arrival order.

    J += (|D| - J) / 16 for each consecutive pair, D = transit difference; same unit as input.
    """
    j = 0.0
    prev = None
    for t in transits:
        if prev is not None:
            j += (abs(t - prev) - j) / 16.0
        prev = t
    return j


def truth(log, up_port=None, down_port=None):
    """What the link did to stamped probes: per index delays and losses, and a summary.

    log: from read_log(). up_port: only up packets sent to this UDP port (the mirror's port);
    down_port: only down packets from this port (default: up_port, a mirror answers from the
    port it was sent to). The first up and the first down record of an index count; repeats
    are counted in summary["duplicates"].

    Returns {"probes": {index: {"fwd_ms", "ret_ms", "rtt_ms", "dropped_forward",
    "dropped_return", "back_us"}}, "summary": {...}}. fwd_ms / ret_ms: the delay the router
    applied (None when dropped or never seen); dropped_return is None when no echo entered
    the link (forward loss, or the mirror did not answer); rtt_ms: fwd + ret when both were
    delivered; back_us: when the echo left the router toward the root side (monotonic µs).

    summary: sent (probes seen going up), returned, dropped_forward, dropped_return,
    not_echoed (delivered forward but no echo came back into the link), loss_pct (total:
    sent but not returned), loss_forward_pct (of sent), loss_return_pct (of echoes that
    entered the link), rtt_mean_ms (mean RTT added by the link), rtt_min_ms, rtt_max_ms,
    fwd_mean_ms, ret_mean_ms, jitter_ms (RFC 3550 jitter of the link's round-trip transit
    over the echoes in their arrival order at the root side), ipdv_mean_ms (mean |D| over the
    same pairs: what jitter_ms tends to), reordered (echoes arriving after a higher index).
    """
    if down_port is None:
        down_port = up_port
    probes = {}
    dups = 0
    for r in packets(log):
        idx = r.get("probe")
        if idx is None:
            continue
        if r["dir"] == "up":
            if up_port is not None and r["dst"] != up_port:
                continue
            if idx in probes:
                dups += 1
                continue
            d = r["delay_us"]
            probes[idx] = {"fwd_ms": None if d is None else d / 1000.0, "ret_ms": None,
                           "rtt_ms": None, "dropped_forward": d is None,
                           "dropped_return": None, "back_us": None}
        else:
            if down_port is not None and r["src"] != down_port:
                continue
            p = probes.get(idx)
            if p is None or p["dropped_forward"]:
                continue  # not one of ours, or an echo of something the link dropped
            if p["dropped_return"] is not None:
                dups += 1
                continue
            d = r["delay_us"]
            p["dropped_return"] = d is None
            if d is not None:
                p["ret_ms"] = d / 1000.0
                p["rtt_ms"] = p["fwd_ms"] + p["ret_ms"]
                p["back_us"] = r["t_us"] + d
    sent = len(probes)
    fwd_drop = sum(1 for p in probes.values() if p["dropped_forward"])
    echoed = sum(1 for p in probes.values() if p["dropped_return"] is not None)
    ret_drop = sum(1 for p in probes.values() if p["dropped_return"])
    back = sorted((p["back_us"], i) for i, p in probes.items() if p["rtt_ms"] is not None)
    rtts = [probes[i]["rtt_ms"] for _, i in back]
    diffs = [abs(b - a) for a, b in zip(rtts, rtts[1:])]
    reordered = 0
    top = -1
    for _, i in back:
        if i < top:
            reordered += 1
        top = max(top, i)

    def pct(n, of):
        return 100.0 * n / of if of else 0.0

    def mean(xs):
        return sum(xs) / len(xs) if xs else None

    summary = {
        "sent": sent, "returned": len(back), "dropped_forward": fwd_drop,
        "dropped_return": ret_drop, "not_echoed": sent - fwd_drop - echoed, "duplicates": dups,
        "loss_pct": pct(sent - len(back), sent), "loss_forward_pct": pct(fwd_drop, sent),
        "loss_return_pct": pct(ret_drop, echoed),
        "rtt_mean_ms": mean(rtts), "rtt_min_ms": min(rtts) if rtts else None,
        "rtt_max_ms": max(rtts) if rtts else None,
        "fwd_mean_ms": mean([p["fwd_ms"] for p in probes.values() if p["fwd_ms"] is not None]),
        "ret_mean_ms": mean([p["ret_ms"] for p in probes.values() if p["ret_ms"] is not None]),
        "jitter_ms": rfc3550_jitter(rtts), "ipdv_mean_ms": mean(diffs), "reordered": reordered,
    }
    return {"probes": probes, "summary": summary}


def loss_bursts(dropped):
    """Lengths of the runs of True in a sequence of drop flags (in index order)."""
    runs = []
    n = 0
    for d in dropped:
        if d:
            n += 1
        elif n:
            runs.append(n)
            n = 0
    if n:
        runs.append(n)
    return runs
