"""RFC 8224 Identity on an incoming INVITE: the From an authentication service vouches for.

Owns: the verifier's checks of RFC 8224 §6.2 against the INVITE (the PASSporT's signature
by the domain key, `iat` freshness, orig/dest against From/To) for the auto-answer policy
(invite.may_auto_answer). Must not: fetch certificates (the domain certificate is config
certificates.identity, whose key certservice keeps) or read a clock (`wall_s` is passed in).

Imported by the UA only when an INVITE carries an Identity header: its names cost the idle
phone nothing.
"""
from tinysip.compat import const
from tinysip.headers import addr
from tinysip.passport import verify

_MAX_AGE = const(60)  # s: RFC 8224 §6.2.1 recommends a minute either way


def vouched(msg, domain, wall_s):
    """The From URI of `msg` if its RFC 8224 Identity header verifies, else None.

    `domain` the P-256 key (uncompressed point) of config certificates.identity, which
    signs Identity headers (None: not configured),
    `wall_s` the wall clock (s since 1970, None unknown).
    RFC 8224 §6.2: the signature verifies, `iat` is within a minute of now, and the
    PASSporT's orig names the From (its `uri`, or its `tn` as the From user's digits) and
    dest the To.
    """
    value = msg.get(b"Identity")
    if value is None or domain is None or wall_s is None:
        return None
    good, claims = verify(value, domain)
    if not good:
        return None
    iat = claims["iat"]
    if iat > wall_s + _MAX_AGE or iat < wall_s - _MAX_AGE:
        return None
    frm = addr(msg.get(b"From") or b"")
    if not _names(claims["orig"], frm) or not _names(claims["dest"], addr(msg.get(b"To") or b"")):
        return None
    return frm


def _names(party, uri):
    """Does the PASSporT orig/dest object `party` name `uri`? (its uri, or tn = the user's
    digits without visual separators or a leading +)"""
    low = uri.lower().decode()
    user = low.partition(":")[2].partition("@")[0].partition(";")[0]
    digits = "".join(c for c in user if c not in "+-.()")
    for key in ("uri", "tn"):
        v = party.get(key)
        for x in (v if isinstance(v, list) else [v]):
            if isinstance(x, str) and x and (x.lower() == low if key == "uri"
                                              else x.lstrip("+") == digits):
                return True
    return False
