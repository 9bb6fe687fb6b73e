"""Replay a recorded phone scenario into the real sans-IO UserAgent, one input per step
(MicroPython: the unix port, 64-bit, and the WebAssembly port, 32-bit; bench.py).

The recording (record.py, recphone.py) holds every input the UA got in the lab: Kamailio's
answers, the certificate service's NOTIFYs, the caller's INVITE/ACK/BYE, timers, the
driver's reports, with their times. The replay builds the same UA (ua.py, config.Config from
the recorded config, the same instance and random bytes) and feeds it the same inputs: it
sends the same bytes and reports the same events, which are checked against the
recording. Only I/O is played: connections are the recorded ones; RTP goes through the real
mirror (tinysip.rtp.Mirror), one synthesized packet per recorded `media_rx`; the
WebAssembly port lacks os.urandom and hashlib.md5, which get stand-ins (md5 from the host's
crypto through the JS module `_w32js`).

Steps: the WebAssembly port collects garbage only between two calls from JavaScript (its
GC cannot scan the wasm stack), so a step is one such call, and the unix port is run the
same way (gc disabled in a step, collected between steps): both ports then measure the same
thing. A step is one UA input with everything it sends and reports, like one iteration of
the driver, which collects before each message. The boot steps (config, imports, the UA)
come first, as app.py does them.

    start(path, total) -> step: call step() until it returns a JSON result (a str), not None
    loop(path, total, every=0): the unix port's driver of step(); every > 0: GC on
    inside steps too, every that many bytes allocated.
`total` is gc.mem_alloc() + gc.mem_free() when the interpreter started (the heap's size).


Measured per step (gc.mem_alloc): `live` at its start (collected), the most allocated at
its end (`peak`, garbage included: no collection inside a step). The WebAssembly port's heap
grows instead of failing (MICROPY_GC_SPLIT_HEAP_AUTO): a step that grew it fails the run,
as a MemoryError fails it on the unix port, so a fixed heap can be bisected on both.
Result keys: ok, why, steps, live_base (before tinysip), live_end, live_max, live_call
(most while the call's mirror is up), peak with peak_step and peak_at (that step's input),
send_diff (sends that differ from the recording: lib/ changed what the UA writes; the
replay goes on while the events stay the same), events (how many were compared). The host
prints micropython.qstr_info() after the lines `w32 qstr base` and `w32 qstr end`.
"""
import gc
import json
import sys

from binascii import crc32, unhexlify


TRACE = False  # bench.py --trace: print each step's live heap, allocation and input


def _stubs():
    """Stand-ins for what the WebAssembly port lacks (the ESP32 has both)."""
    import os

    class S:
        def __init__(self, real):
            self.real = real

        def __getattr__(self, n):
            return getattr(self.real, n)

    if not hasattr(os, "urandom"):
        s = S(os)
        s.urandom = lambda n: bytes(n)  # unused: the UA gets its rng from here
        sys.modules["os"] = s
    import hashlib

    if not hasattr(hashlib, "md5"):
        import _w32js

        class D:
            def __init__(self, data):
                self.real = unhexlify(_w32js.md5(data))

            def digest(self):
                return self.real

        s = S(hashlib)
        s.md5 = D
        sys.modules["hashlib"] = s


def _rng(seed):
    st = [seed >> 16, seed & 0xFFFF]

    def rng(n):  # xorshift32 (recphone.py records with it too), the same bytes computed on
        # 16-bit halves: the WebAssembly port's small ints have 31 bits, and a 32-bit state
        # made big ints at each shift (~7 KB of garbage per SUBSCRIBE, counted in the 32-bit
        # figures as if the phone made it; a device's rng is os.urandom, in C)
        b = bytearray(n)
        h, lo = st
        for i in range(n):
            h ^= (h << 13 | lo >> 3) & 0xFFFF  # s ^= s << 13 (32 bits)
            lo ^= (lo << 13) & 0xFFFF
            lo ^= h >> 1  # s ^= s >> 17
            h ^= (h << 5 | lo >> 11) & 0xFFFF  # s ^= s << 5
            lo ^= (lo << 5) & 0xFFFF
            b[i] = lo & 0xFF
        st[0] = h
        st[1] = lo
        return bytes(b)
    return rng


def _qstr(tag):
    import micropython

    print("w32 qstr " + tag)
    micropython.qstr_info()


