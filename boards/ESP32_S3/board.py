"""ESP32-S3 DevKitC-1 (PSRAM): names only; deployed as /lib/board.mpy (make deploy).

LED: the WS2812 RGB LED on GPIO48 (GPIO38 on board revision 1.1), driven with neopixel.
BUTTON: the BOOT button (GPIO0, low when pressed).
I2S: None while no audio parts are wired (the phone mirrors RTP only); set it to True
once the microphone and the amplifier are wired to the I2S_IN and I2S_OUT pins, and
tinysip.io.i2s.audio(board) opens them (issue 17).
"""
from esp32board import Esp32Board  # not "esp32": that name is a built-in on the device
from esp32board import sys_heap  # noqa: F401 - the ESP-IDF heap figures (app, driver)

LED = 48
BUTTON = 0
I2S = None
# Each part has its own I2S peripheral and SCK/WS pair (why: tinysip/io/i2s.py).
# INMP441 microphone: (I2S id, SCK, WS, SD); VDD 3.3 V, GND, L/R to GND (left slot).
I2S_IN = (0, 12, 13, 11)
# MAX98357A amplifier: (I2S id, BCLK, LRC, DIN); VIN 5 V (or 3.3 V), GND; on the common
# breakouts SD_MODE left open plays (L+R)/2 and GAIN left open is 9 dB.
I2S_OUT = (1, 15, 16, 14)
# (None of these pins is a strapping pin.)
# Where the cached certificates are kept when config certificates.cache_dir does not say:
# the flash's file system, not the GC heap (~750 B each; README, config keys)
CERT_DIR = "/certs"

_board = Esp32Board("esp32-s3", LED, rgb=True, button=BUTTON)
NAME = _board.NAME
mac = _board.mac
network_up = _board.network_up
set_clock = _board.set_clock
status = _board.status
poll = _board.poll
