"""One voice call's media: RTP (RFC 3550) with G.711, optional SRTP/SRTCP (RFC 3711), RFC 4733
events and RTCP reports, sans-IO and without allocation per frame.

Owns: the packets of one call, both ways. Every `ptime` ms the adapter puts the microphone's
frame in `buf` and calls send(now): the frame is encoded (G.711, below) into our RTP packet in
`tx` (or a DTMF event packet while digits are queued, RFC 4733 §2.5: audio pauses meanwhile),
protected when SRTP is on, and its length returned. Each datagram the adapter reads into
`rx` goes to receive(n, now): unprotected, handed to the jitter buffer (tinysip.jitter) or,
for telephone-event, to the RFC 4733 receiver, whose digits come back as their ASCII codes.
get(now) fills `buf` with the PCM to play now (decoded, or concealed with a fade, or
silence). report(now, wall) gives an RTCP compound packet (tinysip.jitter's Rtcp; SRTCP when
SRTP is on) every ~5 s in `rtcp.buf`; parse(n, now, wall) reads one that arrived. It does
not read sockets, clocks or devices (tinysip.io.voiceport and the audio adapters do),
negotiate (tinysip.audio gives `params`) or pick keys.

The G.711 codec (encode, decode) and RFC 4733's payloads, sender and receiver (pack,
unpack, Sender, Receiver) are here too, below (formerly tinysip.g711 and tinysip.dtmf): each
module costs the phone 2-3 interned names for good (docs/benchmarks.md).

Our stream: a random SSRC, sequence number and timestamp base (RFC 3550 §5.1), the marker
bit on the first packet and on each event's first, the timestamp advancing by the frame's
samples every frame also while we send nothing (hold: sendonly/inactive on their side, or
no frame from the microphone), so the peer's jitter buffer sees the real gap.

Buffers: `buf` holds one PCM frame: the microphone's until send() encoded it, then the one
get() decodes for the speaker; `rx` is `tx` (a packet is sent before a datagram is read
into it), and the adapter may hand in that packet buffer (io.voiceport: io.stream's read
buffer).

State: `state` = [SSRC high, SSRC low, sequence number, timestamp high, low, the event's
timestamp high, low, packets sent, payload octets sent, packets refused (SRTP tag, replay,
not RTP), next frame due (ms)], one list: every attribute name costs the phone heap.
Names (attributes, methods, arguments) are ones the phone already interns where one fits
(`jitter`, `srtp`: the modules' own names; `rtcp` our RTCP session, `events` our RFC 4733
sender, `input` the receiver of the peer's): each new name would cost it heap for good
(docs/benchmarks.md).
"""
import struct

from tinysip.compat import MICROPYTHON, const, drop, load
from tinysip.errors import nth
from tinysip.jitter import Jitter, Rtcp

_SEQ = const(2)
_THI = const(3)
_TLO = const(4)
_EHI = const(5)
_ELO = const(6)
_NPK = const(7)
_NOCT = const(8)
_NBAD = const(9)
_DUE = const(10)
_HDR = const(b">BBHHHHH")  # the RTP header (bytes: a short str would be an interned name)


