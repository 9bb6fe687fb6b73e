"""Avalanche: N phones restart at once against a registrar that is down for the first minutes.

Every phone is a real sans-IO tinysip UserAgent (one TLS outbound flow) on one shared
virtual clock; nothing opens a socket. The network is simulated: a connect attempt made
during the outage is refused (`ua.connection_failed` one RTT later); after it the connect
succeeds (two RTTs: TCP + TLS) and the bytes the phone writes go to a registrar built from
host_tests/fakeregistrar.py (401 digest challenge, then 200 with Require: outbound,
Flow-Timer and a Contact echoing +sip.instance and reg-id; CRLF pings answered), one
FakeRegistrar per AOR: its binding list is per AOR, and one shared by all phones would scan
and list 10,000 Contacts in every 200. Replies arrive one RTT after the write. With --capacity the registrar serves at most that many
REGISTER requests per second of virtual time after recovery and answers the others 503
without Retry-After (each phone needs two: the challenged one and the authenticated one).

One event heap drives everything: each phone's next_timer() (scheduled lazily: an entry is
pushed when the time changes and stale ones are skipped), connect results and deliveries.
Every connect attempt and every REGISTER is counted in 1 s bins, and every flow_recovering
delay is checked against RFC 5626 §4.5 computed here independently of tinysip.outbound:
wait = min(1800 s, 30 s * 2^failures) (base 30 s: the phone's only flow is down), delay
uniform in 50-100 % of wait.

For comparison the same population runs through a tiny model of a naive phone: retry every
--naive-interval seconds (default 30), no jitter, no backoff, same network and registrar.

    python tools/bench/avalanche.py [--phones 10000] [--outage-min 10] [--minutes 40]
        [--seed 1] [--capacity 0] [--rtt-ms 40] [--boot-spread 0] [--plot out.png] [--json]

Progress goes to stderr; the figures (or with --json one JSON document) to stdout.
CPython only (a host tool).
"""
import argparse
import heapq
import json
import os
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
for _p in (os.path.join(ROOT, "host_tests"), os.path.join(ROOT, "lib")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from fakeregistrar import FakeRegistrar  # noqa: E402
from tinysip.config import Config  # noqa: E402
from tinysip.ua import UserAgent  # noqa: E402

ACT_CONNECT, ACT_SEND, ACT_CLOSE = 1, 2, 3  # ua.py's private _ACT_* (host_tests/test_consts.py)

# §4.5 as the RFC states it (not tinysip's code): the check of every delay uses these
BASE_ALL_DOWN_MS = 30000
MAX_WAIT_MS = 1800000

# heap entry kinds: (time ms, seq, kind, phone, conn, data)
_START = 0
_TIMER = 1
_CONNECT = 2  # data: True connected, False refused
_DELIVER = 3  # data: bytes from the registrar


class _Clock:
    """FakeRegistrar reads `clock.now`; the simulation sets it before every call."""

    now = 0


def wait_bound(failures):
    """The §4.5 wait for `failures` consecutive failures, in ms (all flows down)."""
    w = BASE_ALL_DOWN_MS
    for _ in range(failures):
        if w >= MAX_WAIT_MS:
            break
        w *= 2
    return min(w, MAX_WAIT_MS)


def phone_config(i, flow_uri="sips:edge.lab.test"):
    return Config({
        "aor": "sip:phone%05d@lab.test" % i,
        "auth": {"username": "phone%05d" % i, "password": "pw-%d" % i},
        "outbound": [flow_uri],
        "tls": {"ca": "/flash/ca.pem"},
    })


def phone_instance(i):
    # RFC 5626 §4.1 style: time-0 UUID v1 over a (locally administered) MAC
    return b"urn:uuid:00000000-0000-1000-8000-02%010x" % i


class _Gate:
    """The registrar's front door: at most `capacity` REGISTERs per 1 s bin (0: no limit)."""

    def __init__(self, capacity):
        self.capacity = capacity
        self.sec = -1
        self.used = 0

    def admit(self, t):
        if not self.capacity:
            return True
        sec = t // 1000
        if sec != self.sec:
            self.sec = sec
            self.used = 0
        if self.used >= self.capacity:
            return False
        self.used += 1
        return True


def _percentile_times(times, phones, fractions=(0.5, 0.99, 1.0)):
    """{fraction: ms at which that share of `phones` had registered, or None}."""
    s = sorted(times)
    out = {}
    for f in fractions:
        k = -(-int(f * phones * 1000) // 1000)  # ceil without float drift for 0.99 * n
        k = max(1, min(k, phones))
        out[f] = s[k - 1] if len(s) >= k else None
    return out


class Simulation:
    """tinysip phones against the simulated edge + registrar. run() fills the counters."""

    def __init__(self, phones=10000, outage_s=600, minutes=40, seed=1, capacity=0, rtt_ms=40,
                 boot_spread_s=0, flow_timer=30, progress=False, until_registered=False):
        self.n = phones
        self.outage_ms = int(outage_s * 1000)
        self.end_ms = int(minutes * 60000)
        self.capacity = capacity
        self.rtt = rtt_ms
        self.flow_timer = flow_timer
        self.progress = progress
        self.until_registered = until_registered
        self.rng = random.Random(seed)
        boot_rng = random.Random(seed * 7919 + 1)
        spread = int(boot_spread_s * 1000)
        self.boots = [boot_rng.randrange(spread + 1) if spread else 0 for _ in range(phones)]
        nb = self.end_ms // 1000 + 2
        self.connects = [0] * nb  # connect attempts per second
        self.retries = [0] * nb  # of which not the phone's first attempt
        self.registers = [0] * nb  # REGISTER requests per second
        self.rejected = [0] * nb  # of which answered 503 by the capacity gate
        self.reg_times = [None] * phones  # ms of each phone's first registration
        self.recoveries = 0  # flow_recovering events checked
        self.bad_delays = []  # (phone, delay_ms, failures) outside §4.5
        self.ratio_sum = 0.0  # sum of delay / wait, uniform 0.5-1 gives mean 0.75
        self.max_failures = 0
        self.fail_status = {}  # registration_failed status -> count
        self.internal_errors = []
        self.events = 0
        self.registered = 0
        self.build_s = self.run_s = 0.0

    def build(self):
        t0 = time.perf_counter()
        rb = self.rng.randbytes
        self.uas = [UserAgent(phone_config(i), phone_instance(i), rb) for i in range(self.n)]
        self.regs = [None] * self.n  # one FakeRegistrar per AOR, made on the first write
        self.attempted = bytearray(self.n)
        self.sched = [None] * self.n
        self.clock = _Clock()
        self.gate = _Gate(self.capacity)
        self.heap = [(self.boots[i], i, _START, i, 0, None) for i in range(self.n)]
        heapq.heapify(self.heap)
        self.seq = self.n
        self.build_s = time.perf_counter() - t0

    def _registrar(self, i):
        r = FakeRegistrar(self.clock, username=b"phone%05d" % i, password=b"pw-%d" % i,
                          flow_timer=self.flow_timer, others=False)
        r.keep_log = False
        self.regs[i] = r
        return r

    def _after_input(self, i, ua, t):
        """Perform the phone's actions, read its events, reschedule its timer."""
        push = heapq.heappush
        heap = self.heap
        a = ua.pop_action()
        while a is not None:
            k = a[0]
            sec = t // 1000
            if k == ACT_CONNECT:
                self.connects[sec] += 1
                if self.attempted[i]:
                    self.retries[sec] += 1
                else:
                    self.attempted[i] = 1
                ok = t >= self.outage_ms
                self.seq += 1
                push(heap, (t + (2 * self.rtt if ok else self.rtt), self.seq, _CONNECT, i,
                            a[1], ok))
            elif k == ACT_SEND:
                conn, data = a[1], a[2]
                reg = self.regs[i] or self._registrar(i)
                if data[:9] == b"REGISTER ":
                    self.registers[sec] += 1
                    if not self.gate.admit(t):
                        self.rejected[sec] += 1
                        reg.script.append(("status", 503))  # no Retry-After
                self.clock.now = t
                for delay, out in reg.handle(conn, data):
                    self.seq += 1
                    push(heap, (t + self.rtt + delay, self.seq, _DELIVER, i, conn, out))
            elif k == ACT_CLOSE:
                if self.regs[i] is not None:
                    self.regs[i].close(a[1])
            a = ua.pop_action()
        e = ua.pop_event()
        while e is not None:
            name = e.name
            if name == "flow_recovering":
                delay, failures = e.values[2], e.values[3]
                w = wait_bound(failures)
                self.recoveries += 1
                self.ratio_sum += delay / w
                if failures > self.max_failures:
                    self.max_failures = failures
                if not (w // 2 <= delay <= w) or failures < 1:
                    self.bad_delays.append((i, delay, failures))
            elif name == "registered":
                if self.reg_times[i] is None:
                    self.reg_times[i] = t
                    self.registered += 1
            elif name == "registration_failed":
                s = e.values[2]
                self.fail_status[s] = self.fail_status.get(s, 0) + 1
            elif name == "internal_error":
                self.internal_errors.append((i, t, e.values))
            e = ua.pop_event()
        nt = ua.next_timer()
        if nt is not None:
            if nt < t:
                nt = t
            if nt != self.sched[i]:
                self.sched[i] = nt
                self.seq += 1
                push(heap, (nt, self.seq, _TIMER, i, 0, None))
        else:
            self.sched[i] = None

    def run(self):
        if not hasattr(self, "uas"):
            self.build()
        t0 = time.perf_counter()
        self.registered = 0
        heap = self.heap
        pop = heapq.heappop
        uas = self.uas
        sched = self.sched
        end = self.end_ms
        last_report = t0
        events = 0
        while heap:
            t, _, kind, i, conn, data = pop(heap)
            if t > end:
                break
            ua = uas[i]
            if kind == _TIMER:
                if sched[i] != t:
                    continue  # stale: the phone's timer moved
                sched[i] = None
                ua.handle_timer(t)
            elif kind == _DELIVER:
                ua.receive(conn, data, t)
            elif kind == _CONNECT:
                if data:
                    ua.connected(conn, t)
                else:
                    ua.connection_failed(conn, t, "connection refused")
            else:
                ua.start(t)
            events += 1
            self._after_input(i, ua, t)
            if events & 0x3FFF == 0:
                now = time.perf_counter()
                if self.progress and now - last_report >= 3:
                    last_report = now
                    sys.stderr.write("  virtual %5.1f / %d min, registered %5.1f %%, %d events,"
                                     " %.0f s\n" % (t / 60000, end // 60000,
                                                    100.0 * self.registered / self.n, events,
                                                    now - t0))
                    sys.stderr.flush()
            if self.until_registered and self.registered == self.n:
                break
        self.events = events
        self.run_s = time.perf_counter() - t0
        return self


def naive(phones, outage_s, minutes, interval_s=30, capacity=0, rtt_ms=40, boots=None):
    """A naive phone per connect attempt: connect; refused -> try again `interval_s` later;
    else REGISTER (401), REGISTER (200). A 503 from the gate -> again `interval_s` later. No
    jitter, no backoff. Same network timings and gate as the simulation. Returns a dict."""
    outage = int(outage_s * 1000)
    end = int(minutes * 60000)
    step = int(interval_s * 1000)
    nb = end // 1000 + 2
    connects = [0] * nb
    retries = [0] * nb
    registers = [0] * nb
    rejected = [0] * nb
    reg_times = []
    gate = _Gate(capacity)
    heap = [(boots[i] if boots else 0, i, 0) for i in range(phones)]
    heapq.heapify(heap)
    first = bytearray(phones)
    while heap:
        t, i, stage = heapq.heappop(heap)
        if t > end:
            break
        sec = t // 1000
        if stage == 0:
            connects[sec] += 1
            if first[i]:
                retries[sec] += 1
            first[i] = 1
            if t < outage:
                heapq.heappush(heap, (t + rtt_ms + step, i, 0))  # refused after one RTT
            else:
                heapq.heappush(heap, (t + 2 * rtt_ms, i, 1))  # TCP + TLS, then REGISTER
            continue
        registers[sec] += 1
        if not gate.admit(t):
            rejected[sec] += 1
            heapq.heappush(heap, (t + rtt_ms + step, i, 0))
        elif stage == 1:
            heapq.heappush(heap, (t + rtt_ms, i, 2))  # the 401, then the authenticated one
        else:
            reg_times.append(t + rtt_ms)  # the 200 arrives
    return {"connects": connects, "retries": retries, "registers": registers,
            "rejected": rejected, "reg_times": reg_times}


def _peak(bins, lo=0, hi=None):
    hi = len(bins) if hi is None else hi
    best, when = 0, None
    for s in range(lo, min(hi, len(bins))):
        if bins[s] > best:
            best, when = bins[s], s
    return best, when


def summarize(phones, outage_s, connects, retries, registers, rejected, reg_times):
    out_s = int(outage_s)
    total = sum(connects)
    peak, peak_at = _peak(connects)
    rpeak, rpeak_at = _peak(retries)
    apeak, apeak_at = _peak(connects, out_s)
    in_outage = sum(connects[:out_s])
    times = [t for t in reg_times if t is not None]
    pct = _percentile_times(times, phones)
    return {
        "attempts": total,
        "registers": sum(registers),
        "rejected_503": sum(rejected),
        "boot_burst": connects[0],
        "peak": peak, "peak_at_s": peak_at,
        "peak_retry": rpeak, "peak_retry_at_s": rpeak_at,
        "peak_after_recovery": apeak, "peak_after_recovery_at_s": apeak_at,
        "mean_outage": in_outage / out_s if out_s else 0.0,
        "mean_outage_retries": sum(retries[:out_s]) / out_s if out_s else 0.0,
        "registered": len(times),
        "t50_s": None if pct[0.5] is None else pct[0.5] / 1000,
        "t99_s": None if pct[0.99] is None else pct[0.99] / 1000,
        "t100_s": None if pct[1.0] is None else pct[1.0] / 1000,
    }


def run(phones=10000, outage_min=10, minutes=40, seed=1, capacity=0, rtt_ms=40,
        boot_spread_s=0, naive_interval_s=30, progress=False, until_registered=False):
    """Both populations; returns a dict of figures and the per-second series."""
    outage_s = outage_min * 60
    if progress:
        sys.stderr.write("building %d tinysip UserAgents ...\n" % phones)
    sim = Simulation(phones, outage_s, minutes, seed, capacity, rtt_ms, boot_spread_s,
                     progress=progress, until_registered=until_registered)
    sim.build()
    if progress:
        sys.stderr.write("  built in %.1f s; simulating %d min of virtual time\n"
                         % (sim.build_s, minutes))
    sim.run()
    t0 = time.perf_counter()
    nv = naive(phones, outage_s, minutes, naive_interval_s, capacity, rtt_ms, sim.boots)
    naive_s = time.perf_counter() - t0
    ts = summarize(phones, outage_s, sim.connects, sim.retries, sim.registers, sim.rejected,
                   sim.reg_times)
    ts.update({
        "recoveries_checked": sim.recoveries,
        "recoveries_out_of_bounds": len(sim.bad_delays),
        "bad_delays": sim.bad_delays[:20],
        "mean_delay_over_wait": sim.ratio_sum / sim.recoveries if sim.recoveries else None,
        "max_failures": sim.max_failures,
        "registration_failed": {str(k): v for k, v in sorted(sim.fail_status.items())},
        "internal_errors": len(sim.internal_errors),
        "events": sim.events,
    })
    nvs = summarize(phones, outage_s, nv["connects"], nv["retries"], nv["registers"],
                    nv["rejected"], nv["reg_times"])
    return {
        "phones": phones, "outage_min": outage_min, "minutes": minutes, "seed": seed,
        "capacity": capacity, "rtt_ms": rtt_ms, "boot_spread_s": boot_spread_s,
        "naive_interval_s": naive_interval_s,
        "runtime": {"build_s": round(sim.build_s, 2), "simulate_s": round(sim.run_s, 2),
                    "naive_s": round(naive_s, 2)},
        "tinysip": ts, "naive": nvs,
        "series": {
            "tinysip": {"connects": sim.connects, "retries": sim.retries,
                        "registers": sim.registers, "rejected": sim.rejected,
                        "registered_s": sorted(t // 1000 for t in sim.reg_times
                                               if t is not None)},
            "naive": {"connects": nv["connects"], "retries": nv["retries"],
                      "registers": nv["registers"], "rejected": nv["rejected"],
                      "registered_s": sorted(t // 1000 for t in nv["reg_times"])},
        },
    }


def _cumulative(reg_s, n_bins, phones):
    frac = [0.0] * n_bins
    k = 0
    for s in range(n_bins):
        while k < len(reg_s) and reg_s[k] <= s:
            k += 1
        frac[s] = 100.0 * k / phones
    return frac


def plot(res, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ts, nv = res["series"]["tinysip"], res["series"]["naive"]
    n_bins = res["minutes"] * 60 + 1
    x = [s / 60 for s in range(n_bins)]
    fig, ax = plt.subplots(figsize=(11, 5.5), dpi=110)
    ax.axvspan(0, res["outage_min"], color="0.85", zorder=0,
               label="registrar down (%d min)" % res["outage_min"])
    nx = [s / 60 for s in range(n_bins) if nv["connects"][s]]
    ny = [nv["connects"][s] for s in range(n_bins) if nv["connects"][s]]
    ax.vlines(nx, 0.8, ny, color="tab:red", linewidth=1.6, alpha=0.8,
              label="naive: fixed %d s retry, no jitter" % res["naive_interval_s"])
    ty = [v if v else float("nan") for v in ts["connects"][:n_bins]]
    ax.plot(x, ty, color="tab:blue", linewidth=0.6, alpha=0.55,
            label="tinysip: RFC 5626 §4.5 backoff (1 s bins)")
    win = 30  # a 30 s moving mean, the naive period, to read the level
    acc, avg = 0, []
    c = ts["connects"]
    for s in range(n_bins):
        acc += c[s] - (c[s - win] if s >= win else 0)
        avg.append(acc / min(s + 1, win) if s >= 1 else float("nan"))
    ax.plot(x, [a if a > 0 else float("nan") for a in avg], color="navy", linewidth=1.6,
            label="tinysip, 30 s moving mean")
    ax.set_yscale("log")
    ax.set_ylim(0.8, res["phones"] * 3)
    ax.set_xlim(0, res["minutes"])
    ax.set_xlabel("minutes after the restart (virtual time)")
    ax.set_ylabel("connect attempts per second (log)")
    ax.grid(True, which="major", axis="both", alpha=0.3)
    ax2 = ax.twinx()
    ax2.plot(x, _cumulative(ts["registered_s"], n_bins, res["phones"]), color="tab:green",
             linewidth=2.2, label="tinysip registered %")
    ax2.plot(x, _cumulative(nv["registered_s"], n_bins, res["phones"]), color="tab:orange",
             linewidth=2.0, linestyle="--", label="naive registered %")
    ax2.set_ylim(0, 105)
    ax2.set_ylabel("phones registered (%)")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="lower right", fontsize=8.5, framealpha=0.95)
    t, n = res["tinysip"], res["naive"]
    cap = ", registrar serves %d REGISTER/s" % res["capacity"] if res["capacity"] else ""
    ax.set_title("%s phones restart at once, registrar down for the first %d min%s\n"
                 "retry peak: tinysip %d/s, naive %d/s; 99 %% registered at %s (tinysip) vs %s"
                 " (naive)" % (format(res["phones"], ","), res["outage_min"], cap,
                               t["peak_retry"], n["peak_retry"], _mmss(t["t99_s"]),
                               _mmss(n["t99_s"])), fontsize=10.5)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _mmss(s):
    if s is None:
        return "never"
    return "%d:%02d" % (int(s) // 60, int(s) % 60)


def report(res):
    t, n = res["tinysip"], res["naive"]
    lines = [
        "phones %d, registrar down for the first %d min, %d min simulated, seed %d, RTT %d ms%s"
        % (res["phones"], res["outage_min"], res["minutes"], res["seed"], res["rtt_ms"],
           ", capacity %d REGISTER/s" % res["capacity"] if res["capacity"] else
           ", capacity unlimited"),
        "%-44s %14s %14s" % ("", "tinysip", "naive %ds" % res["naive_interval_s"]),
    ]

    def row(label, a, b):
        lines.append("%-44s %14s %14s" % (label, a, b))

    def at(v, s):
        return "%d @%s" % (v, _mmss(s)) if s is not None else "%d" % v

    row("connect attempts, total", t["attempts"], n["attempts"])
    row("REGISTER requests, total", t["registers"], n["registers"])
    row("  of which 503 (capacity)", t["rejected_503"], n["rejected_503"])
    row("boot burst (first second, all phones)", t["boot_burst"], n["boot_burst"])
    row("peak attempts/s (any second) @time", at(t["peak"], t["peak_at_s"]),
        at(n["peak"], n["peak_at_s"]))
    row("peak retries/s (boot excluded) @time", at(t["peak_retry"], t["peak_retry_at_s"]),
        at(n["peak_retry"], n["peak_retry_at_s"]))
    row("peak attempts/s after recovery @time",
        at(t["peak_after_recovery"], t["peak_after_recovery_at_s"]),
        at(n["peak_after_recovery"], n["peak_after_recovery_at_s"]))
    row("mean attempts/s during the outage", "%.1f" % t["mean_outage"],
        "%.1f" % n["mean_outage"])
    row("  retries only (boot excluded)", "%.1f" % t["mean_outage_retries"],
        "%.1f" % n["mean_outage_retries"])
    for k, label in (("t50_s", "50 %"), ("t99_s", "99 %"), ("t100_s", "100 %")):
        row("time to %s registered (mm:ss)" % label, _mmss(t[k]), _mmss(n[k]))
    row("registered at the end", "%d" % t["registered"], "%d" % n["registered"])
    ok = t["recoveries_out_of_bounds"] == 0
    lines.append("§4.5 check: %d flow_recovering delays, %d outside [w/2, w] with w = min(1800 s,"
                 " 30 s * 2^failures) -> %s; mean delay/w %.3f (uniform 50-100 %% gives 0.750);"
                 " failures up to %d" % (t["recoveries_checked"], t["recoveries_out_of_bounds"],
                                        "OK" if ok else "FAIL",
                                        t["mean_delay_over_wait"] or 0, t["max_failures"]))
    if t["registration_failed"]:
        lines.append("registration_failed by status: %s" % t["registration_failed"])
    lines.append("internal_error events: %d" % t["internal_errors"])
    r = res["runtime"]
    lines.append("runtime: %.1f s building the UAs, %.1f s simulating (%d events), %.1f s naive"
                 % (r["build_s"], r["simulate_s"], t["events"], r["naive_s"]))
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--phones", type=int, default=10000)
    ap.add_argument("--outage-min", type=float, default=10)
    ap.add_argument("--minutes", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--capacity", type=int, default=0,
                    help="REGISTER requests/s the registrar serves after recovery; the rest get"
                         " 503 without Retry-After (0: unlimited)")
    ap.add_argument("--rtt-ms", type=int, default=40)
    ap.add_argument("--boot-spread", type=float, default=0,
                    help="phones boot uniformly over this many seconds (0: all at once)")
    ap.add_argument("--naive-interval", type=float, default=30)
    ap.add_argument("--plot", help="write the PNG here")
    ap.add_argument("--json", action="store_true", help="one JSON document on stdout")
    a = ap.parse_args(argv)
    om = a.outage_min if a.outage_min != int(a.outage_min) else int(a.outage_min)
    t0 = time.perf_counter()
    res = run(a.phones, om, a.minutes, a.seed, a.capacity, a.rtt_ms, a.boot_spread,
              a.naive_interval, progress=True)
    if a.plot:
        plot(res, a.plot)
        sys.stderr.write("plot written to %s\n" % a.plot)
    res["runtime"]["total_s"] = round(time.perf_counter() - t0, 1)
    if a.json:
        doc = dict(res)
        doc.pop("series")
        json.dump(doc, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(report(res))
        print("total runtime %.1f s" % res["runtime"]["total_s"])
    bad = res["tinysip"]["recoveries_out_of_bounds"] or res["tinysip"]["internal_errors"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
