from testutil import raises, FakeRandom

from tinysip.compat import md5_hex, sha256_hex, hexlify
from tinysip import digest
from tinysip.digest import (
    Challenge,
    authorization,
    choose,
    parse_challenge,
    response,
)


class _Answer:
    """A response with `status` and `values` as its WWW-Authenticate (401) or
    Proxy-Authenticate (407) header values, as digest.challenged reads one."""

    def __init__(self, status, values):
        self.status = status
        self.values = values

    def get_all(self, name):
        want = b"Proxy-Authenticate" if self.status == 407 else b"WWW-Authenticate"
        return list(self.values) if name == want else []


class DigestClient:
    """The request stream's side as register/subscribe/dial run it: they keep the state
    (the credentials, then what digest.challenged returned) and call digest's functions."""

    def __init__(self, username, password, rng):
        self.d = (username, password, rng)

    def on_challenge(self, status, values):
        d = digest.challenged(self.d, _Answer(status, values))
        if d is None:
            return False
        self.d = d
        return True

    def header(self, method, uri, body=b""):
        return digest.header(self.d, method, uri, body)

    @property
    def nc(self):
        return self.d[5]

    @property
    def challenge(self):
        return parse_challenge(self.d[3])

# RFC 7616 §3.9.1
USER = b"Mufasa"
PASSWORD = b"Circle of Life"
REALM = b"http-auth@example.org"
NONCE = b"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
CNONCE = b"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
OPAQUE = b"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
URI = b"/dir/index.html"

REG_URI = b"sip:sip.linphone.org"


def rfc7616(algorithm):
    return Challenge(REALM, NONCE, OPAQUE, algorithm, [b"auth", b"auth-int"])


# --- RFC 7616 and belle-sip vectors -------------------------------------------------


def test_rfc7616_md5():
    ch = rfc7616(b"MD5")
    # the RFC's HA1 and HA2 are the formulas response() uses
    assert md5_hex(USER + b":" + REALM + b":" + PASSWORD) == b"3d78807defe7de2157e2b0b6573a855f"
    assert md5_hex(b"GET:" + URI) == b"39aff3a2bab6126f332b942af96d3366"
    r = response(ch, USER, PASSWORD, b"GET", URI, 1, CNONCE, b"auth")
    assert r == b"8ca523f5e9506fed4657c9700eebdbec"


def test_rfc7616_sha256():
    ch = rfc7616(b"SHA-256")
    assert sha256_hex(USER + b":" + REALM + b":" + PASSWORD) == b"7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232"
    assert sha256_hex(b"GET:" + URI) == b"9a3fdae9a622fe8de177c24fa9c070f2b181ec85e15dcbdc32e10c82ad450b04"
    r = response(ch, USER, PASSWORD, b"GET", URI, 1, CNONCE, b"auth")
    assert r == b"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"


def test_rfc7616_md5_authorization_header():
    v = authorization(rfc7616(b"MD5"), USER, PASSWORD, b"GET", URI, 1, CNONCE)
    assert v == (
        b'Digest username="Mufasa", realm="http-auth@example.org", '
        b'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", uri="/dir/index.html", '
        b'response="8ca523f5e9506fed4657c9700eebdbec", algorithm=MD5, '
        b'cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, nc=00000001, '
        b'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
    )


def test_rfc7616_sha256_from_parsed_challenge():
    ch = parse_challenge(
        b'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, '
        b'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
        b'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
    )
    v = authorization(ch, USER, PASSWORD, b"GET", URI, 1, CNONCE)
    assert b'response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"' in v
    assert b", algorithm=SHA-256, " in v
    assert b", qop=auth, nc=00000001, " in v


def test_belle_sip_sha256_register():
    ch = Challenge(REALM, NONCE, None, b"SHA-256", [b"auth"])
    r = response(ch, USER, PASSWORD, b"REGISTER", REG_URI, 1, b"8302210f", b"auth")
    assert r == b"91253bea2bbc3b34a5dac192c672fb7fff1ae6d657207b6719842827a509a501"


