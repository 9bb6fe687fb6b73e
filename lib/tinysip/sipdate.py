"""Dates on the wire: the SIP `Date` header (RFC 3261 §20.17, the RFC 1123 form of RFC 2616
§3.3.1: "Sat, 21 Nov 2026 14:39:02 GMT") and its civil-date arithmetic (x509 has its own
few lines for certificate times, so that a certificate check does not load this module;
test_x509 checks that both agree day by day).

Owns: turning a Date value into seconds since 1970 (UTC), which is how a phone without NTP
learns the wall clock from the first REGISTER 200 (certificate validity needs it).
Must not: read a clock or keep one (the UA keeps the offset), accept anything but GMT.
A value it cannot read gives None: a wrong Date must never set a wrong clock.
"""


def days_from_civil(v, m, d):
    """Days from 1970-01-01 to year v, month m, day d (proleptic Gregorian; negative
    before 1970). (Argument names the interpreter has anyway: each new one is interned.)

    Counts in years that start in March, so February and its leap day come last: then the
    days before a month follow a line (153 days per 5 months) and leap days are y//4 - y//100
    + y//400. 719469 is that count for 1970-01-01.
    """
    if m < 3:
        v -= 1
        m += 12
    return 365 * v + v // 4 - v // 100 + v // 400 + (153 * (m - 3) + 2) // 5 + d - 719469


def _uint(b, n, limit):
    """The decimal b if n <= it <= limit, else None."""
    if not b or not b.isdigit():
        return None
    v = int(b)
    return v if n <= v <= limit else None


def parse(value):
    """Seconds since 1970 for a Date value (bytes), or None when it is not RFC 1123 GMT."""
    p = (value or b"").split()
    if len(p) != 6 or p[5] != b"GMT" or len(p[0]) != 4 or p[0][3:] != b",":
        return None
    t = p[4].split(b":")
    months = (b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct",
              b"Nov", b"Dec")
    if len(t) != 3 or p[2] not in months:
        return None
    m = months.index(p[2]) + 1
    y = _uint(p[3], 1970, 9999) if len(p[3]) == 4 else None
    last = b"\x1f\x1d\x1f\x1e\x1f\x1e\x1f\x1f\x1e\x1f\x1e\x1f"[m - 1]  # February as in a leap year
    d = _uint(p[1], 1, last) if len(p[1]) == 2 else None
    h, mi, s = _uint(t[0], 0, 23), _uint(t[1], 0, 59), _uint(t[2], 0, 60)
    if None in (y, d, h, mi, s) or len(t[0]) != 2 or len(t[1]) != 2 or len(t[2]) != 2:
        return None
    if m == 2 and d == 29 and not (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)):
        return None
    return ((days_from_civil(y, m, d) * 24 + h) * 60 + mi) * 60 + min(s, 59)
