"""Configuration: validate the phone's JSON config and name the key at fault.

Keys are written as dotted paths (`auth.username`); in the JSON file they are nested objects
(`{"auth": {"username": ...}}`), and a literal dotted key is accepted too. Every problem
raises ConfigError("config key 'x.y': what is wrong"). Pure: reading files (tls.ca) is the
firmware's job; `ca_der()` converts what it read.

Boot-only code: the firmware drops this module once the settings are read, so what Config()
returns must not refer back to it (plain `Settings` objects, no methods).
"""
import binascii

from tinysip.errors import ParseError
from tinysip.uri import parse_uri


class ConfigError(ValueError):
    """str() is "config key 'KEY': WHAT" ("config: WHAT" when no key is at fault)."""

    def __init__(self, key, what):
        super().__init__("config key '%s': %s" % (key, what) if key else "config: " + what)


class Settings:
    """Plain attributes: the validated settings, and each outbound proxy's (`proxies`)."""


def lookup(cfg, key, *default):
    """The value at dotted `key` (a literal dotted key first); `default` when missing, and
    ConfigError when missing and no default is given."""
    if key in cfg:
        return cfg[key]
    node = cfg
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            if default:
                return default[0]
            raise ConfigError(key, "missing")
        node = node[part]
    return node


def _str(cfg, key, *default):
    """A non-empty string; None only for an optional key (default None) unset or null."""
    v = lookup(cfg, key, *default)
    if not (v is None and None in default) and (not isinstance(v, str) or not v):
        raise ConfigError(key, "must be a non-empty string")
    return v


def _num(cfg, key, default, low, high, scale=1):
    """A number from low to high: whole when scale is 1, else seconds (fractions allowed, for
    the tests' short timers) returned as int(v * scale), e.g. ms for scale 1000."""
    v = lookup(cfg, key, default)
    # the range test also refuses nan and inf (JSON NaN, 1e400) before int() could fail
    if (isinstance(v, bool) or not isinstance(v, (int, float)) or not low <= v <= high
            or scale == 1 and v != int(v)):
        raise ConfigError(key, "must be %s between %s and %s" % (
            "a number of seconds" if scale > 1 else "a whole number", low, high))
    return int(v * scale)


