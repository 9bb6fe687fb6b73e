"""tools/bench/avalanche.py on a small population: real UserAgents restart at once against
a registrar that is down for the first minutes (issue 6). Behaviour only, no timings.
CPython only (the tool runs on the host).
# mpy: skip
"""
import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location(
    "avalanche", os.path.join(ROOT, "tools", "bench", "avalanche.py"))
av = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(av)

PHONES = 300
OUTAGE_MIN = 4
_cache = {}


def result(capacity=0):
    if capacity not in _cache:
        _cache[capacity] = av.run(PHONES, OUTAGE_MIN, 20, seed=3, capacity=capacity)
    return _cache[capacity]


def test_wait_bound_is_the_rfc_formula():
    assert [av.wait_bound(f) for f in (0, 1, 2, 5, 6, 7, 40)] == [
        30000, 60000, 120000, 960000, 1800000, 1800000, 1800000]


def test_every_phone_registers_after_the_outage():
    t = result()["tinysip"]
    s = result()["series"]["tinysip"]
    assert t["registered"] == PHONES and t["internal_errors"] == 0
    assert min(s["registered_s"]) >= OUTAGE_MIN * 60  # nothing registers while it is down
    assert t["t50_s"] <= t["t99_s"] <= t["t100_s"] < 20 * 60
    assert t["registers"] == 2 * PHONES  # one challenge and one success each, no more
    assert t["registration_failed"] == {}


def test_every_recovery_delay_within_rfc5626_bounds():
    t = result()["tinysip"]
    # every phone failed at least once per outage retry; each delay was checked
    assert t["recoveries_checked"] >= 2 * PHONES
    assert t["recoveries_out_of_bounds"] == 0, t["bad_delays"]
    assert t["max_failures"] >= 3  # the backoff really grew (30-60, 60-120, 120-240 s ...)
    assert 0.70 < t["mean_delay_over_wait"] < 0.80  # uniform in 50-100 % has mean 0.75


def test_retries_are_spread_while_naive_ones_stampede():
    r = result()
    t, n = r["tinysip"], r["naive"]
    # the restart itself is simultaneous for both (the premise): everyone tries at t = 0
    assert t["boot_burst"] == n["boot_burst"] == PHONES
    # after that, no second holds more than a small share of the phones with the backoff ...
    assert t["peak_retry"] < 0.15 * PHONES, t["peak_retry"]
    assert t["peak_after_recovery"] < 0.15 * PHONES
    # ... while the naive fixed retry brings every phone back in the same second
    assert n["peak_retry"] == PHONES and n["peak_after_recovery"] == PHONES
    assert t["mean_outage"] < n["mean_outage"]


def test_attempts_spread_over_the_whole_outage():
    c = result()["series"]["tinysip"]["connects"]
    for minute in range(OUTAGE_MIN):  # every minute of the outage sees retries
        assert sum(c[minute * 60 + 1:(minute + 1) * 60]) > 0, minute
    busy = sum(1 for s in range(30, OUTAGE_MIN * 60) if c[s])
    assert busy > 0.35 * (OUTAGE_MIN * 60 - 30)  # a steady trickle, not a few bursts
    nc = result()["series"]["naive"]["connects"]
    assert sum(1 for s in range(30, OUTAGE_MIN * 60) if nc[s]) <= OUTAGE_MIN * 2


def test_finite_capacity_503s_still_converge():
    r = result(capacity=10)  # REGISTER requests/s after recovery; the rest get 503
    t, n = r["tinysip"], r["naive"]
    assert t["rejected_503"] > 0 and t["registration_failed"].get("503", 0) > 0
    assert t["registered"] == PHONES
    assert t["recoveries_out_of_bounds"] == 0, t["bad_delays"]
    served = [a - b for a, b in zip(r["series"]["tinysip"]["registers"],
                                    r["series"]["tinysip"]["rejected"])]
    assert max(served) <= 10
    # the naive phones arrive together: the capacity goes on challenges, few complete
    assert n["rejected_503"] > t["rejected_503"]
    assert n["registered"] < PHONES
