"""tinysip firmware entry point (kept tiny: compiling source at boot costs heap).

Host board (unix port):  micropython firmware/main.py CONFIG.json
    lib/ and boards/host/ are found next to this file; TINYSIP_LIB names a compiled
    (.mpy) tree to use first, as `make phone` does.
Device: main.py runs at boot, reads /config.json; lib, app.mpy and the board module
(board.mpy) live in /lib (make deploy), or all of them in the ROMFS partition's /rom/lib
(on sys.path; make deploy ROMFS=1), or are frozen into the firmware (boards/*/manifest.py).
TINYSIP_ROMFS=<address>:<length> (set by tools/romfs.py run) mounts an image the host maps.
"""
import sys

_f = globals().get("__file__", "")
_here = _f.rpartition("/")[0] if "/" in _f else "."
# a device has /lib on sys.path already; the unix port playing one (make deploy) has not
_paths = [_here, _here + "/lib", _here + "/../lib", _here + "/../boards/host"]
try:
    import os

    _lib = os.getenv("TINYSIP_LIB")
    if _lib:
        _paths[0:0] = [_lib, _lib + "/../firmware"]
    # tools/romfs.py run: the host plays a device's ROMFS partition (the image mapped outside
    # the heap, code executed in place); a device mounts its partition at /rom by itself.
    _rom = os.getenv("TINYSIP_ROMFS")
    if _rom:
        import uctypes
        import vfs

        _a, _, _n = _rom.partition(":")
        vfs.mount(vfs.VfsRom(uctypes.bytearray_at(int(_a), int(_n))), "/rom")
        _paths[0:0] = ["/rom/lib"]
        del _a, _n
except (ImportError, AttributeError):
    pass
for _p in reversed(_paths):  # ahead of the script's own folder, so app.mpy beats app.py
    if _p in sys.path:
        sys.path.remove(_p)
    sys.path.insert(0, _p)

import app  # noqa: E402

app.main(sys.argv[1] if len(sys.argv) > 1 else "config.json")
