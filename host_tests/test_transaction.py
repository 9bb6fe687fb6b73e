from testutil import COMPLETED, PROCEEDING, TERMINATED, TRYING
from testutil import FakeClock, FakeRandom, raises

from tinysip import message
from tinysip import transaction
from tinysip.transaction import ClientTransaction, new_branch

BRANCH = b"z9hG4bK0123456789abcdef"
START = 1000  # FakeClock's default start: timers are absolute, not relative to 0


def _request_msg(method=b"OPTIONS", branch=BRANCH):
    req = message.request(method, b"sip:bob@example.com")
    req.add(b"Via", b"SIP/2.0/UDP 192.0.2.1:5060;branch=" + branch + b";rport")
    req.add(b"Max-Forwards", b"70")
    req.add(b"From", b"<sip:alice@example.com>;tag=a1")
    req.add(b"To", b"<sip:bob@example.com>")
    req.add(b"Call-ID", b"call-1@192.0.2.1")
    req.add(b"CSeq", b"7 " + method)
    return req


def _request(method=b"OPTIONS", branch=BRANCH):
    return _request_msg(method, branch).to_bytes()


def _parsed_request(method=b"OPTIONS", branch=BRANCH):
    return message.parse(_request(method, branch))


def _response(status, method=b"OPTIONS"):
    req = _parsed_request(method)
    return message.parse(message.response(req, status, to_tag=b"b2").to_bytes())


def _key(msg):
    """(top Via branch, method) the caller matches a message to its transaction with
    (§17.1.3, §17.2.3); a response's method is its CSeq method."""
    return (msg.branch, msg.method or msg.cseq_method)


def _client(clock, reliable=False, **timers):
    return ClientTransaction(_request(), BRANCH, b"OPTIONS", clock.now, reliable, **timers)


def _drain(tr):
    out = []
    while True:
        data = tr.pop_send()
        if data is None:
            return out
        out.append(data)


def _run(tr, clock, until):
    """Fire timers at their exact times up to `until` (relative to START).

    Returns (send offsets, offsets at which handle_timer returned True)."""
    sends = []
    timeouts = []
    while True:
        t = tr.next_timer()
        if t is None or t - START > until:
            return sends, timeouts
        assert t >= clock.now
        clock.now = t
        if tr.handle_timer(t):
            timeouts.append(t - START)
        for _ in _drain(tr):
            sends.append(t - START)


# -- helpers ----------------------------------------------------------------------------------


def test_new_branch_has_cookie_and_16_hex_digits():
    rng = FakeRandom(7)
    b1 = new_branch(rng)
    b2 = new_branch(rng)
    assert b1[:7] == b"z9hG4bK"
    assert len(b1) == 23
    for c in b1[7:]:
        assert c in b"0123456789abcdef"
    assert b1 != b2
    assert new_branch(FakeRandom(7)) == b1  # deterministic from the injected rng


def test_keys_are_branch_and_method():
    client = ClientTransaction(_request(b"REGISTER"), BRANCH, b"REGISTER", START, False)
    assert client.key == (BRANCH, b"REGISTER")
    assert _key(_response(200, b"REGISTER")) == client.key
    assert _key(_response(180)) == (BRANCH, b"OPTIONS")


# The figures as (state, input) -> (new state, actions); the action flags of transaction.py
# (private consts there). Inputs: 0 1xx, 1 final, 2 Timer F, 3 Timer E, 4 Timer K,
# 5 transport error. Absent: absorbed.
PASS, SEND, E_UP, E_T2, END, ABORT = 4, 8, 16, 32, 64, 128
FIGURE_6 = {
    (TRYING, 0): (PROCEEDING, PASS),
    (TRYING, 1): (COMPLETED, PASS | END),
    (TRYING, 2): (TERMINATED, ABORT),
    (TRYING, 3): (TRYING, SEND | E_UP),
    (TRYING, 5): (TERMINATED, ABORT),
    (PROCEEDING, 0): (PROCEEDING, PASS),
    (PROCEEDING, 1): (COMPLETED, PASS | END),
    (PROCEEDING, 2): (TERMINATED, ABORT),
    (PROCEEDING, 3): (PROCEEDING, SEND | E_T2),
    (PROCEEDING, 5): (TERMINATED, ABORT),
    (COMPLETED, 4): (TERMINATED, 0),
}
def test_tables_are_the_figures():
    for table, figure in ((transaction._CLIENT, FIGURE_6),):
        assert len(table) == 24
        for state in (TRYING, PROCEEDING, COMPLETED, TERMINATED):
            for inp in range(6):
                cell = table[6 * state + inp]
                # absent: absorbed; Terminated is final: nothing leaves it
                assert (cell & 3, cell & 0xFC) == figure.get((state, inp), (state, 0)), (state, inp)


# -- client: construction and misuse ----------------------------------------------------------


