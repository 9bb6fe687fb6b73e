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
_MSG = (
    "SDP over %d bytes or %d lines\nSDP does not start with v=0\nover %d m= lines\n"
    "m= line without formats\nbad m= port\nover %d formats\nbad RTP payload type\n"
    "bad c= line\nc= not IP4/IP6\nbad o= line\nbad a=rtpmap\nover %d a=crypto lines\n"
    "bad a=ptime\nover %d a=fmtp lines\nboth loopback roles on one m= line\n"
    "SDP line is not <type>=<value>\nempty SDP body\nSDP without o=\nSDP without m= lines\n"
    "m= line without c="
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


def _bad(k, status=400, x=None):
    """Raise ParseError(status) with line k of _MSG (formatted with x when given)."""
    m = nth(_MSG, k)
    raise ParseError(status, "offer: " + (m if x is None else m % x))


def parse(body):
    """Parse an SDP offer (bytes); see the module docstring for the result."""
    if len(body) > _MAX_BODY or body.count(b"\n") > _MAX_LINES:
        _bad(_S_SIZE, 488, (_MAX_BODY, _MAX_LINES))
    origin = conn = sdir = m = None
    medias = []
    first = True
    for line in body.split(b"\n"):
        e = len(line)  # the line ends before a CR (compared as ints: no slices per line)
        if e and line[e - 1] == 13:
            e -= 1
        if not e:
            continue
        if first:  # RFC 8866 §5.1: v=0 comes first
            if line[:e] != b"v=0":
                _bad(_S_V0)
            first = False
            continue
        k = line[0] if e > 1 and line[1] == 61 else 0  # the type letter of "<type>="
        v = line[2:e]
        if k == 109:  # m=<media> <port>[/<count>] <proto> <fmt> ... (§5.14)
            if len(medias) == _MAX_MEDIA:
                _bad(_S_NMEDIA, 488, _MAX_MEDIA)
            f = v.split()
            if len(f) < 4:
                _bad(_S_NOFMT)
            port = f[1].partition(b"/")[0]
            if not port.isdigit() or len(port) > 5 or int(port) > 65535:
                _bad(_S_PORT)
            fmts = f[3:]
            if len(fmts) > _MAX_FMTS:
                _bad(_S_NFMT, 488, _MAX_FMTS)
            if f[2].startswith(b"RTP/"):
                for p in fmts:
                    if not p.isdigit() or len(p) > 3 or int(p) > 127:
                        _bad(_S_PT)
            m = [f[0], int(port), f[2], fmts, None, [], [], None, sdir, [], 0, []]
            medias.append(m)
        elif k == 99:  # c=IN IP4|IP6 <address>[/ttl...] (§5.7)
            f = v.split()
            if len(f) != 3 or f[0] != b"IN":
                _bad(_S_C)
            if f[1] != b"IP4" and f[1] != b"IP6":
                _bad(_S_CTYPE, 488)
            c = (f[1], f[2].partition(b"/")[0])
            if m is None:
                conn = c
            else:
                m[4] = c
        elif k == 111:  # o=<user> <sess-id> <sess-version> IN <addrtype> <addr> (§5.2)
            origin = v.split()
            if len(origin) != 6:
                _bad(_S_O)
        elif k == 97:  # a=
            name, _, val = v.partition(b":")
            if name in (b"sendrecv", b"sendonly", b"recvonly", b"inactive"):  # §6.7: the
                # media-level one wins over the session-level one
                if m is None:
                    sdir = name
                else:
                    m[8] = name
            elif m is None:
                continue  # the other attributes we read are media-level only
            elif name == b"rtpmap":  # a=rtpmap:<pt> <name>/<clock>[/<params>] (§6.6)
                pt, _, enc = val.partition(b" ")
                enc = enc.strip()
                ename, _, rest = enc.partition(b"/")
                clock = rest.partition(b"/")[0]
                if not pt.isdigit() or not ename or not clock.isdigit() or len(clock) > 9:
                    _bad(_S_RTPMAP)
                m[5].append((pt, ename.lower(), int(clock), val))
            elif name == b"crypto":  # RFC 4568 §9.1: read by tinysip.sdes
                if len(m[9]) == _MAX_FMTS:
                    _bad(_S_NCRYPTO, 488, _MAX_FMTS)
                m[9].append(val)
            elif name == b"ptime":  # §6.4: packet time in ms (a fraction is cut)
                val = val.strip().partition(b".")[0]
                if not val.isdigit() or len(val) > 4:
                    _bad(_S_PTIME)
                m[10] = int(val)
            elif name == b"fmtp":  # §6.15: a=fmtp:<format> <parameters>
                pt, _, par = val.partition(b" ")
                if len(m[11]) == _MAX_FMTS:
                    _bad(_S_NFMTP, 488, _MAX_FMTS)
                m[11].append((pt, par.strip()))
            elif name == b"loopback":  # RFC 6849 §4.1: one or more types
                m[6].extend(val.split())
            elif name == b"loopback-source" or name == b"loopback-mirror":  # RFC 6849 §4.2
                if m[7] is not None and m[7] != name:
                    _bad(_S_ROLES)
                m[7] = name
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


def write(ip, sess_id, sess_ver, sections):
    """SDP bytes for an answer from us at `ip` (bytes, IPv4 or IPv6).

    sections: list of (media, port, proto, formats, attributes), attributes being the a=
    values without "a=" (b"rtpmap:96 encaprtp/8000"). sess_id, sess_ver: ints (o= line).
    """
    at = b"IP6" if b":" in ip else b"IP4"
    out = [b"v=0", b"o=- %d %d IN %s %s" % (sess_id, sess_ver, at, ip), b"s=-",
           b"c=IN %s %s" % (at, ip), b"t=0 0"]
    for media, port, proto, fmts, attrs in sections:
        out.append(b"m=%s %d %s %s" % (media, port, proto, b" ".join(fmts)))
        for a in attrs:
            out.append(b"a=" + a)
    out.append(b"")
    return b"\r\n".join(out)
