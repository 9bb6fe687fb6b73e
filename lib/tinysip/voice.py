"""One voice call's media: RTP (RFC 3550) with G.711, optional SRTP/SRTCP (RFC 3711), RFC 4733
events and RTCP reports, sans-IO and without allocation per frame.

Owns: the packets of one call, both ways. Every `ptime` ms the adapter puts the microphone's
frame in `pcm` and calls send(now): the frame is encoded (tinysip.g711) into our RTP packet in
`tx` (or a DTMF event packet while digits are queued, RFC 4733 §2.5: audio pauses meanwhile),
protected when SRTP is on, and its length returned. Each datagram the adapter reads into
`rx` goes to receive(n, now): unprotected, handed to the jitter buffer (tinysip.jitter) or,
for telephone-event, to the RFC 4733 receiver, whose digits come back as their ASCII codes.
play(now) fills `out` with the PCM to play now (decoded, or concealed with a fade, or
silence). report(now, wall) gives an RTCP compound packet (tinysip.rtcp; SRTCP when SRTP is
on) every ~5 s in `ctl`. It does not read sockets, clocks or devices (tinysip.io.voiceport
and the audio adapters do), negotiate (tinysip.audio gives `params`) or pick keys.

Our stream: a random SSRC, sequence number and timestamp base (RFC 3550 §5.1), the marker
bit on the first packet and on each event's first, the timestamp advancing by the frame's
samples every frame also while we send nothing (hold: sendonly/inactive on their side, or
no frame from the microphone), so the peer's jitter buffer sees the real gap.

Buffers: `out` is `pcm` (the microphone's frame is encoded by send() before play() decodes
into it) and `rx` is `tx` (a packet is sent before a datagram is read into it), and the
adapter may hand in that packet buffer (io.voiceport: io.stream's read buffer).

State: `state` = [SSRC high, SSRC low, sequence number, timestamp high, low, the event's
timestamp high, low, packets sent, payload octets sent, packets refused (SRTP tag, replay,
not RTP), next frame due (ms)], one list: every attribute name costs the phone heap.
"""
import struct

from tinysip import g711
from tinysip.compat import const
from tinysip.dtmf import Receiver, Sender
from tinysip.jitter import Jitter

_SEQ = const(2)
_THI = const(3)
_TLO = const(4)
_EHI = const(5)
_ELO = const(6)
_NPK = const(7)
_NOCT = const(8)
_NBAD = const(9)
_DUE = const(10)


