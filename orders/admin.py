"""The staff back office: orders, their activity, the plan catalogue and dj-stripe's webhook triggers.

onboarding's admin adds its own pieces to DFYOrderAdmin (email deliveries
inline, the email filter and column, the resend action), so orders never
imports onboarding.
"""

import logging

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.utils import timezone
from django.utils.html import format_html
from djstripe.admin.admin import WebhookEventTriggerAdmin as DjstripeWebhookEventTriggerAdmin
from djstripe.models import WebhookEventTrigger

from .back_office import actions, display, search
from .back_office.filters import (
    FailedTriggerFilter,
    ModeFilter,
    NeedsReviewFilter,
    OverdueFilter,
    PlanFilter,
    TierFilter,
)
from .back_office.forms import WORK_FIELDS, DFYOrderForm, transition_error
from .intake import TransitionNotAllowed
from .models import DFYActivity, DFYOrder, PaymentRecord, Plan, UnmatchedStripeEvent
from .transitions import change_status

logger = logging.getLogger(__name__)


class MachineWrittenMixin:
    """Admin permissions for rows the system writes: nobody adds, changes or deletes them, superusers included."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
    fields = ["created_at", "kind", "message", "stripe_event", "actor"]
    readonly_fields = fields
    ordering = ["created_at", "id"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order", "actor")

    @admin.display(description="Stripe event")
    def stripe_event(self, activity):
        return display.stripe_link("event", activity.stripe_event_id, activity.order.livemode)


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


STRIPE_FIELDS = [
    "livemode",
    "stripe_checkout_session_id",
    "payment_intent_link",
    "customer_link",
    "subscription_link",
    "payment_status",
    "paid_at",
]


@admin.register(DFYOrder)
class DFYOrderAdmin(admin.ModelAdmin):
    form = DFYOrderForm
    list_display = [
        "reference", "customer", "tier", "status_badge", "amount", "created", "deadline_cell", "intake_state",
    ]
    list_display_links = ["reference", "customer"]
    list_filter = [
        "status", NeedsReviewFilter, OverdueFilter, TierFilter, ModeFilter, PlanFilter, "livemode", "created_at",
        "intake_state",
    ]
    # get_search_results() matches a whole Stripe id or email address
    # exactly, and looks for any other term in these columns.
    search_fields = ["customer_email", "customer_name"]
    search_help_text = "Customer email or name (or part of one), or a whole Stripe id (cs_…, pi_…, cus_…, sub_…)."
    list_select_related = ["catalogue_plan"]
    list_per_page = 50
    # Counting every order would add a full count to each page view, and
    # the filtered count is still shown.
    show_full_result_count = False
    ordering = ["-created_at", "-id"]
    actions = [actions.mark_intake_received, actions.mark_in_progress, actions.mark_delivered, actions.export_csv]
    inlines = [PaymentRecordInline, DFYActivityInline]
    # Subqueries other apps add to the list's query, so a per-row flag costs
    # no query per row: {name: expression}.
    list_annotations = {}

    fieldsets = [
        ("Order", {"fields": ["reference", "status", "status_note", "created_at", "updated_at"]}),
        ("Customer", {"fields": ["customer_name", "customer_email"]}),
        ("Plan and payment", {"fields": ["catalogue_plan", "tier", "mode", "plan", "term", "amount", "review_reason"]}),
        ("Stripe (read-only; links open the Stripe dashboard)", {"fields": STRIPE_FIELDS}),
        ("Work", {"fields": ["deadline", "revisions_left", "files_link", "final_package_link", "internal_notes"]}),
        ("Intake", {"fields": ["intake_state", "intake_received_at", "intake_answers_table"]}),
        (
            "After checkout (refunds, disputes, subscription)",
            {
                "fields": [
                    "refunded",
                    "status_before_dispute",
                    "dispute_evidence_due_by",
                    "subscription_status",
                    "subscription_status_changed_at",
                ]
            },
        ),
    ]
    readonly_fields = [
        "reference", "created_at", "updated_at", "customer_name", "customer_email", "tier", "mode", "plan", "term",
        "amount", "review_reason", "livemode", "stripe_checkout_session_id", "payment_intent_link", "customer_link",
        "subscription_link", "payment_status", "paid_at", "intake_state", "intake_received_at", "intake_answers_table",
        "refunded", "status_before_dispute", "dispute_evidence_due_by", "subscription_status",
        "subscription_status_changed_at",
    ]

    class Media:
        css = {"all": ["orders/back_office.css"]}

    def has_add_permission(self, request):
        # Orders come from Stripe Checkout only.
        return False

    def has_delete_permission(self, request, obj=None):
        # An order is a payment record, and its activity rows protect it too.
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(**self.list_annotations)

    def action_checkbox(self, obj):
        # Django's markup, without rendering a form widget per row: that took
        # about a fifth of the list's time (bench/admin_list.py).
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" '
            'aria-label="Select this object for an action - {}">',
            helpers.ACTION_CHECKBOX_NAME, obj.pk, str(obj),
        )

    def get_search_results(self, request, queryset, search_term):
        exact = search.exact_match(search_term)
        if exact is not None:
            return queryset.filter(exact), False
        return super().get_search_results(request, queryset, search_term)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        # Staff choose the plan while resolving a review. Afterwards it is the
        # plan onboarding started with, so it stays fixed.
        if obj is None or obj.status != DFYOrder.Status.NEEDS_REVIEW:
            fields.append("catalogue_plan")
        return fields

    def get_fieldsets(self, request, obj=None):
        if self.has_change_permission(request, obj):
            return self.fieldsets
        return [
            (name, {**options, "fields": [field for field in options["fields"] if field != "status_note"]})
            for name, options in self.fieldsets
        ]

    def save_model(self, request, obj, form, change):
        """Save the changed work fields, record them, then make any status move through change_status()."""
        previous_status = form.initial["status"]
        target_status = obj.status
        obj.status = previous_status

        changed = [name for name in WORK_FIELDS if name in form.changed_data]
        if changed:
            # Only the edited columns are written, so a concurrent change to
            # another column (the customer's intake, a webhook) is kept.
            obj.save(update_fields=[*changed, "updated_at"])
            obj.record(
                "order.updated",
                f"{request.user.get_username()} changed {', '.join(label_of(name) for name in changed)}.",
                data={"fields": changed, "changes": describe_changes(form, changed)},
                actor=request.user,
            )

        if target_status != previous_status:
            try:
                moved = change_status(obj, target_status, request.user, note=form.cleaned_data.get("status_note", ""))
            except TransitionNotAllowed as exc:
                # Another user moved the order after this form was checked.
                logger.warning("User %s could not move order %s to %s: %s", request.user.pk, obj.pk, target_status, exc)
                self.message_user(request, transition_error(exc), messages.ERROR)
            else:
                obj.status = moved.status

    @admin.display(description="reference", ordering="id")
    def reference(self, order):
        return order.reference

    @admin.display(description="customer", ordering="customer_email")
    def customer(self, order):
        return format_html("{}<br><small>{}</small>", order.customer_name or "—", order.customer_email or "(no email)")

    @admin.display(description="status", ordering="status")
    def status_badge(self, order):
        return display.status_badge(order.status)

    @admin.display(description="amount", ordering="amount_total")
    def amount(self, order):
        return order.amount_display

    @admin.display(description="amount refunded", ordering="amount_refunded")
    def refunded(self, order):
        return order.amount_refunded_display

    @admin.display(description="created", ordering="created_at")
    def created(self, order):
        return display.short_time(order.created_at)

    @admin.display(description="deadline", ordering="deadline")
    def deadline_cell(self, order):
        return display.deadline_cell(order, timezone.now())

    @admin.display(description="payment intent")
    def payment_intent_link(self, order):
        return display.stripe_link("payment_intent", order.stripe_payment_intent_id, order.livemode)

    @admin.display(description="customer")
    def customer_link(self, order):
        return display.stripe_link("customer", order.stripe_customer_id, order.livemode)

    @admin.display(description="subscription")
    def subscription_link(self, order):
        return display.stripe_link("subscription", order.stripe_subscription_id, order.livemode)

    @admin.display(description="intake answers")
    def intake_answers_table(self, order):
        return display.intake_answers_table(order.intake_answers)


def label_of(field_name):
    return str(DFYOrder._meta.get_field(field_name).verbose_name)


def describe_changes(form, changed):
    """Return {field: [old, new]} for the activity row, with "edited" for internal notes because they are long."""
    changes = {}
    for name in changed:
        if name == "internal_notes":
            changes[name] = "edited"
            continue
        old, new = form.initial.get(name), form.cleaned_data.get(name)
        changes[name] = [plain(old), plain(new)]
    return changes


def plain(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "pk"):
        return str(value)
    return value


@admin.register(DFYActivity)
class DFYActivityAdmin(MachineWrittenMixin, admin.ModelAdmin):
    list_display = ["created_at", "order", "kind", "message", "stripe_event_id", "actor"]
    list_filter = ["kind"]
    search_fields = ["stripe_event_id", "order__customer_email", "order__stripe_checkout_session_id"]
    list_select_related = ["order", "actor"]


# dj-stripe's own admin lets a superuser delete triggers. They are the raw
# record of what Stripe sent, so nobody may.
if admin.site.is_registered(WebhookEventTrigger):
    admin.site.unregister(WebhookEventTrigger)


@admin.register(WebhookEventTrigger)
class WebhookEventTriggerAdmin(MachineWrittenMixin, DjstripeWebhookEventTriggerAdmin):
    list_filter = [FailedTriggerFilter, *DjstripeWebhookEventTriggerAdmin.list_filter]


@admin.register(UnmatchedStripeEvent)
class UnmatchedStripeEventAdmin(MachineWrittenMixin, admin.ModelAdmin):
    """Lifecycle events that matched no order: written by the webhook, read by staff."""

    list_display = ["created_at", "event_type", "stripe_event_id", "stripe_object_id", "reason", "order", "resolved_at"]
    list_filter = ["event_type", ("order", admin.EmptyFieldListFilter)]
    search_fields = ["stripe_event_id", "stripe_object_id", "payment_intent_id", "customer_id", "subscription_id", "charge_id"]
    list_select_related = ["order"]
