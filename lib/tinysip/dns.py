"""DNS message codec for RFC 3263 lookups (RFC 1035, RFC 2782 SRV, RFC 3403 NAPTR, RFC 3596
AAAA) and a small TTL cache.

Owns: the query for one (name, type), parsing a response into records, and caching records
by TTL with `now` passed in. It does not own sockets, retries or the RFC 3263 procedure
(tinysip.io.resolver and tinysip.locate do). Peer input is never trusted: every length is
checked, compression pointers must point backwards (RFC 1035 §4.1.4 "a prior occurrence"),
which rules out loops, and a name longer than 255 bytes on the wire is refused; any fault is
a ParseError.

Records are tuples (name, rtype, ttl, value), name lowercase without the final dot (the root
is b"."): A -> b"1.2.3.4"; AAAA -> b"2001:db8:0:0:0:0:0:1" (full colon form, hex groups);
SRV -> (priority, weight, port, target); NAPTR -> (order, preference, flags, services,
regexp, replacement). Other types (CNAME, OPT, SOA ...) are skipped.
"""
import struct

from tinysip.compat import const
from tinysip.errors import ParseError

A = const(1)
AAAA = const(28)
SRV = const(33)
NAPTR = const(35)
NOERROR = const(0)
NXDOMAIN = const(3)
_MAX_NAME = const(255)


def query(qid, name_bytes, qtype):
    """A standard query (RD set) with one IN question for name_bytes (a trailing dot is
    optional). A label over 63 bytes or a name over 255 is a local ValueError."""
    name = name_bytes.rstrip(b".")
    out = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    wire = b""
    if name:
        for label in name.split(b"."):
            if not 0 < len(label) < 64:
                raise ValueError("bad DNS label in %r" % name)
            wire += bytes([len(label)]) + label
    wire += b"\x00"
    if len(wire) > _MAX_NAME:
        raise ValueError("DNS name too long")
    return out + wire + struct.pack(">HH", qtype, 1)


def _name(data, off):
    """(lowercase name, offset after it) of the name at off, following pointers. Each
    pointer must point before the run of labels it ends, so a chain always terminates."""
    labels = []
    size = 1  # wire length: the final zero byte
    end = -1  # where the name ends at its original position (after the first pointer)
    seg = off  # start of the current run of labels
    n = len(data)
    while True:
        if off >= n:
            raise ParseError(400, "DNS name truncated")
        c = data[off]
        if c >= 0xC0:
            if off + 1 >= n:
                raise ParseError(400, "DNS pointer truncated")
            if end < 0:
                end = off + 2
            off = ((c & 0x3F) << 8) | data[off + 1]
            if off >= seg:
                raise ParseError(400, "DNS compression pointer loop")
            seg = off
            continue
        if c >= 0x40:
            raise ParseError(400, "DNS label type 0x%02x" % c)
        off += 1
        if not c:
            break
        if off + c > n:
            raise ParseError(400, "DNS label truncated")
        size += c + 1
        if size > _MAX_NAME:
            raise ParseError(400, "DNS name over 255 bytes")
        labels.append(data[off : off + c].lower())
        off += c
    return (b".".join(labels) if labels else b"."), (end if end >= 0 else off)


def _string(data, off, limit):
    if off >= limit or off + 1 + data[off] > limit:
        raise ParseError(400, "DNS character-string truncated")
    return data[off + 1 : off + 1 + data[off]], off + 1 + data[off]


def _ip_text(raw):
    if len(raw) == 4:
        return b"%d.%d.%d.%d" % (raw[0], raw[1], raw[2], raw[3])
    return b":".join([b"%x" % ((raw[i] << 8) | raw[i + 1]) for i in range(0, 16, 2)])


