"""SIP parse + serialize throughput on CPython: tinysip against sipmessage and pyVoIP.

    .venv/bin/python tools/bench/parse.py [--json] [--seconds S] [--list]

One message set for all three libraries: three realistic messages (a REGISTER with digest
credentials and outbound/GRUU Contact parameters, the registrar's 200 OK with Contact,
Path, pub-gruu/temp-gruu, Require/Flow-Timer, an INVITE with an SDP offer) plus every
RFC 4475 torture message the RFC calls valid (host_tests/data/rfc4475/INDEX.md) that all
three libraries parse and serialize without an exception (`--list` shows which and why
the others are left out).

Each library does the work a UA needs done to a received message, then writes it back:
- tinysip: `message.parse(data)`: every check that decides whether the UA accepts the
  message (start line and version, the Request-URI's grammar, every header line's name,
  one From/To/Call-ID/CSeq and at least one Via under any spelling or compact form, the
  grammar of From, To, every Via and every Contact value, CSeq number and method = the
  request's, Max-Forwards, Content-Length against the body, every cap); it slices out
  Call-ID, the CSeq number and method, the From/To tags and the top Via's branch. On
  CPython message.parse is tinysip/fastparse.py: the same checks and result as
  message.py's own parser (the phone's, an index of offsets checked byte by byte) in one
  large regular expression per message; the index itself is made when something reads
  it, and a message outside the expression's grammar goes to message.py's parser
  (host_tests/test_fastparse.py compares the two on every RFC 4475/5118 vector, every
  message the unit tests parse and a mutation fuzz; all of this set takes the fast way).
  The bench then reads what the peers parse (`tinysip_parse()` below): the From, To, Via,
  CSeq and Contact values, the body (Content-Length), the method, Request-URI and reason
  phrase. Then `msg.to_bytes()`: a received message nobody changed is its own bytes
  (less anything past Content-Length), as long as it has CRLF line ends, "SIP/2.0" and
  one Content-Length spelled as tinysip writes it (all of the set but inv2543, which has
  no Content-Length: that one is written anew from its headers);
- sipmessage: `Message.parse(data)` (start line, Request-URI, headers with compact names
  expanded) plus the typed accessors for the same headers tinysip parses (via,
  from_address, to_address, cseq, contact, content_length: sipmessage parses them on
  access), then `bytes(msg)`;
- pyVoIP: `SIPMessage(data)` (eagerly parses Via, From/To, CSeq, Content-Length,
  Allow/Supported, digest headers and an SDP body); pyVoIP has no serializer (its client
  writes messages from templates), so "serialize" is `pyvoip_to_bytes()` below: the start
  line and its parsed header fields written back as text, joined, encoded. Its parser
  accepts only INVITE/ACK/BYE/CANCEL requests by default: the bench adds REGISTER to
  `pyVoIP.SIPCompatibleMethods` (the module list it checks) so the REGISTER is in the set.

Rate: messages per second over the whole set, best of 7 runs of about --seconds each
(default 0.5), one process, the libraries taking turns run by run (so that a load that
comes and goes on a shared machine falls on all of them alike). Also printed: each
library's parse-only rate. The budget (issue 16): tinysip / the faster peer >= 1.5x in
parse + serialize. A benchmark: prints figures and exits 0.
"""
import gc
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "lib"))
TORTURE = os.path.join(ROOT, "host_tests", "data", "rfc4475")
BUDGET_RATIO = 1.5


def _crlf(text):
    head, _, body = text.partition("\n\n")
    head = head.strip("\n").replace("\n", "\r\n")
    body = body.replace("\n", "\r\n")
    b = body.encode()
    return (head.replace("@LEN@", str(len(b))) + "\r\n\r\n").encode() + b


REGISTER = _crlf("""\
REGISTER sip:lab.test SIP/2.0
Via: SIP/2.0/TLS 192.0.2.10:49152;rport;branch=z9hG4bK5f2a9c0d3e4b7a61;alias
Max-Forwards: 70
From: <sip:phone1@lab.test>;tag=8d2c3a0b
To: <sip:phone1@lab.test>
Call-ID: 3b0f7e52c1a94d6e@192.0.2.10
CSeq: 2 REGISTER
Contact: <sip:phone1@192.0.2.10:49152;transport=tls;ob>;reg-id=1;+sip.instance="<urn:uuid:00000000-0000-1000-8000-020000000b01>";expires=3600
Authorization: Digest username="phone1", realm="lab.test", nonce="Z2h0aXNpc2Fub25jZTEyMzQ1Njc4OQ==", uri="sip:lab.test", response="6c4e2a2b7f8bd3c1e0f0a9a8c5d3b2e1f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9", algorithm=SHA-256, cnonce="0a4f113b", nc=00000001, qop=auth
Supported: path, outbound, gruu
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, NOTIFY, SUBSCRIBE
User-Agent: tinysip/0.1
Content-Length: 0

""")

