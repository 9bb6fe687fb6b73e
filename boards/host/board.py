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