class Voice:
    """The media of one call, made by tinysip.voicesetup.Voice(params, rng, now, buf):
    params tinysip.audio's list; rng(n) -> bytes; now: ms; buf a bytearray of at least
    ptime * 8 + 352 bytes to send from and read into, which the adapter may share
    (io.voiceport gives io.stream's read buffer: each use of it is over before the next
    begins). Its figures: tinysip.voicesetup.stats(voice). The class has only what a
    running call does (each method costs the phone ~80 B of heap while its module is
    loaded, ROMFS or not): set-up and tear-down are voicesetup's, loaded and dropped
    around them."""

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
        ev = self.events
        r = ev.poll(now, b, 12) if p[2] >= 0 and ev is not None else 0
        if ev is not None and not r and not ev.state[0] and not ev.state[7] and (
                ev.state[3] <= now):
            # the digits are out (idle, none queued, the pause after the last tone over):
            # the sender goes, and tinysip.voicesetup, whose class it is, with it
            self.events = None
        if r:
            if r == 2:  # a new event: its timestamp is this frame's (RFC 4733 §2.5.1.2)
                st[_EHI], st[_ELO] = ts_hi, ts_lo
            pt = p[2] | (0x80 if r == 2 else 0)
            ts_hi, ts_lo = st[_EHI], st[_ELO]
            k = 16
        else:
            encode(p[0], self.buf, n, b, 12)
            pt = p[0] | (0x80 if first else 0)
            k = 12 + n
        seq = st[_SEQ]
        st[_SEQ] = (seq + 1) & 0xFFFF
        struct.pack_into(_HDR, b, 0, 0x80, pt, seq, ts_hi, ts_lo, st[0], st[1])
        st[_NPK] += 1
        st[_NOCT] += k - 12
        if self.srtp is not None:
            k = self.srtp[0].protect(b, k)
        return k

    def receive(self, n, now):
        """The datagram rx[0:n] arrived at now: 0, or the ASCII code of a DTMF digit the
        peer just began (RFC 4733). Bad packets are counted and dropped, never raised."""
        b = self.rx
        if n < 12 or n > len(b):
            self.state[_NBAD] += 1
            return 0
        if 64 <= b[1] & 0x7F <= 95:  # RTCP on the RTP port (RFC 5761 §4)
            self.parse(n, now, None)
            return 0
        if self.srtp is not None:
            n = self.srtp[1].unprotect(b, n)
            if n < 0:
                self.state[_NBAD] += 1
                return 0
        r = self.jitter.put(b, n, now)
        p = self.params
        if r == 2 and b[1] & 0x7F == p[2]:
            off = 12 + (b[0] & 0x0F) * 4
            if b[0] & 0x10 and off + 4 <= n:
                off += 4 + (b[off + 2] << 8 | b[off + 3]) * 4
            if off + 4 <= n:
                return self.input.receive(b, 0, off, n - off)
        return 0  # r == 0: the jitter buffer counts what it drops (late, duplicate, ...)

    def get(self, now):
        """Fill `buf` with the frame to play now; returns the jitter buffer's gain (256 a
        received frame, 192/128/64 concealment, 0 silence)."""
        jb = self.jitter
        g = jb.get(now)
        out = self.buf
        n = self.params[3] * 8
        if g == 0:
            for i in range(2 * n):
                out[i] = 0
            return 0
        decode(self.params[0], jb.buf, jb.pos, n, out)
        if g < 256:  # concealment: the last frame again, faded (rare: plain Python is fine)
            for i in range(0, 2 * n, 2):
                v = out[i] | out[i + 1] << 8
                if v & 0x8000:
                    v -= 0x10000
                v = (v * g) >> 8
                out[i] = v & 0xFF
                out[i + 1] = (v >> 8) & 0xFF
        return g

    def dtmf(self, text):
        """Queue the digits of text ("0-9*#A-D") to send as RFC 4733 events; False when the
        peer did not accept telephone-event. ValueError (queueing none) for a character that is not
        a digit, or more than 32 waiting."""
        p = self.params
        if p[2] < 0:
            return False
        if self.events is None:  # the sender is set-up code: it stays while digits go out
            self.events = load(b"tinysip.voicesetup Sender")(p[3] if p[3] >= 50 else 50)
            drop("tinysip.voicesetup")
        self.events.send(text)
        return True

    def report(self, now, wall):
        """Our RTCP compound packet when one is due (in rtcp.buf): its length, else 0."""
        c = self.rtcp
        if now < c.next:
            return 0
        st = self.state
        sent = None
        if st[_NPK]:  # an SR: the RTP timestamp of the next frame stands for "now"
            sent = (st[_THI], st[_TLO], st[_NPK], st[_NOCT])
        n = c.build(now, wall, self.jitter.report(), sent)
        if self.srtp is not None:
            n = self.srtp[0].protect_rtcp(c.buf, n)
        return n

    def parse(self, n, now, wall, b=None):
        """An RTCP datagram (rx[0:n], or b[0:n]) arrived: checked and read (SRTCP first)."""
        if b is None:
            b = self.rx
        if self.srtp is not None:
            n = self.srtp[1].unprotect_rtcp(b, n)
            if n < 0:
                self.state[_NBAD] += 1
                return
        if self.rtcp.parse(b, n, now, now if wall is None else wall):
            self.state[_NBAD] += 1


