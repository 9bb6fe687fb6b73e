"""Voice calls with a real peer (issue 17): baresip 1.0.0 and the phone call each other
through the lab's Kamailio, both ways, with SRTP (SDES) and with plain RTP, and the audio
that arrives is checked (host_tests/interop/voicecall.py has the harness).

Each side sends its own sine from the moment of answer (the phone 440 Hz, config audio.mic
"tone:440"; baresip 1234 Hz, ausine) and records what it receives (the phone's audio.speaker
WAV; baresip's sndfile decode dump). tools/audio_check.py must find the other side's tone in
each recording: within 1 % of its frequency, SNR above 30 dB (G.711 without loss gives
~37-40 dB) and no gaps beyond one frame (voicecall.MAX_GAP_FRAMES). baresip must have taken
one of the phone's RTCP reports (SRTCP with SRTP) before the call is hung up.

- baresip calls the phone: the phone rings (call_incoming, baresip's CALL_RINGING) and never
  answers by itself; the test writes "answer" on its stdin; baresip hangs up (BYE) and the
  phone's call_ended says `bye` with its media figures (packets received, none lost).
- the phone calls baresip ("call sip:tester@lab.test" on its stdin; baresip answers
  automatically); the phone hangs up ("hangup <call_id>"): call_ended says `hangup`.
- modes (voicecall.MODES): "srtp" (phone media.srtp required, baresip mediaenc=srtp-mand:
  RTP/SAVP), "sdes-optional" (optional / srtp: RTP/AVP with a=crypto, SRTP agreed), "plain"
  (off / no mediaenc), "plain-optional" (optional / no mediaenc: plain RTP); baresip's
  CALL_MENC says whether the stream was secured. A phone with
  optional SRTP offers RTP/AVP, which baresip's srtp-mand refuses (488, tinysip.sdes).
- PCMA and 40 / 10 ms frames: the phone offers PCMA first and a=ptime; baresip answers PCMA
  and sends frames of that length.
- DTMF both ways (RFC 4733): the phone's "dtmf <call_id> 159#" arrives as baresip's
  CALL_DTMF_START events, baresip's `sndcode` digits as the phone's `dtmf` events; these
  calls are hung up by the other side (so each direction sees a BYE from each side).

- hold and resume (RFC 3264 §8.4), both ways in one call, in each direction of call (an
  answered call: tinysip.invite; a placed one: tinysip.dial): baresip's menu `hold` and
  `resume` (re-INVITEs sendonly, sendrecv: the phone answers recvonly, sendrecv and stops
  sending meanwhile), then the phone's "hold <call_id>" and "resume <call_id>" (our
  re-INVITEs: baresip answers recvonly and stops sending); each step is a call_held event.
  The phone's media figures count the frames it sent (all but baresip's hold) and received
  (all but both holds); its recording has the two holds as gaps of their length and
  baresip's tone up to the end; the call ends with a BYE as usual. (baresip's own decode
  recording stops at its first hold: its sndfile filter does not follow the stream update.)

The module has its own Kamailio lab on port_base 17660 (17660-17680); the phone's RTP is on
42400-42599, baresip's on 43000-43100. Missing baresip: skipped, or failed with CI=true; a
baresip without the sndfile or srtp module fails.
"""
import pytest

from baresip import BaresipError, baresip_binary, missing_modules, module_dir
from conftest import in_ci, peer_unavailable, start_lab
from lab import Lab
from phone import logs_on_failure
import voicecall
from voicecall import MODES, USERS, incoming, outgoing, problems, report

PORT_BASE = 17660
RTP_PORT = 42400
SECONDS = 3  # of media per call


@pytest.fixture(scope="module")
def voice_lab(tmp_path_factory):
    if baresip_binary() is None or module_dir() is None:  # before starting anything
        peer_unavailable("baresip is not installed (make deps: baresip-core)")
    lacking = missing_modules(["sndfile", "srtp"])
    if lacking:  # an install that has baresip but not these cannot prove the calls
        pytest.fail("baresip modules %s are missing (Debian baresip-core has them: "
                    "tools/deps.sh)" % ", ".join(lacking), pytrace=False)
    instance = Lab(str(tmp_path_factory.mktemp("kamailio-voice")), port_base=PORT_BASE,
                   users=dict(USERS))
    start_lab(instance)
    yield instance
    instance.close()