def test_belle_sip_md5_without_qop():
    ch = Challenge(b"sip.linphone.org", b"cz3h0gAAAAC06TKKAABmTz1V9OcAAAAA")
    r = response(ch, b"jehan-mac", b"toto", b"REGISTER", REG_URI, 1, None, None)
    assert r == b"77ebf3de72e41934d806175586086508"
    v = authorization(ch, b"jehan-mac", b"toto", b"REGISTER", REG_URI, 1, None)
    assert v == (
        b'Digest username="jehan-mac", realm="sip.linphone.org", '
        b'nonce="cz3h0gAAAAC06TKKAABmTz1V9OcAAAAA", uri="sip:sip.linphone.org", '
        b'response="77ebf3de72e41934d806175586086508", algorithm=MD5'
    )


def test_belle_sip_md5_with_qop():
    ch = Challenge(b"sip.linphone.org", b"cz3h0gAAAAC06TKKAABmTz1V9OcAAAAA", qop=[b"auth"])
    r = response(ch, b"jehan-mac", b"toto", b"REGISTER", REG_URI, 1, b"8302210f", b"auth")
    assert r == b"694dab8dfe7d50d28ba61e8c43e30666"
    v = authorization(ch, b"jehan-mac", b"toto", b"REGISTER", REG_URI, 1, b"8302210f")
    assert v.endswith(b'response="694dab8dfe7d50d28ba61e8c43e30666", algorithm=MD5, cnonce="8302210f", qop=auth, nc=00000001')


# --- formula details ----------------------------------------------------------------


def test_sess_algorithms():
    for alg, h in ((b"MD5-SESS", md5_hex), (b"SHA-256-SESS", sha256_hex)):
        ch = Challenge(REALM, NONCE, None, alg, [b"auth"])
        a1 = h(h(USER + b":" + REALM + b":" + PASSWORD) + b":" + NONCE + b":" + CNONCE)
        a2 = h(b"REGISTER:" + REG_URI)
        want = h(a1 + b":" + NONCE + b":0000002a:" + CNONCE + b":auth:" + a2)
        assert response(ch, USER, PASSWORD, b"REGISTER", REG_URI, 42, CNONCE, b"auth") == want
    v = authorization(Challenge(REALM, NONCE, None, b"MD5-SESS", [b"auth"]), USER, PASSWORD, b"R", REG_URI, 1, CNONCE)
    assert b", algorithm=MD5-sess, " in v
    v = authorization(Challenge(REALM, NONCE, None, b"SHA-256-SESS", [b"auth"]), USER, PASSWORD, b"R", REG_URI, 1, CNONCE)
    assert b", algorithm=SHA-256-sess, " in v


def test_auth_int_only_uses_body_hash():
    ch = Challenge(REALM, NONCE, None, b"MD5", [b"auth-int"])
    body = b"v=0\r\n"
    a1 = md5_hex(USER + b":" + REALM + b":" + PASSWORD)
    a2 = md5_hex(b"INVITE:" + REG_URI + b":" + md5_hex(body))
    want = md5_hex(a1 + b":" + NONCE + b":00000001:" + CNONCE + b":auth-int:" + a2)
    v = authorization(ch, USER, PASSWORD, b"INVITE", REG_URI, 1, CNONCE, body)
    assert b'response="' + want + b'"' in v
    assert b", qop=auth-int, nc=00000001" in v
    # empty body (REGISTER) is H("")
    a2 = md5_hex(b"REGISTER:" + REG_URI + b":" + md5_hex(b""))
    want = md5_hex(a1 + b":" + NONCE + b":00000001:" + CNONCE + b":auth-int:" + a2)
    assert response(ch, USER, PASSWORD, b"REGISTER", REG_URI, 1, CNONCE, b"auth-int") == want


