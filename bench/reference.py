"""App configs that turn the production settings into the benchmark's two reference modes.

bench/bare_settings.py installs BareWebhookConfig: dj-stripe's own webhook
view with none of our receivers, so a request costs only what dj-stripe does.
bench/baseline_settings.py installs SynchronousOnboardingConfig: our order
path, but the welcome and intake emails and the staff alert are sent inside
the webhook request, as the earlier system did, instead of being queued.
Neither is ever installed by levqor.settings.
"""

import logging

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger(__name__)


class BareWebhookConfig(AppConfig):
    name = "bench"
    label = "bench_bare_webhook"

    def ready(self):
        from djstripe.models import Event
        from djstripe.signals import WEBHOOK_SIGNALS, webhook_post_validate

        from orders import lifecycle, receivers, services

        connections = [
            (WEBHOOK_SIGNALS[event_type], receivers.handle_checkout_session_event)
            for event_type in services.CHECKOUT_EVENT_TYPES
        ] + [
            (WEBHOOK_SIGNALS[event_type], receivers.handle_payment_lifecycle_event)
            for event_type in lifecycle.LIFECYCLE_EVENT_TYPES
        ] + [(WEBHOOK_SIGNALS["customer.deleted"], receivers.handle_customer_deleted_event)]
        for signal, receiver in connections:
            if not signal.disconnect(receiver, sender=Event):
                raise RuntimeError(f"{receiver.__name__} was not connected: the bare mode would still run our code")
        if not webhook_post_validate.disconnect(receivers.log_rejected_webhook):
            raise RuntimeError("log_rejected_webhook was not connected: the bare mode would still run our code")


class SynchronousOnboardingConfig(AppConfig):
    name = "bench"
    label = "bench_synchronous_onboarding"

    def ready(self):
        from orders.signals import order_paid

        if not order_paid.disconnect(dispatch_uid="onboarding.start_onboarding"):
            raise RuntimeError("onboarding.start_onboarding was not connected to order_paid")
        order_paid.connect(send_onboarding_in_request, dispatch_uid="bench.send_onboarding_in_request")


def send_onboarding_in_request(sender, order, **kwargs):
    """Send the welcome and intake emails and the new-order alert now, inside the webhook's transaction.

    Each message gets one attempt, as in the earlier system: a failure (a 429
    from the rate-limited Resend double, say) is logged and the message is lost.
    """
    from onboarding import alerts, senders, telegram
    from onboarding.failures import DeliveryError
    from onboarding.models import OutboxEmail
    from onboarding.outbox import ONBOARDING_EMAILS
    from onboarding.rendering import email_context, render_subject

    context = email_context(order)
    for template in ONBOARDING_EMAILS:
        # An unsaved row only carries the fields the sender reads.
        email = OutboxEmail(
            order=order,
            template=template,
            to_email=order.customer_email,
            to_name=order.customer_name,
            subject=render_subject(template, context),
        )
        try:
            senders.send_customer_email(email)
        except DeliveryError as exc:
            logger.warning("Baseline: %s email for order %s not sent: %s", template, order.pk, exc)

    text = alerts.alert_text("new_order", f"New order {order.reference} from {order.customer_email}.", order)
    try:
        telegram.send_message(settings.TELEGRAM_CHAT_ID, text)
    except DeliveryError as exc:
        logger.warning("Baseline: staff alert for order %s not sent: %s", order.pk, exc)
