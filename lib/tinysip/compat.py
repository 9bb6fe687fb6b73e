"""The one place that looks at the interpreter.

Everything that differs between CPython and MicroPython and that protocol code needs is
here: ``const``, hashes as lowercase hex, ``urandom``. I/O differences (sockets, ssl,
clocks) live in ``tinysip.io``, which may import this module too.
"""
import sys
import binascii
import hashlib

MICROPYTHON = sys.implementation.name == "micropython"

if MICROPYTHON:
    from micropython import const  # noqa: F401
else:

    def const(x):
        return x


try:
    from os import urandom
except ImportError:  # pragma: no cover - very old ports
    from random import getrandbits

    def urandom(n):
        return bytes(getrandbits(8) for _ in range(n))


hexlify = binascii.hexlify


def md5(data):
    h = hashlib.md5()
    h.update(data)
    return h.digest()


def sha256(data):
    h = hashlib.sha256()
    h.update(data)
    return h.digest()


def md5_hex(data):
    """Lowercase hex MD5 of ``data`` as bytes."""
    return binascii.hexlify(md5(data))


def sha256_hex(data):
    """Lowercase hex SHA-256 of ``data`` as bytes."""
    return binascii.hexlify(sha256(data))


def b64encode(data):
    """Standard base64 without the trailing newline binascii adds."""
    return binascii.b2a_base64(data)[:-1]