OK_200 = _crlf("""\
SIP/2.0 200 OK
Via: SIP/2.0/TLS 192.0.2.10:49152;rport=49152;received=198.51.100.7;branch=z9hG4bK5f2a9c0d3e4b7a61;alias
From: <sip:phone1@lab.test>;tag=8d2c3a0b
To: <sip:phone1@lab.test>;tag=b27e1a1d33761e85846fc98f5f3a7e58.4a2f
Call-ID: 3b0f7e52c1a94d6e@192.0.2.10
CSeq: 2 REGISTER
Contact: <sip:phone1@192.0.2.10:49152;transport=tls;ob>;expires=3600;reg-id=1;+sip.instance="<urn:uuid:00000000-0000-1000-8000-020000000b01>";pub-gruu="sip:phone1@lab.test;gr=urn:uuid:00000000-0000-1000-8000-020000000b01";temp-gruu="sip:tgruu.7hs==jd7vnzga5w7fajsc7-ajd6fabz0f8g5@lab.test;gr"
Path: <sip:edge.lab.test;lr;ob;transport=tls;flow=AQAAAMCoAQrAAAIKwDhLAAAAAA>
Service-Route: <sip:registrar.lab.test;lr>
Require: outbound
Supported: path, outbound, gruu
Flow-Timer: 120
Date: Wed, 02 Dec 2026 10:00:00 GMT
Server: kamailio (5.6.3 (x86_64/linux))
Content-Length: 0

""")

INVITE = _crlf("""\
INVITE sip:phone1@lab.test;gr=urn:uuid:00000000-0000-1000-8000-020000000b01 SIP/2.0
Via: SIP/2.0/TLS 203.0.113.5:5061;branch=z9hG4bK2d4790.1a7c34e2a1b0
Via: SIP/2.0/UDP 203.0.113.9:5060;rport=5060;branch=z9hG4bKnashds8
Record-Route: <sip:edge.lab.test;lr;transport=tls>
Max-Forwards: 69
From: "Tester" <sip:tester@lab.test>;tag=1928301774
To: <sip:phone1@lab.test>
Call-ID: a84b4c76e66710@203.0.113.9
CSeq: 314159 INVITE
Contact: <sip:tester@203.0.113.9:5060>
P-Asserted-Identity: <sip:tester@lab.test>
Answer-Mode: Auto
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS
Supported: timer, replaces
Content-Type: application/sdp
Content-Length: @LEN@

v=0
o=tester 2890844526 2890844526 IN IP4 203.0.113.9
s=-
c=IN IP4 203.0.113.9
t=0 0
m=audio 49170 RTP/AVP 100 101
a=loopback:rtp-pkt-loopback
a=loopback-source
a=rtpmap:100 encaprtp/8000
a=rtpmap:101 rtploopback/8000
""")

REALISTIC = [("register-auth", REGISTER), ("200-ok-gruu", OK_200), ("invite-sdp", INVITE)]


def torture_valid():
    """[(name, bytes)] of the RFC 4475 vectors INDEX.md classes as valid."""
    out = []
    with open(os.path.join(TORTURE, "INDEX.md")) as f:
        for line in f:
            cells = [c.strip() for c in line.split("|")]
            if len(cells) > 5 and cells[1].startswith("`") and cells[1].endswith(".sip`") \
                    and cells[4] == "valid":
                name = cells[1].strip("`")
                with open(os.path.join(TORTURE, name), "rb") as v:
                    out.append((name[:-4], v.read()))
    return out


# ------------------------------------------------------------------ the three libraries


def _tinysip():
    from tinysip.message import parse

    return parse


def tinysip_parse(data, _parse=[]):
    if not _parse:  # (imported once, as pyVoIP's class below: not a cost per message)
        _parse.append(_tinysip())
    m = _parse[0](data)
    # the fields the peers parse, read: tinysip slices them out of the buffer when asked
    m.get(b"From"), m.get(b"To"), m.get_all(b"Via"), m.get(b"CSeq"), m.get(b"Contact")
    m.method, m.uri, m.reason, m.body, m.cseq_method
    return m


def tinysip_to_bytes(m):
    return m.to_bytes()


def _sipmessage():
    from sipmessage import Message

    return Message


def sipmessage_parse(data, _cls=[]):
    if not _cls:
        _cls.append(_sipmessage())
    m = _cls[0].parse(data)
    # the headers tinysip parses eagerly, parsed here by sipmessage's accessors
    m._typed = (m.via, m.from_address, m.to_address, m.cseq, m.contact, m.content_length)
    return m


