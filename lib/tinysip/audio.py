"""RFC 3264 offer/answer for a voice call's one audio stream, bytes end to end.

Owns: the SDP a voice call offers (our codecs in config order, RFC 4733 telephone-event,
ptime, SDES keys per `media.srtp`), the answer to a peer's offer, and reading the answer to
ours; what the media engine needs comes out as one `params` list. Within a running call
(RFC 3264 §8): the answer to a peer's new offer (reanswer; reinvite runs it for the UA, on
either side of the call) and our own new offer (reoffer, sent by tinysip.hold), both from
our last SDP (same address, port, session and key, the o= version one more), and update(),
which hands a call's new params to the driver and the app. It does not open sockets or
touch keys beyond choosing them (tinysip.srtp uses them), and it does not parse SDP lines
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
  sendonly, inactive -> inactive); `params[9]` is our direction as bytes. While we hold
  (`params[10]`, set by a re-INVITE) our answers stay sendonly/inactive; our hold offer
  is sendonly, inactive while the peer holds us.
- SRTP (`srtp`): 2 required: offer RTP/SAVP with a=crypto, refuse (488) an offer without
  usable keys; 1 optional: offer RTP/AVP with a=crypto (best effort) and accept either in the
  answer; 0 off: plain RTP/AVP, an RTP/SAVP offer is refused. One key per direction: ours
  (`key`, 30 random bytes: 16 of master key, 14 of salt) protects what we send, the peer's
  what it sends (RFC 4568 §6.1).

params = [pt, codec b"PCMU"/b"PCMA", te_pt (-1: none), ptime ms, peer ip bytes, peer port,
          suite (0 none, 80 or 32: the HMAC tag bits), our key (bytes or None),
          the peer's key (bytes or None), our direction b"sendrecv"/b"sendonly"/...,
          and after a re-INVITE: whether we hold]
"""
from tinysip.compat import const
from tinysip.errors import ParseError
from tinysip.sdp import write

_TE_PT = const(101)  # the payload type we offer telephone-event as


def _keys(m, secure, srtp):
    """(suite, the peer's key, its crypto line's tag and suite name) from m's a=crypto, or
    (0, None, None) when plain RTP is used. Raises ParseError(488) per `srtp`."""
    from tinysip.sdes import choose

    got = choose(m[9]) if m[9] else None
    if got is None:
        if secure:  # RTP/SAVP
            raise ParseError(488, "offer: RTP/SAVP without an a=crypto we support "
                                  "(AES_CM_128_HMAC_SHA1_80 or _32)")
        if srtp == 2:
            raise ParseError(488, "offer: plain RTP, and media.srtp is required")
        return 0, None, None
    if srtp == 0:
        if secure:
            raise ParseError(488, "offer: RTP/SAVP, and media.srtp is off")
        return 0, None, None
    return got[2], got[3], got