@pytest.fixture
def peers(voice_lab, tmp_path):
    """make(mode, answermode, peer_mode=mode, media=None) -> (phone, baresip), both
    registered, the phone's media.srtp per `mode` (more media.* keys in `media`), baresip's
    mediaenc per `peer_mode`; stopped after the test."""
    made = []

    def make(mode, answermode="manual", peer_mode=None, media=None):
        try:
            b = voicecall.start_baresip(tmp_path, voice_lab, peer_mode or mode, answermode)
        except BaresipError as e:
            if in_ci() or "missing" in str(e):
                raise
            pytest.skip("baresip cannot start: %s" % e)
        made.append(b)
        p = voicecall.start_phone(tmp_path, voice_lab, mode, RTP_PORT, media=media)
        made.append(p)
        with logs_on_failure(p, b):
            b.wait_registered()
        return p, b

    yield make
    for peer in reversed(made):
        peer.stop()


def _check(r, phone, baresip, ptime=20):
    """The checks every answered call shares; the audio_check summaries on failure."""
    text = report(r)
    print(text)  # shown with -s, and by pytest for a failing test
    bad = problems(r)
    assert not bad, "%s\n%s" % ("\n".join(bad), text)
    m = r["ended"]["media"]
    least = SECONDS * 500 // ptime  # half of the packets of SECONDS
    assert m["received"] >= least and m["sent"] >= least, m
    rtcp = r["rtcp"]["rtcp_stats"]  # baresip took the phone's report (SRTCP with SRTP)
    assert rtcp["tx"]["sent"] > 0 and rtcp["rx"]["lost"] == 0, rtcp
    assert not [line for line in baresip.lines if "srtp: failed" in line]


@pytest.mark.parametrize("mode", list(MODES))
def test_baresip_calls_the_phone_which_rings_and_is_answered_on_stdin(voice_lab, peers, mode):
    phone, baresip = peers(mode)
    with logs_on_failure(phone, baresip):
        r = incoming(phone, baresip, voice_lab, SECONDS, hangup="baresip")
        assert r["incoming"]["caller"] == "sip:tester@lab.test"
        assert r["ringing"]["peeruri"] == voice_lab.aor("phone1")
        assert r["answered"]["mode"] == "manual" and r["answered"]["loopback"] is None
        assert r["ended"]["reason"] == "bye" and r["ended"]["status"] == 200
        _check(r, phone, baresip)


@pytest.mark.parametrize("mode", list(MODES))
def test_the_phone_calls_baresip_from_stdin_and_hangs_up(voice_lab, peers, mode):
    phone, baresip = peers(mode, answermode="auto")
    with logs_on_failure(phone, baresip):
        r = outgoing(phone, baresip, SECONDS, hangup="phone")
        assert r["outgoing"]["target"] == baresip.aor
        assert r["connected"]["status"] == 200
        assert r["ended"]["reason"] == "hangup"
        assert "reset by peer" in r["closed"]["param"]  # baresip got the phone's BYE
        _check(r, phone, baresip)


@pytest.mark.parametrize("codecs,ptime", [(["PCMA", "PCMU"], 40), (["PCMA"], 10)])
def test_pcma_and_other_frame_lengths_both_ways(peers, codecs, ptime):
    # our offer's order and a=ptime rule: baresip answers PCMA and sends ptime ms frames
    phone, baresip = peers("srtp", answermode="auto", media={"codecs": codecs,
                                                             "ptime": ptime})
    with logs_on_failure(phone, baresip):
        r = outgoing(phone, baresip, SECONDS, hangup="phone")
        assert [line for line in baresip.lines if "Set audio decoder: PCMA" in line]
        assert [line for line in baresip.lines if "ptime_tx 20ms -> %dms" % ptime in line]
        assert r["ended"]["reason"] == "hangup"
        _check(r, phone, baresip, ptime)