def sipmessage_parse_lazy(data, _cls=[]):
    if not _cls:
        _cls.append(_sipmessage())
    return _cls[0].parse(data)


def sipmessage_to_bytes(m):
    return bytes(m)


def _pyvoip():
    import pyVoIP
    import pyVoIP.VoIP  # noqa: F401 - first: importing pyVoIP.SIP first is a circular import

    if "REGISTER" not in pyVoIP.SIPCompatibleMethods:
        pyVoIP.SIPCompatibleMethods.append("REGISTER")
    from pyVoIP.SIP import SIPMessage

    return SIPMessage


def pyvoip_parse(data, _cls=[]):
    if not _cls:
        _cls.append(_pyvoip())
    return _cls[0](data)


def pyvoip_to_bytes(m):
    """pyVoIP's parsed message written back (pyVoIP has no serializer of its own): the start
    line, then each header it kept, from its parsed form where it parsed one."""
    out = [m.heading.decode("utf8")]
    for name, v in m.headers.items():
        if name == "Via":
            for via in v:
                host, port = via["address"]
                params = "".join(";%s" % k if val is None else ";%s=%s" % (k, val)
                                 for k, val in via.items() if k not in ("type", "address"))
                out.append("Via: %s %s:%s%s" % (via["type"], host, port, params))
        elif name in ("From", "To"):
            out.append("%s: %s%s" % (name, v["raw"], ";tag=" + v["tag"] if v["tag"] else ""))
        elif name == "CSeq":
            out.append("CSeq: %s %s" % (v["check"], v["method"]))
        elif name in ("Allow", "Supported"):
            out.append("%s: %s" % (name, ", ".join(v)))
        elif name in ("WWW-Authenticate", "Authorization"):
            out.append("%s: Digest %s" % (name, ", ".join('%s="%s"' % kv for kv in v.items())))
        else:
            out.append("%s: %s" % (name, v))
    body = m.raw.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in m.raw else b""
    return ("\r\n".join(out) + "\r\n\r\n").encode("utf8") + body


LIBS = (
    ("tinysip", tinysip_parse, tinysip_to_bytes),
    ("sipmessage", sipmessage_parse, sipmessage_to_bytes),
    ("pyVoIP", pyvoip_parse, pyvoip_to_bytes),
)


def versions():
    from importlib import metadata

    out = {"tinysip": "lib/ (this tree)"}
    for lib, dist in (("sipmessage", "sipmessage"), ("pyVoIP", "pyVoIP")):
        try:
            out[lib] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[lib] = None
    return out


def available():
    """{library: None if importable, else why not}."""
    out = {"tinysip": None}
    for lib, fn in (("sipmessage", sipmessage_parse_lazy), ("pyVoIP", pyvoip_parse)):
        out[lib] = None
        try:
            fn(OK_200)
        except ImportError as e:
            out[lib] = "not installed (%s)" % e
        except Exception:  # noqa: BLE001 - importable; parse errors are found per message
            out[lib] = None
    return out


def message_set(libs=LIBS):
    """(messages every library parses and serializes, {name: [why left out]})."""
    import warnings

    keep, dropped = [], {}
    for name, data in REALISTIC + torture_valid():
        why = []
        for lib, parse, to_bytes in libs:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    to_bytes(parse(data))
            except Exception as e:  # noqa: BLE001 - any failure leaves the message out
                why.append("%s: %s: %s" % (lib, type(e).__name__, str(e)[:60]))
        if why:
            dropped[name] = why
        else:
            keep.append((name, data))
    return keep, dropped


def summary(lib, m):
    """The header values all three parse, as str: Call-ID, CSeq number and method, From and
    To tags, top Via branch, method or status (for the agreement test)."""
    if lib == "tinysip":
        return {"call_id": m.call_id.decode(), "cseq": str(m.cseq),
                "cseq_method": m.cseq_method.decode(),
                "from_tag": (m.from_tag or b"").decode(), "to_tag": (m.to_tag or b"").decode(),
                "branch": (m.branch or b"").decode(),
                "start": m.method.decode() if m.is_request else str(m.status)}
    if lib == "sipmessage":
        from sipmessage import Request

        via = m.via[0]
        return {"call_id": m.call_id, "cseq": str(m.cseq.sequence), "cseq_method": m.cseq.method,
                "from_tag": m.from_address.parameters.get("tag") or "",
                "to_tag": m.to_address.parameters.get("tag") or "",
                "branch": via.parameters.get("branch") or "",
                "start": m.method if isinstance(m, Request) else str(m.code)}
    h = m.headers
    return {"call_id": h["Call-ID"], "cseq": str(int(h["CSeq"]["check"])),
            "cseq_method": h["CSeq"]["method"], "from_tag": h["From"]["tag"],
            "to_tag": h["To"]["tag"], "branch": h["Via"][0].get("branch") or "",
            "start": m.method if m.type == 1 else str(int(m.status))}


