"""Cheap health figures read from the database, shared by ops_report and the readiness view."""

from django.db.models import Count, Min, Q
from django.db.models.functions import Coalesce
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
    """Return the number of due, scheduled and sending emails, and how long the longest-waiting due email has waited.

    A queued row with a later next attempt (an intake reminder two days on, a
    retry after backoff) is "scheduled", not backlog. A due row has waited
    since its next attempt time, or since it was written when it has none.
    """
    due = Q(state=QUEUED) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    figures = OutboxEmail.objects.filter(state__in=[QUEUED, SENDING]).aggregate(
        queued=Count("id", filter=due),
        scheduled=Count("id", filter=Q(state=QUEUED, next_attempt_at__gt=now)),
        sending=Count("id", filter=Q(state=SENDING)),
        oldest_due=Min(Coalesce("next_attempt_at", "created_at"), filter=due),
    )
    return {
        "queued": figures["queued"],
        "scheduled": figures["scheduled"],
        "sending": figures["sending"],
        "oldest_queued_age_seconds": seconds_since(figures["oldest_due"], now),
    }
