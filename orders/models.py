from django.conf import settings
from django.db import models
from django.db.models.functions import Upper

from .money import format_amount


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
        INTAKE_RECEIVED = "intake_received", "Intake received"
        IN_PROGRESS = "in_progress", "In progress"
        DELIVERED = "delivered", "Delivered"

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
