# mpy: skip
# (CPython only: drives tools/image.py, mp-image-tool-esp32, esptool and make)
"""The stock-firmware path: `make image FIRMWARE=<stock .bin>` (tools/image.py) carves a ROMFS
partition out of a MicroPython ESP32 image's `vfs` partition and writes the phone into it.

The firmware is made here, laid out as ESP-IDF lays out MicroPython's ESP32_GENERIC .bin: a
bootloader app image (magic 0xE9, checksum, SHA-256) at flash 0x1000, the partition table at
0x8000 (0xAA50 entries, then the 0xEBEB MD5 entry), the factory app at 0x10000 and the `vfs`
data/fat partition behind it (past the end of the file, as in the stock .bin). The output's
table and ROMFS bytes are read back here with parsers of the test's own.
"""
import hashlib
import os
import struct
import subprocess
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.path.join(REPO, ".venv", "bin")
sys.path.insert(0, os.path.join(REPO, "tools"))

import image  # noqa: E402  (imports mp_image_tool_esp32: it must be in .venv)
import romfs  # noqa: E402

KIB = 1024
# MicroPython's partitions-4MiB.csv as the stock ESP32_GENERIC images ship it
STOCK = [("nvs", 1, 0x02, 0x9000, 0x6000), ("phy_init", 1, 0x01, 0xF000, 0x1000),
         ("factory", 0, 0x00, 0x10000, 0x1F0000), ("vfs", 1, 0x81, 0x200000, 0x200000)]
BANNER = b"MicroPython v1.25.0 on 2025-04-15; Generic ESP32 module with ESP32\x00VfsRom\x00"


def app_image(chip_id, payload, load=0x3F400020):
    """An ESP app image: 24-byte header (4 MB flash, hash appended), one segment, the
    checksum byte at a 16-byte boundary, then the SHA-256 of all before it."""
    payload += b"\x00" * (-len(payload) % 4)
    head = struct.pack("<BBBBI4sHBHH4sB", 0xE9, 1, 2, 0x20, 0x40080000, b"\xee\x00\x00\x00",
                       chip_id, 0, 0, 0xFFFF, b"\x00" * 4, 1)
    body = head + struct.pack("<II", load, len(payload)) + payload
    checksum = 0xEF
    for b in payload:
        checksum ^= b
    body += b"\x00" * (15 - len(body) % 16) + bytes([checksum])
    return body + hashlib.sha256(body).digest()


def table_bytes(parts):
    rows = b"".join(struct.pack("<2sBBII16sI", b"\xaa\x50", t, st, off, size,
                                name.encode(), 0) for name, t, st, off, size in parts)
    md5_row = b"\xeb\xeb" + b"\xff" * 14 + hashlib.md5(rows).digest()
    return (rows + md5_row).ljust(0xC00, b"\xff")


def make_firmware(path, parts=STOCK, chip_id=0, bootloader=0x1000, banner=BANNER):
    """Write a firmware file as the stock .bin is: flash from `bootloader` to the app's end."""
    app = app_image(chip_id, banner + bytes(range(256)) * 16)
    flash = bytearray(b"\xff" * (0x10000 + len(app)))
    boot = app_image(chip_id, b"second stage bootloader" * 8, load=0x3FFF0000)
    flash[bootloader:bootloader + len(boot)] = boot
    flash[0x8000:0x8C00] = table_bytes(parts)
    flash[0x10000:] = app
    with open(path, "wb") as f:
        f.write(flash[bootloader:])
    return path


def read_table(flash):
    """[(name, type, subtype, offset, size)] and whether the MD5 entry matches the rows."""
    parts, i = [], 0x8000
    while flash[i:i + 2] == b"\xaa\x50":
        _, t, st, off, size, name, _ = struct.unpack("<2sBBII16sI", flash[i:i + 32])
        parts.append((name.rstrip(b"\x00").decode(), t, st, off, size))
        i += 32
    md5_ok = (flash[i:i + 2] == b"\xeb\xeb"
              and flash[i + 16:i + 32] == hashlib.md5(flash[0x8000:i]).digest())
    return parts, md5_ok


def as_flash(path, bootloader=0x1000):
    with open(path, "rb") as f:
        return b"\xff" * bootloader + f.read()


@pytest.fixture(scope="module")
def rom_image(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("romfs") / "esp32.romfs")
    romfs.build(path, "ESP32_GENERIC")
    with open(path, "rb") as f:
        return path, f.read()


