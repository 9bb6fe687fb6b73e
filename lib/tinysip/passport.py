"""RFC 8224 Identity header values carrying an RFC 8225 PASSporT signed with ES256: parse, verify.

Owns: the Identity header value grammar (RFC 8224 §4: ``jws;info=<uri>;alg=..;ppt=..``),
base64url without padding (RFC 7515 §2, done by hand: MicroPython's binascii has only
standard base64 and skips characters it does not know), the JOSE header checks for ES256
and the signature over the transmitted ``header.payload`` text (RFC 7515 §5.2).

Must not: fetch or validate the signer's certificate (``info``/``x5u``: the caller does that
and passes the public point), judge claims against the SIP message (orig/dest against
From/To, ``iat`` freshness: the caller has the message and the clock), or rebuild the
payload of the compact ``header..signature`` form (RFC 8225 §7, needs the message too).
Nothing here re-serialises JSON: the signature covers the base64url text as received.

Input is the header value as bytes (str is accepted and encoded). A malformed value is the
sender's fault: ParseError(438 Invalid Identity Header, reason) from the parsers, and
``verify`` turns every failure into ``(False, reason)``.
"""

import json
from binascii import a2b_base64

from tinysip import ecdsa
from tinysip.compat import const
from tinysip.errors import ParseError

# Names cost the phone (MicroPython interns every global, argument and short str literal of a
# loaded module, for good): one-use steps are written in their caller, the reasons are whole
# sentences (a str over 10 characters is not interned), the status is a const, the one
# helper reuses a name the phone has interned anyway (config's `_str`) and int.from_bytes
# takes its default byte order, big-endian.
_INVALID = const(438)  # RFC 8224: 438 Invalid Identity Header
# A PASSporT JOSE header is alg, typ, ppt and an x5u URL: a few hundred characters. It is
# decoded before the signature is checked, so cap what an unauthenticated peer can make us
# parse.
_MAX_HEADER = const(2048)


def _str(b):
    """Printable text of peer bytes for a reason string (never raises on bad UTF-8)."""
    try:
        return b.decode()
    except MemoryError:  # the heap ran out: no verdict on the data
        raise
    except Exception:  # noqa: BLE001
        return repr(b)


def b64url_decode(data):
    """Bytes from unpadded base64url text (RFC 4648 §5, as JWS uses it: no '=', no spaces).

    Raises ParseError(438, ...) on any character outside ``A-Za-z0-9-_``, an impossible
    length (one character left over) or non-zero bits after the last byte."""
    data = data.encode() if isinstance(data, str) else bytes(data)
    for c in data:
        if not (
            0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A or 0x30 <= c <= 0x39 or c == 0x2D or c == 0x5F
        ):
            raise ParseError(_INVALID, "base64url: invalid character %r" % chr(c))
    tail = len(data) % 4
    if tail == 1:
        raise ParseError(_INVALID, "base64url: impossible length %d" % len(data))
    if tail:
        # RFC 4648 §3.5: the bits after the last whole byte must be zero, so that one byte
        # string has exactly one encoding (no two texts for the same signature)
        c = data[-1]
        if 0x41 <= c <= 0x5A:
            v = c - 0x41
        elif c >= 0x61:
            v = c - 0x61 + 26
        elif c <= 0x39:
            v = 62 if c == 0x2D else c - 0x30 + 52
        else:
            v = 63  # "_"
        if v & (0x0F if tail == 2 else 0x03):
            raise ParseError(_INVALID, "base64url: non-zero padding bits")
    std = data.replace(b"-", b"+").replace(b"_", b"/") + b"=" * (-len(data) % 4)
    try:
        return a2b_base64(std)
    except ValueError:  # not expected after the checks above; still the sender's data
        raise ParseError(_INVALID, "base64url: undecodable")


def raw_rs(data):
    """(r, s) from a JOSE ES256 signature: r and s as 32-byte big-endian each (RFC 7518 §3.4).
    Raises ParseError(438, ...) if it is not exactly 64 bytes."""
    if len(data) != 64:
        raise ParseError(_INVALID, "ES256 signature is %d bytes, not 64" % len(data))
    return int.from_bytes(bytes(data[:32])), int.from_bytes(bytes(data[32:]))