# G.711 (formerly tinysip.g711, and RFC 4733 below formerly tinysip.dtmf: in this module
# since each module costs the phone 2-3 interned names for good, see docs/benchmarks.md)
#
# G.711 at 8 kHz: PCMU (mu-law) and PCMA (A-law), buffer to buffer, allocating nothing.
#
# Owns: turning 16-bit linear PCM (signed, little-endian, as I2S and WAV give it) into 8-bit
# G.711 codes and back, in buffers the caller preallocated: encode() writes the codes where
# the RTP payload goes (after the header, so the packet is built in place), decode() writes
# PCM into the playout buffer. It does not packetize, time or conceal anything (the media
# layer does) and knows no sockets.
#
# The codecs (ITU-T G.711 (11/88): Table 1 A-law, Table 2 mu-law; RFC 3551 §4.5.14: payload
# types 0 PCMU and 8 PCMA, one octet per sample, first sample first). Results equal the
# ITU-T/Sun reference (CPython's audioop) for every 16-bit input and every code (test_g711):
# - mu-law takes the top 14 bits, clips the magnitude at 8158, adds the bias 33 and sends
#   segment (3 bits) and the 4 bits after the leading one, all bits inverted (0 -> 0xFF);
# - A-law takes the top 13 bits (negative x as -x - 1), segment and 4 bits as mu-law without
#   bias, even bits inverted (0 -> 0xD5).
#
# Memory (64-bit unix port, measured): one 1,280-byte table as a bytes constant, the segment
# of a magnitude (256 B) and the 16-bit value of every code of each law (2 x 512 B,
# little-endian: decoding is two byte copies). Run in place from ROMFS the constant stays in
# flash and the import keeps 0.9 KB of heap, 1.3 KB less than with the table computed at
# import (test_g711 rebuilds it from the G.711 formulas). An encode table (4-16 KB) would not
# pay on a 56 KB heap: encoding is a segment look-up and a shift.
# Speed: on MicroPython with a native emitter the loops run as viper code, compiled at import
# from the source string at the end (a decorated function would need mpy-cross -march, and
# one .mpy serves every port): ~15x faster per frame than the plain loops, for 0.2 KB more
# kept and ~6 KB of passing heap while it compiles. Without an emitter, or if the compile
# fails (MemoryError on a crowded heap), the plain loops run, with the same results (the
# tests run both). Figures: tools/bench/voice_codec.py.
#
# One kernel does both ways, f = offset << 2 | decode << 1 | law (law 0 mu-law, 1 A-law):
# viper functions take at most four arguments, and the checks in encode()/decode() keep it
# inside the buffers. Names (arguments included) are ones the phone already interns: each
# new one would cost it heap for good (docs/benchmarks.md).

_PCMU = const(0)  # RTP payload types (RFC 3551 §6)
_PCMA = const(8)


