"""AES-ECB on CPython for tinysip.srtp (the `cryptography` package): aes(key, 1) is an object
whose encrypt(src, dst) encrypts len(src) bytes, a multiple of 16, into dst, like
MicroPython's cryptolib.aes(key, 1). MicroPython never imports this module: it has
cryptolib, and the names below would cost it RAM."""
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


class _Ecb:
    def __init__(self, enc):
        self.u = enc.update

    def encrypt(self, src, dst):
        dst[: len(src)] = self.u(src)


def aes(key, mode=1):
    """AES-ECB under key (mode: 1, ECB, the only one here)."""
    return _Ecb(Cipher(algorithms.AES(key), modes.ECB()).encryptor())
