# mpy: heap 320k
"""The firmware's boot on an ESP32 board, on the host: fake `machine`, `network`, `ntptime`,
`neopixel` and `esp32` modules in sys.modules, the real firmware/app.py, esp32board.py and
board modules. Wi-Fi comes up with backoff, the MAC is the station's, NTP sets the clock
before the UA exists (so before any TLS handshake), a REGISTER 200's Date sets the RTC when
NTP failed, and the status LED follows registered / failing / in call."""
import sys
import time

from testutil import DATA, HERE

_log = []  # what the fake hardware was asked to do, in order


class _Pin:
    OUT = 1
    IN = 0
    PULL_UP = 2

    def __init__(self, n, mode=None, pull=None):
        self.n = n
        self.v = 1 if mode == 0 else None  # an input (the call button) reads released

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = v


class _Timer:
    PERIODIC = 1

    def __init__(self, n):
        self.period = None
        self.callback = None

    def init(self, period, mode, callback):
        self.period = period
        self.callback = callback

    def deinit(self):
        self.period = None


class _RTC:
    set_to = None

    def datetime(self, t):
        _RTC.set_to = t
        _log.append("rtc")


class _WLAN:
    IF_STA = 0
    fail_first = 0

    def __init__(self, iface):
        self.on = False
        self.connects = 0
        self.disconnects = 0

    def active(self, on):
        self.on = on

    def config(self, key):
        assert key == "mac" and self.on
        return b"\x24\x6f\x28\x0a\x0b\x0c"

    def connect(self, ssid=None, password=None):
        assert self.on
        self.connects += 1
        if ssid is not None:  # connect() alone: again with the last credentials
            self.ssid = ssid
            self.password = password
        _log.append("wifi")

    def disconnect(self):
        self.disconnects += 1

    down = False  # the access point went away
    ip = "192.168.1.50"

    def isconnected(self):
        return self.connects > _WLAN.fail_first and not _WLAN.down

    def ifconfig(self):
        assert self.isconnected()
        return (_WLAN.ip, "255.255.255.0", "192.168.1.1", "192.168.1.53")


class _NeoPixel:
    def __init__(self, pin, n):
        self.px = [None] * n
        self.writes = 0

    def __setitem__(self, i, rgb):
        self.px[i] = rgb

    def write(self):
        self.writes += 1


class _Mod:
    pass


class _Ntp:
    host = "pool.ntp.org"
    fail = False
    calls = 0

    @staticmethod
    def settime():
        _Ntp.calls += 1
        _log.append("ntp")
        if _Ntp.fail:
            raise OSError(110)


class _Esp32:
    """The esp32 module's heap report: one (total, free, largest free block, least free ever)
    tuple per ESP-IDF heap region (ports/esp32/modesp32.c)."""

    HEAP_DATA = 4  # MALLOC_CAP_8BIT
    # what upstream's docs show after booting (docs/library/esp32.rst, idf_heap_info)
    BOOTED = [(240, 0, 0, 0), (7288, 0, 0, 0), (16648, 4, 4, 4), (79912, 35712, 35512, 35108),
              (15072, 15036, 15036, 15036), (113840, 0, 0, 0)]
    regions = BOOTED

    @staticmethod
    def idf_heap_info(caps):
        assert caps == _Esp32.HEAP_DATA
        return list(_Esp32.regions)


class _Time:
    slept = 0
    gmtime = time.gmtime

    @staticmethod
    def sleep_ms(ms):
        _Time.slept += ms


def _fakes():
    machine = _Mod()
    machine.Pin = _Pin
    machine.Timer = _Timer
    machine.RTC = _RTC
    network = _Mod()
    network.WLAN = _WLAN
    neopixel = _Mod()
    neopixel.NeoPixel = _NeoPixel
    sys.modules["machine"] = machine
    sys.modules["network"] = network
    sys.modules["neopixel"] = neopixel
    sys.modules["ntptime"] = _Ntp
    sys.modules["esp32"] = _Esp32
    _Esp32.regions = _Esp32.BOOTED
    _Ntp.fail = False
    _Ntp.calls = 0
    _Ntp.host = "pool.ntp.org"
    _WLAN.fail_first = 0
    _RTC.set_to = None
    _Time.slept = 0
    del _log[:]