class Voice:
    """The media of one call. params: tinysip.audio's list; rng(n) -> bytes; now: ms; buf:
    a bytearray of at least ptime * 8 + 352 bytes to send from and read into, which the
    adapter may share (io.voiceport gives io.stream's read buffer: each use of it is over
    before the next begins), else one of that size is made."""

    def __init__(self, params, rng, now, buf=None):
        self.params = params
        n = params[3] * 8  # samples (and G.711 bytes) per frame: 8 kHz
        # one PCM buffer: the microphone's frame until send() encoded it, then the frame
        # play() decodes for the speaker; one packet buffer: what we send until the adapter
        # wrote it, then the datagram it reads (each is used up before the other begins)
        self.pcm = self.out = bytearray(2 * n)
        # header 12 + payload + SRTP tag 10 (tx); a received datagram (rx): room for 15
        # CSRCs and a header extension (~280 B more), and RTCP compounds up to ~500 B
        if buf is None or len(buf) < n + 352:
            buf = bytearray(n + 352)
        self.tx = self.rx = buf
        s = rng(10)
        self.state = [s[0] << 8 | s[1], s[2] << 8 | s[3], s[4] << 8 | s[5], s[6] << 8 | s[7],
                      s[8] << 8 | s[9], 0, 0, 0, 0, 0, now]
        self.jb = Jitter(params[0], params[3])
        self.tones = None  # the RFC 4733 sender, made with the first digits (dtmf())
        self.heard = Receiver()
        self.enc = self.dec = None
        if params[6]:
            from tinysip.srtp import Context

            self.enc = Context(params[7], params[6])  # our key protects what we send
            self.dec = Context(params[8], params[6])  # the peer's what it sends
        from tinysip.rtcp import Rtcp

        st = self.state
        self.ctl = c = Rtcp(st[0] << 16 | st[1], b"%x@tinysip" % (st[2] << 16 | st[4]), rng, now)
        if self.enc is not None:  # SRTCP appends E|index and the 80-bit tag: 14 more bytes
            c.buf = bytearray(len(c.buf) + 14)

    def send(self, now):
        """The packet for the frame due at now (in `tx`): its length, 0 when nothing is
        sent (not due yet, or we do not send: hold). Advances the frame clock."""
        st = self.state
        if now < st[_DUE]:
            return 0
        p = self.params
        n = p[3] * 8
        st[_DUE] += p[3]
        if now - st[_DUE] > 200:  # the adapter stalled: skip the frames, not burst them
            st[_DUE] = now + p[3]
        b = self.tx
        ts_hi, ts_lo = st[_THI], st[_TLO]
        lo = ts_lo + n  # the next frame's timestamp (16-bit halves: small ints on ESP32)
        st[_TLO] = lo & 0xFFFF
        st[_THI] = (ts_hi + (lo >> 16)) & 0xFFFF
        if p[9] != b"sendrecv" and p[9] != b"sendonly":
            return 0
        first = st[_NPK] == 0
        r = self.tones.poll(now, b, 12) if p[2] >= 0 and self.tones is not None else 0
        if r:
            if r == 2:  # a new event: its timestamp is this frame's (RFC 4733 §2.5.1.2)
                st[_EHI], st[_ELO] = ts_hi, ts_lo
            pt = p[2] | (0x80 if r == 2 else 0)
            ts_hi, ts_lo = st[_EHI], st[_ELO]
            k = 16
        else:
            g711.encode(p[0], self.pcm, n, b, 12)
            pt = p[0] | (0x80 if first else 0)
            k = 12 + n
        seq = st[_SEQ]
        st[_SEQ] = (seq + 1) & 0xFFFF
        struct.pack_into(">BBHHHHH", b, 0, 0x80, pt, seq, ts_hi, ts_lo, st[0], st[1])
        st[_NPK] += 1
        st[_NOCT] += k - 12
        if self.enc is not None:
            k = self.enc.protect(b, k)
        return k

    def receive(self, n, now):
        """The datagram rx[0:n] arrived at now: 0, or the ASCII code of a DTMF digit the
        peer just began (RFC 4733). Bad packets are counted and dropped, never raised."""
        b = self.rx
        if n < 12 or n > len(b):
            self.state[_NBAD] += 1
            return 0
        if 64 <= b[1] & 0x7F <= 95:  # RTCP on the RTP port (RFC 5761 §4)
            self.control(n, now, None)
            return 0
        if self.dec is not None:
            n = self.dec.unprotect(b, n)
            if n < 0:
                self.state[_NBAD] += 1
                return 0
        r = self.jb.put(b, n, now)
        p = self.params
        if r == 2 and b[1] & 0x7F == p[2]:
            off = 12 + (b[0] & 0x0F) * 4
            if b[0] & 0x10 and off + 4 <= n:
                off += 4 + (b[off + 2] << 8 | b[off + 3]) * 4
            if off + 4 <= n:
                return self.heard.receive(b, 0, off, n - off)
        return 0  # r == 0: the jitter buffer counts what it drops (late, duplicate, ...)

    def play(self, now):
        """Fill `out` with the frame to play now; returns the jitter buffer's gain (256 a
        received frame, 192/128/64 concealment, 0 silence)."""
        g = self.jb.get(now)
        out = self.out
        n = self.params[3] * 8
        if g == 0:
            for i in range(2 * n):
                out[i] = 0
            return 0
        jb = self.jb
        g711.decode(self.params[0], jb.buf, jb.frame, n, out)
        if g < 256:  # concealment: the last frame again, faded (rare: plain Python is fine)
            for i in range(0, 2 * n, 2):
                v = out[i] | out[i + 1] << 8
                if v & 0x8000:
                    v -= 0x10000
                v = (v * g) >> 8
                out[i] = v & 0xFF
                out[i + 1] = (v >> 8) & 0xFF
        return g

    def dtmf(self, digits):
        """Queue digits ("0-9*#A-D") to send as RFC 4733 events; False when the peer did
        not accept telephone-event. ValueError (queueing none) for a character that is not
        a digit, or more than 32 waiting."""
        p = self.params
        if p[2] < 0:
            return False
        if self.tones is None:
            self.tones = Sender(p[3] if p[3] >= 50 else 50)
        self.tones.send(digits)
        return True

    def report(self, now, wall):
        """Our RTCP compound packet when one is due (in ctl.buf): its length, else 0."""
        c = self.ctl
        if now < c.due:
            return 0
        st = self.state
        sent = None
        if st[_NPK]:  # an SR: the RTP timestamp of the next frame stands for "now"
            sent = (st[_THI], st[_TLO], st[_NPK], st[_NOCT])
        n = c.build(now, wall, self.jb.rr(), sent)
        if self.enc is not None:
            n = self.enc.protect_rtcp(c.buf, n)
        return n

    def control(self, n, now, wall, b=None):
        """An RTCP datagram (rx[0:n], or b[0:n]) arrived: checked and read (SRTCP first)."""
        if b is None:
            b = self.rx
        if self.dec is not None:
            n = self.dec.unprotect_rtcp(b, n)
            if n < 0:
                self.state[_NBAD] += 1
                return
        if self.ctl.parse(b, n, now, now if wall is None else wall):
            self.state[_NBAD] += 1

    def stats(self):
        """The call's media figures (for `call_ended`; allocates)."""
        st = self.state
        d = self.jb.stats()
        r = self.ctl.stats()
        d["rtt_ms"] = r["rtt_ms"]
        d["peer_lost"] = r["peer_lost"]
        d["peer_jitter_ms"] = r["peer_jitter_ms"]
        d["sent"] = st[_NPK]
        d["refused"] = st[_NBAD]
        return d
