"""RFC 5389 STUN Binding codec for the RFC 5626 §4.4.2 / §8 keepalive on a UDP SIP flow.

Owns: building a Binding request, telling STUN from SIP on the shared socket, and reading
the mapped address out of a Binding response. It does not own timers, retransmission
(RFC 5389 §7.2.1) or the "mapped address changed = flow failed" rule: the outbound flow
logic does. No authentication: the keepalive usage runs without credentials, so
MESSAGE-INTEGRITY is neither sent nor checked (attributes after it are ignored, §15.4).

FINGERPRINT (§15.5) is off by default: RFC 5626 §8 multiplexes STUN with SIP on one port,
and a SIP datagram always starts with a token character while a STUN message starts with
two zero bits and carries the magic cookie, so is_stun() demultiplexes without it, and the
edge proxy needs no CRC to do the same (the §8 text itself was not at hand offline:
verify). `binding_request(txid, True)` adds one for a server that insists; a
FINGERPRINT in a response is always verified (RFC 5389 §7.3).
"""
import struct
from binascii import crc32

from tinysip.compat import const
from tinysip.errors import ParseError

COOKIE = const(0x2112A442)
_COOKIE_B = b"\x21\x12\xa4\x42"
BINDING_REQUEST = const(0x0001)
BINDING_SUCCESS = const(0x0101)
BINDING_ERROR = const(0x0111)
_FP_XOR = const(0x5354554E)

# attributes this module knows (code, name); 0x0000-0x7FFF are comprehension-required
MAPPED_ADDRESS = const(0x0001)
ERROR_CODE = const(0x0009)
XOR_MAPPED_ADDRESS = const(0x0020)
MESSAGE_INTEGRITY = const(0x0008)
FINGERPRINT = const(0x8028)
ATTRS = (
    (0x0001, "MAPPED-ADDRESS"),
    (0x0006, "USERNAME"),
    (0x0008, "MESSAGE-INTEGRITY"),
    (0x0009, "ERROR-CODE"),
    (0x000A, "UNKNOWN-ATTRIBUTES"),
    (0x0014, "REALM"),
    (0x0015, "NONCE"),
    (0x0020, "XOR-MAPPED-ADDRESS"),
    (0x8022, "SOFTWARE"),
    (0x8023, "ALTERNATE-SERVER"),
    (0x8028, "FINGERPRINT"),
)


def new_txid(rng):
    """A fresh 96-bit transaction ID from the injected rng(n) -> bytes."""
    t = bytes(rng(12))
    if len(t) != 12:
        raise ValueError("rng returned %d bytes, wanted 12" % len(t))
    return t


def _fingerprint(msg):
    # msg's header length already counts the 8 bytes of this attribute
    return struct.pack(">HHI", FINGERPRINT, 4, (crc32(msg) ^ _FP_XOR) & 0xFFFFFFFF)


def _message(mtype, txid, attrs, fingerprint):
    if len(txid) != 12:
        raise ValueError("transaction ID must be 12 bytes")
    msg = struct.pack(">HHI", mtype, len(attrs) + (8 if fingerprint else 0), COOKIE) + txid
    msg += attrs
    if fingerprint:
        msg += _fingerprint(msg)
    return msg


def binding_request(txid, fingerprint=False):
    """A Binding request (20 bytes, no attributes; 28 with FINGERPRINT)."""
    return _message(BINDING_REQUEST, txid, b"", fingerprint)


def binding_response(txid, ip_bytes, port, fingerprint=False):
    """A Binding success response carrying XOR-MAPPED-ADDRESS ip_bytes:port (for fake
    servers and tests). ip_bytes is dotted IPv4 or colon IPv6 text."""
    raw = _ip_raw(ip_bytes)
    key = _COOKIE_B + txid
    x = bytes([raw[i] ^ key[i] for i in range(len(raw))])
    value = struct.pack(">BBH", 0, 1 if len(raw) == 4 else 2, port ^ 0x2112) + x
    attr = struct.pack(">HH", XOR_MAPPED_ADDRESS, len(value)) + value
    return _message(BINDING_SUCCESS, txid, attr, fingerprint)


def is_stun(data):
    """True when data looks like a STUN message (RFC 5389 §6 / RFC 5626 §8 demux): top two
    bits zero, magic cookie, attribute length a multiple of 4 equal to len(data) - 20."""
    if len(data) < 20 or data[0] & 0xC0 or data[4:8] != _COOKIE_B:
        return False
    length = (data[2] << 8) | data[3]
    return not length & 3 and length == len(data) - 20