def _replay(path, out):
    """The steps, as a generator: yields 1 while a call's mirror is up, else 0. `out`
    collects send_diff, events, why."""
    _stubs()
    _qstr("base")
    f = open(path, "rb")
    hdr = json.loads(f.readline()[4:])
    out["k"] = "boot: header"
    yield 0
    from tinysip.config import Config

    cfg = Config(hdr["config"])
    Config = None  # (app.py's _boot returns: its reference to the config code is gone)
    ders = hdr["der"]
    if ders.get("ca"):
        cfg.certs.ca_der = unhexlify(ders["ca"])
    if ders.get("identity"):
        cfg.certs.identity_der = unhexlify(ders["identity"])
    if cfg.certs is not None and cfg.certs.store:  # certificates.cache_dir, as app.py does
        from tinysip.io import certstore  # (files in the port's own file system: outside
        # the MicroPython heap, as a device's flash is)

        cfg.certs.store = certstore("/tmp/w32certs")
    del cfg.raw
    inst = hdr["instance"].encode()
    rng = _rng(hdr["seed"])
    hdr = ders = None
    out["k"] = "boot: config"
    yield 0
    import tinysip

    for name in ("config", "instance"):  # app.py drops its boot-only modules
        sys.modules.pop("tinysip." + name, None)
        try:
            delattr(tinysip, name)
        except (AttributeError, KeyError):  # KeyError: MicroPython, not imported
            pass
    out["k"] = "boot: drop config"
    yield 0
    from tinysip.ua import UserAgent

    out["k"] = "boot: import tinysip.ua"
    yield 0
    ua = UserAgent(cfg, inst, rng)
    cfg = None
    out["k"] = "boot: UserAgent"
    yield 0
    sends = []  # (conn, length, crc) recorded but not yet compared, or sent and not yet
    events = []  # names, likewise
    media = None  # ACT_MEDIA's (mode, pt, ptime) until mready makes the mirror
    mir = None
    while True:
        line = f.readline()
        if not line:
            raise ValueError("the recording ends without an end line")
        p = line.split()
        k = p[0]
        if k == b"send" or k == b"ev":  # what the UA answered to the last input
            if k == b"ev":
                events.append(p[1].decode())
            else:
                sends.append((int(p[1]), int(p[2]), int(p[3])))
            continue
        if k == b"act":
            continue
        if k == b"end":
            break
        if k == b"unsupported":
            raise ValueError("the recording has an input the replay does not play: %s" % p[1])
        now = int(p[1])
        out["k"] = k
        if k == b"recv":
            data = f.read(int(p[3]))
            f.read(1)
            ua.receive(int(p[2]), data, now)
            data = None
        elif k == b"timer":
            ua.handle_timer(now)
        elif k == b"conn":
            ua.connected(int(p[2]), now)
        elif k == b"mrx":
            v = mir.view  # one RTP packet (V=2, PT 0, 160 B of payload) through the mirror
            v[0] = 0x80
            v[1] = 0
            v[3] = (v[3] + 1) & 0xFF
            mir.reflect(172)
            ua.media_rx(unhexlify(p[2]), now)
        elif k == b"mready":
            from tinysip.rtp import Mirror

            # where the driver makes it, as large (the phone's works in io.stream's buffer)
            mir = Mirror(media[0], media[1], ua.rng, ptime=media[2])
            Mirror = None
            media = None
            ua.media_ready(unhexlify(p[3]), int(p[2]), now)
        elif k == b"mstop":
            mir = None
            ua.media_stopped(unhexlify(p[4]), int(p[2]), int(p[3]), now)
        elif k == b"start":
            ua.start(now)
        elif k == b"wall":
            ua.set_wall_clock(int(p[2]), now)
        elif k == b"lost":
            ua.connection_lost(int(p[2]), now, line.split(None, 3)[3].strip().decode())
        elif k == b"cfail":
            ua.connection_failed(int(p[2]), now, line.split(None, 4)[4].strip().decode(),
                                 p[3] == b"1")
        elif k == b"mfail":
            ua.media_failed(unhexlify(p[2]), line.split(None, 3)[3].strip().decode(), now)
        elif k == b"net":
            ua.network_changed(now)
        else:
            raise ValueError("unknown line in the recording: %r" % line[:40])
        line = p = None
        media = _pump(ua, sends, events, media, out)
        if out["why"]:
            break
        yield 1 if mir is not None else 0
        # the driver asks for its next timer between two steps, which may park the
        # certificate service (ua.next_timer); its handle_timer calls, due work included,
        # are inputs of their own in the recording ("timer"): replayed only there, as the
        # driver read them (it reads every readable connection before it runs the timers)
        ua.next_timer()
    _match(sends, out, "send_diff")
    _match(events, out, "events")
    if sends or events:
        out["why"] = out["why"] or "left unmatched: sends %r, events %r" % (sends, events)
    _qstr("end")
    f.close()


