"""The back office dashboard on the admin index: counts that link to the filtered lists.

It sits in the project package because it reads orders, onboarding and
dj-stripe alike. It costs five queries (four without permission to view webhook triggers)
whatever the number of rows.
"""

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from djstripe.models import WebhookEventTrigger

from onboarding.back_office import orders_with_failed_email
from orders.back_office.filters import TierFilter, recent_failed_trigger
from orders.models import DFYOrder
from orders.transitions import overdue


@dataclass(frozen=True)
class Tile:
    label: str
    count: int
    url: str
    alert: bool = False


@dataclass(frozen=True)
class TierRow:
    tier: str
    today: int
    week: int
    today_url: str
    week_url: str


def order_list_url(**params):
    url = reverse("admin:orders_dfyorder_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def day_start(now):
    return timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)


def created_between(since, until):
    # The same parameters, written the same way, as the "created" date
    # filter's own links, so the filter shows the dashboard's choice as chosen.
    return {"created_at__gte": str(since), "created_at__lt": str(until)}


def tier_rows(now):
    """Return the orders created today and in the past 7 days, per tier."""
    today = day_start(now)
    tomorrow = today + timedelta(days=1)
    week_start = today - timedelta(days=7)
    rows = (
        DFYOrder.objects.filter(created_at__gte=week_start, created_at__lt=tomorrow)
        .values("tier")
        .annotate(today=Count("pk", filter=Q(created_at__gte=today)), week=Count("pk"))
        .order_by("tier")
    )
    return [
        TierRow(
            tier=row["tier"] or "(no plan)",
            today=row["today"],
            week=row["week"],
            today_url=order_list_url(tier=row["tier"] or TierFilter.NONE, **created_between(today, tomorrow)),
            week_url=order_list_url(tier=row["tier"] or TierFilter.NONE, **created_between(week_start, tomorrow)),
        )
        for row in rows
    ]


def attention_tiles(now, user):
    # One count per tile, each on an index, rather than one pass over every
    # order that tests all three conditions on each row.
    needs_review = DFYOrder.objects.filter(status=DFYOrder.Status.NEEDS_REVIEW).count()
    late = DFYOrder.objects.filter(overdue(now)).count()
    email_failed = DFYOrder.objects.filter(pk__in=orders_with_failed_email()).count()
    tiles = [
        Tile("Need review", needs_review, order_list_url(needs_review="yes"), alert=True),
        Tile("Overdue", late, order_list_url(overdue="yes"), alert=True),
        Tile("With a failed email", email_failed, order_list_url(email_failed="yes"), alert=True),
    ]
    if user.has_perm("djstripe.view_webhookeventtrigger"):
        failed = WebhookEventTrigger.objects.filter(recent_failed_trigger(now)).count()
        url = reverse("admin:djstripe_webhookeventtrigger_changelist") + "?failed=24h"
        tiles.append(Tile("Failed webhooks, last 24 h", failed, url, alert=True))
    return tiles


def dashboard(user, now=None):
    """Return the dashboard's context for a staff user, or None when they may not view orders."""
    if not user.has_perm("orders.view_dfyorder"):
        return None
    now = now or timezone.now()
    rows = tier_rows(now)
    return {
        "tiles": attention_tiles(now, user),
        "tier_rows": rows,
        "total_today": sum(row.today for row in rows),
        "total_week": sum(row.week for row in rows),
        "orders_url": order_list_url(),
    }
