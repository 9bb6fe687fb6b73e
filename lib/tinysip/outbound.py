"""SIP Outbound flows (RFC 5626 §4.2, §4.4, §4.5): the flow state machine and its policies.

Owns: the life of one flow (connect -> register -> up -> failed -> recover; on to the next
RFC 3263 target at once while there is one), the CRLF or STUN keepalive schedule and the
pong deadline, and the two policy functions the RFC defines:
`keepalive_wait` (ping at a random 80-100 % of the interval) and `recovery_wait` (the §4.5
backoff). Must not: touch sockets or clocks (ua.py feeds `now` and performs the actions the
table names) or build SIP messages (register.py does).

Standby: a registrar that does not confirm outbound (no `outbound` in the 2xx's Require,
RFC 5626 §4.2.1) keeps one plain RFC 3261 binding per Contact, so only one flow may hold
the instance's binding. A connected flow that may not register now waits in _STANDBY (its
connection kept alive) and is promoted the moment the registered flow fails; ua.py decides
when (_HOLD, _PROMOTE).

Transitions (state, input) -> (new state, action). Actions are performed by ua.UserAgent.
"""
from tinysip.compat import const

# States, inputs and actions are private consts (folded into the code: a public name would be
# interned on the phone for good, ~30 B each, and 5 pools hold only 620 names before a 6th
# costs ~7.5 KB). ua.py holds the same numbers as its own private consts; the tests read
# them from host_tests/obnames.py, which checks them against this module on CPython.
_IDLE = const(0)
_CONNECTING = const(1)
_REGISTERING = const(2)
_UP = const(3)
_BACKOFF = const(4)
_STOPPED = const(5)
_STANDBY = const(6)  # connected, not registered: another flow holds the plain binding

# inputs
_START = const(0)
_CONNECTED = const(1)
_CONNECT_FAILED = const(2)
_CONNECTION_LOST = const(3)
_REGISTERED = const(4)
_REGISTER_FAILED = const(5)
_PONG_TIMEOUT = const(6)
_RETRY_DUE = const(7)
_STOP = const(8)
_REFORM = const(9)  # network change: re-form now, forget the backoff
_NEXT_TARGET = const(10)  # RFC 3263 failover: this server failed, try the next one now
_HOLD = const(11)  # connected, but another flow holds the plain binding: wait as standby
_PROMOTE = const(12)  # the standby may register now (the registered flow failed)

# actions
_A_CONNECT = const(1)  # open a new connection and send nothing yet
_A_REGISTER = const(2)  # send the initial REGISTER on the new connection
_A_UP = const(3)  # registered: reset failures, arm refresh + keepalive
_A_FAIL_RETRY_NOW = const(4)  # an up flow broke: close it, re-form at once (§4.5)
_A_FAIL_BACKOFF = const(5)  # an attempt failed: close, count it, wait recovery_wait
_A_CLOSE = const(6)
_A_NONE = const(7)
_A_STANDBY = const(8)  # keep the connection alive, send no REGISTER

# The transition table, one row of four per transition that does something:
# state, input, new state, action. A flat tuple of small ints is the cheapest table in heap
# (a dict keyed by tuples costs ~2 KB on the phone).
TRANSITIONS = (
    _IDLE, _START, _CONNECTING, _A_CONNECT,
    _CONNECTING, _CONNECTED, _REGISTERING, _A_REGISTER,
    _CONNECTING, _CONNECT_FAILED, _BACKOFF, _A_FAIL_BACKOFF,
    _CONNECTING, _CONNECTION_LOST, _BACKOFF, _A_FAIL_BACKOFF,
    _CONNECTING, _REFORM, _CONNECTING, _A_FAIL_RETRY_NOW,
    _REGISTERING, _REGISTERED, _UP, _A_UP,
    _REGISTERING, _REGISTER_FAILED, _BACKOFF, _A_FAIL_BACKOFF,
    _REGISTERING, _CONNECTION_LOST, _BACKOFF, _A_FAIL_BACKOFF,
    _REGISTERING, _PONG_TIMEOUT, _BACKOFF, _A_FAIL_BACKOFF,
    _REGISTERING, _REFORM, _CONNECTING, _A_FAIL_RETRY_NOW,
    _UP, _REGISTERED, _UP, _A_UP,  # a refresh succeeded
    _UP, _CONNECTION_LOST, _CONNECTING, _A_FAIL_RETRY_NOW,
    _UP, _PONG_TIMEOUT, _CONNECTING, _A_FAIL_RETRY_NOW,
    _UP, _REGISTER_FAILED, _BACKOFF, _A_FAIL_BACKOFF,
    _UP, _REFORM, _CONNECTING, _A_FAIL_RETRY_NOW,
    _BACKOFF, _RETRY_DUE, _CONNECTING, _A_CONNECT,
    _BACKOFF, _REFORM, _CONNECTING, _A_CONNECT,
    _CONNECTING, _NEXT_TARGET, _CONNECTING, _A_FAIL_RETRY_NOW,
    _REGISTERING, _NEXT_TARGET, _CONNECTING, _A_FAIL_RETRY_NOW,
    _REGISTERING, _HOLD, _STANDBY, _A_STANDBY,
    _STANDBY, _PROMOTE, _REGISTERING, _A_REGISTER,
    _STANDBY, _CONNECTION_LOST, _CONNECTING, _A_FAIL_RETRY_NOW,
    _STANDBY, _PONG_TIMEOUT, _CONNECTING, _A_FAIL_RETRY_NOW,
    _STANDBY, _REFORM, _CONNECTING, _A_FAIL_RETRY_NOW,
)


