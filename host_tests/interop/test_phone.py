"""The firmware on the MicroPython unix port against a real Kamailio (edge + registrar).

Assertions come from both sides: Kamailio's `kamcmd ul.dump` (the binding carries our
instance and reg-id and a Path flow token) and the phone's event lines.
"""
import time

import pytest

from phone import Phone, build_mpy, lab_config
from relay import Relay


def urn(mac):
    return "urn:uuid:00000000-0000-1000-8000-" + mac.replace(":", "")


def bindings_of(lab, mac):
    want = "<%s>" % urn(mac)
    return [b for b in lab.ul_dump() if b.get("instance") == want]


def wait_binding(lab, mac, reg_id, timeout=5.0):
    deadline = time.time() + timeout
    while True:
        for b in bindings_of(lab, mac):
            if str(b.get("reg_id")) == str(reg_id):
                return b
        if time.time() > deadline:
            raise AssertionError("Kamailio has no binding for %s reg-id %s: %r" % (
                urn(mac), reg_id, lab.ul_dump()))
        time.sleep(0.2)


def check_backoff(events, base_ms, max_ms):
    """Every flow_recovering delay lies in 50-100 % of min(max, base * 2^failures)."""
    for e in events:
        wait = min(max_ms, base_ms * (1 << e["failures"]))
        assert wait // 2 <= e["delay_ms"] <= wait, e


@pytest.fixture
def phones(tmp_path):
    started = []

    def make(cfg, heap=None, mpy_lib=None):
        p = Phone(tmp_path, cfg, heap, mpy_lib)
        started.append(p)
        return p

    yield make
    for p in started:
        p.stop()


def test_registers_over_tls_with_outbound_and_gruu(lab, phones):
    mac = "02:00:00:00:01:01"
    phone = phones(lab_config(lab, mac))
    reg = phone.wait_for("registered", flow=0)
    assert reg["reg_id"] == 1
    assert reg["outbound"] is True
    assert reg["flow_timer"] == 30
    assert reg["expires"] == 120
    assert reg["pub_gruu"] == "sip:phone1@lab.test;gr=" + urn(mac)
    assert reg["temp_gruu"].endswith(";gr") and reg["temp_gruu"] != reg["pub_gruu"]
    b = wait_binding(lab, mac, 1)
    assert b["instance"] == "<%s>" % urn(mac)
    assert ";ob" in b["path"], b  # the edge added Path with a flow token
    assert not phone.named("tls_error")


def test_primary_and_backup_flows_register_with_their_reg_ids(lab, phones):
    mac = "02:00:00:00:01:02"
    phone = phones(lab_config(lab, mac, ports=[lab.port_tls, lab.port_tls]))
    phone.wait_for("registered", flow=0, reg_id=1)
    phone.wait_for("registered", flow=1, reg_id=2)
    b1 = wait_binding(lab, mac, 1)
    b2 = wait_binding(lab, mac, 2)
    assert b1["path"] != b2["path"]  # two flows, two flow tokens


def test_stop_unregisters(lab, phones):
    mac = "02:00:00:00:01:03"
    phone = phones(lab_config(lab, mac))
    phone.wait_for("registered")
    wait_binding(lab, mac, 1)
    assert phone.stop() == 0
    assert phone.named("unregistered")
    assert bindings_of(lab, mac) == []


@pytest.mark.parametrize("role,words", [
    ("tls_expired", ("expired",)),
    ("tls_wronghost", ("cn", "hostname", "match")),
    ("tls_untrusted", ("trusted", "issuer", "signed")),
    # finding 9: the names only in the CN, which mbedTLS alone would accept
    ("tls_cnonly", ("no subjectaltname",)),
])
def test_bad_server_certificates_never_register(lab, phones, role, words):
    mac = "02:00:00:00:02:%02x" % (lab.ports[role] % 256)
    phone = phones(lab_config(lab, mac, ports=[lab.ports[role]]))
    err = phone.wait_for("tls_error")
    assert err["server"] == "127.0.0.1"
    assert any(w in err["reason"].lower() for w in words), err
    phone.wait_for("flow_recovering", failures=2, timeout=10)  # it retries, with backoff
    assert not phone.named("registered")
    check_backoff(phone.named("flow_recovering"), 1000, 8000)
    assert bindings_of(lab, mac) == []


def test_a_dns_server_name_only_in_the_cn_is_refused_too(lab, phones):
    """Finding 9 with a configured server name: the CN says lab.test, subjectAltName is absent."""
    mac = "02:00:00:00:02:f9"
    phone = phones(lab_config(lab, mac, ports=[lab.port_tls_cnonly],
                              tls={"ca": lab.ca_der, "server_name": "lab.test"}))
    err = phone.wait_for("tls_error")
    assert err["server"] == "lab.test"
    assert err["reason"] == ("TLS lab.test (127.0.0.1:%d): certificate has no subjectAltName "
                             "(a server name only in the CN is not accepted)" % lab.port_tls_cnonly)
    phone.wait_for("flow_recovering", failures=1, timeout=10)
    assert not phone.named("registered")
    assert bindings_of(lab, mac) == []


