"""ops_report: webhook, email, outbox and order figures, and the alert conditions read from them."""

import math
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count, Min, Q
from djstripe.models import WebhookEventTrigger

from onboarding.models import OutboxEmail
from orders.models import DFYOrder

from .alerts import update_alert
from .metrics import last_webhook_at, outbox_backlog, seconds_since
from .report import Report


@dataclass(frozen=True)
class Rules:
    """Alert thresholds; each rule's text is printed with its figures."""

    webhook_failure_rate: float = 0.05
    email_failure_rate: float = 0.10
    outbox_max_delay_minutes: int = 30
    needs_review_max_hours: int = 24
    webhook_silence_hours: int = 24
    volume_baseline_days: int = 7
    volume_factor: float = 3.0
    volume_spike_min_orders: int = 10
    volume_drop_min_daily_mean: float = 3.0


@dataclass(frozen=True)
class Condition:
    key: str
    active: bool
    message: str
    rule: str
    figures: dict = field(default_factory=dict)


def build_ops_report(now, rules, *, send_alerts=True):
    """Evaluate every condition and, unless send_alerts is off, update the alert state; return the report."""
    report = Report("ops_report", f"Operations report at {now:%Y-%m-%d %H:%M:%S} UTC")
    for condition in evaluate(now, rules):
        text = f"{condition.message} Alert when {condition.rule}."
        status = "fail" if condition.active else "ok"
        report.add(condition.key, status, text, rule=condition.rule, **condition.figures)
        if send_alerts:
            record_alert(report, update_alert(condition, now))
    return report


def record_alert(report, change):
    if change is None:
        return
    if change.error:
        report.fail(
            f"alert {change.key}",
            f"The {change.change} alert could not be sent: {change.error}",
            hint="Check STAFF_ALERT_EMAILS and the email settings; the next run tries again.",
        )
    else:
        report.ok(f"alert {change.key}", f"Staff alerted ({change.change}) through {change.channel}.")


def evaluate(now, rules):
    """Return every alert condition, active or not, in a fixed order."""
    return [
        webhook_failures(now, rules),
        email_failures(now, rules),
        outbox_delay(now, rules),
        *order_volume(now, rules),
        orders_needing_review(now, rules),
        webhook_silence(now, rules),
    ]


def failure_rate(failed, total):
    return failed / total if total else 0.0


def webhook_failures(now, rules):
    figures = WebhookEventTrigger.objects.filter(created__gte=now - timedelta(hours=1)).aggregate(
        total=Count("id"), failed=Count("id", filter=Q(valid=False) | Q(processed=False))
    )
    rate = failure_rate(figures["failed"], figures["total"])
    return Condition(
        "webhook_failure_rate",
        rate > rules.webhook_failure_rate,
        f"{figures['failed']} of {figures['total']} webhook requests failed in the last hour ({rate:.1%}).",
        f"more than {rules.webhook_failure_rate:.0%} of the last hour's webhook requests failed "
        "(invalid signature or processing error)",
        {**figures, "rate": round(rate, 4)},
    )


def email_failures(now, rules):
    figures = OutboxEmail.objects.filter(
        updated_at__gte=now - timedelta(days=1), state__in=[OutboxEmail.State.SENT, OutboxEmail.State.FAILED]
    ).aggregate(finished=Count("id"), failed=Count("id", filter=Q(state=OutboxEmail.State.FAILED)))
    rate = failure_rate(figures["failed"], figures["finished"])
    return Condition(
        "email_failure_rate",
        rate > rules.email_failure_rate,
        f"{figures['failed']} of {figures['finished']} emails failed in the last day ({rate:.1%}).",
        f"more than {rules.email_failure_rate:.0%} of the emails finished in the last day failed",
        {**figures, "rate": round(rate, 4)},
    )


