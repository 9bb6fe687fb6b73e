"""tinysip.fastparse (message.parse on CPython) against message.py's own parser.

The fast path must give the same result as message.py's parser on every input: the same
ParseError (status and reason) or a Message with the same fields, index and answers to
every read (fastparse_diff.compare). Checked over every RFC 4475 / RFC 5118 vector, the
messages of tools/bench/parse.py, every message the protocol unit tests parse (their
modules run again with the fastparse_diff plugin) and a seeded mutation fuzz.
"""
# mpy: skip
# (CPython only: fastparse is CPython's parser; MicroPython runs message.py's, tested by
# every other parser test)
import os
import re
import subprocess
import sys

import test_fuzz
from fastparse_diff import compare, fast_path
from testutil import HERE, read_vector

from tinysip import fastparse, message
from tinysip.errors import ParseError

ROOT = os.path.dirname(HERE)
SEED = 0x5EEDFA57
CASES = int(os.environ.get("TINYSIP_FASTPARSE_CASES", "5000"))


def _bench():
    sys.path.insert(0, os.path.join(ROOT, "tools", "bench"))
    try:
        import parse as bench
    finally:
        sys.path.pop(0)
    return bench


def _crlf(data):
    """A vector with CRLF line ends in its head (the raw RFC 5118 files have LF)."""
    head, sep, body = data.partition(b"\n\n")
    if not sep:
        return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return head.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") + b"\r\n\r\n" + body


def corpus():
    out = [read_vector(n) for n in test_fuzz.corpus_names()]
    out += [_crlf(d) for d in out]
    bench = _bench()
    out += [d for _, d in bench.REALISTIC]
    return out