@pytest.fixture(scope="module")
def stock_result(tmp_path_factory):
    """tools/image.py run end to end (ROMFS built for ESP32_GENERIC) on a stock-like .bin."""
    d = tmp_path_factory.mktemp("image")
    fw = make_firmware(str(d / "ESP32_GENERIC-v1.25.0.bin"))
    out = str(d / "tinysip-ESP32_GENERIC.bin")
    r = subprocess.run([os.path.join(BIN, "python"), os.path.join(REPO, "tools", "image.py"),
                        fw, "--board", "ESP32_GENERIC", "--out", out, "--port", "/dev/ttyUSB0"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    with open(str(d / "tinysip-ESP32_GENERIC.romfs"), "rb") as f:
        rom = f.read()
    return fw, out, rom, r.stdout


def test_the_synthetic_firmware_is_a_valid_image_for_esptool(tmp_path):
    fw = make_firmware(str(tmp_path / "fw.bin"))
    flash = as_flash(fw)
    app = tmp_path / "app.bin"
    app.write_bytes(flash[0x10000:])
    r = subprocess.run([os.path.join(BIN, "esptool"), "--chip", "esp32", "image-info",
                        str(app)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "(valid)" in r.stdout and "invalid" not in r.stdout.lower(), r.stdout
    parts, md5_ok = read_table(flash)
    assert parts == STOCK and md5_ok


def test_sizing_rule():
    for n in (1, 4096, 100 * KIB, 114232, 200 * KIB, 1000 * KIB):
        size = image.romfs_partition_size(n)
        assert size % 0x1000 == 0
        assert size >= n + max(n // 2, 64 * KIB)
        assert size - 0x1000 < n + max(n // 2, 64 * KIB)
    assert image.romfs_partition_size(114232) == 0x2C000  # the phone of session 15: 176 KiB
    assert image.romfs_partition_size(157570) == 0x3A000  # with voice (session 19): 232 KiB


def test_romfs_partition_carved_out_of_vfs(stock_result):
    fw, out, rom, _ = stock_result
    before, after = as_flash(fw), as_flash(out)
    parts, md5_ok = read_table(after)
    assert md5_ok, "the new table's MD5 entry does not match its rows"
    byname = {p[0]: p for p in parts}
    size = image.romfs_partition_size(len(rom))
    assert byname["romfs"] == ("romfs", 1, 0x8F, 0x200000, size)
    assert byname["vfs"] == ("vfs", 1, 0x81, 0x200000 + size, 0x200000 - size)
    assert [p[0] for p in parts] == ["nvs", "phy_init", "factory", "romfs", "vfs"]
    assert parts[:3] == STOCK[:3]
    # aligned, contiguous, and the flash they cover unchanged
    assert size % 0x1000 == 0 and size >= len(rom) + 64 * KIB
    end = max(off + sz for _, _, _, off, sz in parts)
    assert end == 0x400000 == STOCK[-1][3] + STOCK[-1][4]
    # bootloader and app untouched
    assert after[:0x8000] == before[:0x8000]
    assert after[0x10000:len(before)] == before[0x10000:]


def test_output_holds_the_tinysip_romfs_image(stock_result):
    _, out, rom, _ = stock_result
    flash = as_flash(out)
    parts, _ = read_table(flash)
    (off, size), = [(p[3], p[4]) for p in parts if (p[1], p[2]) == (1, 0x8F)]
    part = flash[off:off + size]
    assert part.startswith(b"\xd2\xcd\x31") and part[:len(rom)] == rom
    assert set(part[len(rom):]) == {0xFF}  # the rest of the partition erased
    files = image.read_romfs(part)
    assert files["lib/tinysip/ua.mpy"][:2] == b"M\x06"  # .mpy version 6
    for name in ("lib/app.mpy", "lib/board.mpy", "lib/esp32board.mpy", "lib/tinysip/uri.mpy"):
        assert name in files, sorted(files)
    # the first 16 KiB of vfs erased: the firmware formats a fresh filesystem
    vfs = [p for p in parts if p[0] == "vfs"][0]
    assert flash[vfs[3]:vfs[3] + 0x4000] == b"\xff" * 0x4000
    assert len(flash) == vfs[3] + 0x4000


def test_prints_progress_and_the_flash_and_copy_commands(stock_result):
    _, out, _, stdout = stock_result
    assert "image: romfs partition 0x" in stdout and "vfs 0x200000" in stdout
    assert ".venv/bin/esptool --chip esp32 --port /dev/ttyUSB0 erase-flash" in stdout
    assert ("esptool --chip esp32 --port /dev/ttyUSB0 write-flash 0x1000 %s" % out) in stdout
    assert ("mpremote connect /dev/ttyUSB0 fs cp firmware/main.py :main.py + fs cp phone.json "
            ":config.json + reset") in stdout
    assert "files in the romfs partition" in stdout and "table MD5 valid" in stdout


def test_s3_bootloader_at_zero(tmp_path, rom_image, capsys):
    path, rom = rom_image
    fw = make_firmware(str(tmp_path / "S3.bin"), chip_id=9, bootloader=0)
    out = str(tmp_path / "s3-out.bin")
    assert image.main([fw, "--romfs", path, "--out", out, "--romfs-size", "256K",
                       "--board", "ESP32_S3"]) == 0
    flash = as_flash(out, bootloader=0)
    parts, md5_ok = read_table(flash)
    assert md5_ok and ("romfs", 1, 0x8F, 0x200000, 0x40000) in parts
    assert flash[0x200000:0x200000 + len(rom)] == rom
    assert "--chip esp32s3 --port PORT write-flash 0x0 " in capsys.readouterr().out


def test_existing_romfs_partition_is_filled_table_kept(tmp_path, rom_image):
    path, rom = rom_image
    parts = STOCK[:3] + [("romfs", 1, 0x8F, 0x200000, 0x40000),
                         ("vfs", 1, 0x81, 0x240000, 0x1C0000)]
    fw = make_firmware(str(tmp_path / "romfs-variant.bin"), parts=parts)
    out = str(tmp_path / "out.bin")
    assert image.main([fw, "--romfs", path, "--out", out]) == 0
    flash = as_flash(out)
    assert read_table(flash) == (parts, True)
    assert flash[0x200000:0x200000 + len(rom)] == rom


def _fails(capsys, *argv):
    assert image.main(list(argv)) == 1
    return capsys.readouterr().err


def test_no_vfs_partition(tmp_path, rom_image, capsys):
    fw = make_firmware(str(tmp_path / "novfs.bin"), parts=STOCK[:3] + [
        ("ffat", 1, 0x81, 0x200000, 0x200000)])
    err = _fails(capsys, fw, "--romfs", rom_image[0], "--out", str(tmp_path / "o.bin"))
    assert "no 'vfs' partition" in err and "ffat" in err


def test_vfs_too_small_says_the_sizes(tmp_path, rom_image, capsys):
    path, rom = rom_image
    fw = make_firmware(str(tmp_path / "small.bin"), parts=STOCK[:2] + [
        ("factory", 0, 0, 0x10000, 0x3C0000), ("vfs", 1, 0x81, 0x3D0000, 0x30000)])
    err = _fails(capsys, fw, "--romfs", path, "--out", str(tmp_path / "o.bin"))
    need = image.romfs_partition_size(len(rom))
    assert "vfs partition is too small" in err
    assert "it is 0x30000 (192.0 KiB)" in err
    assert "needs %#x" % need in err and "ROMFS image of %#x" % len(rom) in err
    assert "keep 0x10000 (64.0 KiB)" in err
    assert not os.path.exists(str(tmp_path / "o.bin"))


def test_board_of_another_chip(tmp_path, rom_image, capsys):
    fw = make_firmware(str(tmp_path / "fw.bin"))
    err = _fails(capsys, fw, "--romfs", rom_image[0], "--out", str(tmp_path / "o.bin"),
                 "--board", "ESP32_S3")
    assert "BOARD=ESP32_S3 is an esp32s3 board" in err and "is esp32 firmware" in err
    assert image.board_chip("ESP32_GENERIC") == "esp32" and image.board_chip("host") is None
    err = _fails(capsys, fw, "--board", "host", "--out", str(tmp_path / "o.bin"))
    assert "no ESP32 board 'host'" in err


def test_romfs_size_below_the_image(tmp_path, rom_image, capsys):
    fw = make_firmware(str(tmp_path / "fw.bin"))
    err = _fails(capsys, fw, "--romfs", rom_image[0], "--out", str(tmp_path / "o.bin"),
                 "--romfs-size", "16K")
    assert "ROMFS_SIZE 0x4000 (16.0 KiB) is smaller than the ROMFS image" in err


def test_not_a_micropython_image(tmp_path, rom_image, capsys):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"PK\x03\x04 not firmware" * 5000)
    err = _fails(capsys, str(junk), "--romfs", rom_image[0], "--out", str(tmp_path / "o.bin"))
    assert "junk.bin is not a MicroPython ESP32 image" in err and "magic" in err
    other = make_firmware(str(tmp_path / "arduino.bin"), banner=b"Arduino sketch\x00")
    err = _fails(capsys, other, "--romfs", rom_image[0], "--out", str(tmp_path / "o.bin"))
    assert "arduino.bin is not a MicroPython ESP32 image: no 'MicroPython'" in err
    err = _fails(capsys, str(tmp_path / "missing.bin"), "--romfs", rom_image[0])
    assert "missing.bin not found" in err


def test_make_image_from_the_shell(tmp_path):
    fw = make_firmware(str(tmp_path / "ESP32_GENERIC-v1.25.0.bin"))
    out = str(tmp_path / "made.bin")
    r = subprocess.run(["make", "--no-print-directory", "image", "FIRMWARE=" + fw, "OUT=" + out,
                        "ROMFS_SIZE=320K", "PORT=/dev/ttyACM0"], cwd=REPO,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    parts, md5_ok = read_table(as_flash(out))
    assert md5_ok and ("romfs", 1, 0x8F, 0x200000, 320 * KIB) in parts
    assert "write-flash 0x1000 %s" % out in r.stdout and "/dev/ttyACM0" in r.stdout
    r = subprocess.run(["make", "--no-print-directory", "image"], cwd=REPO,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "FIRMWARE is required" in r.stderr
