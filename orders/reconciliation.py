"""Reconciliation: fulfil paid Checkout Sessions whose webhook never arrived.

Stripe is asked for the Checkout Sessions completed since a point in time,
and for the checkout.session.* events whose webhook delivery has not succeeded. A paid
session without an order, or an order still waiting for a payment outcome
that Stripe already reports, goes through the same fulfilment service as a
webhook (orders.services.apply_checkout). A session whose order already has its
outcome is left alone, so a second run changes nothing.
"""

import logging
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.db import DatabaseError, transaction
from django.utils import timezone
from djstripe.models import Event

from . import stripe_api
from .checkout import CheckoutSession, InvalidCheckoutSession
from .lifecycle import retry_unmatched_events
from .models import DFYOrder
from .services import (
    CHECKOUT_COMPLETED,
    CHECKOUT_EVENT_TYPES,
    OPEN_STATUSES,
    Outcome,
    apply_checkout,
    outcome_of,
)

logger = logging.getLogger(__name__)

# Stripe lists events going back up to 30 days (Event.list in stripe-python 15.6.2).
MAX_LOOKBACK = timedelta(days=30)
# The event_type recorded on orders that reconciliation creates from a session.
RECONCILIATION = "reconcile_checkouts"
DURATION = re.compile(r"^\s*(?P<number>\d+)\s*(?P<unit>[dhm])\s*$")
DURATION_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


class InvalidLookback(ValueError):
    """The look-back period is malformed or longer than Stripe keeps events."""


def parse_duration(text, option="--since"):
    """Parse "3d", "12h" or "30m" into a timedelta; raise InvalidLookback when malformed or zero."""
    match = DURATION.match(text or "")
    if match is None:
        raise InvalidLookback(
            f"Invalid {option} value {text!r}: use a number followed by d (days), h (hours) or m (minutes), e.g. 3d."
        )
    duration = timedelta(**{DURATION_UNITS[match["unit"]]: int(match["number"])})
    if duration <= timedelta(0):
        raise InvalidLookback(f"Invalid {option} value {text!r}: it must be longer than zero.")
    return duration


def check_lookback(lookback):
    if lookback > MAX_LOOKBACK:
        raise InvalidLookback(
            f"--since {lookback.days}d is beyond Stripe's 30-day event window: "
            "Stripe lists events of the last 30 days only, so use at most 30d."
        )


@dataclass
class Item:
    """The result of reconciling one session or event."""

    stripe_id: str
    result: str  # created, updated, already_fulfilled, not_paid, invalid or failed
    session_id: str = ""
    order: str = ""
    status: str = ""
    detail: str = ""


FIXED_RESULTS = ("created", "updated")


@dataclass
class ReconciliationReport:
    since: datetime
    sessions_checked: int = 0
    events_checked: int = 0
    unmatched_events_applied: int = 0
    items: list[Item] = field(default_factory=list)

    def count(self, result):
        return sum(1 for item in self.items if item.result == result)

    @property
    def fixed(self):
        return [item for item in self.items if item.result in FIXED_RESULTS]

    @property
    def failures(self):
        return [item for item in self.items if item.result == "failed"]

    @property
    def ok(self):
        return not self.failures

    def as_dict(self):
        return {
            "since": self.since.isoformat(),
            "sessions_checked": self.sessions_checked,
            "undelivered_events_checked": self.events_checked,
            "orders_created": self.count("created"),
            "orders_updated": self.count("updated"),
            "already_fulfilled": self.count("already_fulfilled"),
            "not_paid": self.count("not_paid"),
            "invalid": self.count("invalid"),
            "failed": self.count("failed"),
            "unmatched_events_applied": self.unmatched_events_applied,
            "items": [asdict(item) for item in self.items],
        }


def reconcile(lookback, now=None):
    """List sessions and undelivered events from Stripe and fulfil what is missing; return the report.

    Raises stripe_api.StripeUnavailable (or stripe_api.StripeRejected) when
    Stripe cannot be listed; nothing has been changed then.
    """
    check_lookback(lookback)
    since = (now or timezone.now()) - lookback
    events = stripe_api.list_undelivered_events(CHECKOUT_EVENT_TYPES, since)
    sessions = stripe_api.list_checkout_sessions(since, status="complete")
    report = ReconciliationReport(since=since)

    # Events first, oldest first: they carry Stripe's event id into the
    # activity log, and a failed delayed payment is known only from its event.
    for stripe_event in sorted(events, key=lambda item: item.get("created") or 0):
        report.events_checked += 1
        report.items.append(isolated(stripe_event.get("id", ""), reconcile_event, stripe_event))
    for session in sessions:
        report.sessions_checked += 1
        report.items.append(isolated(session.get("id", ""), reconcile_session, session))

    report.unmatched_events_applied = retry_unmatched_events()
    logger.info(
        "Reconciled %s sessions and %s undelivered events since %s: %s fixed, %s failed",
        report.sessions_checked, report.events_checked, since.isoformat(), len(report.fixed), len(report.failures),
    )
    return report


def isolated(stripe_id, reconcile_one, stripe_object):
    """Reconcile one object in its own transaction, so one failure does not stop the rest."""
    try:
        with transaction.atomic():
            return reconcile_one(stripe_object)
    except DatabaseError as exc:
        logger.error("Reconciling %s failed: %s", stripe_id, exc)
        return Item(stripe_id, "failed", detail=str(exc))


def reconcile_event(stripe_event):
    event_id = stripe_event.get("id", "")
    event_type = stripe_event.get("type", "")
    if Event.objects.filter(id=event_id).exists():
        # The webhook did arrive (a retry after Stripe's last report, or a
        # slow acknowledgement that Stripe counted as failed).
        return Item(event_id, "already_fulfilled", detail="the webhook was processed")

    data = stripe_event.get("data") if isinstance(stripe_event.get("data"), dict) else {}
    return reconcile_checkout(event_id, data.get("object"), event_type, event_id)


def reconcile_session(session_data):
    session_id = session_data.get("id", "")
    return reconcile_checkout(session_id, session_data, CHECKOUT_COMPLETED, "")


def reconcile_checkout(stripe_id, session_data, event_type, stripe_event_id):
    try:
        session = CheckoutSession.from_stripe(session_data)
    except InvalidCheckoutSession as exc:
        logger.warning("Reconciliation skipped %s: %s", stripe_id, exc)
        return Item(stripe_id, "invalid", detail=str(exc))

    outcome = outcome_of(event_type, session)
    order = DFYOrder.objects.filter(stripe_checkout_session_id=session.id).first()
    if order is not None and (outcome is Outcome.UNPAID or order.status not in OPEN_STATUSES):
        return Item(stripe_id, "already_fulfilled", session.id, order.reference, order.status)
    if order is None and outcome is Outcome.UNPAID and not stripe_event_id:
        # A session listed as complete but unpaid waits for its delayed
        # payment; its own events (or a later run) bring the outcome.
        return Item(stripe_id, "not_paid", session.id)

    result = "updated" if order is not None else "created"
    order = apply_checkout(session, outcome, event_type if stripe_event_id else RECONCILIATION, stripe_event_id)
    source = f"event {stripe_event_id}, which Stripe reports undelivered" if stripe_event_id else "the session in Stripe"
    order.record(
        "order.reconciled",
        f"Applied by manage.py reconcile_checkouts from {source}: no webhook for it had been processed.",
        data={"result": result},
        stripe_event_id=stripe_event_id,
    )
    logger.info("Reconciliation %s order %s for session %s", result, order.pk, session.id)
    return Item(stripe_id, result, session.id, order.reference, order.status)
