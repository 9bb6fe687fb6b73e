"""tinysip.framing: stream framing by Content-Length and RFC 5626 CRLF keepalives."""
from testutil import FRAME_ERROR, FRAME_MESSAGE, FRAME_PING, FRAME_PONG, PING, PONG
from testutil import raises, read_vector

from tinysip import message
from tinysip.errors import ParseError
from tinysip.framing import StreamFramer

HEAD = (
    b"OPTIONS sip:b@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP h.example.com;branch=z9hG4bK1\r\n"
    b"From: <sip:a@example.com>;tag=1\r\n"
    b"To: <sip:b@example.com>\r\n"
    b"Call-ID: c1\r\n"
    b"CSeq: 1 OPTIONS\r\n"
)


def msg(body=b"", cl=None, extra=b""):
    if cl is None:
        cl = b"Content-Length: %d\r\n" % len(body)
    return HEAD + extra + cl + b"\r\n" + body


MSG = msg(b"hello\r\n\r\nworld")  # a body that itself holds CRLFCRLF
MSG2 = msg(b"second").replace(b"Call-ID: c1", b"Call-ID: c2")


def drain(fr):
    """Every unit next() has now, as (kind, payload)."""
    out = []
    while True:
        unit = fr.next()
        if unit is None:
            return out
        out.append(unit)
        assert len(out) < 10000


def feed_all(data, chunk, max_size=None):
    fr = StreamFramer() if max_size is None else StreamFramer(max_size)
    out = []
    for i in range(0, len(data), chunk):
        fr.feed(data[i : i + chunk])
        out.extend(drain(fr))
    return fr, out


def kinds(units):
    return [u[0] for u in units]


# ------------------------------------------------------------------ messages


def test_one_message_in_one_chunk():
    fr, out = feed_all(MSG, len(MSG))
    assert out == [(FRAME_MESSAGE, MSG)]
    assert fr.buf == b"" and fr.error is None
    m = message.parse(out[0][1], datagram=False)
    assert m.body == b"hello\r\n\r\nworld"


def test_byte_by_byte():
    fr = StreamFramer()
    for i in range(len(MSG)):
        fr.feed(MSG[i : i + 1])
        units = drain(fr)
        if i < len(MSG) - 1:
            assert units == [], i
        else:
            assert units == [(FRAME_MESSAGE, MSG)]


def test_every_split_point():
    for k in range(len(MSG) + 1):
        fr = StreamFramer()
        fr.feed(MSG[:k])
        first = drain(fr)
        fr.feed(MSG[k:])
        assert first + drain(fr) == [(FRAME_MESSAGE, MSG)], k


def test_arbitrary_chunk_sizes():
    stream = MSG + MSG2 + PONG + MSG + MSG2 + PONG + PONG + MSG
    want = [FRAME_MESSAGE, FRAME_MESSAGE, FRAME_PONG, FRAME_MESSAGE, FRAME_MESSAGE]
    for chunk in (1, 2, 3, 5, 7, 13, 64, 100, len(stream)):
        fr, out = feed_all(stream, chunk)
        got = kinds(out)
        # the closing PONG + PONG is a PING when both arrive together, two PONGs when a
        # chunk ends between them: CRLF alone is reported at once (RFC 5626 keepalives
        # travel between messages, and a UA only ever gets pongs back)
        assert got in (want + [FRAME_PING, FRAME_MESSAGE],
                       want + [FRAME_PONG, FRAME_PONG, FRAME_MESSAGE]), (chunk, got)
        assert [u[1] for u in out if u[0] == FRAME_MESSAGE] == [MSG, MSG2, MSG, MSG2, MSG]
        assert fr.buf == b"" and fr.error is None


def test_ping_split_at_every_point():
    for k in range(5):
        fr = StreamFramer()
        fr.feed(PING[:k])
        first = drain(fr)
        fr.feed(PING[k:] + MSG)
        got = kinds(first + drain(fr))
        if k == 2:
            assert got == [FRAME_PONG, FRAME_PONG, FRAME_MESSAGE]
        else:
            assert got == [FRAME_PING, FRAME_MESSAGE], (k, got)


def test_two_messages_in_one_chunk():
    fr = StreamFramer()
    fr.feed(MSG + MSG2)
    assert drain(fr) == [(FRAME_MESSAGE, MSG), (FRAME_MESSAGE, MSG2)]


