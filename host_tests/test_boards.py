"""ESP32 boards on the host, with fake `machine`, `network` and `esp32` modules: the MAC
comes from the Wi-Fi station interface, Wi-Fi retries with backoff, the LED follows
registration."""
import sys

from test_esp32_boot import _Esp32
from testutil import HERE, raises


class _Pin:
    OUT = 1
    IN = 0
    PULL_UP = 2

    def __init__(self, n, mode, pull=None):
        self.n = n
        self.v = 1 if mode == 0 else None  # an input (the call button) reads released

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = v


class _WLAN:
    IF_STA = 0
    fail_first = 0

    def __init__(self, iface):
        self.on = False
        self.connects = 0

    def active(self, on):
        self.on = on

    def config(self, key):
        assert key == "mac"
        return b"\x24\x6f\x28\x01\x02\x03"

    def connect(self, ssid, password):
        self.connects += 1
        self.ssid = ssid

    def disconnect(self):
        pass

    def ifconfig(self):
        return ("192.168.1.50", "255.255.255.0", "192.168.1.1", "192.168.1.1")

    def isconnected(self):
        return self.connects > _WLAN.fail_first


class _Mod:
    pass


class _Ntp:
    @staticmethod
    def settime():
        pass


class _Time:
    slept = 0

    @staticmethod
    def sleep_ms(ms):
        _Time.slept += ms


class _NeoPixel:
    def __init__(self, pin, n):
        self.px = [None] * n

    def __setitem__(self, i, v):
        self.px[i] = v

    def write(self):
        pass


def _load(board_dir):
    machine = _Mod()
    machine.Pin = _Pin
    neopixel = _Mod()
    neopixel.NeoPixel = _NeoPixel
    sys.modules["neopixel"] = neopixel
    network = _Mod()
    network.WLAN = _WLAN
    sys.modules["machine"] = machine
    sys.modules["network"] = network
    sys.modules["ntptime"] = _Ntp
    sys.modules["esp32"] = _Esp32
    for p in (HERE + "/../firmware", HERE + "/../boards/" + board_dir):
        if p not in sys.path:
            sys.path.insert(0, p)
    for name in ("board", "esp32board"):
        sys.modules.pop(name, None)
    import board
    import esp32board

    esp32board.time = _Time
    sys.path.remove(HERE + "/../boards/" + board_dir)
    return board


class _Cfg:
    """The Settings fields the board reads and writes (a real one comes from config.Config)."""

    def __init__(self, raw):
        self.raw = raw
        self.dns_server = None
        self.proxies = []


class _Event:
    def __init__(self, name, flow=0):
        self.name = name
        self.flow = flow


def test_mac_comes_from_the_station_interface():
    for d in ("ESP32_GENERIC", "ESP32_S3"):
        board = _load(d)
        assert board.mac(_Cfg({})) == b"\x24\x6f\x28\x01\x02\x03"
        from tinysip.instance import instance_urn

        assert instance_urn(board.mac(_Cfg({}))).endswith(b"-246f28010203")


def test_wifi_retries_with_backoff_until_connected():
    board = _load("ESP32_GENERIC")
    _WLAN.fail_first = 3
    _Time.slept = 0
    board.network_up(_Cfg({"wifi": {"ssid": "lab", "password": "pw"}}))
    _WLAN.fail_first = 0
    assert board._board._wlan.connects == 4
    assert _Time.slept == (1 + 2 + 4) * 1000  # waited 1, 2 then 4 s before the 4th try


def test_missing_ssid_names_the_key():
    board = _load("ESP32_S3")
    from tinysip.config import ConfigError

    e = raises(ConfigError, board.network_up, _Cfg({}))
    assert "wifi.ssid" in str(e)


def test_led_follows_registration():
    board = _load("ESP32_GENERIC")
    board.status(_Event("registered"))
    assert board._board._led.v == 1
    board.status(_Event("flow_failed"))
    assert board._board._led.v == 0


def test_freeze_manifests_name_files_that_exist():
    """Each board's manifest.py, run with the upstream manifest functions stubbed: it
    includes the port's manifest and freezes lib/tinysip, app, esp32board and board."""
    import os

    if not hasattr(os, "walk"):  # MicroPython: the manifests are read by CPython build tools
        return

    for d in ("ESP32_GENERIC", "ESP32_S3"):
        bdir = HERE + "/../boards/" + d
        calls = []

        def path(p, base_path="."):
            return p if p.startswith("$(") else bdir + "/" + base_path + "/" + p

        env = {
            "include": lambda p: calls.append(("include", p)),
            "package": lambda p, files=None, base_path=".", opt=None: calls.append(
                ("package", path(p, base_path), opt, files)),
            "module": lambda p, base_path=".", opt=None: calls.append(
                ("module", path(p, base_path), opt)),
            "freeze": lambda p, script=None, opt=None: calls.append(("freeze", path(p), opt)),
            "require": lambda name, **kw: calls.append(("require", name)),
        }
        cwd = os.getcwd()
        os.chdir(bdir)  # as MicroPython's manifest reader runs each manifest
        try:
            with open("manifest.py") as f:
                exec(f.read(), env)
        finally:
            os.chdir(cwd)
        assert calls[0] == ("include", "$(PORT_DIR)/boards/manifest.py"), calls
        names = []
        for c in calls[1:]:
            os.stat(c[1])  # exists (a directory for package)
            names.append(c[1].rpartition("/")[2])
            assert c[2] == 3, c  # -O3, what make mpy ships
        assert names == ["tinysip", "app.py", "diag.py", "callctl.py", "esp32board.py",
                         "board.py"], names
        # every module of lib/tinysip but the CPython-only ones (tools/romfs.py CPYTHON_ONLY)
        files = calls[1][3]
        assert "ua.py" in files and "io/driver.py" in files and "fastparse.py" not in files
        lib = bdir + "/../../lib/tinysip/"
        for rel in files:
            os.stat(lib + rel)
        assert len(files) == len(set(files)) and len(files) >= 50, files
        assert os.stat(bdir + "/../../lib/tinysip/ua.py")


def test_the_call_button_answers_what_rings_else_hangs_up():
    # issue 17: the BOOT button (low when pressed) is the phone's call button; each press
    # (a change to low) answers the ringing call, or ends the calls when none rings
    board = _load("ESP32_GENERIC")
    did = []

    class App:
        ringing = True

        @staticmethod
        def answer():
            did.append("answer")
            return App.ringing

        @staticmethod
        def hangup():
            did.append("hangup")
            return True

    sys.modules["callctl"] = App
    try:
        pin = board._board._btn
        assert pin.n == board.BUTTON
        board.poll(None, 0)  # released: nothing
        pin.v = 0
        board.poll(None, 0)  # pressed: answers
        board.poll(None, 0)  # still held: nothing more
        pin.v = 1
        board.poll(None, 0)
        App.ringing = False
        pin.v = 0
        board.poll(None, 0)  # pressed again, nothing rings: hangs up
        assert did == ["answer", "answer", "hangup"]
    finally:
        sys.modules.pop("callctl", None)
