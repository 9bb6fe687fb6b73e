"""RSA signature verification in pure Python: PKCS#1 v1.5 with SHA-256.

Owns: RFC 8017 §8.2.2 RSASSA-PKCS1-v1_5-VERIFY (SHA-256 only). ECDSA P-256 is
tinysip.ecdsa's: a module of its own, so that checking an RSA-signed certificate (the usual
CA) does not load the curve code beside it (1.5 KB of heap on the 64-bit unix port while a
check runs, measured with tools/bench/code_cost.py --romfs; issue 16).

Must not: sign, hold private keys, read certificates (the caller hands over (n, e)), or
raise: every malformed input is just False, since it is what a peer sent.

Verification is public-key work on public data: timing leaks nothing secret, but the block
comparison is written without an early exit anyway (it checks every byte regardless). Big
ints are arbitrary precision on CPython and on MicroPython (mpz); MicroPython's pow(s, e, n)
works in place (896 B allocated for a 2048-bit key, measured). int.from_bytes/to_bytes use
their default byte order, big-endian (CPython 3.11, MicroPython 1.24+): a "big" argument
would be one more interned name.
"""

import hashlib

# Names cost the phone (MicroPython interns every global and argument name of a loaded
# module, for good): constants are literals at their one use, and arguments reuse names
# the interpreter has anyway.


def rsa_pkcs1_sha256(n, e, message, signature):
    """True if ``signature`` is a valid RSASSA-PKCS1-v1_5 SHA-256 signature of ``message``.

    ``n``, ``e``: the signer's public key as ints; ``message``, ``signature``: bytes. Follows
    RFC 8017 §8.2.2: the signature must be exactly as long as the modulus and below it; the
    recovered block is compared in full with the one encoding we expect,
    ``00 01 FF..FF 00 DigestInfo(sha256) digest`` (at least 8 FF bytes), never parsed.
    Any malformed input gives False; nothing raises.
    """
    try:
        if n < 3 or not n & 1 or e < 3 or not e & 1:
            return False
        # k: the bytes of n, which the signature must have (RFC 8017 §8.2.2 step 1). Taken
        # from the signature and checked on n by two shifts (int.bit_length is missing on
        # MicroPython; hex(n) would be a 500-byte string on the heap): the top byte nonzero.
        k = len(signature)
        if k < 1 or not 0 < n >> 8 * k - 8 < 256:
            return False
        # DER DigestInfo for SHA-256 (RFC 8017 §9.2 note 1): SEQUENCE { SEQUENCE { OID
        # 2.16.840.1.101.3.4.2.1, NULL }, OCTET STRING (32 bytes) }, then the digest. The
        # parameters NULL is part of the expected encoding: a DigestInfo without it is
        # rejected (full-encoding comparison).
        t = (b"\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00"
             b"\x04\x20" + hashlib.sha256(message).digest())
        if k < len(t) + 11:  # RFC 8017 §9.2 step 3: modulus too short for it
            return False
        s = int.from_bytes(signature)
        if s >= n:
            return False
        em = pow(s, e, n).to_bytes(k)
        # compared in place with 00 01 FF..FF 00 t, every byte looked at (no early exit)
        m = k - len(t)
        d = em[0] | em[1] ^ 1 | em[m - 1]
        for i in range(2, m - 1):
            d |= em[i] ^ 0xFF
        for i in range(len(t)):
            d |= em[m + i] ^ t[i]
        return d == 0
    except MemoryError:  # the heap ran out: no verdict on the data
        raise
    except Exception:  # noqa: BLE001 - wrong types or sizes from the caller's data: not valid
        return False