def test_message_then_partial_message():
    fr = StreamFramer()
    fr.feed(MSG + MSG2[:30])
    assert drain(fr) == [(FRAME_MESSAGE, MSG)]
    assert fr.buf == MSG2[:30]
    fr.feed(MSG2[30:-1])
    assert drain(fr) == []  # body not complete yet
    fr.feed(MSG2[-1:])
    assert drain(fr) == [(FRAME_MESSAGE, MSG2)]


def test_compact_and_folded_content_length():
    m = msg(b"abc", cl=b"l: 3\r\n")
    assert feed_all(m, 4)[1] == [(FRAME_MESSAGE, m)]
    m = msg(b"abc", cl=b"cOnTeNt-LeNgTh   :   3\r\n")
    assert feed_all(m, 4)[1] == [(FRAME_MESSAGE, m)]
    m = msg(b"abc", cl=b"Content-Length:\r\n   3\r\n")  # folded value: legal header folding
    assert feed_all(m, 4)[1] == [(FRAME_MESSAGE, m)]
    assert message.parse(m, datagram=False).body == b"abc"
    m = msg(b"abc", cl=b"Content-Length: 000000000003\r\n")  # leading zeros
    assert feed_all(m, 4)[1] == [(FRAME_MESSAGE, m)]
    m = msg(b"abc", cl=b"Content-Length: 3\r\nl: 3\r\n")  # repeated, same value
    assert feed_all(m, 4)[1] == [(FRAME_MESSAGE, m)]


def test_content_length_only_in_header_lines():
    # "Content-Length" inside a folded value or the body is not a header
    m = msg(b"Content-Length: 99\r\n", extra=b"Subject: x\r\n Content-Length: 50\r\n")
    assert feed_all(m, 9)[1] == [(FRAME_MESSAGE, m)]


def test_binary_body_framed_by_content_length():
    data = read_vector("rfc4475/mpart01.sip")
    for chunk in (1, 7, 64, len(data)):
        fr, out = feed_all(data + MSG, chunk)
        assert out == [(FRAME_MESSAGE, data), (FRAME_MESSAGE, MSG)], chunk
    m = message.parse(data, datagram=False)
    assert len(m.body) == 553
    assert m.body == data[-553:] and b"\x00" in m.body
    body = m.body
    # bare CR and bare LF inside the binary part: the body was never scanned for lines
    assert any(body[i] == 13 and body[i + 1 : i + 2] != b"\n" for i in range(len(body)))
    assert any(body[i] == 10 and body[i - 1 : i] != b"\r" for i in range(1, len(body)))


# ------------------------------------------------------------------ keepalives


def test_ping_and_pong():
    fr = StreamFramer()
    fr.feed(PING)
    assert drain(fr) == [(FRAME_PING, None)]
    fr.feed(PONG)
    assert drain(fr) == [(FRAME_PONG, None)]
    assert fr.buf == b""
    assert PING == b"\r\n\r\n" and PONG == b"\r\n"


def test_pong_immediately_followed_by_a_message():
    fr = StreamFramer()
    fr.feed(PONG + MSG)
    assert drain(fr) == [(FRAME_PONG, None), (FRAME_MESSAGE, MSG)]


def test_ping_then_message_then_pong():
    fr = StreamFramer()
    fr.feed(PING + MSG + PONG)
    assert drain(fr) == [(FRAME_PING, None), (FRAME_MESSAGE, MSG), (FRAME_PONG, None)]


def test_crlf_cr_waits_for_the_rest_of_a_ping():
    fr = StreamFramer()
    fr.feed(b"\r\n\r")
    assert drain(fr) == []
    assert fr.buf == b"\r\n\r"
    fr.feed(b"\n")
    assert drain(fr) == [(FRAME_PING, None)]


def test_crlf_cr_then_message_is_a_pong_and_a_stray_cr():
    fr = StreamFramer()
    fr.feed(b"\r\n\r")
    assert drain(fr) == []
    fr.feed(MSG)
    assert drain(fr) == [(FRAME_PONG, None), (FRAME_MESSAGE, MSG)]
    assert fr.buf == b""


def test_lone_cr_waits():
    fr = StreamFramer()
    fr.feed(b"\r")
    assert drain(fr) == [] and fr.buf == b"\r"
    fr.feed(b"\n")
    assert drain(fr) == [(FRAME_PONG, None)]
    fr.feed(b"\r")
    assert drain(fr) == []
    fr.feed(b"\n\r\n")
    assert drain(fr) == [(FRAME_PING, None)]


