"""`make run` (tools/run_lab.py) end to end: the lab comes up, the phone boots from its ROMFS
image, both flows register (TLS primary, UDP backup) and keep alive, Kamailio shows each
binding, and stopping unregisters the phone and stops Kamailio."""
import os
import shutil
import subprocess
import sys

from conftest import REPO, peer_unavailable


def test_make_run_shows_both_flows_and_stops_cleanly():
    if shutil.which("kamailio") is None and not os.path.exists("/usr/sbin/kamailio"):
        peer_unavailable("kamailio is not installed (tools/deps.sh)")
    out = subprocess.run([sys.executable, os.path.join(REPO, "tools", "run_lab.py"),
                          "--seconds", "5", "--port-base", "26160"],
                         cwd=REPO, capture_output=True, text=True, timeout=90)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    for want in ("run in place", "REGISTERED (reg-id 1)", "REGISTERED (reg-id 2)",
                 "TLS: certificate and name verified", "STUN Binding answered",
                 "Kamailio binding: instance <urn:uuid:", "flow 0: unregistered",
                 "flow 1: unregistered", "lab stopped"):
        assert want in text, (want, text[-3000:])
    assert "FLOW FAILED" not in text and "internal_error" not in text, text[-3000:]