_T = (
    # [0:256] segment of a magnitude by its top 8 bits: bit length - 1 (0 for 0 and 1)
    b"\x00\x00\x01\x01\x02\x02\x02\x02\x03\x03\x03\x03\x03\x03\x03\x03"
    b"\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04"
    b"\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05"
    b"\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05"
    b"\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06"
    b"\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06"
    b"\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06"
    b"\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06\x06"
    b"\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07"
    b"\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07"
    b"\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07"
    b"\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07"
    b"\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07"
    b"\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07"
    b"\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07"
    b"\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07"
    # [256:768] mu-law code -> 16-bit value, little-endian
    b"\x84\x82\x84\x86\x84\x8a\x84\x8e\x84\x92\x84\x96\x84\x9a\x84\x9e\x84\xa2\x84\xa6\x84\xaa"
    b"\x84\xae\x84\xb2\x84\xb6\x84\xba\x84\xbe\x84\xc1\x84\xc3\x84\xc5\x84\xc7\x84\xc9\x84\xcb"
    b"\x84\xcd\x84\xcf\x84\xd1\x84\xd3\x84\xd5\x84\xd7\x84\xd9\x84\xdb\x84\xdd\x84\xdf\x04\xe1"
    b"\x04\xe2\x04\xe3\x04\xe4\x04\xe5\x04\xe6\x04\xe7\x04\xe8\x04\xe9\x04\xea\x04\xeb\x04\xec"
    b"\x04\xed\x04\xee\x04\xef\x04\xf0\xc4\xf0\x44\xf1\xc4\xf1\x44\xf2\xc4\xf2\x44\xf3\xc4\xf3"
    b"\x44\xf4\xc4\xf4\x44\xf5\xc4\xf5\x44\xf6\xc4\xf6\x44\xf7\xc4\xf7\x44\xf8\xa4\xf8\xe4\xf8"
    b"\x24\xf9\x64\xf9\xa4\xf9\xe4\xf9\x24\xfa\x64\xfa\xa4\xfa\xe4\xfa\x24\xfb\x64\xfb\xa4\xfb"
    b"\xe4\xfb\x24\xfc\x64\xfc\x94\xfc\xb4\xfc\xd4\xfc\xf4\xfc\x14\xfd\x34\xfd\x54\xfd\x74\xfd"
    b"\x94\xfd\xb4\xfd\xd4\xfd\xf4\xfd\x14\xfe\x34\xfe\x54\xfe\x74\xfe\x8c\xfe\x9c\xfe\xac\xfe"
    b"\xbc\xfe\xcc\xfe\xdc\xfe\xec\xfe\xfc\xfe\x0c\xff\x1c\xff\x2c\xff\x3c\xff\x4c\xff\x5c\xff"
    b"\x6c\xff\x7c\xff\x88\xff\x90\xff\x98\xff\xa0\xff\xa8\xff\xb0\xff\xb8\xff\xc0\xff\xc8\xff"
    b"\xd0\xff\xd8\xff\xe0\xff\xe8\xff\xf0\xff\xf8\xff\x00\x00\x7c\x7d\x7c\x79\x7c\x75\x7c\x71"
    b"\x7c\x6d\x7c\x69\x7c\x65\x7c\x61\x7c\x5d\x7c\x59\x7c\x55\x7c\x51\x7c\x4d\x7c\x49\x7c\x45"
    b"\x7c\x41\x7c\x3e\x7c\x3c\x7c\x3a\x7c\x38\x7c\x36\x7c\x34\x7c\x32\x7c\x30\x7c\x2e\x7c\x2c"
    b"\x7c\x2a\x7c\x28\x7c\x26\x7c\x24\x7c\x22\x7c\x20\xfc\x1e\xfc\x1d\xfc\x1c\xfc\x1b\xfc\x1a"
    b"\xfc\x19\xfc\x18\xfc\x17\xfc\x16\xfc\x15\xfc\x14\xfc\x13\xfc\x12\xfc\x11\xfc\x10\xfc\x0f"
    b"\x3c\x0f\xbc\x0e\x3c\x0e\xbc\x0d\x3c\x0d\xbc\x0c\x3c\x0c\xbc\x0b\x3c\x0b\xbc\x0a\x3c\x0a"
    b"\xbc\x09\x3c\x09\xbc\x08\x3c\x08\xbc\x07\x5c\x07\x1c\x07\xdc\x06\x9c\x06\x5c\x06\x1c\x06"
    b"\xdc\x05\x9c\x05\x5c\x05\x1c\x05\xdc\x04\x9c\x04\x5c\x04\x1c\x04\xdc\x03\x9c\x03\x6c\x03"
    b"\x4c\x03\x2c\x03\x0c\x03\xec\x02\xcc\x02\xac\x02\x8c\x02\x6c\x02\x4c\x02\x2c\x02\x0c\x02"
    b"\xec\x01\xcc\x01\xac\x01\x8c\x01\x74\x01\x64\x01\x54\x01\x44\x01\x34\x01\x24\x01\x14\x01"
    b"\x04\x01\xf4\x00\xe4\x00\xd4\x00\xc4\x00\xb4\x00\xa4\x00\x94\x00\x84\x00\x78\x00\x70\x00"
    b"\x68\x00\x60\x00\x58\x00\x50\x00\x48\x00\x40\x00\x38\x00\x30\x00\x28\x00\x20\x00\x18\x00"
    b"\x10\x00\x08\x00\x00\x00"
    # [768:1280] A-law code -> 16-bit value, little-endian
    b"\x80\xea\x80\xeb\x80\xe8\x80\xe9\x80\xee\x80\xef\x80\xec\x80\xed\x80\xe2\x80\xe3\x80\xe0"
    b"\x80\xe1\x80\xe6\x80\xe7\x80\xe4\x80\xe5\x40\xf5\xc0\xf5\x40\xf4\xc0\xf4\x40\xf7\xc0\xf7"
    b"\x40\xf6\xc0\xf6\x40\xf1\xc0\xf1\x40\xf0\xc0\xf0\x40\xf3\xc0\xf3\x40\xf2\xc0\xf2\x00\xaa"
    b"\x00\xae\x00\xa2\x00\xa6\x00\xba\x00\xbe\x00\xb2\x00\xb6\x00\x8a\x00\x8e\x00\x82\x00\x86"
    b"\x00\x9a\x00\x9e\x00\x92\x00\x96\x00\xd5\x00\xd7\x00\xd1\x00\xd3\x00\xdd\x00\xdf\x00\xd9"
    b"\x00\xdb\x00\xc5\x00\xc7\x00\xc1\x00\xc3\x00\xcd\x00\xcf\x00\xc9\x00\xcb\xa8\xfe\xb8\xfe"
    b"\x88\xfe\x98\xfe\xe8\xfe\xf8\xfe\xc8\xfe\xd8\xfe\x28\xfe\x38\xfe\x08\xfe\x18\xfe\x68\xfe"
    b"\x78\xfe\x48\xfe\x58\xfe\xa8\xff\xb8\xff\x88\xff\x98\xff\xe8\xff\xf8\xff\xc8\xff\xd8\xff"
    b"\x28\xff\x38\xff\x08\xff\x18\xff\x68\xff\x78\xff\x48\xff\x58\xff\xa0\xfa\xe0\xfa\x20\xfa"
    b"\x60\xfa\xa0\xfb\xe0\xfb\x20\xfb\x60\xfb\xa0\xf8\xe0\xf8\x20\xf8\x60\xf8\xa0\xf9\xe0\xf9"
    b"\x20\xf9\x60\xf9\x50\xfd\x70\xfd\x10\xfd\x30\xfd\xd0\xfd\xf0\xfd\x90\xfd\xb0\xfd\x50\xfc"
    b"\x70\xfc\x10\xfc\x30\xfc\xd0\xfc\xf0\xfc\x90\xfc\xb0\xfc\x80\x15\x80\x14\x80\x17\x80\x16"
    b"\x80\x11\x80\x10\x80\x13\x80\x12\x80\x1d\x80\x1c\x80\x1f\x80\x1e\x80\x19\x80\x18\x80\x1b"
    b"\x80\x1a\xc0\x0a\x40\x0a\xc0\x0b\x40\x0b\xc0\x08\x40\x08\xc0\x09\x40\x09\xc0\x0e\x40\x0e"
    b"\xc0\x0f\x40\x0f\xc0\x0c\x40\x0c\xc0\x0d\x40\x0d\x00\x56\x00\x52\x00\x5e\x00\x5a\x00\x46"
    b"\x00\x42\x00\x4e\x00\x4a\x00\x76\x00\x72\x00\x7e\x00\x7a\x00\x66\x00\x62\x00\x6e\x00\x6a"
    b"\x00\x2b\x00\x29\x00\x2f\x00\x2d\x00\x23\x00\x21\x00\x27\x00\x25\x00\x3b\x00\x39\x00\x3f"
    b"\x00\x3d\x00\x33\x00\x31\x00\x37\x00\x35\x58\x01\x48\x01\x78\x01\x68\x01\x18\x01\x08\x01"
    b"\x38\x01\x28\x01\xd8\x01\xc8\x01\xf8\x01\xe8\x01\x98\x01\x88\x01\xb8\x01\xa8\x01\x58\x00"
    b"\x48\x00\x78\x00\x68\x00\x18\x00\x08\x00\x38\x00\x28\x00\xd8\x00\xc8\x00\xf8\x00\xe8\x00"
    b"\x98\x00\x88\x00\xb8\x00\xa8\x00\x60\x05\x20\x05\xe0\x05\xa0\x05\x60\x04\x20\x04\xe0\x04"
    b"\xa0\x04\x60\x07\x20\x07\xe0\x07\xa0\x07\x60\x06\x20\x06\xe0\x06\xa0\x06\xb0\x02\x90\x02"
    b"\xf0\x02\xd0\x02\x30\x02\x10\x02\x70\x02\x50\x02\xb0\x03\x90\x03\xf0\x03\xd0\x03\x30\x03"
    b"\x10\x03\x70\x03\x50\x03"
)


