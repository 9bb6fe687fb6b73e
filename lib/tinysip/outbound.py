"""SIP Outbound flows (RFC 5626 §4.2, §4.4, §4.5): the flow state machine and its policies.

Owns: the life of one flow (connect -> register -> up -> failed -> recover; on to the next
RFC 3263 target at once while there is one), the CRLF or STUN keepalive schedule and the
pong deadline, and the two policy functions the RFC defines:
`keepalive_wait` (ping at a random 80-100 % of the interval) and `recovery_wait` (the §4.5
backoff). Must not: touch sockets or clocks (ua.py feeds `now` and performs the actions the
table names) or build SIP messages (register.py does).

Standby: a registrar that does not confirm outbound (no `outbound` in the 2xx's Require,
RFC 5626 §4.2.1) keeps one plain RFC 3261 binding per Contact, so only one flow may hold
the instance's binding. A connected flow that may not register now waits in STANDBY (its
connection kept alive) and is promoted the moment the registered flow fails; ua.py decides
when (HOLD, PROMOTE).

Transitions (state, input) -> (new state, action). Actions are performed by ua.UserAgent.
"""
from tinysip.compat import const

IDLE = const(0)
CONNECTING = const(1)
REGISTERING = const(2)
UP = const(3)
BACKOFF = const(4)
STOPPED = const(5)
STANDBY = const(6)  # connected, not registered: another flow holds the plain binding

# inputs
START = const(0)
CONNECTED = const(1)
CONNECT_FAILED = const(2)
CONNECTION_LOST = const(3)
REGISTERED = const(4)
REGISTER_FAILED = const(5)
PONG_TIMEOUT = const(6)
RETRY_DUE = const(7)
STOP = const(8)
REFORM = const(9)  # network change: re-form now, forget the backoff
NEXT_TARGET = const(10)  # RFC 3263 failover: this server failed, try the next one now
HOLD = const(11)  # connected, but another flow holds the plain binding: wait as standby
PROMOTE = const(12)  # the standby may register now (the registered flow failed)

# actions
A_CONNECT = const(1)  # open a new connection and send nothing yet
A_REGISTER = const(2)  # send the initial REGISTER on the new connection
A_UP = const(3)  # registered: reset failures, arm refresh + keepalive
A_FAIL_RETRY_NOW = const(4)  # an up flow broke: close it, re-form at once (§4.5)
A_FAIL_BACKOFF = const(5)  # an attempt failed: close, count it, wait recovery_wait
A_CLOSE = const(6)
A_NONE = const(7)
A_STANDBY = const(8)  # keep the connection alive, send no REGISTER

# The transition table, one row of four per transition that does something:
# state, input, new state, action. A flat tuple of small ints is the cheapest table in heap
# (a dict keyed by tuples costs ~2 KB on the phone).
TRANSITIONS = (
    IDLE, START, CONNECTING, A_CONNECT,
    CONNECTING, CONNECTED, REGISTERING, A_REGISTER,
    CONNECTING, CONNECT_FAILED, BACKOFF, A_FAIL_BACKOFF,
    CONNECTING, CONNECTION_LOST, BACKOFF, A_FAIL_BACKOFF,
    CONNECTING, REFORM, CONNECTING, A_FAIL_RETRY_NOW,
    REGISTERING, REGISTERED, UP, A_UP,
    REGISTERING, REGISTER_FAILED, BACKOFF, A_FAIL_BACKOFF,
    REGISTERING, CONNECTION_LOST, BACKOFF, A_FAIL_BACKOFF,
    REGISTERING, PONG_TIMEOUT, BACKOFF, A_FAIL_BACKOFF,
    REGISTERING, REFORM, CONNECTING, A_FAIL_RETRY_NOW,
    UP, REGISTERED, UP, A_UP,  # a refresh succeeded
    UP, CONNECTION_LOST, CONNECTING, A_FAIL_RETRY_NOW,
    UP, PONG_TIMEOUT, CONNECTING, A_FAIL_RETRY_NOW,
    UP, REGISTER_FAILED, BACKOFF, A_FAIL_BACKOFF,
    UP, REFORM, CONNECTING, A_FAIL_RETRY_NOW,
    BACKOFF, RETRY_DUE, CONNECTING, A_CONNECT,
    BACKOFF, REFORM, CONNECTING, A_CONNECT,
    CONNECTING, NEXT_TARGET, CONNECTING, A_FAIL_RETRY_NOW,
    REGISTERING, NEXT_TARGET, CONNECTING, A_FAIL_RETRY_NOW,
    REGISTERING, HOLD, STANDBY, A_STANDBY,
    STANDBY, PROMOTE, REGISTERING, A_REGISTER,
    STANDBY, CONNECTION_LOST, CONNECTING, A_FAIL_RETRY_NOW,
    STANDBY, PONG_TIMEOUT, CONNECTING, A_FAIL_RETRY_NOW,
    STANDBY, REFORM, CONNECTING, A_FAIL_RETRY_NOW,
)


def transition(state, event):
    """(new state, action); inputs that do not apply in a state change nothing."""
    if event == STOP:
        return STOPPED, A_CLOSE
    t = TRANSITIONS
    for i in range(0, len(t), 4):
        if t[i] == state and t[i + 1] == event:
            return t[i + 2], t[i + 3]
    return state, A_NONE


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
        self.state = IDLE
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
