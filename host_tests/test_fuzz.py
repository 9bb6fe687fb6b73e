"""Deterministic mutation fuzzer for the SIP parser and the stream framer.

Every RFC 4475 / RFC 5118 vector (raw and wire/ copies, plus the two extra RFC 4475
archive members) is mutated in turn: bit flips, random bytes, insertions of special bytes,
deletions, truncations, duplicated lines and slices, bare-LF line ends, overlarge or broken
numbers in CSeq / Content-Length / Max-Forwards / the status code. For each case:

- ``message.parse()`` returns a Message or raises ParseError, nothing else;
  ``error_response()`` returns None or a status line with the error's code;
- a parsed message survives the helpers the UA calls (contacts, parse_via and
  parse_name_addr over Via, Route-style, From and To values) with at most a ParseError,
  and ``to_bytes()`` parses back to the same start line, headers and body (Content-Length
  rewritten);
- the same bytes fed to a StreamFramer in random chunks never raise, never loop, report at
  most one FRAME_ERROR, and when next() says "need more" the buffer really is incomplete;
- memory stays bounded over the run (gc.mem_alloc on MicroPython, tracemalloc on CPython).

The PRNG is our own xorshift32, seeded per case from (SEED, case index), so a failure
message names a case seed that ``run_case(seed)`` replays alone. The number of cases is
DEFAULT_CASES unless the environment variable TINYSIP_FUZZ_CASES says otherwise.
host_tests/fuzz_long.py runs the same generator for hundreds of thousands of cases.
"""
from testutil import FRAME_ERROR, FRAME_MESSAGE, FRAME_PING, FRAME_PONG
import gc
import os
import sys

from testutil import MICROPYTHON, listdir, read_vector

from tinysip import framing, headers, message
from tinysip.errors import ParseError

SEED = 0x7151D5EE
DEFAULT_CASES = 2000
MEM_MARGIN = 16 * 1024  # bytes the heap may grow by over a whole run

MASK32 = 0xFFFFFFFF


class XorShift32:
    """Marsaglia xorshift32: tiny, deterministic, identical on CPython and MicroPython."""

    def __init__(self, seed):
        self.s = (seed & MASK32) or 0x9E3779B9

    def next32(self):
        s = self.s
        s ^= (s << 13) & MASK32
        s ^= s >> 17
        s ^= (s << 5) & MASK32
        self.s = s
        return s

    def below(self, n):
        return self.next32() % n if n > 0 else 0

    def pick(self, seq):
        return seq[self.next32() % len(seq)]


def case_seed(base, index):
    """The seed of case `index` of a run started with `base` (a 32-bit integer mix)."""
    x = (base ^ ((index + 1) * 0x9E3779B1)) & MASK32
    x = ((x ^ (x >> 16)) * 0x045D9F3B) & MASK32
    x = ((x ^ (x >> 16)) * 0x045D9F3B) & MASK32
    return (x ^ (x >> 16)) or 1


# ---------------------------------------------------------------------------- corpus

_NAMES = []


def corpus_names():
    """Paths (under host_tests/data) of every vector file, in a fixed (sorted) order.

    Only the names are kept: the bytes are read per case, so the corpus does not sit in a
    small MicroPython heap (-X heapsize=256k) while the parser and framer need room.
    """
    if not _NAMES:
        for sub in ("rfc4475", "rfc4475/extra", "rfc5118", "rfc5118/wire"):
            for name in listdir(sub):
                if name.endswith(".sip"):
                    _NAMES.append(sub + "/" + name)
    return _NAMES


# ---------------------------------------------------------------------------- mutations

SPECIALS = (
    b"\r", b"\n", b"\r\n", b"\r\n ", b"\r\n\t", b"\r\n\r\n", b":", b";", b",", b'"', b"<",
    b">", b"%", b"\x00", b"\xff", b" ", b"\t", b"[", b"]", b"@", b"=", b"\\", b"?", b"/",
    b"%00", b"%4", b"%zz", b";;", b",,", b"<>", b'""', b"\\\"", b"\x80", b"\x7f", b"*",
)

