import logging

from django.conf import settings
from django.db import models
from django.db.models.functions import Upper
from djstripe.models import WebhookEventTrigger

from .money import format_amount

logger = logging.getLogger(__name__)


class Plan(models.Model):
    """An entry of the plan catalogue: what a Checkout Session may buy."""

    class Mode(models.TextChoices):
        DFY = "dfy", "Done for you (one-off)"
        SUBSCRIPTION = "subscription", "Subscription"

    class Term(models.TextChoices):
        ONE_OFF = "one_off", "One-off"
        MONTHLY = "monthly", "Monthly"
        YEARLY = "yearly", "Yearly"

    mode = models.CharField(max_length=32, choices=Mode.choices)
    slug = models.SlugField(max_length=64, help_text="The plan key sent in the session metadata.")
    term = models.CharField(max_length=16, choices=Term.choices)
    tier = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=128)
    amount = models.PositiveIntegerField(help_text="Price in minor units of the currency.")
    currency = models.CharField(max_length=3, default="gbp")
    delivery_hours = models.PositiveIntegerField(
        null=True, blank=True, help_text="Delivery deadline after payment; empty for none."
    )
    revisions = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["mode", "amount"]
        constraints = [
            models.UniqueConstraint(fields=["mode", "slug", "term"], name="plan_mode_slug_term_unique"),
        ]

    def __str__(self):
        return f"{self.name} ({self.price_display})"

    @property
    def price_display(self):
        return format_amount(self.amount, self.currency)

    @property
    def price_setting_name(self):
        """Name of the environment variable that contains this plan's Stripe price id."""
        return f"STRIPE_PRICE_{self.mode.upper()}_{self.tier}"

    @property
    def stripe_price_id(self):
        return settings.STRIPE_PRICE_IDS.get(self.price_setting_name.removeprefix("STRIPE_PRICE_"), "")


