"""The impairment link (impair.py, impair_router.py) against its own log and its profiles.

A UDP echo in the far namespace stamps each probe with its receive time (the same
CLOCK_MONOTONIC as the root side: netns do not separate clocks), so the client measures the
forward and return delay of every probe separately. For each profile: the set of probes the
echo got and the client got back is exactly what the log says survived, no probe arrives
before its logged delay (and not much after), the echoes come back in the order the log
predicts (jitter reorders them), the RFC 3550 jitter of the round trip matches truth(), and
the logged delays and losses fit the configured profile within statistical bounds. TCP is not
delayed, and nothing is left behind after close().

Needs root, /dev/net/tun and `ip netns`: skipped otherwise, failed with CI=true. The unit
tests of the impairment model itself (no root) always run. ~35 s.
"""
# mpy: skip
import math
import select
import shutil
import socket
import struct
import subprocess
import sys
import time

import pytest

import impair_router
from conftest import peer_unavailable
from impair import (ImpairedLink, ImpairError, Profile, loss_bursts, read_log, rfc3550_jitter,
                    truth)

N = 2000
SPACING_NS = 5_000_000
PORT = 40000
SIZE = 172  # an RTP packet of 20 ms G.711
ORDER_SLACK_US = 1000  # see the order check in measure()

# UDP echo (and a TCP echo) for the far namespace. argv: port, file for the received indices.
# A UDP reply keeps the probe's bytes but puts the echo's receive time (monotonic ns) at 20;
# the file gets "index time" per probe, so forward delays are known for lost echoes too.
ECHO = r"""
import socket, struct, sys, threading, time
port = int(sys.argv[1])
seen = open(sys.argv[2], "w")
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # listening before "ready" is said
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", port)); ls.listen(4)
def tcp():
    while True:
        c, _ = ls.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            d = c.recv(4096)
            if not d:
                break
            c.sendall(d)
        c.close()
threading.Thread(target=tcp, daemon=True).start()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", port))
print("ready", flush=True)
while True:
    d, a = s.recvfrom(4096)
    t = time.monotonic_ns()
    if len(d) >= 28 and d[12:16] == b"TSLP":
        d = d[:20] + struct.pack("!Q", t) + d[28:]
        seen.write("%d %d\n" % (struct.unpack_from("!I", d, 16)[0], t)); seen.flush()
    s.sendto(d, a)
"""


def probe(i):
    hdr = struct.pack("!BBHII", 0x80, 0, i & 0xFFFF, i * 160, 0x5453)
    return hdr + b"TSLP" + struct.pack("!I", i) + bytes(SIZE - 20)


def need_link():
    ok, why = ImpairedLink.available()
    if not ok:
        peer_unavailable("impairment link unavailable: %s" % why)


