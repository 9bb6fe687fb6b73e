"""Errors that say who broke the protocol.

ParseError: a peer sent something malformed. `status` is what a UAS answers a request with
(400, 505, 513, ...); a malformed response is dropped and logged. `reason` names the fault.
A local misuse (bad configuration, API misuse) is a ValueError naming the key instead.
"""


class ParseError(Exception):
    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason

    def __str__(self):
        return "%d %s" % (self.status, self.reason)