def transition(state, event):
    """(new state, action); inputs that do not apply in a state change nothing."""
    if event == _STOP:
        return _STOPPED, _A_CLOSE
    t = TRANSITIONS
    for i in range(0, len(t), 4):
        if t[i] == state and t[i + 1] == event:
            return t[i + 2], t[i + 3]
    return state, _A_NONE


def random16(rng):
    """A uniform integer in [0, 65535] from rng(n) -> bytes: the jitter both policies take."""
    b = rng(2)
    return (b[0] << 8) | b[1]


def keepalive_wait(interval_ms, r16):
    """When to send the next keepalive: uniform in 80-100 % of the interval (§4.4.1).

    `r16` is a random integer in [0, 65535] (the caller draws it from rng).
    """
    low = interval_ms * 8 // 10
    return low + (interval_ms - low) * r16 // 65535


def recovery_wait(failures, all_down, r16, base_all_down_ms=30000, base_some_up_ms=90000,
                  max_ms=1800000):
    """RFC 5626 §4.5 flow recovery delay in ms.

    wait = min(max-time, base-time * 2 ^ consecutive-failures), base-time 30 s when every
    flow is down and 90 s while another flow works; the delay is uniform in 50-100 % of
    wait. `r16` is a random integer in [0, 65535].
    """
    base = base_all_down_ms if all_down else base_some_up_ms
    wait = base
    for _ in range(failures):  # double until the cap: no huge ints, any base/max pair
        if wait >= max_ms:
            break
        wait *= 2
    if wait > max_ms:
        wait = max_ms
    half = wait // 2
    return half + (wait - half) * r16 // 65535


def refresh_wait(granted_s):
    """When to refresh a registration granted for `granted_s` seconds, in ms.

    Refresh a tenth of the interval early, at least 5 s early, and never sooner than 1 s.
    """
    margin = granted_s // 10
    if margin < 5:
        margin = 5
    delay = granted_s - margin
    if delay < 1:
        delay = 1
    return delay * 1000


class Flow:
    """One outbound flow: a proxy, a reg-id, the connection and the timers it needs."""

    def __init__(self, index, proxy, tls, host, port, server_name):
        self.index = index
        self.reg_id = index + 1
        self.proxy = proxy  # Uri of the outbound proxy
        self.tls = tls
        self.host = host
        self.port = port
        self.server_name = server_name
        self.server = "%s:%d" % (host, port)  # for events and logs
        self.state = _IDLE
        self.conn = None  # connection id the driver knows
        self.failures = 0
        self.retry_at = None
        self.refresh_at = None
        self.ping_at = None
        self.pong_deadline = None
        self.ping_sent_at = None
        self.keepalive_ms = None  # None: no keepalive on this flow
        self.pongs = True  # the keepalive's answer is promised (outbound): a missing one fails
        self.settled = False  # the first connection attempt ended (connected or failed)
        self.registration = None  # register.Registration
        self.binding = None  # register.Binding of the last success
        self.retry_after = None  # seconds a 503/500/480 asked us to wait, for the backoff
        # UDP flows (set by ua): STUN keepalive (RFC 5626 §4.4.2) and the RFC 3263 targets
        self.udp = False
        self.stun = False  # keepalive with STUN Binding requests
        self.mapped = None  # (ip, port) the first STUN answer of this flow reported
        self.stun_txid = None  # the Binding request in flight
        self.stun_rexmit_at = None  # its next retransmission (RFC 5389 §7.2.1 doubling)
        self.stun_rto = 0
        self.resolve = False  # host is a name: RFC 3263 before connecting
        self.targets = None  # [(transport, ip, port, name)] from locate.targets, or None
        self.target_i = 0

    def next_timer(self):
        t = None
        for v in (self.retry_at, self.refresh_at, self.ping_at, self.pong_deadline,
                  self.stun_rexmit_at):
            if v is not None and (t is None or v < t):
                t = v
        return t

    def clear_timers(self):
        self.retry_at = None
        self.refresh_at = None
        self.ping_at = None
        self.pong_deadline = None
        self.ping_sent_at = None
        self.stun_rexmit_at = None
