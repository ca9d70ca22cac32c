import uuid

from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.db import models

from orders.models import DFYOrder


class DeliveryAttempt(models.Model):
    """One try at sending an outbox row: when, by which worker, and how it ended."""

    class Outcome(models.TextChoices):
        SENT = "sent", "Sent"
        RETRY = "retry", "Failed, retry scheduled"
        FAILED = "failed", "Failed, no retry"
        INTERRUPTED = "interrupted", "Interrupted (worker stopped mid-send)"
        CANCELLED = "cancelled", "Cancelled before sending"

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    object_id = models.PositiveBigIntegerField()
    item = GenericForeignKey("content_type", "object_id")
    number = models.PositiveSmallIntegerField(help_text="1 for the first attempt at this row.")
    worker = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    error = models.TextField(blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True, help_text="The provider's HTTP status.")
    retry_at = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        indexes = [models.Index(fields=["content_type", "object_id"], name="attempt_item_idx")]

    def __str__(self):
        return f"attempt {self.number}: {self.outcome}"


class OutboxItem(models.Model):
    """A unit of outbound work that the task worker delivers once.

    The row, not the task that sends it, is the record of truth: the task may
    run twice or not at all, and the state here decides what is sent. Only a
    row recovered from a worker that died mid-send can be sent again, and its
    interrupted attempt records why. A row
    moves queued -> sending -> sent, back to queued with a later
    next_attempt_at after a temporary failure, or to failed or cancelled.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Failure(models.TextChoices):
        NONE = "", "-"
        PERMANENT = "permanent", "Permanent error"
        EXHAUSTED = "exhausted", "Retries exhausted"

    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text="Not sent before this time; empty for at once."
    )
    task_due_at = models.DateTimeField(
        null=True, blank=True, help_text="When an enqueued task should pick this row up; the sweeper re-enqueues late rows."
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=64, blank=True, help_text="Worker process that holds a sending row.")
    failure = models.CharField(max_length=16, choices=Failure.choices, blank=True, default=Failure.NONE)
    last_error = models.TextField(blank=True)
    idempotency_key = models.UUIDField(default=uuid.uuid4, editable=False)
    provider_message_id = models.CharField(max_length=255, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    attempt_log = GenericRelation(DeliveryAttempt)

    class Meta:
        abstract = True


class OutboxEmail(OutboxItem):
    """One email to a customer: one row per order and purpose (template), sent again only on a staff resend."""

    class DeliveryStatus(models.TextChoices):
        UNKNOWN = "", "-"
        DELIVERED = "delivered", "Delivered"
        BOUNCED = "bounced", "Bounced"
        COMPLAINED = "complained", "Complained"

    order = models.ForeignKey(DFYOrder, on_delete=models.PROTECT, related_name="emails")
    template = models.CharField(max_length=64, help_text="Folder under templates/emails/.")
    to_email = models.EmailField(max_length=254)
    to_name = models.CharField(max_length=255, blank=True)
    subject = models.CharField(max_length=255)
    delivery_status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, blank=True, default=DeliveryStatus.UNKNOWN,
        help_text="The provider's latest tracking event.",
    )
    delivery_status_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "email delivery"
        verbose_name_plural = "email deliveries"
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "template"], name="outbox_email_once_per_order_template"),
        ]
        indexes = [
            models.Index(fields=["provider_message_id"], name="outbox_email_provider_id_idx"),
            # The back office's "email failed" filter and count read only these
            # rows; the condition must stay equal to back_office.failed_email().
            models.Index(
                fields=["order"],
                condition=models.Q(state="failed") | models.Q(delivery_status="bounced"),
                name="outbox_email_failed_idx",
            ),
        ]

    def __str__(self):
        return f"{self.template} to {self.to_email} ({self.state})"


class StaffAlert(OutboxItem):
    """One staff alert on one channel, at most once per condition key and channel."""

    class Channel(models.TextChoices):
        TELEGRAM = "telegram", "Telegram"
        EMAIL = "email", "Staff email"

    key = models.CharField(max_length=255, help_text="The condition this alert reports; one alert per key and channel.")
    kind = models.CharField(max_length=64, db_index=True)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    order = models.ForeignKey(DFYOrder, null=True, blank=True, on_delete=models.PROTECT, related_name="staff_alerts")
    message = models.TextField()
    recipients = models.TextField(help_text="Telegram chat id, or comma-separated staff addresses.")

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["key", "channel"], name="staff_alert_once_per_key_channel"),
        ]

    def __str__(self):
        return f"{self.kind} alert by {self.channel} ({self.state})"


class StripeMirrorSync(OutboxItem):
    """The refresh of one order's dj-stripe mirror rows from the Stripe API, retried like a message."""

    order = models.OneToOneField(DFYOrder, on_delete=models.PROTECT, related_name="stripe_mirror_sync")

    class Meta:
        verbose_name = "Stripe mirror sync"
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"Stripe mirror sync for order {self.order_id} ({self.state})"


class SendPace(models.Model):
    """The next free request slot of a rate-limited provider, shared by every worker process."""

    name = models.CharField(max_length=32, primary_key=True, help_text="The provider, such as resend.")
    next_slot_at = models.DateTimeField(help_text="No request to the provider starts before this time.")

    def __str__(self):
        return f"{self.name}: next request at {self.next_slot_at:%H:%M:%S.%f}"