NUMBERS = (
    b"99999999999999999999999999999999", b"4294967296", b"4294967295", b"2147483648",
    b"-1", b"-999", b"0", b"00000000000000000000001", b"1e3", b"", b" ", b"0x10",
    b"65536", b"16385", b"999999999", b"1000000000", b"7", b"\xef\xbc\x91",
)

# where numbers live; the mutation rewrites the token right after one of these
NUMERIC_SPOTS = (
    b"cseq:", b"content-length:", b"\nl:", b"max-forwards:", b"expires:", b"sip/2.0 ",
    b"retry-after:", b"expires=", b"]:", b"branch=",
)


# Mutated messages stay a little above the parser's 16384-byte limit (so 513 is reached)
# but small enough for a 256 KiB MicroPython heap (the framer holds a few copies).
GROW_MAX = 8192
SIZE_MAX = 17000


def _line_bounds(d, p):
    start = d.rfind(b"\n", 0, p) + 1
    end = d.find(b"\n", p)
    end = len(d) if end < 0 else end + 1
    return start, end


def mutate(data, rng):
    """A mutated copy of `data` (bytes): 1 to 4 random mutations.

    Plain bytes slicing only: MicroPython's bytearray has no slice deletion or insertion.
    """
    d = data
    for _ in range(1 + rng.below(4)):
        n = len(d)
        p = rng.below(n + 1)
        kind = rng.below(12)
        if kind == 0 and n:  # flip one bit
            p = rng.below(n)
            d = d[:p] + bytes((d[p] ^ (1 << rng.below(8)),)) + d[p + 1 :]
        elif kind == 1 and n:  # random byte
            p = p % n
            d = d[:p] + bytes((rng.below(256),)) + d[p + 1 :]
        elif kind <= 3:  # insert a special byte sequence
            d = d[:p] + rng.pick(SPECIALS) + d[p:]
        elif kind == 4 and n:  # delete a short range
            d = d[:p] + d[p + 1 + rng.below(16) :]
        elif kind == 5:  # truncate
            d = d[:p]
        elif kind == 6 and n:  # duplicate a line (same header twice, folded junk, ...)
            s, e = _line_bounds(d, p % n)
            q = _line_bounds(d, rng.below(n))[0]
            d = d[:q] + d[s:e] + d[q:]
        elif kind == 7:  # overlarge / broken number
            spot = rng.pick(NUMERIC_SPOTS)
            at = d.lower().find(spot)
            if at >= 0:
                s = at + len(spot)
                while s < n and d[s] == 32:
                    s += 1
                e = s
                while e < n and d[e] not in b" \r\n;>":
                    e += 1
                d = d[:s] + rng.pick(NUMBERS) + d[e:]
        elif kind == 8 and n:  # copy a random slice somewhere else
            s = rng.below(n)
            chunk = d[s : s + 1 + rng.below(64)]
            q = rng.below(n + 1)
            d = d[:q] + chunk + d[q:]
        elif kind == 9:  # bare LF line ends, or an early empty line
            if rng.below(2):
                d = d.replace(b"\r\n", b"\n")
            else:
                d = d.replace(b"\r\n", b"\r\n\r\n", 1)
        elif kind == 10 and n:  # overwrite a byte with a special one
            p = p % n
            d = d[:p] + rng.pick(SPECIALS)[:1] + d[p + 1 :]
        else:  # repeat a line many times (long values, many Vias)
            s, e = _line_bounds(d, p % n if n else 0)
            times = 1 + rng.below(40)
            if (e - s) * times > GROW_MAX:
                times = GROW_MAX // (e - s) or 1
            d = d[:e] + d[s:e] * times + d[e:]
        if len(d) > SIZE_MAX:
            d = d[:SIZE_MAX]
    return d


def make_case(seed):
    """(vector name, mutated bytes, rng) for one case seed; the rng drives the checks too."""
    rng = XorShift32(seed)
    names = corpus_names()
    name = names[rng.below(len(names))]
    return name, mutate(read_vector(name), rng), rng


# ---------------------------------------------------------------------------- checks

_PARSE_STATUSES = (400, 505, 513)  # the only statuses parse() may raise


