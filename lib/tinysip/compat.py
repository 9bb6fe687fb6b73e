"""The one place that looks at the interpreter.

Everything that differs between CPython and MicroPython and that protocol code needs is
here: ``const``, hashes as lowercase hex, ``urandom``, ``mem_free``, ``collect_every``,
``drop``
(AES for SRTP is tinysip.srtp's: cryptolib here, tinysip/cpyaes.py on CPython). I/O differences (sockets, ssl,
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


def collect_every(n, t=[-1, 0]):
    """Have MicroPython collect the garbage after every n bytes allocated (gc.threshold)
    rather than only when the heap is full; returns the threshold set. CPython frees most
    objects as they die and has no such setting: None there.
    collect_every(0) when a voice call starts, collect_every(-1) when it ends: meanwhile
    the heap is collected only when full (nested: the threshold is back with the last
    call). A call's datagram reads allocate on MicroPython, so early collection would stop
    its frame loop every few dozen packets, and a jitter buffer takes such pauses for
    network jitter. `t` is not an argument but the state: [the threshold set, the calls
    holding it off] (a default list: no global, so no name interned for it)."""
    if n is None or n > 0:  # (None: only when full again, as MicroPython starts)
        t[0] = -1 if n is None else n
    else:
        t[1] = max(0, t[1] + (1 if n == 0 else -1))
    if MICROPYTHON:
        gc.threshold(-1 if t[1] else t[0])
        return t[0]
    return None


def drop(names):
    """Forget tinysip modules that are rarely needed (the certificate checks, RFC 8224):
    their module objects, functions and classes become garbage once nothing else holds
    them, and the next import loads them again (from ROMFS: cheap). `names`: one string,
    space-separated ("x509 sigverify"): a short string constant would be interned on the
    phone, a long one is not; a single module by its full name ("tinysip.sipdate"), the
    qstr its import made already. Their interned names stay: MicroPython never frees a
    qstr (docs/benchmarks.md has what each module leaves)."""
    for n in names.split():
        if n[:8] != "tinysip.":
            n = "tinysip." + n
        i = n.rfind(".")  # its package ("tinysip", or "tinysip.io" for "io.udp") holds it too
        pkg = sys.modules.get(n[:i])
        if sys.modules.pop(n, None) is not None and pkg is not None:
            try:
                delattr(pkg, n[i + 1:])
            except (AttributeError, KeyError):  # MicroPython: KeyError when it is not set
                pass


def load(names):
    """Import a module the first time it is needed and return attributes of it: `names` is
    bytes, b"tinysip.sdp parse write" -> (parse, write), one attribute alone for one name.
    `from tinysip.sdp import parse` inside a function interns "tinysip.sdp" and "parse" when
    the caller's module loads, even if the function never runs (MicroPython keeps every
    name of a loaded module's code for good); a bytes constant is not a name, so the names
    here are interned only when the module really loads (and it interns them anyway)."""
    names = names.decode().split()
    m = __import__(names[0], None, None, names[1:])
    out = []
    for n in names[1:]:
        out.append(getattr(m, n))
    return out[0] if len(out) == 1 else tuple(out)