def test_auth_preferred_over_auth_int():
    ch = parse_challenge(b'Digest realm="r", nonce="n", qop="auth-int,auth"')
    assert b", qop=auth, " in authorization(ch, USER, PASSWORD, b"REGISTER", REG_URI, 1, b"c")


def test_nc_is_eight_lowercase_hex_digits():
    ch = Challenge(REALM, NONCE, None, b"MD5", [b"auth"])
    assert b", nc=000000ff" in authorization(ch, USER, PASSWORD, b"R", REG_URI, 255, b"c")
    assert b", nc=00010000" in authorization(ch, USER, PASSWORD, b"R", REG_URI, 65536, b"c")


def test_quotes_and_backslashes_are_escaped_on_output():
    ch = parse_challenge(b'Digest realm="a \\"b\\" c", nonce="n\\\\1", qop=auth')
    assert ch.realm == b'a "b" c'
    assert ch.nonce == b"n\\1"
    v = authorization(ch, b'us"er', PASSWORD, b"REGISTER", REG_URI, 1, b"c")
    assert v.startswith(b'Digest username="us\\"er", realm="a \\"b\\" c", nonce="n\\\\1", ')
    # the hash covers the unescaped values
    a1 = md5_hex(b'us"er:a "b" c:' + PASSWORD)
    want = md5_hex(a1 + b":n\\1:00000001:c:auth:" + md5_hex(b"REGISTER:" + REG_URI))
    assert b'response="' + want + b'"' in v
    # round trip through the parser
    assert parse_challenge(v).realm == b'a "b" c'


def test_unsupported_use_is_value_error():
    e = raises(ValueError, response, Challenge(b"r", b"n", None, b"SHA-512-256"), USER, PASSWORD, b"R", REG_URI, 1, b"c", b"auth")
    assert str(e).startswith("algorithm: ")
    e = raises(ValueError, authorization, Challenge(b"r", b"n", None, b"MD5", [b"auth-conf"]), USER, PASSWORD, b"R", REG_URI, 1, b"c")
    assert str(e).startswith("qop: ")


# --- parse_challenge ----------------------------------------------------------------


def test_parse_full_challenge():
    ch = parse_challenge(
        b'Digest realm="sip.example.com", nonce="abc123", opaque="xyz", '
        b'algorithm=SHA-256, qop="auth,auth-int", stale=TRUE'
    )
    assert isinstance(ch, Challenge)
    assert ch.realm == b"sip.example.com"
    assert ch.nonce == b"abc123"
    assert ch.opaque == b"xyz"
    assert ch.algorithm == b"SHA-256"
    assert ch.qop == [b"auth", b"auth-int"]
    assert ch.stale is True


def test_parse_defaults():
    ch = parse_challenge(b'Digest realm="r",nonce="n"')
    assert ch.realm == b"r" and ch.nonce == b"n"
    assert ch.opaque is None
    assert ch.algorithm == b"MD5"
    assert ch.qop == []
    assert ch.stale is False


def test_parse_case_insensitive_names_and_algorithm():
    ch = parse_challenge(b'dIGEST REALM="R", Nonce="N", ALGORITHM=sha-256-sess, QOP="AUTH", Stale=true')
    assert ch.realm == b"R" and ch.nonce == b"N"  # values keep their case
    assert ch.algorithm == b"SHA-256-SESS"
    assert ch.qop == [b"auth"]
    assert ch.stale is True


def test_parse_commas_and_equals_inside_quotes():
    ch = parse_challenge(b'Digest realm="a, b=c", nonce="x,y", opaque=",", qop="auth"')
    assert ch.realm == b"a, b=c"
    assert ch.nonce == b"x,y"
    assert ch.opaque == b","


def test_parse_whitespace_and_empty_elements():
    ch = parse_challenge(b'  Digest\trealm = "r" ,\r\n nonce=\t"n",, qop=auth ,stale=false  ')
    assert ch.realm == b"r" and ch.nonce == b"n"
    assert ch.qop == [b"auth"]
    assert ch.stale is False