def test_the_hook_picks_the_fast_parser_on_cpython():
    assert message.parse is fastparse.parse
    assert fastparse._slow.__module__ == "tinysip.message" and fastparse._slow is not message.parse
    # imported first, before tinysip.message, fastparse still ends up as message.parse
    code = ("import sys; sys.path.insert(0, %r); import tinysip.fastparse as f; "
            "from tinysip import message as m; "
            "assert m.parse is f.parse and f._slow.__module__ == 'tinysip.message' "
            "and f._slow is not f.parse; print('ok')" % os.path.join(ROOT, "lib"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


def test_every_vector_parses_the_same():
    fast = 0
    n = 0
    for data in corpus():
        for kw in ({}, {"datagram": False}, {"max_size": max(len(data) - 1, 1)},
                   {"max_size": len(data) + 10, "datagram": False}):
            fast += compare(data, **kw)
            n += 1
    # the valid vectors with CRLF line ends and the realistic messages go the fast way
    assert fast >= 60, (fast, n)


def test_the_bench_messages_take_the_fast_path():
    bench = _bench()
    for name, data in bench.REALISTIC + bench.torture_valid():
        compare(data)
        if name in ("register-auth", "200-ok-gruu", "invite-sdp", "noreason", "cparam01",
                    "cparam02", "inv2543"):
            assert fast_path(data), name


def test_a_rejected_message_gets_message_py_error():
    data = read_vector("rfc4475/mismatch01.sip")
    try:
        message.parse(data)
    except ParseError as e:
        assert (e.status, e.reason) == (400, "CSeq method is not the request's")
    else:
        raise AssertionError("accepted")


def test_a_fast_message_reads_like_a_message_py_one():
    bench = _bench()
    m = message.parse(bench.INVITE)
    assert isinstance(m, message.Message) and "pos" not in m.__dict__
    assert m.get(b"From") == b'"Tester" <sip:tester@lab.test>;tag=1928301774'
    assert m.get_all(b"Via")[1].startswith(b"SIP/2.0/UDP 203.0.113.9:5060")
    assert m.to_bytes() is bench.INVITE and "pos" not in m.__dict__  # no index needed
    assert m.pos[7] == 15  # made when read: the first Via is the first line
    m.set(b"Max-Forwards", b"68")
    assert m.pos is None and b"Max-Forwards: 68\r\n" in m.to_bytes()
    assert m.get(b"Max-Forwards") == b"68"


# -- mutations beyond test_fuzz's: the shapes the fast path has to tell apart

_SPOTS = (b": ", b";", b",", b"<", b">", b" ", b"=", b"\r\n", b"/", b"@", b":")
_INSERTS = (b" ", b"\t", b"  ", b"\r\n ", b"\r\n\t", b"\n", b"\r", b";", b";;", b",", b"\"",
            b"\\", b"<", b">", b"=", b"%41", b"\x0b", b"\x0c", b"\x00", b"\x7f", b"\xc3\xa9",
            b"[", b"]", b"?", b"@", b":", b"*", b";tag=x", b";branch=z9hG4bKx", b";tag",
            b";branch", b";lr", b";x=\"a;b,c<d>\"", b"sips:", b"tel:+1", b"0", b"00000")
_NAMES = (b"Via", b"v", b"From", b"f", b"To", b"t", b"Call-ID", b"i", b"CSeq", b"Contact",
          b"m", b"Content-Length", b"l", b"Max-Forwards", b"VIA", b"call-id", b"cOnTaCt",
          b"Route", b"X-Y", b"Content-Type", b"Cseq", b"Toto", b"Via ", b" Via", b"V!a")


def _lines(d):
    head, sep, body = d.partition(b"\r\n\r\n")
    return head.split(b"\r\n"), sep, body


def _join(lines, sep, body):
    return b"\r\n".join(lines) + sep + body


def mutate(data, rng):
    """1 (half the time) to 3 mutations of a kind the fast path's grammar decides on."""
    d = data
    for _ in range(1 if rng.below(2) else 2 + rng.below(2)):
        lines, sep, body = _lines(d)
        kind = rng.below(14)
        i = 1 + rng.below(len(lines) - 1) if len(lines) > 1 else 0
        line = lines[i]
        if kind == 0:  # a header name in another case or compact form
            c = line.find(b":")
            if c > 0:
                lines[i] = rng.pick(_NAMES) + line[c:]
        elif kind == 1:  # letter case of a name or a whole line
            lines[i] = line.upper() if rng.below(2) else line.lower()
        elif kind == 2:  # insert something at a spot that matters to the grammar
            spot = rng.pick(_SPOTS)
            at = line.find(spot)
            if at >= 0:
                at += rng.below(len(spot) + 1)
                lines[i] = line[:at] + rng.pick(_INSERTS) + line[at:]
        elif kind == 3:  # insert anywhere in a line
            at = rng.below(len(line) + 1)
            lines[i] = line[:at] + rng.pick(_INSERTS) + line[at:]
        elif kind == 4:  # duplicate a line
            lines.insert(1 + rng.below(len(lines)), line)
        elif kind == 5 and len(lines) > 2:  # delete a line
            del lines[i]
        elif kind == 6 and len(lines) > 2:  # swap two header lines
            j = 1 + rng.below(len(lines) - 1)
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == 7:  # fold a line at a space
            at = line.find(b" ", rng.below(len(line) + 1))
            if at > 0:
                lines[i] = line[:at] + rng.pick((b"\r\n ", b"\r\n\t", b"\n ")) + line[at + 1 :]
        elif kind == 8:  # LF line ends: one line or all
            if rng.below(2):
                return d.replace(b"\r\n", b"\n")
            lines[i] = line + b"\n" + lines[i + 1] if i + 1 < len(lines) else line
            if i + 1 < len(lines):
                del lines[i + 1]
        elif kind == 9:  # trailing or leading blanks
            lines[i] = line + rng.pick((b" ", b"\t", b"\r", b" \t")) if rng.below(2) else (
                line.replace(b":", b":" + rng.pick((b"", b" ", b"  ", b"\t", b"\x0b")), 1))
        elif kind == 10:  # a number changed: CSeq, Content-Length, Max-Forwards, a port
            m = re.search(rb"\d+", line)
            if m:
                n = rng.pick((b"0", b"1", b"00", b"4294967295", b"4294967296", b"65535",
                              b"65536", b"99999999999", b"%d" % (len(body) + rng.below(3) - 1)))
                lines[i] = line[: m.start()] + n + line[m.end() :]
        elif kind == 11:  # the body longer or shorter
            body = body + b"x" * rng.below(5) if rng.below(2) else body[: rng.below(len(body) + 1)]
        elif kind == 12:  # many elements or parameters on one line
            c = line.find(b":")
            if c > 0:
                v = line[c + 1 :].strip()
                times = rng.pick((2, 20, 31, 32, 33, 64, 65))
                lines[i] = line[: c + 1] + b" " + (
                    b", ".join([v] * times) if rng.below(2) else v + b";p" * times)
        else:  # cut the message short
            return d[: rng.below(len(d) + 1)]
        d = _join(lines, sep, body)
    return d


def test_mutation_fuzz_both_parsers_agree():
    base = corpus()
    fast = accepted = 0
    for i in range(CASES):
        seed = test_fuzz.case_seed(SEED, i)
        rng = test_fuzz.XorShift32(seed)
        data = base[rng.below(len(base))]
        data = mutate(data, rng) if rng.below(3) else test_fuzz.mutate(data, rng)
        kw = {} if rng.below(4) else {"datagram": False}
        try:
            fast += compare(data, **kw)
        except AssertionError as e:
            raise AssertionError("case seed 0x%08x: %s" % (seed, e))
        try:
            fastparse._slow(data, **kw)
            accepted += 1
        except ParseError:
            pass
    # the mutations must reach both parsers' every outcome: many accepted messages, most
    # of them through the fast path, and many refused
    assert accepted > CASES // 5 and CASES - accepted > CASES // 5, (accepted, CASES)
    assert fast > accepted // 2, (fast, accepted)


# -- every message the protocol unit tests parse, compared as they run

UNIT_TESTS = (
    "test_message.py", "test_headers.py", "test_uri.py", "test_torture.py", "test_framing.py",
    "test_register.py", "test_outbound.py", "test_gruu.py", "test_transaction.py",
    "test_invite.py", "test_subscribe.py", "test_ua.py", "test_ua_calls.py",
    "test_ua_plain.py", "test_ua_udp.py", "test_ua_hostile.py", "test_ua_certs.py",
    "test_ua_credential.py", "test_ua_voice.py", "test_loopback.py", "test_dial.py",
    "test_probe.py", "test_identity.py", "test_errors.py", "test_limits.py", "test_stream.py",
)


def test_every_message_the_unit_tests_parse_is_parsed_the_same():
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.path.join(ROOT, "lib"))
    files = [os.path.join(HERE, f) for f in UNIT_TESTS if os.path.exists(os.path.join(HERE, f))]
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-p",
         "fastparse_diff", *files], capture_output=True, text=True, cwd=ROOT, env=env,
        timeout=600)
    m = re.search(r"fastparse_diff: (\d+) messages compared, (\d+) through the fast path",
                  out.stdout)
    assert out.returncode == 0 and m, out.stdout[-3000:] + out.stderr[-2000:]
    compared, fast = int(m.group(1)), int(m.group(2))
    assert compared > 2000 and fast > compared // 2, (compared, fast)
    print("unit tests: %d messages compared, %d through the fast path" % (compared, fast))


