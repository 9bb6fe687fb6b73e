"""The tinysip application: boot the UA from a JSON config, print each event as JSON.

Shipped as .mpy next to the library (firmware/main.py is only a stub that finds it), since
compiling this module from source at boot would cost the phone more heap than running it.
"""
import gc
import sys

import json

import board
from tinysip.compat import collect_every, const, mem_free, urandom
from tinysip.io.clock import Clock, wall

_C_KEY_TYPE = const(10)  # a parsed certificate's key type (tinysip.x509's index; test_consts)
# Collect the garbage after every 1 KB allocated (gc.threshold, from the start of boot), not
# only when an allocation finds no room. Left to pile up, each message's garbage lies
# between the few objects that outlive it, and once collected it leaves holes too small for
# the next message's larger blocks (at two TLS flows' smallest heap: 15 KB free, no piece
# over 544 B). Collected early, those objects are packed into the holes of the last round.
# Measured on the whole phone (64-bit, tools/bench/run.py --only heap, docs/benchmarks.md):
# 4 KB took every scenario 4-11 KB down (session 19); 1 KB, once the phone's code loaded
# and dropped per use (session 24), 2-4 KB more: the full scenario at 88 KB passed 12 runs
# of 12, 0 of 11 at 4 KB. The price: a SIP message allocates ~10-15 KB (32-bit), so 10-15
# collections of a ~56 KB heap, a few ms each on an ESP32 (estimated, not measured there:
# tens of ms per message; a loopback call's mirror leaves ~190 B per packet, ~10
# collections a second, a few % of the CPU). Off while a voice call runs
# (io.voiceport): its datagram reads allocate, and each collection would hold its frame
# loop (the jitter buffer grew: issue 17).
_GC_EVERY = const(1024)

_clock = Clock()
_ua = None  # the running UserAgent (on_event gives its wall clock to the board)
_driver = None  # its driver (firmware/callctl.py places calls through it)


def emit(fields):
    """One JSON line per event on stdout; `t` is ms since boot. On a board that reads its
    system heap (board.sys_heap: ESP32) boot, flow_up and low_memory also say how much of it
    is free and its largest free block (`sys_free`, `sys_largest`, bytes): what Wi-Fi, the
    GC heap and the open flows leave for the next TLS handshake."""
    fields["t"] = _clock.now()
    h = getattr(board, "sys_heap", None)
    if h is not None and fields["event"] in ("boot", "flow_up", "low_memory"):
        fields["sys_free"], fields["sys_largest"] = h()
    print(json.dumps(fields))


def on_event(e):
    emit(e.fields())
    board.status(e)
    if e.name == "registered" and wall() is None and _ua.wall_ms is not None:
        # no NTP: the registrar's Date set the UA's clock; the board's RTC follows, so that
        # later TLS handshakes check certificate validity against it
        board.set_clock(_ua.wall_s(_clock.now()))


def fatal(message):
    emit({"event": "boot_failed", "error": message})
    sys.stderr.write("tinysip: %s\n" % message)
    sys.exit(2)


def load(path):
    """(settings, instance URN, CA DER) from the config file; fatal() names the bad key.

    A function of its own so that its references to the boot-only config and instance code
    are gone when it returns, before main() drops those modules."""
    from tinysip.config import Config, ConfigError, ca_der
    from tinysip.instance import instance_urn

    try:
        with open(path) as f:
            raw = json.load(f)
    except OSError:
        fatal("cannot read the config file %s" % path)
    except ValueError:
        fatal("config file %s is not valid JSON" % path)
    try:
        cfg = Config(raw)
        instance = instance_urn(board.mac(cfg))
        def der(path, key):  # a certificate file (PEM or DER) named by config key `key`
            try:
                with open(path, "rb") as f:
                    return ca_der(f.read(), key)
            except OSError:
                raise ConfigError(key, "cannot read " + path)

        ca = der(cfg.ca_path, "tls.ca") if cfg.ca_path else None
        c = cfg.certs
        if c is not None:
            if c.ca_path:
                c.ca_der = der(c.ca_path, "certificates.ca")
            if c.identity_path:
                c.identity_der = der(c.identity_path, "certificates.identity")
            # the RFC 6072 trust anchors must be certificates the phone can read (and the
            # Identity signer's an ES256 key), or the config key is at fault now rather
            # than every NOTIFY
            from tinysip.compat import load as lazy  # (a local name: not interned)
            from tinysip.errors import ParseError

            # config certificates.cache_dir: the cached certificates' directory (the ESP32
            # boards' flash by default, board.CERT_DIR; the host's: none, the heap)
            cd = c.store or getattr(board, "CERT_DIR", None)
            if cd:  # the cache's store (certservice.Cache), no file left from before
                from tinysip.io import certstore

                try:
                    c.store = certstore(cd)
                except OSError as e:
                    raise ConfigError("certificates.cache_dir", "cannot use %s: %s" % (cd, e))
            parse = lazy(b"tinysip.x509 parse")
            for key, d in (("certificates.ca", c.ca_der),
                           ("certificates.identity", c.identity_der)):
                if d:
                    try:
                        cert = parse(d)
                    except ParseError as e:
                        raise ConfigError(key, e.reason)
                    if key == "certificates.identity" and cert[_C_KEY_TYPE] != "ec":
                        raise ConfigError(key, "must be an EC P-256 certificate (Identity "
                                          "is ES256)")
        board.network_up(cfg)
    except ConfigError as e:
        fatal(str(e))
    except ValueError as e:  # instance: "mac: what is wrong"
        fatal("config key '%s" % str(e).replace(": ", "': ", 1))
    del cfg.raw  # only the board needed it
    return cfg, instance, ca


