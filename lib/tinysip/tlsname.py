"""Is a TLS server certificate for the name the phone connected to? (RFC 9525 section 6,
which obsoletes RFC 6125.)

Owns one rule: the name must be in the certificate's subjectAltName, as a dNSName (ASCII,
case-insensitive, a trailing dot ignored; "*" as the whole left-most label of a presented
name stands for exactly one label, and only above two labels or more: "*.lab.test" yes,
"*.test", "f*.lab.test" no) or, for an IPv4/IPv6 literal, as an iPAddress. The subject CN
is never looked at (RFC 9525 6.3): a certificate without subjectAltName names no server.

Why here: mbedTLS, MicroPython's TLS, falls back to the CN when a certificate has no
subjectAltName, and OpenSSL does for a DNS name, so io/stream.py asks this module about the
server certificate after every handshake.

Must not: parse anything but the way to subjectAltName (the TLS stack has already checked
the certificate's structure, chain, dates and signature), nor stay loaded: io/stream.py
imports it per TLS connect and drops it again. Interned names are never freed, so the
module adds as few as it can: its functions and arguments are named with names the firmware
already has (match, read, parse, data, name, pos, end), and its short constants are bytes,
which are not interned (a short str constant would be).
"""


def read(data, pos, end):
    """(tag, content start, content end) of the DER element at pos in data, which must end
    by end; ValueError or IndexError when it does not."""
    if end - pos < 2:
        raise ValueError
    n = data[pos + 1]
    a = pos + 2
    if n & 0x80:
        k = n & 0x7F
        if not 0 < k < 4 or end - a < k:
            raise ValueError
        n = 0
        for i in range(a, a + k):
            n = n << 8 | data[i]
        a += k
    if n > end - a:
        raise ValueError
    return data[pos], a, a + n


def parse(name):
    """The 4 or 16 bytes of the IPv4 or IPv6 literal `name` (bytes, lower case, "[...]"
    allowed), None for any other name (a DNS name)."""
    if name[:1] == b"[" and name[-1:] == b"]":
        name = name[1:-1]
    out = bytearray()
    if b":" not in name:
        parts = name.split(b".")
        if len(parts) != 4:
            return None
        for p in parts:
            if not 0 < len(p) <= 3 or p.strip(b"0123456789"):
                return None
            n = int(p)
            if n > 255:
                return None
            out.append(n)
        return bytes(out)
    if b"." in name:  # the last 32 bits as a dotted quad (RFC 4291 2.2)
        i = name.rfind(b":") + 1
        v4 = parse(name[i:])
        if v4 is None:
            return None
        name = name[:i] + b"%x:%x" % (v4[0] << 8 | v4[1], v4[2] << 8 | v4[3])
    head, sep, tail = name.partition(b"::")
    words = head.split(b":") if head else []
    if sep:
        rest = tail.split(b":") if tail else []
        if b"::" in tail or len(words) + len(rest) > 7:
            return None
        words += [b"0"] * (8 - len(words) - len(rest)) + rest
    if len(words) != 8:
        return None
    for w in words:
        if not 0 < len(w) <= 4 or w.strip(b"0123456789abcdef"):
            return None
        n = int(w, 16)
        out.append(n >> 8)
        out.append(n & 0xFF)
    return bytes(out)


def match(data, name):
    """None when the DER certificate `data` (bytes-like) is for `name` (str: the host name or
    IP literal the phone connected to, or its configured server name), else the reason (str)
    for the phone's tls_error."""
    want = name.lower().encode()
    if want[-1:] == b".":
        want = want[:-1]
    ip = parse(want)
    d = memoryview(data)
    seen = []
    try:
        _, a, b = read(d, 0, len(d))  # Certificate
        _, a, b = read(d, a, b)  # tbsCertificate
        san = False
        while a < b and not san:
            tag, va, a = read(d, a, b)
            if tag != 0xA3:  # [3] extensions, after version, serial ... subjectPublicKeyInfo
                continue
            _, va, vb = read(d, va, a)
            while va < vb:
                _, ea, va = read(d, va, vb)  # Extension: extnID, critical?, extnValue
                _, oa, ob = read(d, ea, va)
                if bytes(d[oa:ob]) != b"\x55\x1d\x11":  # 2.5.29.17 subjectAltName
                    continue
                tag, xa, xb = read(d, ob, va)
                if tag == 0x01:  # critical
                    tag, xa, xb = read(d, xb, va)
                _, ga, gb = read(d, xa, xb)  # GeneralNames
                san = True
                while ga < gb:
                    tag, na, ga = read(d, ga, gb)
                    v = bytes(d[na:ga])
                    if tag == 0x87:  # [7] iPAddress
                        if v == ip:
                            return None
                        t = b"IP"
                        for i in range(0, len(v) - 1 if len(v) == 16 else len(v),
                                       2 if len(v) == 16 else 1):
                            t += b":%x" % (v[i] << 8 | v[i + 1]) if len(v) == 16 else b".%d" % v[i]
                        seen.append(t[:2] + b":" + t[3:])
                    elif tag == 0x82:  # [2] dNSName
                        p = v.lower()
                        if p[-1:] == b".":
                            p = p[:-1]
                        if ip is None and b"*" not in want:
                            if p == want:
                                return None
                            # "*.x.y" matches "a.x.y": one whole label, two or more above it
                            w = p[1:]
                            if (p[:2] == b"*." and w.count(b".") >= 2 and b"*" not in w
                                    and want.endswith(w) and len(want) > len(w)
                                    and b"." not in want[:len(want) - len(w)]):
                                return None
                        seen.append(b"DNS:" + v)
                break
    except (ValueError, IndexError):
        return "unreadable certificate"
    if not san:
        return "certificate has no subjectAltName (a server name only in the CN is not accepted)"
    return "certificate is not for %s: subjectAltName %s" % (
        name, str(b", ".join(seen) or b"(none)")[2:-1])
