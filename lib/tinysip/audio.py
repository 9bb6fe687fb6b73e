"""RFC 3264 offer/answer for a voice call's one audio stream, bytes end to end.

Owns: the SDP a voice call offers (our codecs in config order, RFC 4733 telephone-event,
ptime, SDES keys per `media.srtp`), the answer to a peer's offer, and reading the answer to
ours; what the media engine needs comes out as one `params` list. It does not open sockets
or touch keys beyond choosing them (tinysip.srtp uses them), and it does not parse SDP lines
(tinysip.sdp does) or crypto attributes (tinysip.sdes does).

Rules (RFC 3264 §5, §6, §8.4; RFC 3551; RFC 4568; RFC 4733):
- Codecs: PCMU (static payload type 0) and PCMA (8) at 8000 Hz, offered in `codecs` order;
  the answer takes the first format of the offer that we support (the offerer's
  preference, §6.1), and keeps only it and telephone-event. A dynamic type with an rtpmap
  for PCMU/PCMA is accepted too.
- telephone-event/8000 (RFC 4733 §7.1.1, events 0-15) is offered as payload type 101 and
  answered with the offer's number for it.
- ptime: we offer `ptime` (20 ms by default); we send at the peer's a=ptime when it gives one
  between 10 and 60 ms in steps of 10, else at ours.
- Direction (hold, §8.4): the answer mirrors the offer (sendonly -> recvonly, recvonly ->
  sendonly, inactive -> inactive); `params[9]` is our direction as bytes.
- SRTP (`srtp`): 2 required: offer RTP/SAVP with a=crypto, refuse (488) an offer without
  usable keys; 1 optional: offer RTP/AVP with a=crypto (best effort) and accept either in the
  answer; 0 off: plain RTP/AVP, an RTP/SAVP offer is refused. One key per direction: ours
  (`key`, 30 random bytes: 16 of master key, 14 of salt) protects what we send, the peer's
  what it sends (RFC 4568 §6.1).

params = [pt, codec b"PCMU"/b"PCMA", te_pt (-1: none), ptime ms, peer ip bytes, peer port,
          suite (0 none, 80 or 32: the HMAC tag bits), our key (bytes or None),
          the peer's key (bytes or None), our direction b"sendrecv"/b"sendonly"/...]
"""
from tinysip.compat import const
from tinysip.errors import ParseError
from tinysip.sdp import write

_TE_PT = const(101)  # the payload type we offer telephone-event as
# (direction offered, direction answered) pairs, in tinysip.sdp's order
_MIRROR = (b"sendrecv", b"sendrecv", b"sendonly", b"recvonly", b"recvonly", b"sendonly",
           b"inactive", b"inactive")


def _codec(m, f):
    """b"PCMU" / b"PCMA" for format f of m= section m, or None."""
    for pt, name, clock, raw in m[5]:
        if pt == f:
            if clock == 8000 and (name == b"pcmu" or name == b"pcma"):
                return name.upper()
            return None
    return b"PCMU" if f == b"0" else b"PCMA" if f == b"8" else None


def _te(m):
    """The payload type (bytes) of telephone-event/8000 in m, or None."""
    for pt, name, clock, raw in m[5]:
        if name == b"telephone-event" and clock == 8000:
            return pt
    return None


def _ptime(m, ours):
    p = m[10]
    return p if 10 <= p <= 60 and p % 10 == 0 else ours


def _keys(m, savp, srtp):
    """(suite, the peer's key, its crypto line's tag and suite name) from m's a=crypto, or
    (0, None, None) when plain RTP is used. Raises ParseError(488) per `srtp`."""
    from tinysip.sdes import choose

    got = choose(m[9]) if m[9] else None
    if got is None:
        if savp:
            raise ParseError(488, "offer: RTP/SAVP without an a=crypto we support "
                                  "(AES_CM_128_HMAC_SHA1_80 or _32)")
        if srtp == 2:
            raise ParseError(488, "offer: plain RTP, and media.srtp is required")
        return 0, None, None
    if srtp == 0:
        if savp:
            raise ParseError(488, "offer: RTP/SAVP, and media.srtp is off")
        return 0, None, None
    return got[2], got[3], got


