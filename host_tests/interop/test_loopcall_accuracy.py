"""Accuracy of tools/loopcall against ground truth: the phone (MicroPython unix port) in a
network namespace behind an impaired link, registered to Kamailio through it.

The link is impair.ImpairedLink: a userspace router between two TUN devices that applies
netem-style delay, uniform jitter and random or bursty (Gilbert) loss to UDP, per direction,
and logs what it did to every RTP packet (by the probe's stamp). `tc netem` would be the
usual tool, but this kernel has no sch_netem (see impair.py); the router also gives a
per-packet truth that netem cannot.

Checks, per impairment profile (issue 4's tolerances):
- RTT: the report's mean within +-(1 ms + 5 %) of the configured round trip (delay up +
  delay down; the uniform jitter has zero mean);
- jitter: the report's RFC 3550 interarrival jitter within +-(1 ms + 10 %) of the jitter of
  the delays the link really applied (same estimator, same arrival order);
- loss: total, and per direction in encaprtp mode, within +-0.5 percentage points of the
  packets the link really dropped. Comparing with the realised losses, not the configured
  probability, is what makes this sound with a bounded number of packets: the sampling
  spread of the realised rate (about 0.25 pp for 1 % of 1500) would otherwise eat most of
  the tolerance. test_impair.py checks separately that the link realises its profile.
"""
import json
import os
import subprocess
import sys

import pytest

from conftest import peer_unavailable
from impair import ImpairedLink, Profile, read_log, truth
from phone import REPO, Phone, lab_config

TOOL = os.path.join(REPO, "tools", "loopcall")
PACKETS = 1500
INTERVAL_MS = 10

PROFILES = [
    ("20ms-each-way", Profile(20), Profile(20)),
    ("jitter-and-1pct-loss", Profile(15, 5, 1.0), Profile(15, 5, 1.0)),
    ("bursty-loss", Profile(10, 2, burst=(2, 30)), Profile(10, 2, burst=(1, 40))),
    ("asymmetric", Profile(40, 8, 0.5), Profile(25, 3, 2.0)),
]


@pytest.mark.parametrize("name,up,down", PROFILES, ids=[p[0] for p in PROFILES])
def test_report_matches_the_impaired_link(lab_factory, tmp_path, name, up, down):
    ok, why = ImpairedLink.available()
    if not ok:
        peer_unavailable("impaired link unavailable: %s" % why)
    log = str(tmp_path / "link.jsonl")
    with ImpairedLink(name="tslc", subnet="10.214.0", up=up, down=down, seed=7,
                      log_path=log) as link:
        lab = lab_factory("kamailio-accuracy", port_base=17800,
                          users={"phone1": "secret1", "tester": "testpw"},
                          listen_extra=[link.near_ip])
        cfg = lab_config(lab, "02:00:00:00:05:01", autoanswer={"allow": ["sip:tester@lab.test"]},
                         media={"ip": link.far_ip, "port": 45000},
                         outbound=["sips:%s:%d" % (link.near_ip, lab.port_tls)],
                         tls={"ca": lab.ca_der, "server_name": "lab.test"})
        phone = Phone(tmp_path, cfg, wrap=link.wrap)
        try:
            phone.wait_for("registered", timeout=20)
            out = str(tmp_path / "report.json")
            cmd = [sys.executable, TOOL, "--target", lab.aor("phone1"),
                   "--proxy", "sips:127.0.0.1:%d" % lab.port_tls, "--user", "tester",
                   "--password", "testpw", "--ca", lab.ca_der, "--server-name", "lab.test",
                   "--media-ip", link.near_ip, "--interval", str(INTERVAL_MS),
                   "--duration", str(PACKETS * INTERVAL_MS / 1000), "--mode", "encaprtp",
                   "--json", out, "--quiet"]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO)
            assert r.returncode == 0, r.stderr
        finally:
            phone.stop()
    with open(out) as f:
        s = json.load(f)["summary"]
    t = truth(read_log(log))["summary"]
    print("report:", json.dumps(s))
    print("truth:", json.dumps(t))
    assert s["sent"] == PACKETS and t["sent"] == PACKETS

    configured_rtt = up.delay_ms + down.delay_ms
    assert abs(s["rtt_ms"]["mean"] - configured_rtt) <= 1 + 0.05 * configured_rtt
    assert abs(s["jitter_ms"] - t["jitter_ms"]) <= 1 + 0.10 * t["jitter_ms"]
    assert abs(s["loss_pct"] - t["loss_pct"]) <= 0.5
    # per direction, as shares of the packets sent (the truth's return % is of those that
    # reached the mirror, so compare counts)
    assert 100.0 * abs(s["lost_forward"] - t["dropped_forward"]) / PACKETS <= 0.5
    assert 100.0 * abs(s["lost_return"] - t["dropped_return"]) / PACKETS <= 0.5
    if up.loss_pct or up.burst or down.loss_pct or down.burst:
        assert s["lost"] > 0  # the profile really lost packets and the tool saw them
    else:
        assert s["lost"] == 0
