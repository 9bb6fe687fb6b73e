"""RFC 4733 telephone-events for DTMF: payloads in place, a sender and a receiver.

Owns: the 4-byte event payload (§2.3), the schedule of event packets that sends queued
digits (§2.5.1) and the digits a received event stream stands for (§2.5.2). It must not do
I/O or read a clock: the caller passes `now` (integer ms) and its buffers, and wraps the
payload in the RTP header itself (the telephone-event PT from the SDP, the audio stream's
SSRC, one sequence number per packet sent, retransmissions included, §2.5.1.6). Nothing is
allocated per packet.

Payload (§2.3): event (8 bits; DTMF §3.2: 0-9, * 10, # 11, A-D 12-15), E (the event
ended), R (0), volume (6 bits, the tone's power in -dBm0, §2.3.4), duration (16 bits, in
timestamp units: samples of the 8 kHz clock every telephone-event/8000 stream uses).

Sender (§2.5.1.2-4), one state per row; poll(now) acts when its packet is due (one step,
the update interval, after the previous packet; the caller polls every ptime):

    state | due poll                                           | next state
    IDLE  | a digit queued: first packet, M=1, duration one    | TONE (END if the tone is
          | step; the event's timestamp is this tick's         | no longer than that)
    TONE  | update: duration = time since the first + a step   | TONE
          | that reaches the tone length: final packet, E=1,   | END
          | duration = the tone length                         |
    END   | the final packet again, same timestamp (§2.5.1.4:  | IDLE after the 3rd; the
          | three in all)                                      | next digit a step on and
          |                                                    | 50 ms after the tone

The tone length stays under 65,536 samples (8.19 s), so events are never segmented
(§2.5.1.3), and no packet says 0 (the first covers its step, like an audio packet). With
the step at the audio ptime every tick of an event carries an event packet, not audio.

Receiver (§2.5.2): every packet of one event carries the event's start as its RTP
timestamp (§2.5.1.2), so the timestamp is the key. receive() reports a digit the first time
its timestamp is seen, whichever packet of the event arrives first (a lost M=1 packet loses
nothing); packets with that timestamp again (updates, the three end packets, duplicates)
and late packets of an earlier event (up to 65,536 samples before it: reordering; reported
already, or too late to report in order) report nothing. A new timestamp with the same
event, starting inside the last one's duration, is the next segment of a long event
(§2.5.1.3), not a new digit. A jump further back (a new source) starts afresh. Only a
packet's first report is read (§2.5.1.5 allows several); events 16-255 are no digits.
"""
from tinysip.compat import const

_DIGITS = const(b"0123456789*#ABCD")  # event code -> digit (§3.2)

_IDLE = const(0)
_TONE = const(1)
_END = const(2)
_QMAX = const(32)  # digits queued at most (a power of 2)
_PAUSE = const(50)  # ms of silence at least between two tones, so they stay two digits
_PAST = const(-0x20000000)  # "due long ago": a small int on 32-bit ports too
# Sender.state: phase, event, first packet's time, next due time, duration, end packets
# sent, queue head, queued count, step (ms), tone length (ms), volume
_PH = const(0)
_EV = const(1)
_T0 = const(2)
_DUE = const(3)
_DUR = const(4)
_ENDS = const(5)
_HEAD = const(6)
_N = const(7)
_STEP = const(8)
_LEN = const(9)
_VOL = const(10)


def pack(buf, off, event, end, v, length):
    """Write one event report at buf[off:off + 4] (§2.3): end the E bit, v the volume,
    length the duration (samples). Returns off + 4. ValueError names a field out of range
    (our caller's bug)."""
    if not 0 <= event <= 255:
        raise ValueError("RFC 4733: event %r is not 0-255" % (event,))
    if not 0 <= v <= 63:
        raise ValueError("RFC 4733: volume %r is not 0-63 (-dBm0)" % (v,))
    if not 0 <= length <= 0xFFFF:
        raise ValueError("RFC 4733: duration %r is not 0-65535 samples" % (length,))
    buf[off] = event
    buf[off + 1] = (0x80 if end else 0) | v
    buf[off + 2] = length >> 8
    buf[off + 3] = length & 0xFF
    return off + 4


