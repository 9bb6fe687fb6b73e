"""The tinysip application: boot the UA from a JSON config, print each event as JSON.

Shipped as .mpy next to the library (firmware/main.py is only a stub that finds it), since
compiling this module from source at boot would cost the phone more heap than running it.
"""
import gc
import sys

import json

import board
from tinysip.compat import urandom
from tinysip.io.clock import Clock

_clock = Clock()


def emit(fields):
    """One JSON line per event on stdout; `t` is ms since boot."""
    fields["t"] = _clock.now()
    print(json.dumps(fields))


def on_event(e):
    emit(e.fields())
    board.status(e.name)


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
        ca = None
        if cfg.ca_path:
            try:
                with open(cfg.ca_path, "rb") as f:
                    ca = f.read()
            except OSError:
                raise ConfigError("tls.ca", "cannot read " + cfg.ca_path)
            ca = ca_der(ca)
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
    cfg, instance, ca = load(path)
    import tinysip

    for name in ("config", "instance"):
        sys.modules.pop("tinysip." + name, None)
        try:
            delattr(tinysip, name)
        except AttributeError:
            pass
    gc.collect()
    from tinysip.io.driver import Driver
    from tinysip.ua import UserAgent

    ua = UserAgent(cfg, instance, urandom)
    emit({"event": "boot", "board": board.NAME, "instance": instance.decode(),
          "aor": cfg.aor.to_bytes().decode(), "flows": len(cfg.proxies)})
    driver = Driver(ua, _clock, ca, on_event)
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
        while True:
            driver.step()
    except KeyboardInterrupt:
        if ua is not None:
            _shutdown(ua, driver)


def loopcall(target, seconds=10, mode="encaprtp", interval=20, require=False,
             path="config.json"):
    """The phone as the loopback source: register, call `target` (a mirror's AoR or GRUU)
    with Answer-Mode: Auto and an RFC 6849 offer, stream PCMA for `seconds`, print the
    summary lines and return the summary dict (None when the call failed). From the REPL:

        mpremote exec "import app; app.loopcall('sip:mirror@example.net', 10)"
    """
    from tinysip import probe
    from tinysip.io.loopcall import Loopcall, LoopcallError

    cfg, ua, driver = _boot(path)
    summary = None
    try:
        run = Loopcall(ua, driver, target, seconds, interval, mode, "PCMA", require,
                       cfg.media_ip.decode(), cfg.media_port)
        summary = run.run()
        emit({"event": "loopcall_done", "summary": summary})
        for line in probe.summary_lines(summary):
            print(line)
    except LoopcallError as e:
        emit({"event": "loopcall_failed", "error": str(e), "status": e.status})
        print("loopcall: %s" % e)
    except KeyboardInterrupt:
        pass
    _shutdown(ua, driver)
    return summary
