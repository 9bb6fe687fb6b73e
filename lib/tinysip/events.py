"""Events: past-tense facts the UA reports to the application.

Each event has a `name` (the `event` field of the firmware's JSON line) and `fields()`, a
dict of str keys to JSON-ready values. Wire bytes are decoded with `text()`, which never
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
    name = "event"
    _keys = ()

    def __init__(self, *values):
        for i in range(len(self._keys)):
            setattr(self, self._keys[i], values[i] if i < len(values) else None)

    def fields(self):
        out = {"event": self.name}
        for k in self._keys:
            v = getattr(self, k)
            if isinstance(v, bytes):
                v = text(v)
            out[k] = v
        return out

    def __repr__(self):
        return "%s(%r)" % (type(self).__name__, self.fields())


class FlowConnecting(Event):
    name = "flow_connecting"
    _keys = ("flow", "reg_id", "server", "transport")


class FlowUp(Event):
    """The flow's connection is up (TLS verified) and its REGISTER is on the way."""

    name = "flow_up"
    _keys = ("flow", "reg_id", "server")


class RegistrationSucceeded(Event):
    name = "registered"
    _keys = (
        "flow",
        "reg_id",
        "expires",
        "pub_gruu",
        "temp_gruu",
        "outbound",
        "flow_timer",
        "service_route",
    )


class RegistrationFailed(Event):
    name = "registration_failed"
    _keys = ("flow", "reg_id", "status", "reason")


class FlowFailed(Event):
    name = "flow_failed"
    _keys = ("flow", "reg_id", "reason")


class FlowRecovering(Event):
    name = "flow_recovering"
    _keys = ("flow", "reg_id", "delay_ms", "failures")


class TlsError(Event):
    name = "tls_error"
    _keys = ("flow", "server", "reason")


class KeepaliveAnswered(Event):
    name = "keepalive"
    _keys = ("flow", "rtt_ms")


class MessageDropped(Event):
    """A peer's message could not be used; `reason` says what was wrong with it."""

    name = "message_dropped"
    _keys = ("flow", "reason")


class RequestAnswered(Event):
    name = "request_answered"
    _keys = ("flow", "method", "status")


class Unregistered(Event):
    name = "unregistered"
    _keys = ("flow", "reg_id")


class InternalError(Event):
    """A bug in tinysip: an input raised where it must not. The UA keeps running."""

    name = "internal_error"
    _keys = ("where", "error")
