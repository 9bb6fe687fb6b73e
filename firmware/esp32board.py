"""What every ESP32 board does the same way: Wi-Fi up with backoff, MAC from the station
interface, the wall clock from NTP (or from the registrar: set_clock), the status LED.
Board modules (boards/<BOARD>/board.py) only name their pins.

Status LED, from the UA's events: off while no flow is registered yet, on (RGB: green)
while a flow is registered, off (RGB: red) when every flow failed, blinking (RGB: blue)
during a call (answered or connected).

sys_heap(): the ESP-IDF heap's free bytes and largest free block, which the app adds to its
boot, flow_up and low_memory events and the driver checks before a flow connects.
"""
import time

import esp32
import machine
import network

_EPOCH_2000 = 946684800  # boards whose time() counts from 2000
_RGB = ((0, 0, 0), (0, 24, 0), (0, 0, 32), (24, 0, 0))  # idle, registered, in call, failing


def sys_heap():
    """(free bytes, largest free block) of the ESP-IDF heap that mbedTLS, lwIP and Wi-Fi
    allocate from and the GC heap grows into: esp32.idf_heap_info(HEAP_DATA) lists one
    (total, free, largest free block, least free ever) tuple per region (modesp32.c)."""
    free = big = 0
    for r in esp32.idf_heap_info(esp32.HEAP_DATA):
        free += r[1]
        if r[2] > big:
            big = r[2]
    return free, big


class Esp32Board:
    def __init__(self, name, led_pin, rgb=False, button=None):
        self.NAME = name
        # the call button (pressed: low): answers the call that rings, else hangs up
        self._btn = None if button is None else machine.Pin(button, machine.Pin.IN,
                                                            machine.Pin.PULL_UP)
        self._was = 1
        pin = machine.Pin(led_pin, machine.Pin.OUT)
        if rgb:  # a WS2812 needs its protocol: a level on the pin does not light it
            import neopixel

            self._np = neopixel.NeoPixel(pin, 1)
        else:
            self._np = None
        self._led = pin
        self._wlan = network.WLAN(network.WLAN.IF_STA)
        self._up = 0  # one bit per registered flow
        self._calls = set()  # call ids answered or connected, not ended
        self._failed = False
        self.led = 0  # what the LED shows: 0 idle, 1 registered, 2 in call, 3 failing
        self._timer = None
        self._on = 0
        self._ip = None  # the station address the flows were formed on
        self._check_at = 0

    def mac(self, cfg):
        """The station MAC (the eFuse base MAC under the IDF convention): stable per device."""
        self._wlan.active(True)
        return self._wlan.config("mac")

    def network_up(self, cfg):
        """Connect Wi-Fi (config keys wifi.ssid, wifi.password), backing off 1, 2, 4 ... 30 s,
        take media.ip from the station unless configured, then set the clock from NTP
        (ntp.host) before any TLS handshake checks a certificate's validity."""
        # imported here, at boot: a module-level name would keep the boot-only config alive
        from tinysip.config import ConfigError, lookup

        ssid = lookup(cfg.raw, "wifi.ssid", None)
        if not ssid or not isinstance(ssid, str):
            raise ConfigError("wifi.ssid", "missing")
        password = lookup(cfg.raw, "wifi.password", "")
        wlan = self._wlan
        wlan.active(True)
        delay = 1
        while not wlan.isconnected():
            try:
                wlan.connect(ssid, password)
            except OSError:  # "Wifi Internal State Error" while an attempt is under way
                pass
            for _ in range(delay * 10):
                if wlan.isconnected():
                    break
                time.sleep_ms(100)
            else:
                wlan.disconnect()  # give up this attempt before the next connect()
            delay = min(delay * 2, 30)
        ifc = wlan.ifconfig()
        self._ip = ifc[0]
        if lookup(cfg.raw, "media.ip", None) is None:  # RTP on the station's own address
            cfg.media_ip = ifc[0].encode()
        if cfg.dns_server is None and ifc[3] != "0.0.0.0":
            # RFC 3263 through the DNS server DHCP gave us, for proxies named by host name
            from tinysip.config import _numeric

            cfg.dns_server = (ifc[3], 53)
            for p in cfg.proxies:
                p.resolve = not _numeric(p.host)
        self.ntp(lookup(cfg.raw, "ntp.host", None))

    def ntp(self, host=None, tries=3):
        """Set the RTC from NTP; False when no answer came (the first REGISTER 200's Date
        then sets the clock, see set_clock)."""
        import ntptime

        if host:
            ntptime.host = host
        for i in range(tries):
            try:
                ntptime.settime()
                return True
            except (OSError, OverflowError):  # timeout, no route, a bogus answer
                time.sleep_ms(500 << i)
        return False

    def poll(self, ua, now):
        """Once a second from the main loop: Wi-Fi lost means reconnecting (the flows fail on
        their own); back on Wi-Fi, or on a new address, every flow re-forms at once
        (ua.network_changed) instead of waiting out its backoff. The call button is read
        on every call (each loop iteration): a press answers what rings, else hangs up."""
        b = self._btn
        if b is not None:
            v = b.value()
            if v != self._was:
                self._was = v
                if not v:
                    import callctl

                    if not callctl.answer():
                        callctl.hangup()
        if now < self._check_at:
            return
        self._check_at = now + 1000
        wlan = self._wlan
        if not wlan.isconnected():
            if self._ip is not None:
                self._ip = None
                try:
                    wlan.connect()  # the last ssid/password; the IDF keeps trying too
                except OSError:
                    pass
            return
        ip = wlan.ifconfig()[0]
        if ip != self._ip:
            self._ip = ip
            ua.network_changed(now)

    def set_clock(self, epoch_s):
        """Set the RTC to `epoch_s` (s since 1970, UTC): the app does this when NTP failed and
        the registrar's Date gave the UA its wall clock, so later TLS handshakes see it."""
        t = time.gmtime(epoch_s - (_EPOCH_2000 if time.gmtime(0)[0] == 2000 else 0))
        machine.RTC().datetime((t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0))

    def status(self, e):
        """Follow the UA's events (an events.Event) on the LED."""
        n = e.name
        if n == "registered":
            self._up |= 1 << e.flow
        elif n in ("flow_failed", "registration_failed", "unregistered"):
            self._up &= ~(1 << e.flow)
            self._failed = n != "unregistered"
        elif n in ("call_answered", "call_connected"):
            self._calls.add(e.call_id)
        elif n in ("call_ended", "call_failed"):
            self._calls.discard(e.call_id)
        else:
            return
        self._show(2 if self._calls else 1 if self._up else 3 if self._failed else 0)

    def _show(self, s):
        if s == self.led:
            return
        self.led = s
        if self._np is not None:
            self._np[0] = _RGB[s]
            self._np.write()
            return
        if s == 2:
            if self._timer is None:
                self._timer = machine.Timer(0)
            self._timer.init(period=250, mode=machine.Timer.PERIODIC, callback=self._blink)
            return
        if self._timer is not None:
            self._timer.deinit()
        self._led.value(1 if s == 1 else 0)

    def _blink(self, _t):
        self._on ^= 1
        self._led.value(self._on)
