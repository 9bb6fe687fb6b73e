"""The README is the contract for provisioning tools and log readers: every config key the
firmware reads and every event it prints (name and fields) is documented there.

Reads the sources as text (the keys are the string literals passed to config.py's readers),
so a new key or event without a README line fails here, naming it.
"""
# A documentation check (it reads files, the core is not involved): CPython only.
# mpy: skip
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "lib"))

from tinysip import events  # noqa: E402

READERS = re.compile(r'\b(?:_str|_num|_uris|lookup)\(\s*cfg,\s*"([a-z_0-9.]+)"')
APP_EVENTS = re.compile(r'"event":\s*"([a-z_]+)"')


def _read(*parts):
    with open(os.path.join(ROOT, *parts)) as f:
        return f.read()


def _firmware_sources():
    out = [_read("lib", "tinysip", "config.py")]
    for name in sorted(os.listdir(os.path.join(ROOT, "firmware"))):
        if name.endswith(".py"):
            out.append(_read("firmware", name))
    return "\n".join(out)


def test_every_config_key_is_documented():
    keys = sorted(set(READERS.findall(_firmware_sources())))
    # the keys issue 2 fixed by name must be among those read
    for fixed in ("aor", "auth.username", "auth.password", "outbound", "tls.ca",
                  "tls.server_name", "mac", "expires"):
        assert fixed in keys, "config.py no longer reads %r" % fixed
    readme = _read("README.md")
    missing = [k for k in keys if "`%s`" % k not in readme]
    assert missing == [], "config keys without a README entry: %r" % missing


def test_every_event_and_field_is_documented():
    readme = _read("README.md")
    missing = []
    kinds = events.KINDS.strip("\n").split("\n")
    for kind in kinds:
        name, *fields = kind.split()
        if "`%s`" % name not in readme:
            missing.append(name)
        missing.extend("%s.%s" % (name, f) for f in fields if f not in readme)
    for name in sorted(set(APP_EVENTS.findall(_firmware_sources()))):
        if "`%s`" % name not in readme:
            missing.append(name)
    assert len(kinds) > 20 and "registered" in events.KINDS
    assert missing == [], "events or fields without a README entry: %r" % missing


def test_the_check_sees_an_undocumented_key():
    sample = 'x = _num(cfg, "flow.new_knob", 3)\ny = lookup(cfg, "aor")'
    assert READERS.findall(sample) == ["flow.new_knob", "aor"]
