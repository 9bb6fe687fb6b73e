"""The RFC 6849 loopback mirror on RTP packets (RFC 3550), allocating nothing per packet.

Owns: turning one received RTP datagram into at most one reply, in place, in one
preallocated buffer. It does not read sockets (tinysip.io.media does) or negotiate
(tinysip.loopback does).

Zero allocation: on MicroPython slicing a memoryview allocates a view object (32 B on the
unix port, measured), so the reply is built where the packet already lies instead of being
copied: adapters read each datagram into `view` (buf[12:]), reflect(n) writes a fresh 12-byte
header with struct.pack_into and returns the reply length; the reply is buf[off:off + len]
(MicroPython: sock.write(buf, off, len), no slice). 32-bit fields are handled as 16-bit
halves so every int stays a small int, also on ESP32 (31-bit small ints).

Header rules (RFC 6849 §6, §7; RFC 3550 §5.1):
- Every reply carries the mirror's own SSRC (random, re-drawn if the source uses the same
  one, RFC 3550 §8.2), its own sequence number (random start, +1 per packet sent) and its
  own timestamp: the source's timestamp plus a random offset fixed at the first packet, so
  the reply keeps the media's sampling timeline on our own random base, needs no clock, and
  survives reordering (verify: whether §7 wants the mirror's send time instead). V=2, no
  padding, no extension, no CSRC.
- ENCAP (encaprtp, §7.1): the payload is the whole received packet, header included, so the
  source reads back its own sequence, timestamp and SSRC; outer PT = the encaprtp PT, M=0.
- DIRECT (rtploopback, §7.2): the payload is the received payload (after CSRCs and header
  extension, without padding); PT = the rtploopback PT; M copied.
- MEDIA (rtp-media-loopback with G.711, §4.1.2): decode + re-encode is the identity, so the
  same as DIRECT with PT = the codec's; packets of any other PT (DTMF, CN) are dropped.
- Dropped: shorter than a header, not version 2, a PT in 64-95 (RTCP multiplexed on the
  RTP port, RFC 5761 §4: we do not loop RTCP, §9), a bad CSRC/extension/padding length, or
  bigger than the limit (a reply must fit `mtu` bytes; encaprtp adds 12).
- Never more than received: at most one reply per datagram, and only from its bytes (as
  long as it, or 12 bytes longer with encaprtp). reflect(n) must be given exactly one
  datagram: io.media reads one per step and never splits a read into several packets (one
  forged 1,452-byte datagram of RTP headers used to come back as 121 packets).
"""
import struct

from tinysip.compat import const

ENCAP = const(1)
DIRECT = const(2)
MEDIA = const(3)

_MTU = const(1472)  # UDP payload of a 1500-byte Ethernet/Wi-Fi frame over IPv4


class Mirror:
    """One mirrored stream. mode: ENCAP / DIRECT / MEDIA; pt: the payload type we send
    (for MEDIA also the only one we accept); rng(n) -> n random bytes; mtu: largest reply.

    Adapters read each datagram into `view`. Counters: rx (datagrams given to reflect), tx
    (replies built), dropped; rx == tx + dropped.
    """

    def __init__(self, mode, pt, rng, mtu=_MTU):
        self.mode = mode
        self.pt = pt
        self.rng = rng
        self.lim = mtu - 12 if mode == ENCAP else mtu  # largest datagram we reflect
        self.buf = bytearray(self.lim + 13)  # 12 B for the encaprtp header + 1 B to see oversize
        self.view = memoryview(self.buf)[12:]
        self.off = 0
        s = rng(10)
        self.shi = s[0] << 8 | s[1]
        self.slo = s[2] << 8 | s[3]
        self.seq = s[4] << 8 | s[5]
        self.bhi = s[6] << 8 | s[7]  # timestamp base, until the first packet fixes the offset
        self.blo = s[8] << 8 | s[9]
        self.ohi = self.olo = -1
        self.rx = self.tx = self.dropped = 0

    def reflect(self, n):
        """Build the reply to the n bytes just read into `view`; returns its length, 0 to
        drop. The reply is buf[off:off + length]."""
        self.rx += 1
        b = self.buf
        r = 0
        if 12 <= n <= self.lim:
            b0 = b[12]
            b1 = b[13]
            pt = b1 & 0x7F
            mode = self.mode
            if b0 & 0xC0 == 0x80 and not 64 <= pt <= 95 and (mode != MEDIA or pt == self.pt):
                if mode == ENCAP:
                    off = 0
                    r = n + 12
                    m = 0
                else:
                    off = 12 + (b0 & 0x0F) * 4  # the source's header ends after its CSRCs
                    if b0 & 0x10:  # and its extension: 4 B + length in 32-bit words
                        if off + 4 <= n:
                            off += 4 + (b[off + 14] << 8 | b[off + 15]) * 4
                        else:
                            off = n + 1
                    end = n - b[11 + n] if b0 & 0x20 else n  # without the padding
                    if off <= end:
                        r = end - off + 12  # our header goes over the end of the source's
                        m = b1 & 0x80
            if r:
                if b[20] << 8 | b[21] == self.shi and b[22] << 8 | b[23] == self.slo:
                    s = self.rng(4)  # the source took our SSRC (RFC 3550 §8.2): allocates once
                    self.shi = s[0] << 8 | s[1]
                    self.slo = s[2] << 8 | s[3]
                thi = b[16] << 8 | b[17]
                tlo = b[18] << 8 | b[19]
                if self.ohi < 0:  # offset = base - first source timestamp (mod 2**32)
                    lo = self.blo - tlo
                    self.olo = lo & 0xFFFF
                    self.ohi = (self.bhi - thi - (1 if lo < 0 else 0)) & 0xFFFF
                tlo += self.olo
                thi = (thi + self.ohi + (tlo >> 16)) & 0xFFFF
                self.seq = (self.seq + 1) & 0xFFFF
                struct.pack_into(">BBHHHHH", b, off, 0x80, m | self.pt, self.seq,
                                 thi, tlo & 0xFFFF, self.shi, self.slo)
                self.off = off
                self.tx += 1
                return r
        self.dropped += 1
        return 0
