"""Put the phone on a device with mpremote: compiled library, firmware, board module, config.

    python tools/deploy.py --port PORT [--board ESP32_GENERIC] [--config FILE]
                           [--romfs] [--no-lib] [--no-reset]

PORT is anything `mpremote connect` takes: /dev/ttyUSB0, a pty, socket://host:port.
Steps:
1. compile lib/tinysip, firmware/app.py, boards/<board>/board.py (and firmware/esp32board.py
   for the ESP32 boards) with mpy-cross -O3 into build/deploy/<board>/lib/ (the tree
   tools/romfs.py stages);
2. copy it to the device's lib/ (mpremote fs cp, folders created), firmware/main.py to
   main.py, the config to config.json, and the certificate files the config names
   (tls.ca, certificates.ca, certificates.identity) when they lie next to the config under
   that relative name;
3. reset the device, which boots main.py. The MicroPython unix port (sys.platform linux,
   reached with `mpremote connect ... resume`) cannot be reset: deploy sees it, skips the
   reset and says so. --no-reset skips it on a device too.

--romfs: build the tools/romfs.py image for the board and write it to the device's ROMFS
partition (`mpremote romfs deploy`; firmware 1.25+ with a ROMFS partition), code then runs
in place from flash; main.py and the config still go to the filesystem. The unix port has
no ROMFS partition: there use `tools/romfs.py run`.
--no-lib: only main.py and the config (firmware with tinysip frozen in, boards/*/manifest.py).
Without --config the board's config.example.json is copied (edit it on the device).
Paths on the device are relative (lib/..., config.json): the root on a device, the
process's working directory on the unix port.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPREMOTE = os.path.join(ROOT, ".venv", "bin", "mpremote")
CERT_KEYS = ("tls.ca", "certificates.ca", "certificates.identity")
NO_ROMFS_HINT = ("stock firmware has no ROMFS partition: `make image FIRMWARE=<stock .bin>` "
                 "makes one .bin (MicroPython 1.25+) with it and the phone in it, to flash "
                 "with esptool")

sys.path.insert(0, os.path.join(ROOT, "tools"))
import romfs  # noqa: E402


class DeployError(Exception):
    pass


def mpremote(port, *args, resume=True, capture=False, timeout=300):
    """Run `mpremote connect PORT [resume] ARGS...`; its stdout when capture."""
    cmd = [MPREMOTE, "connect", port] + (["resume"] if resume else []) + list(args)
    p = subprocess.run(cmd, stdout=subprocess.PIPE if capture else None, timeout=timeout)
    if p.returncode:
        raise DeployError("%s failed (exit %d)" % (" ".join(cmd), p.returncode))
    return p.stdout.decode() if capture else None


def platform(port):
    """sys.platform of the MicroPython at `port` ('esp32', 'linux' for the unix port, ...).
    With resume: the unix port would die of a soft reset, a device does not mind."""
    out = mpremote(port, "exec", "import sys; print('platform=' + sys.platform)", capture=True)
    for line in out.splitlines():
        if line.startswith("platform="):
            return line[len("platform="):].strip()
    raise DeployError("no answer from the MicroPython at %s: %r" % (port, out))


def is_unix_port(plat):
    return plat in ("linux", "darwin")


def _lookup(cfg, key):
    node = cfg
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def config_files(config):
    """[(local path, device path)] for the config and the certificate files it names that
    lie next to it under a relative name."""
    with open(config) as f:
        try:
            cfg = json.load(f)
        except ValueError as e:
            raise DeployError("config %s is not valid JSON: %s" % (config, e))
    out = [(config, "config.json")]
    here = os.path.dirname(os.path.abspath(config))
    for key in CERT_KEYS:
        name = _lookup(cfg, key)
        if isinstance(name, str) and not name.startswith("/"):
            local = os.path.join(here, name)
            if os.path.isfile(local):
                out.append((local, name))
            else:
                print("deploy: %s %r is not next to the config: not copied" % (key, name))
    return out


def stage(board):
    """build/deploy/<board>/lib: the compiled tree (tools/romfs.py's staging)."""
    dest = os.path.join(ROOT, "build", "deploy", board)
    shutil.rmtree(dest, ignore_errors=True)
    romfs.stage(dest, board)
    return dest


def _dirs(paths):
    """The parent folders of device paths, shallowest first (mkdir for the cert files)."""
    out = []
    for p in paths:
        parts = p.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in out:
                out.append(d)
    return out


def deploy(port, board="ESP32_GENERIC", config=None, use_romfs=False, lib=True, reset=True):
    if not os.path.isfile(os.path.join(ROOT, "boards", board, "board.py")):
        raise DeployError("no board %r (boards/: %s)" % (
            board, " ".join(sorted(os.listdir(os.path.join(ROOT, "boards"))))))
    if config is None:
        config = os.path.join(ROOT, "boards", board, "config.example.json")
        if not os.path.isfile(config):
            raise DeployError("no CONFIG given and no %s" % config)
        print("deploy: no config given: copying %s (edit config.json on the device)"
              % os.path.relpath(config, ROOT))
    files = config_files(config)
    plat = platform(port)
    unix = is_unix_port(plat)
    print("deploy: %s is %s, board %s" % (port, "the unix port" if unix else plat, board))
    if use_romfs and unix:
        raise DeployError("the unix port has no ROMFS partition: deploy without --romfs, "
                          "or run an image on the host with tools/romfs.py run")
    cmds = []
    if use_romfs:
        image = os.path.join(ROOT, "build", "deploy", board + ".romfs")
        romfs.build(image, board)
        try:
            q = mpremote(port, "romfs", "query", resume=unix, capture=True)
        except DeployError as e:  # mpremote: "ROMFS0 partition not found on device"
            raise DeployError("%s (if it says ROMFS0 partition not found: %s)"
                              % (e, NO_ROMFS_HINT))
        if "not enabled" in q or "no romfs" in q.lower():  # "No ROMFS partitions available"
            raise DeployError("%s has no ROMFS partition (mpremote romfs query: %s); %s"
                              % (port, q.strip(), NO_ROMFS_HINT))
        cmds += ["romfs", "deploy", image, "+"]
    elif lib:
        tree = stage(board)
        for dirpath, _, names in sorted(os.walk(os.path.join(tree, "lib"))):
            rel = os.path.relpath(dirpath, tree)
            files[0:0] = [(os.path.join(dirpath, n), rel + "/" + n) for n in sorted(names)]
    dirs = _dirs([dev for _, dev in files])
    if dirs:  # mkdir what is missing (fs cp does not; fs mkdir fails on an existing one)
        cmds += ["exec", "import os\nfor d in %r:\n try:\n  os.mkdir(d)\n except OSError:\n"
                 "  pass" % dirs, "+"]
    cmds += ["fs", "cp", os.path.join(ROOT, "firmware", "main.py"), ":main.py", "+"]
    for local, dev in files:
        cmds += ["fs", "cp", local, ":" + dev, "+"]
    reset = reset and not unix
    if reset:
        cmds += ["reset"]
    else:
        cmds.pop()  # the trailing "+"
    # a device: no resume, the soft reset into the raw REPL stops a running phone first
    mpremote(port, *cmds, resume=unix)
    n = sum(1 for _, dev in files if dev.startswith("lib/"))
    what = ("ROMFS image" if use_romfs else "%d modules in lib/" % n if lib
            else "no library (frozen)")
    print("deploy: %s, main.py, %s copied" % (
        what, ", ".join(dev for _, dev in files if not dev.startswith("lib/"))))
    if unix:
        print("deploy: not reset: the unix port cannot be reset (it would exit). Start the "
              "phone in its working directory: micropython main.py config.json")
    elif not reset:
        print("deploy: not reset (--no-reset): `mpremote connect %s reset` boots it" % port)
    else:
        print("deploy: %s reset: the phone boots main.py" % port)
    return unix


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", required=True, help="mpremote connect target")
    ap.add_argument("--board", default="ESP32_GENERIC", help="boards/<BOARD> (ESP32_GENERIC)")
    ap.add_argument("--config", help="config JSON (default: the board's config.example.json)")
    ap.add_argument("--romfs", action="store_true", help="the code as a ROMFS image")
    ap.add_argument("--no-lib", action="store_true", help="only main.py + config (frozen build)")
    ap.add_argument("--no-reset", action="store_true", help="do not reset afterwards")
    a = ap.parse_args(argv)
    if a.config and not os.path.isfile(a.config):
        print("deploy: config file %r not found" % a.config, file=sys.stderr)
        return 2
    try:
        deploy(a.port, a.board, a.config, a.romfs, not a.no_lib, not a.no_reset)
    except (DeployError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        print("deploy: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
