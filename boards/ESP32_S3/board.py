"""ESP32-S3 DevKitC-1 (PSRAM): names only; deployed as /lib/board.mpy (make deploy).

LED: the WS2812 RGB LED on GPIO48 (GPIO38 on board revision 1.1), driven with neopixel.
BUTTON: the BOOT button (GPIO0, low when pressed).
I2S: (sck, ws, data out, data in) of an external codec, None when none is wired: the phone
only mirrors RTP today and never opens a microphone.
"""
from esp32board import Esp32Board  # not "esp32": that name is a built-in on the device
from esp32board import sys_heap  # noqa: F401 - the ESP-IDF heap figures (app, driver)

LED = 48
BUTTON = 0
I2S = None  # e.g. (12, 13, 14, 11): a MAX98357A amplifier on 14 and an INMP441 mic on 11

_board = Esp32Board("esp32-s3", LED, rgb=True)
NAME = _board.NAME
mac = _board.mac
network_up = _board.network_up
set_clock = _board.set_clock
status = _board.status
poll = _board.poll