def _boot_modules(board_dir):
    """(app, board) as the device has them: board from boards/<board_dir>, app importing it."""
    _fakes()
    fw = HERE + "/../firmware"
    bd = HERE + "/../boards/" + board_dir
    for p in (fw, bd):
        if p in sys.path:
            sys.path.remove(p)
        sys.path.insert(0, p)
    for name in ("app", "board", "esp32board"):
        sys.modules.pop(name, None)
    import board
    import esp32board

    esp32board.time = _Time
    import app

    sys.path.remove(bd)
    return app, board


def _config(extra=None):
    """A config file for the ESP32 boot; its path (MicroPython has no tempfile)."""
    import json
    import os

    from tinysip.compat import hexlify

    cfg = {
        "aor": "sip:phone1@lab.test",
        "auth": {"username": "phone1", "password": "secret1"},
        "outbound": ["sips:127.0.0.1:5061"],
        "tls": {"ca": DATA + "/x509/rsa_ca.der", "server_name": "lab.test"},
        "wifi": {"ssid": "lab", "password": "wifipw"},
    }
    for k in extra or ():
        cfg[k] = extra[k]
    path = "/tmp/tinysip-esp32-boot-%s.json" % hexlify(os.urandom(6)).decode()
    with open(path, "w") as f:
        f.write(json.dumps(cfg))
    return path


def _remove(path):
    import os

    try:
        os.remove(path)
    except OSError:
        pass


class _Events:
    def __init__(self, app):
        self.lines = []
        app.emit = self.lines.append

    def names(self):
        return [f["event"] for f in self.lines]


def _ev(name, *values):
    from tinysip.events import Event

    return Event(name, values)


def test_boot_brings_wifi_up_then_ntp_then_the_ua():
    app, board = _boot_modules("ESP32_GENERIC")
    out = _Events(app)
    path = _config({"ntp": {"host": "ntp.lab.test"}})
    try:
        cfg, ua, driver = app._boot(path)
    finally:
        _remove(path)
    assert _log == ["wifi", "ntp"], _log  # the clock is set before the UA (and any TLS) exists
    wlan = board._board._wlan
    assert (wlan.ssid, wlan.password) == ("lab", "wifipw")
    assert _Ntp.host == "ntp.lab.test"
    assert out.names() == ["boot"]
    boot = out.lines[0]
    assert boot["board"] == "esp32"
    assert boot["instance"].endswith("-246f280a0b0c"), boot  # the station's MAC
    assert cfg.media_ip == b"192.168.1.50"  # RTP on the station address (no media.ip set)
    assert ua.wall_ms is not None  # wall() was believable: the UA has the time from the start
    assert app._ua is ua and len(ua.flows) == 1
    assert _RTC.set_to is None


def test_configured_media_ip_is_kept():
    app, board = _boot_modules("ESP32_S3")
    _Events(app)
    path = _config({"media": {"ip": "10.0.0.7"}})
    try:
        cfg, ua, driver = app._boot(path)
    finally:
        _remove(path)
    assert cfg.media_ip == b"10.0.0.7"


def test_wifi_backoff_disconnects_between_attempts():
    app, board = _boot_modules("ESP32_GENERIC")
    _Events(app)
    _WLAN.fail_first = 5
    path = _config()
    try:
        app.load(path)
    finally:
        _remove(path)
    wlan = board._board._wlan
    assert wlan.connects == 6 and wlan.disconnects == 5
    assert _Time.slept == (1 + 2 + 4 + 8 + 16) * 1000  # 1, 2, 4, 8, 16 s waits
    assert _log[-1] == "ntp"


def test_wifi_backoff_caps_at_30_s():
    app, board = _boot_modules("ESP32_GENERIC")
    _Events(app)
    _WLAN.fail_first = 8
    path = _config()
    try:
        app.load(path)
    finally:
        _remove(path)
    assert _Time.slept == (1 + 2 + 4 + 8 + 16 + 30 + 30 + 30) * 1000


def test_ntp_failure_is_retried_then_left_to_the_registrar():
    app, board = _boot_modules("ESP32_GENERIC")
    _Ntp.fail = True
    assert board._board.ntp() is False
    assert _Ntp.calls == 3 and _Time.slept == 500 + 1000 + 2000


def test_register_200_date_sets_the_rtc_when_ntp_failed():
    from fakeregistrar import setup

    app, board = _boot_modules("ESP32_GENERIC")
    out = _Events(app)
    _Ntp.fail = True
    link, reg, ua, clock = setup(start=False)
    reg.date = b"Tue, 01 Jul 2025 10:00:00 GMT"

    class _Clock:
        def now(self):
            return clock.now

    app._clock = _Clock()
    app._ua = ua
    app.wall = lambda: None  # the RTC still reads 2000: never set
    link.on_event = lambda now, e: app.on_event(e)
    link.start()
    assert "registered" in out.names(), out.names()
    assert ua.wall_s(clock.now) == 1751364000
    assert _RTC.set_to == (2025, 7, 1, 1, 10, 0, 0, 0), _RTC.set_to  # Tuesday: weekday 1
    assert board._board.led == 1