def offer(ip, port, sess_id, codecs, srtp, key, ptime=20, direction=b"sendrecv"):
    """The SDP offer of a voice call from ip (bytes):port; codecs: [b"PCMU", b"PCMA"] in our
    order; srtp 0/1/2 (off/optional/required); key: our 30-byte SDES key (None with srtp 0)."""
    fmts = []
    attrs = []
    for c in codecs:
        pt = b"0" if c == b"PCMU" else b"8"
        fmts.append(pt)
        attrs.append(b"rtpmap:%s %s/8000" % (pt, c))
    fmts.append(b"%d" % _TE_PT)
    attrs.append(b"rtpmap:%d telephone-event/8000" % _TE_PT)
    attrs.append(b"fmtp:%d 0-15" % _TE_PT)
    attrs.append(b"ptime:%d" % ptime)
    if srtp:
        from tinysip.sdes import line

        attrs.append(line(1, 80, key))
        attrs.append(line(2, 32, key))
    attrs.append(direction)
    return write(ip, sess_id, 1, [(b"audio", port, b"RTP/SAVP" if srtp == 2 else b"RTP/AVP",
                                   fmts, attrs)])


def answer(offer_sdp, ip, port, sess_id, codecs, srtp, key, ptime=20, hold=False):
    """Answer a parsed offer (tinysip.sdp.parse): (sdp bytes, params). The first audio
    stream we can take is answered, every other m= line rejected (port 0). hold: we put the
    call on hold (sendonly, or inactive when the offer is recvonly/inactive).
    Raises ParseError(488, reason) when no stream is acceptable."""
    sections = []
    params = None
    why = "offer: no audio stream"
    for m in offer_sdp[2]:
        if params is not None or m[0] != b"audio" or m[1] == 0 or (
                m[2] != b"RTP/AVP" and m[2] != b"RTP/SAVP"):
            sections.append((m[0], 0, m[2], m[3][:1], ()))
            continue
        try:
            p = _choose(m, codecs, srtp, ptime)
        except ParseError as e:
            why = e.reason
            sections.append((m[0], 0, m[2], m[3][:1], ()))
            continue
        i = _DIRS.index(m[8] or b"sendrecv")
        if hold:  # we keep sending only where the peer receives (§8.4)
            d = b"sendonly" if i == 0 or i == 2 else b"inactive"
        else:
            d = _MIRROR[2 * i + 1]
        p[7] = key if p[6] else None
        p[9] = d
        fmts = [b"%d" % p[0]]
        attrs = [b"rtpmap:%d %s/8000" % (p[0], p[1])]
        if p[2] >= 0:
            fmts.append(b"%d" % p[2])
            attrs.append(b"rtpmap:%d telephone-event/8000" % p[2])
            attrs.append(b"fmtp:%d 0-15" % p[2])
        attrs.append(b"ptime:%d" % p[3])
        if p[6]:
            from tinysip.sdes import line

            attrs.append(line(p[10][0], p[6], key))
        attrs.append(d)
        del p[10:]
        sections.append((m[0], port, m[2], fmts, attrs))
        params = p
    if params is None:
        raise ParseError(488, why)
    return write(ip, sess_id, 1, sections), params


_DIRS = (b"sendrecv", b"sendonly", b"recvonly", b"inactive")


def _choose(m, codecs, srtp, ptime):
    pt = None
    for f in m[3]:
        c = _codec(m, f)
        if c is not None and c in codecs:
            pt = f
            break
    if pt is None:
        raise ParseError(488, "offer: no codec we have (%s)" % b", ".join(codecs).decode())
    suite, peer_key, got = _keys(m, m[2] == b"RTP/SAVP", srtp)
    te = _te(m)
    return [int(pt), _codec(m, pt), -1 if te is None else int(te), _ptime(m, ptime), m[4][1],
            m[1], suite, None, peer_key, b"sendrecv", got]


def accept(answer_sdp, codecs, srtp, key, ptime=20):
    """params from the parsed answer (tinysip.sdp.parse) to an offer we made with these
    settings and our `key`. Raises ParseError(488, reason) when it is not acceptable (no
    codec we offered, plain RTP while srtp is required, no stream)."""
    for m in answer_sdp[2]:
        if m[0] != b"audio" or m[1] == 0:
            continue
        p = _choose(m, codecs, srtp, ptime)
        i = _DIRS.index(m[8] or b"sendrecv")
        p[9] = _MIRROR[2 * i + 1]  # the answer's direction seen from our side
        p[7] = key if p[6] else None
        del p[10:]
        return p
    raise ParseError(488, "answer: no audio stream accepted")