def start_echo(link, tmp_path):
    seen = str(tmp_path / "echo-seen.txt")
    p = link.popen([sys.executable, "-c", ECHO, str(PORT), seen], stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line.strip() == "ready", "echo in the far namespace did not start: %s" % p.stderr.read()
    return p, seen


def run_probes(link, tail_s):
    """Send N stamped probes at 5 ms to the far echo; return sent/echo/back times (ns)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.setblocking(False)
    dest = (link.far_ip, PORT)
    sent, echo_at, back_at, order = {}, {}, {}, []
    t0 = time.monotonic_ns() + 20_000_000
    i = 0
    end = None
    try:
        while True:
            now = time.monotonic_ns()
            if i < N and now >= t0 + i * SPACING_NS:
                sent[i] = time.monotonic_ns()
                s.sendto(probe(i), dest)
                i += 1
                if i == N:
                    end = time.monotonic_ns() + int(tail_s * 1e9)
                continue
            wake = t0 + i * SPACING_NS if i < N else end
            if now >= wake and i >= N:
                break
            if select.select([s], [], [], max(0, wake - now) / 1e9)[0]:
                while True:
                    try:
                        d = s.recv(4096)
                    except BlockingIOError:
                        break
                    t = time.monotonic_ns()
                    idx = struct.unpack_from("!I", d, 16)[0]
                    echo_at[idx] = struct.unpack_from("!Q", d, 20)[0]
                    back_at[idx] = t
                    order.append(idx)
    finally:
        s.close()
    return sent, echo_at, back_at, order


def percentile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def measure(tmp_path, name, subnet, up, down, seed=7, tcp_check=False):
    """Run the probe stream through a link; check measurements against the log; return both."""
    log_path = str(tmp_path / ("%s.jsonl" % name))
    tail = (up.delay_ms + up.jitter_ms + down.delay_ms + down.jitter_ms) / 1000.0 + 0.5
    with ImpairedLink(name=name, subnet=subnet, up=up, down=down, seed=seed,
                      log_path=log_path) as link:
        echo, seen_path = start_echo(link, tmp_path)
        tcp_rtts = tcp_round_trips(link) if tcp_check else None
        sent, echo_at, back_at, order = run_probes(link, tail)
        with open(seen_path) as f:  # index and receive time (ns) of every probe the echo got
            echo_seen = dict(tuple(int(x) for x in line.split()) for line in f)
        assert all(echo_seen[i] == t for i, t in echo_at.items()), "echo stamps disagree"
        echo_at = echo_seen
    assert echo.poll() is not None, "close() left the far echo running"
    assert_clean(link)
    log = read_log(log_path)
    tr = truth(log, up_port=PORT)
    probes, summ = tr["probes"], tr["summary"]
    stats = [r for r in log if r["type"] == "stats"][0]

    # the log saw every probe, and exactly the survivors arrived
    assert summ["sent"] == N and summ["duplicates"] == 0, summ
    assert summ["not_echoed"] == 0, summ
    assert set(echo_seen) == {i for i, p in probes.items() if not p["dropped_forward"]}
    assert set(back_at) == {i for i, p in probes.items() if p["rtt_ms"] is not None}
    assert len(order) == len(back_at), "an echo came back twice"
    assert stats["up"]["undelivered"] == 0 and stats["down"]["undelivered"] == 0, stats

    # nobody is early, and nobody much late, on either leg
    fwd_excess = [(echo_at[i] - sent[i]) / 1e6 - probes[i]["fwd_ms"] for i in echo_seen]
    ret_excess = [(back_at[i] - echo_at[i]) / 1e6 - probes[i]["ret_ms"] for i in back_at]
    for label, ex in (("forward", fwd_excess), ("return", ret_excess)):
        assert min(ex) >= -0.002, "%s: a probe arrived %.3f ms before its logged delay" % (
            label, -min(ex))
        assert percentile(ex, 0.5) < 2.0, "%s: median excess %.2f ms" % (label, percentile(ex, 0.5))
        assert percentile(ex, 0.95) < 8.0, "%s: p95 excess %.2f ms" % (label, percentile(ex, 0.95))

    # the echoes come back in the order the log predicts (delivery at t_us + delay_us)
    # Two echoes the router releases within a scheduler tick of each other may leave it
    # swapped (CI saw one pair 0.1 ms apart do so), so an inversion is allowed only between
    # packets whose logged delivery times are closer than ORDER_SLACK_US; any wider one fails.
    predicted = [i for _, i in sorted((p["back_us"], i) for i, p in probes.items()
                                      if p["back_us"] is not None)]
    assert sorted(order) == sorted(predicted), "the echoes that came back differ from the log"
    latest = None  # the latest logged delivery time among the echoes seen so far
    for i in order:
        due = probes[i]["back_us"]
        if latest is not None:
            assert due >= latest[0] - ORDER_SLACK_US, (
                "echo %d (due %d us) arrived after echo %d (due %d us): the arrival order "
                "differs from the log's delivery order" % (i, due, latest[1], latest[0]))
        if latest is None or due > latest[0]:
            latest = (due, i)
    swaps = sum(1 for a, b in zip(order, predicted) if a != b)
    assert swaps <= len(order) // 50, "%d echoes out of the log's order" % swaps

    # the client's RFC 3550 jitter of the measured RTT matches the link's, within what the
    # host's scheduling adds to a user-space measurement (a clean-clone run on the 2-CPU
    # guest measured 1.23 ms on a jitter-free link, session 23: 2 ms, still well under the
    # jitter profiles' few ms)
    measured = [(back_at[i] - sent[i]) / 1e6 for i in order]
    j_meas = rfc3550_jitter(measured)
    assert abs(j_meas - summ["jitter_ms"]) < 2.0, (j_meas, summ["jitter_ms"])
    rtt_meas = sum(measured) / len(measured)
    assert summ["rtt_mean_ms"] <= rtt_meas < summ["rtt_mean_ms"] + 3.0, (rtt_meas, summ)

    # the link's mean |D| (what RFC 3550 jitter tends to) fits a simulation of the profiles
    exp = expected_ipdv(up, down)
    assert abs(summ["ipdv_mean_ms"] - exp) < 0.4, (summ, exp)

    # the logged delays fit the profiles
    for prof, key in ((up, "fwd_ms"), (down, "ret_ms")):
        ds = [p[key] for p in probes.values() if p[key] is not None]
        lo, hi = max(0.0, prof.delay_ms - prof.jitter_ms), prof.delay_ms + prof.jitter_ms
        assert lo - 0.001 <= min(ds) and max(ds) <= hi + 0.001, (key, min(ds), max(ds), prof)
        sd = prof.jitter_ms / math.sqrt(3)
        assert abs(sum(ds) / len(ds) - prof.delay_ms) <= 5 * sd / math.sqrt(len(ds)) + 0.001, key
        if prof.jitter_ms:  # spread like a uniform distribution
            mean = sum(ds) / len(ds)
            sd_obs = math.sqrt(sum((d - mean) ** 2 for d in ds) / len(ds))
            assert abs(sd_obs - sd) < 0.1 * sd, (key, sd_obs, sd)
    return tr, {"sent": sent, "echo_at": echo_at, "back_at": back_at, "order": order,
                "tcp_rtts": tcp_rtts, "log": log}


def tcp_round_trips(link, n=20):
    c = socket.create_connection((link.far_ip, PORT), timeout=5)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rtts = []
    try:
        for i in range(n):
            t = time.monotonic_ns()
            c.sendall(b"ping%04d" % i)
            got = b""
            while len(got) < 8:
                got += c.recv(64)
            rtts.append((time.monotonic_ns() - t) / 1e6)
    finally:
        c.close()
    return rtts


def assert_clean(link):
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert link.ns not in ns.split(), "namespace %s left behind" % link.ns
    for dev in (link.near_dev, link.far_dev):
        r = subprocess.run(["ip", "link", "show", "dev", dev], capture_output=True)
        assert r.returncode != 0, "TUN %s left behind" % dev


def expected_ipdv(up, down, n=100000, seed=99):
    """Mean |D| of the round-trip transit, in arrival order, simulated for the profiles."""
    import random
    rng = random.Random(seed)
    arrivals = []
    for i in range(n):
        t = sum(max(0.0, p.delay_ms + rng.uniform(-p.jitter_ms, p.jitter_ms)) for p in (up, down))
        arrivals.append((i * SPACING_NS / 1e6 + t, t))
    arrivals.sort()
    return sum(abs(b[1] - a[1]) for a, b in zip(arrivals, arrivals[1:])) / (n - 1)


def loss_within(observed_pct, prof, n, inflation=1.0):
    """|observed - expected| within 4 sigma of a binomial (times a burst variance inflation)."""
    p = prof.expected_loss_pct() / 100.0
    sigma = math.sqrt(p * (1 - p) * inflation / n) * 100.0
    return abs(observed_pct - 100.0 * p) <= 4 * sigma + 0.05


# -- the model alone (no root) ------------------------------------------------------------

def test_profile_validation():
    with pytest.raises(ValueError):
        Profile(delay_ms=-1)
    with pytest.raises(ValueError):
        Profile(loss_pct=101)
    with pytest.raises(ValueError):
        Profile(loss_pct=1, burst=(1, 50))
    with pytest.raises(ValueError):
        Profile(burst=(0, 50))
    assert Profile(burst=(2, 30)).expected_loss_pct() == pytest.approx(100 * 2 / 32)
    with pytest.raises(ValueError):
        ImpairedLink(name="much-too-long-name")
    with pytest.raises(ValueError):
        ImpairedLink(subnet="10.0.0.0")


def test_direction_is_reproducible_and_loss_independent_of_delays():
    prof = Profile(delay_ms=10, jitter_ms=4, loss_pct=5).to_dict()
    da = impair_router.Direction("up", prof, 3)
    db = impair_router.Direction("up", prof, 3)
    a = [da.decide() for _ in range(5000)]
    assert a == [db.decide() for _ in range(5000)]
    other = impair_router.Direction("down", prof, 3)
    assert a != [other.decide() for _ in range(5000)], "directions share a random stream"
    noloss = impair_router.Direction("up", Profile(delay_ms=10, jitter_ms=4).to_dict(), 3)
    b = [noloss.decide() for _ in range(5000)]
    assert all(x == y for x, y in zip(a, b) if x is not None), "loss changed the delays"
    assert all(6000 <= x <= 14000 for x in b)


def test_direction_clamps_negative_delays():
    d = impair_router.Direction("up", Profile(delay_ms=1, jitter_ms=5).to_dict(), 1)
    got = [d.decide() for _ in range(2000)]
    assert min(got) == 0 and max(got) <= 6000


def test_gilbert_average_and_bursts():
    prof = Profile(burst=(2, 25))
    d = impair_router.Direction("up", prof.to_dict(), 11)
    drops = [d.decide() is None for _ in range(200000)]
    assert abs(100.0 * sum(drops) / len(drops) - prof.expected_loss_pct()) < 0.5
    runs = loss_bursts(drops)
    assert abs(sum(runs) / len(runs) - 100 / 25) < 0.3  # mean burst 1/r packets
    rnd = impair_router.Direction("up", Profile(loss_pct=7.4).to_dict(), 11)
    runs = loss_bursts([rnd.decide() is None for _ in range(200000)])
    assert sum(runs) / len(runs) < 1.2  # independent loss: bursts of ~1/(1-p)


def test_parse_probe_offsets():
    def ip_udp(payload, sport=1000, dport=2000):
        udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
        return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                           b"\x0a\0\0\1", b"\x0a\0\0\2") + udp

    rtp = bytes(12) + b"TSLP" + struct.pack("!I", 77) + bytes(8)
    encap = bytes(12) + rtp
    assert impair_router.parse(ip_udp(rtp)) == ("udp", 1000, 2000, len(rtp), 77)
    assert impair_router.parse(ip_udp(encap)) == ("udp", 1000, 2000, len(encap), 77)
    assert impair_router.parse(ip_udp(bytes(40)))[4] is None
    assert impair_router.parse(b"\x60" + bytes(39)) is None  # IPv6: not impaired
    hdr = struct.pack("!BBHI", 0x80, 0, 513, 70000) + bytes(4)
    assert impair_router.rtp_fields(ip_udp(hdr + bytes(160))) == [513, 70000]
    assert impair_router.rtp_fields(ip_udp(struct.pack("!BB", 0x80, 200) + bytes(30))) is None
    assert impair_router.rtp_fields(ip_udp(bytes(40))) is None  # version 0


def test_truth_summary_from_a_made_up_log():
    def pkt(d, t, delay, idx, src, dst):
        return {"type": "pkt", "dir": d, "t_us": t, "delay_us": delay, "proto": "udp",
                "src": src, "dst": dst, "size": 160, "probe": idx}

    log = [pkt("up", 0, 10000, 0, 5, 9), pkt("up", 5000, None, 1, 5, 9),
           pkt("up", 10000, 14000, 2, 5, 9), pkt("down", 10100, 10000, 0, 9, 5),
           pkt("down", 24100, None, 2, 9, 5), pkt("up", 15000, 6000, 3, 5, 9),
           pkt("down", 21100, 6000, 3, 9, 5), pkt("up", 20000, 10000, 4, 5, 9),
           pkt("down", 30100, 10000, 4, 9, 5), pkt("up", 1, 1, 99, 6, 8)]
    tr = truth(log, up_port=9)
    s = tr["summary"]
    assert (s["sent"], s["returned"], s["dropped_forward"], s["dropped_return"]) == (5, 3, 1, 1)
    assert s["loss_pct"] == 40.0 and s["loss_forward_pct"] == 20.0
    assert s["loss_return_pct"] == 25.0
    assert tr["probes"][2]["dropped_return"] and tr["probes"][1]["dropped_return"] is None
    assert tr["probes"][3]["rtt_ms"] == 12.0 and s["rtt_mean_ms"] == pytest.approx(52 / 3)
    # arrival order at the root side: 0 (20.1 ms), 3 (27.1), 4 (40.1); transits 20, 12, 20
    assert s["reordered"] == 0
    assert s["jitter_ms"] == pytest.approx((8 / 16) + (8 - 8 / 16) / 16)
    assert s["ipdv_mean_ms"] == 8.0


# -- the real link (root) -----------------------------------------------------------------

def test_fixed_delay_no_loss_and_tcp_unimpaired(tmp_path):
    need_link()
    up = down = Profile(delay_ms=20)
    tr, m = measure(tmp_path, "tsibfix", "10.219.1", up, down, tcp_check=True)
    s = tr["summary"]
    assert s["loss_pct"] == 0 and s["returned"] == N
    assert all(p["fwd_ms"] == 20.0 and p["ret_ms"] == 20.0 for p in tr["probes"].values())
    assert s["jitter_ms"] == 0 and s["reordered"] == 0
    assert m["order"] == sorted(m["order"])
    # TCP went through at once: nowhere near the 40 ms a delayed round trip would take
    assert sorted(m["tcp_rtts"])[len(m["tcp_rtts"]) // 2] < 10.0, m["tcp_rtts"]
    assert not [r for r in m["log"] if r.get("proto") == "tcp"]
    stats = [r for r in m["log"] if r["type"] == "stats"][0]
    assert stats["up"]["passed"] > 0 and stats["down"]["passed"] > 0


def test_jitter_and_random_loss(tmp_path):
    need_link()
    up = down = Profile(delay_ms=10, jitter_ms=4, loss_pct=1)
    tr, m = measure(tmp_path, "tsibjit", "10.219.2", up, down)
    s = tr["summary"]
    assert loss_within(s["loss_forward_pct"], up, N), s
    assert loss_within(s["loss_return_pct"], down, N - s["dropped_forward"]), s
    assert 0 < s["dropped_forward"] and 0 < s["dropped_return"]
    assert s["reordered"] > 0, "±4 ms jitter at 5 ms spacing must reorder some probes"
    # the RFC 3550 jitter (a 1/16 running average: sd ~0.6 ms here) fits the simulated mean |D|
    exp = expected_ipdv(up, down)
    assert abs(s["jitter_ms"] - exp) < 2.5, (s, exp)
    assert abs(s["rtt_mean_ms"] - 20.0) < 0.3, s


def test_bursty_loss(tmp_path):
    need_link()
    up = Profile(delay_ms=15, jitter_ms=1, burst=(2, 30))
    down = Profile(delay_ms=5, burst=(1, 40))
    tr, m = measure(tmp_path, "tsibbur", "10.219.3", up, down)
    s, probes = tr["summary"], tr["probes"]
    # Gilbert loss is correlated: variance x (1 + rho) / (1 - rho), rho = 1 - p - r
    infl_up = (2 - 0.32) / 0.32
    infl_down = (2 - 0.41) / 0.41
    assert loss_within(s["loss_forward_pct"], up, N, infl_up), s
    assert loss_within(s["loss_return_pct"], down, N - s["dropped_forward"], infl_down), s
    runs = loss_bursts([probes[i]["dropped_forward"] for i in range(N)])
    assert sum(runs) / len(runs) > 2.0, "forward losses are not bursty: %r" % runs
    # the client saw the same bursts: its missing indices are exactly the log's
    missing = [i not in m["back_at"] for i in range(N)]
    lost = [probes[i]["rtt_ms"] is None for i in range(N)]
    assert missing == lost


def test_stale_namespace_and_tun_are_replaced(tmp_path):
    need_link()
    name = "tsibold"
    subprocess.run(["ip", "netns", "add", name + "-far"], check=True)
    subprocess.run(["ip", "tuntap", "add", "dev", name + "0", "mode", "tun"], check=True)
    try:
        with ImpairedLink(name=name, subnet="10.219.4", log_path=str(tmp_path / "l.jsonl"),
                          up=Profile(delay_ms=1)) as link:
            out = subprocess.run(link.wrap(["ip", "-o", "addr", "show", "dev", link.far_dev]),
                                 capture_output=True, text=True, check=True).stdout
            assert link.far_ip in out
            if shutil.which("ping"):  # ICMP crosses the link too
                r = subprocess.run(link.wrap(["ping", "-c", "1", "-W", "2", link.near_ip]),
                                   capture_output=True, text=True)
                assert r.returncode == 0, r.stdout + r.stderr
        assert_clean(link)
    finally:
        subprocess.run(["ip", "netns", "del", name + "-far"], capture_output=True)
        subprocess.run(["ip", "link", "del", "dev", name + "0"], capture_output=True)


def test_router_failure_is_reported_and_cleaned(tmp_path):
    need_link()
    name = "tsibbad"
    link = ImpairedLink(name=name, subnet="10.219.5", log_path="/nonexistent-dir/x.jsonl")
    with pytest.raises(ImpairError) as e:
        link.open()
    assert "impair_router" in str(e.value)
    assert_clean(link)
