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

# the mirror modes (private consts cost the phone no names; tinysip.probe's ENCAP / DIRECT /
# MEDIA are the same numbers, and the tests use those)
_ENCAP = const(1)
_DIRECT = const(2)
_MEDIA = const(3)

_MTU = const(1472)  # UDP payload of a 1500-byte Ethernet/Wi-Fi frame over IPv4


class Mirror:
    """One mirrored stream. mode: 1 ENCAP / 2 DIRECT / 3 MEDIA (see tinysip.probe); pt: the
    payload type we send (for MEDIA also the only one we accept); rng(n) -> n random bytes;
    limit: largest reply (bytes); buf: a bytearray of at least limit + 13 bytes to work in
    (the phone's: io.stream's read buffer, taken at boot, so that a call needs no block of
    ~1.5 KB of its own: each datagram is reflected before the loop does anything else),
    else one of that size is made. ptime: the offer's a=ptime (ms, 0 when it names none):
    the limit becomes a G.711 packet of it (20 ms at least) with room for 15 CSRCs, a header
    extension and encaprtp's 12 B, at most `limit`. MicroPython reads each datagram with
    recv(k), a k-byte scratch per packet (io/udp.py): 513-525 B at 20 ms rather than
    1,461 B is what a fragmented heap still has (issue 16).

    Adapters read each datagram into `view`, whose length is one more than the largest
    datagram reflected (a longer one shows as that many bytes and is dropped). Counters: rx
    (datagrams given to reflect), tx (replies built); rx - tx were dropped. `state` holds the
    sender fields as 16-bit halves: SSRC high/low, sequence number, timestamp base high/low,
    timestamp offset high/low (-1 until the first packet). One list, not seven attributes:
    each attribute name would be interned on the phone (see docs/benchmarks.md).
    """

    def __init__(self, mode, pt, rng, limit=_MTU, buf=None, ptime=None):
        self.mode = mode
        self.pt = pt
        self.rng = rng
        if ptime is not None:  # what the offer can carry, not a whole MTU (see the class)
            limit = min(limit, 364 + 8 * max(ptime, 20))
        if mode == _ENCAP:
            limit -= 12
        # 12 B for the encaprtp header + 1 B to see oversize
        self.buf = bytearray(limit + 13) if buf is None else buf
        self.view = memoryview(self.buf)[12:limit + 13]
        self.off = 0
        s = rng(10)
        self.state = [s[0] << 8 | s[1], s[2] << 8 | s[3], s[4] << 8 | s[5], s[6] << 8 | s[7],
                      s[8] << 8 | s[9], -1, -1]
        self.rx = self.tx = 0

    def reflect(self, n):
        """Build the reply to the n bytes just read into `view`; returns its length, 0 to
        drop. The reply is buf[off:off + length]."""
        self.rx += 1
        b = self.buf
        r = 0
        if 12 <= n < len(self.view):
            b0 = b[12]
            b1 = b[13]
            pt = b1 & 0x7F
            mode = self.mode
            if b0 & 0xC0 == 0x80 and not 64 <= pt <= 95 and (mode != _MEDIA or pt == self.pt):
                if mode == _ENCAP:
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
                st = self.state
                if b[20] << 8 | b[21] == st[0] and b[22] << 8 | b[23] == st[1]:
                    s = self.rng(4)  # the source took our SSRC (RFC 3550 §8.2): allocates once
                    st[0] = s[0] << 8 | s[1]
                    st[1] = s[2] << 8 | s[3]
                thi = b[16] << 8 | b[17]
                tlo = b[18] << 8 | b[19]
                if st[5] < 0:  # offset = base - first source timestamp (mod 2**32)
                    lo = st[4] - tlo
                    st[6] = lo & 0xFFFF
                    st[5] = (st[3] - thi - (1 if lo < 0 else 0)) & 0xFFFF
                tlo += st[6]
                thi = (thi + st[5] + (tlo >> 16)) & 0xFFFF
                seq = st[2] = (st[2] + 1) & 0xFFFF
                struct.pack_into(">BBHHHHH", b, off, 0x80, m | self.pt, seq,
                                 thi, tlo & 0xFFFF, st[0], st[1])
                self.off = off
                self.tx += 1
                return r
        return 0
