"""tinysip.sigverify (RSA) and tinysip.ecdsa against vectors generated (and cross-checked) with `cryptography`.

The vectors live in host_tests/data/sig/ (see gen.py there); nothing here needs
`cryptography`, so the module also runs under MicroPython.
"""

import json
from binascii import unhexlify

from testutil import raises, read_vector

from tinysip.errors import ParseError
from tinysip.passport import raw_rs
from tinysip.ecdsa import ec_point, ecdsa_p256_sha256
from tinysip.sigverify import rsa_pkcs1_sha256
from tinysip.x509 import ec_signature as ecdsa_der

N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _load(name):
    return json.loads(read_vector("sig/" + name))


def _b(h):
    return unhexlify(h)


# --- RSA -------------------------------------------------------------------------------


def _rsa_file(name):
    data = _load(name)
    keys = {}
    for k in data["keys"]:
        keys[k] = (int(data["keys"][k]["n"], 16), data["keys"][k]["e"])
    good = bad = 0
    for c in data["cases"]:
        n, e = keys[c["key"]]
        got = rsa_pkcs1_sha256(n, e, _b(c["msg"]), _b(c["sig"]))
        assert got == c["ok"], "%s: %s, expected %s" % (name, c["what"], c["ok"])
        if got:
            good += 1
        else:
            bad += 1
    assert good >= 5 and bad >= 20, (good, bad)
    return data, keys


def test_rsa2048_vectors():
    _rsa_file("rsa2048.json")


def test_rsa3072_vectors():
    _rsa_file("rsa3072.json")


def test_rsa3072_e3_vectors_reject_bleichenbacher_forgery():
    data, _ = _rsa_file("rsa3072e3.json")
    assert data["cases"][-1]["what"].startswith("Bleichenbacher")


def test_rsa_any_flipped_signature_byte_fails():
    data = _load("rsa2048.json")
    n = int(data["keys"]["a"]["n"], 16)
    e = data["keys"]["a"]["e"]
    c = data["cases"][1]
    assert c["ok"]
    msg, sig = _b(c["msg"]), _b(c["sig"])
    assert rsa_pkcs1_sha256(n, e, msg, sig)
    for i in range(0, len(sig), 17):
        bad = bytearray(sig)
        bad[i] ^= 0x10
        assert not rsa_pkcs1_sha256(n, e, msg, bytes(bad)), i
    # memoryview and bytearray signatures are fine
    assert rsa_pkcs1_sha256(n, e, msg, bytearray(sig))
    assert rsa_pkcs1_sha256(n, e, msg, memoryview(sig))


def test_rsa_bad_inputs_return_false():
    data = _load("rsa2048.json")
    n = int(data["keys"]["a"]["n"], 16)
    c = data["cases"][1]
    msg, sig = _b(c["msg"]), _b(c["sig"])
    assert rsa_pkcs1_sha256(n, 65537, msg, sig)
    for args in (
        (n, 65538, msg, sig),  # even exponent
        (n, 1, msg, sig),
        (n, 0, msg, sig),
        (n + 1, 65537, msg, sig),  # even modulus
        (0, 65537, msg, sig),
        (-n, 65537, msg, sig),
        ((1 << 480) + 1, 65537, msg, sig[:61]),  # modulus too short for SHA-256
        (str(n), 65537, msg, sig),
        (n, 65537, None, sig),
        (n, 65537, msg, None),
        (n, 65537, msg, 12345),
        (None, None, None, None),
    ):
        assert rsa_pkcs1_sha256(*args) is False, args[:2]


# --- ECDSA P-256 -----------------------------------------------------------------------


def _ec():
    data = _load("ecdsa.json")
    keys = {}
    for k in data["keys"]:
        keys[k] = _b(data["keys"][k])
    return data, keys


class _Exhausted:
    """Data whose length cannot be taken: the heap runs out the moment it is read."""

    def __len__(self):
        raise MemoryError("test: heap exhausted")


def test_a_heap_that_runs_out_is_no_verdict():
    # bad data gives False; an exhausted heap must not look like a bad signature
    data = _load("rsa2048.json")
    n = int(data["keys"]["a"]["n"], 16)
    raises(MemoryError, rsa_pkcs1_sha256, n, 65537, b"m", _Exhausted())
    raises(MemoryError, ec_point, _Exhausted())
    raises(MemoryError, ecdsa_p256_sha256, _Exhausted(), b"m", 1, 1)


