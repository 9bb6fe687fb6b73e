"""One .bin to flash: stock MicroPython ESP32 firmware with the phone in a ROMFS partition.

    python tools/image.py FIRMWARE.bin [--board ESP32_GENERIC] [--out FILE]
                          [--romfs-size SIZE] [--romfs IMAGE] [--port PORT] [--config FILE]

Stock firmware from micropython.org (ESP32_GENERIC, ESP32_GENERIC_S3, ... 1.25 or later)
mounts a ROMFS partition at /rom by itself (VfsRom, code executed in place from flash), but
its partition table has none. This makes one with mp-image-tool-esp32 (its Python API:
Firmware, PartitionTable, PartitionEntry):

1. build the tools/romfs.py image for the board (build/tinysip-<board>.romfs), or take
   --romfs IMAGE;
2. copy FIRMWARE to --out (default build/tinysip-<board>.bin) and carve a partition named
   `romfs` (type data, subtype 0x8f) off the front of the `vfs` partition: vfs starts
   later by that much and shrinks by it, the flash the two cover stays the same. Sizing
   rule: the image rounded up to 4 KiB flash erase blocks, plus room to grow of half the
   image, at least 64 KiB (so a later `make deploy ROMFS=1` of a bigger phone fits):
   size = round_up_4k(n + max(n // 2, 64 KiB)); --romfs-size overrides it (rounded up to
   4 KiB, at least the image). vfs must keep 64 KiB for config.json and the certificates;
3. write the partition table (MD5 entry as ESP-IDF writes it), the image into `romfs`
   (the rest of the partition erased, 0xff), and erase the first 16 KiB of `vfs`, so the
   firmware formats a fresh filesystem at first boot instead of mounting a stale one;
4. read the result back (table, MD5, the ROMFS records) and print the esptool command
   that flashes it and the mpremote command that copies main.py and the config.

A firmware that already has a `romfs` partition keeps its table; the image goes into it.
The .bin is flashed at the bootloader's offset: 0x1000 on the ESP32 (and S2), 0 on the
S3/C3/C6; the file's offset N is flash address N + that offset.
"""
import argparse
import copy
import logging
import os
import shutil
import subprocess
import sys

from mp_image_tool_esp32.argtypes import IntArg
from mp_image_tool_esp32.firmware import Firmware
from mp_image_tool_esp32.partition_table import (PART_MAGIC, PART_NAME_LEN, PartitionEntry,
                                                 PartitionError)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, ".venv", "bin")
sys.path.insert(0, os.path.join(ROOT, "tools"))

BLOCK = 0x1000  # ESP32 flash erase block
GROW_MIN = 64 * 1024  # the least room to grow in the romfs partition
VFS_MIN = 64 * 1024  # what vfs keeps at the least (config.json, certificates)
VFS_HEAD = 4 * BLOCK  # erased at the start of vfs: no stale filesystem is mounted
DATA_TYPE = 0x01
ROMFS_SUBTYPE = 0x8F  # the subtype MicroPython's own ROMFS partition tables give it
ROMFS_NAME = "romfs"  # the label the firmware finds it by
ROMFS_KIND = 0x14A6B1  # the image's first record: b"\xd2\xcd\x31" as a varuint
KIND_DIR, KIND_FILE, KIND_VERBATIM = 4, 5, 2


class ImageError(Exception):
    pass


def kib(n):
    return "%#x (%.1f KiB)" % (n, n / 1024)


def round_up(n, step=BLOCK):
    return (n + step - 1) // step * step


