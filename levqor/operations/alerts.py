"""Ops alerts to the staff channel, once when a condition starts and once when it clears."""

import importlib
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction

from levqor.models import OpsAlert

logger = logging.getLogger(__name__)

STAFF_ALERTS_MODULE = "onboarding.alerts"
ALERT_KIND = "ops_alert"


def send_ops_alert(subject, message, *, key):
    """Send one alert to the staff channel; return the channel used.

    The channel is onboarding.alerts.alert_staff when that module exists.
    Without it, the alert is logged as a warning and emailed to
    STAFF_ALERT_EMAILS. Delivery errors propagate, so the caller can keep the
    alert pending and try again on its next run.
    """
    try:
        staff_alerts = importlib.import_module(STAFF_ALERTS_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != STAFF_ALERTS_MODULE:
            raise
        return send_fallback_alert(subject, message, key)

    staff_alerts.alert_staff(ALERT_KIND, f"{subject}\n\n{message}", key=key)
    return STAFF_ALERTS_MODULE


def send_fallback_alert(subject, message, key):
    logger.warning("Ops alert %s: %s", key, subject)
    recipients = settings.STAFF_ALERT_EMAILS
    if not recipients:
        logger.warning("STAFF_ALERT_EMAILS is empty, so ops alert %s was only logged", key)
        return "log"
    send_mail(subject, message, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=False)
    return "email"


RAISED = "raised"
RESOLVED = "resolved"


@dataclass(frozen=True)
class AlertChange:
    key: str
    change: str  # RAISED or RESOLVED
    channel: str = ""
    error: str = ""


def update_alert(condition, now):
    """Record one condition's state, alerting when it starts or clears; return an AlertChange, or None.

    The row stays locked while the alert is sent, so two overlapping runs
    cannot both alert, and a failed send rolls the change back for the next run.
    """
    change = RAISED if condition.active else RESOLVED
    try:
        with transaction.atomic():
            alert = OpsAlert.objects.select_for_update().filter(key=condition.key).first()
            if alert is None and not condition.active:
                return None
            if alert is not None and alert.active == condition.active:
                if condition.active:
                    record_seen(alert, condition, now)
                return None

            alert = record_change(alert, condition, now)
            subject, message = alert_text(alert, condition, change)
            channel = send_ops_alert(subject, message, key=f"ops:{alert.key}:{alert.occurrences}:{change}")
    except IntegrityError:
        # A concurrent run created the row first, and that run sends the alert.
        logger.info("Ops alert %s was raised by a concurrent run", condition.key)
        return None
    except Exception as exc:  # noqa: BLE001
        # The staff channel's boundary: whatever it raises keeps the alert
        # pending (rolled back) and is reported, and the other conditions go on.
        logger.error("Ops alert %s could not be sent: %s", condition.key, exc)
        return AlertChange(condition.key, change, error=f"{type(exc).__name__}: {exc}"[:300])

    logger.info("Ops alert %s %s through %s", condition.key, change, channel)
    return AlertChange(condition.key, change, channel)


def record_seen(alert, condition, now):
    alert.last_seen_at = now
    alert.message = condition.message
    alert.details = condition.figures
    alert.save(update_fields=["last_seen_at", "message", "details"])


def record_change(alert, condition, now):
    """Start a new occurrence (alert is None or resolved) or resolve the active one; return the row."""
    if not condition.active:
        alert.resolved_at = now
        alert.message = condition.message
        alert.details = condition.figures
        alert.save(update_fields=["resolved_at", "message", "details"])
        return alert

    if alert is None:
        alert = OpsAlert(key=condition.key)
    alert.first_seen_at = alert.last_seen_at = now
    alert.resolved_at = None
    alert.occurrences += 1
    alert.message = condition.message
    alert.details = condition.figures
    alert.save()
    return alert


def alert_text(alert, condition, change):
    if change == RAISED:
        subject = f"[Levqor ops] ALERT {condition.key}"
        message = f"{condition.message}\nRule: {condition.rule}.\nFirst seen: {alert.first_seen_at:%Y-%m-%d %H:%M} UTC."
    else:
        subject = f"[Levqor ops] RESOLVED {condition.key}"
        duration = alert.resolved_at - alert.first_seen_at
        message = (
            f"{condition.message}\nRule: {condition.rule}.\n"
            f"Active from {alert.first_seen_at:%Y-%m-%d %H:%M} to {alert.resolved_at:%Y-%m-%d %H:%M} UTC "
            f"({round(duration.total_seconds() / 60)} min)."
        )
    return subject, message
