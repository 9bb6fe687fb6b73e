"""A voice call you can look at: the phone calls baresip through the lab and both record.

    .venv/bin/python tools/call_demo.py [--seconds 10] [--mode srtp|sdes-optional|plain]
        [--dir DIR] [--port-base 5160] [--plot]

Starts the Kamailio lab (tools/lab, its own port base: 5160 keeps clear of `make run`'s
5060 and of the interop tests), baresip 1.0.0 as sip:tester@lab.test (answers by itself,
sends a 1234 Hz sine, records with its sndfile module) and the phone (MicroPython unix port:
sends a 440 Hz tone, records into a WAV), then writes "call sip:tester@lab.test" on the
phone's stdin, lets the call run `--seconds`, hangs up from the phone and prints the
tools/audio_check.py summary of each recording (the phone's, baresip's decoded and its own
encoded audio) with the phone's media figures. --plot writes a PNG of each next to it
(waveform with the gaps shaded, spectrum). Everything lives in --dir (a new temporary
directory by default, kept and printed). Exit status 0 when every check of the interop test
held (tone within 1 %, SNR over 30 dB, gaps, SRTP per the mode), 1 otherwise.

The harness is host_tests/interop/voicecall.py (the interop test test_voice_baresip.py runs
the same calls); needs `make deps` (Kamailio, baresip-core) and `make venv` (micropython,
numpy; matplotlib for --plot).
"""
import argparse
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "host_tests", "interop"))

import audio_check  # noqa: E402
import voicecall  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10, help="media time (10)")
    ap.add_argument("--mode", choices=sorted(voicecall.MODES), default="srtp",
                    help="SRTP setting of both sides (srtp)")
    ap.add_argument("--dir", help="work directory (default: a new temporary one)")
    ap.add_argument("--port-base", type=int, default=5160, help="the lab's ports (5160)")
    ap.add_argument("--rtp-port", type=int, default=42400, help="the phone's RTP ports")
    ap.add_argument("--plot", action="store_true", help="a PNG per recording")
    a = ap.parse_args(argv)
    work = a.dir or tempfile.mkdtemp(prefix="tinysip-call-")
    os.makedirs(work, exist_ok=True)
    print("work directory: %s" % work)
    lab = voicecall.start_lab(work, a.port_base)
    baresip = phone = None
    try:
        baresip = voicecall.start_baresip(work, lab, a.mode, answermode="auto")
        phone = voicecall.start_phone(work, lab, a.mode, a.rtp_port)
        baresip.wait_registered()
        with voicecall.logs_on_failure(phone, baresip):
            r = voicecall.outgoing(phone, baresip, a.seconds, hangup="phone")
    finally:
        for peer in (phone, baresip):
            if peer is not None:
                peer.stop()
        lab.close()
        if phone is not None:
            with open(os.path.join(work, "phone.log"), "w") as f:
                f.write(phone.log() + "\n")
    print(voicecall.report(r))
    if a.plot:
        for name, fig in r["audio"].items():
            png = os.path.splitext(fig["path"])[0] + ".png"
            audio_check.plot(fig["path"], png, fig["expect_hz"])
            print("%s: %s" % (name, png))
    bad = voicecall.problems(r)
    for line in bad:
        print("FAILED: " + line)
    print("logs: %s, %s, %s" % (lab.log_path, baresip.log_path,
                                os.path.join(work, "phone.log")))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
