"""tools/bench/parse.py: the message set, and that the three parsers it times agree on it."""
# mpy: skip
# (a CPython bench: sipmessage and pyVoIP are CPython packages)
import importlib.util
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "bench_parse", os.path.join(HERE, "..", "tools", "bench", "parse.py"))
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

pytest.importorskip("sipmessage")
pytest.importorskip("pyVoIP")


@pytest.fixture(scope="module")
def msgs():
    keep, dropped = bench.message_set()
    return keep, dropped


def test_the_realistic_messages_are_in_the_set_with_some_torture_vectors(msgs):
    keep, dropped = msgs
    names = [n for n, _ in keep]
    assert names[:3] == ["register-auth", "200-ok-gruu", "invite-sdp"]
    assert len(names) > 3, dropped
    valid = [n for n, _ in bench.torture_valid()]
    assert len(valid) == 26  # RFC 4475 §3.1.1 (13) + the valid ones of §3.3 (13)
    assert sorted(names[3:] + list(dropped)) == sorted(valid)
    for why in dropped.values():  # tinysip accepts every valid vector
        assert not any(w.startswith("tinysip:") for w in why), why


def test_the_three_parsers_agree_on_the_header_values(msgs):
    for name, data in msgs[0]:
        seen = [bench.summary(lib, parse(data)) for lib, parse, _ in bench.LIBS]
        assert seen[0] == seen[1] == seen[2], (name, seen)
        assert seen[0]["call_id"] and seen[0]["cseq_method"], name
        if name != "inv2543":  # an RFC 2543 request: no branch
            assert seen[0]["branch"].startswith("z9hG4bK"), name


def test_what_each_library_serializes_parses_back_to_the_same_values(msgs):
    for name, data in msgs[0]:
        for lib, parse, to_bytes in bench.LIBS:
            first = parse(data)
            again = parse(to_bytes(first))
            assert bench.summary(lib, again) == bench.summary(lib, first), (lib, name)


def test_the_register_and_invite_fields_are_what_the_messages_say():
    from tinysip.message import parse

    reg = parse(bench.REGISTER)
    assert reg.method == b"REGISTER" and reg.get(b"Authorization").startswith(b"Digest ")
    ok = parse(bench.OK_200)
    assert ok.status == 200 and b"pub-gruu=" in ok.get(b"Contact") and ok.get(b"Path")
    inv = parse(bench.INVITE)
    assert inv.body.startswith(b"v=0\r\n") and int(inv.get(b"Content-Length")) == len(inv.body)


def test_measure_reports_rates_and_the_ratio():
    res = bench.measure(seconds=0.01)
    for lib in ("tinysip", "sipmessage", "pyVoIP"):
        r = res["libraries"][lib]
        assert r["parse_serialize_per_s"] > 0 and r["parse_only_per_s"] > 0
    assert res["ratio"] > 0 and res["faster_competitor"] in ("sipmessage", "pyVoIP")