class DFYOrder(models.Model):
    """One paid (or paying) Checkout Session and the work it buys."""

    class Status(models.TextChoices):
        AWAITING_PAYMENT = "awaiting_payment", "Awaiting payment"
        NEW = "new", "New"
        NEEDS_REVIEW = "needs_review", "Needs review"
        PAYMENT_FAILED = "payment_failed", "Payment failed"
        REFUNDED = "refunded", "Refunded"
        DISPUTED = "disputed", "Disputed"
        INTAKE_RECEIVED = "intake_received", "Intake received"
        IN_PROGRESS = "in_progress", "In progress"
        DELIVERED = "delivered", "Delivered"

    class SubscriptionStatus(models.TextChoices):
        # Stripe's subscription statuses, as listed for Subscription.status in stripe-python 15.6.2.
        INCOMPLETE = "incomplete", "Incomplete"
        INCOMPLETE_EXPIRED = "incomplete_expired", "Incomplete, expired"
        TRIALING = "trialing", "Trialing"
        ACTIVE = "active", "Active"
        PAST_DUE = "past_due", "Past due"
        CANCELED = "canceled", "Cancelled"
        UNPAID = "unpaid", "Unpaid"
        PAUSED = "paused", "Paused"

    class IntakeState(models.TextChoices):
        NOT_REQUESTED = "not_requested", "Not requested"
        REQUESTED = "requested", "Requested"
        RECEIVED = "received", "Received"

    stripe_checkout_session_id = models.CharField(max_length=255, unique=True)
    stripe_payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_customer_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_subscription_id = models.CharField(max_length=255, blank=True, db_index=True)
    customer_email = models.EmailField(max_length=254, blank=True)
    customer_name = models.CharField(max_length=255, blank=True)

    # mode, plan and term are the session metadata as sent; tier and
    # catalogue_plan are what they matched in the catalogue, if anything.
    mode = models.CharField(max_length=64, blank=True)
    plan = models.CharField(max_length=64, blank=True)
    term = models.CharField(max_length=64, blank=True)
    tier = models.CharField(max_length=64, blank=True, db_index=True)
    catalogue_plan = models.ForeignKey(Plan, null=True, blank=True, on_delete=models.PROTECT, related_name="orders")

    amount_total = models.BigIntegerField(null=True, blank=True, help_text="Minor units of the currency.")
    currency = models.CharField(max_length=3, blank=True)
    livemode = models.BooleanField(default=False)

    status = models.CharField(max_length=32, choices=Status.choices, default=Status.AWAITING_PAYMENT, db_index=True)
    payment_status = models.CharField(max_length=32, blank=True)
    review_reason = models.TextField(blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    deadline = models.DateTimeField(null=True, blank=True)
    revisions_left = models.PositiveSmallIntegerField(default=0)

    # Payment lifecycle after checkout (orders.lifecycle keeps these true to Stripe).
    amount_refunded = models.BigIntegerField(
        default=0, editable=False, help_text="Minor units of the currency refunded so far."
    )
    status_before_dispute = models.CharField(max_length=32, blank=True, editable=False)
    dispute_evidence_due_by = models.DateTimeField(
        null=True, blank=True, help_text="Stripe's deadline for dispute evidence (evidence_details.due_by)."
    )
    subscription_status = models.CharField(max_length=32, choices=SubscriptionStatus.choices, blank=True)
    subscription_status_changed_at = models.DateTimeField(
        null=True, blank=True, help_text="Time of the Stripe event that set the subscription status."
    )

    intake_state = models.CharField(
        max_length=16, choices=IntakeState.choices, default=IntakeState.NOT_REQUESTED, db_index=True
    )
    intake_answers = models.JSONField(default=dict, blank=True)
    intake_received_at = models.DateTimeField(null=True, blank=True)

    # Staff's working fields, edited in the back office.
    files_link = models.URLField(max_length=500, blank=True, help_text="Shared folder with the customer's files.")
    final_package_link = models.URLField(
        max_length=500, blank=True, help_text="The delivered package; the handover email links to it."
    )
    internal_notes = models.TextField(blank=True, help_text="Staff only; never shown to the customer.")

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "DFY order"
        ordering = ["-created_at", "-id"]
        indexes = [
            # The order list's default ordering, read backwards a page at a time.
            models.Index(fields=["created_at", "id"], name="order_created_id_idx"),
            # The back office's overdue filter and dashboard count.
            models.Index(fields=["status", "deadline"], name="order_status_deadline_idx"),
            # Search by a whole email address (customer_email__iexact) on PostgreSQL.
            models.Index(Upper("customer_email"), name="order_email_upper_idx"),
        ]

    def __str__(self):
        return f"{self.reference} {self.customer_email or '(no email)'}"

    @property
    def reference(self):
        return f"LVQ-{self.pk:06d}" if self.pk else "LVQ-(unsaved)"

    @property
    def amount_display(self):
        return format_amount(self.amount_total, self.currency)

    @property
    def amount_refunded_display(self):
        return format_amount(self.amount_refunded, self.currency)

    def record(self, kind, message, *, data=None, stripe_event_id="", actor=None):
        """Append one row to this order's activity timeline."""
        return DFYActivity.objects.create(
            order=self,
            kind=kind,
            message=message,
            data=data or {},
            stripe_event_id=stripe_event_id or "",
            actor=actor,
        )


class AppendOnlyError(Exception):
    """Raised when code tries to change or delete an activity row."""


class DFYActivity(models.Model):
    """One entry of an order's timeline: what happened, and who or what did it."""

    order = models.ForeignKey(DFYOrder, on_delete=models.PROTECT, related_name="activities")
    kind = models.CharField(max_length=64, db_index=True, help_text="Dotted action name, e.g. order.paid.")
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    stripe_event_id = models.CharField(max_length=255, blank=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "DFY activity"
        verbose_name_plural = "DFY activity"
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.kind}: {self.message}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnlyError(f"Activity {self.pk} is append-only and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"Activity {self.pk} is append-only and cannot be deleted.")


class PaymentRecord(models.Model):
    """One charge, refund, dispute or invoice of an order, in the latest state Stripe reported."""

    class Kind(models.TextChoices):
        CHARGE = "charge", "Charge"
        REFUND = "refund", "Refund"
        DISPUTE = "dispute", "Dispute"
        INVOICE = "invoice", "Invoice"

    order = models.ForeignKey(DFYOrder, on_delete=models.PROTECT, related_name="payment_records")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    stripe_id = models.CharField(max_length=255, help_text="Id of the Stripe object (ch_, re_, dp_ or in_).")
    stripe_charge_id = models.CharField(max_length=255, blank=True, db_index=True)
    amount = models.BigIntegerField(null=True, blank=True, help_text="Minor units of the currency.")
    amount_refunded = models.BigIntegerField(default=0, help_text="Charges only: minor units refunded.")
    currency = models.CharField(max_length=3, blank=True)
    status = models.CharField(max_length=64, blank=True, help_text="Stripe's status of the object.")
    reason = models.CharField(max_length=64, blank=True, help_text="Refund or dispute reason, or invoice billing reason.")
    evidence_due_by = models.DateTimeField(null=True, blank=True)
    stripe_created = models.DateTimeField(null=True, blank=True, help_text="When Stripe created the object.")
    stripe_event_id = models.CharField(max_length=255, blank=True, help_text="The last event applied.")
    stripe_event_created = models.DateTimeField(help_text="Time of the last event applied; older events are stale.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "stripe_id"], name="payment_record_kind_stripe_id_unique"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.stripe_id}"

    @property
    def amount_display(self):
        return format_amount(self.amount, self.currency)

    @property
    def amount_refunded_display(self):
        return format_amount(self.amount_refunded, self.currency) if self.kind == self.Kind.CHARGE else ""


class UnmatchedStripeEvent(models.Model):
    """A lifecycle event whose Stripe ids matched no order, kept for staff and applied once an order matches."""

    stripe_event_id = models.CharField(max_length=255, unique=True)
    event_type = models.CharField(max_length=64, db_index=True)
    event_created = models.DateTimeField()
    stripe_object_id = models.CharField(max_length=255, blank=True)
    payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    customer_id = models.CharField(max_length=255, blank=True, db_index=True)
    subscription_id = models.CharField(max_length=255, blank=True, db_index=True)
    charge_id = models.CharField(max_length=255, blank=True, db_index=True)
    reason = models.TextField(help_text="Why no order matched.")
    stripe_object = models.JSONField(help_text="The event's data.object, applied when an order matches later.")
    order = models.ForeignKey(
        DFYOrder, null=True, blank=True, on_delete=models.PROTECT, related_name="late_stripe_events",
        help_text="The order it was applied to once one matched.",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "unmatched Stripe event"
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.event_type} {self.stripe_event_id}"


class CheckedWebhookEventTrigger(WebhookEventTrigger):
    """dj-stripe's webhook trigger row, which acknowledges a signed event that can never be processed.

    dj-stripe 2.11's WebhookEventTrigger.from_request() creates its row with
    the class it is called on and then calls process() on it, inside the
    transaction that the view turns into 500 on any error. A signed event
    that cannot be processed would fail that way on every retry, so it is
    ignored here, with the reason on the row for the admin's trigger list.
    """

    class Meta:
        proxy = True

    def process(self, save=True, api_key=None):
        # webhook_checks imports orders.services, which imports this module.
        from .webhook_checks import unprocessable_problem

        owner_account_id = self.webhook_endpoint.djstripe_owner_account_id if self.webhook_endpoint_id else None
        problem = unprocessable_problem(self.json_body, owner_account_id)
        if problem is None:
            return super().process(save=save, api_key=api_key)

        logger.warning(
            "Ignored a signed Stripe webhook that cannot be processed: %s (trigger %s, endpoint %s)",
            problem,
            self.pk,
            self.webhook_endpoint_id,
        )
        self.exception = f"Ignored: {problem}"[: self._meta.get_field("exception").max_length]
        if save:
            self.save()
        return None
