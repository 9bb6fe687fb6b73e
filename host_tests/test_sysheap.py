# mpy: heap 320k
"""System-heap awareness (issue 16): on ESP32 the board reads the ESP-IDF heap (fake `esp32`
module: esp32.idf_heap_info), the boot, flow_up and low_memory events carry its free bytes
and largest free block, and the driver opens no flow while the heap is short of what its
socket (and TLS session) needs: the flow fails with `low_sys_heap` and the figures, backs
off, and connects once the memory is back. Hosts without the figures check nothing."""
import json

from test_esp32_boot import _boot_modules, _config, _Esp32, _remove

import tinysip.io.driver as drv
from tinysip.events import Event

# the docs' regions after booting: 35712 + 15036 + 4 free, the largest block 35512
FREE, LARGEST = 50752, 35512


def _lines(app):
    """The JSON lines app prints, as dicts, from now on."""
    out = []
    app.print = lambda s: out.append(json.loads(s))
    return out


def test_the_esp32_boards_read_the_idf_heap():
    for name in ("ESP32_GENERIC", "ESP32_S3"):
        app, board = _boot_modules(name)
        assert board.sys_heap() == (FREE, LARGEST)
    _Esp32.regions = [(200000, 120000, 90000, 80000), (4000000, 3900000, 3800000, 3700000)]
    assert board.sys_heap() == (4020000, 3800000)  # an S3's PSRAM region counts too


def test_boot_flow_up_and_low_memory_say_what_the_system_heap_has():
    app, board = _boot_modules("ESP32_GENERIC")
    out = _lines(app)
    path = _config()
    try:
        cfg, ua, driver = app._boot(path)
    finally:
        _remove(path)
    assert out[0]["event"] == "boot", out
    assert (out[0]["sys_free"], out[0]["sys_largest"]) == (FREE, LARGEST)
    assert driver.sys_heap is board.sys_heap  # the driver checks it before each connect
    _Esp32.regions = [(113840, 30000, 20000, 15000)]  # a TLS session took its share
    app.on_event(Event("flow_up", (0, 1, "127.0.0.1:5061")))
    app.on_event(Event("keepalive", (0, 12)))
    assert out[1]["event"] == "flow_up" and out[1]["server"] == "127.0.0.1:5061"
    assert (out[1]["sys_free"], out[1]["sys_largest"]) == (30000, 20000)
    assert "sys_free" not in out[2] and "sys_largest" not in out[2]  # only where it helps

    class Clock:
        t = 0

        def now(self):
            self.t += 1000
            return self.t

    class Driver:  # one step runs out of heap, then Ctrl-C
        n = 0

        def step(self):
            self.n += 1
            if self.n == 1:
                raise MemoryError("test: heap exhausted")
            raise KeyboardInterrupt

    app._clock = Clock()
    try:
        app.run(None, Driver())
    except KeyboardInterrupt:
        pass
    low = out[3]
    assert low["event"] == "low_memory" and low["count"] == 1, out
    assert (low["sys_free"], low["sys_largest"]) == (30000, 20000)


def test_the_host_board_has_no_figures():
    app, board = _boot_modules("host")
    out = _lines(app)
    assert getattr(board, "sys_heap", None) is None
    app.emit({"event": "boot", "board": "host"})
    assert out[0]["event"] == "boot" and "sys_free" not in out[0] and "sys_largest" not in out[0]


# -- the driver: no flow opens while the system heap is short ---------------------------------
class _Clock:
    def __init__(self):
        self.t = 1000

    def now(self):
        return self.t


class _Poll:  # nothing ever arrives: the test only looks at connects
    def register(self, sock, mask):
        pass

    def unregister(self, sock):
        pass

    def poll(self, ms):
        return []


class _Conn:
    """StreamConn's stand-in: records what was opened, never touches the network."""

    opened = []

    def __init__(self, host, port, tls, server_name, ca, timeout_ms, client):
        _Conn.opened.append((port, tls))
        self.sock = self

    def send(self, data):
        pass

    def close(self):
        pass


def _phone(heap, extra=None):
    """(ua, driver, events, clock): a TLS flow and a TCP flow, the system heap `heap[0]`."""
    from fakeregistrar import INSTANCE, config
    from testutil import FakeRandom

    from tinysip.ua import UserAgent

    ua = UserAgent(config(outbound=["sips:127.0.0.1:5061", "sip:127.0.0.1:5060;transport=tcp"],
                          extra=extra), INSTANCE, FakeRandom(1))
    events = []
    clock = _Clock()
    d = drv.Driver(ua, clock, None, events.append, None, lambda: heap[0])
    d.poll = _Poll()
    _Conn.opened = []
    ua.start(clock.now())
    return ua, d, events, clock


def _of(events, name, flow):
    return [e for e in events if e.name == name and e.flow == flow]


def _pump(d, *ms):
    """d.pump(), or d.step(ms), with _Conn in place of StreamConn."""
    real, drv.StreamConn = drv.StreamConn, _Conn
    try:
        d.step(*ms) if ms else d.pump()
    finally:
        drv.StreamConn = real


def test_a_tls_flow_waits_for_the_system_heap_and_says_why():
    heap = [(30000, 20000)]  # room for a socket, not for a TLS session
    ua, d, events, clock = _phone(heap)
    _pump(d)
    assert _Conn.opened == [(5060, False)]  # only the TCP flow (it needs a quarter: 10000 B)
    assert len(_of(events, "flow_up", 1)) == 1 and _of(events, "flow_up", 0) == []
    failed = _of(events, "flow_failed", 0)
    assert [e.reason for e in failed] == [
        "connect_failed: low_sys_heap: 30000 B free, largest block 20000 B "
        "(needs 40000 B free, a 16717 B block)"], failed
    back = _of(events, "flow_recovering", 0)  # backs off like any failed connect
    assert len(back) == 1 and back[0].failures == 1 and back[0].delay_ms > 0
    assert len(d.conns) == 1

    heap[0] = (45000, 25000)  # the memory is back
    del events[:]
    clock.t += back[0].delay_ms
    _pump(d, 0)
    assert _Conn.opened[1:] == [(5061, True)]
    assert len(_of(events, "flow_up", 0)) == 1 and _of(events, "flow_failed", 0) == []


def test_a_tls_flow_needs_one_block_for_the_record_buffer():
    heap = [(90000, 16000)]  # enough in all, but in pieces smaller than 16717 B
    ua, d, events, clock = _phone(heap)
    _pump(d)
    assert _Conn.opened == [(5060, False)]
    assert "largest block 16000 B" in _of(events, "flow_failed", 0)[0].reason


def test_a_plain_flow_needs_a_quarter_of_the_tls_figure():
    heap = [(8999, 8999)]
    ua, d, events, clock = _phone(heap, {"flow.min_sys_heap": 36000})
    _pump(d)
    assert _Conn.opened == []
    assert [e.reason for e in _of(events, "flow_failed", 1)] == [
        "connect_failed: low_sys_heap: 8999 B free, largest block 8999 B (needs 9000 B free)"]


def test_min_sys_heap_0_checks_nothing():
    heap = [(0, 0)]
    ua, d, events, clock = _phone(heap, {"flow.min_sys_heap": 0})
    _pump(d)
    assert sorted(_Conn.opened) == [(5060, False), (5061, True)]
    assert [e for e in events if e.name == "flow_failed"] == []