def test_parse_token_and_quoted_variants():
    ch = parse_challenge(b'Digest realm=r, nonce=n, algorithm="MD5-sess", qop=" auth , auth-int ", stale="true"')
    assert ch.realm == b"r" and ch.nonce == b"n"
    assert ch.algorithm == b"MD5-SESS"
    assert ch.qop == [b"auth", b"auth-int"]
    assert ch.stale is True
    assert parse_challenge(b'Digest realm="", nonce="n"').realm == b""


def test_parse_ignores_unknown_params():
    ch = parse_challenge(
        b'Digest domain="sip:a.example sip:b.example", realm="r", charset=UTF-8, '
        b'nonce="n", userhash=false, x-vendor="1,2"'
    )
    assert ch.realm == b"r" and ch.nonce == b"n"


def test_parse_accepts_bytearray():
    assert parse_challenge(bytearray(b'Digest realm="r", nonce="n"')).nonce == b"n"


def test_parse_other_schemes_are_none():
    for v in (
        b'Basic realm="r"',
        b'Bearer realm="r", nonce="n"',
        b'NTLM',
        b'Digestrealm="r", nonce="n"',
        b'Digest-x realm="r", nonce="n"',
        b'"Digest" realm="r", nonce="n"',
    ):
        assert parse_challenge(v) is None, v


def test_parse_garbage_is_none():
    for v in (
        b"",
        b"   ",
        b"Digest",
        b"Digest ",
        b"Digest realm",
        b'Digest realm="r"',  # no nonce
        b'Digest nonce="n"',  # no realm
        b'Digest realm="unterminated, nonce="n',
        b'Digest realm="r", nonce="n\\"',  # the quote is escaped: unterminated
        b'Digest realm="r" nonce="n"',  # missing comma
        b'Digest realm="r", nonce=',
        b'Digest realm="r", nonce=, qop=auth',
        b'Digest =x, realm="r", nonce="n"',
        b'Digest realm="r", nonce="n", qop',
        b'Digest realm="r", nonce="n", nonce="m"',  # duplicate
        b'Digest realm="r", realm="s", nonce="n"',
        b'Digest realm="r"x, nonce="n"',
        b"\xff\xfe\x00\x01",
        b"Digest \xff\x00",
        None,
        "Digest realm=\"r\", nonce=\"n\"",  # str is not wire data
    ):
        assert parse_challenge(v) is None, v


def test_parse_never_raises_on_truncation():
    full = b'Digest realm="a \\"q\\", b", nonce="n=1", opaque="o", algorithm=SHA-256, qop="auth,auth-int", stale=TRUE'
    for k in range(len(full) + 1):
        ch = parse_challenge(full[:k])
        assert ch is None or isinstance(ch, Challenge)
        ch = parse_challenge(full[k:])
        assert ch is None or isinstance(ch, Challenge)
    assert parse_challenge(full).stale is True


# --- choose -------------------------------------------------------------------------


def test_choose_prefers_sha256():
    md5 = parse_challenge(b'Digest realm="r", nonce="1", algorithm=MD5, qop="auth"')
    sha = parse_challenge(b'Digest realm="r", nonce="2", algorithm=SHA-256, qop="auth"')
    assert choose([md5, sha]) is sha
    assert choose([sha, md5]) is sha
    assert choose([md5]) is md5


def test_choose_keeps_server_order_among_equals():
    a = Challenge(b"r", b"1", None, b"SHA-256-SESS", [b"auth"])
    b = Challenge(b"r", b"2", None, b"SHA-256", [b"auth"])
    assert choose([a, b]) is a
    assert choose([b, a]) is b
    c = Challenge(b"r", b"3", None, b"MD5")
    d = Challenge(b"r", b"4", None, b"MD5-SESS", [b"auth"])
    assert choose([c, d]) is c