def test_pongs_in_a_row_and_stray_line_ends():
    fr = StreamFramer()
    fr.feed(PONG + PONG)
    assert drain(fr) == [(FRAME_PING, None)]  # CRLFCRLF is a ping whatever its history
    fr.feed(b"\n\n" + MSG + b"\r" + MSG2)
    assert drain(fr) == [(FRAME_MESSAGE, MSG), (FRAME_MESSAGE, MSG2)]  # strays skipped
    fr.feed(b"\n" + PONG)
    assert drain(fr) == [(FRAME_PONG, None)]


def test_long_run_of_stray_bytes():
    fr = StreamFramer()
    fr.feed(b"\n" * 20000 + MSG)
    assert drain(fr) == [(FRAME_MESSAGE, MSG)]


# ------------------------------------------------------------------ where a head ends


INVITE = (
    b"INVITE sip:b@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP h.example.com;branch=z9hG4bK2\r\n"
    b"From: <sip:a@example.com>;tag=2\r\n"
    b"To: <sip:b@example.com>\r\n"
    b"Call-ID: c2\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Content-Length: 4\r\n\r\nv=0\n"
)


def every_chunking(stream, max_size=None):
    """The units of `stream` for several chunk sizes; asserts they never differ."""
    first = None
    for chunk in (1, 2, 3, 7, 64, len(stream)):
        out = feed_all(stream, chunk, max_size)[1]
        if first is None:
            first = out
        assert out == first, chunk
    return first


def test_crlf_cr_then_the_next_message():
    # Kamailio's parser ends a head at a line starting with CR and relays the message so:
    # CRLF CR, the body, and on the same stream the next INVITE (issue 15 finding 4)
    one = HEAD + b"Content-Length: 0\r\n\r"
    out = every_chunking(one + INVITE)
    assert out == [(FRAME_MESSAGE, one), (FRAME_MESSAGE, INVITE)]
    assert message.parse(one, datagram=False).body == b""
    assert message.parse(INVITE, datagram=False).method == b"INVITE"
    # with a body: it starts right after the CR
    one = HEAD + b"Content-Length: 8\r\n\rJUNKJUNK"
    out = every_chunking(one + INVITE + MSG)
    assert out == [(FRAME_MESSAGE, one), (FRAME_MESSAGE, INVITE), (FRAME_MESSAGE, MSG)]
    assert message.parse(one, datagram=False).body == b"JUNKJUNK"


def test_crlf_cr_at_the_end_waits_for_one_byte():
    fr = StreamFramer()
    fr.feed(HEAD + b"Content-Length: 2\r\n\r")
    assert drain(fr) == []  # CRLF (the body after it) or CR (the body is "\n" + ...)?
    fr.feed(b"\nok")
    assert drain(fr) == [(FRAME_MESSAGE, HEAD + b"Content-Length: 2\r\n\r\nok")]


def test_bare_lf_line_ends():
    # RFC 3261 §7.5: LF alone ends lines and LF LF the head; MSG's body was
    # "hello\r\n\r\nworld" (14 bytes), 12 with LF alone
    first = MSG.replace(b"\r\n", b"\n").replace(b"Content-Length: 14", b"Content-Length: 12")
    second = INVITE.replace(b"\r\n", b"\n")
    out = every_chunking(first + second + PONG)
    assert out == [(FRAME_MESSAGE, first), (FRAME_MESSAGE, second), (FRAME_PONG, None)]
    m = message.parse(first, datagram=False)
    assert m.body == b"hello\n\nworld" and m.call_id == b"c1"
    mixed = HEAD + b"Content-Length: 3\r\n\nabc"  # CRLF lines, an LF empty line
    assert every_chunking(mixed + INVITE) == [(FRAME_MESSAGE, mixed), (FRAME_MESSAGE, INVITE)]
    assert message.parse(mixed, datagram=False).body == b"abc"


def test_the_framer_and_the_parser_agree_on_the_body():
    for end in (b"\r\n\r\n", b"\n\n", b"\r\n\n", b"\n\r\n", b"\r\n\r", b"\n\r"):
        for body in (b"", b"x", b"\nx", b"xy"):
            if end[-1:] == b"\r" and body[:1] == b"\n":
                continue  # CR + LF: the same bytes as the CRLF ending, body and all
            m = HEAD + b"Content-Length: %d" % len(body) + end + body
            assert every_chunking(m + INVITE) == [(FRAME_MESSAGE, m), (FRAME_MESSAGE, INVITE)]
            assert message.parse(m, datagram=False).body == body, (end, body)
            assert message.parse(m).body == body


