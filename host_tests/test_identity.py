# mpy: heap 320k
"""RFC 8224 Identity on an INVITE (tinysip.identity): signature by the domain key, iat
freshness, orig/dest against From/To; vectors from host_tests/data/sig/passport.json."""
import binascii
import json

from testutil import read_vector

from tinysip.identity import vouched
from tinysip.message import parse


def parked(point):
    """A UA's certificate service as certservice.park leaves it between calls (no timer,
    no subscription), with `point` as the domain key of config certificates.identity."""
    return (None, (), point, None, None, False)


def _plain():
    return parse(b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKp"
                 b"\r\nFrom: <sip:a@example.com>;tag=a\r\nTo: <sip:bob@example.com>\r\n"
                 b"Call-ID: p\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")


def _signed_invite(case, frm, to):
    return parse(b"INVITE " + to + b" SIP/2.0\r\n"
                 b"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKid1\r\n"
                 b"From: <" + frm + b">;tag=a\r\nTo: <" + to + b">\r\n"
                 b"Call-ID: id-1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
                 b"Identity: " + case["value"].encode() + b"\r\nContent-Length: 0\r\n\r\n")


def test_vouched_checks_signature_freshness_and_names():
    d = json.loads(read_vector("sig/passport.json"))
    point = binascii.unhexlify(d["point"]) if isinstance(d["point"], str) else bytes(d["point"])
    good = d["cases"][2]  # orig tn 12155551212, dest uri sip:bob@example.com
    iat = good["claims"]["iat"]
    frm, to = b"sip:+1-215-555-1212@example.com", b"sip:bob@example.com"
    m = _signed_invite(good, frm, to)
    assert vouched(m, point, iat + 5) == frm
    assert vouched(m, point, iat + 600) is None  # stale: a replay
    assert vouched(m, point, None) is None  # no wall clock, no verdict
    assert vouched(m, None, iat) is None  # no domain key configured
    other = binascii.unhexlify(d["other_point"]) if isinstance(d["other_point"], str) \
        else bytes(d["other_point"])
    assert vouched(m, other, iat) is None  # signed by someone else
    assert vouched(_signed_invite(good, b"sip:tester@lab.test", to), point, iat) is None
    assert vouched(_signed_invite(good, frm, b"sip:eve@example.com"), point, iat) is None
    bad = [c for c in d["cases"] if not c["ok"]][0]
    assert vouched(_signed_invite(bad, frm, to), point, iat) is None
    assert vouched(_plain(), point, iat) is None  # no Identity header at all


def test_an_identity_signed_invite_is_believed_on_any_flow():
    from fakeregistrar import last_conn, no_internal_errors
    from test_ua_hostile import AUTO, invite, phone

    d = json.loads(read_vector("sig/passport.json"))
    case = d["cases"][2]  # orig tn 12155551212, dest uri sip:bob@example.com
    caller = b"sip:+12155551212@example.com"
    link, reg, ua, clock = phone(outbound=["sip:edge1.lab.test"],  # UDP: no PAI believed
                                 autoanswer={"allow": [caller.decode()]})
    ua.certsvc = parked(binascii.unhexlify(d["point"]))  # certificates.identity's key
    ua.set_wall_clock(case["claims"]["iat"], clock.now)
    signed = invite(AUTO + b"Identity: " + case["value"].encode() + b"\r\n", pai=b"",
                    caller=b"<" + caller + b">", to=b"<sip:bob@example.com>")
    link.inject(last_conn(link), signed)
    assert len(link.media_opened) == 1  # answered: the domain vouched for From
    # the same INVITE an hour later is a replay: it only rings
    link, reg, ua, clock = phone(outbound=["sip:edge1.lab.test"],
                                 autoanswer={"allow": [caller.decode()]})
    ua.certsvc = parked(binascii.unhexlify(d["point"]))
    ua.set_wall_clock(case["claims"]["iat"] + 3600, clock.now)
    link.inject(last_conn(link), signed)
    assert link.media_opened == [] and link.of("call_incoming")
    no_internal_errors(link)
