"""Anymail's Resend backend, sending each outbox row's idempotency key."""

from anymail.backends.resend import EmailBackend as AnymailResendBackend


class EmailBackend(AnymailResendBackend):
    """Send a message's idempotency_key attribute as Resend's Idempotency-Key request header.

    For a repeated key within 24 hours Resend returns the first response and
    sends nothing again (https://resend.com/docs/dashboard/emails/idempotency-keys),
    so retrying after a timeout, or after a worker died mid-send, cannot
    deliver the email twice. Anymail 15 has no option for request headers.
    """

    def build_message_payload(self, message, defaults):
        payload = super().build_message_payload(message, defaults)
        key = getattr(message, "idempotency_key", None)
        if key:
            payload.headers["Idempotency-Key"] = str(key)
        return payload