def test_no_input_makes_the_expression_backtrack_for_long():
    """Each piece of the grammar matches one way only (an ambiguous one, e.g. a port as
    "[0-5]?[0-9]{1,4}", backtracks exponentially over a long list that fails at its end)."""
    import time

    bench = _bench()
    head, _, _ = bench.INVITE.partition(b"\r\n\r\n")
    via = b"SIP/2.0/UDP 203.0.113.9:5060;rport=5060;branch=z9hG4bKnashds8"
    contact = b'"A" <sip:a@192.0.2.1:5060;transport=tcp>;expires=60;q=0.5'
    cases = []
    for n in (40, 64, 65, 100):
        for tail in (b"", b" x", b";", b",", b"\x00"):
            cases.append(head.replace(b"Via: SIP/2.0/TLS", b"Via: " + b", ".join([via] * n)
                                      + tail + b"\r\nVia: SIP/2.0/TLS", 1))
            cases.append(head.replace(b"Contact: ", b"Contact: " + b", ".join([contact] * n)
                                      + tail + b", ", 1))
    cases.append(head + b"\r\n" + b"X-A: " + b"a" * 60 + b"\r\n" * 1 + b"X-B: b\r\n" * 63 + b"\x01")
    cases.append(head.replace(b"From: ", b'From: "' + b"\\a" * 2000, 1))
    for data in cases:
        data += b"\r\n\r\n"
        t0 = time.perf_counter()
        for _ in range(3):
            fastparse._HEAD.match(data)
        assert time.perf_counter() - t0 < 0.5, data[:200]
        compare(data)
