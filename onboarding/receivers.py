"""Receivers of the orders app's signals."""

import onboarding


def start_onboarding(sender, order, stripe_event_id="", **kwargs):
    onboarding.start(order, stripe_event_id=stripe_event_id)