def encode(kind, src, n, buf, off):
    """Encode n samples of src (16-bit signed little-endian PCM from byte 0) into n codes at
    buf[off:off + n]; kind the payload type, 0 PCMU or 8 PCMA. Returns off + n: the packet
    length when off is the RTP header's. Nothing is allocated."""
    _run(src, n, buf, _check(kind, n, len(src) >> 1, off, len(buf), buf))
    return off + n


def decode(kind, src, off, n, buf):
    """Decode the n codes at src[off:off + n] into 16-bit signed little-endian PCM at
    buf[0:2 * n]; kind 0 PCMU, 8 PCMA. Returns 2 * n (bytes written). Nothing is
    allocated."""
    _run(src, n, buf, _check(kind, n, len(buf) >> 1, off, len(src), buf) | 2)
    return n * 2


def _check(kind, n, s, off, t, buf):
    """The kernel's flags (off << 2 | law; | 2 decodes) for payload type `kind`, once n
    samples and the codes from off are known to fit a PCM buffer of s samples and a code
    buffer of t bytes, and the output buf is not bytes (viper code would write into it
    regardless); ValueError or TypeError (our caller's bug) if not."""
    if isinstance(buf, bytes):
        raise TypeError(nth(_REASONS, 0))
    if kind != _PCMU and kind != _PCMA:
        raise ValueError(nth(_REASONS, 1) % (kind,))
    if n < 0 or off < 0 or n > s or off + n > t:
        raise ValueError(nth(_REASONS, 2) % (n, off, s, t))
    return off << 2 | kind >> 3