def parse_identity(value):
    """(header_b64, payload_b64, sig_b64, params) from an Identity header value.

    ``value`` is ``header.payload.signature;info=<uri>[;alg=..][;ppt=..][;other]`` (RFC 8224
    §4). The three JWS parts are returned as the base64url bytes received (payload is
    ``b""`` for the compact ``header..signature`` form); ``params`` maps lowercase parameter
    names (bytes) to values (bytes, ``info`` without its angle brackets, quoted values without
    quotes; None for a parameter without ``=``). ``info`` is required. Raises
    ParseError(438, ...) naming the fault.
    """
    v = (value.encode() if isinstance(value, str) else bytes(value)).strip()
    jws, sep, rest = v.partition(b";")
    jws = jws.strip()
    if not jws:
        raise ParseError(_INVALID, "Identity: empty value")
    parts = jws.split(b".")
    if len(parts) != 3:
        raise ParseError(_INVALID, "Identity: JWS has %d parts, not 3" % len(parts))
    header, payload, sig = parts
    if not header or not sig:
        raise ParseError(_INVALID, "Identity: JWS header or signature is empty")
    # the parameters: split at the semicolons outside <...> and "..."
    pieces = []
    start = 0
    angle = quote = False
    for i in range(len(rest)):
        c = rest[i]
        if quote:
            if c == 0x22:
                quote = False
        elif angle:
            if c == 0x3E:
                angle = False
        elif c == 0x22:
            quote = True
        elif c == 0x3C:
            angle = True
        elif c == 0x3B:
            pieces.append(rest[start:i])
            start = i + 1
    if quote:
        raise ParseError(_INVALID, 'Identity: unterminated " in parameters')
    if angle:
        raise ParseError(_INVALID, "Identity: unterminated < in parameters")
    pieces.append(rest[start:])
    params = {}
    for p in pieces if sep else ():
        name, eq, val = p.partition(b"=")
        name = name.strip().lower()
        if not name:
            raise ParseError(_INVALID, "Identity: empty parameter")
        if name in params:
            raise ParseError(_INVALID, "Identity: parameter %s repeated" % _str(name))
        if not eq:
            params[name] = None
            continue
        val = val.strip()
        if val[:1] == b'"':
            if len(val) < 2 or val[-1:] != b'"':
                raise ParseError(_INVALID, "Identity: bad quoted value for %s" % _str(name))
            val = val[1:-1]
        elif name == b"info":
            # ident-info-uri = LAQUOT absoluteURI RAQUOT
            if len(val) < 3 or val[:1] != b"<" or val[-1:] != b">":
                raise ParseError(_INVALID, "Identity: info is not an <absoluteURI>")
            val = val[1:-1]
        params[name] = val
    if not params.get(b"info"):
        raise ParseError(_INVALID, "Identity: no info parameter")
    return header, payload, sig, params


def verify(value, key):
    """(True, claims) if the Identity header ``value`` carries an ES256 PASSporT that
    ``key`` (the signer's uncompressed 65-byte P-256 point) signed; else (False, reason).

    Checks, in order: the header value parses, the JOSE header says ES256 (and agrees with
    the alg/ppt parameters), the 64-byte r||s signature verifies over the transmitted
    ``header.payload``, and only then decodes the claims (a dict with ``iat``, ``orig``,
    ``dest`` and whatever else the signer put in). The compact form without payload is
    reported as unsupported. Never raises for malformed input.
    """
    try:
        h, p, s, params = parse_identity(value)
        if ecdsa.ec_point(key) is None:
            # the caller's certificate handling gave us something that is not a P-256 key
            return False, "signer key is not an uncompressed P-256 point"
        if len(h) > _MAX_HEADER:
            return False, "PASSporT header longer than %d characters" % _MAX_HEADER
        raw = b64url_decode(h)
        try:
            hdr = json.loads(raw)
        except MemoryError:  # the heap ran out: no verdict on the data
            raise
        except Exception:  # noqa: BLE001 - ValueError, UnicodeError, deep nesting: the sender's
            return False, "PASSporT header is not valid JSON"
        if not isinstance(hdr, dict):
            return False, "PASSporT header is not a JSON object"
        # the JOSE header and the Identity parameters must agree on ES256
        alg = hdr.get("alg")
        if alg != "ES256":
            return False, "PASSporT alg is %r, not ES256" % (alg,)
        v = params.get(b"alg")
        if v is not None and v != b"ES256":
            return False, "Identity alg=%s does not match the PASSporT alg ES256" % _str(v)
        v = hdr.get("typ")
        # RFC 8225: typ is "passport" (tolerated when absent)
        if v is not None and v != "passport":
            return False, "PASSporT typ is %r, not passport" % (v,)
        # RFC 8224 §4: the ppt parameter carries the PASSporT extension in use; they must agree
        v = hdr.get("ppt")
        ppt = params.get(b"ppt")
        if v is not None and not isinstance(v, str):
            return False, "PASSporT ppt is not a string"
        if v is not None:
            v = v.encode()
        if (v is None) != (ppt is None) or v != ppt:
            return False, "Identity ppt=%s does not match the PASSporT ppt %s" % (
                _str(b"(none)" if ppt is None else ppt), _str(b"(none)" if v is None else v))
        if not p:
            return False, "compact PASSporT (no payload) is not supported"
        raw = b64url_decode(p)  # syntax only; the bytes are not looked at before the signature
        r, sv = raw_rs(b64url_decode(s))
        if not ecdsa.ecdsa_p256_sha256(key, h + b"." + p, r, sv):
            return False, "ES256 signature does not verify"
        try:
            claims = json.loads(raw)
        except MemoryError:  # the heap ran out: no verdict on the data
            raise
        except Exception:  # noqa: BLE001 - as for the header
            return False, "PASSporT payload is not valid JSON"
        if not isinstance(claims, dict):
            return False, "PASSporT payload is not a JSON object"
        # the RFC 8225 base claims (iat, orig, dest) must have the right JSON types
        v = claims.get("iat")
        if not isinstance(v, int) or isinstance(v, bool):
            return False, "PASSporT iat is missing or not an integer"
        if not isinstance(claims.get("orig"), dict):
            return False, "PASSporT orig is missing or not an object"
        if not isinstance(claims.get("dest"), dict):
            return False, "PASSporT dest is missing or not an object"
        return True, claims
    except ParseError as e:
        return False, e.reason
    except MemoryError:  # the heap ran out: no verdict on the data
        raise
    except Exception as e:  # noqa: BLE001 - a peer's header must never take the UA down
        return False, "malformed Identity header (%s)" % type(e).__name__
