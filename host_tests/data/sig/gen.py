"""Generate the signature test vectors in this folder (CPython + `cryptography` only).

    .venv/bin/python host_tests/data/sig/gen.py

Writes rsa2048.json, rsa3072.json, rsa3072e3.json, ecdsa.json, der.json and passport.json
next to this script. The unit tests read these files and never import `cryptography`
(they also run under MicroPython). Keys are fresh on every run, so regenerating changes
every file; the expected outcomes do not change.

Every expected outcome is checked here against `cryptography` (OpenSSL) before it is
written, so the files are an independent reference for tinysip.sigverify:
- a case marked ok=true verifies with cryptography, ok=false is rejected by it;
- the hand-built cases (raw RSA blocks signed with the private exponent, the e=3
  Bleichenbacher-2006 forgery, the ECDSA x(R) >= n and R = infinity constructions) are
  built with plain integer arithmetic below and then put through cryptography too.

File format (JSON, hex strings for bytes and big ints):
  rsa*.json   {"keys": {name: {"n": hex, "e": int}}, "cases": [{"key", "msg", "sig", "ok", "what"}]}
  ecdsa.json  {"keys": {name: "04..."}, "cases": [{"key", "msg", "r", "s", "ok", "what"}]}
  der.json    {"good": [{"der", "r", "s", "what"}], "bad": [{"der", "what"}]}
  passport.json {"point": hex, "other_point": hex, "cases": [{"value", "ok", "what",
                 "claims" (when ok) or "reason" (a substring of the expected reason)}]}
"""

import base64
import hashlib
import json
import os
import secrets
from hashlib import sha256

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

HERE = os.path.dirname(os.path.abspath(__file__))
SHA256_DI = bytes.fromhex("3031300d060960864801650304020105000420")
SHA256_DI_NO_NULL = bytes.fromhex("302f300b06096086480165030402010420")
SHA1_DI = bytes.fromhex("3021300906052b0e03021a05000414")

MESSAGES = [b"", b"abc", b"tinysip " * 40, bytes(range(256)) * 4]


def write(name, obj):
    with open(os.path.join(HERE, name), "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", name)


def flip(b, i=-1, bit=1):
    b = bytearray(b)
    b[i] ^= bit
    return bytes(b)


# --- RSA -------------------------------------------------------------------------------


def rsa_ok(pub, msg, sig):
    try:
        pub.verify(sig, msg, padding.PKCS1v15(), hashes.SHA256())
        return True
    except InvalidSignature:
        return False


def raw_sign(priv, em):
    """Sign an arbitrary encoded block with the private exponent (no padding logic)."""
    pn = priv.private_numbers()
    n = pn.public_numbers.n
    k = (n.bit_length() + 7) // 8
    return pow(int.from_bytes(em, "big"), pn.d, n).to_bytes(k, "big")


