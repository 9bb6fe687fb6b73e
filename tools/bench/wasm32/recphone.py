"""The firmware, recording every input its UserAgent gets (MicroPython unix port; record.py).

Runs in place of firmware/main.py with the same arguments, like tools/bench/memphone.py
(ROMFS image in TINYSIP_ROMFS or .mpy tree in TINYSIP_LIB), with two changes: the UA draws
its random bytes from a fixed-seed generator (TINYSIP_REC_SEED), so that the replay
(w32host.py), given the same inputs, sends the same bytes; and every call the driver and
the app make into the UA (the sans-IO inputs) is appended to the file TINYSIP_REC, with what
the UA answered (its sends as length + CRC-32, its event names) for the replay to compare.
Recording stops at ua.stop() (the shutdown is not part of any scenario), or before the
first input after the file TINYSIP_REC + ".stop" appears (record.py's way to end it
between two inputs, then it stops the phone).

File format (w32host.py reads it): text lines, one word of kind then fields; `recv` is
followed by exactly n raw bytes and a newline. A Call-ID is in hex.
    hdr <json: config, instance, seed, DER files as hex>
    start NOW | wall NOW EPOCH_S | conn NOW CONN | timer NOW | net NOW
    cfail NOW CONN TLS REASON... | lost NOW CONN REASON... | recv NOW CONN N
    mready NOW PORT CID | mrx NOW CID | mstop NOW RX TX CID | mfail NOW CID REASON...
    send CONN N CRC | act KIND | ev NAME
"""
import gc
import os
import sys


def _run():
    rom = os.getenv("TINYSIP_ROMFS")
    lib = os.getenv("TINYSIP_LIB")
    here = __file__.rpartition("/")[0] or "."
    sys.path[0:0] = [here + "/../../../firmware", here + "/../../../lib",
                     here + "/../../../boards/host"]
    if lib:
        sys.path[0:0] = [lib, lib + "/../firmware"]
    if rom:
        import uctypes
        import vfs

        a, _, n = rom.partition(":")
        vfs.mount(vfs.VfsRom(uctypes.bytearray_at(int(a), int(n))), "/rom")
        sys.path.insert(0, "/rom/lib")

    import json
    from binascii import crc32, hexlify

    import app
    import tinysip.ua as U

    out = open(os.getenv("TINYSIP_REC"), "wb")
    stopf = os.getenv("TINYSIP_REC") + ".stop"
    seed = int(os.getenv("TINYSIP_REC_SEED") or "1")
    sys.path.append(here)
    from w32host import _rng  # the replay's generator: the same bytes in the same order

    rng = _rng(seed)
    live = [True]
    depth = [0]

    def w(text, data=None):
        if live[0]:
            out.write(text.encode())
            out.write(b"\n")
            if data is not None:
                out.write(data)
                out.write(b"\n")
            out.flush()

    def h(cid):
        return hexlify(cid).decode()

    def logged(fn, line):
        # only the outermost call is an input: the UA calls some of these itself
        def call(self, *args):
            if depth[0] == 0 and live[0]:
                try:  # record.py asks for the end of the recording, between two inputs
                    os.stat(stopf)
                    w("end -1")
                    live[0] = False
                except OSError:
                    line(*args)
            depth[0] += 1
            try:
                return fn(self, *args)
            finally:
                depth[0] -= 1
        return call

    B = U.UserAgent

    class R(B):
        pass

    def recv_line(conn, data, now):
        w("recv %d %d %d" % (now, conn, len(data)), data)

    def cfail_line(conn, now, reason, tls=False):
        w("cfail %d %d %d %s" % (now, conn, 1 if tls else 0, reason))

    def lost_line(conn, now, reason="connection_lost"):
        w("lost %d %d %s" % (now, conn, reason))

    def stop_line(now):
        w("end %d" % now)
        live[0] = False

    def unsupported(name):
        def line(*args):
            w("unsupported %s" % name)
        return line

    for name, line in (
            ("start", lambda now: w("start %d" % now)),
            ("stop", stop_line),
            ("set_wall_clock", lambda epoch, now: w("wall %d %d" % (now, epoch))),
            ("connected", lambda conn, now: w("conn %d %d" % (now, conn))),
            ("connection_failed", cfail_line),
            ("connection_lost", lost_line),
            ("receive", recv_line),
            ("handle_timer", lambda now: w("timer %d" % now)),
            ("network_changed", lambda now: w("net %d" % now)),
            ("media_ready", lambda cid, port, now: w("mready %d %d %s" % (now, port, h(cid)))),
            ("media_rx", lambda cid, now: w("mrx %d %s" % (now, h(cid)))),
            ("media_stopped", lambda cid, rx, tx, now, media=None: w(
                "mstop %d %d %d %s" % (now, rx, tx, h(cid)))),  # (a loopback call: no media)
            ("media_failed", lambda cid, reason, now: w("mfail %d %s %s"
                                                        % (now, h(cid), reason))),
            ("resolved", unsupported("resolved"))):
        setattr(R, name, logged(getattr(B, name), line))

    def pop_action(self):
        a = B.pop_action(self)
        if a is not None:
            if a[0] == 2:  # ua.py's private _ACT_SEND
                w("send %d %d %d" % (a[1], len(a[2]), crc32(a[2]) & 0x3FFFFFFF))
            else:
                w("act %d" % a[0])
        return a

    def pop_event(self):
        e = B.pop_event(self)
        if e is not None:
            w("ev %s" % e.name)
        return e

    R.pop_action = pop_action
    R.pop_event = pop_event
    U.UserAgent = R  # app._boot imports it from the module when it starts the phone
    app.urandom = rng

    # the header: everything the replay needs to build the same UA (config.Config from the
    # same JSON, the same instance, the DER files the app would have read)
    path = sys.argv[1] if len(sys.argv) > 1 else "config.json"
    with open(path) as f:
        raw = json.load(f)
    ders = {}
    certs = raw.get("certificates") or {}
    for key in ("ca", "identity"):
        if certs.get(key):
            with open(certs[key], "rb") as f:
                ders[key] = hexlify(f.read()).decode()
    import board
    from tinysip.config import Config
    from tinysip.instance import instance_urn

    inst = instance_urn(board.mac(Config(raw))).decode()
    w("hdr " + json.dumps({"config": raw, "instance": inst, "seed": seed, "der": ders}))
    del raw, ders, certs
    gc.collect()
    app.main(path)


_run()
