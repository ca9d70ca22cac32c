"""Resend delivery tracking, received through Anymail's signed tracking webhook.

Anymail's view verifies the Svix signature (RESEND_SIGNING_SECRET) and sends
its normalised tracking signal. This module applies delivered, bounced and
complained events to the email delivery with that provider message id.
"""

import logging

from anymail.signals import EventType
from django.db import transaction
from django.utils import timezone

from .alerts import alert_staff
from .models import OutboxEmail

logger = logging.getLogger(__name__)

Status = OutboxEmail.DeliveryStatus

STATUS_FOR_EVENT = {
    EventType.DELIVERED: Status.DELIVERED,
    EventType.BOUNCED: Status.BOUNCED,
    EventType.COMPLAINED: Status.COMPLAINED,
}
# A bounce or complaint is final; a "delivered" event that arrives after it
# (webhooks are not ordered) must not hide it.
FINAL_STATUSES = {Status.BOUNCED, Status.COMPLAINED}
ALERT_KIND = {Status.BOUNCED: "bounce", Status.COMPLAINED: "complaint"}


@transaction.atomic
def record_event(event, esp_name="Resend"):
    """Apply one tracking event; return the updated delivery, or None when the event changes nothing."""
    status = STATUS_FOR_EVENT.get(event.event_type)
    if status is None or not event.message_id:
        return None

    email = (
        OutboxEmail.objects.select_for_update()
        .select_related("order")
        .filter(provider_message_id=event.message_id)
        .first()
    )
    if email is None:
        logger.info("%s tracking event %s for unknown message %s ignored", esp_name, event.event_id, event.message_id)
        return None
    if email.delivery_status == status or (email.delivery_status in FINAL_STATUSES and status == Status.DELIVERED):
        logger.info("%s tracking event %s left email %s at %s", esp_name, event.event_id, email.pk, email.delivery_status)
        return None

    email.delivery_status = status
    email.delivery_status_at = event.timestamp or timezone.now()
    email.save(update_fields=["delivery_status", "delivery_status_at", "updated_at"])
    logger.info("Email %s for order %s is %s (%s event %s)", email.pk, email.order_id, status, esp_name, event.event_id)

    label = f"{email.template.replace('_', ' ').capitalize()} email to {email.to_email}"
    detail = f": {event.description}" if event.description else ""
    email.order.record(
        f"email.{status}",
        f"{label} {status}{detail}.",
        data={"email_id": email.pk, "provider_message_id": event.message_id, "event_id": event.event_id or ""},
    )
    if status in ALERT_KIND:
        alert_staff(
            ALERT_KIND[status],
            f"{label} {status}{detail}. Check the address with the customer.",
            order=email.order,
            key=f"{ALERT_KIND[status]}:{email.pk}",
        )
    return email