def _calibrate(fn, msgs, seconds):
    """How many loops over msgs take about `seconds`."""
    t0 = time.perf_counter()
    loops = 0
    while time.perf_counter() - t0 < 0.05:
        for d in msgs:
            fn(d)
        loops += 1
    return max(1, int(seconds / ((time.perf_counter() - t0) / loops)))


def rates(fns, msgs, seconds, runs=7):
    """{name: best messages/s} of fns ({name: fn(data)}), each run `runs` times for about
    `seconds`, the functions taking turns (run 1 of each, run 2 of each, ...): on a shared
    machine whose load comes and goes, one after another would hand one library the quiet
    minute and the next the busy one."""
    n = len(msgs)
    loops = {k: _calibrate(fn, msgs, seconds) for k, fn in fns.items()}
    best = dict.fromkeys(fns, 0.0)
    gc.collect()
    for _ in range(runs):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(loops[k]):
                for d in msgs:
                    fn(d)
            best[k] = max(best[k], loops[k] * n / (time.perf_counter() - t0))
    return best


def rate(fn, msgs, seconds, runs=5):
    """Best messages/s of `runs` runs of about `seconds` each, calling fn(data) per message."""
    return rates({0: fn}, msgs, seconds, runs)[0]


def measure(seconds=0.5):
    import warnings

    warnings.simplefilter("ignore")
    avail = available()
    libs = [x for x in LIBS if avail[x[0]] is None]
    msgs, dropped = message_set(libs)
    data = [d for _, d in msgs]
    res = {"runtime": "CPython %s" % sys.version.split()[0], "versions": versions(),
           "unavailable": {k: v for k, v in avail.items() if v},
           "messages": [n for n, _ in msgs], "left_out": dropped, "libraries": {}}
    fns = {}
    for lib, parse, to_bytes in libs:
        def both(d, parse=parse, to_bytes=to_bytes):
            return to_bytes(parse(d))

        fns[(lib, "parse_serialize_per_s")] = both
        fns[(lib, "parse_only_per_s")] = parse
    if avail["sipmessage"] is None:
        fns[("sipmessage", "parse_lazy_per_s")] = sipmessage_parse_lazy
    for (lib, key), r in rates(fns, data, seconds).items():
        res["libraries"].setdefault(lib, {})[key] = round(r)
    L = res["libraries"]
    others = [(L[k]["parse_serialize_per_s"], k) for k in ("sipmessage", "pyVoIP") if k in L]
    if others:
        fastest, who = max(others)
        res["faster_competitor"] = who
        res["ratio"] = round(L["tinysip"]["parse_serialize_per_s"] / fastest, 2)
        po = [(L[k]["parse_only_per_s"], k) for k in ("sipmessage", "pyVoIP") if k in L]
        res["ratio_vs_competitor_parse_only"] = round(
            L["tinysip"]["parse_serialize_per_s"] / max(po)[0], 2)
    res["budget_ratio"] = BUDGET_RATIO
    return res


def main(argv):
    seconds = float(argv[argv.index("--seconds") + 1]) if "--seconds" in argv else 0.5
    if "--list" in argv:
        msgs, dropped = message_set([x for x in LIBS if available()[x[0]] is None])
        print("in the set (%d): %s" % (len(msgs), ", ".join(n for n, _ in msgs)))
        for n, why in dropped.items():
            print("left out %s: %s" % (n, "; ".join(why)))
        return 0
    res = measure(seconds)
    if "--json" in argv:
        print(json.dumps(res))
        return 0
    print("SIP parse + serialize on %s, %d messages (%s)" % (
        res["runtime"], len(res["messages"]), ", ".join(res["messages"])))
    for n, why in res["left_out"].items():
        print("  left out %s: %s" % (n, "; ".join(why)))
    for k, v in res["unavailable"].items():
        print("  %s: %s" % (k, v))
    print("%-12s %12s %18s %14s" % ("library", "version", "parse+serialize/s", "parse only/s"))
    for lib, r in res["libraries"].items():
        print("%-12s %12s %18d %14d" % (lib, res["versions"].get(lib), r["parse_serialize_per_s"],
                                         r["parse_only_per_s"]))
    if "ratio" in res:
        print("tinysip / faster (%s): %.2fx (budget >= %.1fx: %s)" % (
            res["faster_competitor"], res["ratio"], BUDGET_RATIO,
            "OK" if res["ratio"] >= BUDGET_RATIO else "UNDER"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
