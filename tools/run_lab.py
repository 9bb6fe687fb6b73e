"""`make run`: the bundled lab (Kamailio + throwaway PKI) and the phone on the unix port.

Starts Kamailio on 127.0.0.1 with the project's config (tools/lab), writes a phone config
with a primary TLS flow (CRLF keepalive) and a backup UDP flow (STUN keepalive, answered by
Kamailio), boots firmware/main.py under MicroPython with its code in place from a ROMFS
image (tools/romfs.py, as a device runs it; --files: plain source) and shows
what happens: every event line of the phone, rendered for people, plus Kamailio's own view
of each binding (instance, reg-id, Path flow token) after each registration.
Ctrl-C stops the phone (it unregisters) and then Kamailio.

    python tools/run_lab.py [--seconds N] [--port-base P] [--json] [--heap SIZE]
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools", "lab"))

from lab import Lab, LabError  # noqa: E402

WORKDIR = os.path.join(ROOT, ".lab")


def micropython():
    venv = os.path.join(ROOT, ".venv", "bin", "micropython")
    return venv if os.path.exists(venv) else "micropython"


def phone_config(lab, path):
    cfg = {
        "aor": lab.aor("phone1"),
        "auth": {"username": "phone1", "password": lab.users["phone1"]},
        "outbound": ["sips:127.0.0.1:%d" % lab.port_tls,
                     "sip:127.0.0.1:%d;transport=udp" % lab.port_udp],
        "tls": {"ca": lab.ca_der, "server_name": "127.0.0.1"},
        "mac": "02:00:5e:10:00:01",
        "expires": 300,
        "flow": {"base_all_down": 5, "base_some_up": 15},
    }
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)
    return cfg


_TRANSPORT = {}  # flow -> its transport, from flow_connecting


def render(ev):
    """A human line for an event dict (the raw JSON stays available with --json)."""
    t = ev.get("t", 0) / 1000.0
    name = ev.get("event")
    flow = ev.get("flow")
    who = "flow %s" % flow if flow is not None else ""
    if name == "boot":
        text = "phone booted: %s, instance %s, %d flow(s)" % (ev["aor"], ev["instance"],
                                                              ev["flows"])
    elif name == "flow_connecting":
        _TRANSPORT[flow] = ev["transport"]
        text = "%s (reg-id %s): connecting %s to %s" % (who, ev["reg_id"], ev["transport"],
                                                        ev["server"])
    elif name == "flow_up":
        text = "%s: connected to %s%s, registering" % (
            who, ev["server"], " (TLS: certificate and name verified)"
            if _TRANSPORT.get(flow) == "tls" else "")
    elif name == "registered":
        text = "%s REGISTERED (reg-id %s) for %ss, outbound=%s, Flow-Timer=%s\n%s pub-gruu:  %s\n%s temp-gruu: %s" % (
            who, ev["reg_id"], ev["expires"], ev["outbound"], ev["flow_timer"],
            " " * 10, ev["pub_gruu"], " " * 10, ev["temp_gruu"])
    elif name == "keepalive":
        kind = "STUN Binding answered" if _TRANSPORT.get(flow) == "udp" else "CRLF pong"
        text = "%s: keepalive (%s) in %s ms" % (who, kind, ev["rtt_ms"])
    elif name == "tls_error":
        text = "%s: TLS ERROR with %s: %s" % (who, ev["server"], ev["reason"])
    elif name == "flow_failed":
        text = "%s: FLOW FAILED (%s)" % (who, ev["reason"])
    elif name == "flow_recovering":
        text = "%s: recovering in %.1f s (failure %s)" % (who, ev["delay_ms"] / 1000.0,
                                                          ev["failures"])
    elif name == "registration_failed":
        text = "%s: registration failed: %s %s" % (who, ev["status"], ev["reason"])
    elif name == "unregistered":
        text = "%s: unregistered" % who
    else:
        text = " ".join("%s=%s" % (k, v) for k, v in sorted(ev.items()) if k not in ("t", "event"))
        text = "%s %s" % (name, text)
    return "[%8.2fs] %s" % (t, text)


def show_binding(lab, ev):
    try:
        bindings = lab.ul_dump()
    except Exception as e:  # noqa: BLE001 - the demo keeps going; say why
        print("           (kamcmd ul.dump failed: %s)" % e)
        return
    for b in bindings:
        if str(b.get("reg_id")) == str(ev.get("reg_id")):
            print("           Kamailio binding: instance %s reg-id %s path %s" % (
                b.get("instance"), b.get("reg_id"), b.get("path")))


def stop(phone):
    """Ask the phone to unregister and exit: the host board's control line `quit`. Not
    SIGINT: the unix port raises its KeyboardInterrupt from the signal handler, wherever the
    interpreter is, and one that lands in a garbage collection leaves the heap locked, so
    the unregister fails (boards/host/board.py)."""
    if phone.poll() is None:
        try:
            phone.stdin.write(b"quit\n")
            phone.stdin.close()
        except (OSError, ValueError):  # (it exited meanwhile; or asked already)
            pass


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=0, help="stop by itself after N s")
    ap.add_argument("--port-base", type=int, default=int(os.environ.get("LAB_PORT_BASE", 5060)))
    ap.add_argument("--json", action="store_true", help="print raw event lines too")
    ap.add_argument("--heap", default=None, help="micropython -X heapsize (e.g. 96k)")
    ap.add_argument("--files", action="store_true", help="run lib/ from source, not ROMFS")
    args = ap.parse_args(argv)

    os.makedirs(WORKDIR, exist_ok=True)
    lab = Lab(WORKDIR, port_base=args.port_base, flow_timer=30)
    print("starting the lab: Kamailio on 127.0.0.1 (work dir %s)" % WORKDIR)
    try:
        lab.start()
    except LabError as e:
        print("lab failed to start: %s" % e, file=sys.stderr)
        return 1
    for line in lab.describe():
        print("  " + line)
    cfg_path = os.path.join(WORKDIR, "phone.json")
    phone_config(lab, cfg_path)
    cmd = [micropython()]
    if not args.files:
        sys.path.insert(0, os.path.join(ROOT, "tools"))
        import romfs

        image = romfs.build(os.path.join(WORKDIR, "tinysip.romfs"))
        print("the phone's code: %s (%d bytes, run in place)" % (image, os.path.getsize(image)))
        cmd = [sys.executable, os.path.join(ROOT, "tools", "romfs.py"), "run", image]
    if args.heap:
        cmd += ["-X", "heapsize=%s" % args.heap]
    cmd += [os.path.join(ROOT, "firmware", "main.py"), cfg_path]
    print("booting the phone: %s" % " ".join(cmd))
    print("press Ctrl-C to stop")
    # stdin a pipe: stopped with the host board's `quit` line (see stop() below)
    phone = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT,
                             start_new_session=True)
    deadline = time.time() + args.seconds if args.seconds else None
    rc = 0
    try:
        if deadline:
            import threading

            def stopper():
                while time.time() < deadline and phone.poll() is None:
                    time.sleep(0.1)
                stop(phone)

            threading.Thread(target=stopper, daemon=True).start()
        for raw in phone.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            try:
                ev = json.loads(line)
            except ValueError:
                print("           phone: %s" % line)
                continue
            if args.json:
                print(line)
            print(render(ev), flush=True)
            if ev.get("event") == "registered":
                show_binding(lab, ev)
        rc = phone.wait()
    except KeyboardInterrupt:
        print("\nstopping the phone (it unregisters), then Kamailio")
        stop(phone)
        try:
            for raw in phone.stdout:
                line = raw.decode("utf-8", "replace").rstrip()
                try:
                    print(render(json.loads(line)))
                except ValueError:
                    print("           phone: %s" % line)
            phone.wait(timeout=5)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            phone.kill()
            phone.wait()
    finally:
        lab.stop()
        print("lab stopped")
    return 0 if rc in (0, -signal.SIGINT) else rc


if __name__ == "__main__":
    sys.exit(main())
