"""Events: past-tense facts the UA reports to the application.

Each event has a `name` (the `event` field of the firmware's JSON line), its values as
attributes and `fields()`, a dict of str keys to JSON-ready values. Wire bytes are decoded with `text()`, which never
raises (MicroPython raises on invalid UTF-8).
"""


def text(value):
    """bytes -> str for display; invalid UTF-8 becomes its repr instead of raising."""
    if value is None or isinstance(value, str):
        return value
    try:
        return value.decode()
    except Exception:  # noqa: BLE001 - MicroPython raises UnicodeError, CPython too
        return repr(value)


class Event:
    """One fact: its kind (name and field names) and the values, in the kind's key order."""

    __slots__ = ("kind", "values")

    def __init__(self, kind, values):
        self.kind = kind
        self.values = values

    @property
    def name(self):
        return self.kind.name

    def __getattr__(self, key):
        keys = self.kind.keys
        for i in range(len(keys)):
            if keys[i] == key:
                return self.values[i] if i < len(self.values) else None
        raise AttributeError(key)

    def fields(self):
        out = {"event": self.kind.name}
        keys = self.kind.keys
        for i in range(len(keys)):
            v = self.values[i] if i < len(self.values) else None
            out[keys[i]] = text(v) if isinstance(v, bytes) else v
        return out

    def __repr__(self):
        return "%s(%r)" % (self.kind.label, self.fields())


class Kind:
    """An event kind; calling it makes an Event (one small object per kind instead of a
    class per kind: classes cost the phone heap)."""

    __slots__ = ("label", "name", "keys")

    def __init__(self, label, name, keys):
        self.label = label
        self.name = name
        self.keys = tuple(keys.split())

    def __call__(self, *values):
        return Event(self, values)


FlowConnecting = Kind("FlowConnecting", "flow_connecting", "flow reg_id server transport")
# the flow's connection is up (TLS verified) and its REGISTER is on the way
FlowUp = Kind("FlowUp", "flow_up", "flow reg_id server")
RegistrationSucceeded = Kind("RegistrationSucceeded", "registered",
                             "flow reg_id expires pub_gruu temp_gruu outbound flow_timer "
                             "service_route")
RegistrationFailed = Kind("RegistrationFailed", "registration_failed", "flow reg_id status reason")
FlowFailed = Kind("FlowFailed", "flow_failed", "flow reg_id reason")
FlowRecovering = Kind("FlowRecovering", "flow_recovering", "flow reg_id delay_ms failures")
TlsError = Kind("TlsError", "tls_error", "flow server reason")
KeepaliveAnswered = Kind("KeepaliveAnswered", "keepalive", "flow rtt_ms")
# a peer's message could not be used; `reason` says what was wrong with it
MessageDropped = Kind("MessageDropped", "message_dropped", "flow reason")
RequestAnswered = Kind("RequestAnswered", "request_answered", "flow method status")
Unregistered = Kind("Unregistered", "unregistered", "flow reg_id")
# a bug in tinysip: an input raised where it must not; the UA keeps running
InternalError = Kind("InternalError", "internal_error", "where error")