def _check_parse(data, rng):
    """Parse `data` and run the follow-up checks; return ('ok', Message) or ('err', status)."""
    datagram = rng.below(4) != 0
    try:
        msg = message.parse(data, datagram=datagram)
    except ParseError as e:
        assert e.status in _PARSE_STATUSES, "unexpected status %r" % e.status
        assert isinstance(e.reason, str) and e.reason
        resp = message.error_response(data, e)
        if resp is not None:
            assert isinstance(resp, bytes)
            assert resp.startswith(b"SIP/2.0 %d " % e.status), resp[:40]
            assert data.lstrip(b"\r\n")[:4] != b"SIP/", "answered a response"
        return "err", e.status
    assert isinstance(msg, message.Message)
    assert msg.is_request == (msg.method is not None)
    _exercise(msg)
    _round_trip(msg)
    return "ok", msg


def _try(fn, *args):
    try:
        return fn(*args)
    except ParseError:
        return None


def _exercise(msg):
    """What the UA does with a parsed message must fail with ParseError at worst."""
    for c in message.contacts(msg):  # validated by parse(): must not raise at all
        c.uri.host_port()
        c.uri.transport
        c.param(b"tag")
        c.uri.to_bytes()
    for v in msg.values(b"Via"):  # validated by parse() too
        headers.parse_via(v).branch
    for name in (b"Route", b"Record-Route", b"Path", b"Service-Route", b"P-Asserted-Identity"):
        r = _try(msg.values, name)
        if r:
            for v in r:
                na = _try(headers.parse_name_addr, v)
                if na is not None:
                    na.uri.host_port()
                    na.uri.to_bytes()
    for name in (b"From", b"To"):
        na = headers.parse_name_addr(msg.get(name))
        na.uri.host_port()
        na.uri.secure
    for name in (b"Supported", b"Require", b"Allow", b"Accept"):
        _try(msg.values, name)
        msg.has_tag(name, b"outbound")
    if msg.ruri is not None:
        msg.ruri.host_port()
        msg.ruri.to_bytes()
    if msg.is_request:
        message.response(msg, 200, to_tag=b"abc").to_bytes()


def _round_trip(msg):
    wire = msg.to_bytes()
    again = message.parse(wire, max_size=len(wire) + 1)
    # the same start line
    assert (again.method, again.uri, again.status, again.reason) == (
        msg.method, msg.uri, msg.status, msg.reason)
    assert again.body == msg.body
    mine = [h for h in msg.headers if h[0] != b"Content-Length"]
    theirs = [h for h in again.headers if h[0] != b"Content-Length"]
    assert mine == theirs
    assert again.get_all(b"Content-Length") == [b"%d" % len(msg.body)]


def _check_framing(data, rng):
    """Feed `data` (maybe twice, maybe after a ping) to a framer in random chunks."""
    fr = framing.StreamFramer()
    stream = data
    if rng.below(2) and len(data) < 4096:
        stream = data + data
    if rng.below(3) == 0:
        stream = rng.pick((b"\r\n", b"\r\n\r\n", b"\n", b"\r\n\r")) + stream
    chunk_max = rng.pick((1, 2, 7, 64, 500, len(stream) + 1))
    pos = 0
    errors = 0
    out = 0
    units = 0
    while pos < len(stream):
        k = 1 + rng.below(chunk_max)
        fr.feed(stream[pos : pos + k])
        pos += k
        while True:
            unit = fr.next()
            if unit is None:
                break
            units += 1  # every unit consumes at least one byte: no endless loop
            assert units <= pos, "framer keeps returning units"
            kind, payload = unit
            if kind == FRAME_MESSAGE:
                assert errors == 0
                out += len(payload)
                try:
                    message.parse(payload, datagram=False)
                except ParseError:
                    pass
            elif kind == FRAME_ERROR:
                errors += 1
                assert isinstance(payload, ParseError)
                assert payload.status in (400, 513)
            else:
                assert kind in (FRAME_PING, FRAME_PONG) and payload is None
    assert errors <= 1
    assert out <= len(stream)
    if errors:
        assert fr.next() is None and fr.buf == b""
    else:
        _assert_waiting(fr)
    return errors