def romfs_partition_size(image_len):
    """The sizing rule: the image plus half of it (at least 64 KiB), in 4 KiB blocks."""
    return round_up(image_len + max(image_len // 2, GROW_MIN))


# --- the ROMFS format (MicroPython extmod/vfs_rom.c): varuint kind, varuint length, payload;
# a directory's payload is its name then its records, a file's its name then a data record.

def _uint(data, i):
    """The varuint at data[i] (7 bits a byte, high bit: more follow) and the index after it."""
    value = 0
    for j in range(i, len(data)):
        value = (value << 7) | (data[j] & 0x7F)
        if data[j] < 0x80:
            return value, j + 1
    raise ValueError("ROMFS record runs past the end (offset %d)" % i)


def _record(data, i, end):
    kind, i = _uint(data, i)
    size, i = _uint(data, i)
    if i + size > end:
        raise ValueError("ROMFS record of %d bytes at %d runs past its parent" % (size, i))
    return kind, i, i + size


def _name(data, i):
    n, i = _uint(data, i)
    return data[i:i + n].decode(), i + n


def _walk(data, i, end, prefix, out):
    while i < end:
        kind, start, stop = _record(data, i, end)
        if kind in (KIND_DIR, KIND_FILE):
            name, j = _name(data, start)
            if kind == KIND_DIR:
                _walk(data, j, stop, prefix + name + "/", out)
            else:
                out[prefix + name] = b""
                while j < stop:  # the file's data record (other kinds: skipped)
                    sub, a, b = _record(data, j, stop)
                    if sub == KIND_VERBATIM:
                        out[prefix + name] = bytes(data[a:b])
                    j = b
        i = stop  # padding and unknown records are skipped, as vfs_rom.c does
    return out


def read_romfs(data):
    """{path: bytes} of the files in a ROMFS image (bytes at a partition's start, trailing
    erased flash allowed); ValueError when it is not one."""
    if bytes(data[:3]) != b"\xd2\xcd\x31":
        raise ValueError("no ROMFS header (d2:cd:31) but %s" % bytes(data[:3]).hex(":"))
    kind, start, stop = _record(data, 0, len(data))
    if kind != ROMFS_KIND:
        raise ValueError("ROMFS header kind %#x" % kind)
    return _walk(data, start, stop, "", {})


def romfs_image_len(data):
    """Bytes the ROMFS image at the start of `data` spans (header record included)."""
    read_romfs(data)
    _, _, stop = _record(data, 0, len(data))
    return stop


# --- the partition table

def _label(entry):
    return entry.label.rstrip(b"\x00").decode(errors="replace")


def find_romfs(table):
    """The partition the firmware mounts at /rom: the data partition labelled romfs (its
    vfs.rom_ioctl looks for that label, of any subtype)."""
    return next((p for p in table if p.type == DATA_TYPE and _label(p) == ROMFS_NAME), None)


def plan(table, image_len, romfs_size=None):
    """(romfs entry, vfs entry) of the new table: romfs cut off the front of vfs. For a
    table that has a romfs partition already: (that one, None). ImageError says what does
    not fit."""
    existing = find_romfs(table)
    if existing is not None:
        if image_len > existing.size:
            raise ImageError("the firmware's %s partition is %s, the ROMFS image needs %s"
                             % (_label(existing), kib(existing.size), kib(image_len)))
        return existing, None
    vfs = table.find("vfs")
    if vfs is None:
        raise ImageError("the firmware has no 'vfs' partition to take the ROMFS partition "
                         "from (partitions: %s)" % ", ".join(_label(p) for p in table))
    if romfs_size is None:
        size = romfs_partition_size(image_len)
    else:
        size = round_up(romfs_size)
        if size < image_len:
            raise ImageError("ROMFS_SIZE %s is smaller than the ROMFS image, %s"
                             % (kib(size), kib(image_len)))
    if vfs.size < size + VFS_MIN:
        tight = round_up(image_len)
        hint = ("; ROMFS_SIZE=%dK (the image alone, no room to grow) would fit" % (tight // 1024)
                if tight < size and vfs.size >= tight + VFS_MIN else "")
        raise ImageError("the vfs partition is too small: it is %s; the romfs partition "
                         "needs %s for the ROMFS image of %s, and vfs must keep %s%s"
                         % (kib(vfs.size), kib(size), kib(image_len), kib(VFS_MIN), hint))
    label = ROMFS_NAME.encode().ljust(PART_NAME_LEN, b"\x00")
    romfs = PartitionEntry(PART_MAGIC, DATA_TYPE, ROMFS_SUBTYPE, vfs.offset, size, label, 0)
    return romfs, vfs._replace(offset=vfs.offset + size, size=vfs.size - size)


def _open(path, what):
    try:
        return Firmware(path)
    except (ValueError, PartitionError) as e:
        raise ImageError("%s is not a MicroPython ESP32 image: %s" % (what, e))


def _pad(path, bootloader, flash_end):
    """Extend the file with erased flash (0xff) up to flash address `flash_end`."""
    size = os.path.getsize(path)
    if size < flash_end - bootloader:
        with open(path, "ab") as f:
            f.write(b"\xff" * (flash_end - bootloader - size))


def _print_table(table):
    print("image:   %-16s %-5s %-7s %10s %10s" % ("name", "type", "subtype", "offset", "size"))
    for p in sorted(table, key=lambda p: p.offset):
        print("image:   %-16s %-5s %#-7x %#10x %#10x" % (
            _label(p), {0: "app", 1: "data"}.get(p.type, p.type), p.subtype, p.offset, p.size))


def _check_micropython(fw, what):
    try:
        app = fw.table.app_part
    except PartitionError as e:
        raise ImageError("%s is not a MicroPython ESP32 image: %s" % (what, e))
    try:
        with fw.partition(app) as part:
            code = part.read()
    except ValueError as e:  # the app partition lies past the file's end
        raise ImageError("%s is not a MicroPython ESP32 image: %s" % (what, e))
    if b"MicroPython" not in code:
        raise ImageError("%s is not a MicroPython ESP32 image: no 'MicroPython' in its %s "
                         "app" % (what, _label(app)))
    if b"VfsRom" not in code:
        print("image: warning: no VfsRom in %s: firmware before MicroPython 1.25 does not "
              "mount a ROMFS partition" % what)


def _log_through_print():
    """mp-image-tool-esp32's own progress (its ACTION level and warnings) as image: lines."""
    log = logging.getLogger("mp_image_tool_esp32")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("image:   mp-image-tool-esp32: %(message)s"))
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(logging.INFO + 1)


def board_chip(board):
    """The esptool chip name a boards/<BOARD> name implies (ESP32_S3 -> esp32s3), or None."""
    name = board.upper().replace("_GENERIC", "")
    return name.lower().replace("_", "") if name.startswith("ESP32") else None


def make_image(firmware, out, romfs_image, romfs_size=None, board=None):
    """Write `out`: `firmware` with `romfs_image` (bytes) in a romfs partition. Returns
    (chip name, bootloader offset, romfs entry, vfs entry or None)."""
    if not os.path.isfile(firmware):
        raise ImageError("firmware file %s not found" % firmware)
    try:
        romfs_image_len(romfs_image)
    except ValueError as e:
        raise ImageError("the ROMFS image is not one: %s" % e)
    _log_through_print()
    fw = _open(firmware, firmware)
    try:
        _check_micropython(fw, firmware)
        chip, bootloader, table = fw.header.chip_name, fw.bootloader, fw.table
    finally:
        fw.file.close()
    print("image: %s: %s firmware, %d MB flash, bootloader at %#x" % (
        firmware, chip, fw.header.flash_size // (1024 * 1024), bootloader))
    if board and board_chip(board) not in (None, chip):
        raise ImageError("BOARD=%s is an %s board, %s is %s firmware: take the board's own "
                         "firmware, or the BOARD of this chip" % (
                             board, board_chip(board), firmware, chip))
    rom, vfs = plan(table, len(romfs_image), romfs_size)
    if vfs is None:
        print("image: the firmware has a romfs partition already (%s at %#x): the image "
              "goes into it" % (kib(rom.size), rom.offset))
    else:
        print("image: romfs partition %s at %#x (the ROMFS image, %s, and room to grow); "
              "vfs %s -> %s at %#x" % (kib(rom.size), rom.offset, kib(len(romfs_image)),
                                       kib(rom.size + vfs.size), kib(vfs.size), vfs.offset))

    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    shutil.copyfile(firmware, out)
    try:
        _write(out, bootloader, rom, vfs, romfs_image)
        _verify(out, romfs_image)
    except BaseException:
        os.remove(out)  # no half-made image left to flash
        raise
    return chip, bootloader, rom, vfs


def _write(out, bootloader, rom, vfs, romfs_image):
    # the partitions must lie inside the file for mp-image-tool-esp32 to write them
    _pad(out, bootloader, rom.offset + rom.size if vfs is None else vfs.offset + VFS_HEAD)
    fw = _open(out, out)
    try:
        if vfs is not None:
            table = copy.copy(fw.table)
            table[table.index(table.by_name("vfs"))] = vfs
            table.append(rom)
            table.sort(key=lambda p: p.offset)
            table.check()
            fw.update_image(table, fw.header)  # the table with its MD5 entry
            print("image: erasing the first %d KiB of vfs at %#x (formatted afresh at first "
                  "boot)" % (VFS_HEAD // 1024, vfs.offset))
            with fw.partition("vfs") as part:
                part.erase(VFS_HEAD)
        print("image: writing the ROMFS image (%d bytes) into %s at %#x"
              % (len(romfs_image), _label(rom), rom.offset))
        with fw.partition(rom) as part:
            part.write(romfs_image)
            part.truncate()  # the rest of the partition erased
    finally:
        fw.file.close()


def _verify(out, romfs_image):
    fw = _open(out, out)
    try:
        _print_table(fw.table)
        part = find_romfs(fw.table)
        if part is None:
            raise ImageError("%s: no romfs partition after writing it" % out)
        with fw.partition(part) as p:
            got = p.read(len(romfs_image))
    finally:
        fw.file.close()
    if got != romfs_image:
        raise ImageError("%s: the romfs partition does not hold the image read back" % out)
    files = read_romfs(got)
    print("image: %s: %d files in the romfs partition (%s ...), table MD5 valid"
          % (_here(out), len(files), ", ".join(sorted(files)[:3])))


def _here(path):
    """`path` as the user typed it from the current folder (absolute when outside it)."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def commands(chip, bootloader, out, port=None, config=None):
    """The commands that put the image on a board, then main.py and the config."""
    port = port or "PORT"
    esptool = _here(os.path.join(BIN, "esptool"))
    return [
        "%s --chip %s --port %s erase-flash" % (esptool, chip, port),
        "%s --chip %s --port %s write-flash %#x %s" % (esptool, chip, port, bootloader,
                                                       _here(out)),
        "%s connect %s fs cp %s :main.py + fs cp %s :config.json + reset" % (
            _here(os.path.join(BIN, "mpremote")), port,
            _here(os.path.join(ROOT, "firmware", "main.py")), config or "phone.json"),
    ]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("firmware", help="stock MicroPython ESP32 .bin (micropython.org)")
    ap.add_argument("--board", default="ESP32_GENERIC", help="boards/<BOARD> (ESP32_GENERIC)")
    ap.add_argument("--out", help="the .bin to write (build/tinysip-<board>.bin)")
    ap.add_argument("--romfs-size", type=IntArg,
                    help="romfs partition size (0x30000, 192K, 48B = blocks of 4 KiB)")
    ap.add_argument("--romfs", help="a ROMFS image to use instead of building one")
    ap.add_argument("--port", help="the serial port, for the printed commands")
    ap.add_argument("--config", help="the config file, for the printed commands")
    a = ap.parse_args(argv)
    out = a.out or os.path.join(ROOT, "build", "tinysip-%s.bin" % a.board)
    try:
        if a.romfs:
            image = a.romfs
        else:
            if (board_chip(a.board) is None
                    or not os.path.isfile(os.path.join(ROOT, "boards", a.board, "board.py"))):
                raise ImageError("no ESP32 board %r (boards/: %s)" % (a.board, " ".join(
                    sorted(os.listdir(os.path.join(ROOT, "boards"))))))
            import romfs

            image = os.path.join(os.path.dirname(out), "tinysip-%s.romfs" % a.board)
            print("image: building the ROMFS image for %s: %s" % (a.board, _here(image)))
            romfs.build(image, a.board)
        with open(image, "rb") as f:
            data = f.read()
        chip, bootloader, _, _ = make_image(a.firmware, out, data, a.romfs_size, a.board)
    except (ImageError, OSError, PartitionError, subprocess.CalledProcessError) as e:
        print("image: %s" % e, file=sys.stderr)
        return 1
    print("image: %s is ready (%d bytes). Flash it (erase-flash first wipes the old "
          "filesystem), then copy main.py and the config:" % (_here(out), os.path.getsize(out)))
    for cmd in commands(chip, bootloader, out, a.port, a.config):
        print("    " + cmd)
    print("image: the certificate files the config names (tls.ca, ...) go the same way, or "
          "all at once: %s %s --port %s --no-lib --config %s" % (
              _here(os.path.join(BIN, "python")), _here(os.path.join(ROOT, "tools", "deploy.py")),
              a.port or "PORT", a.config or "phone.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
