"""ECDSA P-256 signature verification in pure Python, with SHA-256.

Owns: FIPS 186-4 §6.4.2 ECDSA verification on P-256 (SEC 2 secp256r1) and reading the
uncompressed SEC1 point. The signature encodings are read where they are carried: DER
ECDSA-Sig-Value (RFC 3279 §2.2.3) by x509.ec_signature, JOSE's raw 64-byte r||s (RFC 7518
§3.4) by passport.raw_rs. RSA is tinysip.sigverify's (a module of its own: a check of an
RSA-signed certificate does not load this one).

Must not: sign, hold private keys, read certificates (the caller hands over the 65-byte
point), or raise: every malformed input is just False, since it is what a peer sent.

Big ints are arbitrary precision on CPython and on MicroPython (mpz); ``pow(x, -1, m)`` is
not usable on MicroPython (1.29 quietly returns 0), so inverses use Fermat (both moduli are
prime). int.from_bytes/to_bytes use their default byte order, big-endian.
"""

import hashlib

from tinysip.compat import const

# Names cost the phone (MicroPython interns every global and argument name of a loaded
# module, for good): module constants are private const()s, arguments reuse names the
# interpreter has anyway.

# Curve parameters (SEC 2 §2.4.2, FIPS 186-4 D.1.2.3): y^2 = x^3 - 3x + b over GF(p), base
# point G of prime order n, cofactor 1 (so every affine point on the curve is in the group).
_P = const(0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF)
_N = const(0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551)
_B = const(0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B)
_GX = const(0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296)
_GY = const(0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)

# Points in Jacobian coordinates are tuples (X, Y, Z) standing for (X/Z^2, Y/Z^3); Z == 0 is
# the point at infinity, written (1, 1, 0). Affine points are (x, y) tuples; None is
# infinity in a table.


def _double(v):
    """2*v, Jacobian, using a = -3: 3(X-Z^2)(X+Z^2) replaces 3X^2 + aZ^4."""
    X, Y, Z = v
    if Z == 0 or Y == 0:
        return 1, 1, 0
    p = _P
    zz = Z * Z % p
    yy = Y * Y % p
    beta = X * yy % p
    alpha = 3 * (X - zz) * (X + zz) % p
    X3 = (alpha * alpha - 8 * beta) % p
    return X3, (alpha * (4 * beta - X3) - 8 * yy * yy) % p, 2 * Y * Z % p


def _add_affine(v, a):
    """v + a with v Jacobian and a affine (or None for infinity); handles v == +-a."""
    if a is None:
        return v
    X1, Y1, Z1 = v
    x2, y2 = a
    if Z1 == 0:
        return x2, y2, 1
    p = _P
    zz = Z1 * Z1 % p
    h = (x2 * zz - X1) % p  # U2 - U1
    r = (y2 * zz * Z1 - Y1) % p  # S2 - S1
    if h == 0:
        if r == 0:
            return _double(v)
        return 1, 1, 0  # a == -v
    hh = h * h % p
    hhh = h * hh % p
    v = X1 * hh % p
    X3 = (r * r - hhh - 2 * v) % p
    return X3, (r * (v - X3) - Y1 * hhh) % p, Z1 * h % p


def _to_affine(a):
    """Jacobian points -> affine (x, y) or None, with one field inversion for the whole list
    (Montgomery's trick: prefix products of the Z's, one inverse, then walk back)."""
    p = _P
    acc = 1
    prefix = []
    for v in a:
        prefix.append(acc)
        if v[2]:
            acc = acc * v[2] % p
    inv = pow(acc, p - 2, p)
    out = [None] * len(a)
    for i in range(len(a) - 1, -1, -1):
        X, Y, Z = a[i]
        if Z == 0:
            continue
        zi = inv * prefix[i] % p  # 1/Z_i
        inv = inv * Z % p
        zi2 = zi * zi % p
        out[i] = (X * zi2 % p, Y * zi2 * zi % p)
    return out