def _boot(path):
    """Settings, instance and CA from the config, the boot-only modules dropped, then the UA
    and its driver (imported only now: the config code is gone before the UA's code loads)."""
    global _ua
    every = collect_every(_GC_EVERY)  # (from the start: the code loads packed too)
    cfg, instance, ca = load(path)
    from tinysip.compat import drop

    drop("config instance x509 sipdate")  # x509: the anchors' check
    gc.collect()
    if ca is not None:  # the TLS context first, while the heap is in one piece (io/stream)
        from tinysip.io.stream import tls_context

        tls_context(ca)
    from tinysip.io.driver import Driver
    from tinysip.ua import UserAgent

    if cfg.certs is not None:
        # The certificate checks load for each NOTIFY and are dropped after it, but the
        # names they intern stay, and the first time they push the phone past its qstr
        # pools the next pool is one block of ~7.5 KB (64-bit): found now, while the heap
        # is in one piece, not in the middle of a NOTIFY (docs/benchmarks.md). Not the
        # RFC 8224 code (passport, ecdsa): only an Identity header or an EC-signed
        # certificate loads it, and its ~20 names, interned here, took a phone with three
        # certificates past its five pools at a loopback call's set-up (session 23).
        for n in "certs certservice".split():  # certservice: until the UA parks it
            __import__("tinysip." + n)
        drop("certs x509 sigverify ecdsa sipdate passport")
        gc.collect()

    global _driver
    ua = _ua = UserAgent(cfg, instance, urandom)
    emit({"event": "boot", "board": board.NAME, "instance": instance.decode(),
          "aor": cfg.aor.to_bytes().decode(), "flows": len(cfg.proxies),
          "gc_every": every})
    driver = _driver = Driver(ua, _clock, ca, on_event, cfg.dns_server,
                              getattr(board, "sys_heap", None), _audio)
    attach = getattr(board, "attach", None)
    if attach is not None:  # the host's control lines wake the loop (boards/host/board.py)
        attach(driver)
    t = wall()
    if t is not None:  # else the first REGISTER 200's Date sets it
        ua.set_wall_clock(t, _clock.now())
    ua.start(_clock.now())
    return cfg, ua, driver


def _shutdown(ua, driver):
    """Unregister (up to 3 s), close what is left, say so."""
    ua.stop(_clock.now())
    t0 = _clock.now()
    while not ua.idle() and _clock.now() - t0 < 3000:
        driver.step(100)
    driver.pump()
    for conn in list(driver.conns):
        driver.close(conn)
    emit({"event": "stopped"})


def main(path="config.json"):
    ua = None
    try:
        cfg, ua, driver = _boot(path)
        # the board watches its network (ESP32 Wi-Fi)
        run(ua, driver, getattr(board, "poll", None))
    except KeyboardInterrupt:
        if ua is not None:
            _shutdown(ua, driver)


def run(ua, driver, poll=None):
    """The main loop, until KeyboardInterrupt. The core catches its own errors; a
    MemoryError from an adapter (a read, a new connection) is reported as a low_memory
    event, at most one a second with the count so far, and the loop goes on: the flows
    recover as after any fault, and the phone never stops over it."""
    short = 0
    last = None
    while True:
        try:
            driver.step()
            if poll is not None:
                poll(ua, _clock.now())
        except MemoryError:
            short += 1
            now = _clock.now()
            if last is None or now - last >= 1000:
                last = now
                gc.collect()
                try:
                    emit({"event": "low_memory", "count": short,
                          "free": mem_free()})
                except MemoryError:
                    pass


def _audio(t):
    """A voice call's (microphone, speaker) for its ptime t (ms): firmware/callctl.py,
    loaded with the first call (an idle phone carries none of the call API's names)."""
    from tinysip.compat import load as lazy

    return lazy(b"callctl audio")(_ua.cfg, t)


def loopcall(*args, **kwargs):
    """The phone as the loopback source (firmware/diag.py, loaded only when used): register,
    call a mirror with Answer-Mode: Auto and an RFC 6849 offer, print and return the
    summary. From the REPL:

        mpremote exec "import app; app.loopcall('sip:mirror@example.net', 10)"
    """
    from tinysip.compat import load as lazy

    return lazy(b"diag loopcall")(*args, **kwargs)
