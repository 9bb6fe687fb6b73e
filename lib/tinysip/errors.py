"""Errors that say who broke the protocol.

ParseError: a peer sent something malformed. `status` is what a UAS answers a request with
(400, 505, 513, ...); a malformed response is dropped and logged. `reason` names the fault.
A local misuse (bad configuration, API misuse) is a ValueError naming the key instead.
"""


class ParseError(Exception):
    def __init__(self, status, reason):
        # str(e) is "400 reason": the exception's one argument, so no __str__ is needed
        super().__init__("%d %s" % (status, reason))
        self.status = status
        self.reason = reason


def nth(s, k, sep="\n"):
    """Part k (0: the first) of s, a module's texts in one string separated by `sep`, found
    in place (s is not split). A module run in place from ROMFS holds each str constant as a
    heap object (~40 B on 64 bits), so the texts a peer's faults are named by, rarely
    needed, are one string."""
    i = 0
    for _ in range(k):
        i = s.index(sep, i) + 1
    j = s.find(sep, i)
    return s[i:j] if j >= 0 else s[i:]
