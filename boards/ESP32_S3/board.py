"""ESP32 board module: names only (pins, LED); the MAC comes from the Wi-Fi station.

Copied to the device as /board.py (or frozen). Wi-Fi credentials come from config keys
`wifi.ssid` and `wifi.password`.
"""
import time

import machine
import network

from tinysip.config import ConfigError, lookup

NAME = "esp32-s3"
LED_PIN = 48  # RGB LED data pin on DevKitC-1 (driven as a plain pin here)

_led = machine.Pin(LED_PIN, machine.Pin.OUT)
_wlan = network.WLAN(network.WLAN.IF_STA)


def mac(cfg):
    """The station MAC (the eFuse base MAC under the IDF convention): stable per device."""
    _wlan.active(True)
    return _wlan.config("mac")


def network_up(cfg):
    """Connect Wi-Fi, retrying with backoff (1, 2, 4 ... 30 s) until associated."""
    ssid = lookup(cfg.raw, "wifi.ssid", None)
    if not ssid:
        raise ConfigError("config key 'wifi.ssid': missing")
    password = lookup(cfg.raw, "wifi.password", "")
    _wlan.active(True)
    delay = 1
    while not _wlan.isconnected():
        _wlan.connect(ssid, password)
        for _ in range(delay * 10):
            if _wlan.isconnected():
                break
            time.sleep_ms(100)
        delay = min(delay * 2, 30)


def status(event_name):
    """LED on while registered, off on failure."""
    if event_name == "registered":
        _led.value(1)
    elif event_name in ("flow_failed", "registration_failed", "tls_error"):
        _led.value(0)
