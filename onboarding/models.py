from django.db import models

from orders.models import DFYOrder


class OutboxEmail(models.Model):
    """One email to send for an order, at most once per order and purpose.

    The row, not the task that sends it, is the record of truth: the task may
    run twice or not at all, and the state here decides what is sent.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    order = models.ForeignKey(DFYOrder, on_delete=models.PROTECT, related_name="emails")
    template = models.CharField(max_length=64, help_text="Folder under templates/emails/.")
    to_email = models.EmailField(max_length=254)
    to_name = models.CharField(max_length=255, blank=True)
    subject = models.CharField(max_length=255)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "email delivery"
        verbose_name_plural = "email deliveries"
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "template"], name="outbox_email_once_per_order_template"),
        ]

    def __str__(self):
        return f"{self.template} to {self.to_email} ({self.state})"