# Error texts (G.711, then RFC 4733), one string: a module run in place holds each str
# constant as a heap object; line k is errors.nth(_REASONS, k).
_REASONS = (
    "G.711: the output buffer is bytes; it must be a bytearray or a writable memoryview\n"
    "G.711: payload type %r is neither PCMU (0) nor PCMA (8)\n"
    "G.711: %d samples at code offset %d overrun the buffers (room for %d samples, %d codes)\n"
    "RFC 4733: event %r is not 0-255\nRFC 4733: volume %r is not 0-63 (-dBm0)\n"
    "RFC 4733: duration %r is not 0-65535 samples\n"
    "RFC 4733: a %d-byte payload holds no 4-byte event report\n"
    "RFC 4733: need 0 < step (%r ms) <= tone length (%r ms) <= 8191 ms\n"
    "DTMF: %r holds a character that is not 0-9 * # A-D\n"
    "DTMF: %d digits are waiting; %d more overflow the queue of %d")


# The kernel: f = off << 2 | decode << 1 | law (0 mu-law, 1 A-law); encode reads PCM from
# src[0:] and writes codes at buf[off:], decode reads the codes at src[off:] and writes PCM
# at buf[0:]. One function, named as MicroPython's own `_run`: every name in it is one
# MicroPython has built in or the phone already has, since the viper copy is compiled from
# source and its compiler interns each name it meets for good.
_raw = True  # the plain loops run (tinysip.plain); False once the viper ones compiled
if MICROPYTHON:
    try:  # the loops as viper code (machine ints, raw byte pointers)
        exec("""
@micropython.viper
def _run(src: ptr8, n: int, buf: ptr8, f: int):
    t = ptr8(_T)
    s = 0
    off = f >> 2
    end = off + n
    if f & 2:
        r = 256 + ((f & 1) << 9)
        while off < end:
            v = r + (src[off] << 1)
            buf[s] = t[v]
            buf[s + 1] = t[v + 1]
            s += 2
            off += 1
        return
    while off < end:
        v = src[s + 1] << 8 | src[s]
        s += 2
        if f & 1:
            r = 0xD5
            if v & 0x8000:
                v = 0xFFFF - v
                r = 0x55
            v >>= 3
            e = t[v >> 4]
            n = e
            if n == 0:
                n = 1
        else:
            r = 0xFF
            if v & 0x8000:
                v = 16417 - (v >> 2)
                r = 0x7F
            else:
                v = (v >> 2) + 33
            if v > 8191:
                v = 8191
            e = t[v >> 5]
            n = e + 1
        buf[off] = (e << 4 | v >> n & 15) ^ r
        off += 1
""", globals())
        _raw = False
    except Exception:  # noqa: BLE001 - no compiler or no native emitter here, or no heap
        pass
if _raw:  # CPython, or no viper here: the plain loops
    _run = load(b"tinysip.plain _run")


