"""The firmware with its live heap in its events (MicroPython; tools/bench/heap.py --live).

Runs in place of firmware/main.py, same arguments, ROMFS image (TINYSIP_ROMFS) or .mpy
tree (TINYSIP_LIB): after gc.collect() it adds `mem` (gc.mem_alloc(), bytes) to each
keepalive, registered, certificate_cached, call_answered and call_ended event. Only for
measuring: this file is compiled from source at boot and stays loaded, which the
difference of two readings cancels out.
"""
import gc
import os
import sys

_rom = os.getenv("TINYSIP_ROMFS")
_lib = os.getenv("TINYSIP_LIB")
_here = __file__.rpartition("/")[0] or "."
sys.path[0:0] = [_here + "/../../firmware", _here + "/../../lib", _here + "/../../boards/host"]
if _lib:
    sys.path[0:0] = [_lib, _lib + "/../firmware"]
if _rom:
    import uctypes
    import vfs

    _a, _, _n = _rom.partition(":")
    vfs.mount(vfs.VfsRom(uctypes.bytearray_at(int(_a), int(_n))), "/rom")
    sys.path.insert(0, "/rom/lib")

import app  # noqa: E402

_emit = app.emit
_MEASURED = ("keepalive", "registered", "certificate_cached", "call_answered", "call_ended")


def emit(fields):
    if fields.get("event") in _MEASURED:
        gc.collect()
        fields["mem"] = gc.mem_alloc()
    _emit(fields)


app.emit = emit
app.main(sys.argv[1] if len(sys.argv) > 1 else "config.json")
