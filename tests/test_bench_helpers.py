"""Checks of the benchmark script's own logic: percentiles, the Resend double's rate limit, timers, bulk loading."""

import time

import pytest

from bench.harness import ResendDouble, percentile
from bench.webhook_ack import SectionTimer, bulk_load_orders
from orders.models import DFYOrder


def test_percentile_picks_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 0.5) == 51
    assert percentile(values, 0.99) == 100
    assert percentile([], 0.5) == 0.0


def test_resend_double_limits_requests_per_second():
    double = ResendDouble(requests_per_second=2)
    try:
        assert not double.over_rate_limit(10.0)
        assert not double.over_rate_limit(10.1)
        assert double.over_rate_limit(10.2)
        assert double.over_rate_limit(10.9)
        assert not double.over_rate_limit(11.05)
    finally:
        double.server_close()


class Work:
    def outer(self):
        time.sleep(0.02)
        self.inner()

    def inner(self):
        time.sleep(0.03)


def test_section_timer_counts_nested_time_once():
    timer = SectionTimer()
    timer.wrap(Work, "outer", "outer")
    timer.wrap(Work, "inner", "inner")
    Work().outer()

    outer_wall, _, outer_calls = timer.totals["outer"]
    inner_wall, _, inner_calls = timer.totals["inner"]
    assert outer_calls == 1
    assert inner_calls == 1
    assert 0.015 < outer_wall < 0.03
    assert 0.025 < inner_wall < 0.05


@pytest.mark.django_db
def test_bulk_load_inserts_distinct_orders():
    bulk_load_orders(120)

    assert DFYOrder.objects.count() == 120
    assert DFYOrder.objects.values("stripe_checkout_session_id").distinct().count() == 120
    assert DFYOrder.objects.filter(stripe_checkout_session_id="cs_test_bulk_120", status=DFYOrder.Status.DELIVERED).exists()