def Config(cfg):
    """Validated Settings from the decoded JSON `cfg`. Durations are in ms, strings in bytes
    where they go on the wire; `raw` is `cfg` itself (for board keys such as wifi.ssid)."""
    if not isinstance(cfg, dict):
        raise ConfigError(None, "the top level must be a JSON object")
    s = Settings()
    try:
        s.aor = aor = parse_uri(_str(cfg, "aor").encode())
    except ParseError as e:
        raise ConfigError("aor", e.reason)
    if aor.scheme not in (b"sip", b"sips") or not aor.user:
        raise ConfigError("aor", "must be a sip: or sips: URI with a user")
    s.username = _str(cfg, "auth.username").encode()
    s.password = _str(cfg, "auth.password").encode()
    s.expires = _num(cfg, "expires", 3600, 1, 0xFFFFFFFF)
    s.server_name = _str(cfg, "tls.server_name", None)
    s.ca_path = _str(cfg, "tls.ca", None)
    s.mac = lookup(cfg, "mac", None)
    s.keepalive_ms = _num(cfg, "flow.keepalive", 25, 1, 86400, 1000)
    # RFC 5626 §4.2: ask for outbound (reg-id) and use it when the registrar confirms (auto,
    # on), or never (off: registrars that misbehave on reg-id)
    s.outbound_mode = lookup(cfg, "flow.outbound", "auto")
    if s.outbound_mode not in ("auto", "on", "off"):
        raise ConfigError("flow.outbound", "must be auto, on or off")
    s.pong_timeout_ms = _num(cfg, "flow.pong_timeout", 10, 0.1, 600, 1000)
    s.base_all_down_ms = _num(cfg, "flow.base_all_down", 30, 0.01, 86400, 1000)
    s.base_some_up_ms = _num(cfg, "flow.base_some_up", 90, 0.01, 86400, 1000)
    s.max_backoff_ms = _num(cfg, "flow.max_backoff", 1800, 0.01, 86400, 1000)
    s.connect_timeout_ms = _num(cfg, "flow.connect_timeout", 10, 0.1, 600, 1000)
    # bytes of system heap (ESP-IDF: mbedTLS, lwIP) free before a TLS flow connects, a
    # quarter of it for TCP/UDP; 0: never checked (io/driver.py, the board's sys_heap)
    s.min_sys_heap = _num(cfg, "flow.min_sys_heap", 40000, 0, 0xFFFFFFFF)
    s.keepalive_udp_ms = _num(cfg, "flow.keepalive_udp", 29, 1, 86400, 1000)
    s.stun = lookup(cfg, "flow.stun", True)
    if not isinstance(s.stun, bool):
        raise ConfigError("flow.stun", "must be true or false")
    s.dns_server = _str(cfg, "dns.server", None)
    if s.dns_server is not None:
        h, _, port = s.dns_server.rpartition(":") if s.dns_server.count(":") == 1 else (
            s.dns_server, "", "53")
        if not _numeric(h) or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError("dns.server", "must be an IP address, optionally with :port")
        s.dns_server = (h, int(port))
    s.t1 = _num(cfg, "sip.t1", 500, 10, 60000)
    s.max_message = _num(cfg, "sip.max_message", 16384, 1024, 65535)
    s.user_agent = _str(cfg, "user_agent", "tinysip/0.1").encode()
    s.raw = cfg
    # calls: auto-answer only for these callers (none: off), where the mirror listens
    s.autoanswer = _uris(cfg, "autoanswer.allow", "caller URIs", 64)
    s.media_ip = _str(cfg, "media.ip", "127.0.0.1").encode()
    # each call's mirror port: an even port drawn at random from media_port..media_port_max
    # (media.port is the older name of media.port_min); 500 even ports by default
    lo = _num(cfg, "media.port_min", _num(cfg, "media.port", 40000, 1024, 65534), 1024, 65534)
    s.media_port = lo = lo + (lo & 1)
    s.media_port_max = _num(cfg, "media.port_max", min(lo + 998, 65534), 1024, 65534)
    if s.media_port_max < lo:
        raise ConfigError("media.port_max", "must be at least media.port_min (%d)" % lo)
    s.ring_ms = _num(cfg, "call.ring_timeout", 60, 1, 3600, 1000)
    # RFC 3325 §9: whose P-Asserted-Identity is believed: the proxy's over these transports
    s.trust = lookup(cfg, "autoanswer.trust", ["tls"])
    for t in s.trust if isinstance(s.trust, list) else [None]:
        if t not in ("tls", "tcp", "udp"):
            raise ConfigError("autoanswer.trust", 'must be a list of "tls", "tcp", "udp"')
    # bounded state: calls held at once (ringing, answered, ending); more get 503
    s.max_calls = _num(cfg, "call.max", 2, 1, 8)
    # a call whose RTP stops is ended with BYE; a loopback call has a length limit
    # (ms) RTP silence that ends a manual / an auto-answered call, an auto-answered call's
    # length: one attribute (each name costs the phone heap)
    s.rtp_limits = (_num(cfg, "call.rtp_timeout", 60, 1, 86400, 1000),
                    _num(cfg, "autoanswer.rtp_timeout", 30, 1, 86400, 1000),
                    _num(cfg, "autoanswer.max_duration", 600, 1, 86400, 1000))
    # RFC 6072 (None when nothing is subscribed): `subscribe` URIs (bytes) for the
    # certificate package, `credential` for the phone's own AoR, subscription `expires` (s),
    # cache `max_age` (s), and the paths of the trust anchors `ca_path` / `identity_path`
    # (the firmware reads them into `ca_der` / `identity_der`); `store`: the directory the
    # cached certificates are kept in, which the firmware makes the cache's store (see
    # certservice.Cache; one attribute for both, each name costs the phone), None: the heap
    c = Settings()
    c.subscribe = _uris(cfg, "certificates.subscribe", "AoR URIs", 16, True)
    c.credential = lookup(cfg, "certificates.credential", False)
    if not isinstance(c.credential, bool):
        raise ConfigError("certificates.credential", "must be true or false")
    c.expires = _num(cfg, "certificates.expires", 3600, 60, 0xFFFFFFFF)
    c.max_age = _num(cfg, "certificates.max_age", 86400, 1, 0xFFFFFFFF)
    c.ca_path = _str(cfg, "certificates.ca", None)
    c.identity_path = _str(cfg, "certificates.identity", None)
    c.ca_der = c.identity_der = None
    c.store = _str(cfg, "certificates.cache_dir", None)
    if c.subscribe and c.ca_path is None and c.identity_path is None:
        raise ConfigError("certificates.ca", "required (or certificates.identity) to trust "
                                             "the certificates of certificates.subscribe")
    s.certs = c if c.subscribe or c.credential else None
    # voice calls (tinysip.audio): (codecs in offer order as bytes, SDES 0 off / 1 optional /
    # 2 required, ptime ms, the microphone, the speaker); one attribute for all of it
    # (the short words come out of long strings: each str constant of up to 10 characters
    # would stay interned on the phone after this module is dropped)
    keys = "PCMU PCMA media.srtp audio.mic off optional required".split()
    known = keys[:2]
    keys = keys[2:]
    codecs = lookup(cfg, "media.codecs", known)
    if not isinstance(codecs, list) or not codecs:
        codecs = [None]  # refused below
    enc = []  # (loops, not comprehensions: each of those is one more interned name)
    for c in codecs:
        if c not in known:
            raise ConfigError("media.codecs", 'must be a list of "PCMU" and/or "PCMA"')
        enc.append(c.encode())
    srtp = lookup(cfg, keys[0], keys[4])
    if srtp not in keys[2:]:
        raise ConfigError(keys[0], 'must be "required", "optional" or "off"')
    ptime = _num(cfg, "media.ptime", 20, 10, 60)
    if ptime % 10:
        raise ConfigError("media.ptime", "must be 10, 20, 30, 40, 50 or 60 (ms)")
    s.voice = (enc, keys.index(srtp) - 2, ptime,
               _str(cfg, keys[1], None), _str(cfg, "audio.speaker", None))

    value = lookup(cfg, "outbound")
    if not isinstance(value, list) or not 1 <= len(value) <= 4:
        raise ConfigError("outbound", "must be a list of 1 to 4 proxy URIs (one flow each)")
    s.proxies = []
    for i in range(len(value)):
        key = "outbound[%d]" % i
        if not isinstance(value[i], str):
            raise ConfigError(key, "must be a URI string")
        try:
            u = parse_uri(value[i].encode())
        except ParseError as e:
            raise ConfigError(key, e.reason)
        sips = u.scheme == b"sips"
        if not sips and u.scheme != b"sip":
            raise ConfigError(key, "must be a sip: or sips: URI")
        # the transport param, else tls for sips: and udp (refused) for sip:; sips: over
        # ;transport=tcp is still TLS
        tp = u.param(b"transport")
        t = (tp or (b"tls" if sips else b"udp")).lower()
        if t != b"tls" and t != b"tcp" and t != b"udp":
            raise ConfigError(key, "transport %s not supported (udp, tcp, tls)" % t.decode())
        if sips and t == b"udp":
            raise ConfigError(key, "sips: cannot use UDP (RFC 3261 §26.2)")
        p = Settings()
        p.uri = u
        p.tls = sips or t == b"tls"
        p.udp = t == b"udp"
        # RFC 5626 §4.4.2 keepalive on a UDP flow: STUN unless flow.stun is false; a ;stun
        # param on the proxy URI asks for it even when the registrar does not do outbound
        forced = False
        for n, _ in u.params:
            forced = forced or n.lower() == b"stun"
        p.stun = p.udp and (s.stun or forced)
        p.stun_forced = p.udp and forced
        p.host = u.host.decode()
        if p.host[:1] == "[":
            p.host = p.host[1:-1]  # no IPv6 brackets
        # RFC 3263 (locate.py) for a host name when a DNS server is configured; else the
        # board's getaddrinfo finds its A record and the URI's (or default) port is used
        p.resolve = s.dns_server is not None and not _numeric(p.host)
        p.sips = sips
        p.transport = tp.lower() if tp else None  # as written: RFC 3263 step 1 needs it
        p.port_given = u.port
        p.port = (5061 if p.tls else 5060) if u.port is None else u.port
        p.server_name = s.server_name or p.host
        # the proxy URI as a loose-routing Route value: ;lr added unless it is there
        route = u.scheme + b":" + (u.user + b"@" if u.user else b"") + u.host
        if u.port is not None:
            route += b":%d" % u.port
        lr = b";lr>"
        for n, v in u.params:
            route += b";" + n if v is None else b";" + n + b"=" + v
            if n == b"lr":
                lr = b">"
        p.route = b"<" + route + lr
        s.proxies.append(p)
    if s.ca_path is None:
        for p in s.proxies:
            if p.tls:
                raise ConfigError("tls.ca", "required for a TLS outbound proxy")
    return s


