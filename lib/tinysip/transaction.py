"""Non-INVITE transactions (RFC 3261 §17.1.2 client, Figure 6; §17.2.2 server, Figure 8).

Owns: the state of one non-INVITE request/response exchange, its retransmissions and its
timers (E, F, K client side; J server side; values in §17.1.2.2, §17.2.2 and Appendix A).
Must not: do I/O, read a clock or draw randomness (`now` is integer ms passed in, `rng` is
injected), match messages to transactions (the caller does, with `match_key`), build or
parse messages (it is handed bytes and parsed responses), or handle INVITE/ACK (the INVITE
transaction has its own module) or CANCEL matching.

How to read the tables below (h11 `_state.py` style): each machine is a dict from
(state, input) to (new state, actions). An input with no entry for the current state is
absorbed: the state stays and nothing happens. Actions are bit flags run in the order
listed in the comments next to them. Entering TERMINATED stops every timer. Timers are
absolute ms; a late `handle_timer` fires each due timer once and re-arms it from `now`,
so a stalled driver never causes a burst of catch-up retransmissions.
"""
from tinysip.compat import const, hexlify

# States (Figures 6 and 8 use the same four names). Public: the TU reads `tr.state`.
TRYING = const(0)
PROCEEDING = const(1)
COMPLETED = const(2)
TERMINATED = const(3)
STATE_NAMES = ("Trying", "Proceeding", "Completed", "Terminated")

DEFAULT_T1 = const(500)
DEFAULT_T2 = const(4000)
DEFAULT_T4 = const(5000)

# -- client inputs ------------------------------------------------------------------------
_RX_1XX = const(0)  # a 100-199 response arrived
_RX_FINAL = const(1)  # a 200-699 response arrived
_TIMER_E = const(2)
_TIMER_F = const(3)
_TIMER_K = const(4)
_TRANSPORT_ERROR = const(5)

# -- client actions (bit flags) ---------------------------------------------------------------
_PASS = const(1)  # hand the response to the TU (receive() returns it)
_SEND = const(2)  # queue the request again
_E_UP = const(4)  # re-arm Timer E, interval doubled, capped at T2
_E_T2 = const(8)  # re-arm Timer E at T2
_START_K = const(16)  # stop E and F; arm K (T4 unreliable; 0 reliable -> K fires at once)
_TIMEOUT = const(32)  # F fired before a final: timed_out, drop pending sends
_FAIL = const(64)  # transport error: failed, drop pending sends

# Figure 6. Timer E only exists on unreliable transports (it is never armed otherwise).
CLIENT_TRANSITIONS = {
    (TRYING, _RX_1XX): (PROCEEDING, _PASS),
    (TRYING, _RX_FINAL): (COMPLETED, _PASS | _START_K),
    (TRYING, _TIMER_E): (TRYING, _SEND | _E_UP),
    (TRYING, _TIMER_F): (TERMINATED, _TIMEOUT),
    (TRYING, _TRANSPORT_ERROR): (TERMINATED, _FAIL),
    (PROCEEDING, _RX_1XX): (PROCEEDING, _PASS),
    (PROCEEDING, _RX_FINAL): (COMPLETED, _PASS | _START_K),
    (PROCEEDING, _TIMER_E): (PROCEEDING, _SEND | _E_T2),
    (PROCEEDING, _TIMER_F): (TERMINATED, _TIMEOUT),
    (PROCEEDING, _TRANSPORT_ERROR): (TERMINATED, _FAIL),
    (COMPLETED, _RX_1XX): (COMPLETED, 0),  # late provisional: absorbed
    (COMPLETED, _RX_FINAL): (COMPLETED, 0),  # retransmitted final: absorbed
    (COMPLETED, _TIMER_K): (TERMINATED, 0),
}

# -- server inputs ----------------------------------------------------------------------------
_TU_1XX = const(0)  # the TU passes a 100-199 response
_TU_FINAL = const(1)  # the TU passes a 200-699 response
_RX_REQUEST = const(2)  # a retransmission of the request arrived
_TIMER_J = const(3)
# _TRANSPORT_ERROR (5) as for the client

