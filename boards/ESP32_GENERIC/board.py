"""ESP32-WROOM-32 DevKitC (no PSRAM): names only; deployed as /lib/board.mpy (make deploy).

LED: the blue LED on GPIO2 of most WROOM DevKit boards (the Espressif DevKitC has only a
power LED: wire one to GPIO2). BUTTON: the BOOT button (GPIO0, low when pressed).
I2S: (sck, ws, data out, data in) of an external codec, None when none is wired: the phone
only mirrors RTP today and never opens a microphone.
"""
from esp32board import Esp32Board  # not "esp32": that name is a built-in on the device
from esp32board import sys_heap  # noqa: F401 - the ESP-IDF heap figures (app, driver)

LED = 2
BUTTON = 0
I2S = None  # e.g. (26, 25, 22, 35): a MAX98357A amplifier on 22 and an INMP441 mic on 35

_board = Esp32Board("esp32", LED)
NAME = _board.NAME
mac = _board.mac
network_up = _board.network_up
set_clock = _board.set_clock
status = _board.status
poll = _board.poll
