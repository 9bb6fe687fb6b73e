"""Long fuzz run of the SIP parser and stream framer (the generator of test_fuzz.py).

    python host_tests/fuzz_long.py [--cases N] [--seed S]

N defaults to $FUZZ_CASES (as set by `make fuzz-long FUZZ_CASES=...`), else 200000; S is
the run's base seed (decimal or 0x-hex), test_fuzz.SEED by default. Case i uses
test_fuzz.case_seed(S, i); a finding prints that case seed, which
`python -c "import test_fuzz; test_fuzz.run_case(0x...)"` (from host_tests/) replays.

Prints progress every 10 %, then a summary: cases, parse errors by status, ok parses and
unexpected exceptions, which must be 0. The exit status is 1 if there was any.
Runs under CPython and under MicroPython (no argparse, no os.path).
"""
import os
import sys
import time

HERE = __file__.rpartition("/")[0] or "."
for _p in (HERE + "/../lib", HERE):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import test_fuzz  # noqa: E402

DEFAULT_CASES = 200000
MAX_REPORTED = 20  # findings printed in full; the rest are only counted


def _now():
    if hasattr(time, "ticks_ms"):
        return time.ticks_ms() / 1000.0
    return time.monotonic()


def _usage(msg):
    print("fuzz_long.py: %s" % msg)
    print("usage: fuzz_long.py [--cases N] [--seed S]")
    sys.exit(2)


def parse_args(argv):
    getenv = getattr(os, "getenv", None)
    env = getenv("FUZZ_CASES") if getenv else None
    cases = DEFAULT_CASES
    seed = test_fuzz.SEED
    try:
        if env:
            cases = int(env)
        i = 0
        while i < len(argv):
            arg = argv[i]
            if arg in ("-h", "--help"):
                print(__doc__)
                sys.exit(0)
            if arg in ("--cases", "--seed") and i + 1 < len(argv):
                value = argv[i + 1]
                i += 2
            elif arg.startswith("--cases=") or arg.startswith("--seed="):
                arg, value = arg.split("=", 1)
                i += 1
            else:
                _usage("unknown argument %r" % arg)
            if arg == "--cases":
                cases = int(value)
            else:
                seed = int(value, 0) & 0xFFFFFFFF
    except ValueError:
        _usage("--cases and --seed take integers")
    if cases <= 0:
        _usage("--cases must be positive")
    return cases, seed


def main(argv):
    cases, seed = parse_args(argv)
    print("fuzz_long: %d cases, base seed 0x%08x, %d vectors" % (cases, seed, len(test_fuzz.corpus_names())))
    ok = 0
    errors = {}
    findings = 0
    step = max(1, cases // 10)
    t0 = _now()
    for i in range(cases):
        cs = test_fuzz.case_seed(seed, i)
        try:
            kind, status = test_fuzz.run_case(cs)
        except Exception as e:  # noqa: BLE001 - every unexpected exception is a finding
            findings += 1
            if findings <= MAX_REPORTED:
                print("FINDING case %d seed 0x%08x: %s" % (i, cs, e))
            continue
        if kind == "ok":
            ok += 1
        else:
            errors[status] = errors.get(status, 0) + 1
        if (i + 1) % step == 0 or i + 1 == cases:
            print("  %3d%%  %d cases  %.1f s" % ((i + 1) * 100 // cases, i + 1, _now() - t0))
    elapsed = _now() - t0
    print("summary")
    print("  cases                 %d" % cases)
    print("  ok parses             %d" % ok)
    for status in sorted(errors):
        print("  ParseError %d        %d" % (status, errors[status]))
    print("  unexpected exceptions %d" % findings)
    print("  time                  %.1f s (%.0f cases/s)" % (elapsed, cases / elapsed if elapsed else 0))
    if findings > MAX_REPORTED:
        print("  (only the first %d findings were printed)" % MAX_REPORTED)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
