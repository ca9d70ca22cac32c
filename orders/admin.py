from django.contrib import admin

from .models import DFYActivity, DFYOrder, PaymentRecord, Plan, UnmatchedStripeEvent


class ReadOnlyInline(admin.TabularInline):
    """An inline for machine-written rows: shown, never added, changed or deleted."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class DFYActivityInline(ReadOnlyInline):
    model = DFYActivity
    fields = ["created_at", "kind", "message", "stripe_event_id", "actor"]
    readonly_fields = fields
    ordering = ["created_at", "id"]


class PaymentRecordInline(ReadOnlyInline):
    """The order's payment history: charges with refunds, refunds, disputes and subscription invoices."""

    model = PaymentRecord
    verbose_name = "payment history entry"
    verbose_name_plural = "payment history"
    fields = [
        "stripe_event_created",
        "kind",
        "stripe_id",
        "amount_shown",
        "refunded_shown",
        "status",
        "reason",
        "evidence_due_by",
        "stripe_event_id",
    ]
    readonly_fields = fields
    ordering = ["stripe_event_created", "id"]

    @admin.display(description="amount")
    def amount_shown(self, record):
        return record.amount_display

    @admin.display(description="refunded")
    def refunded_shown(self, record):
        return record.amount_refunded_display


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["tier", "name", "mode", "term", "price_display", "price_setting_name", "stripe_price_id", "active"]
    list_filter = ["mode", "term", "active"]
    readonly_fields = ["price_setting_name", "stripe_price_id"]

    @admin.display(description="price")
    def price_display(self, plan):
        return plan.price_display

    @admin.display(description="price id variable")
    def price_setting_name(self, plan):
        return plan.price_setting_name

    @admin.display(description="Stripe price id")
    def stripe_price_id(self, plan):
        return plan.stripe_price_id or "(not set)"


@admin.register(DFYOrder)
class DFYOrderAdmin(admin.ModelAdmin):
    list_display = ["reference", "customer_email", "customer_name", "tier", "status", "amount", "created_at", "deadline"]
    list_filter = ["status", "intake_state", "tier", "mode", "livemode", "created_at"]
    search_fields = [
        "customer_email",
        "customer_name",
        "stripe_checkout_session_id",
        "stripe_payment_intent_id",
        "stripe_customer_id",
    ]
    list_select_related = ["catalogue_plan"]
    date_hierarchy = "created_at"
    inlines = [PaymentRecordInline, DFYActivityInline]
    # Status changes only through the services for now, which keep them
    # guarded and write the activity row.
    readonly_fields = [
        "status",
        "stripe_checkout_session_id",
        "stripe_payment_intent_id",
        "stripe_customer_id",
        "stripe_subscription_id",
        "mode",
        "plan",
        "term",
        "tier",
        "catalogue_plan",
        "amount_total",
        "currency",
        "livemode",
        "payment_status",
        "review_reason",
        "paid_at",
        "refunded",
        "status_before_dispute",
        "dispute_evidence_due_by",
        "subscription_status",
        "subscription_status_changed_at",
        "intake_state",
        "intake_answers",
        "intake_received_at",
        "created_at",
        "updated_at",
    ]

    @admin.display(description="reference", ordering="id")
    def reference(self, order):
        return order.reference

    @admin.display(description="amount", ordering="amount_total")
    def amount(self, order):
        return order.amount_display

    @admin.display(description="amount refunded", ordering="amount_refunded")
    def refunded(self, order):
        return order.amount_refunded_display


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """An admin for machine-written rows: listed and shown, never added, changed or deleted."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DFYActivity)
class DFYActivityAdmin(ReadOnlyModelAdmin):
    list_display = ["created_at", "order", "kind", "message", "stripe_event_id", "actor"]
    list_filter = ["kind"]
    search_fields = ["stripe_event_id", "order__customer_email", "order__stripe_checkout_session_id"]
    list_select_related = ["order", "actor"]


@admin.register(UnmatchedStripeEvent)
class UnmatchedStripeEventAdmin(ReadOnlyModelAdmin):
    """Lifecycle events that matched no order: written by the webhook, read by staff."""

    list_display = ["created_at", "event_type", "stripe_event_id", "stripe_object_id", "reason", "order", "resolved_at"]
    list_filter = ["event_type", ("order", admin.EmptyFieldListFilter)]
    search_fields = ["stripe_event_id", "stripe_object_id", "payment_intent_id", "customer_id", "subscription_id", "charge_id"]
    list_select_related = ["order"]
