"""What every ESP32 board does the same way: Wi-Fi up with backoff, MAC from the station
interface, status LED. Board modules (boards/<BOARD>/board.py) only name their pins."""
import time

import machine
import network


class Esp32Board:
    def __init__(self, name, led_pin):
        self.NAME = name
        self._led = machine.Pin(led_pin, machine.Pin.OUT)
        self._wlan = network.WLAN(network.WLAN.IF_STA)

    def mac(self, cfg):
        """The station MAC (the eFuse base MAC under the IDF convention): stable per device."""
        self._wlan.active(True)
        return self._wlan.config("mac")

    def network_up(self, cfg):
        """Connect Wi-Fi (config keys wifi.ssid, wifi.password), backing off 1, 2, 4 ... 30 s."""
        # imported here, at boot: a module-level name would keep the boot-only config alive
        from tinysip.config import ConfigError, lookup

        ssid = lookup(cfg.raw, "wifi.ssid", None)
        if not ssid:
            raise ConfigError("wifi.ssid", "missing")
        password = lookup(cfg.raw, "wifi.password", "")
        wlan = self._wlan
        wlan.active(True)
        delay = 1
        while not wlan.isconnected():
            wlan.connect(ssid, password)
            for _ in range(delay * 10):
                if wlan.isconnected():
                    break
                time.sleep_ms(100)
            delay = min(delay * 2, 30)

    def status(self, event_name):
        """LED on while registered, off on a failure."""
        if event_name == "registered":
            self._led.value(1)
        elif event_name in ("flow_failed", "registration_failed", "tls_error"):
            self._led.value(0)