# ------------------------------------------------------------------ staying in step


def test_oversize_content_length_513_skips_exactly_the_body():
    # one relayed request over max_size must not cost the flow (issue 15 finding 4)
    body = b"b" * 20000
    big = HEAD.replace(b"OPTIONS", b"MESSAGE")
    big = big + b"Content-Length: %d\r\n\r\n" % len(body)
    out = every_chunking(big + body + INVITE + PONG)
    assert out == [(FRAME_MESSAGE, big), (FRAME_MESSAGE, INVITE), (FRAME_PONG, None)]
    e = raises(ParseError, message.parse, big, datagram=False)
    assert e.status == 513 and "16384" in e.reason
    resp = message.error_response(big, e)
    assert resp.startswith(b"SIP/2.0 513 Message Too Large\r\n") and b"Call-ID: c1\r\n" in resp
    fr = StreamFramer()  # the body is dropped as it comes, never buffered
    fr.feed(big)
    assert drain(fr) == [(FRAME_MESSAGE, big)]
    for i in range(0, len(body), 4096):
        fr.feed(body[i : i + 4096])
        assert drain(fr) == [] and fr.buf == b""
    fr.feed(INVITE)
    assert drain(fr) == [(FRAME_MESSAGE, INVITE)]


def test_exact_max_size_is_fine():
    fr = StreamFramer(max_size=len(MSG))
    fr.feed(MSG + MSG2)
    assert drain(fr) == [(FRAME_MESSAGE, MSG), (FRAME_MESSAGE, MSG2)]  # MSG2 is shorter
    fr = StreamFramer(max_size=len(MSG) - 1)
    fr.feed(MSG + MSG2)
    head = MSG[: MSG.find(b"\r\n\r\n") + 4]
    assert drain(fr) == [(FRAME_MESSAGE, head), (FRAME_MESSAGE, MSG2)]
    assert raises(ParseError, message.parse, head, len(MSG) - 1, False).status == 513


def test_default_max_size():
    assert StreamFramer().max_size == 16384  # message.parse()'s default too
    n = 16384 - len(msg(b"x" * 10000)) + 10000  # a body of n bytes: 16384 in all
    data = msg(b"x" * n)
    assert len(data) == 16384 and feed_all(data, 4096)[1] == [(FRAME_MESSAGE, data)]
    big = msg(b"x" * (n + 1))
    out = feed_all(big + MSG, 4096)[1]
    assert out == [(FRAME_MESSAGE, big[: big.find(b"\r\n\r\n") + 4]), (FRAME_MESSAGE, MSG)]


def test_missing_or_bad_content_length_then_hunt_for_the_next_start_line():
    junk = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n"  # a body nobody can frame
    for cl in (b"", b"Content-Length: -999\r\n", b"Content-Length: five\r\n",
               b"Content-Length: 1 2\r\n", b"Content-Length: +5\r\n", b"Content-Length: 0x10\r\n",
               b"Content-Length: 9999999999999\r\n", b"Content-Length: 13\r\nl: 5\r\n",
               b"Content-Length: 13\r\nContent-Length: 5\r\n"):
        bad = msg(cl=cl)
        out = every_chunking(bad + junk + MSG + junk + PONG)
        # the bad message for parse() to answer 400, the junk dropped, MSG found again;
        # a stray line after a good message is a head of its own (parse() judges it)
        assert kinds(out)[:2] == [FRAME_MESSAGE, FRAME_MESSAGE] and out[:2] == [
            (FRAME_MESSAGE, bad), (FRAME_MESSAGE, MSG)], (cl, out)
        e = raises(ParseError, message.parse, bad, datagram=False)
        assert e.status == 400 and "Content-Length" in e.reason, e
        assert message.error_response(bad, e).startswith(b"SIP/2.0 400 Bad Request\r\n")


