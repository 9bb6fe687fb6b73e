"""Events: past-tense facts the UA reports to the application.

An event is a name (the `event` field of the firmware's JSON line) and its values in the
order of that name's keys, listed once in `KINDS`. Values read as attributes (`e.reason`)
and `fields()` gives a dict of str keys to JSON-ready values. Wire bytes are decoded with
`text()`, which never raises (MicroPython raises on invalid UTF-8).

Kinds are strings in one table rather than a class (or an object) per kind: every class
and object costs the phone heap, a line of text costs a few bytes.
"""

# each line: the event name, then its keys. One str: a module loaded in place from ROMFS
# holds each of its str constants as a ~40-byte object in the heap (64-bit), so one line
# per kind in a tuple cost ~1.1 KB; ua.py names kinds by their line number (_E_ consts).
KINDS = (
    "\nflow_connecting flow reg_id server transport"
    "\nflow_up flow reg_id server"  # connected (TLS verified), REGISTER on the way
    # outbound: the registrar confirmed RFC 5626 (else a plain binding of `contact`)
    "\nregistered flow reg_id expires pub_gruu temp_gruu outbound flow_timer service_route contact"
    # a plain registrar saw us at another address (NAT): re-registering with this Contact
    "\ncontact_rewritten flow reg_id contact"
    # connected, not registered: another flow holds the one plain binding (takes over)
    "\nflow_standby flow reg_id server"
    "\nregistration_failed flow reg_id status reason"
    "\nflow_failed flow reg_id reason"
    "\nflow_recovering flow reg_id delay_ms failures"
    "\ntarget_selected flow host transport ip port"  # RFC 3263: the server this flow tries now
    "\ntls_error flow server reason"
    "\nkeepalive flow rtt_ms"
    "\nmessage_dropped flow reason"  # a peer's message could not be used, and why
    "\nrequest_answered flow method status"
    "\nunregistered flow reg_id"
    "\ninternal_error where error"  # a bug in tinysip: the UA keeps running
    # a call to the phone: who (asserted identity, else From) and the mode asked for
    "\ncall_incoming flow call_id caller answer_mode"
    # mode "auto" (policy allowed, loopback only) or "manual"; the RFC 6849 type, the payload
    # type mirrored and our RTP port
    "\ncall_answered call_id mode loopback pt port"
    # reason bye/hangup/cancelled/rejected/no_answer/no_ack; status of a rejection; RTP
    # packets received and sent back by the mirror (a voice call: received and sent) and a
    # voice call's media figures (loss, jitter, delay, RTT: tinysip.voice)
    "\ncall_ended call_id reason status rx tx media"
    "\ndtmf call_id digit"  # a voice call's peer sent an RFC 4733 digit
    # a voice call's re-INVITE (hold, resume: RFC 3264 §8.4) ended: our media direction now
    # ("sendrecv": nobody holds; "recvonly": the peer holds; "sendonly"/"inactive": we do),
    # unchanged when ours was refused; status: the re-INVITE's final response
    "\ncall_held call_id direction status"
    # a call from the phone (tinysip.dial): placed, provisional responses, answered, refused
    "\ncall_outgoing flow call_id target"
    "\ncall_progress call_id status reason"
    "\ncall_connected call_id status"
    "\ncall_failed call_id status reason"
    # RFC 6072 (tinysip.certservice): a certificate passed the trust checks and is cached
    # (trust "ca", "identity" or "tls"; changed: None first time, else whether the
    # fingerprint differs from the one it replaces before that one expired / was dropped)
    "\ncertificate_cached aor sha256 not_after trust changed"
    "\ncertificate_revoked aor package"  # an empty NOTIFY: certificate or credential gone
    "\ncertificate_rejected aor reason"  # reason: a token (from_mismatch, expired, ...): details
    "\ncredential_installed aor sha256 not_after"  # the TLS client certificate from now on
    "\nsubscription_ended uri package status reason"  # given up for good, and why
    "\n"
)


def keys(name):
    """The keys of event `name`, in value order; KeyError for an unknown name."""
    i = KINDS.find("\n%s " % name)
    if i < 0:
        raise KeyError(name)
    return KINDS[i + 1:KINDS.index("\n", i + 1)].split()[1:]


def kind(n):
    """The name of the kind on line n (0: the first) of KINDS."""
    a = 0
    for _ in range(n + 1):
        a = KINDS.index("\n", a) + 1
    return KINDS[a:KINDS.index(" ", a)]


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
        """name: the kind's name, or its line in KINDS (what ua.py passes)."""
        self.name = kind(name) if type(name) is int else name
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