def _assert_waiting(fr):
    """next() returned None: the buffer must really hold an incomplete unit."""
    buf = fr.buf
    if not buf:
        return
    if buf[:1] in (b"\r", b"\n"):
        assert buf in (b"\r", b"\r\n\r"), "framer stuck on %r" % buf[:8]
        return
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        assert len(buf) <= fr.max_size
        return
    cl = _content_length(buf[:end])  # parsed fine before, or FRAME_ERROR
    assert cl is not None and len(buf) < end + 4 + cl, "complete message left in buffer"


def _content_length(head):
    """The Content-Length of a head the framer accepted (its own header scan, redone):
    the value of the last content-length / l line with its folded lines."""
    value = None
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if value is not None and reading:
                value += b" " + line.strip()
            continue
        name, colon, v = line.partition(b":")
        reading = colon and name.strip().lower() in (b"content-length", b"l")
        if reading:
            value = v.strip()
    return None if value is None else int(value.strip())


def run_case(seed):
    """Run one case; return ('ok'|'err', status-or-None). Raises on any finding."""
    name, data, rng = make_case(seed)
    try:
        kind, detail = _check_parse(data, rng)
        _check_framing(data, rng)
    except Exception as e:  # noqa: BLE001 - any other exception is the finding
        if MICROPYTHON:
            sys.print_exception(e)  # CPython chains the original traceback by itself
        raise AssertionError(
            "fuzz case seed 0x%08x (from %s, %d bytes): %s: %s; data=%r"
            % (seed, name, len(data), type(e).__name__, e, data[:200])
        )
    return kind, (detail if kind == "err" else None)


def case_count(default=DEFAULT_CASES):
    getenv = getattr(os, "getenv", None)
    value = getenv("TINYSIP_FUZZ_CASES") if getenv else None
    if value:
        return int(value)
    return default


def run(cases, base=SEED, progress=None):
    """Run `cases` cases; return {'ok': n, 'err': {status: n}}. Raises on a finding."""
    stats = {"ok": 0, "err": {}}
    for i in range(cases):
        kind, status = run_case(case_seed(base, i))
        if kind == "ok":
            stats["ok"] += 1
        else:
            stats["err"][status] = stats["err"].get(status, 0) + 1
        if progress is not None:
            progress(i + 1)
    return stats


# ---------------------------------------------------------------------------- tests


def test_prng_is_deterministic():
    a = XorShift32(1)
    assert [a.next32() for _ in range(3)] == [270369, 67634689, 2647435461]
    assert case_seed(SEED, 0) == case_seed(SEED, 0)
    assert case_seed(SEED, 0) != case_seed(SEED, 1)
    assert make_case(case_seed(SEED, 5))[1] == make_case(case_seed(SEED, 5))[1]


def test_mutations_reach_every_vector():
    names = corpus_names()
    assert len(names) == 49 + 2 + 12 + 12
    seen = {}
    for i in range(len(names) * 20):
        seen[make_case(case_seed(SEED, i))[0]] = True
    assert len(seen) == len(names)


def test_unmutated_vectors():
    # the seeds of the corpus itself: everything parses or fails cleanly, and frames
    for name in corpus_names():
        data = read_vector(name)
        rng = XorShift32(len(data))
        _check_parse(data, rng)
        _check_framing(data, rng)


def _mem_now():
    gc.collect()
    if MICROPYTHON:
        return gc.mem_alloc()
    import tracemalloc

    return tracemalloc.get_traced_memory()[0]


def test_fuzz_parse_and_framing_memory_bounded():
    cases = case_count()
    corpus_names()
    run(20, base=SEED ^ 0xFFFF)  # warm-up: first-use allocations are not growth
    if not MICROPYTHON:
        import tracemalloc

        tracemalloc.start()
    try:
        before = _mem_now()
        stats = run(cases)
        after = _mem_now()
    finally:
        if not MICROPYTHON:
            tracemalloc.stop()
    assert stats["ok"] + sum(stats["err"].values()) == cases
    # both outcomes must be exercised, else the mutations are too weak or too strong
    assert stats["ok"] > cases // 20 and stats["err"], stats
    assert after - before < MEM_MARGIN, "heap grew by %d bytes" % (after - before)