def icbrt(x):
    """Integer cube root (floor)."""
    lo, hi = 0, 1 << ((x.bit_length() + 2) // 3 + 1)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if mid**3 <= x:
            lo = mid
        else:
            hi = mid - 1
    return lo


def rsa_file(bits, e, name):
    priv = rsa.generate_private_key(public_exponent=e, key_size=bits)
    other = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pub = priv.public_key()
    n = pub.public_numbers().n
    k = (n.bit_length() + 7) // 8
    keys = {
        "a": {"n": "%x" % n, "e": e},
        "other": {"n": "%x" % other.public_key().public_numbers().n, "e": 65537},
    }
    cases = []

    def add(key, msg, sig, what):
        kpub = pub if key == "a" else other.public_key()
        ok = len(sig) == k and rsa_ok(kpub, msg, sig)
        cases.append({"key": key, "msg": msg.hex(), "sig": sig.hex(), "ok": ok, "what": what})
        return ok

    good = []
    for i, m in enumerate(MESSAGES):
        sig = priv.sign(m, padding.PKCS1v15(), hashes.SHA256())
        assert add("a", m, sig, "good, message %d (%d bytes)" % (i, len(m)))
        good.append((m, sig))
    m, sig = good[1]
    assert not add("a", m + b"!", sig, "message with a byte appended")
    assert not add("a", flip(m, 0), sig, "message with a bit flipped")
    assert not add("a", m, flip(sig), "signature, last bit flipped")
    assert not add(
        "a", m, flip(sig, 0, 0x80) if sig[0] & 0x80 else flip(sig, 1), "signature, high bit flipped"
    )
    assert not add("other", m, sig, "other key of the same size")
    for bad, what in (
        (sig[1:], "signature one byte short"),
        (sig[:-1], "signature truncated"),
        (b"\x00" + sig, "signature with a leading zero byte (k+1 bytes)"),
        (sig + b"\x00", "signature with a trailing zero byte"),
        (b"", "empty signature"),
    ):
        assert not add("a", m, bad, what)  # add() marks any length other than k as not ok
    assert not add("a", m, n.to_bytes(k, "big"), "s == n")
    assert not add("a", m, (n + 1).to_bytes(k, "big"), "s == n + 1")
    assert not add("a", m, b"\xff" * k, "s == 2^(8k) - 1")
    assert not add("a", m, b"\x00" * k, "s == 0")
    assert not add(
        "a", m, priv.sign(m, padding.PKCS1v15(), hashes.SHA1()), "SHA-1 PKCS#1 v1.5 signature"
    )
    assert not add(
        "a", m, priv.sign(m, padding.PKCS1v15(), hashes.SHA512()), "SHA-512 PKCS#1 v1.5 signature"
    )
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    assert not add("a", m, priv.sign(m, pss, hashes.SHA256()), "RSASSA-PSS SHA-256 signature")

    h = sha256(m).digest()
    ps = b"\xff" * (k - len(SHA256_DI) - 32 - 3)
    assert add(
        "a",
        m,
        raw_sign(priv, b"\x00\x01" + ps + b"\x00" + SHA256_DI + h),
        "raw block, correct encoding",
    )
    assert not add(
        "a",
        m,
        raw_sign(priv, b"\x00\x02" + ps + b"\x00" + SHA256_DI + h),
        "raw block, block type 02",
    )
    assert not add(
        "a",
        m,
        raw_sign(priv, b"\x00\x01" + ps[:-1] + b"\xfe\x00" + SHA256_DI + h),
        "raw block, one padding byte FE",
    )
    assert not add(
        "a",
        m,
        raw_sign(priv, b"\x00\x01" + ps + b"\x01" + SHA256_DI + h),
        "raw block, separator 01",
    )
    assert not add(
        "a",
        m,
        raw_sign(priv, b"\x00\x01" + ps + b"\xff\x00" + SHA256_DI_NO_NULL + h),
        "raw block, DigestInfo without NULL parameters",
    )
    assert not add(
        "a",
        m,
        raw_sign(priv, b"\x00\x01" + ps + b"\x00" + SHA256_DI + sha256(m + b"x").digest()),
        "raw block, digest of another message",
    )
    garbage = secrets.token_bytes(20)
    assert not add(
        "a",
        m,
        raw_sign(priv, b"\x00\x01" + ps[20:] + b"\x00" + SHA256_DI + h + garbage),
        "raw block, short padding and garbage after the digest",
    )
    assert not add(
        "a",
        m,
        raw_sign(priv, b"\x00\x01" + ps[:-20] + b"\x00" + SHA256_DI + h + b"\xff" * 20),
        "raw block, digest in the middle, FF after it",
    )
    sha1 = hashlib.sha1(m).digest()
    ps1 = b"\xff" * (k - len(SHA1_DI) - 20 - 3)
    assert not add(
        "a",
        m,
        raw_sign(priv, b"\x00\x01" + ps1 + b"\x00" + SHA1_DI + sha1),
        "raw block, SHA-1 DigestInfo",
    )

    if e == 3:
        # Bleichenbacher 2006: 00 01 FF 00 DigestInfo digest GARBAGE is a perfect cube
        # without the private key; a verifier that parses instead of comparing accepts it.
        fm = b"forged by cube root"
        prefix = b"\x00\x01\xff\x00" + SHA256_DI + sha256(fm).digest()
        tail = 8 * (k - len(prefix))
        lo = int.from_bytes(prefix, "big") << tail
        s = icbrt(lo - 1) + 1
        assert s**3 < (int.from_bytes(prefix, "big") + 1) << tail and s**3 < n
        assert not add(
            "a", fm, s.to_bytes(k, "big"), "Bleichenbacher 2006 cube-root forgery (no private key)"
        )
    write(name, {"bits": bits, "keys": keys, "cases": cases})


# --- ECDSA P-256 -----------------------------------------------------------------------

P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
G = (
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
)


def aff_add(p1, p2):
    """Textbook affine addition (None = infinity); independent of tinysip's Jacobian code."""
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    if p1[0] == p2[0]:
        if (p1[1] + p2[1]) % P == 0:
            return None
        lam = (3 * p1[0] * p1[0] - 3) * pow(2 * p1[1], -1, P) % P
    else:
        lam = (p2[1] - p1[1]) * pow(p2[0] - p1[0], -1, P) % P
    x = (lam * lam - p1[0] - p2[0]) % P
    return x, (lam * (p1[0] - x) - p1[1]) % P


def aff_mul(k, pt):
    out = None
    for bit in bin(k % N)[2:]:
        out = aff_add(out, out)
        if bit == "1":
            out = aff_add(out, pt)
    return out


def point_hex(pt):
    return "04" + pt[0].to_bytes(32, "big").hex() + pt[1].to_bytes(32, "big").hex()


def ec_pub(pt):
    return ec.EllipticCurvePublicNumbers(pt[0], pt[1], ec.SECP256R1()).public_key()


def ec_ok(pt, msg, r, s):
    if not (0 < r < N and 0 < s < N):
        return False  # cryptography cannot even DER-encode some of these; FIPS 186-4 says no
    try:
        ec_pub(pt).verify(encode_dss_signature(r, s), msg, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


def ecdsa_file():
    keys = {}
    cases = []

    def add(key, msg, r, s, what, expect):
        pt = keys_pt[key]
        ok = ec_ok(pt, msg, r, s)
        assert ok == expect, what
        cases.append(
            {"key": key, "msg": msg.hex(), "r": "%x" % r, "s": "%x" % s, "ok": ok, "what": what}
        )

    keys_pt = {}

    def key(name, d):
        priv = ec.derive_private_key(d, ec.SECP256R1())
        nums = priv.public_key().public_numbers()
        pt = (nums.x, nums.y)
        assert pt == aff_mul(d, G)
        keys_pt[name] = pt
        keys[name] = point_hex(pt)
        return priv

    a = key("a", secrets.randbelow(N - 1) + 1)
    key("other", secrets.randbelow(N - 1) + 1)
    for i, m in enumerate(MESSAGES):
        r, s = decode_dss_signature(a.sign(m, ec.ECDSA(hashes.SHA256())))
        lo = min(s, N - s)
        add("a", m, r, lo, "good, message %d, low s" % i, True)
        add("a", m, r, N - lo, "good, message %d, high s (n - s)" % i, True)
    m = b"tampering"
    r, s = decode_dss_signature(a.sign(m, ec.ECDSA(hashes.SHA256())))
    add("a", m, r, s, "good, before tampering", True)
    add("a", m + b".", r, s, "message with a byte appended", False)
    add("a", m, r ^ 1, s, "r with its low bit flipped", False)
    add("a", m, r, s ^ 1, "s with its low bit flipped", False)
    add("a", m, s, r, "r and s swapped", False)
    add("other", m, r, s, "other key", False)
    add("a", m, 0, s, "r = 0", False)
    add("a", m, r, 0, "s = 0", False)
    add("a", m, N, s, "r = n", False)
    add("a", m, r, N, "s = n", False)
    add("a", m, r + N, s, "r + n (same value mod n, out of range)", False)
    add("a", m, r, s + N, "s + n (same value mod n, out of range)", False)
    add("a", m, N - r, s, "n - r", False)

    # Public keys that are small multiples of +-G make the precomputed table hit P + P
    # and P + (-P) (doubling and infinity inside the addition formula).
    for d, label in ((1, "G"), (2, "2G"), (3, "3G"), (N - 1, "-G"), (N - 2, "-2G"), (N - 3, "-3G")):
        priv = key("mult_" + label, d)
        for i, m in enumerate(MESSAGES[:2]):
            r, s = decode_dss_signature(priv.sign(m, ec.ECDSA(hashes.SHA256())))
            add("mult_" + label, m, r, s, "good, public key %s, message %d" % (label, i), True)

    # RFC 6979 A.2.5 (P-256): the deterministic SHA-256 signatures of "sample" and "test".
    d6979 = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721
    key("rfc6979", d6979)
    assert keys["rfc6979"] == (
        "0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"
        "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299"
    )
    add(
        "rfc6979",
        b"sample",
        0xEFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716,
        0xF7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8,
        "RFC 6979 A.2.5 SHA-256 'sample'",
        True,
    )
    add(
        "rfc6979",
        b"test",
        0xF1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367,
        0x019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083,
        "RFC 6979 A.2.5 SHA-256 'test'",
        True,
    )

    # x(R) >= n: pick R on the curve with n <= x < p, then the public key that makes
    # u1*G + u2*Q == R for a chosen (r = x - n, s, message). The verifier must reduce x mod n.
    x = N
    while True:
        x += 1
        rhs = (x**3 - 3 * x + B) % P
        y = pow(rhs, (P + 1) // 4, P)
        if y * y % P == rhs:
            break
    R = (x, y)
    m = b"x(R) >= n"
    r = x - N
    s = secrets.randbelow(N - 1) + 1
    e = int.from_bytes(sha256(m).digest(), "big")
    w = pow(s, -1, N)
    u1, u2 = e * w % N, r * w % N
    neg_u1g = aff_mul(N - u1, G)
    Q = aff_mul(pow(u2, -1, N), aff_add(R, neg_u1g))
    keys_pt["edge_xr"] = Q
    keys["edge_xr"] = point_hex(Q)
    add("edge_xr", m, r, s, "x(R) >= n, r = x(R) - n (constructed key)", True)
    add("edge_xr", m, x - N + 1, s, "x(R) >= n, r off by one", False)

    # R = infinity: key c with e + r*c == 0 (mod n) makes u1*G + u2*Q the point at infinity.
    m = b"R is infinity"
    e = int.from_bytes(sha256(m).digest(), "big")
    r = secrets.randbelow(N - 1) + 1
    s = secrets.randbelow(N - 1) + 1
    c = (-e * pow(r, -1, N)) % N
    key("edge_inf", c)
    w = pow(s, -1, N)
    assert aff_add(aff_mul(e * w, G), aff_mul(r * w % N, keys_pt["edge_inf"])) is None
    add("edge_inf", m, r, s, "u1*G + u2*Q is the point at infinity", False)

    # Points that are not public keys, as keys the tests pair with a good signature of "a".
    ax, ay = keys_pt["a"]
    keys["bad_y_plus_1"] = point_hex((ax, (ay + 1) % P))
    keys["bad_x_is_p"] = "04" + P.to_bytes(32, "big").hex() + ay.to_bytes(32, "big").hex()
    keys["bad_compressed"] = ("02" if ay % 2 == 0 else "03") + ax.to_bytes(32, "big").hex()
    keys["bad_prefix_02"] = "02" + keys["a"][2:]
    keys["bad_zero"] = "04" + "00" * 64
    keys["bad_infinity"] = "00"
    keys["bad_short"] = keys["a"][:-2]
    keys["bad_long"] = keys["a"] + "00"
    for name in ("bad_y_plus_1", "bad_zero"):
        b = bytes.fromhex(keys[name])
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b)
            raise AssertionError(name + " accepted by cryptography")
        except ValueError:
            pass
    good_r, good_s = decode_dss_signature(a.sign(b"abc", ec.ECDSA(hashes.SHA256())))
    write(
        "ecdsa.json",
        {
            "keys": keys,
            "cases": cases,
            "bad_key_sig": {"msg": b"abc".hex(), "r": "%x" % good_r, "s": "%x" % good_s},
        },
    )
    return a


# --- DER ECDSA-Sig-Value ---------------------------------------------------------------


def der_file(a):
    good = []
    for i in range(6):
        der = a.sign(b"der %d" % i, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        good.append(
            {
                "der": der.hex(),
                "r": "%x" % r,
                "s": "%x" % s,
                "what": "cryptography signature %d (%d bytes)" % (i, len(der)),
            }
        )
    for r, s, what in (
        (1, 1, "r = s = 1"),
        (0x80, 0x7F, "r needs a 00 pad, s does not"),
        (N - 1, N - 1, "r = s = n - 1"),
    ):
        der = encode_dss_signature(r, s)
        good.append({"der": der.hex(), "r": "%x" % r, "s": "%x" % s, "what": what})
    bad = [
        ("", "empty"),
        ("3000", "empty SEQUENCE"),
        ("3106020101020101", "SET instead of SEQUENCE"),
        ("3007020101020101", "SEQUENCE length too long"),
        ("3005020101020101", "SEQUENCE length too short"),
        ("300602010102010100", "trailing byte after the SEQUENCE"),
        ("3009020101020101020101", "three INTEGERs"),
        ("3003020101", "s missing"),
        ("3006030101020101", "r is a BIT STRING"),
        ("3006020101040101", "s is an OCTET STRING"),
        ("3006020180020101", "r negative"),
        ("30060201010201ff", "s negative"),
        ("300702020001020101", "r with a needless leading zero"),
        ("300702010102020001", "s with a needless leading zero"),
        ("30050200020101", "r of length 0, s fine"),
        ("308106020101020101", "SEQUENCE long-form length for a short value"),
        ("300702810101020101", "r long-form length for a short value"),
        ("30820006020101020101", "SEQUENCE two-byte length"),
        ("30060201", "truncated inside r"),
        ("300602010102", "truncated before s length"),
        ("3006020101020201", "s length runs past the end"),
    ]
    out = []
    for h, what in bad:
        b = bytes.fromhex(h)
        try:
            decode_dss_signature(b)
            # cryptography is lenient on a few forms; our strict DER must still reject them
            lenient = True
        except ValueError:
            lenient = False
        out.append(
            {"der": b.hex(), "what": what + (" (cryptography accepts it)" if lenient else "")}
        )
    write("der.json", {"good": good, "bad": out})


# --- PASSporT --------------------------------------------------------------------------


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def canon(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def passport_file():
    priv = ec.generate_private_key(ec.SECP256R1())
    other = ec.generate_private_key(ec.SECP256R1())

    def pt(k):
        nums = k.public_key().public_numbers()
        return point_hex((nums.x, nums.y))

    x5u = "https://cert.example.org/passport.cer"
    hdr = {"alg": "ES256", "ppt": "shaken", "typ": "passport", "x5u": x5u}
    claims = {
        "attest": "A",
        "dest": {"tn": ["12155551213"]},
        "iat": 1443208345,
        "orig": {"tn": "12155551212"},
        "origid": "123e4567-e89b-12d3-a456-426655440000",
    }
    base = {
        "dest": {"uri": ["sip:bob@example.com"]},
        "iat": 1443208345,
        "orig": {"tn": "12155551212"},
    }

    def token(h, c, key=priv, raw_payload=None):
        hb = b64u(canon(h) if isinstance(h, dict) else h)
        pb = b64u(raw_payload if raw_payload is not None else canon(c))
        der = key.sign((hb + "." + pb).encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return hb + "." + pb + "." + b64u(sig), der

    info = ";info=<" + x5u + ">"
    cases = []

    def add(value, ok, what, claims=None, reason=None):
        c = {"value": value, "ok": ok, "what": what}
        if ok:
            c["claims"] = claims
        else:
            c["reason"] = reason
        cases.append(c)

    t, der = token(hdr, claims)
    add(
        t + info + ";alg=ES256;ppt=shaken",
        True,
        "SHAKEN PASSporT as Kamailio secsipid sends it",
        claims,
    )
    add(
        t + " ; INFO = <" + x5u + '> ;ppt="shaken"',
        True,
        "spaces, upper-case name, quoted ppt, no alg",
        claims,
    )
    t2, _ = token({"alg": "ES256", "typ": "passport", "x5u": x5u}, base)
    add(t2 + info, True, "plain RFC 8225 PASSporT, no ppt", base)
    add(
        t2 + ";info=<https://c.example/a;b=c?x=y>;alg=ES256",
        True,
        "info URI with ; and = inside the brackets",
        base,
    )
    t3, _ = token({"alg": "ES256", "x5u": x5u}, base)
    add(t3 + info, True, "no typ in the header (tolerated)", base)

    # Failures.
    h_, p_, s_ = t.split(".")
    other_t, _ = token(hdr, dict(claims, iat=1443208346))
    add(
        h_ + "." + p_ + "." + other_t.split(".")[2] + info + ";ppt=shaken",
        False,
        "signature of another payload",
        reason="does not verify",
    )
    add(
        h_ + "." + other_t.split(".")[1] + "." + s_ + info + ";ppt=shaken",
        False,
        "payload swapped for another signed one",
        reason="does not verify",
    )
    t_other, _ = token(hdr, claims, key=other)
    add(t_other + info + ";ppt=shaken", False, "signed by another key", reason="does not verify")
    t4, _ = token(dict(hdr, alg="ES384"), claims)
    add(t4 + info + ";ppt=shaken", False, "header alg ES384 (validly signed)", reason="not ES256")
    t5, _ = token(dict(hdr, alg="none"), claims)
    add(t5 + info + ";ppt=shaken", False, "header alg none", reason="not ES256")
    t6, _ = token({k: v for k, v in hdr.items() if k != "alg"}, claims)
    add(t6 + info + ";ppt=shaken", False, "header without alg", reason="not ES256")
    add(t + info + ";alg=RS256;ppt=shaken", False, "alg parameter RS256", reason="alg=RS256")
    add(t + info + ";ppt=div", False, "ppt parameter does not match the header", reason="ppt")
    add(t + info, False, "ppt in the header but no ppt parameter", reason="ppt")
    add(t2 + info + ";ppt=shaken", False, "ppt parameter but none in the header", reason="ppt")
    t7, _ = token(dict(hdr, typ="JWT"), claims)
    add(t7 + info + ";ppt=shaken", False, "typ JWT", reason="typ")
    add(
        h_ + "." + p_ + "." + b64u(der) + info + ";ppt=shaken",
        False,
        "DER signature instead of r||s",
        reason="not 64",
    )
    add(
        h_ + ".." + s_ + info + ";ppt=shaken",
        False,
        "compact form (payload left out)",
        reason="compact",
    )
    t8, _ = token(hdr, {k: v for k, v in claims.items() if k != "iat"})
    add(t8 + info + ";ppt=shaken", False, "claims without iat (validly signed)", reason="iat")
    t9, _ = token(hdr, dict(claims, orig="12155551212"))
    add(t9 + info + ";ppt=shaken", False, "orig is a string (validly signed)", reason="orig")
    t10, _ = token(hdr, None, raw_payload=b'{"iat":1,')
    add(
        t10 + info + ";ppt=shaken",
        False,
        "payload is not JSON (validly signed)",
        reason="not valid JSON",
    )
    t11, _ = token(hdr, None, raw_payload=b"[1,2]")
    add(
        t11 + info + ";ppt=shaken",
        False,
        "payload is a JSON array (validly signed)",
        reason="not a JSON object",
    )
    t13, _ = token(hdr, None, raw_payload=b'{"iat":1,"orig":{"tn":"\xff"},"dest":{}}')
    add(
        t13 + info + ";ppt=shaken",
        False,
        "payload with invalid UTF-8 (validly signed)",
        reason="not valid JSON",
    )
    t12, _ = token(b'{"alg":"ES256",', claims)
    add(t12 + info, False, "header is not JSON", reason="not valid JSON")
    add(t, False, "no info parameter", reason="info")
    add(t + ";info=" + x5u + ";ppt=shaken", False, "info without angle brackets", reason="info")
    add(t + ";info=<" + x5u + ";ppt=shaken", False, "unterminated <", reason="unterminated")
    add(h_ + "." + p_ + info, False, "two JWS parts", reason="parts")
    add(
        h_ + "." + p_ + "*" + "." + s_ + info + ";ppt=shaken",
        False,
        "base64url with *",
        reason="invalid character",
    )
    add(
        h_ + "." + p_ + "." + s_ + "==" + info + ";ppt=shaken",
        False,
        "signature with = padding",
        reason="invalid character",
    )
    assert len(s_) == 86
    add(
        h_ + "." + p_ + "." + s_[:-1] + info + ";ppt=shaken",
        False,
        "signature one character short (85: impossible length)",
        reason="impossible length",
    )
    add(
        h_ + "." + p_ + "." + s_[:-2] + info + ";ppt=shaken",
        False,
        "signature two characters short (63 bytes)",
        reason="not 64",
    )
    add(
        "+" + h_[1:] + "." + p_ + "." + s_ + info + ";ppt=shaken",
        False,
        "standard base64 '+' in the header",
        reason="invalid character",
    )
    add(
        h_ + "." + p_ + "." + s_[:-1] + "/" + info + ";ppt=shaken",
        False,
        "standard base64 '/' in the signature",
        reason="invalid character",
    )
    add(t + info + ";ppt=shaken;ppt=shaken", False, "ppt repeated", reason="repeated")
    add("", False, "empty value", reason="empty")

    # Cross-check the good ones with cryptography from the JWS text, as a verifier would.
    for c in cases:
        if c["ok"]:
            jws = c["value"].split(";")[0].strip()
            h, p, s = jws.split(".")
            sig = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
            der = encode_dss_signature(
                int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
            )
            priv.public_key().verify(der, (h + "." + p).encode(), ec.ECDSA(hashes.SHA256()))
            assert json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))) == c["claims"]
    write("passport.json", {"point": pt(priv), "other_point": pt(other), "cases": cases})


def main():
    rsa_file(2048, 65537, "rsa2048.json")
    rsa_file(3072, 65537, "rsa3072.json")
    rsa_file(3072, 3, "rsa3072e3.json")
    a = ecdsa_file()
    der_file(a)
    passport_file()


if __name__ == "__main__":
    main()
