"""compat: the interpreter switch gives the same hashes and hex on both runtimes."""
from tinysip import compat


def test_const_is_identity():
    assert compat.const(7) == 7


def test_hashes_match_known_vectors():
    assert compat.md5_hex(b"") == b"d41d8cd98f00b204e9800998ecf8427e"
    assert compat.md5_hex(b"abc") == b"900150983cd24fb0d6963f7d28e17f72"
    assert compat.sha256_hex(b"abc") == (
        b"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")


def test_hex():
    assert compat.hexlify(b"\x00\xff") == b"00ff"


def test_urandom_gives_fresh_bytes():
    a = compat.urandom(16)
    b = compat.urandom(16)
    assert len(a) == 16 and isinstance(a, bytes) and a != b


def test_micropython_flag_matches_the_runtime():
    import sys

    assert compat.MICROPYTHON == (sys.implementation.name == "micropython")


def test_mem_free_is_the_micropython_heap_figure():
    free = compat.mem_free()
    if compat.MICROPYTHON:
        import gc

        assert isinstance(free, int) and 0 < free <= gc.mem_free() + gc.mem_alloc()
    else:
        assert free is None  # CPython has no heap figure: the event says null


def test_drop_forgets_a_module_the_package_never_named():
    # a module put into sys.modules by hand (a test's stand-in) has no attribute on the
    # tinysip package: MicroPython's delattr raises KeyError there, and drop must not
    import sys

    import tinysip
    from tinysip.compat import drop

    sys.modules["tinysip.zz_standin"] = object()
    drop("tinysip.zz_standin")
    assert "tinysip.zz_standin" not in sys.modules
    import tinysip.sipdate  # noqa: F401 - a real one (no classes: nothing holds their identity)

    drop("sipdate tinysip.zz_absent")
    assert "tinysip.sipdate" not in sys.modules and not hasattr(tinysip, "sipdate")
    import tinysip.sipdate  # noqa: F401,F811 - and it loads again


def test_load_imports_a_module_named_by_bytes_and_returns_its_attributes():
    from tinysip import uri
    from tinysip.compat import load

    assert load(b"tinysip.uri same") is uri.same
    assert load(b"tinysip.uri same parse_uri") == (uri.same, uri.parse_uri)
    assert load(b"tinysip.io.clock wall") is __import__("tinysip.io.clock", None, None,
                                                        ["wall"]).wall


def test_collect_every_sets_micropythons_gc_threshold_and_voice_calls_hold_it_off():
    from tinysip.compat import MICROPYTHON, collect_every

    if not MICROPYTHON:
        # CPython frees objects as they die: nothing to set, whatever is asked
        assert [collect_every(n) for n in (4096, 0, -1, None)] == [None] * 4
        return
    import gc

    try:
        assert collect_every(4096) == 4096 and gc.threshold() == 4096
        collect_every(0)  # a voice call starts
        collect_every(0)  # a second one
        assert gc.threshold() == -1
        assert collect_every(2048) == 2048 and gc.threshold() == -1  # set, held off
        collect_every(-1)  # the first ends: the second still runs
        assert gc.threshold() == -1
        collect_every(-1)
        assert gc.threshold() == 2048
        collect_every(-1)  # an end too many changes nothing
        assert gc.threshold() == 2048
    finally:
        collect_every(None)  # back to collecting only when the heap is full
    assert gc.threshold() == -1
