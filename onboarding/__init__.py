"""Onboarding: the emails, alerts and follow-ups that start when an order is paid."""


def start(order, stripe_event_id=""):
    """Queue the onboarding of a paid order (see onboarding.outbox.start)."""
    # Imported here because an app package is imported before its models are ready.
    from .outbox import start as start_onboarding

    return start_onboarding(order, stripe_event_id=stripe_event_id)
