"""tinysip.sipdate: the SIP Date header (RFC 1123 GMT) and the civil-date arithmetic."""
from tinysip.sipdate import days_from_civil, parse


def test_reads_rfc1123_gmt_dates():
    assert parse(b"Thu, 01 Jan 1970 00:00:00 GMT") == 0
    assert parse(b"Thu, 09 Oct 2025 08:53:20 GMT") == 1760000000
    assert parse(b"Sat, 13 Nov 2010 23:29:00 GMT") == 1289690940  # RFC 3261 §20.17's form
    assert parse(b"Tue, 29 Feb 2028 12:00:00 GMT") == days_from_civil(2028, 2, 29) * 86400 + 43200
    assert parse(b"Wed, 31 Dec 2025 23:59:60 GMT") == parse(b"Wed, 31 Dec 2025 23:59:59 GMT")
    assert parse(b"Thu,  09 Oct 2025 08:53:20 GMT") == 1760000000  # extra space: still words


def test_anything_else_is_none_never_a_wrong_clock():
    for bad in (None, b"", b"Thu, 09 Oct 2025 08:53:20 UTC", b"Thu, 09 Oct 2025 08:53:20",
                b"Thursday, 09 Oct 2025 08:53:20 GMT", b"Thu, 9 Oct 2025 08:53:20 GMT",
                b"Thu, 09 Okt 2025 08:53:20 GMT", b"Thu, 09 Oct 25 08:53:20 GMT",
                b"Thu, 32 Oct 2025 08:53:20 GMT", b"Thu, 29 Feb 2025 08:53:20 GMT",
                b"Thu, 09 Oct 2025 24:00:00 GMT", b"Thu, 09 Oct 2025 08:60:00 GMT",
                b"Thu, 09 Oct 2025 8:53:20 GMT", b"Thu, 09 Oct 2025 08:53 GMT",
                b"Thu, 09 Oct 2025 08:53:2x GMT", b"Thu, 09 Oct 1969 08:53:20 GMT",
                b"Thu, -9 Oct 2025 08:53:20 GMT", b"\xff\xfe, 09 Oct 2025 08:53:20 GMT"):
        assert parse(bad) is None, bad


def test_days_from_civil():
    assert days_from_civil(1970, 1, 1) == 0
    assert days_from_civil(2000, 3, 1) == 11017
    assert days_from_civil(2100, 3, 1) - days_from_civil(2100, 2, 28) == 1