def outbox_delay(now, rules):
    backlog = outbox_backlog(now)
    limit = now - timedelta(minutes=rules.outbox_max_delay_minutes)
    # A queued row with a next attempt time is due only from then. A row left in
    # "sending" that long means a worker stopped in the middle of it.
    overdue = OutboxEmail.objects.filter(
        Q(state=OutboxEmail.State.QUEUED, next_attempt_at__isnull=True, created_at__lt=limit)
        | Q(state=OutboxEmail.State.QUEUED, next_attempt_at__lt=limit)
        | Q(state=OutboxEmail.State.SENDING, updated_at__lt=limit)
    ).count()
    age = backlog["oldest_queued_age_seconds"]
    return Condition(
        "outbox_delay",
        overdue > 0,
        f"Outbox: {backlog['queued']} due, {backlog['scheduled']} scheduled for later, "
        f"{backlog['sending']} sending, {overdue} overdue; "
        f"oldest queued: {format_age(age)}.",
        f"an email has been due for more than {rules.outbox_max_delay_minutes} minutes without being sent "
        "(is the db_worker running?)",
        {**backlog, "overdue": overdue},
    )


def order_volume(now, rules):
    """Return the spike and the drop conditions: the last 24 hours against the mean of the days before."""
    day_start = now - timedelta(days=1)
    recent = DFYOrder.objects.filter(created_at__gte=day_start).count()
    baseline_start = day_start - timedelta(days=rules.volume_baseline_days)
    first_order = DFYOrder.objects.aggregate(first=Min("created_at"))["first"]
    # A young deployment has fewer days of history: the baseline then starts
    # on the day of its first order, counted as a whole day.
    if first_order is not None and first_order > baseline_start:
        days = math.ceil((day_start - first_order) / timedelta(days=1))
        baseline_start = day_start - timedelta(days=days)
    else:
        days = rules.volume_baseline_days
    earlier = DFYOrder.objects.filter(created_at__gte=baseline_start, created_at__lt=day_start).count()
    mean = earlier / days if days > 0 else None

    figures = {"last_24_hours": recent, "baseline_days": max(days, 0), "baseline_daily_mean": mean}
    shown_mean = "no earlier orders" if mean is None else f"daily mean of the {days} days before: {mean:.1f}"
    message = f"Orders in the last 24 hours: {recent}; {shown_mean}."
    factor = rules.volume_factor
    spike = mean is not None and recent >= rules.volume_spike_min_orders and recent > factor * mean
    drop = mean is not None and mean >= rules.volume_drop_min_daily_mean and recent < mean / factor
    return [
        Condition(
            "order_volume_spike",
            spike,
            message,
            f"the last 24 hours have more than {factor:g} times the daily mean of the "
            f"{rules.volume_baseline_days} days before, and at least {rules.volume_spike_min_orders} orders",
            figures,
        ),
        Condition(
            "order_volume_drop",
            drop,
            message,
            f"the last 24 hours have less than 1/{factor:g} of the daily mean of the "
            f"{rules.volume_baseline_days} days before, and that mean is at least "
            f"{rules.volume_drop_min_daily_mean:g} orders",
            figures,
        ),
    ]


def orders_needing_review(now, rules):
    waiting = DFYOrder.objects.filter(status=DFYOrder.Status.NEEDS_REVIEW)
    stuck = waiting.filter(created_at__lt=now - timedelta(hours=rules.needs_review_max_hours))
    stuck_references = [order.reference for order in stuck.order_by("id")[:10]]
    total, stuck_count = waiting.count(), stuck.count()
    return Condition(
        "orders_needs_review",
        stuck_count > 0,
        f"Orders in needs_review: {total}, waiting more than {rules.needs_review_max_hours} hours: {stuck_count}"
        + (f" ({', '.join(stuck_references)})." if stuck_references else "."),
        f"an order has been in needs_review for more than {rules.needs_review_max_hours} hours",
        {"needs_review": total, "stuck": stuck_count, "stuck_orders": stuck_references},
    )


def webhook_silence(now, rules):
    last = last_webhook_at()
    age = seconds_since(last, now)
    silent = age is not None and age > rules.webhook_silence_hours * 3600
    return Condition(
        "webhook_silence",
        silent,
        "No webhook has arrived yet." if last is None else f"The last webhook arrived {format_age(age)} ago.",
        f"no webhook has arrived for more than {rules.webhook_silence_hours} hours (checked once the first has arrived)",
        {"last_webhook_at": last.isoformat() if last else None, "seconds_since_last_webhook": age},
    )


def format_age(seconds):
    if seconds is None:
        return "none"
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
