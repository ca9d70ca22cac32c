"""Time the back office's order list, dashboard and order page with many orders.

It creates a throwaway database next to the configured one, with tables
built from the models as the tests do, and fills it with orders and one
welcome email each. It then times GET requests through Django's test client
in this process. The Markdown table it prints gives the median and best wall
time of the timed runs and the number of SQL queries per request. The
database is dropped at the end unless --keep is given.

    eval "$(scripts/postgres start)"      # for PostgreSQL; SQLite without it
    .venv/bin/python bench/admin_list.py --orders 100000
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "levqor.settings")
os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

BATCH_SIZE = 5000
# The mix of rows: every 50th order needs review, every 10th is in progress
# with a deadline in the past, and every 4th is delivered. Every 100th email failed.
TIERS = [("STARTER", 9900, "gbp"), ("PROFESSIONAL", 24900, "gbp"), ("PRO_MONTHLY", 14900, "gbp"), ("STARTER", 50000, "jpy")]


class DisableMigrations:
    """Build tables from the models: replaying dj-stripe's migrations takes about 100 s."""

    def __contains__(self, item):
        return True

    def __getitem__(self, item):
        return None


def order_fields(number, now):
    from orders.models import DFYOrder

    Status = DFYOrder.Status
    tier, amount, currency = TIERS[number % len(TIERS)]
    status, deadline = Status.NEW, now + timedelta(hours=48)
    if number % 50 == 0:
        status, deadline, tier = Status.NEEDS_REVIEW, None, ""
    elif number % 10 == 0:
        status, deadline = Status.IN_PROGRESS, now - timedelta(hours=5)
    elif number % 4 == 0:
        status = Status.DELIVERED
    return {
        "stripe_checkout_session_id": f"cs_test_bench_{number:07d}",
        "stripe_payment_intent_id": f"pi_test_bench_{number:07d}",
        "stripe_customer_id": f"cus_test_bench_{number:07d}",
        "customer_email": f"customer{number}@example.com",
        "customer_name": f"Customer {number}",
        "mode": "dfy",
        "plan": tier.lower(),
        "term": "one_off",
        "tier": tier,
        "amount_total": amount,
        "currency": currency,
        "status": status,
        "payment_status": "paid",
        "paid_at": now,
        "deadline": deadline,
    }


def fill(order_count):
    """Insert the orders and one welcome email each, in batches; return the seconds it took."""
    from onboarding.models import OutboxEmail
    from orders.models import DFYOrder

    started = time.perf_counter()
    now = timezone.now()
    batches = range(0, order_count, BATCH_SIZE)
    for index, start in enumerate(batches):
        numbers = range(start, min(start + BATCH_SIZE, order_count))
        orders = DFYOrder.objects.bulk_create([DFYOrder(**order_fields(number, now)) for number in numbers])
        # created_at is set on insert, so the batches are spread over the past 90 days here.
        age = timedelta(days=90) * (len(batches) - 1 - index) / max(1, len(batches) - 1)
        DFYOrder.objects.filter(pk__in=[order.pk for order in orders]).update(created_at=now - age)
        OutboxEmail.objects.bulk_create(
            [
                OutboxEmail(
                    order=order, template="welcome", to_email=order.customer_email, subject="Welcome",
                    state=OutboxEmail.State.FAILED if number % 100 == 0 else OutboxEmail.State.SENT,
                )
                for number, order in zip(numbers, orders)
            ]
        )
    return time.perf_counter() - started


def measure(client, url, runs):
    """Return (median seconds, best seconds, last run's queries, status) of GET url after one warm-up request."""
    client.get(url)
    times = []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url)
            if response.streaming:
                b"".join(response.streaming_content)
            times.append(time.perf_counter() - started)
    return statistics.median(times), min(times), queries.captured_queries, response.status_code


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000, help="Orders to create (default 100000).")
    parser.add_argument("--runs", type=int, default=5, help="Timed requests per page after one warm-up (default 5).")
    parser.add_argument(
        "--keep", action="store_true", help="Keep the database afterwards (levqor_bench, or var/bench.sqlite3) for EXPLAIN."
    )
    parser.add_argument("--show-queries", action="store_true", help="Print each query of the last run with its time.")
    args = parser.parse_args()

    settings.MIGRATION_MODULES = DisableMigrations()
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = (
        "levqor_bench" if connection.vendor == "postgresql" else str(Path(settings.VAR_DIR) / "bench.sqlite3")
    )
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        run(args)
    finally:
        if args.keep:
            connection.close()
            print(f"Kept {connection.settings_dict['NAME']}")
        else:
            connection.creation.destroy_test_db(old_name, verbosity=0)


def run(args):
    from orders.models import DFYOrder

    print(f"Database: {connection.vendor} {connection.settings_dict['NAME']}")
    seconds = fill(args.orders)
    print(f"Inserted {args.orders} orders and {args.orders} emails in {seconds:.1f} s")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    user = get_user_model().objects.create_superuser("bench", "bench@levqor.example", None)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    order = DFYOrder.objects.order_by("-pk").first()
    middle_page = max(1, args.orders // 50 // 2)
    pages = [
        ("order list", "/admin/orders/dfyorder/"),
        (f"order list, page {middle_page}", f"/admin/orders/dfyorder/?p={middle_page}"),
        ("needs review", "/admin/orders/dfyorder/?needs_review=yes"),
        ("overdue", "/admin/orders/dfyorder/?overdue=yes"),
        ("email failed", "/admin/orders/dfyorder/?email_failed=yes"),
        ("status in progress, sorted by amount", "/admin/orders/dfyorder/?status__exact=in_progress&o=5"),
        ("search by email", "/admin/orders/dfyorder/?q=customer4242%40example.com"),
        ("search by payment intent", "/admin/orders/dfyorder/?q=pi_test_bench_0004242"),
        ("dashboard (admin index)", "/admin/"),
        ("order page", f"/admin/orders/dfyorder/{order.pk}/change/"),
    ]
    print()
    print("| page | median ms | best ms | queries |")
    print("| --- | ---: | ---: | ---: |")
    for label, url in pages:
        median, best, queries, status = measure(client, url, args.runs)
        if status != 200:
            raise SystemExit(f"GET {url} returned {status}")
        print(f"| {label} | {median * 1000:.0f} | {best * 1000:.0f} | {len(queries)} |")
        if args.show_queries:
            for query in queries:
                print(f"    {float(query['time']) * 1000:7.1f} ms  {query['sql'][:400]}")


if __name__ == "__main__":
    main()