def test_the_host_side_refuses_a_cn_only_certificate_too(lab):
    """tools/loopcall runs the same io/stream.py on CPython: OpenSSL's CN fallback is off and
    tinysip.tlsname checks the server certificate after the handshake."""
    from tinysip.io.stream import StreamConn, StreamError

    with open(lab.ca_der, "rb") as f:
        ca = f.read()
    for name in ("127.0.0.1", "localhost", "lab.test"):
        with pytest.raises(StreamError) as e:
            StreamConn("127.0.0.1", lab.port_tls_cnonly, True, name, ca, 3000)
        assert e.value.args[1] is True, e.value.args
        assert e.value.args[0].startswith("TLS %s (127.0.0.1:%d): " % (name, lab.port_tls_cnonly))
        assert "mismatch" in e.value.args[0] or "no subjectAltName" in e.value.args[0]
    StreamConn("127.0.0.1", lab.port_tls, True, "lab.test", ca, 3000).close()


def test_dropped_connection_recovers_at_once(lab, phones):
    relay = Relay(lab.port_tls)
    try:
        mac = "02:00:00:00:03:01"
        phone = phones(lab_config(lab, mac, ports=[relay.port],
                                  tls={"ca": lab.ca_der, "server_name": "127.0.0.1"}))
        first = phone.wait_for("registered")
        assert relay.drop_all() == 1
        failed = phone.wait_for("flow_failed", start=first["_index"])
        assert failed["reason"].startswith("connection_lost")
        again = phone.wait_for("registered", start=failed["_index"])
        # RFC 5626 §4.5: an up flow that fails is re-formed at once, without backoff
        assert again["t"] - failed["t"] < 2000
        assert not phone.named("flow_recovering")
        assert relay.accepted == 2
        wait_binding(lab, mac, 1)
    finally:
        relay.close()


def test_kamailio_restart_leads_to_new_registration_within_backoff_bounds(lab, phones):
    mac = "02:00:00:00:03:02"
    phone = phones(lab_config(lab, mac))
    first = phone.wait_for("registered")
    lab.restart()
    assert bindings_of(lab, mac) == []  # usrloc lives in memory: the restart lost it
    failed = phone.wait_for("flow_failed", start=first["_index"])
    again = phone.wait_for("registered", start=failed["_index"], timeout=25)
    assert again["reg_id"] == 1
    check_backoff(phone.named("flow_recovering"), 1000, 8000)
    wait_binding(lab, mac, 1)


def test_silent_path_detected_by_keepalive(lab_factory, phones, tmp_path):
    fast = lab_factory("kamailio-fast-flow", port_base=16060, flow_timer=3,
                       users={"phone1": "secret1"})
    relay = Relay(fast.port_tls)
    try:
        mac = "02:00:00:00:03:03"
        cfg = lab_config(fast, mac, ports=[relay.port],
                         flow={"pong_timeout": 1.5, "connect_timeout": 3})
        phone = phones(cfg)
        reg = phone.wait_for("registered")
        assert reg["flow_timer"] == 3
        ka = phone.wait_for("keepalive", timeout=6)
        assert 2400 <= ka["t"] - reg["t"] <= 3000 + 500  # 80-100 % of Flow-Timer (+ loop slack)
        relay.blackhole(True)
        failed = phone.wait_for("flow_failed", start=ka["_index"], timeout=8)
        assert failed["reason"] == "pong_timeout"
        relay.blackhole(False)
        phone.wait_for("registered", start=failed["_index"], timeout=20)
    finally:
        relay.close()


# A constrained heap with ~20 % margin over what the phone needs today. The budget itself
# (96 KB) is a figure that tools/bench/heap.py measures and prints; tests assert behaviour.
CONSTRAINED_HEAP = "176k"


def test_registered_idle_phone_runs_in_a_constrained_heap(lab_factory, phones, tmp_path):
    """One TLS flow, registered and keeping alive, from .mpy (as shipped), in a small heap."""
    fast = lab_factory("kamailio-heap", port_base=17060, flow_timer=2,
                       users={"phone1": "secret1"})
    lib = build_mpy(tmp_path / "mpy")
    phone = phones(lab_config(fast, "02:00:00:00:04:01"), heap=CONSTRAINED_HEAP, mpy_lib=lib)
    phone.wait_for("registered")
    phone.wait_for("keepalive", timeout=6)
    ka = phone.named("keepalive")[-1]
    phone.wait_for("keepalive", start=ka.get("_index", 0) + 1, timeout=6)
    assert phone.proc.poll() is None, phone.log()