def test_keepalives_while_hunting():
    fr = StreamFramer()
    fr.feed(msg(cl=b"") + b"garbage\r\nmore garbage\r\n" + PONG)
    assert kinds(drain(fr)) == [FRAME_MESSAGE, FRAME_PONG]
    fr.feed(b"still garbage\r\n" + PING + b"x\r\n")
    assert kinds(drain(fr)) == [FRAME_PING]
    fr.feed(INVITE)
    assert drain(fr) == [(FRAME_MESSAGE, INVITE)]


def test_a_start_line_inside_a_head_ends_it():
    # a head whose empty line was lost is never glued to the message after it
    cut = HEAD + b"Max-Forwards: 70\r\n"
    for nxt in (INVITE, b"SIP/2.0 200 OK\r\n" + INVITE[INVITE.find(b"\r\n") + 2 :]):
        out = every_chunking(cut + nxt + MSG)
        assert out == [(FRAME_MESSAGE, cut), (FRAME_MESSAGE, nxt), (FRAME_MESSAGE, MSG)]
    e = raises(ParseError, message.parse, cut, datagram=False)
    assert e.status == 400 and "empty line" in e.reason
    assert message.error_response(cut, e).startswith(b"SIP/2.0 400 ")
    # header lines shaped almost like a request line are header lines
    odd = msg(extra=b"Subject : a:b SIP/2.0\r\nX-A: sip:x SIP/2.0\r\nX-B:sip:y SIP/2.0\r\n")
    assert every_chunking(odd + MSG) == [(FRAME_MESSAGE, odd), (FRAME_MESSAGE, MSG)]


def test_oversize_head_513_then_in_step_again():
    # a head beyond max_size: its first bytes for the 513, the rest dropped line by line
    # (its Content-Length noted), then the body
    pad = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"p" * 60) for i in range(40))  # ~3 KB
    big = HEAD + pad + b"Content-Length: 5\r\n\r\nhello"
    # no Content-Length in the big head: hunt for the next start line; a start line
    # inside the dropped head: the next message starts there
    for stream, nxt in ((big + MSG, MSG), (HEAD + pad + b"\r\nbody?\r\n" + MSG, MSG),
                        (HEAD + pad + INVITE, INVITE)):
        for chunk in (1, 2, 7, 64, 1000, len(stream)):
            out = feed_all(stream, chunk, 1000)[1]
            assert kinds(out) == [FRAME_MESSAGE, FRAME_MESSAGE] and out[1][1] == nxt, chunk
            first = out[0][1]  # what had come when the head passed max_size
            assert stream.startswith(first) and 1000 < len(first) <= 1000 + chunk
    e = raises(ParseError, message.parse, first, 1000, False)
    assert e.status == 513
    resp = message.error_response(first, e)
    assert resp.startswith(b"SIP/2.0 513 ") and b"CSeq: 1 OPTIONS\r\n" in resp
    assert resp.count(b"\r\n") == 9  # status, the five, Warning, Content-Length, end


def test_every_good_message_survives_any_mix_of_bad_ones():
    # good messages among bad ones the framer must step over, in a seeded order and in
    # seeded chunks: every good message comes out whole and in order, nothing kills the
    # stream (a body nobody can frame ends its last line here: one that does not is the
    # head of the line the next start line is on, and that message is lost)
    good = (MSG, MSG2, INVITE, HEAD + b"Content-Length: 2\r\n\rok",
            HEAD.replace(b"\r\n", b"\n") + b"Content-Length: 1\n\nx")
    bad = (msg(cl=b"") + b"v=0\r\ns=-\r\n",  # no Content-Length, a body nobody can frame
           msg(b"x" * 38 + b"\r\n", cl=b"Content-Length: 13\r\nl: 40\r\n"),  # conflicting
           msg(cl=b"Content-Length: 3000\r\n") + b"b" * 3000,  # too large: skipped
           HEAD + b"Max-Forwards: 70\r\n",  # no empty line: the next start line ends it
           PING, PONG, b"\r\n\n")
    seed = 12345
    for case in range(40):
        stream = b""
        want = []
        for _ in range(8):
            seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
            if seed % 3:
                want.append(good[seed % len(good)])
                stream += want[-1]
            else:
                stream += bad[seed % len(bad)]
        fr = StreamFramer(2000)
        got = []
        pos = 0
        while pos < len(stream):
            seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
            step = 1 + seed % (1 + (2000 if case % 2 else 40))
            fr.feed(stream[pos : pos + step])
            pos += step
            for kind, payload in drain(fr):
                assert kind != FRAME_ERROR, (case, payload)
                if kind == FRAME_MESSAGE and payload in good:
                    got.append(payload)
        assert got == want, case