# -- server actions (bit flags; _FAIL as above) ----------------------------------------------
_RESPOND = const(2)  # queue the TU's response and remember it as the last one sent
_RESEND = const(4)  # queue the last response again
_START_J = const(16)  # arm J (64*T1 unreliable; 0 reliable -> J fires at once)

# Figure 8. TU responses not listed (any response in Completed) are discarded (§17.2.2).
SERVER_TRANSITIONS = {
    (TRYING, _TU_1XX): (PROCEEDING, _RESPOND),
    (TRYING, _TU_FINAL): (COMPLETED, _RESPOND | _START_J),
    (TRYING, _RX_REQUEST): (TRYING, 0),  # retransmission before any response: absorbed
    (PROCEEDING, _TU_1XX): (PROCEEDING, _RESPOND),
    (PROCEEDING, _TU_FINAL): (COMPLETED, _RESPOND | _START_J),
    (PROCEEDING, _RX_REQUEST): (PROCEEDING, _RESEND),
    (PROCEEDING, _TRANSPORT_ERROR): (TERMINATED, _FAIL),
    (COMPLETED, _RX_REQUEST): (COMPLETED, _RESEND),
    (COMPLETED, _TIMER_J): (TERMINATED, 0),
    (COMPLETED, _TRANSPORT_ERROR): (TERMINATED, _FAIL),
}


def match_key(msg):
    """(top Via branch, method) of a parsed Message: the transaction it belongs to (§17.1.3,
    §17.2.3). Responses use the CSeq method. The branch is compared as received."""
    method = msg.method
    if method is None:
        method = msg.cseq_method
    return (msg.branch, method)


def new_branch(rng):
    """A fresh RFC 3261 branch: the magic cookie plus 16 hex digits from rng(8)."""
    return b"z9hG4bK" + hexlify(rng(8))


def _check_ms(name, value):
    if not isinstance(value, int) or value <= 0:
        raise ValueError("%s: timer value must be a positive integer of ms" % name)
    return value


def _check_method(method):
    if method == b"INVITE" or method == b"ACK":
        raise ValueError("method: %s has no non-INVITE transaction" % method.decode())


class _Transaction:
    """What both sides share: the output queue, the timer slots and the table step.

    Subclasses set `_table` and `_timer_inputs` (the input each timer slot feeds, earlier
    slots first when two are due at once) and implement `_act(actions, now, data)`.
    """

    failed = False  # a transport error ended the transaction (the TU treats it as a timeout)

    def pop_send(self):
        """Next bytes to hand to the transport, or None."""
        out = self._out
        if out:
            return out.pop(0)
        return None

    def next_timer(self):
        """Absolute ms of the earliest armed timer, or None."""
        best = None
        for due in self._due:
            if due is not None and (best is None or due < best):
                best = due
        return best

    @property
    def terminated(self):
        return self.state == TERMINATED

    def _run_timers(self, now):
        due = self._due
        while True:
            slot = -1
            for i in range(len(due)):
                d = due[i]
                if d is not None and d <= now and (slot < 0 or d < due[slot]):
                    slot = i
            if slot < 0:
                return
            due[slot] = None
            self._step(self._timer_inputs[slot], now, None)

    def _step(self, inp, now, data):
        """Feed one input through the table; returns the actions run (0 if absorbed)."""
        entry = self._table.get((self.state, inp))
        if entry is None:
            return 0
        self.state = entry[0]
        if self.state == TERMINATED:
            due = self._due
            for i in range(len(due)):
                due[i] = None
        actions = entry[1]
        if actions:
            self._act(actions, now, data)
        return actions

    def transport_error(self, now):
        """The transport failed to send for this transaction (Figures 6 and 8): Terminated,
        `failed` set, pending output dropped. Ignored in states that send nothing."""
        self._step(_TRANSPORT_ERROR, now, None)

    def __repr__(self):
        return "<%s %r %s>" % (type(self).__name__, self.key, STATE_NAMES[self.state])


