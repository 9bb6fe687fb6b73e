"""errors: a ParseError carries the status a UAS answers with and says what was wrong."""
from tinysip.errors import ParseError
from testutil import raises


def test_parse_error_fields_and_text():
    e = ParseError(400, "missing Call-ID header")
    assert e.status == 400 and e.reason == "missing Call-ID header"
    assert str(e) == "400 missing Call-ID header"


def test_parse_error_is_an_exception():
    def boom():
        raise ParseError(505, "unsupported SIP version")

    e = raises(ParseError, boom)
    assert e.status == 505
    assert isinstance(e, Exception)