def test_ecdsa_vectors():
    data, keys = _ec()
    good = bad = 0
    for c in data["cases"]:
        got = ecdsa_p256_sha256(keys[c["key"]], _b(c["msg"]), int(c["r"], 16), int(c["s"], 16))
        assert got == c["ok"], "%s, expected %s" % (c["what"], c["ok"])
        if got:
            good += 1
        else:
            bad += 1
    assert good >= 20 and bad >= 12, (good, bad)


def test_ecdsa_low_and_high_s_both_valid():
    data, keys = _ec()
    pairs = [c for c in data["cases"] if c["what"].startswith("good, message")]
    assert len(pairs) >= 8
    for c in pairs:
        s = int(c["s"], 16)
        assert ecdsa_p256_sha256(keys["a"], _b(c["msg"]), int(c["r"], 16), s)
        assert ecdsa_p256_sha256(keys["a"], _b(c["msg"]), int(c["r"], 16), N - s)


def test_ecdsa_rfc6979_known_answers():
    data, keys = _ec()
    kat = [c for c in data["cases"] if c["what"].startswith("RFC 6979")]
    assert len(kat) == 2
    for c in kat:
        assert ecdsa_p256_sha256(keys["rfc6979"], _b(c["msg"]), int(c["r"], 16), int(c["s"], 16))
        assert not ecdsa_p256_sha256(
            keys["rfc6979"], _b(c["msg"]) + b"x", int(c["r"], 16), int(c["s"], 16)
        )


def test_ecdsa_edge_cases_present():
    # x(R) >= n (reduction mod n) and R = infinity are both in the file and both decided right
    data, keys = _ec()
    whats = [c["what"] for c in data["cases"]]
    assert "x(R) >= n, r = x(R) - n (constructed key)" in whats
    assert "u1*G + u2*Q is the point at infinity" in whats


def test_ecdsa_points_not_on_curve_rejected():
    data, keys = _ec()
    ref = data["bad_key_sig"]
    msg, r, s = _b(ref["msg"]), int(ref["r"], 16), int(ref["s"], 16)
    assert ecdsa_p256_sha256(keys["a"], msg, r, s)
    assert ec_point(keys["a"]) is not None
    names = [k for k in keys if k.startswith("bad_")]
    assert len(names) == 8
    for k in names:
        assert ec_point(keys[k]) is None, k
        assert not ecdsa_p256_sha256(keys[k], msg, r, s), k


def test_ecdsa_bad_inputs_return_false():
    data, keys = _ec()
    ref = data["bad_key_sig"]
    msg, r, s = _b(ref["msg"]), int(ref["r"], 16), int(ref["s"], 16)
    for args in (
        (None, msg, r, s),
        (b"", msg, r, s),
        ("04" + data["keys"]["a"][2:], msg, r, s),  # hex text, not bytes
        (keys["a"], None, r, s),
        (keys["a"], msg, None, s),
        (keys["a"], msg, r, "1"),
        (keys["a"], msg, -r, s),
        (keys["a"], msg, r, -s),
        (keys["a"], msg, r, 1.5),
    ):
        assert ecdsa_p256_sha256(*args) is False
    assert ec_point(None) is None
    assert ec_point(bytearray(keys["a"])) == ec_point(keys["a"])


# --- signature encodings ---------------------------------------------------------------


def test_ecdsa_der_good():
    data = _load("der.json")
    assert len(data["good"]) >= 9
    for c in data["good"]:
        assert ecdsa_der(_b(c["der"])) == (int(c["r"], 16), int(c["s"], 16)), c["what"]


def test_ecdsa_der_signatures_verify():
    # der.json's first signatures are key "a" of ecdsa.json signing b"der <i>"
    _, keys = _ec()
    data = _load("der.json")
    for i in range(6):
        r, s = ecdsa_der(_b(data["good"][i]["der"]))
        assert ecdsa_p256_sha256(keys["a"], b"der %d" % i, r, s)
        assert not ecdsa_p256_sha256(keys["a"], b"der %d" % (i + 1), r, s)


def test_ecdsa_der_bad():
    data = _load("der.json")
    assert len(data["bad"]) >= 20
    for c in data["bad"]:
        e = raises(ParseError, ecdsa_der, _b(c["der"]))
        assert e.status == 400, c["what"]
        assert e.reason.startswith("x509: "), e.reason


def test_raw_rs():
    sig = bytes(range(1, 65))
    r, s = raw_rs(sig)
    assert r == int.from_bytes(sig[:32], "big") and s == int.from_bytes(sig[32:], "big")
    assert raw_rs(b"\x00" * 64) == (0, 0)
    assert raw_rs(memoryview(sig)) == (r, s)
    for bad in (b"", sig[:63], sig + b"\x00"):
        e = raises(ParseError, raw_rs, bad)
        assert e.status == 438 and "not 64" in e.reason
