"""loopcall: place a diagnostic loopback call (RFC 6849 + Answer-Mode: Auto) and measure the path.

    python tools/loopcall --target sip:phone1@lab.test --proxy sips:127.0.0.1:15061 \\
        --user tester --password testpw --ca .lab/pki/ca.der [--duration 10] [--json F] [--plot F.png]

The SIP side is tinysip's own core (lib/): the tool registers as --user over a TLS (or TCP)
outbound flow to --proxy (digest on 401/407), so the proxy can reach it for the call's
in-dialog requests, calls --target (an AoR or a GRUU), streams RTP at the codec pace, reads
the mirrored packets in either loopback mode and prints a live line, then the report.
Exit status: 0 measured, 1 the call was set up but no usable media came back, 2 the call or
registration failed or an option is wrong.
"""
import argparse
import json
import os
import socket
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
for p in (os.path.join(ROOT, "lib"), os.path.join(ROOT, "tools")):
    if p not in sys.path:
        sys.path.insert(0, p)

from loopcall import report  # noqa: E402
from tinysip.config import Config, ConfigError, ca_der  # noqa: E402
from tinysip.instance import instance_urn  # noqa: E402
from tinysip.io.clock import Clock  # noqa: E402
from tinysip.io.driver import Driver  # noqa: E402
from tinysip.io.loopcall import CODECS, MODES, Loopcall, LoopcallError  # noqa: E402
from tinysip.ua import UserAgent  # noqa: E402


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="loopcall", description=__doc__.split("\n")[0])
    ap.add_argument("--target", required=True, help="AoR or GRUU of the phone to test")
    ap.add_argument("--proxy", required=True,
                    help="outbound proxy URI, e.g. sips:proxy.example.net or "
                         "sip:10.0.0.1:5060;transport=tcp")
    ap.add_argument("--user", required=True, help="digest user name (also the AoR's user)")
    ap.add_argument("--password", required=True)
    ap.add_argument("--aor", help="our AoR (default sip:USER@<target's domain>)")
    ap.add_argument("--ca", help="CA certificate (DER or PEM) the proxy's TLS certificate "
                                 "must chain to (required for TLS)")
    ap.add_argument("--server-name", help="TLS name to verify (default: the proxy host)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of media (10)")
    ap.add_argument("--interval", type=int, default=20, help="packet interval in ms (20)")
    ap.add_argument("--codec", default="PCMA", choices=sorted(CODECS))
    ap.add_argument("--mode", default="encaprtp", choices=sorted(MODES),
                    help="rtp-pkt-loopback with encaprtp (default; loss per direction) or "
                         "rtploopback, or rtp-media-loopback (media)")
    ap.add_argument("--require", action="store_true", help="send Answer-Mode: Auto;require")
    ap.add_argument("--media-ip", help="our RTP address for the offer (default: the address "
                                       "that routes to the proxy)")
    ap.add_argument("--media-port", type=int, default=41000, help="first RTP port to try")
    ap.add_argument("--answer-timeout", type=float, default=30.0, metavar="S")
    ap.add_argument("--media-timeout", type=float, default=5.0, metavar="S",
                    help="fail when no mirrored packet came back within S seconds")
    ap.add_argument("--json", metavar="FILE", help="write the results as JSON ('-': stdout)")
    ap.add_argument("--plot", metavar="FILE.png", help="draw RTT and jitter over time")
    ap.add_argument("--quiet", action="store_true", help="no live line and no events")
    ap.add_argument("--events", action="store_true", help="print every SIP event")
    return ap.parse_args(argv)


class OptionError(Exception):
    """A command-line option is wrong; str() names it."""


def local_ip_towards(host):
    """The local address the kernel would use to reach host (no packet is sent)."""
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.connect((host, 9))
            return s.getsockname()[0]
        finally:
            s.close()
    except OSError:
        return "127.0.0.1"


