"""Host board: the MicroPython unix port (or CPython) on a Linux machine.

Names only, like the device boards: where the MAC comes from, how the network comes up,
what the status LED does. The host has no Wi-Fi and no LED.
"""
NAME = "host"


def mac(cfg):
    """The host has no burned-in MAC the phone may use: it comes from config key `mac`."""
    if cfg.mac is None:
        # imported here, at boot: a module-level name would keep the boot-only config alive
        from tinysip.config import ConfigError

        raise ConfigError("mac", "missing (the host board takes the MAC from config)")
    return cfg.mac


def network_up(cfg):
    """Nothing to bring up: the host's network is already there."""


def set_clock(epoch_s):
    """The host's clock is the operating system's: never set from here."""


def status(event):
    """No LED on the host; event lines on stdout are the status."""


_keys = None  # select.poll on stdin once polled; False after end of input
_woken = None  # the loop's poll, which stdin wakes (attach)


def attach(driver):
    """A control line wakes the phone's loop at once (it waits up to a second otherwise):
    stdin joins the loop's poll; the loop leaves what it does not know to poll() below."""
    global _woken
    import select
    import sys

    _woken = driver.poll
    _woken.register(sys.stdin, select.POLLIN)


def poll(ua, now):
    """The host's button: control lines on stdin (callctl.command: answer, hangup,
    call <uri>, dtmf <call_id> <digits>), read without blocking the phone's loop, and
    `quit`: unregister and stop, as Ctrl-C does on a device.

    `quit` is the host's clean stop. The unix port raises Ctrl-C's KeyboardInterrupt from
    its signal handler, wherever the interpreter is: inside a garbage collection it leaves
    the heap locked, and the unregister then fails on its first allocation (measured:
    docs/benchmarks.md, session 25). A device's Ctrl-C waits for the next bytecode, and so
    does this one: raised here, between two steps of the loop."""
    global _keys
    if _keys is False:
        return
    import select
    import sys

    if _keys is None:
        _keys = select.poll()
        _keys.register(sys.stdin, select.POLLIN)
    for _ in _keys.ipoll(0):  # (poll() would allocate a list at every step of the loop)
        break
    else:
        return
    line = sys.stdin.readline()
    if not line or line.strip() == "quit":  # (no line: stdin /dev/null or a closed pipe)
        _keys = False  # nothing more is read
        if _woken is not None:  # (a closed stdin would wake the loop at every step)
            _woken.unregister(sys.stdin)
        if line:
            raise KeyboardInterrupt
        return
    import callctl

    callctl.command(line)