def _ip_text(raw):
    if len(raw) == 4:
        return b"%d.%d.%d.%d" % (raw[0], raw[1], raw[2], raw[3])
    return b":".join([b"%x" % ((raw[i] << 8) | raw[i + 1]) for i in range(0, 16, 2)])


def _ip_raw(text):
    """Address text -> 4 or 16 bytes (a local value: ValueError when bad)."""
    if b":" not in text:
        parts = text.split(b".")
        if len(parts) != 4:
            raise ValueError("bad IPv4 address")
        return bytes([int(p) for p in parts])
    head, sep, tail = text.partition(b"::")
    h = [int(g, 16) for g in head.split(b":")] if head else []
    t = [int(g, 16) for g in tail.split(b":")] if tail else []
    fill = 8 - len(h) - len(t)
    if fill < 0 or (fill and not sep) or (sep and not fill):
        raise ValueError("bad IPv6 address")
    out = b""
    for g in h + [0] * fill + t:
        out += struct.pack(">H", g)
    return out


def _address(value, key):
    """(ip_bytes, port) of a (XOR-)MAPPED-ADDRESS value; key is None or cookie+txid."""
    if len(value) < 4:
        raise ParseError(400, "STUN address attribute too short")
    fam = value[1]
    size = 4 if fam == 1 else 16 if fam == 2 else 0
    if not size:
        raise ParseError(400, "STUN unknown address family %d" % fam)
    if len(value) != 4 + size:
        raise ParseError(400, "STUN address length %d for family %d" % (len(value), fam))
    port = (value[2] << 8) | value[3]
    raw = value[4:]
    if key is not None:
        port ^= 0x2112
        raw = bytes([raw[i] ^ key[i] for i in range(size)])
    return _ip_text(raw), port


def parse_response(data, txid):
    """(ip_bytes, port) from a Binding success response to transaction `txid`.

    XOR-MAPPED-ADDRESS wins, MAPPED-ADDRESS is the fallback (RFC 3489 servers). Raises
    ParseError for anything that is not a well-formed success response to txid: not STUN,
    wrong txid, an error response (status = its ERROR-CODE, reason names it), an unknown
    comprehension-required attribute (§7.3.3), bad lengths, a FINGERPRINT that does not
    verify, or no address at all.
    """
    if not is_stun(data):
        raise ParseError(400, "not a STUN message")
    if data[8:20] != txid:
        raise ParseError(400, "STUN response for another transaction")
    mtype = (data[0] << 8) | data[1]
    if mtype != BINDING_SUCCESS and mtype != BINDING_ERROR:
        raise ParseError(400, "STUN message type 0x%04x is not a Binding response" % mtype)
    n = len(data)
    off = 20
    xor = mapped = err = None
    ignore = False  # after MESSAGE-INTEGRITY only FINGERPRINT counts
    while off < n:
        if off + 4 > n:
            raise ParseError(400, "STUN attribute header truncated")
        atype = (data[off] << 8) | data[off + 1]
        alen = (data[off + 2] << 8) | data[off + 3]
        end = off + 4 + alen
        nxt = end + (-alen & 3)
        if nxt > n:
            raise ParseError(400, "STUN attribute 0x%04x truncated" % atype)
        value = data[off + 4 : end]
        if atype == FINGERPRINT:
            if nxt != n or alen != 4:
                raise ParseError(400, "STUN FINGERPRINT not last or bad length")
            want = (crc32(data[:off]) ^ _FP_XOR) & 0xFFFFFFFF
            if struct.unpack(">I", value)[0] != want:
                raise ParseError(400, "STUN FINGERPRINT mismatch")
        elif ignore:
            pass
        elif atype == XOR_MAPPED_ADDRESS:
            if xor is None:
                xor = _address(value, _COOKIE_B + txid)
        elif atype == MAPPED_ADDRESS:
            if mapped is None:
                mapped = _address(value, None)
        elif atype == ERROR_CODE:
            if alen < 4:
                raise ParseError(400, "STUN ERROR-CODE too short")
            err = (value[2] & 7) * 100 + value[3], value[4:]
        elif atype == MESSAGE_INTEGRITY:
            ignore = True
        elif atype < 0x8000:
            for code, _ in ATTRS:
                if code == atype:
                    break
            else:
                raise ParseError(400, "STUN unknown comprehension-required 0x%04x" % atype)
        off = nxt
    if mtype == BINDING_ERROR:
        code, phrase = err if err else (0, b"")
        text = "".join([chr(c) if 31 < c < 127 else "?" for c in phrase[:64]])
        raise ParseError(code if 299 < code < 700 else 400, "STUN error %d %s" % (code, text))
    if xor is not None:
        return xor
    if mapped is not None:
        return mapped
    raise ParseError(400, "STUN Binding response without a mapped address")
