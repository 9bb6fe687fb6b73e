"""Events: names, fields() as JSON-ready dicts, and text() that never raises."""
import json

from tinysip import events as ev
from testutil import raises

ALL = (
    ("flow_connecting", ("flow", "reg_id", "server", "transport")),
    ("flow_up", ("flow", "reg_id", "server")),
    ("registered", ("flow", "reg_id", "expires", "pub_gruu", "temp_gruu", "outbound",
                    "flow_timer", "service_route", "contact")),
    ("contact_rewritten", ("flow", "reg_id", "contact")),
    ("flow_standby", ("flow", "reg_id", "server")),
    ("registration_failed", ("flow", "reg_id", "status", "reason")),
    ("flow_failed", ("flow", "reg_id", "reason")),
    ("flow_recovering", ("flow", "reg_id", "delay_ms", "failures")),
    ("target_selected", ("flow", "host", "transport", "ip", "port")),
    ("tls_error", ("flow", "server", "reason")),
    ("keepalive", ("flow", "rtt_ms")),
    ("message_dropped", ("flow", "reason")),
    ("request_answered", ("flow", "method", "status")),
    ("unregistered", ("flow", "reg_id")),
    ("internal_error", ("where", "error")),
    ("call_incoming", ("flow", "call_id", "caller", "answer_mode")),
    ("call_answered", ("call_id", "mode", "loopback", "pt", "port")),
    ("call_ended", ("call_id", "reason", "status", "rx", "tx", "media")),
    ("dtmf", ("call_id", "digit")),
    ("call_held", ("call_id", "direction", "status")),
    ("call_outgoing", ("flow", "call_id", "target")),
    ("call_progress", ("call_id", "status", "reason")),
    ("call_connected", ("call_id", "status")),
    ("call_failed", ("call_id", "status", "reason")),
    ("certificate_cached", ("aor", "sha256", "not_after", "trust", "changed")),
    ("certificate_revoked", ("aor", "package")),
    ("certificate_rejected", ("aor", "reason")),
    ("credential_installed", ("aor", "sha256", "not_after")),
    ("subscription_ended", ("uri", "package", "status", "reason")),
)


def E(name, *values):
    return ev.Event(name, values)


def test_every_event_has_a_unique_name_and_its_keys():
    assert len(ev.KINDS.strip("\n").split("\n")) == len(ALL)
    seen = []
    for n, (name, keys) in enumerate(ALL):
        assert ev.kind(n) == name and ev.Event(n, ()).name == name
        assert name not in seen
        seen.append(name)
        assert tuple(ev.keys(name)) == keys
        e = E(name, *range(len(keys)))
        f = e.fields()
        assert f["event"] == name
        assert sorted(f.keys()) == sorted(list(keys) + ["event"])
        for i in range(len(keys)):
            assert f[keys[i]] == i
            assert getattr(e, keys[i]) == i


def test_unknown_names_and_keys_raise():
    assert raises(KeyError, ev.keys, "no_such_event")
    assert raises(AttributeError, getattr, E("keepalive", 0, 5), "status")


def test_fields_decode_bytes():
    e = E("registered", 0, 1, 3600, b"sip:alice@lab.test;gr=urn:uuid:x",
                                 b"sip:t@lab.test;gr", True, 30, b"<sip:core;lr>",
          b"sip:alice@192.0.2.1:5061;transport=tls")
    f = e.fields()
    assert f == {
        "event": "registered",
        "flow": 0,
        "reg_id": 1,
        "expires": 3600,
        "pub_gruu": "sip:alice@lab.test;gr=urn:uuid:x",
        "temp_gruu": "sip:t@lab.test;gr",
        "outbound": True,
        "flow_timer": 30,
        "service_route": "<sip:core;lr>",
        "contact": "sip:alice@192.0.2.1:5061;transport=tls",
    }
    for v in f.values():
        assert not isinstance(v, bytes)
    # JSON-ready
    assert json.loads(json.dumps(f)) == f


def test_fields_keep_none_and_str():
    f = E("registered", 0, 1, 60, None, None, False, None, None).fields()
    assert f["pub_gruu"] is None and f["temp_gruu"] is None and f["service_route"] is None
    f = E("registration_failed", 1, 2, 408, "no answer to REGISTER").fields()
    assert f["reason"] == "no answer to REGISTER"
    f = E("registration_failed", 1, 2, 503, b"Service Unavailable").fields()
    assert f["reason"] == "Service Unavailable"


def test_missing_values_are_none():
    e = E("flow_failed", 3)
    assert e.fields() == {"event": "flow_failed", "flow": 3, "reg_id": None, "reason": None}


def test_invalid_utf8_never_raises():
    bad = b"\xff\xfe\xc3(\x80 Service"
    e = E("registration_failed", 0, 1, 500, bad)
    f = e.fields()  # must not raise (MicroPython raises UnicodeError on decode)
    assert isinstance(f["reason"], str)
    assert "Service" in f["reason"]
    e = E("message_dropped", 0, b"\x80")
    assert isinstance(e.fields()["reason"], str)
    json.dumps(e.fields())
    assert isinstance(repr(e), str)


def test_text():
    assert ev.text(None) is None
    assert ev.text("already") == "already"
    assert ev.text(b"plain") == "plain"
    assert ev.text(b"caf\xc3\xa9") == "caf\u00e9"
    assert ev.text(b"") == ""
    t = ev.text(b"\xff")
    assert isinstance(t, str) and t
    t = ev.text(b"abc\xed\xa0\x80")  # an encoded surrogate: invalid UTF-8
    assert isinstance(t, str)


def test_repr_shows_the_fields():
    r = repr(E("keepalive", 1, 42))
    assert "keepalive" in r and "42" in r


def test_event_fields_are_a_fresh_dict():
    e = E("flow_up", 0, 1, "edge1:5061")
    f = e.fields()
    f["flow"] = 99
    assert e.fields()["flow"] == 0


def test_the_ua_names_each_kind_by_its_line():
    """ua.py's private _E_ consts (folded at compile time: no str constant, no name on the
    phone) are the line numbers of their kinds in KINDS."""
    from testutil import HERE

    found = 0
    with open(HERE + "/../lib/tinysip/ua.py") as f:
        for line in f:
            if line.startswith("_E_") and "= const(" in line:
                name, _, rest = line.partition(" = const(")
                assert ev.kind(int(rest.split(")")[0])) == name[3:].lower(), line
                found += 1
    assert found > 20
