"""Receivers of the orders app's signals and of Anymail's tracking signal."""

import logging

import onboarding

from . import alerts, outbox, resend, tracking

logger = logging.getLogger(__name__)


def start_onboarding(sender, order, stripe_event_id="", **kwargs):
    onboarding.start(order, stripe_event_id=stripe_event_id)


def alert_payment_problem(sender, order, problem, message, stripe_event_id="", **kwargs):
    alerts.alert_staff("payment_problem", message, order=order, key=f"order:{order.pk}:payment_problem:{problem}")


def finish_intake(sender, order, **kwargs):
    outbox.cancel_reminder(order)
    alerts.alert_staff("intake_received", f"{order.customer_email} submitted the intake form for {order.reference}.", order=order)


def send_handover(sender, order, actor=None, note="", **kwargs):
    try:
        resend.resend_emails(order, ["handover"], actor=actor, reason="The order was marked delivered.")
    except resend.ResendRejected as exc:
        # The order stays delivered, and the activity row shows staff why the customer was not emailed.
        logger.warning("Handover email for order %s not queued: %s", order.pk, exc)
        order.record("email.not_queued", f"Handover email not queued: {exc}", actor=actor)


def record_tracking_event(sender, event, esp_name, **kwargs):
    tracking.record_event(event, esp_name)
