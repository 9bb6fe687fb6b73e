"""outbound.py's states, inputs and actions by name, for the tests.

outbound.py keeps them as private consts (no interned names on the phone), so MicroPython
has no attribute to read; this module restates them and re-exports the module's functions.
On CPython (where const() is the identity) check() compares both.
"""
from tinysip.outbound import TRANSITIONS, Flow, keepalive_wait, random16  # noqa: F401
from tinysip.outbound import recovery_wait  # noqa: F401
from tinysip.outbound import refresh_wait, transition  # noqa: F401

# states
IDLE = 0
CONNECTING = 1
REGISTERING = 2
UP = 3
BACKOFF = 4
STOPPED = 5
STANDBY = 6
# inputs
START = 0
CONNECTED = 1
CONNECT_FAILED = 2
CONNECTION_LOST = 3
REGISTERED = 4
REGISTER_FAILED = 5
PONG_TIMEOUT = 6
RETRY_DUE = 7
STOP = 8
REFORM = 9
NEXT_TARGET = 10
HOLD = 11
PROMOTE = 12
# actions
A_CONNECT = 1
A_REGISTER = 2
A_UP = 3
A_FAIL_RETRY_NOW = 4
A_FAIL_BACKOFF = 5
A_CLOSE = 6
A_NONE = 7
A_STANDBY = 8


def check(module):
    """The names of this file whose private twin `_NAME` in `module` differs (CPython)."""
    bad = []
    for name in NAMES:
        twin = getattr(module, "_" + name, None)
        if twin is not None and twin != globals()[name]:
            bad.append(name)
    return bad


NAMES = ("IDLE", "CONNECTING", "REGISTERING", "UP", "BACKOFF", "STOPPED", "STANDBY", "START", "CONNECTED", "CONNECT_FAILED", "CONNECTION_LOST", "REGISTERED", "REGISTER_FAILED", "PONG_TIMEOUT", "RETRY_DUE", "STOP", "REFORM", "NEXT_TARGET", "HOLD", "PROMOTE", "A_CONNECT", "A_REGISTER", "A_UP", "A_FAIL_RETRY_NOW", "A_FAIL_BACKOFF", "A_CLOSE", "A_NONE", "A_STANDBY")
