"""The userspace netem of host_tests/interop/impair.py: a router between two TUN devices.

Run by ImpairedLink (as root, in the root namespace) with sys.executable; not for tests to
import. It owns the impairment and the ground-truth log, nothing else: the parent makes the
far namespace, moves the far TUN into it and configures addresses and routes.

    impair_router.py NEAR FAR UP_JSON DOWN_JSON SEED LOG_PATH

- Opens NEAR and FAR as TUN devices (IFF_TUN | IFF_NO_PI: raw IP packets, no header), prints
  "ready" on stdout and forwards: a packet read from NEAR (the root side sent it to the far
  address) is "up" and written to FAR; a packet read from FAR is "down" and written to NEAR.
  A TUN fd keeps working after its device moves to another namespace (checked on Linux 6.x),
  so both devices are created here and the parent moves FAR afterwards.
- Impaired packets (IPv4 UDP, or all IPv4 when the profile's udp_only is false) get a delay
  of delay_ms + uniform(-jitter_ms, +jitter_ms), never negative, and are written at their own
  due time (heap ordered by due time, then arrival), so jitter larger than the packet spacing
  reorders them, like netem without a rate. Loss: probability loss_pct, or the Gilbert model
  burst=(p, r) (good->bad p %, bad->good r %, every packet in the bad state lost; the state
  moves first, then the packet is judged; average loss p/(p+r), mean burst 100/r packets).
  Each direction draws loss and delay from two random.Random streams seeded from (seed,
  direction): a run with the same packets is repeatable, and the delay stream advances for
  dropped packets too, so with a given seed the delays do not depend on the loss settings.
- Everything else (TCP and ICMP with udp_only, IPv6, anything unparsable) is written at once,
  in order, and not logged.
- Log: JSON lines. First {"type": "config", ...}; then for every UDP (or impaired) packet
  {"type": "pkt", "dir": "up"|"down", "t_us": arrival (time.monotonic_ns() // 1000),
  "delay_us": applied delay or null when dropped, "proto", "src", "dst" (ports), "size" (UDP
  payload bytes), "probe": the 32-bit index after b"TSLP" at UDP payload offset 12
  (rtploopback / plain RTP) or 24 (encaprtp), else null, "rtp": [sequence number,
  timestamp] of a payload that reads as an RTP header (version 2, a payload type outside
  RTCP's 64-95, 12 bytes or more; SRTP's header is in clear too), else null}; last
  {"type": "stats", ...} with
  per-direction counts and how late packets left against their due time. The file is flushed
  whenever the router goes idle, so it can be read while the link runs.
- Stops on EOF on stdin (the parent closed it or died), SIGTERM or SIGINT; packets still
  queued then are not delivered (counted as "undelivered" in the stats line).
"""
import ctypes
import fcntl
import heapq
import json
import os
import random
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
PR_SET_TIMERSLACK = 29
MAGIC = b"TSLP"
PROBE_OFFSETS = (12, 24)
MAX_PKT = 65536


class Stop(Exception):
    pass


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    except OSError as e:
        os.close(fd)
        raise OSError(e.errno, "impair_router: cannot create TUN %s: %s" % (name, e.strerror))
    os.set_blocking(fd, False)
    return fd


def parse(pkt):
    """(proto, src_port, dst_port, udp_payload_size, probe) of an IPv4 packet, or None."""
    if len(pkt) < 20 or pkt[0] >> 4 != 4:
        return None
    ihl = (pkt[0] & 15) * 4
    proto = pkt[9]
    frag_off = ((pkt[6] & 0x1F) << 8) | pkt[7]
    if proto != 17:
        return ("tcp" if proto == 6 else "icmp" if proto == 1 else str(proto)), None, None, None, None
    if frag_off or len(pkt) < ihl + 8:  # a later fragment: no UDP header
        return "udp", None, None, None, None
    src, dst, ulen = struct.unpack_from("!HHH", pkt, ihl)
    payload = pkt[ihl + 8:]
    probe = None
    for off in PROBE_OFFSETS:
        if payload[off:off + 4] == MAGIC and len(payload) >= off + 8:
            probe = struct.unpack_from("!I", payload, off + 4)[0]
            break
    return "udp", src, dst, max(ulen - 8, 0), probe


def rtp_fields(pkt):
    """[sequence number, timestamp] of the RTP header in an IPv4 UDP packet, or None."""
    ihl = (pkt[0] & 15) * 4
    u = ihl + 8
    if len(pkt) < u + 12 or pkt[u] >> 6 != 2 or 64 <= pkt[u + 1] & 0x7F <= 95:
        return None
    seq, ts = struct.unpack_from("!HI", pkt, u + 2)
    return [seq, ts]


