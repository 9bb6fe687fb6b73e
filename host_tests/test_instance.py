from testutil import raises, MICROPYTHON

from tinysip.instance import parse_mac, uuid1, format_uuid, instance_urn

MAC = b"\xaa\xbb\xcc\xdd\xee\xff"


def test_rfc5626_example_vector():
    # RFC 5626 §4.1 example: time 0, clock seq 0, node AA:BB:CC:DD:EE:FF
    assert format_uuid(uuid1(MAC, 0, 0)) == b"00000000-0000-1000-8000-aabbccddeeff"
    assert instance_urn("aa:bb:cc:dd:ee:ff") == b"urn:uuid:00000000-0000-1000-8000-aabbccddeeff"
    assert instance_urn(MAC) == b"urn:uuid:00000000-0000-1000-8000-aabbccddeeff"


def test_defaults_are_time_zero_clock_seq_zero():
    assert uuid1(MAC) == uuid1(MAC, 0, 0)
    assert format_uuid(uuid1(MAC))[:23] == b"00000000-0000-1000-8000"


def test_field_layout():
    u = uuid1(b"\x02\x00\x00\x00\x00\x01")
    assert len(u) == 16
    assert u[6] >> 4 == 1  # version 1
    assert u[8] >> 6 == 2  # variant 10
    assert u[10:16] == b"\x02\x00\x00\x00\x00\x01"  # node, big-endian MAC order
    text = format_uuid(u)
    assert len(text) == 36
    assert [len(g) for g in text.split(b"-")] == [8, 4, 4, 4, 12]
    assert text[14:15] == b"1"
    assert text[19:20] in (b"8", b"9", b"a", b"b")


def test_nonzero_timestamp_and_clock_seq_layout():
    # timestamp 0x1D3A2B4C5D6E7F8: time_low C5D6E7F8, time_mid A2B4, time_hi 1D3 (+version 1)
    # clock_seq 0x2A5C: hi 0x2A | 0x80 = 0xAA, low 0x5C
    u = uuid1(MAC, 0x1D3A2B4C5D6E7F8, 0x2A5C)
    assert u == b"\xc5\xd6\xe7\xf8\xa2\xb4\x11\xd3\xaa\x5c\xaa\xbb\xcc\xdd\xee\xff"
    assert format_uuid(u) == b"c5d6e7f8-a2b4-11d3-aa5c-aabbccddeeff"
    # extremes keep version and variant intact
    u = uuid1(MAC, (1 << 60) - 1, 0x3FFF)
    assert format_uuid(u) == b"ffffffff-ffff-1fff-bfff-aabbccddeeff"


def test_cross_check_stdlib_uuid():
    if MICROPYTHON:
        return
    import uuid

    for ts, cs in ((0, 0), (0x1D3A2B4C5D6E7F8, 0x2A5C), (0x1EE0123456789AB, 0x1234)):
        ref = uuid.UUID(
            fields=(ts & 0xFFFFFFFF, (ts >> 32) & 0xFFFF, 0x1000 | (ts >> 48), 0x80 | (cs >> 8), cs & 0xFF, 0xAABBCCDDEEFF)
        )
        mine = uuid1(MAC, ts, cs)
        assert mine == ref.bytes
        assert format_uuid(mine) == str(ref).encode()
        assert ref.version == 1 and ref.time == ts and ref.clock_seq == cs and ref.node == 0xAABBCCDDEEFF


def test_stable_across_calls():
    a = instance_urn("24:0a:c4:12:34:56")
    b = instance_urn(b"240AC4123456")
    c = instance_urn(b"\x24\x0a\xc4\x12\x34\x56")
    assert a == b == c
    assert a == instance_urn("24:0a:c4:12:34:56")


def test_differs_per_mac():
    assert instance_urn("24:0a:c4:12:34:56") != instance_urn("24:0a:c4:12:34:57")
    assert uuid1(b"\x00\x00\x00\x00\x00\x01") != uuid1(b"\x00\x00\x00\x00\x00\x02")


def test_parse_mac_forms():
    for form in (
        "aa:bb:cc:dd:ee:ff",
        "AA:BB:CC:DD:EE:FF",
        "AA-BB-CC-DD-EE-FF",
        "aa-bb-cc-dd-ee-ff",
        "aabbccddeeff",
        "AaBbCcDdEeFf",
        b"aa:bb:cc:dd:ee:ff",
        b"AA-BB-CC-DD-EE-FF",
        b"AABBCCDDEEFF",
        bytearray(b"aa:bb:cc:dd:ee:ff"),
        memoryview(b"aabbccddeeff"),
        MAC,
        bytearray(MAC),
    ):
        assert parse_mac(form) == MAC, form
    assert isinstance(parse_mac(bytearray(MAC)), bytes)


def test_parse_mac_errors():
    bad = (
        "",
        "aa:bb:cc:dd:ee",
        "aa:bb:cc:dd:ee:ff:00",
        "aa:bb-cc:dd:ee:ff",  # mixed separators
        "aa.bb.cc.dd.ee.ff",
        "aabb.ccdd.eeff",
        "gg:bb:cc:dd:ee:ff",
        "aabbccddeefg",
        "aabbccddeef",
        " aabbccddeeff",
        "a:bb:cc:dd:ee:fff",
        "aa:b:ccc:dd:ee:ff",
        "aa:bb:cc:dd:ee::f",  # a separator where a digit belongs
        "aa:bb:cc:dd:ee:f\xe9",
        [0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF],
        b"\xaa\xbb\xcc\xdd\xee",  # 5 raw bytes
        "00:00:00:00:00:00",
        b"\x00" * 6,
        None,
        0xAABBCCDDEEFF,
    )
    for value in bad:
        e = raises(ValueError, parse_mac, value)
        assert str(e).startswith("mac: "), value


def test_uuid1_argument_errors():
    assert str(raises(ValueError, uuid1, b"\xaa\xbb")).startswith("mac: ")
    assert str(raises(ValueError, uuid1, MAC, -1, 0)).startswith("timestamp: ")
    assert str(raises(ValueError, uuid1, MAC, 1 << 60, 0)).startswith("timestamp: ")
    assert str(raises(ValueError, uuid1, MAC, 0, 0x4000)).startswith("clock_seq: ")
    assert str(raises(ValueError, uuid1, MAC, 0, -1)).startswith("clock_seq: ")
    raises(ValueError, format_uuid, b"\x00" * 15)


def test_output_is_lowercase_bytes():
    u = instance_urn("AA:BB:CC:DD:EE:FF")
    assert isinstance(u, bytes)
    assert u == u.lower()
