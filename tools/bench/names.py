"""Which names (qstrs) each module adds to the phone's interned names, per scenario.

    .venv/bin/python tools/bench/names.py [--scenario idle|call|certs|full|voice] [--json]
    .venv/bin/python tools/bench/names.py --scenario certs tinysip.x509 ...   (only these rows)

MicroPython interns the identifiers and short strings (10 characters or less) of every
module it loads and never frees them; 5 pools hold 620 names and the 621st costs a 6th
pool (~7 KB on the 64-bit unix port, ~4.5 KB on 32 bits, one block). This reads the qstr
table of each module's .mpy (mpy-cross -O3, as the ROMFS image has it), leaves out the
names the unix port already has built in (asked of .venv/bin/micropython: interning one
of those does not grow its pools) and prints, in the scenario's import order (measured on
the lab phone with an import hook), what each module adds over the modules before it.
The running phone interns ~25 more than these tables (config keys, event fields, the TLS
session; measured with the lab phone on 2026-12-07: idle 571, loopback call 596, 3
certificates 662 against 547, 571 and 637 here), so a scenario's modules should stay under
620 - 25. Bytes literals are objects, not names; str literals longer than 10 characters too.
A benchmark: prints its figures and exits 0.
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from mpy_size import find_mpy_cross  # noqa: E402

# import order on the lab phone (tools/bench/heap.py --live with an import hook, 2026-12-07)
IDLE = ("app board tinysip tinysip.compat tinysip.io tinysip.io.clock tinysip.config "
        "tinysip.errors tinysip.uri tinysip.instance tinysip.io.stream tinysip.io.driver "
        "tinysip.ua tinysip.invite tinysip.headers tinysip.message tinysip.outbound "
        "tinysip.digest tinysip.events tinysip.framing tinysip.register tinysip.transaction "
        "tinysip.tlsname").split()
CALL = "tinysip.loopback tinysip.sdp tinysip.io.media tinysip.io.udp tinysip.rtp".split()
CERTS = ("tinysip.x509 tinysip.certs tinysip.sigverify tinysip.certservice "
         "tinysip.subscribe tinysip.passport tinysip.ecdsa tinysip.credential").split()
VOICE = ("tinysip.sdp tinysip.audio tinysip.sdes tinysip.voice tinysip.srtp "
         "tinysip.io.udp tinysip.io.voiceport tinysip.voicesetup").split()
SCENARIOS = {"idle": IDLE, "call": IDLE + CALL, "certs": IDLE + CERTS,
             "full": IDLE + CERTS + CALL, "voice": IDLE + VOICE}
RUNTIME = 25  # the running phone over these tables (measured: see the docstring)


def source(mod):
    """lib/ or firmware/ or boards/host/ source of a module name."""
    if mod in ("app", "diag", "callctl"):
        return os.path.join(ROOT, "firmware", mod + ".py")
    if mod == "board":
        return os.path.join(ROOT, "boards", "host", "board.py")
    path = os.path.join(ROOT, "lib", *mod.split("."))
    return path + "/__init__.py" if os.path.isdir(path) else path + ".py"


def _uint(b, i):
    v = 0
    while True:
        c = b[i]
        i += 1
        v = v << 7 | (c & 0x7F)
        if not c & 0x80:
            return v, i


def mpy_names(data):
    """The qstr table of an .mpy (v6) file, minus mpy-cross's static ones."""
    if data[:1] != b"M":
        raise ValueError("not an .mpy file")
    i = 4
    n, i = _uint(data, i)
    _, i = _uint(data, i)
    out = []
    for _ in range(n):
        k, i = _uint(data, i)
        if k & 1:  # an index into the static table every port has
            continue
        k >>= 1
        out.append(data[i:i + k].decode("utf-8", "replace"))
        i += k + 1
    return out


def module_names(mods, tmp):
    mpy_cross = find_mpy_cross()
    out = {}
    for mod in mods:
        rel = "/rom/lib/" + mod.replace(".", "/") + ".mpy"  # the image's source names
        dst = os.path.join(tmp, mod + ".mpy")
        subprocess.check_call([mpy_cross, "-O3", "-s", rel, "-o", dst, source(mod)])
        with open(dst, "rb") as f:
            out[mod] = mpy_names(f.read())
    return out


def builtin(names, tmp):
    """The names the unix port already interns (its ROM pools): interning them adds none."""
    mp = os.path.join(ROOT, ".venv", "bin", "micropython")
    listing = os.path.join(tmp, "names.txt")
    with open(listing, "w") as f:
        f.write("\n".join(names))
    probe = os.path.join(tmp, "probe.py")
    with open(probe, "w") as f:  # names read from a file: the probe's source interns none
        f.write("import micropython\nclass O:\n    pass\no = O()\n"
                "for n in open(%r).read().split(chr(10)):\n"
                "    micropython.qstr_info()\n    setattr(o, n, 0)\n"
                "micropython.qstr_info()\n" % listing)
    text = subprocess.run([mp, probe], capture_output=True, text=True, check=True).stdout
    counts = [int(x.split("n_qstr=")[1].split(",")[0]) for x in text.splitlines()
              if x.startswith("qstr pool:")]
    return {n for n, a, b in zip(names, counts, counts[1:]) if a == b}


def main(argv):
    as_json = "--json" in argv
    argv = [a for a in argv if a != "--json"]
    scen = "full"
    if "--scenario" in argv:
        i = argv.index("--scenario")
        scen = argv[i + 1]
        del argv[i:i + 2]
    mods = SCENARIOS[scen]
    with tempfile.TemporaryDirectory(prefix="tinysip-names-") as tmp:
        per = module_names(mods, tmp)
        allnames = sorted({n for v in per.values() for n in v})
        core = builtin(allnames, tmp)
    seen = set()
    rows = []
    for mod in mods:
        new = sorted({n for n in per[mod] if n not in core and n not in seen})
        seen.update(new)
        rows.append({"module": mod, "added": len(new), "names": new})
    res = {"scenario": scen, "modules_names": len(seen), "with_runtime": len(seen) + RUNTIME,
           "pools_5": 620, "rows": rows}
    if as_json:
        print(json.dumps(res))
        return 0
    for r in rows:
        if argv and r["module"] not in argv:
            continue
        print("%-22s %4d  %s" % (r["module"], r["added"], " ".join(r["names"])))
    print("scenario %s: its modules add %d names; with the running phone's ~%d, %d of the "
          "620 that 5 pools hold" % (scen, len(seen), RUNTIME, len(seen) + RUNTIME))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