def test_set_clock_on_a_2000_epoch_board():
    app, board = _boot_modules("ESP32_GENERIC")
    import esp32board

    class _Time2000:
        @staticmethod
        def gmtime(t):
            if t == 0:
                return (2000, 1, 1, 0, 0, 0, 5, 1)
            return time.gmtime(t + 946684800)

    esp32board.time = _Time2000
    board.set_clock(1751364000)
    assert _RTC.set_to == (2025, 7, 1, 1, 10, 0, 0, 0), _RTC.set_to


def test_led_registered_failing_in_call():
    app, board = _boot_modules("ESP32_GENERIC")
    b = board._board
    led = b._led
    assert b.led == 0
    board.status(_ev("flow_connecting", 0, 1, "edge1", "tls"))
    assert b.led == 0 and led.v is None  # nothing to show yet
    board.status(_ev("registered", 0, 1, 3600))
    board.status(_ev("registered", 1, 2, 3600))
    assert (b.led, led.v) == (1, 1)
    board.status(_ev("flow_failed", 1, 2, "pong_timeout"))
    assert (b.led, led.v) == (1, 1)  # the other flow still works
    board.status(_ev("call_incoming", 0, b"c1", "sip:tester@lab.test", "auto"))
    assert b.led == 1  # ringing is not a call yet
    board.status(_ev("call_answered", b"c1", "auto", "encaprtp", 96, 40000))
    assert b.led == 2 and b._timer.period == 250  # blinking
    on = []
    for _ in range(4):
        b._timer.callback(b._timer)
        on.append(led.v)
    assert on == [1, 0, 1, 0]
    board.status(_ev("call_ended", b"c1", "bye", None, 10, 10))
    assert (b.led, led.v, b._timer.period) == (1, 1, None)
    board.status(_ev("registration_failed", 0, 1, 403, "Forbidden"))
    assert (b.led, led.v) == (3, 0)  # failing: off
    board.status(_ev("registered", 0, 1, 3600))
    assert (b.led, led.v) == (1, 1)


def test_rgb_led_on_the_s3():
    app, board = _boot_modules("ESP32_S3")
    b = board._board
    np = b._np
    board.status(_ev("registered", 0, 1, 3600))
    assert np.px[0] == (0, 24, 0)
    board.status(_ev("call_connected", b"c2", 200))
    assert np.px[0] == (0, 0, 32)
    board.status(_ev("call_ended", b"c2", "hangup", None, 0, 0))
    board.status(_ev("flow_failed", 0, 1, "tls_error"))
    assert np.px[0] == (24, 0, 0) and np.writes == 4
    assert board.LED == 48 and board.BUTTON == 0 and board.I2S is None


def test_dns_server_from_wifi_resolves_named_proxies():
    app, board = _boot_modules("ESP32_GENERIC")
    _Events(app)
    path = _config({"outbound": ["sips:lab.test", "sips:10.0.0.1"]})
    try:
        cfg, ua, driver = app._boot(path)
    finally:
        _remove(path)
    assert cfg.dns_server == ("192.168.1.53", 53) and driver.dns_server == cfg.dns_server
    assert [f.resolve for f in ua.flows] == [True, False]


def test_network_change_reforms_every_flow():
    class UA:
        changes = []

        def network_changed(self, now):
            self.changes.append(now)

    app, board = _boot_modules("ESP32_GENERIC")
    _Events(app)
    path = _config()
    try:
        app._boot(path)
    finally:
        _remove(path)
    ua = UA()
    poll = board.poll
    poll(ua, 10000)
    assert ua.changes == []  # same network as at boot
    _WLAN.down = True
    poll(ua, 11000)
    n = board._board._wlan.connects
    poll(ua, 11500)  # checked once a second only
    _WLAN.down = False
    poll(ua, 12000)
    assert ua.changes == [12000] and n >= 2  # Wi-Fi back: the flows re-form at once
    _WLAN.ip = "192.168.1.77"  # DHCP gave a new address
    poll(ua, 13000)
    _WLAN.ip = "192.168.1.50"
    assert ua.changes == [12000, 13000]
