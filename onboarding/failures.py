"""Failed sends: their description for rows and logs, and whether to retry them."""

import email.utils
import time

from django.conf import settings

MAX_ERROR_LENGTH = 500


class DeliveryError(Exception):
    """A failed send. permanent means a retry gets the same response; retry_after is the provider's wait in seconds."""

    def __init__(self, message, *, permanent=False, retry_after=None, status_code=None):
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        self.status_code = status_code


def is_retryable_status(status_code):
    """Return True for HTTP statuses worth retrying: timeouts, conflicts, rate limits and server errors."""
    return status_code in (408, 409, 429) or status_code >= 500


def parse_retry_after(value):
    """Return the wait in seconds that a Retry-After value (delta-seconds or an HTTP date) sets, or None."""
    if value is None:
        return None
    value = str(value).strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def secrets_in_settings():
    return [
        secret
        for secret in (
            settings.RESEND_API_KEY,
            settings.TELEGRAM_BOT_TOKEN,
            settings.STRIPE_TEST_SECRET_KEY,
            settings.STRIPE_LIVE_SECRET_KEY,
            settings.RESEND_SIGNING_SECRET,
        )
        if secret
    ]


def redact(text):
    """Cut an error text to MAX_ERROR_LENGTH with every configured secret replaced, for rows and logs."""
    for secret in secrets_in_settings():
        text = text.replace(secret, "[redacted]")
    return text[:MAX_ERROR_LENGTH]
