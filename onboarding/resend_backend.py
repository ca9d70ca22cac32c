"""Anymail's Resend backend, sending each outbox row's idempotency key and keeping to Resend's rate limit."""

import logging

from anymail.backends.resend import EmailBackend as AnymailResendBackend
from anymail.exceptions import AnymailRequestsAPIError
from django.conf import settings

from . import pacing
from .failures import parse_retry_after

logger = logging.getLogger(__name__)

PACE_NAME = "resend"
# The wait after a 429 that carries no usable retry-after header.
DEFAULT_HOLD_OFF_SECONDS = 1.0
# A 429 from the per-second limit carries a retry-after of about a second, so
# the request is sent again in place, up to IN_PLACE_RETRIES times. A stray 429
# then costs a second, not the outbox's retry backoff (15 s or more) and an
# entry in the order's timeline. A longer retry-after, or a further 429, goes
# back to the outbox's retries.
IN_PLACE_RETRIES = 2
IN_PLACE_MAX_WAIT_SECONDS = 2.0


class EmailBackend(AnymailResendBackend):
    """Send a message's idempotency_key attribute as Resend's Idempotency-Key request header, at a shared pace.

    For a repeated key within 24 hours Resend returns the first response and
    sends nothing again (https://resend.com/docs/dashboard/emails/idempotency-keys),
    so retrying after a timeout, or after a worker died mid-send, cannot
    deliver the email twice. Anymail 15 has no option for request headers.

    Every request waits for a slot of RESEND_RATE_LIMIT_PER_SECOND shared by
    all workers (onboarding.pacing), and a 429 response holds every worker off
    for its retry-after. The same request, with the same idempotency key,
    is then sent again in place when that wait is short.
    """

    def build_message_payload(self, message, defaults):
        payload = super().build_message_payload(message, defaults)
        key = getattr(message, "idempotency_key", None)
        if key:
            payload.headers["Idempotency-Key"] = str(key)
        return payload

    def post_to_esp(self, payload, message):
        for retry in range(IN_PLACE_RETRIES + 1):
            pacing.wait_for_slot(PACE_NAME, settings.RESEND_RATE_LIMIT_PER_SECOND)
            try:
                return super().post_to_esp(payload, message)
            except AnymailRequestsAPIError as exc:
                if exc.status_code != 429:
                    raise
                wait = rate_limit_wait(exc.response)
                pacing.hold_off(PACE_NAME, wait)
                if retry == IN_PLACE_RETRIES or wait > IN_PLACE_MAX_WAIT_SECONDS:
                    raise
                logger.info("Resend returned 429 for %s: sending again after %.1f s", payload.headers.get("Idempotency-Key"), wait)


def rate_limit_wait(response):
    retry_after = parse_retry_after(response.headers.get("Retry-After")) if response is not None else None
    return DEFAULT_HOLD_OFF_SECONDS if retry_after is None else retry_after
