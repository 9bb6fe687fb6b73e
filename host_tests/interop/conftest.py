"""Fixtures for the CPython interop tests against a real Kamailio (tools/lab/lab.py).

- `lab`: one Kamailio for the whole session on port_base 15060 (so it never collides with
  `make run`'s lab on 5060); work directory (config, PKI, kamailio.log) under pytest's
  tmp dir. If Kamailio cannot start the tests are skipped, except with CI=true, where they
  fail with the log tail.
- `lab_factory(name, **kwargs)`: an extra Lab for one test (give it its own port_base),
  with the same skip-or-fail start-up; closed after the test.
- Any failing test that used a Lab gets a "kamailio log" section with the log tail.
"""

import os
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LAB_DIR = os.path.join(REPO, "tools", "lab")
if LAB_DIR not in sys.path:
    sys.path.insert(0, LAB_DIR)

from lab import Lab, LabError  # noqa: E402

# TINYSIP_LAB_PORT_BASE moves the session lab, so two test runs on one machine do not collide
PORT_BASE = int(os.environ.get("TINYSIP_LAB_PORT_BASE", "15060"))
LOG_LINES = 80

_extra_labs = {}  # test nodeid -> Labs made by lab_factory, for the failure report


def in_ci():
    return os.environ.get("CI", "").lower() == "true"


def peer_unavailable(msg):
    """Skip, or fail under CI=true: a missing interop peer must not go unnoticed in CI."""
    if in_ci():
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


def start_lab(lab, timeout=20.0):
    """Start lab; skip (fail with CI=true) with the log tail when Kamailio cannot start."""
    try:
        lab.start(timeout=timeout)
    except LabError as e:
        peer_unavailable("Kamailio lab cannot start: %s" % e)
    return lab


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("kamailio-lab")
    instance = Lab(str(workdir), port_base=PORT_BASE, flow_timer=30, users={"phone1": "secret1", "phone2": "secret2", "tester": "testpw",
                                                                         "mallory": "mallorypw"})
    start_lab(instance)
    yield instance
    instance.close()


@pytest.fixture
def lab_factory(request, tmp_path_factory):
    """make(name, **Lab kwargs) -> a started extra Lab (own port_base!), closed after the test."""
    made = _extra_labs.setdefault(request.node.nodeid, [])

    def make(name="kamailio-extra", **kwargs):
        instance = Lab(str(tmp_path_factory.mktemp(name)), **kwargs)
        made.append(instance)
        return start_lab(instance)

    yield make
    for instance in made:
        instance.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Append the Kamailio log tail of every Lab the failing test used."""
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        if rep.when == "teardown":
            _extra_labs.pop(item.nodeid, None)
        return
    used = []
    for value in list(getattr(item, "funcargs", {}).values()) + _extra_labs.get(item.nodeid, []):
        if isinstance(value, Lab) and value not in used:
            used.append(value)
    for value in used:
        title = "kamailio log (%s, last %d lines)" % (value.log_path, LOG_LINES)
        rep.sections.append((title, value.log_tail(LOG_LINES, quiet=True)))
    if rep.when == "teardown":
        _extra_labs.pop(item.nodeid, None)
