"""Cheap health figures read from the database, shared by ops_report and the readiness view."""

from django.db.models import Count, Min, Q
from djstripe.models import WebhookEventTrigger

from onboarding.models import OutboxEmail

QUEUED = OutboxEmail.State.QUEUED
SENDING = OutboxEmail.State.SENDING


def last_webhook_at():
    """Return when the newest webhook request arrived, or None; reads one row by primary key."""
    return WebhookEventTrigger.objects.order_by("-id").values_list("created", flat=True).first()


def seconds_since(moment, now):
    return None if moment is None else round((now - moment).total_seconds())


def outbox_backlog(now):
    """Return the number of queued and sending emails and the age in seconds of the oldest queued one."""
    figures = OutboxEmail.objects.filter(state__in=[QUEUED, SENDING]).aggregate(
        queued=Count("id", filter=Q(state=QUEUED)),
        sending=Count("id", filter=Q(state=SENDING)),
        oldest_queued=Min("created_at", filter=Q(state=QUEUED)),
    )
    return {
        "queued": figures["queued"],
        "sending": figures["sending"],
        "oldest_queued_age_seconds": seconds_since(figures["oldest_queued"], now),
    }
