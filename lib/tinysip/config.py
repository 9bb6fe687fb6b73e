"""Configuration: validate the phone's JSON config and name the key at fault.

Keys are written as dotted paths (`auth.username`); in the JSON file they are nested objects
(`{"auth": {"username": ...}}`), and a literal dotted key is accepted too. Every problem
raises ConfigError("config key 'x.y': what is wrong"). Pure: reading files (tls.ca) is the
firmware's job; `ca_der()` converts what it read.
"""
import binascii

from tinysip.errors import ParseError
from tinysip.uri import parse_uri


class ConfigError(ValueError):
    pass


_MISSING = object()


def lookup(cfg, key, default=_MISSING):
    if key in cfg:
        return cfg[key]
    node = cfg
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            if default is _MISSING:
                raise ConfigError("config key '%s': missing" % key)
            return default
        node = node[part]
    return node


def _str(cfg, key, default=_MISSING):
    v = lookup(cfg, key, default)
    if v is None and default is None:
        return None
    if not isinstance(v, str) or not v:
        raise ConfigError("config key '%s': must be a non-empty string" % key)
    return v


def _int(cfg, key, default, low, high):
    v = lookup(cfg, key, default)
    if isinstance(v, float) and not (-1e18 < v < 1e18):  # nan and inf (JSON NaN, 1e400)
        raise ConfigError("config key '%s': must be a whole number" % key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v):
        raise ConfigError("config key '%s': must be a whole number" % key)
    v = int(v)
    if v < low or v > high:
        raise ConfigError("config key '%s': must be between %d and %d" % (key, low, high))
    return v


def _sec_ms(cfg, key, default, low, high):
    """A duration given in seconds (fractions allowed, for tests), stored as ms."""
    v = lookup(cfg, key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError("config key '%s': must be a number of seconds" % key)
    if not low <= v <= high:  # also false for nan
        raise ConfigError("config key '%s': must be between %s and %s seconds" % (key, low, high))
    return int(v * 1000)


class ProxyConfig:
    def __init__(self, uri, tls, host, port, server_name, route):
        self.uri = uri
        self.tls = tls
        self.host = host
        self.port = port
        self.server_name = server_name
        self.route = route


class Config:
    """Validated settings. Durations are in ms, strings in bytes where they go on the wire."""

    def __init__(self, cfg):
        if not isinstance(cfg, dict):
            raise ConfigError("config: the top level must be a JSON object")
        aor = _str(cfg, "aor")
        try:
            self.aor = parse_uri(aor.encode())
        except ParseError as e:
            raise ConfigError("config key 'aor': %s" % e.reason)
        if not self.aor.is_sip or not self.aor.user:
            raise ConfigError("config key 'aor': must be a sip: or sips: URI with a user")
        self.username = _str(cfg, "auth.username").encode()
        self.password = _str(cfg, "auth.password").encode()
        self.expires = _int(cfg, "expires", 3600, 1, 0xFFFFFFFF)
        self.server_name = _str(cfg, "tls.server_name", None)
        self.ca_path = _str(cfg, "tls.ca", None)
        self.mac = lookup(cfg, "mac", None)
        self.keepalive_ms = _sec_ms(cfg, "flow.keepalive", 120, 1, 86400)
        self.pong_timeout_ms = _sec_ms(cfg, "flow.pong_timeout", 10, 0.1, 600)
        self.base_all_down_ms = _sec_ms(cfg, "flow.base_all_down", 30, 0.01, 86400)
        self.base_some_up_ms = _sec_ms(cfg, "flow.base_some_up", 90, 0.01, 86400)
        self.max_backoff_ms = _sec_ms(cfg, "flow.max_backoff", 1800, 0.01, 86400)
        self.connect_timeout_ms = _sec_ms(cfg, "flow.connect_timeout", 10, 0.1, 600)
        self.t1 = _int(cfg, "sip.t1", 500, 10, 60000)
        self.max_message = _int(cfg, "sip.max_message", 16384, 1024, 65535)
        self.user_agent = _str(cfg, "user_agent", "tinysip/0.1").encode()
        self.raw = cfg
        self.proxies = self._proxies(lookup(cfg, "outbound"))
        if any(p.tls for p in self.proxies) and not self.ca_path:
            raise ConfigError("config key 'tls.ca': required for a TLS outbound proxy")

    def _proxies(self, value):
        if not isinstance(value, list) or not value:
            raise ConfigError("config key 'outbound': must be a non-empty list of proxy URIs")
        if len(value) > 4:
            raise ConfigError("config key 'outbound': at most 4 proxies (one flow each)")
        out = []
        for i in range(len(value)):
            key = "outbound[%d]" % i
            v = value[i]
            if not isinstance(v, str):
                raise ConfigError("config key '%s': must be a URI string" % key)
            try:
                u = parse_uri(v.encode())
            except ParseError as e:
                raise ConfigError("config key '%s': %s" % (key, e.reason))
            if not u.is_sip:
                raise ConfigError("config key '%s': must be a sip: or sips: URI" % key)
            t = u.transport
            if t not in (b"tls", b"tcp"):
                raise ConfigError("config key '%s': transport %s not supported; use sips: or "
                                  ";transport=tls" % (key, t.decode()))
            tls = u.secure
            host, port = u.host_port()
            if u.port is None and not tls:
                port = 5060
            server_name = self.server_name or host.decode()
            route = route_value(u)
            out.append(ProxyConfig(u, tls, host.decode(), port, server_name, route))
        return out


def route_value(u):
    """The proxy URI as a loose-routing Route value."""
    params = list(u.params)
    if not any(n == b"lr" for n, _ in params):
        params.append((b"lr", None))
    text = u.scheme + b":" + (u.user + b"@" if u.user else b"") + u.host
    if u.port is not None:
        text += b":%d" % u.port
    for n, v in params:
        text += b";" + n if v is None else b";" + n + b"=" + v
    return b"<" + text + b">"


def ca_der(data, key="tls.ca"):
    """DER bytes of a CA certificate given as DER or PEM (the first certificate of a PEM)."""
    if data[:1] == b"\x30":
        return data
    begin = data.find(b"-----BEGIN CERTIFICATE-----")
    end = data.find(b"-----END CERTIFICATE-----")
    if begin < 0 or end < begin:
        raise ConfigError("config key '%s': neither a DER nor a PEM certificate" % key)
    body = data[begin + 27 : end]
    try:
        der = binascii.a2b_base64(b"".join(body.split()))
    except Exception:  # noqa: BLE001 - binascii.Error on CPython, ValueError on MicroPython
        raise ConfigError("config key '%s': PEM certificate is not valid base64" % key)
    if der[:1] != b"\x30":
        raise ConfigError("config key '%s': PEM does not hold a DER certificate" % key)
    return der
