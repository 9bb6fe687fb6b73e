"""tinysip.passport: RFC 8224 Identity header values with ES256 PASSporTs.

Signed values come from host_tests/data/sig/passport.json (built and cross-checked with
`cryptography` by gen.py there); the malformed ones are built here from them.
"""

import json
from binascii import unhexlify

from testutil import b64url_encode, raises, read_vector

from tinysip.errors import ParseError
from tinysip.passport import b64url_decode, parse_identity, verify


def _data():
    d = json.loads(read_vector("sig/passport.json"))
    return d, unhexlify(d["point"]), unhexlify(d["other_point"])


def _good(d):
    c = d["cases"][0]
    assert c["ok"]
    return c["value"].encode()


def test_vectors():
    d, point, _ = _data()
    good = bad = 0
    for c in d["cases"]:
        ok, res = verify(c["value"].encode(), point)
        assert ok == c["ok"], "%s: %r" % (c["what"], res)
        if ok:
            good += 1
            assert res == c["claims"], c["what"]
        else:
            bad += 1
            assert isinstance(res, str) and res, c["what"]
            assert c["reason"] in res, "%s: %r lacks %r" % (c["what"], res, c["reason"])
    assert good >= 5 and bad >= 25, (good, bad)


def test_good_claims():
    d, point, _ = _data()
    ok, claims = verify(_good(d), point)
    assert ok
    assert claims["orig"] == {"tn": "12155551212"}
    assert claims["dest"] == {"tn": ["12155551213"]}
    assert claims["iat"] == 1443208345
    assert claims["attest"] == "A"
    # str input works as well as bytes
    assert verify(_good(d).decode(), point) == (True, claims)


def test_wrong_key():
    d, _, other = _data()
    ok, reason = verify(_good(d), other)
    assert not ok and reason == "ES256 signature does not verify"


def test_bad_signer_point():
    d, point, _ = _data()
    v = _good(d)
    for p in (b"", b"\x04" + b"\x00" * 64, point[:-1], b"\x02" + point[1:33], None, "04"):
        ok, reason = verify(v, p)
        assert not ok and "P-256 point" in reason, (p, reason)


def test_tampering_any_jws_character_fails():
    d, point, _ = _data()
    v = _good(d)
    jws = v.partition(b";")[0]
    for i in range(0, len(jws), 7):
        c = jws[i]
        if c == 0x2E:  # '.'
            continue
        repl = b"A" if c != 0x41 else b"B"
        bad = v[:i] + repl + v[i + 1 :]
        ok, reason = verify(bad, point)
        assert not ok, i


def test_malformed_base64url():
    d, point, _ = _data()
    v = _good(d)
    h, _, rest = v.partition(b".")
    for bad in (
        h + b"!." + rest,
        h + b"=." + rest,
        h + b" ." + rest,
        h[:-1] + b"\xff." + rest,
        h + b"AAAAA." + rest,  # adds 5 characters: length % 4 == 1 for some part
    ):
        ok, reason = verify(bad, point)
        assert not ok, bad
        assert "base64url" in reason or "JSON" in reason or "does not verify" in reason, reason


def test_never_raises_on_garbage():
    _, point, _ = _data()
    for v in (
        b"",
        b";",
        b";;;",
        b"..",
        b"a.b.c",
        b"a.b.c;info",
        b"a.b.c;info=",
        b"a.b.c;info=<>",
        b"a.b.c;=x;info=<http://x>",
        b"\xff\xfe.\x00.\x01;info=<\xff>",
        bytes(range(256)),
        b"e30.e30.AAAA;info=<http://x>",  # {} . {} . 3 zero bytes
        b"W10.W10.AAAA;info=<http://x>",  # [] . []
        None,
        12,
    ):
        ok, reason = verify(v, point)
        assert ok is False and isinstance(reason, str), v


def test_header_size_cap():
    _, point, _ = _data()
    v = b"W" * 4000 + b".e30.AAAA;info=<http://x>"
    ok, reason = verify(v, point)
    assert not ok and "longer than" in reason
    # deep nesting within the cap is just invalid JSON or not an object
    deep = b64url_encode(b"[" * 1500)
    ok, reason = verify(deep + b".e30.AAAA;info=<http://x>", point)
    assert not ok and "JSON" in reason, reason