def build(args):
    """(UserAgent settings, CA DER) from the options; OptionError names the option."""
    target = args.target
    domain = target.split("@", 1)[-1].split(";")[0].split(">")[0]
    cfg = {
        "aor": args.aor or "sip:%s@%s" % (args.user, domain.split(":")[0]),
        "auth": {"username": args.user, "password": args.password},
        "outbound": [args.proxy],
        "mac": "02:%02x:%02x:%02x:%02x:%02x" % tuple(os.urandom(5)),
        "expires": 300,
        "user_agent": "tinysip-loopcall/1",
        "call": {"ring_timeout": max(1, int(args.answer_timeout))},
    }
    if args.ca:
        cfg["tls"] = {"ca": args.ca}
    if args.server_name:
        cfg.setdefault("tls", {})["server_name"] = args.server_name
    try:
        settings = Config(cfg)
    except ConfigError as e:
        text = str(e)
        for key, opt in (("outbound[0]", "--proxy"), ("tls.ca", "--ca"), ("aor", "--aor"),
                         ("auth.username", "--user"), ("auth.password", "--password"),
                         ("tls.server_name", "--server-name")):
            text = text.replace("config key '%s'" % key, opt)
        raise OptionError(text)
    ca = None
    if args.ca:
        try:
            with open(args.ca, "rb") as f:
                ca = ca_der(f.read(), "--ca")
        except OSError as e:
            raise OptionError("--ca: cannot read %s: %s" % (args.ca, e.strerror))
        except ConfigError as e:
            raise OptionError(str(e).replace("config key '--ca'", "--ca"))
    return settings, ca


def main(argv=None):
    args = parse_args(argv)
    out = sys.stderr
    try:
        settings, ca = build(args)
    except OptionError as e:
        print("loopcall: %s" % e, file=out)
        return 2
    media_ip = args.media_ip or local_ip_towards(settings.proxies[0].host)
    ua = UserAgent(settings, instance_urn(settings.mac), os.urandom)
    clock = Clock()

    def on_event(e):
        if args.events and not args.quiet:
            print("  event %s" % json.dumps(e.fields()), file=out)

    live = sys.stderr.isatty() and not args.quiet

    def on_progress(el, sent, received, rtt):
        line = report.progress(el, args.duration, sent, received, rtt)
        if live:
            out.write("\r" + line)
            out.flush()
        elif not args.quiet:
            print(line, file=out)

    driver = Driver(ua, clock, ca, on_event)
    try:
        run = Loopcall(ua, driver, args.target, args.duration, args.interval, args.mode,
                       args.codec, args.require, media_ip, args.media_port,
                       args.answer_timeout, args.media_timeout,
                       series=bool(args.plot or args.json), on_progress=on_progress)
    except LoopcallError as e:
        print("loopcall: --%s" % e, file=out)
        return 2
    meta = {"target": args.target, "proxy": args.proxy, "mode": args.mode, "codec": args.codec,
            "interval_ms": args.interval, "duration_s": args.duration, "media_ip": media_ip}
    if not args.quiet:
        print("loopcall: registering %s via %s ..." % (settings.aor.to_bytes().decode(),
                                                       args.proxy), file=out)
    ua.start(clock.now())
    status = 0
    summary = None
    try:
        try:
            summary = run.run()
        except LoopcallError as e:
            if live:
                out.write("\n")
            print("loopcall: %s" % e, file=out)
            status = 1 if "no media" in str(e) else 2
    except KeyboardInterrupt:
        print("\nloopcall: interrupted", file=out)
        status = 2
    finally:
        ua.stop(clock.now())
        t0 = clock.now()
        while not ua.idle() and clock.now() - t0 < 3000:
            driver.step(100)
        driver.pump()
        for conn in list(driver.conns):
            driver.close(conn)
    if summary is None:
        return status
    if live:
        out.write("\n")
    src = run.source
    meta["timing"] = run.port.timing() if run.port is not None else None
    print(report.table(summary, meta))
    if args.json:
        report.write_json(args.json, summary, meta, src.series, _lost(src), meta["timing"])
    if args.plot:
        report.plot(args.plot, src.series, _lost(src), summary, meta)
        if not args.quiet:
            print("loopcall: plot written to %s" % args.plot, file=out)
    if summary.get("received", 0) == 0:
        return 1
    return 0


def _lost(src):
    return src.lost_at()


if __name__ == "__main__":
    sys.exit(main())
