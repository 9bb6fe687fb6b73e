# mpy: skip
"""The host board (boards/host/board.py) on the unix port: its stdin is the phone's button.

Run in a MicroPython subprocess (the board is the unix port's; its poll uses ipoll, which
CPython's select lacks). `quit` is the host's clean stop: the lab (Phone.stop, make run)
stops every phone with it, because the unix port's SIGINT raises KeyboardInterrupt from the
signal handler wherever the interpreter is, and one that lands in a garbage collection
leaves the heap locked, so the unregister fails (session 25: the plain lab's "unregistered
on the way out" failed in CI, 1 in ~14 runs here, the traceback naming "heap is locked").
"""
import os
import subprocess

from testutil import HERE

ROOT = os.path.dirname(HERE)
MICROPYTHON = os.environ.get("TINYSIP_MICROPYTHON") or os.path.join(ROOT, ".venv", "bin",
                                                                     "micropython")
SCRIPT = """
import sys
sys.path[0:0] = [%r, %r]
import gc, board
log = []
class Ctl:
    def command(line):
        log.append(line.strip())
sys.modules["callctl"] = Ctl
board.poll(None, 0)  # nothing written yet (the test waits for "ready"): nothing read
def alloc(n):  # (in a function: a new global would grow the module's dict mid-count)
    gc.collect()
    i = 0
    a = gc.mem_alloc()
    while i < n:  # (a range would be an allocation of the test's own)
        board.poll(None, i)
        i += 1
    return gc.mem_alloc() - a
print("alloc", alloc(200))
print("ready")
try:
    while board._keys is not False:  # until the end of input
        board.poll(None, 0)
    print("input ended, no stop", log)
except KeyboardInterrupt:
    print("stopped after", log)
"""


def _run(tmp_path, text):
    script = tmp_path / "hostboard.py"
    script.write_text(SCRIPT % (os.path.join(ROOT, "boards", "host"), os.path.join(ROOT, "lib")))
    p = subprocess.Popen([MICROPYTHON, str(script)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    first = p.stdout.readline() + p.stdout.readline()
    assert first.endswith(b"ready\n"), first
    out, _ = p.communicate(text, timeout=30)
    return p.returncode, (first + out).decode()


def test_quit_raises_keyboard_interrupt_between_steps_after_the_lines_before_it(tmp_path):
    rc, out = _run(tmp_path, b"answer\ndtmf c1 12\nquit\nhangup\n")
    assert rc == 0, out
    # the lines before `quit` went to callctl in order; the one after it was never read
    assert "stopped after ['answer', 'dtmf c1 12']" in out, out


def test_polling_an_idle_stdin_allocates_nothing(tmp_path):
    # the loop polls stdin at every step: a per-step allocation would be garbage for the
    # collector all day (select.poll().poll() builds a new list each time; ipoll does not)
    rc, out = _run(tmp_path, b"quit\n")
    alloc = int(out.split("alloc ")[1].split()[0])
    assert rc == 0 and alloc == 0, out


def test_end_of_input_stops_polling_and_never_stops_the_phone(tmp_path):
    # stdin /dev/null or a closed pipe (a phone run from a service manager): end of input is
    # not a stop request; the board stops reading and the phone goes on
    script = tmp_path / "eof.py"
    script.write_text("""
import sys
sys.path[0:0] = [%r]
import board
for i in range(5):
    board.poll(None, i)
print("still running", board._keys)
""" % os.path.join(ROOT, "boards", "host"))
    p = subprocess.run([MICROPYTHON, str(script)], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=30)
    assert p.returncode == 0 and b"still running False" in p.stdout, p.stdout + p.stderr


def test_attached_a_control_line_wakes_the_loop_and_the_end_of_input_leaves_it(tmp_path):
    # attach(driver): stdin joins the loop's poll, so a line is read at once, not after the
    # loop's one-second wait; at the end of input it leaves, or the loop would spin
    script = tmp_path / "attach.py"
    script.write_text("""
import sys, time
sys.path[0:0] = [%r]
import select, board
class Driver:
    poll = select.poll()
board.attach(Driver)
print("ready")
t = time.ticks_ms()
woke = Driver.poll.poll(5000)
print("woke", len(woke), time.ticks_diff(time.ticks_ms(), t) < 4000)
try:
    board.poll(None, 0)
except KeyboardInterrupt:
    print("quit")
print("left", Driver.poll.poll(0))
""" % os.path.join(ROOT, "boards", "host"))
    p = subprocess.Popen([MICROPYTHON, str(script)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert p.stdout.readline().strip() == b"ready"
    out, _ = p.communicate(b"quit\n", timeout=30)  # (and the pipe closes: end of input)
    assert p.returncode == 0, out
    assert out.decode().split("\n")[:3] == ["woke 1 True", "quit", "left []"], out