def test_choose_skips_unknown_and_unusable():
    unknown = Challenge(b"r", b"1", None, b"SHA-512-256", [b"auth"])
    md5 = Challenge(b"r", b"2", None, b"MD5", [b"auth"])
    assert choose([unknown, md5]) is md5
    assert choose([unknown]) is None
    assert choose([]) is None
    assert choose([None, None]) is None
    assert choose([None, md5]) is md5
    assert choose([Challenge(b"r", b"n", None, b"SHA-256", [b"auth-conf"])]) is None
    assert choose([Challenge(b"r", b"n", None, b"SHA-256-SESS")]) is None  # -sess needs qop
    int_only = Challenge(b"r", b"n", None, b"MD5", [b"auth-int"])
    assert choose([int_only]) is int_only
    plain = Challenge(b"r", b"n")  # RFC 2069
    assert choose([plain]) is plain


# --- DigestClient -------------------------------------------------------------------

SHA_CH = b'Digest realm="sip.example.com", nonce="n1", algorithm=SHA-256, qop="auth", opaque="op"'
MD5_CH = b'Digest realm="sip.example.com", nonce="n1", algorithm=MD5, qop="auth", opaque="op"'
TARGET = b"sip:sip.example.com"


def client():
    return DigestClient("alice", b"secret", FakeRandom(7))


def test_client_no_challenge_no_header():
    c = client()
    assert c.header(b"REGISTER", TARGET) is None


def test_client_401_retry_and_header():
    c = client()
    assert c.on_challenge(401, [SHA_CH, MD5_CH]) is True
    assert c.challenge.algorithm == b"SHA-256"
    name, value = c.header(b"REGISTER", TARGET)
    assert name == b"Authorization"
    cnonce = hexlify(FakeRandom(7)(8))
    want = authorization(parse_challenge(SHA_CH), b"alice", b"secret", b"REGISTER", TARGET, 1, cnonce)
    assert value == want
    assert b', cnonce="' + cnonce + b'", qop=auth, nc=00000001, opaque="op"' in value


def test_client_wrong_password_same_nonce_gives_up():
    c = client()
    assert c.on_challenge(401, [SHA_CH]) is True
    c.header(b"REGISTER", TARGET)
    assert c.on_challenge(401, [SHA_CH]) is False


def test_client_wrong_password_new_nonce_gives_up():
    c = client()
    assert c.on_challenge(401, [SHA_CH]) is True
    c.header(b"REGISTER", TARGET)
    assert c.on_challenge(401, [SHA_CH.replace(b"n1", b"n2")]) is False


def test_client_stale_retries_with_new_nonce_and_nc_reset():
    c = client()
    assert c.on_challenge(401, [SHA_CH]) is True
    c.header(b"REGISTER", TARGET)
    assert c.on_challenge(401, [SHA_CH.replace(b'"n1"', b'"n2", stale=true')]) is True
    name, value = c.header(b"REGISTER", TARGET)
    assert b'nonce="n2"' in value
    assert b"nc=00000001" in value
    assert c.nc == 1


def test_client_repeated_stale_gives_up():
    c = client()
    assert c.on_challenge(401, [SHA_CH]) is True
    c.header(b"REGISTER", TARGET)
    assert c.on_challenge(401, [SHA_CH.replace(b'"n1"', b'"n2", stale=TRUE')]) is True
    c.header(b"REGISTER", TARGET)
    assert c.on_challenge(401, [SHA_CH.replace(b'"n1"', b'"n3", stale=TRUE')]) is False


def test_client_nc_increments_with_fresh_cnonce():
    c = client()
    c.on_challenge(401, [MD5_CH])
    seen = []
    for k in range(1, 4):
        name, value = c.header(b"REGISTER", TARGET)
        assert (b"nc=%08x" % k) in value
        cnonce = value.split(b'cnonce="')[1].split(b'"')[0]
        assert len(cnonce) == 16
        assert cnonce not in seen
        seen.append(cnonce)
    assert c.nc == 3


