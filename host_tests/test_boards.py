"""ESP32 boards on the host, with fake `machine` and `network` modules: the MAC comes from
the Wi-Fi station interface, Wi-Fi retries with backoff, the LED follows registration."""
import sys

from testutil import HERE, raises


class _Pin:
    OUT = 1

    def __init__(self, n, mode):
        self.n = n
        self.v = None

    def value(self, v):
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

    def isconnected(self):
        return self.connects > _WLAN.fail_first


class _Mod:
    pass


class _Time:
    slept = 0

    @staticmethod
    def sleep_ms(ms):
        _Time.slept += ms


def _load(board_dir):
    machine = _Mod()
    machine.Pin = _Pin
    network = _Mod()
    network.WLAN = _WLAN
    sys.modules["machine"] = machine
    sys.modules["network"] = network
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
    def __init__(self, raw):
        self.raw = raw


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
    board.status("registered")
    assert board._board._led.v == 1
    board.status("flow_failed")
    assert board._board._led.v == 0
