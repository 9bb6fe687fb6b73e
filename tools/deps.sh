#!/usr/bin/env bash
# System packages for the interop lab (Kamailio, SIPp, baresip, openssl, socat, iproute2, dnsmasq) on Debian 12.
# Idempotent: checks the dpkg database first, so a machine that has everything does nothing.
# Missing packages: as root, one `apt-get update` + `apt-get install`; otherwise print the
# command to run and exit 1.
set -euo pipefail

PACKAGES=(
    kamailio                    # kamailio, kamcmd; its modules include sanity.so and pike.so
                                # (the lab edge's syntax checks and per-source rate limit)
    kamailio-tls-modules
    kamailio-outbound-modules
    kamailio-extra-modules
    kamailio-utils-modules
    kamailio-secsipid-modules   # secsipid.so: RFC 8224 Identity on the lab's certificate NOTIFYs
    sip-tester                  # sipp
    baresip-core                # baresip 1.0.0 CLI + modules (no GTK/X11/ffmpeg/gstreamer)
    openssl
    python3-venv                # `python3 -m venv` for make venv on a stock Debian python3
    socat                       # the unix port behind a pty for mpremote (phone as source)
    iproute2                    # ip netns + TUN links for the loopcall accuracy tests
    dnsmasq-base                # dnsmasq binary only (no service grabbing port 53): NAPTR/SRV/A
                                # for the RFC 3263 tests (host_tests/interop/dnslab.py)
)
COMMANDS=(kamailio kamcmd sipp baresip openssl socat ip dnsmasq)

installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

if ! command -v dpkg-query >/dev/null 2>&1; then
    missing_cmds=()
    for c in "${COMMANDS[@]}"; do
        command -v "$c" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$c" >/dev/null 2>&1 || missing_cmds+=("$c")
    done
    if [ ${#missing_cmds[@]} -eq 0 ]; then
        exit 0
    fi
    echo "deps.sh: not a Debian system and missing: ${missing_cmds[*]}" >&2
    echo "deps.sh: install Kamailio (with tls/outbound/extra/utils/secsipid modules), SIPp, baresip, openssl and dnsmasq" >&2
    exit 1
fi

# Node.js + npm: the 32-bit heap bench (tools/bench/wasm32) runs MicroPython's WebAssembly port
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "deps.sh: node/npm missing; install them with: sudo apt-get install -y nodejs npm" >&2
        exit 1
    fi
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm
fi

missing=()
for p in "${PACKAGES[@]}"; do
    installed "$p" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "deps.sh: missing packages: ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: not root; install them with:" >&2
    echo "  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y ${PACKAGES[*]}" >&2
    exit 1
fi

apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y "${PACKAGES[@]}"

for p in "${PACKAGES[@]}"; do
    if ! installed "$p"; then
        echo "deps.sh: $p still not installed after apt-get install" >&2
        exit 1
    fi
done
