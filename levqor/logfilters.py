"""Logging filters shared by the settings' LOGGING configuration."""

import logging

# dj-stripe 2.11 logs an expected signature failure with a full stack trace
# (logger.exception) and the view adds an error line. orders.webhooks logs one
# warning with the ids instead, so these two records are dropped.
DJSTRIPE_NOISE = {
    ("djstripe.models.base", "Failed to verify header"),
    ("djstripe.views", "Trigger object did not validate"),
    ("djstripe.views", "HTTP_STRIPE_SIGNATURE is missing"),
}


class DropDjstripeSignatureNoise(logging.Filter):
    def filter(self, record):
        return (record.name, record.msg) not in DJSTRIPE_NOISE
