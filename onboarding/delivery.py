"""Send one outbox row through Django's email backend (Anymail's Resend backend in production)."""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import F
from django.utils import timezone

from .models import OutboxEmail
from .outbox import recipient
from .rendering import render_email

logger = logging.getLogger(__name__)

State = OutboxEmail.State
MAX_ERROR_LENGTH = 500


def claim(email_id):
    """Move a queued row to sending; return False when another worker has it or it is done."""
    claimed = OutboxEmail.objects.filter(pk=email_id, state=State.QUEUED).update(
        state=State.SENDING, attempts=F("attempts") + 1, updated_at=timezone.now()
    )
    return claimed == 1


def build_message(email):
    rendered = render_email(email.template, email.order)
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient(email)],
    )
    message.attach_alternative(rendered.html, "text/html")
    return message


def send_outbox_email(email_id):
    """Send one queued email at most once; return True when it was sent."""
    if not claim(email_id):
        return False

    email = OutboxEmail.objects.select_related("order").get(pk=email_id)
    message = build_message(email)
    try:
        message.send()
    except Exception as exc:
        # The provider boundary: whatever the backend raises is recorded on
        # the row and the order's timeline instead of crashing the worker.
        record_failure(email, exc)
        return False

    record_success(email, message)
    return True


def provider_message_id(message):
    status = getattr(message, "anymail_status", None)
    return (status.message_id or "") if status is not None else ""


def record_success(email, message):
    email.state = State.SENT
    email.sent_at = timezone.now()
    email.provider_message_id = provider_message_id(message)
    email.last_error = ""
    email.save(update_fields=["state", "sent_at", "provider_message_id", "last_error", "updated_at"])

    logger.info(
        "Sent %s email %s for order %s",
        email.template,
        email.pk,
        email.order_id,
        extra={"order_id": email.order_id, "email_id": email.pk, "provider_message_id": email.provider_message_id},
    )
    email.order.record(
        "email.sent",
        f"{email.template.capitalize()} email sent to {email.to_email}.",
        data={"email_id": email.pk, "provider_message_id": email.provider_message_id},
    )


def record_failure(email, exc):
    error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]
    email.state = State.FAILED
    email.last_error = error
    email.save(update_fields=["state", "last_error", "updated_at"])

    logger.warning("Sending %s email %s for order %s failed: %s", email.template, email.pk, email.order_id, error)
    email.order.record(
        "email.failed",
        f"{email.template.capitalize()} email to {email.to_email} failed: {error}",
        data={"email_id": email.pk, "attempt": email.attempts},
    )
