"""app.loopcall's body: the phone as the RFC 6849 loopback source, on demand (its names and
code stay out of the idle phone's heap)."""


def loopcall(target, seconds=10, mode="encaprtp", interval=20, require=False,
             path="config.json"):
    """The phone as the loopback source: register, call `target` (a mirror's AoR or GRUU)
    with Answer-Mode: Auto and an RFC 6849 offer, stream PCMA for `seconds`, print the
    summary lines and return the summary dict (None when the call failed). From the REPL:

        mpremote exec "import app; app.loopcall('sip:mirror@example.net', 10)"
    """
    from app import _boot, _shutdown, emit
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