def _record(data, off):
    """(record or None when the type is skipped, offset after it)."""
    name, off = _name(data, off)
    if off + 10 > len(data):
        raise ParseError(400, "DNS record header truncated")
    rtype, _, ttl, rdlen = struct.unpack_from(">HHIH", data, off)
    off += 10
    end = off + rdlen
    if end > len(data):
        raise ParseError(400, "DNS rdata truncated")
    if ttl > 0x7FFFFFFF:
        ttl = 0  # RFC 2181 §8
    if rtype == A or rtype == AAAA:
        if rdlen != (4 if rtype == A else 16):
            raise ParseError(400, "DNS address length %d" % rdlen)
        value = _ip_text(data[off:end])
    elif rtype == SRV:
        if rdlen < 7:
            raise ParseError(400, "DNS SRV too short")
        target, p = _name(data, off + 6)
        if p != end:
            raise ParseError(400, "DNS SRV length mismatch")
        value = struct.unpack_from(">HHH", data, off) + (target,)
    elif rtype == NAPTR:
        if rdlen < 8:
            raise ParseError(400, "DNS NAPTR too short")
        flags, p = _string(data, off + 4, end)
        services, p = _string(data, p, end)
        regexp, p = _string(data, p, end)
        repl, p = _name(data, p)
        if p != end:
            raise ParseError(400, "DNS NAPTR length mismatch")
        value = struct.unpack_from(">HH", data, off) + (flags, services, regexp, repl)
    else:
        return None, end
    return (name, rtype, ttl, value), end


class Answer:
    """A parsed message: qid, qr (a response), rcode, tc (truncated), qname/qtype (the
    first question, or None), answers and additional (lists of records; the authority
    section is skipped). With tc set, a message cut anywhere parses to what it holds."""

    def __init__(self, data, qid=None):
        n = len(data)
        if n < 12:
            raise ParseError(400, "DNS header truncated")
        self.qid, flags, qd, an, ns, ar = struct.unpack_from(">HHHHHH", data, 0)
        if qid is not None and self.qid != qid:
            raise ParseError(400, "DNS answer for another query")
        self.qr = bool(flags & 0x8000)
        self.rcode = flags & 0xF
        self.tc = bool(flags & 0x0200)
        self.qname = self.qtype = None
        self.answers = []
        self.additional = []
        off = 12
        try:
            for i in range(qd):
                name, off = _name(data, off)
                if off + 4 > n:
                    raise ParseError(400, "DNS question truncated")
                if not i:
                    self.qname = name
                    self.qtype = (data[off] << 8) | data[off + 1]
                off += 4
            for i in range(an + ns + ar):
                rec, off = _record(data, off)
                if rec is not None and i < an:
                    self.answers.append(rec)
                elif rec is not None and i >= an + ns:
                    self.additional.append(rec)
        except ParseError:
            if not self.tc:  # a truncated (TC) message may stop anywhere (RFC 2181 §9)
                raise


def parse(data, qid=None):
    """Answer for the message bytes; ParseError when malformed or qid does not match."""
    return Answer(data, qid)


class Cache:
    """Records by (name, qtype) until their TTL runs out. Negative answers (records == [])
    are kept NEG_TTL_S at most, positive ones MAX_TTL_S at most. When full, expired entries
    go first, then the oldest. Entries are [name, qtype, expires_ms, records] in insertion
    order (a list: bounded, and MicroPython dicts keep no order)."""

    NEG_TTL_S = 30
    MAX_TTL_S = 86400

    def __init__(self, max_entries=32):
        self.max_entries = max_entries
        self.entries = []

    def put(self, name, qtype, records, ttl_s, now_ms):
        ttl_s = min(ttl_s, self.MAX_TTL_S if records else self.NEG_TTL_S)
        name = name.lower().rstrip(b".")
        es = self.entries
        for e in es:
            if e[0] == name and e[1] == qtype:
                es.remove(e)
                break
        if ttl_s <= 0:
            return
        if len(es) >= self.max_entries:
            es[:] = [e for e in es if e[2] > now_ms]
            if len(es) >= self.max_entries:
                es.pop(0)
        es.append([name, qtype, now_ms + ttl_s * 1000, records])

    def get(self, name, qtype, now_ms):
        """The records (a list, [] for a cached negative answer), or None when not cached
        or expired (an expired entry is dropped)."""
        name = name.lower().rstrip(b".")
        for e in self.entries:
            if e[0] == name and e[1] == qtype:
                if e[2] > now_ms:
                    return e[3]
                self.entries.remove(e)
                return None
        return None
