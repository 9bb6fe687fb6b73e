"""Events: past-tense facts the UA reports to the application.

An event is a name (the `event` field of the firmware's JSON line) and its values in the
order of that name's keys, listed once in `KINDS`. Values read as attributes (`e.reason`)
and `fields()` gives a dict of str keys to JSON-ready values. Wire bytes are decoded with
`text()`, which never raises (MicroPython raises on invalid UTF-8).

Kinds are strings in one table rather than a class (or an object) per kind: every class
and object costs the phone heap, a line of text costs a few bytes.
"""

# each line: the event name, then its keys
KINDS = (
    "flow_connecting flow reg_id server transport",
    "flow_up flow reg_id server",  # connected (TLS verified), REGISTER on the way
    # outbound: the registrar confirmed RFC 5626 (else a plain binding of `contact`)
    "registered flow reg_id expires pub_gruu temp_gruu outbound flow_timer service_route contact",
    # a plain registrar saw us at another address (NAT): re-registering with this Contact
    "contact_rewritten flow reg_id contact",
    # connected, not registered: another flow holds the one plain binding (takes over)
    "flow_standby flow reg_id server",
    "registration_failed flow reg_id status reason",
    "flow_failed flow reg_id reason",
    "flow_recovering flow reg_id delay_ms failures",
    "target_selected flow host transport ip port",  # RFC 3263: the server this flow tries now
    "tls_error flow server reason",
    "keepalive flow rtt_ms",
    "message_dropped flow reason",  # a peer's message could not be used, and why
    "request_answered flow method status",
    "unregistered flow reg_id",
    "internal_error where error",  # a bug in tinysip: the UA keeps running
    # a call to the phone: who (asserted identity, else From) and the mode asked for
    "call_incoming flow call_id caller answer_mode",
    # mode "auto" (policy allowed, loopback only) or "manual"; the RFC 6849 type, the payload
    # type mirrored and our RTP port
    "call_answered call_id mode loopback pt port",
    # reason bye/hangup/cancelled/rejected/no_answer/no_ack; status of a rejection; RTP
    # packets received and sent back by the mirror (a voice call: received and sent) and a
    # voice call's media figures (loss, jitter, delay, RTT: tinysip.voice)
    "call_ended call_id reason status rx tx media",
    "dtmf call_id digit",  # a voice call's peer sent an RFC 4733 digit
    # a voice call's re-INVITE (hold, resume: RFC 3264 §8.4) ended: our media direction now
    # ("sendrecv": nobody holds; "recvonly": the peer holds; "sendonly"/"inactive": we do),
    # unchanged when ours was refused; status: the re-INVITE's final response
    "call_held call_id direction status",
    # a call from the phone (tinysip.dial): placed, provisional responses, answered, refused
    "call_outgoing flow call_id target",
    "call_progress call_id status reason",
    "call_connected call_id status",
    "call_failed call_id status reason",
    # RFC 6072 (tinysip.certservice): a certificate passed the trust checks and is cached
    # (trust "ca", "identity" or "tls"; changed: None first time, else whether the
    # fingerprint differs from the one it replaces before that one expired / was dropped)
    "certificate_cached aor sha256 not_after trust changed",
    "certificate_revoked aor package",  # an empty NOTIFY: certificate or credential gone
    "certificate_rejected aor reason",  # reason: a token (from_mismatch, expired, ...): details
    "credential_installed aor sha256 not_after",  # the TLS client certificate from now on
    "subscription_ended uri package status reason",  # given up for good, and why
)


def keys(name):
    """The keys of event `name`, in value order; KeyError for an unknown name."""
    for line in KINDS:
        k = line.split()
        if k[0] == name:
            return k[1:]
    raise KeyError(name)


def text(value):
    """bytes -> str for display; invalid UTF-8 becomes its repr instead of raising."""
    if value is None or isinstance(value, str):
        return value
    try:
        return value.decode()
    except Exception:  # noqa: BLE001 - MicroPython raises UnicodeError, CPython too
        return repr(value)


class Event:
    """One fact: its name and values (missing trailing values read as None)."""

    __slots__ = ("name", "values")

    def __init__(self, name, values):
        self.name = name
        self.values = values

    def __getattr__(self, key):
        k = keys(self.name)
        for i in range(len(k)):
            if k[i] == key:
                return self.values[i] if i < len(self.values) else None
        raise AttributeError(key)

    def fields(self):
        out = {"event": self.name}
        k = keys(self.name)
        v = self.values
        for i in range(len(k)):
            x = v[i] if i < len(v) else None
            out[k[i]] = text(x) if isinstance(x, bytes) else x
        return out

    def __repr__(self):
        return "Event(%r)" % self.fields()
