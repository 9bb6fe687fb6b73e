"""The one place that looks at the interpreter.

Everything that differs between CPython and MicroPython and that protocol code needs is
here: ``const``, hashes as lowercase hex, ``urandom``, ``mem_free``, ``drop``. I/O differences (sockets, ssl,
clocks) live in ``tinysip.io``, which may import this module too.
"""
import gc
import sys
import hashlib
from binascii import hexlify
from os import urandom  # noqa: F401 - every supported port (unix, ESP32) has it

MICROPYTHON = sys.implementation.name == "micropython"

if MICROPYTHON:
    from micropython import const  # noqa: F401
else:

    def const(x):
        return x


def md5_hex(data):
    """Lowercase hex MD5 of ``data`` as bytes."""
    return hexlify(hashlib.md5(data).digest())


def sha256_hex(data):
    """Lowercase hex SHA-256 of ``data`` as bytes."""
    return hexlify(hashlib.sha256(data).digest())


def mem_free():
    """Free bytes of the MicroPython heap; None on CPython, which has no such figure."""
    return gc.mem_free() if MICROPYTHON else None


def drop(*names):
    """Forget tinysip modules that are rarely needed (the certificate checks, RFC 8224):
    their module objects, functions and classes become garbage once nothing else holds
    them, and the next import loads them again (from ROMFS: cheap). Their interned names
    stay: MicroPython never frees a qstr (docs/benchmarks.md has what each module leaves)."""
    pkg = sys.modules.get("tinysip")
    for n in names:
        if sys.modules.pop("tinysip." + n, None) is not None and pkg is not None:
            try:
                delattr(pkg, n)
            except AttributeError:
                pass


def aes_ecb(key):
    """AES in ECB mode under `key` (16 bytes) for tinysip.srtp: an object whose
    encrypt(src, dst) encrypts len(src) bytes, a multiple of 16, into dst (as long or longer;
    it may be src itself). MicroPython: cryptolib.aes mode 1 (the ESP32's AES hardware),
    which allocates nothing per call; CPython: the `cryptography` package."""
    if MICROPYTHON:
        from cryptolib import aes

        return aes(key, 1)
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    class Ecb:
        def __init__(self, enc):
            self.u = enc.update

        def encrypt(self, src, dst):
            dst[: len(src)] = self.u(src)

    return Ecb(Cipher(algorithms.AES(key), modes.ECB()).encryptor())