# RFC 4733 telephone-events (formerly tinysip.dtmf)
#
# RFC 4733 telephone-events for DTMF: payloads in place, a sender and a receiver.
#
# Owns: the 4-byte event payload (§2.3), the schedule of event packets that sends queued
# digits (§2.5.1) and the digits a received event stream stands for (§2.5.2). It must not do
# I/O or read a clock: the caller passes `now` (integer ms) and its buffers, and wraps the
# payload in the RTP header itself (the telephone-event PT from the SDP, the audio stream's
# SSRC, one sequence number per packet sent, retransmissions included, §2.5.1.6). Nothing is
# allocated per packet.
#
# Payload (§2.3): event (8 bits; DTMF §3.2: 0-9, * 10, # 11, A-D 12-15), E (the event
# ended), R (0), volume (6 bits, the tone's power in -dBm0, §2.3.4), duration (16 bits, in
# timestamp units: samples of the 8 kHz clock every telephone-event/8000 stream uses).
#
# Sender (§2.5.1.2-4; in tinysip.voicesetup, loaded while digits go out), one state per row; poll(now) acts when its packet is due (one step,
# the update interval, after the previous packet; the caller polls every ptime):
#
#     state | due poll                                           | next state
#     IDLE  | a digit queued: first packet, M=1, duration one    | TONE (END if the tone is
#           | step; the event's timestamp is this tick's         | no longer than that)
#     TONE  | update: duration = time since the first + a step   | TONE
#           | that reaches the tone length: final packet, E=1,   | END
#           | duration = the tone length                         |
#     END   | the final packet again, same timestamp (§2.5.1.4:  | IDLE after the 3rd; the
#           | three in all)                                      | next digit a step on and
#           |                                                    | 50 ms after the tone
#
# The tone length stays under 65,536 samples (8.19 s), so events are never segmented
# (§2.5.1.3), and no packet says 0 (the first covers its step, like an audio packet). With
# the step at the audio ptime every tick of an event carries an event packet, not audio.
#
# Receiver (§2.5.2): every packet of one event carries the event's start as its RTP
# timestamp (§2.5.1.2), so the timestamp is the key. receive() reports a digit the first time
# its timestamp is seen, whichever packet of the event arrives first (a lost M=1 packet loses
# nothing); packets with that timestamp again (updates, the three end packets, duplicates)
# and late packets of an earlier event (up to 65,536 samples before it: reordering; reported
# already, or too late to report in order) report nothing. A new timestamp with the same
# event, starting inside the last one's duration, is the next segment of a long event
# (§2.5.1.3), not a new digit. A jump further back (a new source) starts afresh. Only a
# packet's first report is read (§2.5.1.5 allows several); events 16-255 are no digits.

_DIGITS = const(b"0123456789*#ABCD")  # event code -> digit (§3.2)


class Receiver:
    """The digits of one received telephone-event stream, each reported once (see the
    module comment). `state`: whether an event was seen, its RTP timestamp (high and low
    16 bits: small ints on every port), event code and longest duration."""

    def receive(self, buf, head, off, n):
        """Take one telephone-event packet: its RTP header at buf[head], its n payload bytes
        at buf[off]. Returns the digit it starts as an ASCII code (0x30-0x39 "0"-"9", 0x2A
        "*", 0x23 "#", 0x41-0x44 "A"-"D"), or 0: nothing new (or a payload shorter than an
        event report: dropped)."""
        if n < 4:
            return 0
        thi = buf[head + 4] << 8 | buf[head + 5]
        tlo = buf[head + 6] << 8 | buf[head + 7]
        e = buf[off]
        d = buf[off + 2] << 8 | buf[off + 3]
        st = self.state
        if st[0]:
            lo = tlo - st[2]  # timestamp - the last one, mod 2**32, as 16-bit halves
            hi = (thi - st[1] - (1 if lo < 0 else 0)) & 0xFFFF
            lo &= 0xFFFF
            if hi == 0 and lo == 0:  # the current event again
                if d > st[4]:
                    st[4] = d
                return 0
            if hi == 0xFFFF:  # up to 65,536 samples earlier: a late packet
                return 0
            if hi == 0 and e == st[3] and lo <= st[4]:  # its next segment (§2.5.1.3)
                st[1] = thi
                st[2] = tlo
                st[4] = d
                return 0
        st[0] = 1
        st[1] = thi
        st[2] = tlo
        st[3] = e
        st[4] = d
        return _DIGITS[e] if e < 16 else 0