def ec_point(key):
    """(x, y) from an uncompressed SEC1 P-256 point ``04 || X || Y`` (65 bytes), or None if it
    is not one or is not on the curve (SEC1 §3.2.2.1: coordinates in range, equation holds)."""
    try:
        if len(key) != 65 or key[0] != 4:
            return None
        x = int.from_bytes(bytes(key[1:33]))
        y = int.from_bytes(bytes(key[33:65]))
    except MemoryError:  # the heap ran out: no verdict on the data
        raise
    except Exception:  # noqa: BLE001
        return None
    p = _P
    if x >= p or y >= p:
        return None
    if (y * y - (x * x * x - 3 * x + _B)) % p:
        return None
    return x, y


def ecdsa_p256_sha256(key, message, r, s):
    """True if (r, s) is a valid ECDSA P-256 SHA-256 signature of ``message`` under ``key``.

    ``key``: the uncompressed 65-byte SEC1 public key point, checked on the curve; ``r``,
    ``s``: ints (see ``x509.ec_signature`` / ``passport.raw_rs``). FIPS 186-4 §6.4.2:
    1 <= r, s < n, w = s^-1, u1 = e*w, u2 = r*w, R = u1*G + u2*Q, valid iff R is not infinity and
    x(R) mod n == r. Both s and n - s are accepted (no low-s rule). Any malformed input
    gives False; nothing raises.
    """
    try:
        q = ec_point(key)
        if q is None:
            return False
        n = _N
        if not (0 < r < n and 0 < s < n):
            return False
        e = int.from_bytes(hashlib.sha256(message).digest())
        w = pow(s, n - 2, n)
        # R = u1*G + u2*Q (Jacobian) by Straus/Shamir: one shared doubling chain over 2-bit
        # windows of both scalars, adding a precomputed i*G + j*Q; 256 doublings and at
        # most 128 additions. The table t[4*i + j] = affine i*G + j*Q for i, j in 0..3 (t[0],
        # infinity: None) is made here in two rounds, each converted to affine coordinates
        # at once: first 2G, 3G, 2Q, 3Q, then the nine mixed sums of those.
        g1 = (_GX, _GY)
        g2 = _double((_GX, _GY, 1))
        q2 = _double((q[0], q[1], 1))
        g3, q3, g2, q2 = _to_affine([_add_affine(g2, g1), _add_affine(q2, q), g2, q2])
        gs = (None, g1, g2, g3)
        qs = (None, q, q2, q3)
        a = []
        for i in (1, 2, 3):
            for j in (1, 2, 3):
                a.append(_add_affine((gs[i][0], gs[i][1], 1), qs[j]))
        a = _to_affine(a)
        t = [None] * 16
        for i in (1, 2, 3):
            t[4 * i] = gs[i]
            t[i] = qs[i]
            for j in (1, 2, 3):
                t[4 * i + j] = a[3 * (i - 1) + (j - 1)]
        a = (e * w % n).to_bytes(32)
        b = (r * w % n).to_bytes(32)
        acc = (1, 1, 0)
        for k in range(32):
            x = a[k]
            y = b[k]
            for shift in (6, 4, 2, 0):
                acc = _double(_double(acc))
                d = ((x >> shift) & 3) * 4 + ((y >> shift) & 3)
                if d:
                    acc = _add_affine(acc, t[d])
        X, _, Z = acc
        if Z == 0:
            return False
        # x(R) = X/Z^2 lies in [0, p); x(R) mod n == r means x(R) is r or r + n (p < 2n).
        # Test X == x*Z^2 for both instead of inverting Z.
        p = _P
        zz = Z * Z % p
        if (r * zz - X) % p == 0:
            return True
        return r + n < p and ((r + n) * zz - X) % p == 0
    except MemoryError:  # the heap ran out: no verdict on the data
        raise
    except Exception:  # noqa: BLE001 - wrong types from the caller's data: not valid
        return False

