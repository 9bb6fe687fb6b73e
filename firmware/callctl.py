"""The phone's call controls: place, answer, end calls and send digits, on the running
phone (firmware/app.py's UA and driver). Loaded with the first use, so an idle phone
carries none of these names (each one costs its heap, see docs/benchmarks.md).

From a REPL (mpremote exec) or a script on the device:

    import callctl
    callctl.call("sip:bob@example.net")   # -> call id
    callctl.answer()                      # the ringing call
    callctl.dtmf(call_id, "159#")
    callctl.hold()                        # and callctl.resume(): re-INVITEs (call_held)
    callctl.hangup()

The host board reads the same as lines on stdin (command()); ESP32 boards answer or hang up
with the call button (firmware/esp32board.py).
"""
import app
import board


def audio(cfg, ptime):
    """(microphone, speaker) for a voice call at ptime ms: the board's I2S parts (ESP32,
    when board.I2S is set: tinysip.io.i2s), else config audio.mic ("tone:<Hz>", or a 16-bit
    8 kHz mono WAV file, looped) and audio.speaker (a WAV file the call is recorded
    into); None for either: silence is sent, nothing is played."""
    if getattr(board, "I2S", None):
        from tinysip.io.i2s import audio as i2s_audio

        return i2s_audio(board, ptime) or (None, None)
    from tinysip.io.wav import ToneSource, WavSink, WavSource

    v = cfg.voice
    mic = spk = None
    if v[3]:
        mic = ToneSource(int(v[3][5:]), 8000, ptime) if v[3][:5] == "tone:" else \
            WavSource(v[3], True, ptime)
    if v[4]:
        spk = WavSink(v[4], ptime)
    return mic, spk


def _now():
    return app._clock.now()


def ringing():
    """The id of a call that rings (not yet being answered), or None."""
    for cid, e in app._ua.calls.items():
        if e[4] != "out" and e[0].state == 0 and not e[5]:  # invite.py's RINGING
            return cid
    return None


def call(target):
    """Call `target` (a SIP URI) with voice: G.711 in config media.codecs order, SRTP per
    media.srtp, the board's audio. Returns the call id (events: call_outgoing, ...
    call_connected, call_ended), or None when no flow is registered."""
    from tinysip.io.voiceport import call as place

    return place(app._driver, target.encode() if isinstance(target, str) else target)


def answer(call_id=None):
    """Answer the ringing call (call_id, or the one that rings): a loopback offer is
    mirrored, any other is a voice call. True when answering started."""
    cid = call_id or ringing()
    return cid is not None and app._ua.answer(cid, _now())


def hangup(call_id=None):
    """End a call (BYE, CANCEL, or 486 while it rings): call_id, else every call."""
    ua = app._ua
    ok = False
    for cid in [call_id] if call_id else list(ua.calls):
        e = ua.calls.get(cid)
        if e is not None and e[4] != "out" and e[0].state == 0:
            ok = ua.reject(cid, _now()) or ok
        else:
            ok = ua.hangup(cid, _now()) or ok
    return ok


def _running(call_id):
    """call_id, else the first call whose voice media runs (None: none)."""
    if call_id:
        return call_id
    for cid, e in app._ua.calls.items():
        if type(e[3]) is list:  # a voice call's params: its media runs
            return cid
    return None


def hold(call_id=None):
    """Put a voice call on hold (call_id, else the running one): a re-INVITE with our offer
    sendonly (RFC 3264 §8.4); `call_held` follows with the direction and the status. True
    when the re-INVITE went out."""
    cid = _running(call_id)
    return cid is not None and app._ua.hold(cid, _now())


def resume(call_id=None):
    """Take a call we hold off hold (our offer sendrecv again), as hold()."""
    cid = _running(call_id)
    return cid is not None and app._ua.resume(cid, _now())


def dtmf(call_id, digits):
    """Send digits ("0-9*#A-D") on a running voice call as RFC 4733 events; False when it
    has no voice media running or its peer took no telephone-event."""
    v = getattr(app._driver.media.get(call_id), "voice", None)
    return v is not None and v.dtmf(digits)


def command(line):
    """One control line: answer [call_id] | hangup [call_id] | call <uri> |
    hold [call_id] | resume [call_id] | dtmf <call_id> <digits>. Anything else is said on
    stderr and ignored."""
    f = line.split()
    if not f:
        return None
    cid = f[1].encode() if len(f) > 1 else None
    if f[0] == "answer":
        return answer(cid)
    if f[0] == "hangup":
        return hangup(cid)
    if f[0] == "call" and cid:
        return call(cid)
    if f[0] == "hold":
        return hold(cid)
    if f[0] == "resume":
        return resume(cid)
    if f[0] == "dtmf" and len(f) == 3:
        return dtmf(cid, f[2])
    import sys

    sys.stderr.write("tinysip: command %r is not answer/hangup/call/hold/resume/dtmf\n"
                     % line.strip())
    return None