def test_parse_identity_fields():
    d, _, _ = _data()
    v = _good(d)
    h, p, s, params = parse_identity(v)
    assert v.startswith(h + b"." + p + b"." + s + b";")
    assert params[b"info"] == b"https://cert.example.org/passport.cer"
    assert params[b"alg"] == b"ES256"
    assert params[b"ppt"] == b"shaken"
    assert len(b64url_decode(s)) == 64
    assert json.loads(b64url_decode(h))["x5u"] == "https://cert.example.org/passport.cer"


def test_parse_identity_params():
    h, p, s, params = parse_identity(
        b'  aa.bb.cc ;Info= <https://x.example/a;b=c?d=e> ; PPT="div" ;flag;ext=tok  '
    )
    assert (h, p, s) == (b"aa", b"bb", b"cc")
    assert params[b"info"] == b"https://x.example/a;b=c?d=e"
    assert params[b"ppt"] == b"div"
    assert params[b"flag"] is None
    assert params[b"ext"] == b"tok"
    # compact form: payload left out
    h, p, s, params = parse_identity("aa..cc;info=<sip:x@y>")
    assert (h, p, s) == (b"aa", b"", b"cc")
    assert params == {b"info": b"sip:x@y"}


def test_parse_identity_errors():
    for v in (
        b"",
        b"   ",
        b"aa.bb.cc",  # no info
        b"aa.bb.cc;alg=ES256",
        b"aa.bb;info=<http://x>",
        b"aa.bb.cc.dd;info=<http://x>",
        b".bb.cc;info=<http://x>",
        b"aa.bb.;info=<http://x>",
        b"aa.bb.cc;info=http://x",
        b"aa.bb.cc;info=<>",
        b"aa.bb.cc;info=<http://x",
        b'aa.bb.cc;info=<http://x>;ppt="shaken',
        b'aa.bb.cc;info=<http://x>;ppt="',
        b"aa.bb.cc;info=<http://x>;info=<http://y>",
        b"aa.bb.cc;info=<http://x>;;alg=ES256",
        b"aa.bb.cc;info=<http://x>;",
    ):
        e = raises(ParseError, parse_identity, v)
        assert e.status == 438 and e.reason, v


def test_b64url():
    assert b64url_decode(b"") == b""
    assert b64url_decode(b"Zg") == b"f"
    assert b64url_decode(b"Zm8") == b"fo"
    assert b64url_decode(b"Zm9v") == b"foo"
    assert b64url_decode("-_-_") == b"\xfb\xff\xbf"
    assert b64url_encode(b"\xfb\xff\xbf") == b"-_-_"
    assert b64url_encode(b"f") == b"Zg"
    data = bytes(range(256))
    for n in range(0, 40):
        enc = b64url_encode(data[n : n + n])
        assert b"=" not in enc and b"+" not in enc and b"/" not in enc
        assert b64url_decode(enc) == data[n : n + n]
    for bad in (b"Z", b"Zg==", b"Zg=", b"Z g", b"Zm+v", b"Zm/v", b"Zm9vZ", b"\xffZg"):
        e = raises(ParseError, b64url_decode, bad)
        assert e.status == 438 and e.reason.startswith("base64url: "), bad


def test_b64url_canonical_only():
    # "Zg" is b"f"; "Zh".."Zv" carry non-zero bits after the byte and decode to b"f" too
    assert b64url_decode(b"Zg") == b"f"
    for bad in (b"Zh", b"Zi", b"Zv", b"Zm9", b"Zm-", b"Zm_"):
        e = raises(ParseError, b64url_decode, bad)
        assert "padding bits" in e.reason, bad
    assert b64url_decode(b"Zm8") == b"fo"
    assert b64url_decode(b"_w") == b"\xff"
    assert b64url_decode(b"__8") == b"\xff\xff"
    assert b64url_decode(b"-A") == b"\xf8"
    raises(ParseError, b64url_decode, b"_x")
