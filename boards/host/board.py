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


_keys = None  # select.poll on stdin (fd 0) once polled; False after end of input


def poll(ua, now):
    """The host's button: control lines on stdin (callctl.command: answer, hangup,
    call <uri>, dtmf <call_id> <digits>), read without blocking the phone's loop."""
    global _keys
    if _keys is False:
        return
    import select
    import sys

    if _keys is None:
        _keys = select.poll()
        _keys.register(0, select.POLLIN)
    if not _keys.poll(0):
        return
    line = sys.stdin.readline()
    if not line:  # end of input (stdin is /dev/null, or the pipe closed): stop polling
        _keys = False
        return
    import callctl

    callctl.command(line)
