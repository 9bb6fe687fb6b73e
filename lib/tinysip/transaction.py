"""Non-INVITE client transactions (RFC 3261 §17.1.2, Figure 6).

Owns: the state of one non-INVITE request/response exchange, its retransmissions and its
timers (E, F, K; values in §17.1.2.2 and Appendix A). There is no server side: the UA
answers requests outside a call statelessly (§8.2.7, ua.py), which keeps no state per
request a stranger sends, and the INVITE server transaction lives in invite.py.
Must not: do I/O, read a clock or draw randomness (`now` is integer ms passed in, `rng` is
injected), match messages to transactions (the caller does, by top Via branch and method,
§17.1.3 and §17.2.3), build or parse messages (it is handed bytes and parsed responses), or
handle INVITE/ACK (the INVITE transaction has its own module) or CANCEL matching.

How to read the tables below (h11 `_state.py` style): each machine is one bytes blob with a
row of six cells per state, one cell per input: `table[6 * state + input]`. A cell is the
new state (low two bits) or'ed with the actions to run (bit flags, multiples of 4). An
input the figure does not list for a state is absorbed: its cell is the state itself, so
the state stays and nothing happens. Entering _TERMINATED stops every timer. Timers are
absolute ms; a late `handle_timer` fires each due timer once and re-arms it from `now`,
so a stalled driver never causes a burst of catch-up retransmissions.
"""
from tinysip.compat import const, hexlify

# States (Figures 6 and 8 use the same four names). Public: the TU reads `tr.state`.
_TRYING = const(0)
_PROCEEDING = const(1)
_COMPLETED = const(2)
_TERMINATED = const(3)

_T1 = const(500)
_T2 = const(4000)
_T4 = const(5000)

# -- inputs (the table column); a timer's input is also its slot in `_due` -----------------
_IN_1XX = const(0)  # a 100-199 response arrived
_IN_FINAL = const(1)  # the same for 200-699
_IN_F = const(2)  # client: Timer F fired
_IN_E = const(3)  # client: Timer E fired
_IN_END = const(4)  # Timer K fired
_IN_ERROR = const(5)  # the transport failed to send

# -- actions (bit flags above the two state bits), run in this order -----------------------
_PASS = const(4)  # hand the response to the TU
_SEND = const(8)  # queue the request again
_E_UP = const(16)  # re-arm Timer E, interval doubled, capped at T2
_E_T2 = const(32)  # re-arm Timer E at T2
_END = const(64)  # stop E and F; arm K or J (0 on reliable transports: it fires at once)
_ABORT = const(128)  # drop pending sends; `timed_out` (Timer F) or `failed` (transport error)

# Figure 6 (client). Timer E only exists on unreliable transports (it is never armed
# otherwise). "-" is absorbed; Terminated absorbs everything.
#              1xx               final                 Timer F            Timer E                Timer K     transport error
# Trying       Proceeding PASS   Completed PASS|END    Terminated ABORT   Trying SEND|E_UP       -           Terminated ABORT
# Proceeding   Proceeding PASS   Completed PASS|END    Terminated ABORT   Proceeding SEND|E_T2   -           Terminated ABORT
# Completed    - (late 1xx)      - (retransmission)    -                  -                      Terminated  -
_CLIENT = (
    b"\x05\x46\x83\x18\x00\x83"  # Trying
    b"\x05\x46\x83\x29\x01\x83"  # Proceeding
    b"\x02\x02\x02\x02\x03\x02"  # Completed
    b"\x03\x03\x03\x03\x03\x03"  # Terminated
)

def new_branch(rng):
    """A fresh RFC 3261 branch: the magic cookie plus 16 hex digits from rng(8)."""
    return b"z9hG4bK" + hexlify(rng(8))


class ClientTransaction:
    """Non-INVITE client transaction (Figure 6).

    `request` is the serialised request (its top Via carries `branch`); it is queued for
    sending at once. Drain with `pop_send()` after every call. `reliable` is True on
    TCP/TLS: no Timer E, K is 0. Timer F (64*T1) runs on every transport.

    `_due[i]` is the absolute ms at which the timer feeding input i fires (None: not armed);
    the earliest fires first, the lower input at a tie (Timer F before E).
    """

    state = _TRYING
    terminated = False
    timed_out = False  # Timer F fired before a final (client only)
    failed = False  # a transport error ended the transaction (the TU treats it as a timeout)

    def __init__(self, request, branch, method, now, reliable, t1=_T1, t2=_T2, t4=_T4):
        if method == b"INVITE" or method == b"ACK":
            raise ValueError("method: not for INVITE/ACK")
        for name, ms in (("t1", t1), ("t2", t2), ("t4", t4)):
            if not isinstance(ms, int) or ms <= 0:
                raise ValueError(name + ": not a positive int of ms")
        self.key = (branch, method)
        self.final = None
        self._last = request
        self._out = [request]
        self._e = t1  # the interval Timer E is armed with now
        self._t2 = t2
        self._wait = 0 if reliable else t4  # Timer K
        self._due = [None, None, now + 64 * t1, None if reliable else now + t1, None]

    def receive(self, msg, now):
        """A parsed response the caller matched to this transaction. Returns it if the TU must
        see it (any 1xx before the final, the first final), None if absorbed."""
        status = msg.status
        if status < 100:
            raise ValueError("msg: not a response")
        if self._step(_IN_1XX if status < 200 else _IN_FINAL, now) & _PASS:
            if status >= 200:
                self.final = msg
            return msg
        return None

    def pop_send(self):
        """Next bytes to hand to the transport, or None."""
        out = self._out
        return out.pop(0) if out else None

    def next_timer(self):
        """Absolute ms of the earliest armed timer, or None."""
        best = None
        for due in self._due:
            if due is not None and (best is None or due < best):
                best = due
        return best

    def handle_timer(self, now):
        """Fire every timer due at `now` (may queue a retransmission). Returns True once: on
        the call in which Timer F timed the transaction out."""
        before = self.timed_out
        due = self._due
        while True:
            slot = -1
            for i in range(5):
                d = due[i]
                if d is not None and d <= now and (slot < 0 or d < due[slot]):
                    slot = i
            if slot < 0:
                return self.timed_out and not before
            due[slot] = None
            self._step(slot, now)

    def transport_error(self, now):
        """The transport failed to send for this transaction (Figures 6 and 8): Terminated,
        `failed` set, pending output dropped. Ignored in states that send nothing."""
        self._step(_IN_ERROR, now)

    def _step(self, inp, now):
        """Feed one input through the table; returns the actions run (0 if absorbed)."""
        cell = _CLIENT[6 * self.state + inp]
        self.state = cell & 3
        due = self._due
        if self.state == _TERMINATED:
            self.terminated = True
            self._due = due = [None] * 5
        if cell & _SEND:
            self._out.append(self._last)
        if cell & _E_UP:
            self._e = min(2 * self._e, self._t2)
            due[_IN_E] = now + self._e
        if cell & _E_T2:
            due[_IN_E] = now + self._t2
        if cell & _END:
            due[_IN_F] = due[_IN_E] = None
            if self._wait:
                due[_IN_END] = now + self._wait
            else:
                self._step(_IN_END, now)
        if cell & _ABORT:
            self._out = []
            if inp == _IN_F:
                self.timed_out = True
            else:
                self.failed = True
        return cell & 0xFC