# ------------------------------------------------------------------ framing truly lost


def assert_dead(fr, err):
    assert fr.error is err and fr.buf == b""
    assert fr.next() is None
    fr.feed(MSG)
    assert fr.next() is None and fr.buf == b""


def error_of(data, chunk=5, status=400, max_size=None):
    fr, out = feed_all(data, chunk, max_size)
    assert out and out[-1][0] == FRAME_ERROR, out
    assert kinds(out).count(FRAME_ERROR) == 1
    err = out[-1][1]
    assert isinstance(err, ParseError) and err.status == status, err
    assert_dead(fr, err)
    return fr, out


def test_garbage_without_a_start_line_kills_the_stream():
    _, out = error_of(b"\x16\x03\x01" + b"z" * 20000)  # e.g. a TLS record on a TCP flow
    assert out[0][1].reason == "no start line within 16384 bytes"
    error_of(b"not a start line\r\n" + b"x" * 2000, max_size=1000)
    _, out = error_of(MSG + msg(cl=b"") + b"junk line\r\n" * 2000)  # hunting, in vain
    assert out[:2] == [(FRAME_MESSAGE, MSG), (FRAME_MESSAGE, msg(cl=b""))]


def test_a_head_without_end_kills_the_stream():
    pad = b"X-Pad: " + b"p" * 60 + b"\r\n"
    _, out = error_of(HEAD + pad * 100, 64, 513, max_size=1000)  # beyond 4 x 1000 bytes
    assert kinds(out) == [FRAME_MESSAGE, FRAME_ERROR]
    assert out[1][1].reason == "header block larger than 4000 bytes"
    error_of(HEAD + pad * 20 + b"X-Long: " + b"l" * 1200, 64, 513, max_size=1000)


# ------------------------------------------------------------------ torture vectors on a stream


def test_clerr_waits_on_a_stream():
    # Content-Length 9999 > the 154 body bytes: a stream waits for more (the transport's
    # idle timeout closes it); no error and no message yet
    fr = StreamFramer()
    fr.feed(read_vector("rfc4475/clerr.sip"))
    assert drain(fr) == [] and fr.error is None


def test_ncl_mcl01_and_inv2543_are_answered_and_the_stream_goes_on():
    for name in ("ncl", "mcl01", "inv2543"):  # -999, 3 different ones, none
        data = read_vector("rfc4475/%s.sip" % name)
        out = [u for u in every_chunking(data + MSG) if u[0] != FRAME_PONG]
        assert kinds(out) == [FRAME_MESSAGE, FRAME_MESSAGE] and out[-1] == (FRAME_MESSAGE, MSG)
        e = raises(ParseError, message.parse, out[0][1], datagram=False)
        assert e.status == 400 and message.error_response(out[0][1], e) is not None, name


def test_dblreq_on_a_stream():
    # on a stream there is no datagram to discard: CRLF + INVITE is a pong and a message,
    # and the INVITE's body is 5 bytes shorter than the file: "C\r\n\r\n" is left over, a
    # head without Content-Length that parse() refuses; the stream goes on
    data = read_vector("rfc4475/dblreq.sip")
    out = every_chunking(data + MSG)
    assert kinds(out) == [FRAME_MESSAGE, FRAME_PONG, FRAME_MESSAGE, FRAME_MESSAGE,
                          FRAME_MESSAGE]
    assert message.parse(out[0][1], datagram=False).method == b"REGISTER"
    assert message.parse(out[2][1], datagram=False).method == b"INVITE"
    assert raises(ParseError, message.parse, out[3][1], datagram=False).status == 400
    assert out[4] == (FRAME_MESSAGE, MSG)


def test_valid_vectors_back_to_back():
    names = ("wsinv", "intmeth", "esc01", "escnull", "esc02", "lwsdisp", "longreq",
             "semiuri", "transports", "mpart01", "unreason", "noreason")
    stream = b""
    for name in names:
        stream += read_vector("rfc4475/%s.sip" % name)
    for chunk in (1, 37, 1024):
        fr, out = feed_all(stream, chunk)
        assert kinds(out) == [FRAME_MESSAGE] * len(names), chunk
        assert b"".join(u[1] for u in out) == stream
        for u in out:
            message.parse(u[1], datagram=False)
