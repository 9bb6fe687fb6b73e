"""A plain RFC 3261 registrar behind a NAT, for the UA tests (no outbound, no GRUU).

What most PBXs and providers are: a binding is a Contact URI (RFC 3261 §10.3: the same URI
refreshes it, `expires=0` removes it, several Contacts in one REGISTER are each applied),
reg-id and +sip.instance are stored but never matched on, the 2xx lists every binding and
never says `Require: outbound`, and the top Via of each response gets `received` and
`rport` (RFC 3581) as a NAT shows them: 203.0.113.5 and port 60000 + connection id
(`nat=False`: the connection's own address, 127.0.0.1 and the UA's local port if given).

Sans-IO and MicroPython compatible, like fakeregistrar.FakeRegistrar, whose wire plumbing,
digest checks and logs it keeps.
"""
from fakeregistrar import FakeRegistrar

from tinysip.message import contacts

NAT_IP = b"203.0.113.5"


class PlainRegistrar(FakeRegistrar):
    def __init__(self, clock, nat=True, **kw):
        kw.setdefault("require_outbound", False)
        kw.setdefault("others", False)
        FakeRegistrar.__init__(self, clock, **kw)
        self.nat = nat
        self.local_ports = {}  # conn -> the UA's local port when not behind the NAT
        self.plain = {}  # contact URI -> (expires_at ms, conn)

    def seen(self, conn):
        """(ip, port) the registrar sees connection `conn` come from."""
        if self.nat:
            return NAT_IP, 60000 + conn
        return b"127.0.0.1", self.local_ports.get(conn, 5999)

    def live(self):
        """Contact URIs bound now, sorted."""
        now = self.clock.now
        return sorted(u for u, (t, _) in self.plain.items() if t > now)

    def _register(self, conn, msg, now):
        gate = self._gate(conn, msg, now)
        if gate is not self.GO_ON:
            return gate
        default = int(msg.get(b"Expires", b"3600"))
        for na in contacts(msg):
            ev = na.param(b"expires")
            secs = default if ev is None else int(ev)
            uri = na.uri.to_bytes()
            if secs == 0:
                self.plain.pop(uri, None)
            else:
                self.plain[uri] = (now + secs * 1000, conn)
        ip, port = self.seen(conn)
        self._tag_seq += 1
        out = b"SIP/2.0 200 OK\r\n"
        for name, value in msg.headers:
            if name == b"Via" and not out.count(b"\r\nVia:"):
                value = value.replace(b";rport", b";received=%s;rport=%d" % (ip, port), 1)
            if name in (b"Via", b"From", b"Call-ID", b"CSeq"):
                out += name + b": " + value + b"\r\n"
            elif name == b"To":
                out += b"To: " + value + b";tag=plain%d\r\n" % self._tag_seq
        for u in self.live():
            left = (self.plain[u][0] - now + 999) // 1000
            out += b"Contact: <" + u + b">;expires=%d\r\n" % left
        return out + b"Content-Length: 0\r\n\r\n"
