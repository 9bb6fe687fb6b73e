"""invite.py by name for the tests: its functions and Call, and its call states and inputs,
which it keeps as private consts (no interned names on the phone). On CPython (const() is the
identity) check() compares these numbers with the modules' private twins."""
from tinysip.invite import *  # noqa: F401,F403 - everything public

RINGING = 0
ANSWERED = 1
CONFIRMED = 2
REJECTED = 3
ENDED = 4
ANSWER = 0
REJECT = 1
ACK = 2
BYE = 3
CANCEL = 4
HANGUP = 5
REINVITE = 6

NAMES = ("RINGING", "ANSWERED", "CONFIRMED", "REJECTED", "ENDED", "ANSWER", "REJECT", "ACK", "BYE", "CANCEL", "HANGUP", "REINVITE")


def check(module, prefix="_"):
    """The names whose private twin (`prefix` + name) in `module` differs (CPython)."""
    bad = []
    for name in NAMES:
        twin = getattr(module, prefix + name, None)
        if twin is not None and twin != globals()[name]:
            bad.append(name)
    return bad
