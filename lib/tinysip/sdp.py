"""Lean SDP (RFC 8866) reader for offers and writer for answers, bytes end to end.

Owns: cutting an offer (or an answer) into its origin, session connection and media
sections, and writing one. It reads only what the loopback mirror and a voice call need
(c=, o=, m=, a=rtpmap, a=fmtp, a=ptime, a=crypto, the RFC 6849 loopback attributes, the
direction attributes) and skips every other line. It does not decide anything:
tinysip.loopback and tinysip.audio do.

parse(body) -> (origin, conn, medias)
  origin  the six o= fields, a list of bytes
  conn    the session-level c= as (addrtype, address), or None
  medias  one list per m= line, in order:
    [0] media b"audio"    [1] port int (0: rejected)    [2] proto b"RTP/AVP"
    [3] formats, list of bytes in m= order
    [4] (addrtype, address) of its c=, else the session's (never None)
    [5] rtpmaps, list of (pt bytes, encoding name lowercased, clock int, raw value)
    [6] loopback types, list of bytes (every a=loopback token)
    [7] role b"loopback-source" / b"loopback-mirror" / None
    [8] direction b"sendrecv" / b"sendonly" / b"recvonly" / b"inactive" / None (default)
    [9] SDES keys: every a=crypto value (RFC 4568 §9.1), bytes, in order
    [10] a=ptime in ms (RFC 8866 §6.4), or 0 when absent
    [11] a=fmtp values (RFC 8866 §6.15), list of (pt bytes, parameters bytes)

Malformed SDP raises ParseError(400); SDP over the bounds below raises ParseError(488).
"""
from tinysip.compat import const
from tinysip.errors import ParseError, nth

_MAX_BODY = const(4096)
_MAX_LINES = const(100)
_MAX_MEDIA = const(4)
_MAX_FMTS = const(32)

# Error texts, one string (a module run in place from ROMFS holds each str constant as a
# ~40-byte heap object): line _S_X of it (errors.nth).
_T = (
    "offer: SDP over %d bytes or %d lines\noffer: SDP does not start with v=0\n"
    "offer: over %d m= lines\noffer: m= line without formats\noffer: bad m= port\n"
    "offer: over %d formats\noffer: bad RTP payload type\noffer: bad c= line\n"
    "offer: c= not IP4/IP6\noffer: bad o= line\noffer: bad a=rtpmap\n"
    "offer: over %d a=crypto lines\noffer: bad a=ptime\noffer: over %d a=fmtp lines\n"
    "offer: both loopback roles on one m= line\n"
    "offer: SDP line is not <type>=<value>\noffer: empty SDP body\n"
    "offer: SDP without o=\noffer: SDP without m= lines\noffer: m= line without c=\n"
    "offer: over %d a=loopback types"
)
_S_SIZE = const(0)
_S_V0 = const(1)
_S_NMEDIA = const(2)
_S_NOFMT = const(3)
_S_PORT = const(4)
_S_NFMT = const(5)
_S_PT = const(6)
_S_C = const(7)
_S_CTYPE = const(8)
_S_O = const(9)
_S_RTPMAP = const(10)
_S_NCRYPTO = const(11)
_S_PTIME = const(12)
_S_NFMTP = const(13)
_S_ROLES = const(14)
_S_LINE = const(15)
_S_EMPTY = const(16)
_S_NO_O = const(17)
_S_NO_M = const(18)
_S_NO_C = const(19)
_S_NTYPES = const(20)


def _bad(k, status=400, x=None):
    """Raise ParseError(status) with line k of _T (formatted with x when given)."""
    m = nth(_T, k)
    raise ParseError(status, m if x is None else m % x)


# The two helpers and their arguments have names the phone has interned already (framing's
# _scan, register's _uint): a new name costs a qstr for good (host_tests/test_names.py).
def _scan(b, i, e, k):
    """From i, the first index before e whose byte is white space (k False) or is not (k
    True), else e: a line's fields found in place, cut where bytes.split() cuts them."""
    while i < e:
        c = b[i]
        if (c == 32 or 8 < c < 14) != k:
            return i
        i += 1
    return e


def _uint(b, i, e, n):
    """b[i:e] as a number of at most n digits; -1 when it is empty or not all digits, -2
    when it is digits but longer (n=0: only tells digits from not). Read in place."""
    v = -1 if i >= e else 0
    for k in range(i, e):
        c = b[k] - 48
        if not 0 <= c <= 9:
            return -1
        v = v * 10 + c if e - i <= n else -2  # no big int for a long one
    return v