def test_client_expired_nonce_on_refresh_is_retried_once():
    c = client()
    assert c.on_challenge(401, [SHA_CH]) is True
    c.header(b"REGISTER", TARGET)  # accepted
    c.header(b"REGISTER", TARGET)  # refresh with nc=2, server forgot the nonce (no stale)
    assert c.on_challenge(401, [SHA_CH.replace(b"n1", b"n2")]) is True
    assert b"nc=00000001" in c.header(b"REGISTER", TARGET)[1]
    assert c.on_challenge(401, [SHA_CH.replace(b"n1", b"n3")]) is False


def test_client_refresh_stale_then_continues():
    c = client()
    c.on_challenge(401, [SHA_CH])
    c.header(b"REGISTER", TARGET)
    c.header(b"REGISTER", TARGET)
    assert c.on_challenge(401, [SHA_CH.replace(b'"n1"', b'"n2", stale=true')]) is True
    c.header(b"REGISTER", TARGET)
    c.header(b"REGISTER", TARGET)
    assert c.on_challenge(401, [SHA_CH.replace(b'"n1"', b'"n3", stale=true')]) is True


def test_client_never_loops():
    c = client()
    retries = 0
    for k in range(20):
        if not c.on_challenge(401, [SHA_CH.replace(b"n1", b"n%d" % k)]):
            break
        retries += 1
        c.header(b"REGISTER", TARGET)
    assert retries == 1
    c = client()
    retries = 0
    for k in range(20):
        if not c.on_challenge(407, [MD5_CH.replace(b'"n1"', b'"n%d", stale=true' % k)]):
            break
        retries += 1
        c.header(b"INVITE", TARGET)
    assert retries == 2


def test_client_407_uses_proxy_authorization():
    c = client()
    assert c.on_challenge(407, [MD5_CH]) is True
    name, value = c.header(b"INVITE", b"sip:bob@example.com")
    assert name == b"Proxy-Authorization"
    assert b'uri="sip:bob@example.com"' in value
    assert b"algorithm=MD5," in value


def test_client_rfc2069_challenge():
    calls = []

    def rng(n):
        calls.append(n)
        return b"\x00" * n

    c = DigestClient(b"jehan-mac", b"toto", rng)
    assert c.on_challenge(401, [b'Digest realm="sip.linphone.org", nonce="cz3h0gAAAAC06TKKAABmTz1V9OcAAAAA"'])
    name, value = c.header(b"REGISTER", REG_URI)
    assert value.endswith(b'response="77ebf3de72e41934d806175586086508", algorithm=MD5')
    assert calls == []  # no cnonce without qop


def test_client_unusable_challenges():
    c = client()
    assert c.on_challenge(401, []) is False
    assert c.on_challenge(401, [b'Basic realm="x"', b"garbage"]) is False
    assert c.on_challenge(401, [b'Digest realm="r", nonce="n", algorithm=SHA-512-256']) is False
    assert c.on_challenge(200, [SHA_CH]) is False
    assert c.header(b"REGISTER", TARGET) is None
    # one good value among bad ones is enough
    assert c.on_challenge(401, [b'Basic realm="x"', b"Digest", MD5_CH]) is True


def test_client_starts_afresh_from_its_credentials():
    # the state is plain data: a new request stream (the credentials again) is a fresh start
    c = client()
    c.on_challenge(401, [SHA_CH])
    c.header(b"REGISTER", TARGET)
    c = client()
    assert c.header(b"REGISTER", TARGET) is None
    assert c.on_challenge(401, [SHA_CH]) is True  # a fresh start, not a wrong password
    assert b"nc=00000001" in c.header(b"REGISTER", TARGET)[1]


def test_client_credentials_validation():
    c = DigestClient("alice", "secret", FakeRandom())
    assert c.on_challenge(401, [SHA_CH]) and c.d[:2] == [b"alice", b"secret"]
    for creds in ((None, b"p"), (b"u", 1234)):
        err = raises(ValueError, digest.challenged, creds + (FakeRandom(),), _Answer(401, [SHA_CH]))
        assert str(err).startswith("auth.username/auth.password: "), err


