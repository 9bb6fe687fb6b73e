"""Certificate budgets (issue 5): heap a checked (parsed + verified) certificate holds, and heap
held by three cached certificates (tinysip.certservice.Cache), on the runtime that runs this script.

    .venv/bin/micropython tools/bench/certs.py [--json]      (the budgeted figures)
    python3 tools/bench/certs.py                              (CPython: no heap figures)

Heap figures are gc.mem_alloc() differences after gc.collect() (MicroPython only); the
certificates are the test PKI's in host_tests/data/x509 (RSA-2048 and EC P-256 leaves).
"""
import gc
import sys

_here = __file__.rpartition("/")[0] or "."
sys.path.insert(0, _here + "/../../lib")

from tinysip import certs, x509  # noqa: E402
from tinysip.certservice import Cache  # noqa: E402
from tinysip import sigverify  # noqa: E402,F401  (imported before measuring: code, not state)

DATA = _here + "/../../host_tests/data/x509/"
MP = sys.implementation.name == "micropython"
AOR = b"sip:alice@lab.test"
NOW = 1760000000


def read(name):
    with open(DATA + name + ".der", "rb") as f:
        return f.read()


def alloc():
    gc.collect()
    return gc.mem_alloc() if MP else 0


def main():
    as_json = "--json" in sys.argv
    ca = certs.anchor(read("rsa_ca"))  # what certservice keeps of the CA
    leaves = [read("rsa_leaf_rsa_ca"), read("ec_leaf_rsa_ca"), read("generalized")]
    res = {}
    for name, i in (("rsa", 0), ("ec", 1)):
        base = alloc()
        cert, how = certs.check(AOR, AOR, b"<" + AOR + b">", leaves[i], NOW, ca)
        after = alloc()
        # what stays: the parsed certificate (the transient peak of the check is not measured)
        res["heap_held_after_check_%s_leaf_B" % name] = after - base
        del cert
        gc.collect()
    # three cached certificates: only DER + fingerprint + not_after + time stay per AoR
    cache = Cache()
    base = alloc()
    ec_ca = x509.parse(read("ec_ca"))
    for i, der in enumerate(leaves):
        c = x509.parse(der)
        cache.entries[b"sip:user%d@lab.test" % i] = (c[0], c[9], NOW)  # as certs.receive does
        del c
    del ec_ca
    res["heap_3_cached_B"] = alloc() - base
    res["cached_der_bytes"] = sum(len(d) for d in leaves)
    if as_json:
        import json

        print(json.dumps(res))
    else:
        for k in sorted(res):
            print("  %-32s %s" % (k, res[k]))


main()
