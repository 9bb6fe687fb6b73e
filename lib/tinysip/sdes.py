"""SDES keys for SRTP: the a=crypto attribute of RFC 4568, bytes end to end.

Owns reading a peer's a=crypto values (tinysip.sdp collects them per m= line), choosing the
one we use, and writing ours. It does not decide whether SRTP is used (tinysip.audio
applies `media.srtp`, see below) or touch packets (tinysip.srtp does).

a=crypto:<tag> <crypto-suite> inline:<key||salt base64>[|<lifetime>][|<MKI>:<length>]
         [<session-param> ...]                                          (RFC 4568 §9.1)

- Suites: AES_CM_128_HMAC_SHA1_80 and AES_CM_128_HMAC_SHA1_32 (§6.2), named in any case;
  the key is 16 bytes of master key and 14 of master salt, 40 base64 characters.
- One key, no MKI: several keys (';') need MKIs, and an MKI changes every packet's
  layout; refused. A lifetime is accepted when it is at least 2^31 packets (SRTCP's
  index space, more than a call lives): we never re-key, so a shorter one is refused.
- Session parameters (§6.3): WSH (a window size hint: ours is 64) and FEC_ORDER (no FEC
  here) are accepted and ignored, as is an unknown one that starts with '-' (§6.3.7);
  KDR (we derive once, kdr 0), UNENCRYPTED_SRTP/SRTCP, UNAUTHENTICATED_SRTP, FEC_KEY and
  any other unknown one make the attribute unusable (§6.3.7: such an attribute is invalid).
- The answer keeps the tag of the offered line it accepts (§7.1.2), takes the first line
  we support (the offerer lists them by preference, §7.1.1), and carries our own key:
  each side protects what it sends with the key of its own a=crypto line.

`media.srtp` (tinysip.audio applies it; the facts it rests on):
- required (the RUE profile): we offer RTP/SAVP with a=crypto and refuse (488) an offer
  whose stream would not be SRTP.
- optional: we offer RTP/AVP with a=crypto (best-effort SRTP) and take SRTP whenever the
  answer has a usable a=crypto. baresip's `srtp` mode is the same: RTP/AVP with one
  a=crypto (tag 1, AES_CM_128_HMAC_SHA1_80), and it also accepts RTP/SAVP offers; its
  `srtp-mand` mode knows RTP/SAVP only, and libre answers an m= line of another profile
  (RTP/AVP: ours when optional) with port 0: calling such a peer needs `required`, or a
  new offer after the refusal. baresip answers with the first offered line it supports
  and its own key, as we do.
- off: plain RTP/AVP; an RTP/SAVP offer is refused, a=crypto in an RTP/AVP offer ignored.
- Interop note: libre (baresip) tags SRTCP with the suite's SRTP tag length, so with
  AES_CM_128_HMAC_SHA1_32 its SRTCP tag is 32 bits where RFC 3711 and libsrtp use 80 (we
  do): offer _80 first, as tinysip.audio does, and baresip picks it.
"""
from binascii import a2b_base64, b2a_base64

from tinysip.errors import nth

# Error texts, one string: a module run in place holds each str constant as a heap object.
_REASONS = ("malformed a=crypto:%s\ncrypto suite %s not supported\n"
            "one inline key only (no other key method, no key list)\n"
            "the inline key is not 30 bytes of base64\nMKI %s not supported\n"
            "key lifetime %s (we do not re-key: 2^31 or more only)\n"
            "session parameter %s not supported")


def parse(value):
    """(tag, suite name, tag bits 80 or 32, 30-byte key) of one a=crypto value (the bytes
    after "a=crypto:"). Raises ValueError naming the attribute when it is malformed or asks
    for something we do not do (see the module docstring)."""
    f = value.split()
    if len(f) < 3 or not f[0].isdigit() or len(f[0]) > 9:
        raise ValueError(nth(_REASONS, 0) % value[:60])
    # "a=crypto:<tag>: " (line 0 without "malformed "); peer bytes show as b'...' (never decoded)
    where = nth(_REASONS, 0)[10:] % f[0].decode() + ": "
    name = f[1].upper()
    bits = name[21:]
    if not name.startswith(b"AES_CM_128_HMAC_SHA1_") or bits not in (b"80", b"32"):
        raise ValueError(where + nth(_REASONS, 1) % f[1][:40])
    method, _, info = f[2].partition(b":")
    if method.lower() != b"inline" or b";" in info:
        raise ValueError(where + nth(_REASONS, 2))
    info = info.split(b"|")
    try:
        key = a2b_base64(info[0])
    except ValueError:
        key = b""
    if len(key) != 30 or b2a_base64(key)[:-1] != info[0]:
        raise ValueError(where + nth(_REASONS, 3))
    for p in info[1:]:
        if b":" in p:
            raise ValueError(where + nth(_REASONS, 4) % p[:20])
        e = p[2:] if p.startswith(b"2^") else b""
        if not (e.isdigit() and len(e) < 3 and int(e) >= 31
                or p.isdigit() and len(p) < 30 and int(p) >= 1 << 31):
            raise ValueError(where + nth(_REASONS, 5) % p[:20])
    for p in f[3:]:
        if not (p.startswith(b"WSH=") or p.startswith(b"FEC_ORDER=") or p.startswith(b"-")):
            raise ValueError(where + nth(_REASONS, 6) % p[:40])
    return int(f[0]), f[1], int(bits), key


def choose(values):
    """The first of an offer's (or answer's) a=crypto values that we support, parsed as
    parse() does, or None when there is none."""
    for v in values:
        try:
            return parse(v)
        except ValueError:
            pass
    return None


def line(tag, n, key):
    """Our a=crypto value, without "a=": tag (int), n the suite's tag bits (80 or 32), key
    the 30 bytes of master key||salt (drawn with rng(30) for each offer or answer)."""
    return b"crypto:%d AES_CM_128_HMAC_SHA1_%d inline:%s" % (tag, n, b2a_base64(key)[:-1])
