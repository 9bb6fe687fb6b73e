"""Voice calls between the phone and baresip 1.0.0 through the lab's Kamailio (issue 17): the
harness of test_voice_baresip.py and tools/call_demo.py (no pytest in here).

Each side sends its own sine from the moment the call is answered and records what it
receives: the phone's microphone is config audio.mic "tone:<PHONE_HZ>" and its speaker a
WAV file (audio.speaker, io.wav.WavSink: the listener's timeline, a frame of silence where
nothing was there to play); baresip's source is ausine at BARESIP_HZ and its sndfile filter
writes what it decodes (one frame per RTP packet received) and what it encodes. Neither
tone is a multiple of 50 Hz, so tools/audio_check.py can tell a repeated 20 ms frame from
the tone.

    lab = start_lab(workdir, port_base)                       # a Lab (tools/lab)
    b = start_baresip(workdir, lab, "srtp", answermode="auto")
    p = start_phone(workdir, lab, "srtp", port=42400)
    r = outgoing(p, b, seconds=3)                             # or incoming(p, b, lab, ...)
    print(report(r))                                          # the audio_check summaries
    problems(r)                                               # [] when every check held

MODES: the phone's media.srtp, baresip's account mediaenc and whether SRTP must be on:
"srtp" (required / srtp-mand: RTP/SAVP), "sdes-optional" (optional / srtp: RTP/AVP with
a=crypto on both sides, which agree on SRTP), "plain" (off / none) and "plain-optional"
(optional / none: baresip ignores our a=crypto, or offers none). SRTP in use is told
by baresip's CALL_MENC event (its srtp module saying "SRTP is Enabled" for the stream),
plain RTP by its absence; tones that decode on both sides prove both ends used the same.
"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
for _p in (HERE, os.path.join(REPO, "tools", "lab"), os.path.join(REPO, "tools")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import audio_check  # noqa: E402  (tools/audio_check.py)
from baresip import Baresip  # noqa: E402
from lab import Lab  # noqa: E402  (tools/lab/lab.py)
from phone import Phone, lab_config, logs_on_failure  # noqa: E402,F401

PHONE_HZ = 440  # the phone's tone (audio.mic)
BARESIP_HZ = 1234  # baresip's (ausine)
USERS = {"phone1": "secret1", "tester": "testpw"}
# name -> (the phone's media.srtp, baresip's mediaenc, SRTP expected)
MODES = {
    "srtp": ("required", "srtp-mand", True),
    "sdes-optional": ("optional", "srtp", True),
    "plain": ("off", None, False),
    "plain-optional": ("optional", None, False),  # our a=crypto offered, ignored: plain
}
MIN_SNR_DB = 30.0  # G.711 of a clean tone gives ~37-40 dB; a lost or garbled frame far less
# Frames of a recording's tone allowed to be gaps: the phone's speaker (WavSink) writes a
# frame of silence when its loop runs late by a whole frame (a loaded machine), which is
# scheduling, not the call. A lost, repeated or undecodable packet shows as more.
MAX_GAP_FRAMES = 1
MAX_LOST = 1  # packets the phone may count lost on 127.0.0.1 (call_ended media)


def start_lab(workdir, port_base, **kwargs):
    """A started Lab with the users of these calls (phone1, tester) in workdir."""
    lab = Lab(os.path.join(str(workdir), "lab"), port_base=port_base, users=dict(USERS),
              **kwargs)
    lab.start()
    return lab


def start_baresip(workdir, lab, mode, answermode="manual", **kwargs):
    """baresip as tester@lab.domain: ausine at BARESIP_HZ, sndfile recording, mediaenc per
    MODES[mode]; more Baresip arguments in kwargs (ip, rtp_ports)."""
    return Baresip(workdir, lab, "tester", answermode=answermode, tone_hz=BARESIP_HZ,
                   record=True, mediaenc=MODES[mode][1], **kwargs)


def phone_config(workdir, lab, mode, port, mac="02:00:00:00:0c:17", media=None, **extra):
    """The phone's config for voice calls in `mode`: its tone, its recording
    (<workdir>/phone-<mode>.wav), RTP on even ports port..port+198; `media`: more media.*
    keys (codecs, ptime, ip); `extra`: more lab_config keys (outbound, tls)."""
    speaker = os.path.join(str(workdir), "phone-%s.wav" % mode)
    m = {"ip": "127.0.0.1", "port_min": port, "port_max": port + 198,
         "srtp": MODES[mode][0]}
    m.update(media or {})
    return lab_config(lab, mac, media=m,
                      audio={"mic": "tone:%d" % PHONE_HZ, "speaker": speaker}, **extra)


def start_phone(workdir, lab, mode, port, mac="02:00:00:00:0c:17", timeout=15, media=None,
                wrap=None, **extra):
    """A registered phone (stdin commands on) for voice calls in `mode` (more media.*
    config keys in `media`, more lab_config keys in `extra`); `wrap`: Phone's (run it in
    a network namespace)."""
    cfg = phone_config(workdir, lab, mode, port, mac, media, **extra)
    p = Phone(workdir, cfg, wrap=wrap)
    p.speaker = cfg["audio"]["speaker"]
    p.mode = mode
    p.ptime = cfg["media"].get("ptime", 20)
    try:
        p.wait_for("registered", timeout=timeout)
    except BaseException:
        p.stop()
        raise
    return p


def wait_until(what, check, timeout):
    """check() until it is true (its value returned); AssertionError naming `what` after
    `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError("%s: not within %.0f s" % (what, timeout))
        time.sleep(0.05)


def _media(phone, baresip, r, seconds, dtmf):
    """The call runs: at least `seconds` of media and until baresip has taken one of the
    phone's RTCP (SRTCP) reports (CALL_RTCP, the phone's first comes within 1.25-3.75 s);
    with dtmf=(phone's digits, baresip's digits) each side sends its digits and waits
    until the other heard them all."""
    t0 = time.monotonic()
    if dtmf:
        ours, theirs = dtmf
        time.sleep(0.5)  # the media runs on both sides
        phone.command("dtmf %s %s" % (r["call_id"], ours))
        r["dtmf_at_baresip"] = wait_until(
            "baresip hears %s" % ours,
            lambda: len(baresip.dtmf_heard(r["ev_mark"])) >= len(ours)
            and baresip.dtmf_heard(r["ev_mark"]), 10)
        baresip.send_dtmf(theirs)
        r["dtmf_at_phone"] = wait_until(
            "the phone hears %s" % theirs,
            lambda: len(phone.named("dtmf")[r["dtmf_mark"]:]) >= len(theirs)
            and "".join(e["digit"] for e in phone.named("dtmf")[r["dtmf_mark"]:]), 10)
    r["rtcp"] = baresip.wait_event("CALL_RTCP", start=r["ev_mark"], timeout=seconds + 10)
    left = seconds - (time.monotonic() - t0)
    if left > 0:
        time.sleep(left)


def _hold(phone, baresip, r, seconds):
    """Each side holds the running call for `seconds`, then resumes it: baresip first (its
    menu's hold/resume: re-INVITEs with its offer sendonly, then sendrecv; the phone
    answers recvonly, then sendrecv), then the phone ("hold <call_id>" and "resume
    <call_id>" on its stdin: our offer sendonly, then sendrecv). The phone's call_held
    events, in order, go in r["held"]; `seconds` of media follow the last resume."""
    cid = r["call_id"]
    r["held"] = []
    for who, what, direction in (("baresip", "hold", "recvonly"),
                                 ("baresip", "resume", "sendrecv"),
                                 ("phone", "hold", "sendonly"),
                                 ("phone", "resume", "sendrecv")):
        mark = len(phone.events)
        if who == "baresip":
            got = baresip.command(what)
            assert got.get("ok"), "baresip %s: %r" % (what, got)
        else:
            phone.command("%s %s" % (what, cid))
        r["held"].append(phone.wait_for("call_held", start=mark, timeout=10, call_id=cid,
                                        direction=direction))
        time.sleep(seconds)


def _end(phone, baresip, r, hangup):
    """`hangup` ("phone" or "baresip") sends the BYE; both sides see the call end."""
    if hangup == "phone":
        phone.command("hangup %s" % r["call_id"])
    else:
        baresip.hangup()
    r["ended"] = phone.wait_for("call_ended", start=r["mark"], timeout=10, call_id=r["call_id"])
    r["closed"] = baresip.wait_event("CALL_CLOSED", start=r["ev_mark"], timeout=10)
    menc = [e for e in baresip.events[r["ev_mark"]:] if e.get("type") == "CALL_MENC"]
    r["menc"] = menc[0]["param"] if menc else None
    r["rtcp_last"] = [e for e in baresip.events[r["ev_mark"]:]
                      if e.get("type") == "CALL_RTCP"][-1]
    r["phone_wav"] = phone.speaker
    r["enc_wav"], r["dec_wav"] = wait_recordings(baresip)
    return r


def _start(phone, baresip):
    return {"mark": len(phone.events), "ev_mark": len(baresip.events),
            "dtmf_mark": len(phone.named("dtmf")), "mode": phone.mode, "ptime": phone.ptime}


def incoming(phone, baresip, lab, seconds=3, hangup="baresip", dtmf=None, hold=None):
    """baresip (answermode manual) calls the phone, which rings until the test answers on
    its stdin; media for `seconds`; with hold=s each side holds it s seconds (_hold);
    `hangup` ends it. The call's figures as a dict."""
    r = _start(phone, baresip)
    r["direction"] = "baresip -> phone"
    baresip.dial(lab.aor("phone1"))
    r["incoming"] = phone.wait_for("call_incoming", start=r["mark"], timeout=10)
    r["call_id"] = r["incoming"]["call_id"]
    r["ringing"] = baresip.wait_event("CALL_RINGING", start=r["ev_mark"], timeout=10)
    phone.command("answer")
    r["answered"] = phone.wait_for("call_answered", start=r["mark"], timeout=10,
                                   call_id=r["call_id"])
    return _established(phone, baresip, r, seconds, dtmf, hold, hangup)


def _established(phone, baresip, r, seconds, dtmf, hold, hangup):
    """Both sides say the call is up: media for `seconds` (and dtmf), hold, then hang up."""
    r["established"] = baresip.wait_event("CALL_ESTABLISHED", start=r["ev_mark"], timeout=10)
    _media(phone, baresip, r, seconds, dtmf)
    if hold:
        _hold(phone, baresip, r, hold)
    return _end(phone, baresip, r, hangup)


def outgoing(phone, baresip, seconds=3, hangup="phone", dtmf=None, hold=None):
    """The phone calls baresip (answermode auto) from a `call` line on its stdin; media for
    `seconds`; with hold=s each side holds it s seconds (_hold); `hangup` ends it. The
    call's figures as a dict."""
    r = _start(phone, baresip)
    r["direction"] = "phone -> baresip"
    phone.command("call %s" % baresip.aor)
    r["outgoing"] = phone.wait_for("call_outgoing", start=r["mark"], timeout=10)
    r["call_id"] = r["outgoing"]["call_id"]
    r["connected"] = phone.wait_for("call_connected", start=r["mark"], timeout=10,
                                    call_id=r["call_id"])
    return _established(phone, baresip, r, seconds, dtmf, hold, hangup)


def _closed_wav(path):
    """True once sndfile closed `path`: its RIFF size says the file's length."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
        size = os.path.getsize(path)
    except OSError:
        return False
    return len(head) == 8 and head[:4] == b"RIFF" and int.from_bytes(head[4:], "little") + 8 \
        == size


def wait_recordings(baresip, timeout=5):
    """(enc, dec) WAV paths of baresip's last call once sndfile has closed both (it writes
    their headers on close, when the call is freed after CALL_CLOSED)."""
    def ready():
        paths = baresip.recordings()
        return all(p and _closed_wav(p) for p in paths) and paths
    return wait_until("baresip's sndfile recordings in %s" % baresip.snd_dir, ready, timeout)


def analyse(r):
    """audio_check figures of both directions: {"to phone": ..., "to baresip": ...} (what
    each side recorded from the other), plus "baresip sent" (its own encoded tone)."""
    out = {}
    for name, path, hz in (("to phone", r["phone_wav"], BARESIP_HZ),
                           ("to baresip", r["dec_wav"], PHONE_HZ),
                           ("baresip sent", r["enc_wav"], BARESIP_HZ)):
        fig = audio_check.analyse(path, hz, r["ptime"])  # baresip follows our a=ptime
        fig["path"] = path
        fig["expect_hz"] = hz
        out[name] = fig
    r["audio"] = out
    return out


def audio_problems(name, fig):
    """What is wrong with one recording's figures (a list of strings, empty when fine)."""
    if fig["freq_hz"] is None:
        return ["%s: no tone in %s" % (name, fig["path"])]
    bad = []
    if not fig["freq_ok"]:
        bad.append("%s: %.2f Hz, expected %d Hz +-1 %%" % (name, fig["freq_hz"],
                                                          fig["expect_hz"]))
    if not fig["snr_db"] > MIN_SNR_DB:
        bad.append("%s: SNR %.1f dB, want > %.0f" % (name, fig["snr_db"], MIN_SNR_DB))
    if fig["gap_frames"] > MAX_GAP_FRAMES:
        bad.append("%s: gaps of %s frames (%d allowed)" % (name, fig["gaps"], MAX_GAP_FRAMES))
    return bad


def problems(r):
    """Every check of one call that failed, as text (empty: the call did what it should):
    the tones both ways, SRTP per the mode, the phone's media figures."""
    figs = r.get("audio") or analyse(r)
    bad = audio_problems("baresip -> phone", figs["to phone"])
    bad += audio_problems("phone -> baresip", figs["to baresip"])
    want_srtp = MODES[r["mode"]][2]
    if want_srtp and not (r["menc"] and "AES_CM_128_HMAC_SHA1" in r["menc"]):
        bad.append("SRTP expected, baresip's CALL_MENC: %r" % (r["menc"],))
    if not want_srtp and r["menc"]:
        bad.append("plain RTP expected, baresip secured the media: %r" % (r["menc"],))
    m = r["ended"].get("media") or {}
    if not m.get("received") or m.get("lost", 0) > MAX_LOST:
        bad.append("the phone's media figures: %r" % (m,))
    return bad


def report(r):
    """The audio_check summary of each recording, and the phone's media figures."""
    figs = r.get("audio") or analyse(r)
    lines = ["%s, %s: call %s, ended %s by %s" % (
        r["direction"], r["mode"], r["call_id"], r["ended"]["reason"],
        "the phone" if r["ended"]["reason"] == "hangup" else "baresip")]
    if r["menc"]:
        lines.append("  baresip: media encryption %s" % r["menc"])
    for name in ("to phone", "to baresip", "baresip sent"):
        fig = figs[name]
        lines.append("  %s: %s" % (name, audio_check.summary(fig["path"], fig,
                                                              fig["expect_hz"])))
    m = r["ended"].get("media") or {}
    keys = ("received", "sent", "lost", "late", "concealed", "jitter_ms", "delay_ms",
            "rtt_ms", "peer_lost", "refused")
    lines.append("  phone media: " + ", ".join("%s %s" % (k, m.get(k)) for k in keys))
    stats = r["rtcp_last"].get("rtcp_stats")
    if stats:  # tx: the phone's report about baresip's stream; rx: baresip's own figures
        lines.append("  baresip's last RTCP figures: %s" % stats)
    return "\n".join(lines)