class ClientTransaction(_Transaction):
    """Non-INVITE client transaction (Figure 6).

    `request` is the serialised request (its top Via carries `branch`); it is queued for
    sending at once. Drain with `pop_send()` after every call. `reliable` is True on
    TCP/TLS: no Timer E, K is 0. Timer F (64*T1) runs on every transport.
    """

    _table = CLIENT_TRANSITIONS
    _timer_inputs = (_TIMER_F, _TIMER_E, _TIMER_K)  # F first: no send at the moment of timeout

    def __init__(self, request, branch, method, now, reliable, t1=DEFAULT_T1, t2=DEFAULT_T2,
                 t4=DEFAULT_T4):
        _check_method(method)
        t1 = _check_ms("t1", t1)
        self._t2 = _check_ms("t2", t2)
        self._t4 = _check_ms("t4", t4)
        self.request = request
        self.key = (branch, method)
        self.reliable = reliable
        self.state = TRYING
        self.timed_out = False
        self.final = None
        self._out = [request]
        self._e_interval = t1  # the interval Timer E is armed with now
        # slots: F, E, K
        self._due = [now + 64 * t1, None if reliable else now + t1, None]

    def receive(self, msg, now):
        """A parsed response the caller matched to this transaction. Returns it if the TU must
        see it (any 1xx before the final, the first final), None if absorbed."""
        status = msg.status
        if status < 100:
            raise ValueError("msg: a request is not a response")
        if self._step(_RX_1XX if status < 200 else _RX_FINAL, now, None) & _PASS:
            if status >= 200:
                self.final = msg
            return msg
        return None

    def handle_timer(self, now):
        """Fire every timer due at `now` (may queue a retransmission). Returns True once: on
        the call in which Timer F timed the transaction out."""
        before = self.timed_out
        self._run_timers(now)
        return self.timed_out and not before

    def _act(self, actions, now, data):
        due = self._due
        if actions & _SEND:
            self._out.append(self.request)
        if actions & _E_UP:
            self._e_interval = min(2 * self._e_interval, self._t2)
            due[1] = now + self._e_interval
        if actions & _E_T2:
            due[1] = now + self._t2
        if actions & _START_K:
            due[0] = due[1] = None
            if self.reliable:
                self._step(_TIMER_K, now, None)
            else:
                due[2] = now + self._t4
        if actions & _TIMEOUT:
            self.timed_out = True
            self._out.clear()
        if actions & _FAIL:
            self.failed = True
            self._out.clear()


class ServerTransaction(_Transaction):
    """Non-INVITE server transaction (Figure 8), created for a new request (not INVITE/ACK).

    The TU answers with `respond()`; `receive_request()` reports a retransmission of the
    request. Drain with `pop_send()` after every call: output queued before the transaction
    terminated (a final on TCP/TLS terminates at once) is still handed out. `t4` is accepted
    for a uniform signature; the non-INVITE server has no timer that uses it.
    """

    _table = SERVER_TRANSITIONS
    _timer_inputs = (_TIMER_J,)

    def __init__(self, request_msg, now, reliable, t1=DEFAULT_T1, t4=DEFAULT_T4):
        self.key = match_key(request_msg)
        _check_method(self.key[1])
        _check_ms("t4", t4)
        self._j = 0 if reliable else 64 * _check_ms("t1", t1)
        self.reliable = reliable
        self.state = TRYING
        self.last_response = None
        self._out = []
        self._due = [None]  # slot: J

    def respond(self, response_bytes, status, now):
        """The TU sends a response (queued). 1xx -> Proceeding, 200-699 -> Completed.
        Returns False if the response was discarded (after the final, §17.2.2)."""
        if not 100 <= status <= 699:
            raise ValueError("status: %d is not a SIP status code" % status)
        inp = _TU_1XX if status < 200 else _TU_FINAL
        return (self._step(inp, now, response_bytes) & _RESPOND) != 0

    def receive_request(self, now):
        """A retransmission of the request arrived: the last response is queued again in
        Proceeding/Completed; absorbed in Trying. Returns True if something was queued."""
        return (self._step(_RX_REQUEST, now, None) & _RESEND) != 0

    def handle_timer(self, now):
        """Fire Timer J if due. Returns False: a server transaction never times out."""
        self._run_timers(now)
        return False

    def _act(self, actions, now, data):
        if actions & _RESPOND:
            self.last_response = data
            self._out.append(data)
        if actions & _RESEND:
            self._out.append(self.last_response)
        if actions & _START_J:
            if self._j:
                self._due[0] = now + self._j
            else:
                self._step(_TIMER_J, now, None)
        if actions & _FAIL:
            self.failed = True
            self._out.clear()
