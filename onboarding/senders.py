"""The provider calls behind each kind of outbox row, with their errors translated to DeliveryError.

Each sender takes a claimed row and returns the provider's message id. The
pipeline in delivery.py decides what a DeliveryError means for the row.
"""

import logging
import smtplib

from anymail.exceptions import AnymailAPIError, AnymailInvalidAddress, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives

from orders import stripe_api, stripe_mirror
from orders.models import DFYOrder

from . import telegram
from .failures import DeliveryError, is_retryable_status, parse_retry_after
from .models import StaffAlert
from .outbox import recipient
from .rendering import render_email

logger = logging.getLogger(__name__)


def build_email(email):
    rendered = render_email(email.template, email.order)
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient(email)],
    )
    message.attach_alternative(rendered.html, "text/html")
    message.idempotency_key = email.idempotency_key
    return message


def send_customer_email(email):
    return send_through_backend(build_email(email))


def send_staff_alert(alert):
    if alert.channel == StaffAlert.Channel.TELEGRAM:
        return telegram.send_message(alert.recipients, alert.message)

    # The first line is the alert's title, such as "[Levqor] New order".
    message = EmailMessage(
        subject=alert.message.splitlines()[0][:200],
        body=alert.message,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[address.strip() for address in alert.recipients.split(",") if address.strip()],
    )
    message.idempotency_key = alert.idempotency_key
    return send_through_backend(message)


def sync_stripe_mirror(sync):
    try:
        synced = stripe_mirror.sync_order(sync.order)
    except stripe_api.StripeUnavailable as exc:
        raise DeliveryError(f"Stripe API unavailable: {exc}") from exc
    except stripe_api.StripeRejected as exc:
        raise DeliveryError(f"Stripe API rejected the request: {exc}", permanent=True, status_code=exc.status_code) from exc
    return ",".join(synced)


def send_through_backend(message):
    """Send one message with Django's email backend; return the provider's message id ("" when it has none)."""
    try:
        message.send()
    except AnymailAPIError as exc:
        raise email_api_failure(exc) from exc
    except (AnymailRecipientsRefused, AnymailInvalidAddress) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}", permanent=True) from exc
    except (smtplib.SMTPException, OSError) as exc:
        # SMTP and file backends: a refused connection or a full disk may pass.
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc

    status = getattr(message, "anymail_status", None)
    return (status.message_id or "") if status is not None else ""


def email_api_failure(exc):
    status_code = getattr(exc, "status_code", None)
    response = getattr(exc, "response", None)
    if status_code is None:
        # No HTTP response at all: a timeout or a refused connection.
        cause = type(exc.__cause__).__name__ if exc.__cause__ else "no response"
        return DeliveryError(f"Email API request failed ({cause}): {exc}")

    retry_after = parse_retry_after(response.headers.get("Retry-After")) if response is not None else None
    return DeliveryError(
        f"Email API returned {status_code}: {exc}",
        permanent=not is_retryable_status(status_code),
        retry_after=retry_after,
        status_code=status_code,
    )


def email_skip_reason(email):
    if email.template == "intake_reminder" and email.order.intake_state == DFYOrder.IntakeState.RECEIVED:
        return "The intake answers arrived before the reminder was due."
    return ""