class Direction:
    """The impairment of one direction: loss (random or Gilbert) and delay, seeded."""

    def __init__(self, name, prof, seed):
        self.name = name
        self.delay_us = float(prof.get("delay_ms", 0)) * 1000.0
        self.jitter_us = float(prof.get("jitter_ms", 0)) * 1000.0
        self.loss = float(prof.get("loss_pct", 0)) / 100.0
        burst = prof.get("burst")
        self.burst = (float(burst[0]) / 100.0, float(burst[1]) / 100.0) if burst else None
        self.udp_only = bool(prof.get("udp_only", True))
        self.loss_rng = random.Random("tinysip-impair/%s/%d/loss" % (name, seed))
        self.delay_rng = random.Random("tinysip-impair/%s/%d/delay" % (name, seed))
        self.bad = False
        self.seen = self.dropped = self.passed = self.undelivered = 0
        self.late_max_us = self.late_sum_us = self.late_n = 0

    def impaired(self, proto):
        return proto == "udp" or not self.udp_only

    def decide(self):
        """Applied delay in µs (int) for the next impaired packet, or None to drop it."""
        rng = self.loss_rng
        if self.burst:
            p, r = self.burst
            if self.bad:
                if rng.random() < r:
                    self.bad = False
            elif rng.random() < p:
                self.bad = True
            lost = self.bad
        else:
            lost = self.loss > 0 and rng.random() < self.loss
        delay = self.delay_us
        if self.jitter_us:
            delay += self.delay_rng.uniform(-self.jitter_us, self.jitter_us)
        self.seen += 1
        if lost:
            self.dropped += 1
            return None
        return max(0, int(round(delay)))

    def stats(self):
        return {"seen": self.seen, "dropped": self.dropped, "passed": self.passed,
                "undelivered": self.undelivered, "late_max_us": self.late_max_us,
                "late_mean_us": (self.late_sum_us / self.late_n) if self.late_n else None}


def set_timer_slack_ns(ns):
    """Ask the kernel for tight select() wake-ups (default slack is 50 µs); best effort."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_TIMERSLACK, ctypes.c_ulong(ns), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def run(near, far, up, down, seed, log_path):
    fds = {}
    log = open(log_path, "w")
    try:
        fds["near"] = open_tun(near)
        fds["far"] = open_tun(far)
        dirs = {"up": Direction("up", up, seed), "down": Direction("down", down, seed)}
        route = {fds["near"]: (dirs["up"], fds["far"]), fds["far"]: (dirs["down"], fds["near"])}
        log.write(json.dumps({"type": "config", "near": near, "far": far, "up": up,
                              "down": down, "seed": seed}) + "\n")
        log.flush()

        def stop(signum, frame):
            raise Stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        set_timer_slack_ns(1000)
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        stdin = sys.stdin.fileno()
        queue = []  # (due_ns, order, direction, out_fd, packet)
        order = 0
        dirty = False
        watch = [stdin, fds["near"], fds["far"]]
        try:
            while True:
                now = time.monotonic_ns()
                while queue and queue[0][0] <= now:
                    due, _, d, out, pkt = heapq.heappop(queue)
                    write(out, pkt)
                    now = time.monotonic_ns()
                    late = (now - due) // 1000
                    d.late_n += 1
                    d.late_sum_us += late
                    if late > d.late_max_us:
                        d.late_max_us = late
                if queue:
                    timeout = max(0.0, (queue[0][0] - time.monotonic_ns()) / 1e9)
                else:
                    timeout = None
                if dirty and (timeout is None or timeout > 0.0005):
                    log.flush()
                    dirty = False
                ready = select.select(watch, [], [], timeout)[0]
                for fd in ready:
                    if fd == stdin:
                        if not os.read(stdin, 4096):
                            raise Stop()
                        continue
                    d, out = route[fd]
                    while True:
                        try:
                            pkt = os.read(fd, MAX_PKT)
                        except BlockingIOError:
                            break
                        t_ns = time.monotonic_ns()
                        info = parse(pkt)
                        if info is None or not d.impaired(info[0]):
                            d.passed += 1
                            write(out, pkt)
                            continue
                        delay = d.decide()
                        log.write(json.dumps({
                            "type": "pkt", "dir": d.name, "t_us": t_ns // 1000, "delay_us": delay,
                            "proto": info[0], "src": info[1], "dst": info[2], "size": info[3],
                            "probe": info[4],
                            "rtp": rtp_fields(pkt) if info[1] is not None else None}) + "\n")
                        dirty = True
                        if delay is None:
                            continue
                        if delay == 0 and not queue:
                            write(out, pkt)
                            continue
                        order += 1
                        heapq.heappush(queue, (t_ns + delay * 1000, order, d, out, pkt))
        except Stop:
            pass
        for _, _, d, _, _ in queue:
            d.undelivered += 1
        log.write(json.dumps({"type": "stats", "up": dirs["up"].stats(),
                              "down": dirs["down"].stats()}) + "\n")
    finally:
        log.close()
        for fd in fds.values():
            os.close(fd)


def write(fd, pkt):
    try:
        os.write(fd, pkt)
    except OSError:
        pass  # like a full queue on a real link: the packet is lost (EIO while a device is down)


def main(argv):
    if len(argv) != 7:
        sys.stderr.write(__doc__)
        return 2
    near, far, up, down, seed, log_path = argv[1:]
    try:
        run(near, far, json.loads(up), json.loads(down), int(seed), log_path)
    except OSError as e:
        sys.stderr.write("%s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