def unpack(buf, off, n):
    """(event, end, volume, duration) of the first report in the n payload bytes at off;
    ValueError if n is shorter than a report (the peer's malformed packet). Allocates
    the tuple: Receiver.receive() reads the fields itself."""
    if n < 4:
        raise ValueError("RFC 4733: a %d-byte payload holds no 4-byte event report" % n)
    b = buf[off + 1]
    return buf[off], b & 0x80 != 0, b & 0x3F, buf[off + 2] << 8 | buf[off + 3]


class Sender:
    """Sends queued DTMF digits as telephone-events. step: ms between the packets of an
    event (the audio ptime, §2.5.1.2; 50 without audio); length: ms each tone lasts;
    v: the volume, 0-63 (-dBm0; 10 is the usual -10 dBm0). (Argument names are ones
    MicroPython has built in: each new one would be interned on the phone for good.)"""

    def __init__(self, step=50, length=100, v=10):
        if not 0 < step <= length <= 8191:
            raise ValueError("RFC 4733: need 0 < step (%r ms) <= tone length (%r ms) "
                             "<= 8191 ms" % (step, length))
        if not 0 <= v <= 63:
            raise ValueError("RFC 4733: volume %r is not 0-63 (-dBm0)" % (v,))
        self.state = [_IDLE, 0, 0, _PAST, 0, 0, 0, 0, step, length, v]
        self.buf = bytearray(_QMAX)  # queued event codes, a ring

    def send(self, data):
        """Queue the digits in data ("0-9", "*", "#", "A-D", lower case too; str or bytes)
        to send in turn. ValueError, queueing none of them, for any other character or more
        than 32 digits waiting."""
        if isinstance(data, str):
            data = data.encode()
        codes = [_DIGITS.find(c) for c in data.upper()]
        if -1 in codes:
            raise ValueError("DTMF: %r holds a character that is not 0-9 * # A-D" % (data,))
        st = self.state
        if st[_N] + len(codes) > _QMAX:
            raise ValueError("DTMF: %d digits are waiting; %d more overflow the queue of %d"
                             % (st[_N], len(codes), _QMAX))
        for e in codes:
            self.buf[(st[_HEAD] + st[_N]) & (_QMAX - 1)] = e
            st[_N] += 1

    def next_timer(self):
        """When poll() has a packet to send (ms; maybe already past), or None."""
        st = self.state
        return None if st[_PH] == _IDLE and not st[_N] else st[_DUE]

    def poll(self, now, buf, off):
        """Write the packet due at `now`, if any, as a 4-byte payload at buf[off]. Returns
        0: nothing to send (send audio); 1: a packet of the current event (M=0, the event's
        RTP timestamp); 2: the first packet of a digit (M=1, and this tick's RTP timestamp
        becomes the event's)."""
        st = self.state
        if now < st[_DUE] or st[_PH] == _IDLE and not st[_N]:
            return 0
        iv = st[_STEP]
        r = 1
        if st[_PH] == _IDLE:
            h = st[_HEAD]
            st[_EV] = self.buf[h]
            st[_HEAD] = (h + 1) & (_QMAX - 1)
            st[_N] -= 1
            st[_T0] = now
            st[_DUE] = now
            st[_PH] = _TONE
            r = 2
        if st[_PH] == _TONE:
            d = (now - st[_T0] + iv) * 8
            if d >= st[_LEN] * 8:
                d = st[_LEN] * 8
                st[_PH] = _END
                st[_ENDS] = 0
            st[_DUR] = d
        due = st[_DUE] + iv
        st[_DUE] = due if due > now else now + iv
        end = st[_PH] == _END
        if end:
            st[_ENDS] += 1
            if st[_ENDS] == 3:  # the next digit: a step on, and after a pause
                st[_PH] = _IDLE
                due = st[_T0] + st[_LEN] + _PAUSE
                if due > st[_DUE]:
                    st[_DUE] = due
        pack(buf, off, st[_EV], end, st[_VOL], st[_DUR])
        return r


class Receiver:
    """The digits of one received telephone-event stream, each reported once (see the
    module comment). `state`: whether an event was seen, its RTP timestamp (high and low
    16 bits: small ints on every port), event code and longest duration."""

    def __init__(self):
        self.state = [0, 0, 0, 0, 0]

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