def parse(body):
    """Parse an SDP offer (bytes); see the module docstring for the result.

    Heap: the body is walked by offsets (a slice costs a slice object as well as the bytes
    on MicroPython, 48 B for a short one on 32 bits): no line, field or attribute name is
    cut out; only the values returned are sliced, and the names returned (directions,
    roles, IP4/IP6) are this module's constants."""
    n = len(body)
    if n > _MAX_BODY or body.count(b"\n") > _MAX_LINES:
        _bad(_S_SIZE, 488, (_MAX_BODY, _MAX_LINES))
    origin = conn = sdir = m = None
    medias = []
    first = True
    j = -1
    while j < n:  # body[i:e]: one line, less its LF and a CR before it
        i = j + 1
        j = body.find(b"\n", i)
        if j < 0:
            j = n
        e = j - 1 if j > i and body[j - 1] == 13 else j
        if e == i:
            continue
        if first:  # RFC 8866 §5.1: v=0 comes first
            if e - i != 3 or not body.startswith(b"v=0", i):
                _bad(_S_V0)
            first = False
            continue
        k = body[i] if e - i > 1 and body[i + 1] == 61 else 0  # the type letter of "<type>="
        i += 2  # the value
        if k == 109:  # m=<media> <port>[/<count>] <proto> <fmt> ... (§5.14)
            if len(medias) == _MAX_MEDIA:
                _bad(_S_NMEDIA, 488, _MAX_MEDIA)
            i = _scan(body, i, e, True)  # media [i, a), port [p, q), proto [r, s)
            a = _scan(body, i, e, False)
            p = _scan(body, a, e, True)
            q = _scan(body, p, e, False)
            r = _scan(body, q, e, True)
            s = _scan(body, r, e, False)
            x = _scan(body, s, e, True)  # the first format
            if x == e:
                _bad(_S_NOFMT)
            c = body.find(b"/", p, q)
            p = _uint(body, p, q if c < 0 else c, 5)
            if not 0 <= p <= 65535:
                _bad(_S_PORT)
            c = 0
            y = x
            while y < e:  # count the formats before cutting any out
                y = _scan(body, _scan(body, y, e, False), e, True)
                c += 1
            if c > _MAX_FMTS:
                _bad(_S_NFMT, 488, _MAX_FMTS)
            q = body.startswith(b"RTP/", r)
            fmts = []
            while x < e:
                y = _scan(body, x, e, False)
                if q and not 0 <= _uint(body, x, y, 3) <= 127:
                    _bad(_S_PT)
                fmts.append(body[x:y])
                x = _scan(body, y, e, True)
            m = [body[i:a], p, body[r:s], fmts, None, [], [], None, sdir, [], 0, []]
            medias.append(m)
        elif k == 99:  # c=IN IP4|IP6 <address>[/ttl...] (§5.7)
            i = _scan(body, i, e, True)  # IN [i, a), address type [p, q), address [r, s)
            a = _scan(body, i, e, False)
            p = _scan(body, a, e, True)
            q = _scan(body, p, e, False)
            r = _scan(body, q, e, True)
            s = _scan(body, r, e, False)
            if r == e or _scan(body, s, e, True) < e or a - i != 2 or not body.startswith(
                    b"IN", i):
                _bad(_S_C)
            t = b"IP4" if body.startswith(b"IP4", p) else b"IP6"
            if q - p != 3 or not body.startswith(t, p):
                _bad(_S_CTYPE, 488)
            c = body.find(b"/", r, s)
            c = (t, body[r:s if c < 0 else c])
            if m is None:
                conn = c
            else:
                m[4] = c
        elif k == 111:  # o=<user> <sess-id> <sess-version> IN <addrtype> <addr> (§5.2)
            origin = []
            i = _scan(body, i, e, True)
            while i < e and len(origin) < 7:
                a = _scan(body, i, e, False)
                origin.append(body[i:a])
                i = _scan(body, a, e, True)
            if len(origin) != 6:
                _bad(_S_O)
        elif k == 97:  # a=<name>[:<value>]: the name [i, c), the value [w, e)
            c = body.find(b":", i, e)
            w = c + 1
            if c < 0:
                c = w = e
            if c - i == 8:
                for d in (b"sendrecv", b"sendonly", b"recvonly", b"inactive"):
                    if body.startswith(d, i):  # §6.7: the media-level one wins over the
                        if m is None:  # session-level one
                            sdir = d
                        else:
                            m[8] = d
                        break
                else:
                    d = None
                if d is not None:
                    continue
            if m is None:
                continue  # the other attributes we read are media-level only
            t = e  # the value's end, less white space (as strip())
            while t > w and (body[t - 1] == 32 or 8 < body[t - 1] < 14):
                t -= 1
            if c - i == 6 and body.startswith(b"rtpmap", i):
                # a=rtpmap:<pt> <name>/<clock>[/<params>] (§6.6)
                s = body.find(b" ", w, e)  # pt [w, s), name [a, p), clock [p + 1, q)
                if s < 0:
                    s = e
                a = _scan(body, s + 1, e, True)
                p = body.find(b"/", a, t)
                q = body.find(b"/", p + 1, t)
                q = _uint(body, p + 1, t if q < 0 else q, 9)
                if _uint(body, w, s, 0) == -1 or p <= a or q < 0:
                    _bad(_S_RTPMAP)
                a = body[a:p]
                m[5].append((body[w:s], a if a.islower() else a.lower(), q, body[w:e]))
            elif c - i == 6 and body.startswith(b"crypto", i):  # RFC 4568 §9.1: read by
                if len(m[9]) == _MAX_FMTS:  # tinysip.sdes
                    _bad(_S_NCRYPTO, 488, _MAX_FMTS)
                m[9].append(body[w:e])
            elif c - i == 5 and body.startswith(b"ptime", i):  # §6.4: packet time in ms
                w = _scan(body, w, e, True)  # (a fraction is cut)
                p = body.find(b".", w, t)
                p = _uint(body, w, t if p < 0 else p, 4)
                if p < 0:
                    _bad(_S_PTIME)
                m[10] = p
            elif c - i == 4 and body.startswith(b"fmtp", i):  # §6.15: a=fmtp:<format>
                s = body.find(b" ", w, e)  # <parameters>
                if s < 0:
                    s = e
                if len(m[11]) == _MAX_FMTS:
                    _bad(_S_NFMTP, 488, _MAX_FMTS)
                m[11].append((body[w:s], body[_scan(body, s + 1, e, True):t]))
            elif c - i == 8 and body.startswith(b"loopback", i):  # RFC 6849 §4.1: one or
                w = _scan(body, w, e, True)  # more types
                while w < e:
                    if len(m[6]) == _MAX_FMTS:
                        _bad(_S_NTYPES, 488, _MAX_FMTS)
                    a = _scan(body, w, e, False)
                    m[6].append(body[w:a])
                    w = _scan(body, a, e, True)
            elif c - i == 15 and body.startswith(b"loopback-", i):  # RFC 6849 §4.2
                d = b"loopback-source"
                if not body.startswith(d, i):
                    d = b"loopback-mirror"
                    if not body.startswith(d, i):
                        continue
                if m[7] is not None and m[7] != d:
                    _bad(_S_ROLES)
                m[7] = d
        elif not 97 <= k | 32 <= 122:
            _bad(_S_LINE)
    if first:
        _bad(_S_EMPTY)
    if origin is None:
        _bad(_S_NO_O)
    if not medias:
        _bad(_S_NO_M, 488)
    for m in medias:
        if m[4] is None:
            if conn is None:  # §5.7: c= in the session or in every media section
                _bad(_S_NO_C)
            m[4] = conn
    return origin, conn, medias


def write(host, tag, version, media):
    """SDP bytes for an answer from us at `host` (an IP address, bytes, IPv4 or IPv6).

    media: list of (media, port, proto, formats, attributes), attributes being the a=
    values without "a=" (b"rtpmap:96 encaprtp/8000"), each bytes or a tuple of its pieces
    (b"rtpmap:", b"96 encaprtp/8000"). tag, version: the o= line's session id and version
    (ints). The answer is joined once from pieces: no line is built on its own. (The
    parameters are named as other modules' names: each distinct name is interned.)
    """
    at = b"IP6" if b":" in host else b"IP4"
    out = [b"v=0\r\no=- %d %d IN %s %s\r\ns=-\r\nc=IN %s %s\r\nt=0 0\r\n" % (
        tag, version, at, host, at, host)]
    for m, port, proto, fmts, attrs in media:
        out.append(b"m=%s %d %s" % (m, port, proto))
        if not fmts:
            out.append(b" ")
        for f in fmts:
            out.append(b" ")
            out.append(f)
        for a in attrs:
            out.append(b"\r\na=")
            if type(a) is tuple:
                out.extend(a)
            else:
                out.append(a)
        out.append(b"\r\n")
    return b"".join(out)
