"""RFC 6849 media loopback, mirror role: the offer/answer decision.

Owns: choosing which offered stream we mirror and how, and writing the answer. The phone is
only ever the mirror (the offerer is the loopback source); it never originates test media.
It does not touch packets (tinysip.rtp) or sockets (tinysip.io.media).

Rules implemented (section numbers of RFC 6849 unless noted):
- §4.2: we mirror only a stream whose offer carries a=loopback-source. An offer without a
  role, or with a=loopback-mirror (asking us to be the source), is not served.
- §4.1: the offer may list several loopback types (one a=loopback line with several tokens,
  or several lines); the answer carries exactly one, the first offered one we can serve,
  plus a=loopback-mirror (§5.2).
- §4.1.1 / §7: rtp-pkt-loopback needs an encaprtp (§7.1) or rtploopback (§7.2) payload
  type mapped by a=rtpmap; we take the first such format in m= order (RFC 3264 §6.1: the
  offerer's preference) and answer its rate unchanged (the source sets it, the mirror
  reflects it). We never decode in packet mode, so the offer's other formats stay in the
  answer as what the source may send us.
- §4.1.2: rtp-media-loopback needs a codec we can decode and re-encode: PCMU or PCMA at
  8000 Hz (static 0 / 8, or mapped by a=rtpmap). G.711 decode+encode is the identity, so
  the media mirror returns the payload as it came. The answer offers exactly that codec.
- A mirror must both receive and send: a stream whose effective direction (media-level,
  else session-level, RFC 8866 §6.7) is not sendrecv is not served.
- Only audio over RTP/AVP: no SRTP (RTP/SAVP), no video or text on a phone.
- Refusal: every m= line we do not mirror is answered rejected, port 0 (RFC 3264 §6); we
  mirror at most one stream (one RTP port). When no stream can be mirrored the whole offer
  is refused: ParseError(488, reason), which the UA sends as 488 Not Acceptable Here.
Not done here: RTCP (§9: the mirror should report on what it receives and sends), SRTP
(§8), the source role, and deciding who may start a loopback call (§12: UA policy).
(verify) The stored copy of RFC 6849 we could read showed its first page only: the section
numbers and rules above are from the RFC as we recall it and from docs/specs §7.
"""
from tinysip.compat import const
from tinysip.errors import ParseError, nth
from tinysip.sdp import write

# Mirror modes; the same numbers as tinysip.rtp.ENCAP / DIRECT / MEDIA.
_ENCAP = const(1)
_DIRECT = const(2)
_MEDIA = const(3)


# Why an offered stream is not mirrored, one string (a module run in place from ROMFS holds
# each str constant as a ~40-byte heap object): _pick returns the line (errors.nth).
_WHY = ("stream already rejected\nloopback only for audio RTP/AVP\nstream without a=loopback\n"
        "loopback without a=loopback-source\nloopback stream not sendrecv\n"
        "no loopback type we can mirror\nonly one stream is mirrored")


def _pick(m):
    """(type, mode, pt, clock, formats, attributes) to mirror m= section m, or the index of
    the reason in _WHY."""
    if m[1] == 0:
        return 0  # stream already rejected
    if m[0] != b"audio" or m[2] != b"RTP/AVP":
        return 1  # loopback only for audio RTP/AVP
    if not m[6]:
        return 2  # stream without a=loopback
    if m[7] != b"loopback-source":
        return 3  # loopback without a=loopback-source
    if m[8] is not None and m[8] != b"sendrecv":
        return 4  # loopback stream not sendrecv
    fmts = m[3]
    maps = m[5]
    for t in m[6]:
        for f in fmts:
            r = None
            for pt, name, clock, raw in maps:
                if pt == f:
                    r = (name, clock, (b"rtpmap:", raw))  # an a= value in pieces (sdp.write)
            if t == b"rtp-pkt-loopback":
                if r is None or not r[1] or (r[0] != b"encaprtp" and r[0] != b"rtploopback"):
                    continue
                mode = _ENCAP if r[0] == b"encaprtp" else _DIRECT
                out = [f]
                attrs = [r[2]]
                for g in fmts:  # what the source may send: every non-loopback format
                    for pt, name, clock, raw in maps:
                        if pt == g and (name == b"encaprtp" or name == b"rtploopback"):
                            break
                    else:
                        if g != f:
                            out.append(g)
                            for pt, name, clock, raw in maps:
                                if pt == g:
                                    attrs.append((b"rtpmap:", raw))
            elif t == b"rtp-media-loopback":
                if r is None:
                    if f != b"0" and f != b"8":
                        continue
                elif (r[0] != b"pcmu" and r[0] != b"pcma") or r[1] != 8000:
                    continue
                mode = _MEDIA
                out = [f]
                attrs = [] if r is None else [r[2]]
            else:
                break  # a type we do not know: try the next offered type
            attrs.append((b"loopback:", t))
            attrs.append(b"loopback-mirror")
            return t, mode, int(f), 8000 if r is None else r[1], out, attrs
    return 5  # no loopback type we can mirror


def answer(offer, ip, port, sess_id, sess_ver, body=True):
    """Answer a parsed offer (tinysip.sdp.parse) as the RFC 6849 mirror.

    body=False only decides: the sdp is None. port=None decides and keeps the answer
    unwritten: the sdp is the sections tinysip.sdp.write takes, the mirrored stream's a
    list whose port ([1], None) the caller sets (the UA decides when the INVITE arrives
    and writes the answer once the mirror's port is bound: neither a throwaway SDP
    between nor a second parse of the offer).
    ip: our media address (bytes); port: our RTP port; sess_id, sess_ver: o= numbers.
    Returns (sdp, params) with params = (type, mode, pt, clock, peer_ip, peer_port, ptime):
    type b"rtp-pkt-loopback" or b"rtp-media-loopback"; mode 1 encaprtp, 2 rtploopback,
    3 media (tinysip.rtp.ENCAP/DIRECT/MEDIA); pt the payload type we send; clock its rate;
    peer_ip (bytes) / peer_port where the offerer said it receives RTP; ptime the offer's
    a=ptime (ms, 0 when absent): the source sends what it wants back, so it bounds the
    packets the mirror takes (tinysip.rtp.Mirror's ptime).
    Raises ParseError(488, reason) when no offered stream can be mirrored.
    """
    sections = []
    params = None
    why = None
    for m in offer[2]:
        r = _pick(m) if params is None else 6  # only one stream is mirrored
        if type(r) is int:
            if why is None or m[6]:  # report the refusal of a loopback stream first
                why = r
            if body:
                sections.append((m[0], 0, m[2], (m[3][0],), ()))
            continue
        params = (r[0], r[1], r[2], r[3], m[4][1], m[1], m[10])
        if body:
            sections.append([m[0], port, m[2], r[4], r[5]])
    if params is None:  # why: the refusal's line in _WHY (no m= line at all: 5)
        raise ParseError(488, "offer: " + nth(_WHY, 5 if why is None else why))
    if port is None:
        return sections, params
    return (write(ip, sess_id, sess_ver, sections) if body else None), params
