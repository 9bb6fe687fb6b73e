# Freeze manifest: tinysip in the firmware image of a custom MicroPython build for ESP32_GENERIC.
#
#   cd micropython/ports/esp32
#   make BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/tinysip/boards/ESP32_GENERIC/manifest.py
#
# Frozen modules run from flash (no .mpy copied into the heap at import) and '.frozen' comes
# before /lib on sys.path: the device then needs only main.py and config.json
# (tools/deploy.py --no-lib). Paths are relative to this file; opt=3 matches make mpy (-O3).

# the port's own frozen set: asyncio, ntptime, mip, neopixel, ... (tinysip needs ntptime,
# and neopixel for the ESP32-S3's RGB LED)
include("$(PORT_DIR)/boards/manifest.py")

import os  # lib/tinysip/**.py (io/ too) less tools/romfs.py's CPYTHON_ONLY (cwd: this dir)
_t = "../../lib/tinysip"
_files = sorted(os.path.relpath(os.path.join(d, n), _t) for d, _, names in os.walk(_t)
                for n in names if n.endswith(".py") and n != "fastparse.py")
package("tinysip", files=_files, base_path="../../lib", opt=3)
module("app.py", base_path="../../firmware", opt=3)
module("diag.py", base_path="../../firmware", opt=3)
module("callctl.py", base_path="../../firmware", opt=3)
module("esp32board.py", base_path="../../firmware", opt=3)
module("board.py", opt=3)  # this board's names (the LED pin ...)
