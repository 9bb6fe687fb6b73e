"""ESP32-WROOM DevKitC (no PSRAM): names only; copied to the device as /board.py."""
from esp32board import Esp32Board  # not "esp32": that name is a built-in on the device

_board = Esp32Board("esp32", 2)  # the on-board LED's pin
NAME = _board.NAME
mac = _board.mac
network_up = _board.network_up
status = _board.status
