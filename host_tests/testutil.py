"""Helpers shared by the unit tests; no pytest features so MicroPython can run them too."""
import sys

HERE = __file__.rpartition("/")[0] or "."
DATA = HERE + "/data"


def raises(exc_type, fn, *args, **kw):
    """Call fn and return the exception it raised; fail if it raised nothing or the wrong type."""
    try:
        fn(*args, **kw)
    except exc_type as e:
        return e
    raise AssertionError("expected %s from %r" % (exc_type.__name__, fn))


def read_vector(name):
    """Bytes of a file under host_tests/data (for example 'rfc4475/wsinv.sip')."""
    with open(DATA + "/" + name, "rb") as f:
        return f.read()


def listdir(sub):
    import os

    return sorted(os.listdir(DATA + "/" + sub))


class FakeClock:
    """Integer milliseconds that only move when the test says so."""

    def __init__(self, start=1000):
        self.now = start

    def advance(self, ms):
        self.now += ms
        return self.now


class FakeRandom:
    """Deterministic rng(n) -> bytes for tests (xorshift, not for production)."""

    def __init__(self, seed=1):
        self.state = seed or 1

    def __call__(self, n):
        out = bytearray(n)
        s = self.state
        for i in range(n):
            s ^= (s << 13) & 0xFFFFFFFF
            s ^= s >> 17
            s ^= (s << 5) & 0xFFFFFFFF
            out[i] = s & 0xFF
        self.state = s
        return bytes(out)


MICROPYTHON = sys.implementation.name == "micropython"


def lcg(seed):
    """A deterministic rng(n) -> bytes (the textbook 31-bit LCG, top byte of each step)."""
    st = [seed]

    def rng(n):
        out = bytearray(n)
        for i in range(n):
            st[0] = (st[0] * 1103515245 + 12345) & 0x7FFFFFFF
            out[i] = st[0] >> 23
        return bytes(out)

    return rng


# The core's private constants the tests need (a private const is no interned name on the
# phone, so ua.py, framing.py, register.py and transaction.py keep them private):
# test_consts.py checks each copy against its module's source.
ACT_CONNECT, ACT_SEND, ACT_CLOSE, ACT_MEDIA, ACT_MEDIA_STOP, ACT_RESOLVE = 1, 2, 3, 4, 5, 6
FRAME_MESSAGE, FRAME_PING, FRAME_PONG, FRAME_ERROR = 1, 2, 3, 4  # framing's units
PING, PONG = b"\r\n\r\n", b"\r\n"  # RFC 5626 keepalive
R_PROVISIONAL, R_OK, R_RETRY, R_FAIL = 0, 1, 2, 3  # register.on_response's outcomes
TRYING, PROCEEDING, COMPLETED, TERMINATED = 0, 1, 2, 3  # a client transaction's states


def b64url_encode(data):
    """Unpadded base64url text of `data` (bytes), as a PASSporT signer writes it (the phone
    only decodes: tinysip.passport.b64url_decode)."""
    from binascii import b2a_base64

    out = b2a_base64(data).rstrip(b"\n").rstrip(b"=")
    return out.replace(b"+", b"-").replace(b"/", b"_")


# What an x509.Certificate (a tuple) holds, by index: the _C_ constants of x509.py
C_DER, C_FINGERPRINT, C_TBS, C_ISSUER, C_SUBJECT, C_SIGNATURE, C_SIG_ALG, C_VERSION = range(8)
C_NOT_BEFORE, C_NOT_AFTER, C_KEY_TYPE, C_RSA, C_EC_POINT, C_SAN_URIS, C_CA = range(8, 15)
C_PATH_LEN, C_KEY_USAGE, C_EXT_KEY_USAGE = range(15, 18)
