"""One diagnostic loopback call from our side (the RFC 6849 source), on a running UA + Driver.

Shared by the host tool (tools/loopcall) and the phone (firmware app.loopcall, for the REPL
and `mpremote exec`): register, call the mirror with Answer-Mode and a loopback offer, check
the answer, stream RTP at the codec pace for `seconds`, wait for the stragglers, hang up and
return the measurements (tinysip.probe.Source.summary()). Every failure raises LoopcallError
with a message that names the peer or the option at fault.
"""
from tinysip import probe
from tinysip.errors import ParseError
from tinysip.events import text as _text

MODES = {"encaprtp": probe.ENCAP, "rtploopback": probe.DIRECT, "media": probe.MEDIA}
CODECS = {"PCMA": 8, "PCMU": 0}


class LoopcallError(Exception):
    """str() says what failed and who is at fault; `status` the SIP status when one came."""

    def __init__(self, message, status=0):
        super().__init__(message)
        self.status = status


class Loopcall:
    """Run with run(); `on_progress(elapsed_s, sent, received, rtt_ms)` is called about twice
    a second while media flows (the tool draws its live line, the phone prints nothing)."""

    def __init__(self, ua, driver, target, seconds=10, interval_ms=20, mode="encaprtp",
                 codec="PCMA", require=False, media_ip="127.0.0.1", media_port=41000,
                 answer_s=30, media_s=5, register_s=15, series=False, on_progress=None):
        if mode not in MODES:
            raise LoopcallError("mode: %r is not one of encaprtp, rtploopback, media" % mode)
        if codec not in CODECS:
            raise LoopcallError("codec: %r is not PCMA or PCMU" % codec)
        if not 5 <= interval_ms <= 200:
            raise LoopcallError("interval: %r ms is outside 5..200" % interval_ms)
        self.ua = ua
        self.driver = driver
        self.clock = driver.clock
        self.target = target if isinstance(target, bytes) else target.encode()
        self.seconds = seconds
        self.interval_ms = interval_ms
        self.mode = MODES[mode]
        self.codec = codec
        self.require = require
        self.media_ip = media_ip
        self.media_port = media_port
        self.answer_ms = int(answer_s * 1000)
        self.media_ms = int(media_s * 1000)
        self.register_ms = int(register_s * 1000)
        self.series = series
        self.on_progress = on_progress
        self.events = []
        self.call_id = None
        self.port = None
        self.source = None
        self.answer = None
        inner = driver.on_event

        def seen(e):
            self.events.append(e)
            inner(e)

        driver.on_event = seen

    def _wait(self, names, ms):
        """Step the driver until an event named in `names` comes (returned) or ms pass."""
        end = self.clock.now() + ms
        i = len(self.events)
        while True:
            while i < len(self.events):
                e = self.events[i]
                i += 1
                if e.name in names and (self.call_id is None or e.values[0] == self.call_id
                                        or e.name not in _CALL_EVENTS):
                    return e
            left = end - self.clock.now()
            if left <= 0:
                return None
            self.driver.step(min(left, 100))

    def register(self):
        """Wait for the first flow to register; LoopcallError names the proxy's refusal."""
        for f in self.ua.flows:
            if f.binding is not None and f.conn is not None:
                return
        e = self._wait(("registered", "registration_failed", "tls_error"), self.register_ms)
        if e is None:
            raise LoopcallError("proxy: not registered within %d s (see the flow events)"
                                % (self.register_ms // 1000))
        if e.name == "registration_failed":
            raise LoopcallError("proxy refused the registration: %s %s"
                                % (e.status, _text(e.reason)), e.status)
        if e.name == "tls_error":
            raise LoopcallError("proxy %s: TLS failed: %s" % (e.server, e.reason))

    def run(self):
        from tinysip.compat import urandom
        from tinysip.io.probe import ProbePort

        self.register()
        ua = self.ua
        pt = CODECS[self.codec]
        count = int(self.seconds * 1000) // self.interval_ms
        self.source = src = probe.Source(self.mode, pt, pt, self.interval_ms, urandom, count,
                                         self.series)
        try:
            self.port = port = ProbePort(src, self.media_ip, self.media_port)
        except OSError as e:
            raise LoopcallError("media: cannot bind %s:%d: %r" % (self.media_ip, self.media_port,
                                                                  e))
        try:
            return self._call(ua, port, src)
        finally:
            self.driver.remove_media("loopcall")
            port.close()

    def _call(self, ua, port, src):
        now = self.clock.now()
        body = probe.offer(self.media_ip.encode(), port.port, now & 0xFFFFFF, self.mode,
                           self.codec.encode(), self.interval_ms)
        am = b"Auto;require" if self.require else b"Auto"
        self.call_id = cid = ua.dial(self.target, now, body, [(b"Answer-Mode", am)],
                                     self.answer_ms)
        if cid is None:
            raise LoopcallError("proxy: no registered flow to place the call on")
        dial = ua.calls[cid][0]
        e = self._wait(("call_connected", "call_failed", "call_ended"), self.answer_ms + 40000)
        if e is None or e.name != "call_connected":
            if dial.end_reason == "no_answer":
                raise LoopcallError("%s: no answer within %d s (did it ring? the caller must be "
                                    "in the phone's autoanswer.allow)" % (
                                        self.target.decode(), self.answer_ms // 1000), 408)
            if e is not None and e.name == "call_failed":
                raise LoopcallError("%s answered %d %s" % (self.target.decode(), e.status,
                                                          _text(e.reason)), e.status)
            ua.hangup(cid, self.clock.now())
            raise LoopcallError("%s: no answer within %d s" % (self.target.decode(),
                                                              self.answer_ms // 1000), 408)
        self.answer = ua.dial_answer(cid)
        try:
            mode, rx_pt, ip, rport = probe.check_answer(self.answer or b"", self.mode)
        except ParseError as x:
            self._hangup(cid)
            raise LoopcallError("%s: %s" % (self.target.decode(), x.reason), 488)
        src.rx_pt = rx_pt
        port.target(ip.decode(), rport)
        self.driver.add_media("loopcall", port)  # read as soon as it is readable
        t0 = port.now_us()
        last = 0
        ended = None
        i = len(self.events)
        while ended is None:
            wait = port.pace()
            el = (port.now_us() - t0) // 1000
            if wait is None:  # every packet sent: wait for the stragglers, then stop
                if el > self.seconds * 1000 + self._grace():
                    break
                wait = 20000
            if src.received == 0 and el > self.media_ms:
                self._hangup(cid)
                raise LoopcallError("%s: no media came back within %d s (mirror at %s:%d)" % (
                    self.target.decode(), self.media_ms // 1000, ip.decode(), rport))
            if self.on_progress is not None and el - last >= 500:
                last = el
                r = src.last_rtt_ms if src.received else None
                self.on_progress(el / 1000, src.sent, src.received, r)
            self.driver.step(min(wait // 1000, 100))
            while i < len(self.events):
                x = self.events[i]
                i += 1
                if x.name == "call_ended" and x.values[0] == cid:
                    ended = x
        if ended is None:
            self._hangup(cid)
        return src.summary()

    def _grace(self):
        """ms to wait for the last packets: 500 ms plus twice the last RTT seen."""
        s = self.source
        return 500 + int(2 * (s.last_rtt_ms if s.received else 0))

    def _hangup(self, cid):
        if self.ua.hangup(cid, self.clock.now()):
            self._wait(("call_ended",), 5000)


_CALL_EVENTS = ("call_connected", "call_failed", "call_ended", "call_progress")
