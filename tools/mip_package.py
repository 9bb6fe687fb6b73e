"""package.json for mip: every module of lib/tinysip, so `mpremote mip install` takes the
library straight from the repository (relative urls: from GitHub or a local checkout).

    python tools/mip_package.py           rewrite package.json from lib/tinysip
    python tools/mip_package.py --check   exit 1 (and say what differs) when it is stale

host_tests/test_deploy.py runs the check, so a module added to lib/ without package.json
fails the tests.
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from romfs import CPYTHON_ONLY  # noqa: E402 - (lib/ modules a device never gets)

PACKAGE = os.path.join(ROOT, "package.json")
VERSION = "0.1.0"


def modules():
    """Paths of lib/tinysip/**.py relative to lib/, sorted."""
    lib = os.path.join(ROOT, "lib")
    out = []
    for dirpath, dirs, files in os.walk(os.path.join(lib, "tinysip")):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            rel = os.path.relpath(os.path.join(dirpath, name), lib).replace(os.sep, "/")
            if name.endswith(".py") and rel not in CPYTHON_ONLY:
                out.append(rel)
    return sorted(out)


def package():
    return {"urls": [[m, "lib/" + m] for m in modules()], "version": VERSION}


def text():
    p = package()
    lines = ",\n".join('    ["%s", "%s"]' % (a, b) for a, b in p["urls"])
    return '{\n  "urls": [\n%s\n  ],\n  "version": "%s"\n}\n' % (lines, p["version"])


def main(argv):
    want = text()
    if "--check" in argv:
        try:
            with open(PACKAGE) as f:
                have = json.load(f)
        except (OSError, ValueError) as e:
            print("package.json: unreadable (%s): run python tools/mip_package.py" % e)
            return 1
        listed = set(u[0] for u in have.get("urls", ()))
        actual = set(modules())
        if listed != actual or have != json.loads(want):
            print("package.json is stale: missing %s, extra %s; run python tools/mip_package.py"
                  % (sorted(actual - listed), sorted(listed - actual)))
            return 1
        print("package.json: %d modules, up to date" % len(actual))
        return 0
    with open(PACKAGE, "w") as f:
        f.write(want)
    print("package.json: %d modules" % len(modules()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