def _numeric(host):
    """True for an IPv4 dotted quad or an IPv6 address (no DNS needed)."""
    if ":" in host:
        return True
    parts = host.split(".")
    for x in parts:
        if not x.isdigit() or int(x) > 255:
            return False
    return len(parts) == 4


def _uris(cfg, key, what, most, user=False):
    """A list (default empty) of at most `most` sip:/sips: URI strings, as bytes; `user`:
    each must name a user (an AoR)."""
    v = lookup(cfg, key, [])
    if not isinstance(v, list) or len(v) > most:
        raise ConfigError(key, "must be a list of up to %d %s" % (most, what))
    out = []
    for a in v:
        try:
            u = parse_uri(a.encode()) if isinstance(a, str) else None
        except ParseError:
            u = None
        if u is None or u.scheme not in (b"sip", b"sips") or user and not u.user:
            raise ConfigError(key, "%r is not a sip: or sips: %s" % (a, "AoR" if user else "URI"))
        out.append(a.encode())
    return out


def ca_der(data, key="tls.ca"):
    """DER bytes of a CA certificate given as DER or PEM (the first certificate of a PEM)."""
    if data[:1] == b"\x30":
        return data
    begin = data.find(b"-----BEGIN CERTIFICATE-----")
    end = data.find(b"-----END CERTIFICATE-----")
    der = b""
    if 0 <= begin < end:
        try:
            der = binascii.a2b_base64(b"".join(data[begin + 27 : end].split()))
        except Exception:  # noqa: BLE001 - binascii.Error on CPython, ValueError on MicroPython
            pass
    if der[:1] != b"\x30":  # also no PEM, or PEM without base64 DER inside
        raise ConfigError(key, "not a DER or PEM certificate")
    return der
