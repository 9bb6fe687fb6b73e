# mpy: skip
# (CPython-only: drives make, mpremote and socat as subprocesses)
"""The device path against the MicroPython unix port behind a pty, as a device:

socat runs the unix port on a pty with its working directory in a temp dir that plays the
device's filesystem root; `make deploy PORT=<pty>` (tools/deploy.py) compiles and copies the
phone there through mpremote (fs cp), sees it cannot reset the unix port and says so; then
mpremote imports the deployed modules on the "device" (from the .mpy files), the config is
there, and the deployed tree boots the phone. `make bench-device` runs its self-test and
table there, and `mip install` takes the library offline from the repo's package.json.

socat is an interop peer (tools/deps.sh installs it): missing, the tests skip, and with
CI=true they fail (as host_tests/interop/conftest.py's peer_unavailable does).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.path.join(REPO, ".venv", "bin")
MICROPYTHON = os.path.join(BIN, "micropython")
MPREMOTE = os.path.join(BIN, "mpremote")
sys.path.insert(0, os.path.join(REPO, "tools"))

import mip_package  # noqa: E402


def peer_unavailable(msg):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


class UnixDevice:
    """The unix port behind socat on a pty; `root` is its working directory (the device's
    filesystem as mpremote sees it)."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="tinysip-device-")
        self.tty = self.root + ".tty"  # outside the root: fs ls on the device stays clean
        self.proc = subprocess.Popen(
            ["socat", "PTY,link=%s,raw,echo=0" % self.tty,
             "EXEC:%s,pty,raw,echo=0,stderr" % MICROPYTHON],
            cwd=self.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        for _ in range(100):
            if os.path.exists(self.tty):
                break
            time.sleep(0.05)
        else:
            self.close()
            peer_unavailable("socat did not create %s" % self.tty)

    def mpremote(self, *args, timeout=120):
        return subprocess.run([MPREMOTE, "connect", self.tty, "resume"] + list(args),
                              capture_output=True, text=True, timeout=timeout)

    def exec(self, code):
        r = self.mpremote("exec", code)
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout

    def close(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)


def _device():
    if shutil.which("socat") is None:
        peer_unavailable("socat is not installed (tools/deps.sh installs it)")
    assert os.access(MICROPYTHON, os.X_OK), "the micropython unix port is required (make venv)"
    return UnixDevice()


@pytest.fixture
def device():
    d = _device()
    yield d
    d.close()


def _host_config(folder, port):
    """A host-board config (the unix port plays a device without Wi-Fi) with a CA file next
    to it, as a user keeps them; the proxy is a local port nothing listens on."""
    with open(os.path.join(REPO, "host_tests", "data", "x509", "rsa_ca.der"), "rb") as f:
        der = f.read()
    os.makedirs(os.path.join(folder, "certs"))
    with open(os.path.join(folder, "certs", "ca.der"), "wb") as f:
        f.write(der)
    cfg = {
        "aor": "sip:phone1@lab.test",
        "auth": {"username": "phone1", "password": "secret1"},
        "outbound": ["sips:127.0.0.1:%d" % port],
        "tls": {"ca": "certs/ca.der", "server_name": "lab.test"},
        "mac": "02:00:00:00:07:01",
        "flow": {"connect_timeout": 1},
    }
    path = os.path.join(folder, "phone.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path, cfg, der


def _free_port():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="module")
def deployed():
    """A unix-port device with `make deploy BOARD=host CONFIG=...` done: (device, make's
    output, config dict, CA bytes)."""
    d = _device()
    cfgdir = tempfile.mkdtemp(prefix="tinysip-deploy-cfg-")
    try:
        path, cfg, der = _host_config(cfgdir, _free_port())
        r = subprocess.run(["make", "--no-print-directory", "deploy", "PORT=" + d.tty,
                            "BOARD=host", "CONFIG=" + path],
                           cwd=REPO, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        yield d, r.stdout, cfg, der
    finally:
        d.close()
        shutil.rmtree(cfgdir, ignore_errors=True)


def test_make_deploy_copies_mpy_and_config_and_skips_the_reset(deployed):
    d, out, cfg, der = deployed
    assert "is the unix port" in out and "not reset" in out, out
    got = d.exec("import sys\nsys.path.insert(0, 'lib')\nimport tinysip.ua, tinysip.io.driver,"
                 " app, board\nprint(tinysip.ua.__file__, tinysip.io.driver.__file__,"
                 " app.__file__, board.__file__, board.NAME)")
    assert got.split() == ["lib/tinysip/ua.mpy", "lib/tinysip/io/driver.mpy", "lib/app.mpy",
                           "lib/board.mpy", "host"], got
    r = d.mpremote("fs", "cat", ":config.json")
    assert r.returncode == 0 and json.loads(r.stdout) == cfg, r.stdout + r.stderr
    with open(os.path.join(d.root, "certs", "ca.der"), "rb") as f:
        assert f.read() == der  # the CA the config names, under its relative name
    with open(os.path.join(d.root, "main.py")) as f, open(os.path.join(REPO, "firmware",
                                                                      "main.py")) as g:
        assert f.read() == g.read()
    # every module of the library went as .mpy, no source
    lib = set(os.listdir(os.path.join(d.root, "lib", "tinysip")))
    want = set(m.split("/")[1][:-3] + ".mpy" for m in mip_package.modules()
               if m.count("/") == 1)
    assert want <= lib and not [n for n in lib if n.endswith(".py")], sorted(lib ^ want)


def test_the_deployed_tree_boots_the_phone(deployed):
    """main.py in the device root, as a device boots it: it finds lib/app.mpy, the host
    board and config.json, and starts the UA (the flow then fails: no proxy listens)."""
    d = deployed[0]
    p = subprocess.Popen([MICROPYTHON, "main.py"], cwd=d.root, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    names = []
    try:
        t0 = time.time()
        while time.time() - t0 < 30 and "flow_failed" not in names:
            line = p.stdout.readline()
            if not line:
                break
            if line.startswith("{"):
                names.append(json.loads(line)["event"])
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(10)
    assert names[:2] == ["boot", "flow_connecting"], (names, p.stderr.read())
    assert "flow_failed" in names, names


def test_make_bench_device_prints_the_table(deployed):
    d = deployed[0]
    r = subprocess.run(["make", "--no-print-directory", "bench-device", "PORT=" + d.tty],
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "tinysip on-device bench: linux" in out and "self-test" in out, out
    res = json.loads([x for x in out.splitlines() if x.startswith("json: ")][0][6:])
    assert res["selftest"] == "ok"
    assert res["loaded_from"] == "lib/tinysip/message.mpy"  # the deployed .mpy
    assert res["mirror_bytes_per_packet"] == 0
    assert res["parse_serialize_per_s"] > 0 and res["mirror_encaprtp_per_s"] > 0
    assert res["import_heap"] > 0 and res["mem_free_before"] > res["mem_free_after"]
    assert d.exec("print('still alive')").strip() == "still alive"  # nothing killed the port


def test_bench_device_without_the_library_says_deploy_first(device):
    r = subprocess.run([os.path.join(BIN, "python"), "tools/bench/device.py",
                        "--port", device.tty], cwd=REPO, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode != 0
    assert "make deploy" in r.stdout + r.stderr, r.stdout + r.stderr


def test_esp32_board_tree_and_no_romfs_on_the_unix_port(device):
    deploy = [os.path.join(BIN, "python"), "tools/deploy.py", "--port", device.tty]
    r = subprocess.run(deploy + ["--board", "ESP32_S3"], cwd=REPO, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no config given" in r.stdout and "not reset" in r.stdout, r.stdout
    for name in ("board.mpy", "esp32board.mpy", "app.mpy", "diag.mpy"):
        assert os.path.isfile(os.path.join(device.root, "lib", name)), name
    with open(os.path.join(device.root, "config.json")) as f:
        assert "wifi" in json.load(f)  # the board's example config
    r = subprocess.run(deploy + ["--board", "ESP32_S3", "--romfs"], cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "no ROMFS partition" in r.stderr, r.stdout + r.stderr
    r = subprocess.run(deploy + ["--board", "ESP32_S3", "--no-lib"], cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "no library (frozen), main.py, config.json" in r.stdout, (
        r.stdout + r.stderr)
    r = subprocess.run(deploy + ["--board", "nosuch"], cwd=REPO, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 1 and "ESP32_GENERIC" in r.stderr, r.stderr


def test_package_json_lists_exactly_lib_tinysip():
    with open(os.path.join(REPO, "package.json")) as f:
        have = json.load(f)
    listed = [u[0] for u in have["urls"]]
    assert sorted(listed) == mip_package.modules(), (
        "package.json is stale: run python tools/mip_package.py")
    for target, url in have["urls"]:
        assert url == "lib/" + target and os.path.isfile(os.path.join(REPO, url)), url
    assert have == mip_package.package()


def test_mip_install_offline_from_the_local_package_json(device):
    r = device.mpremote("mip", "install", "--target", "mip-lib",
                        os.path.join(REPO, "package.json"), timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    for m in mip_package.modules():
        assert os.path.isfile(os.path.join(device.root, "mip-lib", m)), m
    got = device.exec("import sys\nsys.path.insert(0, 'mip-lib')\nimport tinysip.ua, "
                      "tinysip.io.driver\nprint(tinysip.ua.__file__)")
    assert got.strip() == "mip-lib/tinysip/ua.py", got


def _leaves(d, prefix=""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _leaves(v, prefix + k + ".")
        else:
            yield prefix + k


def test_example_configs_validate_and_every_key_is_in_the_readme():
    sys.path.insert(0, os.path.join(REPO, "lib"))
    from tinysip.config import Config

    with open(os.path.join(REPO, "README.md")) as f:
        table = [line for line in f.read().split("## Configuration", 1)[1].splitlines()
                 if line.startswith("| `")]
    documented = " ".join(line.split(" | ")[0] for line in table)
    for board in ("ESP32_GENERIC", "ESP32_S3"):
        with open(os.path.join(REPO, "boards", board, "config.example.json")) as f:
            raw = json.load(f)
        Config(raw)  # raises ConfigError naming the key at fault
        for key in _leaves(raw):
            assert "`%s`" % key in documented, (board, key)
        assert raw["wifi"]["ssid"] and raw["tls"]["ca"]