def test_client_queues_request_on_creation():
    clock = FakeClock()
    tr = _client(clock)
    assert tr.state == TRYING
    assert not tr.terminated and not tr.timed_out and not tr.failed
    assert tr.final is None
    assert tr.key == (BRANCH, b"OPTIONS")
    assert tr.pop_send() == _request()
    assert tr.pop_send() is None


def test_client_rejects_invite_ack_and_bad_timers():
    clock = FakeClock()
    e = raises(ValueError, ClientTransaction, _request(), BRANCH, b"INVITE", clock.now, False)
    assert "method" in str(e)
    raises(ValueError, ClientTransaction, _request(), BRANCH, b"ACK", clock.now, False)
    e = raises(ValueError, _client, clock, False, t1=0)
    assert "t1" in str(e)
    assert "t2" in str(raises(ValueError, _client, clock, False, t2=-1))
    assert "t4" in str(raises(ValueError, _client, clock, False, t4=None))
    tr = _client(clock)
    raises(ValueError, tr.receive, _parsed_request(), clock.now)


# -- client: unreliable retransmission schedule -----------------------------------------------


def test_client_udp_schedule_then_timer_f():
    clock = FakeClock()
    tr = _client(clock)
    assert len(_drain(tr)) == 1  # the initial send at 0
    assert tr.next_timer() == START + 500
    sends, timeouts = _run(tr, clock, 100000)
    # E: 500, 1000, 2000, 4000 (T2), 4000, ... from each firing
    assert sends == [500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    assert timeouts == [32000]  # Timer F = 64*T1
    assert tr.timed_out and tr.terminated and not tr.failed
    assert tr.state == TERMINATED
    assert tr.final is None
    assert tr.next_timer() is None
    assert tr.handle_timer(START + 100000) is False  # True only once
    assert tr.pop_send() is None


def test_client_retransmits_identical_request():
    clock = FakeClock()
    tr = _client(clock)
    first = tr.pop_send()
    clock.now = tr.next_timer()
    assert tr.handle_timer(clock.now) is False
    assert tr.pop_send() == first
    assert tr.pop_send() is None


def test_client_handle_timer_before_due_does_nothing():
    clock = FakeClock()
    tr = _client(clock)
    _drain(tr)
    assert tr.handle_timer(START + 499) is False
    assert tr.pop_send() is None
    assert tr.next_timer() == START + 500


def test_client_late_timer_call_fires_once_and_rearms_from_now():
    clock = FakeClock()
    tr = _client(clock)
    _drain(tr)
    tr.handle_timer(START + 2000)  # E was due at 500: one send, no catch-up burst
    assert len(_drain(tr)) == 1
    assert tr.next_timer() == START + 2000 + 1000  # next interval min(2*T1, T2)


def test_client_very_late_call_times_out_without_sending():
    clock = FakeClock()
    tr = _client(clock)
    _drain(tr)
    assert tr.handle_timer(START + 40000) is True
    assert tr.timed_out and tr.terminated
    assert tr.pop_send() is None


def test_client_proceeding_switches_to_t2_interval():
    clock = FakeClock()
    tr = _client(clock)
    _drain(tr)
    sends, _ = _run(tr, clock, 500)
    assert sends == [500]
    clock.now = START + 600
    r = _response(100)
    assert tr.receive(r, clock.now) is r
    assert tr.state == PROCEEDING
    assert tr.next_timer() == START + 1500  # the armed E keeps its expiry
    sends, timeouts = _run(tr, clock, 100000)
    assert sends == [1500, 5500, 9500, 13500, 17500, 21500, 25500, 29500]
    assert timeouts == [32000]
    assert tr.timed_out and tr.terminated


def test_client_every_provisional_reaches_tu():
    clock = FakeClock()
    tr = _client(clock)
    r1 = _response(100)
    r2 = _response(180)
    assert tr.receive(r1, clock.now) is r1
    assert tr.receive(r2, clock.now) is r2
    assert tr.receive(r1, clock.now) is r1
    assert tr.state == PROCEEDING
    assert tr.final is None


# -- client: final response, Completed, Timer K -----------------------------------------------


def test_client_final_completed_then_timer_k():
    clock = FakeClock()
    tr = _client(clock)
    _drain(tr)
    _run(tr, clock, 1500)
    tr.receive(_response(100), clock.now)
    clock.now = START + 2000
    final = _response(200)
    assert tr.receive(final, clock.now) is final
    assert tr.final is final
    assert tr.state == COMPLETED and not tr.terminated
    assert tr.next_timer() == START + 2000 + 5000  # K = T4; E and F stopped
    assert _drain(tr) == []
    # retransmitted final and late provisionals are absorbed
    assert tr.receive(_response(200), clock.now) is None
    assert tr.receive(_response(404), clock.now) is None
    assert tr.receive(_response(180), clock.now) is None
    assert tr.final is final
    assert tr.handle_timer(START + 6999) is False
    assert tr.state == COMPLETED
    assert tr.handle_timer(START + 7000) is False  # K ending it is not a timeout
    assert tr.state == TERMINATED and tr.terminated
    assert not tr.timed_out and not tr.failed
    assert tr.next_timer() is None
    assert tr.receive(_response(200), clock.now) is None
    assert _drain(tr) == []


def test_client_final_from_trying():
    clock = FakeClock()
    tr = _client(clock)
    _drain(tr)
    final = _response(486)
    assert tr.receive(final, clock.now) is final
    assert tr.state == COMPLETED
    assert tr.final is final
    sends, timeouts = _run(tr, clock, 100000)
    assert sends == [] and timeouts == []
    assert tr.terminated and not tr.timed_out


def test_client_transport_error_after_final_is_ignored():
    clock = FakeClock()
    tr = _client(clock)
    tr.receive(_response(200), clock.now)
    tr.transport_error(clock.now)
    assert tr.state == COMPLETED and not tr.failed


# -- client: reliable transports ---------------------------------------------------------------


def test_client_reliable_no_retransmit_f_still_fires():
    clock = FakeClock()
    tr = _client(clock, reliable=True)
    assert len(_drain(tr)) == 1
    assert tr.next_timer() == START + 32000  # only F is armed
    sends, timeouts = _run(tr, clock, 100000)
    assert sends == []
    assert timeouts == [32000]
    assert tr.timed_out and tr.terminated


def test_client_reliable_provisional_keeps_f_only():
    clock = FakeClock()
    tr = _client(clock, reliable=True)
    _drain(tr)
    tr.receive(_response(100), START + 10)
    assert tr.state == PROCEEDING
    assert tr.next_timer() == START + 32000


def test_client_reliable_final_terminates_at_once():
    clock = FakeClock()
    tr = _client(clock, reliable=True)
    _drain(tr)
    final = _response(200)
    assert tr.receive(final, clock.now) is final  # K = 0
    assert tr.final is final
    assert tr.state == TERMINATED and tr.terminated
    assert not tr.timed_out and not tr.failed
    assert tr.next_timer() is None
    assert tr.receive(_response(200), clock.now) is None


# -- client: transport errors -------------------------------------------------------------------


def test_client_transport_error_in_trying():
    clock = FakeClock()
    tr = _client(clock)
    tr.transport_error(clock.now)  # the initial send is still queued: it is dropped
    assert tr.state == TERMINATED and tr.terminated
    assert tr.failed and not tr.timed_out
    assert tr.pop_send() is None
    assert tr.next_timer() is None
    assert tr.handle_timer(START + 100000) is False


def test_client_transport_error_in_proceeding():
    clock = FakeClock()
    tr = _client(clock)
    _drain(tr)
    tr.receive(_response(100), clock.now)
    tr.transport_error(clock.now)
    assert tr.terminated and tr.failed and not tr.timed_out
    assert tr.next_timer() is None
    assert tr.receive(_response(200), clock.now) is None
    assert tr.final is None


# -- client: custom timer values ------------------------------------------------------------


def test_client_custom_t1():
    clock = FakeClock()
    tr = _client(clock, t1=100)
    _drain(tr)
    assert tr.next_timer() == START + 100
    sends, timeouts = _run(tr, clock, 100000)
    # E: 100, 200, 400, 800, 1600, 3200 (T2 still 4000)
    assert sends == [100, 300, 700, 1500, 3100, 6300]
    assert timeouts == [6400]  # F = 64*T1


def test_client_custom_t2_caps_interval():
    clock = FakeClock()
    tr = _client(clock, t2=1000)
    _drain(tr)
    sends, timeouts = _run(tr, clock, 6000)
    assert sends == [500, 1500, 2500, 3500, 4500, 5500]


def test_client_custom_t4_sets_timer_k():
    clock = FakeClock()
    tr = _client(clock, t4=2500)
    tr.receive(_response(200), START + 40)
    assert tr.next_timer() == START + 40 + 2500


def test_client_next_timer_is_earliest_of_e_and_f():
    clock = FakeClock()
    tr = _client(clock, t1=1000, t2=40000)
    _drain(tr)
    # E: 1000, 2000, 4000, 8000, 16000, 32000 -> sends up to 63000; F at 64000
    sends, timeouts = _run(tr, clock, 63000)
    assert sends == [1000, 3000, 7000, 15000, 31000, 63000]
    # E is next due at 63000 + 40000, F earlier
    assert tr.next_timer() == START + 64000
    sends, timeouts = _run(tr, clock, 100000)
    assert sends == [] and timeouts == [64000]


def test_client_timer_f_wins_a_tie_with_e():
    clock = FakeClock()
    # T2 = T1 = 250: E every 250 ms, so E and F (64*T1 = 16000) are due at the same instant
    tr = _client(clock, t1=250, t2=250)
    _drain(tr)
    sends, timeouts = _run(tr, clock, 100000)
    assert sends == [250 * k for k in range(1, 64)]  # nothing at 16000
    assert timeouts == [16000]