def offer(host, port, tag, codecs, srtp, key, ptime=20, direction=b"sendrecv"):
    """The SDP offer of a voice call from host (an IP address, bytes):port, o= session id
    tag; codecs: [b"PCMU", b"PCMA"] in our
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
    return write(host, tag, 1, [(b"audio", port, b"RTP/SAVP" if srtp == 2 else b"RTP/AVP",
                                   fmts, attrs)])


def answer(sdp, host, port, tag, codecs, srtp, key, ptime=20, hold=False, version=1):
    """Answer a parsed offer (tinysip.sdp.parse): (sdp bytes, params). The first audio
    stream we can take is answered, every other m= line rejected (port 0). hold: we put the
    call on hold (sendonly, or inactive when the offer is recvonly/inactive); version: the o=
    version (a re-answer's is one more than our last SDP's, RFC 3264 §8).
    Raises ParseError(488, reason) when no stream is acceptable."""
    sections = []
    params = None
    why = "offer: no audio stream"
    for m in sdp[2]:
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
        d = m[8] or b"sendrecv"
        if hold:  # we keep sending only where the peer receives (§8.4)
            d = b"sendonly" if d == b"sendrecv" or d == b"recvonly" else b"inactive"
        else:  # mirrored: its sendonly is our recvonly and the other way round
            d = b"recvonly" if d == b"sendonly" else b"sendonly" if d == b"recvonly" else d
        p[7] = key if p[6] else None
        p[9] = d
        sections.append((m[0], port, m[2]) + _media(p, p[10][0] if p[6] else 0, d))
        del p[10:]
        params = p
    if params is None:
        raise ParseError(488, why)
    return write(host, tag, version, sections), params


def _media(p, tag, d):
    """(formats, attributes) of an m= line for params p: its codec, telephone-event when
    it has one, ptime, our key (p[7]) under crypto tag `tag` when SRTP is on, direction d."""
    fmts = [b"%d" % p[0]]
    attrs = [b"rtpmap:%d %s/8000" % (p[0], p[1])]
    if p[2] >= 0:
        fmts.append(b"%d" % p[2])
        attrs.append(b"rtpmap:%d telephone-event/8000" % p[2])
        attrs.append(b"fmtp:%d 0-15" % p[2])
    attrs.append(b"ptime:%d" % p[3])
    if p[6]:
        from tinysip.sdes import line

        attrs.append(line(tag, p[6], p[7]))
    attrs.append(d)
    return fmts, attrs


def _choose(m, codecs, srtp, ptime):
    """params (see answer) for m= section m: its first format that is a codec of ours
    (PCMU, PCMA at 8000 Hz, by rtpmap or the static 0 and 8), its telephone-event/8000,
    its ptime when 10-60 in steps of 10 (else ours), its SDES key (_keys)."""
    pt = c = None
    for f in m[3]:
        c = b"PCMU" if f == b"0" else b"PCMA" if f == b"8" else None
        for x in m[5]:  # (pt, encoding name, clock, raw): an rtpmap overrides the static
            if x[0] == f:
                c = x[1].upper() if x[2] == 8000 and (x[1] == b"pcmu" or x[1] == b"pcma") \
                    else None
                break
        if c is not None and c in codecs:
            pt = f
            break
    if pt is None:
        raise ParseError(488, "offer: no codec we have (%s)" % b", ".join(codecs).decode())
    suite, peer_key, got = _keys(m, m[2] == b"RTP/SAVP", srtp)
    te = -1
    for x in m[5]:
        if x[1] == b"telephone-event" and x[2] == 8000:
            te = int(x[0])
            break
    t = m[10]
    return [int(pt), c, te, t if 10 <= t <= 60 and t % 10 == 0 else ptime, m[4][1], m[1],
            suite, None, peer_key, b"sendrecv", got]


def accept(sdp, codecs, srtp, key, ptime=20):
    """params from the parsed answer (tinysip.sdp.parse) to an offer we made with these
    settings and our `key`. Raises ParseError(488, reason) when it is not acceptable (no
    codec we offered, plain RTP while srtp is required, no stream)."""
    for m in sdp[2]:
        if m[0] != b"audio" or m[1] == 0:
            continue
        p = _choose(m, codecs, srtp, ptime)
        d = m[8] or b"sendrecv"  # the answer's direction seen from our side
        p[9] = b"recvonly" if d == b"sendonly" else b"sendonly" if d == b"recvonly" else d
        p[7] = key if p[6] else None
        del p[10:]
        return p
    raise ParseError(488, "answer: no audio stream accepted")


def _ours(ours):
    """(ip, RTP port, session id, next o= version, proto) of our last SDP `ours` (bytes)."""
    from tinysip.sdp import parse

    o, _, ms = parse(ours)
    for m in ms:
        if m[0] == b"audio" and m[1]:
            return m[4][1], m[1], int(o[1]), int(o[2]) + 1, m[2]
    raise ParseError(488, "our SDP has no audio stream")


def reoffer(p, ours, hold):
    """Our new offer in a running call with params p, ours our last SDP (bytes): hold
    (RFC 3264 §8.4: sendonly, inactive while the peer holds us) or resume (sendrecv), with
    the running codec, telephone-event, ptime and key, the same address, port, session and
    proto, the o= version one more."""
    ip, port, sid, ver, proto = _ours(ours)
    d = b"sendrecv"
    if hold:
        d = b"sendonly" if p[9] == d or p[9] == b"sendonly" else b"inactive"
    return write(ip, sid, ver, [(b"audio", port, proto) + _media(p, 1, d)])


def reanswer(sdp, p, ours, codecs, srtp):
    """Answer a peer's new offer (parsed) within a running call (RFC 3264 §8): p the call's
    params, ours our last SDP (bytes). The same address, port, session and key (so the SRTP
    contexts go on), the o= version one more; the running codec while the offer still has
    it; the direction mirrored, or kept on hold while we hold (p[10], §8.4). A call running
    plain RTP stays plain. (sdp bytes, params + [our hold]); ParseError(488) as answer()."""
    ip, port, sid, ver, _ = _ours(ours)
    hold = len(p) > 10 and p[10]
    if p[7] is None:
        srtp = 0
    try:
        body, q = answer(sdp, ip, port, sid, [p[1]], srtp, p[7], p[3], hold, ver)
    except ParseError:
        body, q = answer(sdp, ip, port, sid, codecs, srtp, p[7], p[3], hold, ver)
    q.append(hold)
    return body, q


def reinvite(ua, msg, now):
    """A re-INVITE `msg` within ua's running voice call (its params in ua.calls[cid][3],
    either side: tinysip.invite.Call or tinysip.dial.Dial): its offer is answered with
    reanswer() in the 200 the call's machine sends, and once that machine took it (a 491
    or 500 changes nothing) the driver gets the new params (ACT_VOICE again: io.voiceport
    updates the running media) and the app `call_held` with our direction. An offer we
    cannot take is answered 488 and the call goes on as it was (RFC 3261 §14.2).
    A re-INVITE without an offer (a target refresh, or a controller asking for our offer,
    RFC 3261 §14.2, RFC 3725) gets our offer in the 200 (reoffer: sendrecv, or on hold while
    we hold) and its answer comes in the ACK, which the UA hands here too while the call's
    `hold` is [our hold]: the answer then runs as a 200 to our own re-INVITE would. An ACK
    without the answer leaves the media as it was (the peer's fault, said in
    `message_dropped`); an answer we cannot run ends the call (§13.2.2.4: the offerer's
    side of a refused answer is a BYE)."""
    from tinysip.sdp import parse

    cid = msg.call_id
    e = ua.calls[cid]
    c = e[0]
    p = e[3]
    out = e[4] == "out"
    if msg.method == b"ACK":
        _ack(ua, cid, e, msg, now)
        return
    old, was, seq = c.body, c.state, c.remote_cseq
    q = None
    status = 0
    if getattr(c, "hold", None):  # ours is on its way (tinysip.hold): glare, RFC 3261 §14.2
        status = 491
    elif not msg.body:
        c.body = reoffer(p, old, len(p) > 10 and p[10])
    else:
        v = ua.cfg.voice
        try:
            c.body, q = reanswer(parse(msg.body), p, old, v[0], v[1])
        except ParseError as err:
            ua._ev("message_dropped", e[1].index, err.reason)
            status = 488
    if status and (seq is None or msg.cseq > seq):  # (an old CSeq: the machine's 500)
        from tinysip.message import response

        c.remote_cseq = msg.cseq
        ua._send(e[1].conn, response(msg, status).to_bytes())
        return
    if out:
        ua._dial_input(cid, c.receive, msg, now)
    else:
        c.receive(msg, now)
        ua._call_flush(cid, now)
    if c.remote_cseq == msg.cseq != seq and (c.state == 3 if out else was == 2 == c.state + 1):
        if q is None:  # our offer went in the 200: its answer comes in the ACK
            c.hold = [len(p) > 10 and p[10]]
        else:
            update(ua, cid, q, now, 200)
    else:
        c.body = old


def _ack(ua, cid, e, msg, now):
    """The ACK of our 200 with an offer (c.hold is [our hold]): the machine takes it, then
    its answer runs."""
    from tinysip.sdp import parse

    c = e[0]
    if e[4] == "out":
        ua._dial_input(cid, c.receive, msg, now)
    else:
        c.receive(msg, now)
        ua._call_flush(cid, now)
    if msg.cseq != c.remote_cseq or cid not in ua.calls:
        return  # the ACK of an earlier INVITE: ours still waits
    h = c.hold[0]
    c.hold = None
    p = e[3]
    try:
        if not msg.body:
            raise ParseError(400, "ACK without the answer to our offer in the 200 "
                                  "(RFC 3261 §13.2.2.4): the media goes on as it was")
        q = accept(parse(msg.body), [p[1]], ua.cfg.voice[1] if p[7] else 0, p[7], p[3])
    except ParseError as err:
        ua._ev("message_dropped", e[1].index, err.reason)
        if msg.body:
            ua.hangup(cid, now)  # an answer we cannot run
        return
    q.append(h)
    update(ua, cid, q, now, 200)


def update(ua, cid, q, now, status):
    """Call cid now runs with params q (an offer/answer finished with `status`): the driver
    updates its media (ACT_VOICE again), the app hears `call_held` with our direction. On
    hold either way the peer need not send (music on hold or nothing): the call's RTP
    silence limit waits for a day, and is back at once when the call resumes."""
    e = ua.calls[cid]
    e[3] = q
    ua.actions.append((7, cid, q))  # ua's private ACT_VOICE
    if e[5] == 2:
        e[6] = now + (ua.cfg.rtp_limits[1 if e[4] == "auto" else 0]
                      if q[9] == b"sendrecv" else 86400000)
    ua._ev("call_held", cid, q[9].decode(), status)
