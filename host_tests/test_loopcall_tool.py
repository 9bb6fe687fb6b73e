"""tools/loopcall's command line: options become UA settings, and wrong options are named.
CPython only (the tool runs on the host).
# mpy: skip
"""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "tools", "loopcall"))

import importlib.util  # noqa: E402

_spec = importlib.util.spec_from_file_location("loopcall_main",
                                               os.path.join(ROOT, "tools", "loopcall", "__main__.py"))
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)

BASE = ["--target", "sip:phone1@lab.test;gr=urn:uuid:1", "--user", "tester", "--password", "pw"]


def build(*extra):
    return tool.build(tool.parse_args(BASE + list(extra)))


def test_options_become_settings(tmp_path):
    ca = tmp_path / "ca.der"
    ca.write_bytes(b"\x30\x03\x02\x01\x00")
    settings, der = build("--proxy", "sips:127.0.0.1:15061", "--ca", str(ca),
                          "--server-name", "lab.test")
    assert settings.aor.to_bytes() == b"sip:tester@lab.test"  # the target's domain
    assert settings.proxies[0].tls and settings.proxies[0].port == 15061
    assert settings.proxies[0].server_name == "lab.test" and der == ca.read_bytes()
    settings, der = build("--proxy", "sip:10.0.0.1:5060;transport=tcp", "--aor",
                          "sip:me@example.net")
    assert not settings.proxies[0].tls and der is None
    assert settings.aor.to_bytes() == b"sip:me@example.net"


@pytest.mark.parametrize("extra,text", [
    (["--proxy", "sips:127.0.0.1"], "--ca: required for a TLS outbound proxy"),
    (["--proxy", "sip:1.2.3.4;transport=sctp"], "--proxy: transport sctp not supported"),
    (["--proxy", "http://x"], "--proxy: "),
    (["--proxy", "sips:1.2.3.4", "--ca", "/nonexistent/ca.der"], "--ca: cannot read"),
    (["--proxy", "sip:h;transport=tcp", "--aor", "tel:123"], "--aor: "),
])
def test_wrong_options_are_named(extra, text):
    with pytest.raises(tool.OptionError) as e:
        build(*extra)
    assert text in str(e.value) and "config" not in str(e.value)


def test_main_exits_2_with_the_option_at_fault(capsys):
    assert tool.main(BASE + ["--proxy", "sips:127.0.0.1"]) == 2
    assert "loopcall: --ca: required" in capsys.readouterr().err
    assert tool.main(BASE + ["--proxy", "sip:h;transport=tcp", "--interval", "3"]) == 2
    assert "interval" in capsys.readouterr().err
