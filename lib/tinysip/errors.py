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
