"""Differential check of tinysip.fastparse (CPython) against message.py's parser.

`compare(data, **kw)` parses the same bytes with both and asserts the same outcome: the
same ParseError (status and reason), or Messages that agree on every field and on what
each method the UA calls returns: the index (pos), get()/get_all()/values() of the headers
the parser knows and of others in odd spellings, contacts(), the header list, to_bytes(),
the parsed Request-URI and a response built from a request. A fresh fast Message is read
in several orders (fields first, index first, serialised first), since it makes its
index only when something reads it.

Also a pytest plugin (`-p fastparse_diff`, with host_tests/ on sys.path): every
message.parse() any test makes is compared this way; the count is printed at the end
("fastparse_diff: N messages compared, M through the fast path").
"""
import sys

from tinysip import headers, message
from tinysip.errors import ParseError

fastparse = None  # imported on first use (CPython only)

NAMES = (
    b"Via", b"From", b"To", b"Call-ID", b"CSeq", b"Contact", b"Content-Length",
    b"Max-Forwards", b"Route", b"Record-Route", b"Supported", b"Require", b"Allow",
    b"Authorization", b"WWW-Authenticate", b"Expires", b"Content-Type", b"Path",
    b"Service-Route", b"Flow-Timer", b"Event", b"Subscription-State", b"User-Agent",
    b"X-Nobody", b"via", b"v", b"from", b"t", b"i", b"m", b"l", b"call-id", b"CONTACT", b"c",
)
FIELDS = ("is_request", "status", "call_id", "cseq", "cseq_method", "from_tag", "to_tag",
          "branch", "method", "uri", "reason", "body", "buf")
STATS = {"compared": 0, "fast": 0}


def _mod():
    global fastparse
    if fastparse is None:
        from tinysip import fastparse as f

        fastparse = f
    return fastparse


def _try(fn, *args):
    try:
        return ("ok", fn(*args))
    except ParseError as e:
        return ("err", e.status, e.reason)


def _outcome(parse, data, kw):
    try:
        return parse(data, **kw)
    except ParseError as e:
        return ("err", e.status, e.reason)
    except Exception as e:  # noqa: BLE001 - parse may raise nothing else: report it
        return ("crash", type(e).__name__, str(e))


def _fields(m):
    return {f: getattr(m, f) for f in FIELDS}


def _reads(m):
    """What the UA reads of a message, in one order (each read may build state)."""
    out = [_fields(m)]
    for n in NAMES:
        out.append(m.get(n))
        out.append(m.get(n, b"?"))
        out.append(m.get_all(n))
    for n in (b"Via", b"Contact", b"Supported", b"Route", b"Allow"):
        out.append(_try(m.values, n))
        out.append(m.has_tag(n, b"outbound"))
    return out


def _rest(m):
    out = [list(m.pos) if m.pos is not None else None]
    out.append(_try(lambda: [(c.display, c.uri.to_bytes(), c.params)
                             for c in message.contacts(m)]))
    out.append(_try(lambda: m.ruri.to_bytes() if m.ruri is not None else None))
    if m.is_request:
        out.append(message.response(m, 200, to_tag=b"t0").to_bytes())
        out.append(message.response(m, 100).to_bytes())
    out.append(m.to_bytes())
    out.append(m.headers)
    out.append(m.to_bytes())
    out.append(_reads(m))
    m.set(b"X-Added", b"1")
    out.append(m.to_bytes())
    return out


def _views(parse, data, kw):
    """The outcome of parse, read in three orders; a ParseError as a tuple."""
    m = _outcome(parse, data, kw)
    if isinstance(m, tuple):
        return m
    a = (_reads(m), _rest(m))
    m = parse(data, **kw)
    b = (list(m.pos), _reads(m), _rest(m))
    m = parse(data, **kw)
    c = (m.to_bytes(), _fields(m), [h[:] for h in m.headers], _reads(m), _rest(m))
    return ("ok", a, b, c)


def compare(data, **kw):
    """Assert both parsers agree on `data`; return True if the fast path took it (else
    it handed the message to message.py's parser)."""
    f = _mod()
    slow = _views(f._slow, data, kw)
    fast = _views(f.parse, data, kw)
    assert slow[0] != "crash", slow
    if slow != fast:
        raise AssertionError("fastparse differs on %r %r:\nslow %r\nfast %r" % (
            data[:300], kw, _first_diff(slow, fast), _first_diff(fast, slow)))
    took = fast_path(data, **kw)
    STATS["compared"] += 1
    STATS["fast"] += took
    return took


def fast_path(data, **kw):
    """True if fastparse answers `data` itself (no hand-over to message.py)."""
    f = _mod()
    seen = []
    slow = f._slow

    def spy(*args):
        seen.append(1)
        return slow(*args)

    f._slow = spy
    try:
        _outcome(f.parse, data, kw)
    finally:
        f._slow = slow
    return not seen


def _first_diff(a, b):
    if type(a) is not type(b) or not isinstance(a, (tuple, list)) or len(a) != len(b):
        return a
    for x, y in zip(a, b):
        if x != y:
            return _first_diff(x, y)
    return a


# -- the pytest plugin: compare every parse the test session makes


def pytest_configure(config):
    f = _mod()
    real = f.parse

    def checked(data, max_size=16384, datagram=True):
        if type(data) is bytes:  # (the same object to both: tests may pass bytearrays)
            compare(data, max_size=max_size, datagram=datagram)
        return real(data, max_size, datagram)

    message.parse = checked
    headers  # noqa: B018 - (imported for the helpers the UA modules bind)


def pytest_unconfigure(config):
    sys.stdout.write("\nfastparse_diff: %d messages compared, %d through the fast path\n"
                     % (STATS["compared"], STATS["fast"]))
