"""RFC 3263 §4 client procedure: from a next-hop URI's host, port, transport param and
scheme to an ordered list of (transport, ip, port, name) targets.

Owns: choosing the transport (numeric host / explicit port / transport param / NAPTR /
SRV / A-AAAA fallback), RFC 3403 NAPTR filtering and ordering, RFC 2782 SRV ordering.
It does no I/O: `lookup(name, qtype)` (records as tinysip.dns parses them, answer and
additional sections merged, [] when there are none) and `rng(n) -> bytes` are passed in.
Failover across the list (next target on transport error, timeout or 503, new branch) is
the caller's job, and so is matching a TLS certificate against the original domain
(RFC 5922), never against an SRV target.

Transports are b"udp", b"tcp" and b"tls". A sips: URI only ever yields tls targets (TLS
over TCP); it is never rewritten into transport=tls, and transport=udp with sips: yields
nothing (RFC 3261 §26.2: UDP is never valid for SIPS).
"""
from tinysip.dns import A, AAAA, NAPTR, SRV

_UDP = b"udp"
_TCP = b"tcp"
_TLS = b"tls"
# NAPTR service -> (transport, SRV prefix used when there is no NAPTR)
_SERVICES = (
    (b"SIPS+D2T", _TLS, b"_sips._tcp."),
    (b"SIP+D2T", _TCP, b"_sip._tcp."),
    (b"SIP+D2U", _UDP, b"_sip._udp."),
)


def _numeric(host):
    if b":" in host:
        return True
    parts = host.split(b".")
    return len(parts) == 4 and all([p.isdigit() and len(p) < 4 for p in parts])


def naptr_order(records, sips):
    """[(transport, srv_name)] from NAPTR records: services we support with flag "s"
    (a sips: URI keeps only SIPS+D2T), by order then preference."""
    keep = []
    for r in records:
        if r[1] != NAPTR:
            continue
        order, pref, flags, services, _, repl = r[3]
        if flags.lower() != b"s" or repl == b".":
            continue
        services = services.upper()
        for svc, transport, _ in _SERVICES:
            if services == svc and (transport == _TLS or not sips):
                keep.append((order, pref, transport, repl))
    keep.sort(key=lambda k: (k[0], k[1]))
    return [(k[2], k[3]) for k in keep]


def srv_order(records, rng):
    """The SRV records (tuples as dns parses them) in RFC 2782 order: priority ascending;
    within a priority a weighted random draw, weight-0 records first in the running sums.
    Records whose target is "." (service not offered) are dropped."""
    left = [r for r in records if r[1] == SRV and r[3][3] != b"."]
    left.sort(key=lambda r: r[3][0])
    out = []
    while left:
        prio = left[0][3][0]
        group = [r for r in left if r[3][0] == prio]
        left = left[len(group) :]
        group = [r for r in group if not r[3][1]] + [r for r in group if r[3][1]]
        while group:
            total = 0
            for r in group:
                total += r[3][1]
            pick = int.from_bytes(rng(4), "big") % (total + 1)
            run = 0
            for r in group:
                run += r[3][1]
                if run >= pick:
                    break
            group.remove(r)
            out.append(r)
    return out


def _addresses(name, known, lookup):
    """[ip] for name: A then AAAA records from `known` (an additional section) when it has
    any, else queried. A queried answer may name a CNAME target: then every record of the
    type counts."""
    name = name.lower()
    got = []
    for qtype in (A, AAAA):
        got += [r[3] for r in known if r[0] == name and r[1] == qtype]
    if got:
        return got
    for qtype in (A, AAAA):
        recs = [r for r in lookup(name, qtype) if r[1] == qtype]
        mine = [r[3] for r in recs if r[0] == name]
        got += mine or [r[3] for r in recs]
    return got


def targets(host, port, transport, sips, lookup, rng):
    """[(transport, ip_bytes, port, name)] in the order to try; [] when nothing resolves.

    host: bytes (an IPv6 literal may keep its brackets); port: int or None; transport: the
    URI's transport param (bytes, any case) or None; sips: True for a sips: URI. `name` is
    the DNS name the address came from (the host, or an SRV target).
    """
    host = host.lower().rstrip(b".")
    if host[:1] == b"[":
        host = host[1:-1]
    if transport:
        transport = transport.lower()
        if transport not in (_UDP, _TCP, _TLS) or (sips and transport == _UDP):
            return []
        if sips:
            transport = _TLS
    default = transport or (_TLS if sips else _UDP)
    dport = 5061 if default == _TLS else 5060
    if _numeric(host):
        return [(default, host, port or dport, host)]
    if port:
        return [(default, ip, port, host) for ip in _addresses(host, (), lookup)]
    if transport:
        plan = [(transport, p + host) for _, t, p in _SERVICES if t == transport]
    else:
        plan = naptr_order(lookup(host, NAPTR), sips)
        if not plan:
            plan = [(t, p + host) for _, t, p in _SERVICES if t == _TLS or not sips]
    out = []
    for t, srvname in plan:
        recs = lookup(srvname, SRV)
        srvname = srvname.lower()
        for r in srv_order([r for r in recs if r[0] == srvname], rng):
            target = r[3][3]
            for ip in _addresses(target, recs, lookup):
                out.append((t, ip, r[3][2], target))
    if out:
        return out
    return [(default, ip, dport, host) for ip in _addresses(host, (), lookup)]