def test_the_state_is_plain_data_so_the_module_can_go_between_challenges():
    # issue 16: whoever sends the requests keeps lists, tuples and bytes, no object of the
    # module, so tinysip.digest is loaded for a challenge or an Authorization and dropped
    d = digest.challenged((b"alice", b"secret", FakeRandom(7)), _Answer(401, [MD5_CH, SHA_CH]))
    assert type(d) is list and [type(x) for x in d[:2] + d[3:]] == [bytes, bytes, bytes, int,
                                                                     int, bool]
    assert d[3] == SHA_CH and d[4] == 401  # the strongest challenge's own header value
    assert digest.header(d, b"REGISTER", TARGET)[0] == b"Authorization" and d[5] == 1


# --- parse_challenge walks offsets: the same answers as a plain split ------------------

def _reference(value):
    """parse_challenge as a plain reading of the grammar: split at top-level commas, each
    name=value stripped, values unquoted (the phone's offset walk must agree)."""
    from tinysip.errors import ParseError
    from tinysip.headers import split_top, unquote

    v = bytes(value).strip()
    i = 0
    while i < len(v) and v[i] not in b" \t\r\n":
        i += 1
    if v[:i].lower() != b"digest" or i == len(v):
        return None
    try:
        items = split_top(v[i:], 44)
    except ParseError:
        return None
    fields = {}
    for item in items:
        if not item:
            continue
        name, eq, val = item.partition(b"=")
        name = name.strip().lower()
        val = val.strip()
        if not eq or not name or not val or (val[:1] == b'"') != (val[-1:] == b'"'):
            return None
        if name in fields and name in (b"realm", b"nonce", b"opaque"):
            return None
        fields[name] = unquote(val)
    if b"realm" not in fields or b"nonce" not in fields:
        return None
    qop = [q.strip().lower() for q in fields.get(b"qop", b"").split(b",") if q.strip()]
    return (fields[b"realm"], fields[b"nonce"], fields.get(b"opaque"),
            fields.get(b"algorithm", b"MD5").upper(), qop,
            fields.get(b"stale", b"").lower() == b"true")


def _fields(ch):
    return None if ch is None else (ch.realm, ch.nonce, ch.opaque, ch.algorithm, ch.qop,
                                    ch.stale)


SEEDS = [
    b'Digest realm="lab.test", nonce="Zhx0ND/1pYo=", qop="auth", algorithm=MD5, opaque="ab"',
    b'Digest realm="a \\"b\\" c",nonce="n\\\\1" , QOP="auth-int,auth",stale=TRUE',
    b'digest REALM=r, Nonce=n, algorithm="", qop="", qop=auth, stale=false, x="<y,z>"',
    b' Digest  realm = "r" , , nonce="n", opaque="o", algorithm=sha-256-sess, foo=bar ',
]


def test_parse_challenge_agrees_with_a_plain_split_on_mutated_challenges():
    assert _fields(parse_challenge(SEEDS[2]))[3] == b""  # algorithm="": unsupported, not MD5
    assert _fields(parse_challenge(SEEDS[2]))[4] == [b"auth"]  # the last qop counts
    for s in SEEDS:
        assert parse_challenge(s) is not None and _fields(parse_challenge(s)) == _reference(s)
    x = 12345
    alphabet = b'",=<> \t\\;aAdDrR'
    for n in range(3000):
        s = SEEDS[n % len(SEEDS)]
        for _ in range(1 + n % 4):  # 1-4 edits: replace, insert or delete one byte
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            at = x % (len(s) + 1)
            c = alphabet[(x >> 8) % len(alphabet):][:1]
            op = (x >> 16) % 3
            s = s[:at] + (c if op != 2 else b"") + s[at + (op != 1):]
        assert _fields(parse_challenge(s)) == _reference(s), s