@pytest.mark.parametrize("direction,mode,hangup", [
    ("incoming", "plain", "phone"),
    ("outgoing", "srtp", "baresip"),
])
def test_dtmf_both_ways(voice_lab, peers, direction, mode, hangup):
    phone, baresip = peers(mode, answermode="manual" if direction == "incoming" else "auto")
    digits = ("159#", "42*")  # the phone's, baresip's
    with logs_on_failure(phone, baresip):
        if direction == "incoming":
            r = incoming(phone, baresip, voice_lab, SECONDS, hangup=hangup, dtmf=digits)
        else:
            r = outgoing(phone, baresip, SECONDS, hangup=hangup, dtmf=digits)
        assert r["dtmf_at_baresip"] == "159#"
        assert r["dtmf_at_phone"] == "42*"
        assert all(e["call_id"] == r["call_id"] for e in phone.named("dtmf"))
        ends = [e for e in baresip.events[r["ev_mark"]:] if e.get("type") == "CALL_DTMF_END"]
        assert len(ends) == 4  # each digit's end (RFC 4733 E bit) arrived
        assert r["ended"]["reason"] == ("hangup" if hangup == "phone" else "bye")
        m = r["ended"]["media"]
        assert m["received"] > 0 and m["lost"] <= voicecall.MAX_LOST, m
        assert (r["menc"] is not None) == MODES[mode][2], r["menc"]


def test_a_phone_with_optional_srtp_is_refused_by_a_mandatory_srtp_baresip(peers):
    phone, baresip = peers("sdes-optional", answermode="auto", peer_mode="srtp")
    with logs_on_failure(phone, baresip):
        mark = len(phone.events)
        phone.command("call %s" % baresip.aor)
        failed = phone.wait_for("call_failed", start=mark, timeout=10)
        assert failed["status"] == 488  # RTP/AVP with a=crypto: srtp-mand takes RTP/SAVP only
        end = phone.wait_for("call_ended", start=mark, timeout=10)
        assert end["reason"] == "rejected" and end["media"] is None


HOLD_S = 2  # each side's hold


@pytest.mark.parametrize("direction,mode,hangup", [
    ("incoming", "srtp", "baresip"),
    ("outgoing", "plain", "phone"),
])
def test_hold_and_resume_both_ways(voice_lab, peers, direction, mode, hangup):
    phone, baresip = peers(mode, answermode="manual" if direction == "incoming" else "auto")
    with logs_on_failure(phone, baresip):
        if direction == "incoming":
            r = incoming(phone, baresip, voice_lab, SECONDS, hangup=hangup, hold=HOLD_S)
            t0 = r["answered"]["t"]
        else:
            r = outgoing(phone, baresip, SECONDS, hangup=hangup, hold=HOLD_S)
            t0 = r["connected"]["t"]
        text = report(r)
        print(text)
        held = r["held"]
        assert [(h["direction"], h["status"]) for h in held] == [
            ("recvonly", 200), ("sendrecv", 200), ("sendonly", 200), ("sendrecv", 200)]
        assert r["ended"]["reason"] == ("hangup" if hangup == "phone" else "bye")
        assert r["ended"]["status"] == 200
        theirs = (held[1]["t"] - held[0]["t"]) // 20  # frames of baresip's hold
        ours = (held[3]["t"] - held[2]["t"]) // 20  # of the phone's
        total = (r["ended"]["t"] - t0) // 20
        m = r["ended"]["media"]
        # the phone sends but while baresip holds, and hears baresip but while either holds
        assert total - theirs - 25 <= m["sent"] <= total - theirs + 10, (m, total, theirs)
        assert total - theirs - ours - 25 <= m["received"] <= total - theirs - ours + 10, (
            m, total, theirs, ours)
        assert m["lost"] <= voicecall.MAX_LOST, m
        fig = r["audio"]["to phone"]  # the phone's recording: baresip's tone, both holds
        assert fig["freq_ok"] and fig["snr_good_db"] > voicecall.MIN_SNR_DB, text
        big = [g for g in fig["gaps"] if g > 10]
        assert len(big) == 2 and abs(big[0] - theirs) <= 15 and abs(big[1] - ours) <= 15, (
            fig["gaps"], theirs, ours)
        assert fig["gap_frames"] - sum(big) <= voicecall.MAX_GAP_FRAMES + 1, fig["gaps"]
        assert fig["end_ms"] >= (r["ended"]["t"] - t0) - 1500  # heard after the resume
        assert not voicecall.audio_problems("phone -> baresip", r["audio"]["to baresip"])
        assert (r["menc"] is not None) == MODES[mode][2], r["menc"]