def _pump(ua, sends, events, media, out):
    """The driver's pump after an input: actions, then events, matched against the
    recording; returns ACT_MEDIA's (mode, pt, ptime), else `media` as it was."""
    while True:
        a = ua.pop_action()
        if a is None:
            break
        if a[0] == 2:  # ua.py's private _ACT_SEND
            sends.append((-a[1], len(a[2]), crc32(a[2]) & 0x3FFFFFFF))
        elif a[0] == 4:  # _ACT_MEDIA
            media = (a[2], a[3], a[7])
    while True:
        e = ua.pop_event()
        if e is None:
            break
        events.append("-" + e.name)
        if e.name == "internal_error":
            out["why"] = "internal_error: %s %s" % (e.where, e.error)
    _match(sends, out, "send_diff")
    _match(events, out, "events")
    return media


def _match(q, out, key):
    """Pair recorded items (as recorded) with replayed ones (negated conn, '-' + name) in
    the order each side produced them; count the pairs that differ."""
    while q:
        rec = [x for x in q if not _ours(x)]
        ours = [x for x in q if _ours(x)]
        if not rec or not ours:
            return
        r, o = rec[0], ours[0]
        q.remove(r)
        q.remove(o)
        if key == "events":
            out[key] += 1
            if r != o[1:]:
                out["why"] = out["why"] or "event %d: %s, recorded %s" % (out[key], o[1:], r)
        elif (r[0], r[1], r[2]) != (-o[0], o[1], o[2]):
            out[key] += 1


def _ours(x):
    return x[0] == "-" if isinstance(x, str) else x[0] < 0


def start(path, total):
    """A step function for the recording at `path` (see the module docstring)."""
    out = {"why": None, "send_diff": 0, "events": 0, "k": "boot: stubs", "peak_at": ""}
    gen = [_replay(path, out)]
    acc = [0, 0, 0, 0, None, 0]  # steps, peak, live_max, live_call, result, live_base
    state = [0]

    def step():
        if acc[4] is not None:
            return acc[4]
        live = gc.mem_alloc()  # collected after the last step
        if not acc[0]:
            acc[5] = live
        if live > acc[2]:
            acc[2] = live
        if state[0] and live > acc[3]:
            acc[3] = live
        done = False
        try:
            state[0] = next(gen[0])
        except StopIteration:
            done = True
        except MemoryError:
            gen[0] = None
            gc.collect()  # the failed step's garbage (the unix port, GC disabled)
            out["why"] = "MemoryError in step %d" % acc[0]
            done = True
        except Exception as e:  # noqa: BLE001 - a broken recording: say so
            out["why"] = "step %d: %r" % (acc[0], e)
            done = True
        used = gc.mem_alloc()
        if used > acc[1]:
            acc[1] = used
            out["peak_step"] = acc[0]
            out["peak_at"] = out["k"]
        if used + gc.mem_free() != total and not out["why"]:
            out["why"] = "the heap grew in step %d" % acc[0]  # WebAssembly: out of heap
            done = True
        if TRACE:
            k = out["k"]
            print("w32 step %d live %d used %d %s" % (
                acc[0], live, used, k if isinstance(k, str) else k.decode()))
        acc[0] += 1
        if done:
            if not isinstance(out["peak_at"], str):
                out["peak_at"] = out["peak_at"].decode()
            del out["k"]
            out.update(ok=not out["why"], steps=acc[0], live_base=acc[5], live_end=live,
                       live_max=acc[2], live_call=acc[3] or None, peak=acc[1])
            acc[4] = json.dumps(out)
        gc.collect()
        return None

    return step


def loop(path, total, every=0):
    """Run a replay on the unix port: gc off inside steps unless `every` > 0, the bytes
    allocated between collections as the firmware sets them (firmware/app.py _GC_EVERY,
    which bench.py reads); prints the result line (JSON)."""
    step = start(path, total)
    if not every:
        gc.disable()
    else:  # as the firmware runs the phone
        gc.threshold(every)
    while True:
        try:
            r = step()
        except MemoryError:  # step's own bookkeeping, on a heap full of the step's garbage
            gc.collect()
            r = '{"ok": false, "why": "MemoryError"}'
        if r is not None:
            print("w32 result " + r)
            return
