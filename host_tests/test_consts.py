"""The private constants the core modules share (each keeps its own copy: a private const
costs the phone no interned name) agree with each other and with testutil's copies."""
import testutil

ROOT = testutil.HERE + "/../lib/tinysip/"


def consts(path):
    """name -> int of every `_NAME = const(N)` line of a module's source."""
    out = {}
    with open(ROOT + path) as f:
        for line in f:
            if line[:1] == "_" and " = const(" in line:
                name, _, rest = line.partition(" = const(")
                out[name] = int(rest.split(")")[0], 0)
    return out


def test_the_actions_are_the_same_in_the_ua_the_driver_and_the_tests():
    ua = consts("ua.py")
    driver = consts("io/driver.py")
    names = ["CONNECT", "SEND", "CLOSE", "MEDIA", "MEDIA_STOP", "RESOLVE"]
    for n in names:
        assert ua["_ACT_" + n] == driver["_ACT_" + n] == getattr(testutil, "ACT_" + n), n
    assert ua["_ACT_VOICE"] == driver["_ACT_VOICE"] == 7
    values = [ua["_ACT_" + n] for n in names + ["VOICE"]]
    assert len(set(values)) == len(values)


def test_framing_units_and_register_outcomes_are_the_same_in_the_ua():
    ua = consts("ua.py")
    fr = consts("framing.py")
    for n in ("MESSAGE", "PING", "PONG", "ERROR"):
        assert ua["_FRAME_" + n] == fr["_FRAME_" + n] == getattr(testutil, "FRAME_" + n), n
    reg = consts("register.py")
    for n in ("PROVISIONAL", "OK", "RETRY", "FAIL", "REWRITE"):
        assert ua["_R_" + n] == reg["_R_" + n], n
        if n != "REWRITE":
            assert reg["_R_" + n] == getattr(testutil, "R_" + n), n


def test_transaction_states_match_the_tests_copy():
    tr = consts("transaction.py")
    for n in ("TRYING", "PROCEEDING", "COMPLETED", "TERMINATED"):
        assert tr["_" + n] == getattr(testutil, n), n


def test_subscribe_states_match_test_subscribes_copies():
    import test_subscribe as ts

    sb = consts("subscribe.py")
    assert (sb["_SUBSCRIBING"], sb["_WAITING"], sb["_UNSUBSCRIBING"]) == (
        ts.SUBSCRIBING, ts.WAITING, ts.UNSUBSCRIBING)
    assert sb["_RETRY_DEFAULT_MS"] == ts.RETRY_DEFAULT_MS


def test_certificate_fields_and_subscription_states_match_their_copies():
    x = consts("x509.py")
    fields = [n for n in x if n.startswith("_C_")]
    assert len(fields) == 18 and sorted(x[n] for n in fields) == list(range(18))
    for n in fields:
        assert x[n] == getattr(testutil, n[1:]), n
    for copy in ("certs.py", "certservice.py", "../../firmware/app.py"):
        c = consts(copy)
        shared = [n for n in c if n.startswith("_C_")]
        assert shared, copy
        for n in shared:
            assert c[n] == x[n], (copy, n)
    import test_subscribe as ts

    sb = consts("subscribe.py")
    cs = consts("certservice.py")
    for n in ("PENDING", "ACTIVE", "TERMINATED"):
        assert sb["_" + n] == cs["_" + n] == getattr(ts, n), n
    assert cs["_S_N"] == sb["_N"]  # Subscription._due's Timer N


def test_the_parked_certificate_service_reads_the_same_in_the_ua():
    # ua.py reads certservice.park's tuple through its own copies of the indexes
    cs = consts("certservice.py")
    ua = consts("ua.py")
    shared = [n for n in ua if n.startswith("_P_")]
    assert sorted(shared) == ["_P_CHECKS", "_P_DOMAIN", "_P_IDS", "_P_T"]
    for n in shared:
        assert ua[n] == cs[n], n
    # certs.parked runs the queued checks from that tuple and reads a Subscription's state
    c = consts("certs.py")
    shared = [n for n in c if n.startswith("_P_")]
    assert sorted(shared) == ["_P_DATA", "_P_DOMAIN", "_P_IDS", "_P_SUBS"]
    for n in shared:
        assert c[n] == cs[n], n
    assert c["_TERMINATED"] == cs["_TERMINATED"]
    assert c["_OPEN"] == cs["_OPEN"]  # a subscription put off in _due (left for the service)
