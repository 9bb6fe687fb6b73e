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


def _run():
    # everything lives in this function: its locals are not interned, so the wrapper adds
    # almost no names to the phone's qstr pools (which decide its heap at ~620 names)
    rom = os.getenv("TINYSIP_ROMFS")
    lib = os.getenv("TINYSIP_LIB")
    here = __file__.rpartition("/")[0] or "."
    sys.path[0:0] = [here + "/../../firmware", here + "/../../lib", here + "/../../boards/host"]
    if lib:
        sys.path[0:0] = [lib, lib + "/../firmware"]
    if rom:
        import uctypes
        import vfs

        a, _, n = rom.partition(":")
        vfs.mount(vfs.VfsRom(uctypes.bytearray_at(int(a), int(n))), "/rom")
        sys.path.insert(0, "/rom/lib")

    import app

    first = app.emit
    measured = ("keepalive", "registered", "certificate_cached", "call_answered", "call_ended")

    def emit(fields):
        if fields.get("event") in measured:
            gc.collect()
            fields["mem"] = gc.mem_alloc()
        first(fields)

    app.emit = emit
    app.main(sys.argv[1] if len(sys.argv) > 1 else "config.json")


_run()
