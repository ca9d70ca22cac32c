from django.contrib import admin
from django.contrib.contenttypes.admin import GenericTabularInline

from orders.admin import DFYOrderAdmin, MachineWrittenMixin, ReadOnlyInline

from .back_office import EmailFailedFilter, email_flag, order_has_failed_email, resend_onboarding_emails
from .models import DeliveryAttempt, OutboxEmail, StaffAlert, StripeMirrorSync

ITEM_FIELDS = ["state", "failure", "attempts", "next_attempt_at", "sent_at", "last_error", "provider_message_id"]


class DeliveryAttemptInline(GenericTabularInline, ReadOnlyInline):
    model = DeliveryAttempt
    fields = ["number", "started_at", "finished_at", "outcome", "status_code", "error", "retry_at", "worker"]
    readonly_fields = fields


class OutboxEmailInline(ReadOnlyInline):
    model = OutboxEmail
    fields = ["template", "to_email", "subject", *ITEM_FIELDS, "delivery_status"]
    readonly_fields = fields


class StaffAlertInline(ReadOnlyInline):
    model = StaffAlert
    fields = ["kind", "channel", *ITEM_FIELDS]
    readonly_fields = fields


class StripeMirrorSyncInline(ReadOnlyInline):
    model = StripeMirrorSync
    fields = ITEM_FIELDS
    readonly_fields = fields


# onboarding contributes its rows to the order page, so orders never
# imports onboarding.
DFYOrderAdmin.inlines = [*DFYOrderAdmin.inlines, OutboxEmailInline, StaffAlertInline, StripeMirrorSyncInline]
DFYOrderAdmin.list_annotations = {**DFYOrderAdmin.list_annotations, "email_failed": order_has_failed_email()}
DFYOrderAdmin.list_display = [*DFYOrderAdmin.list_display, email_flag]
DFYOrderAdmin.list_filter = [*DFYOrderAdmin.list_filter, EmailFailedFilter]
DFYOrderAdmin.actions = [*DFYOrderAdmin.actions, resend_onboarding_emails]


class MachineWrittenAdmin(MachineWrittenMixin, admin.ModelAdmin):
    """Outbox rows are written by the order path and the worker only: shown, never edited by hand."""

    inlines = [DeliveryAttemptInline]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]


@admin.register(OutboxEmail)
class OutboxEmailAdmin(MachineWrittenAdmin):
    list_display = ["created_at", "order", "template", "to_email", "state", "failure", "attempts", "sent_at", "delivery_status"]
    list_filter = ["state", "failure", "template", "delivery_status"]
    search_fields = ["to_email", "order__stripe_checkout_session_id", "provider_message_id"]
    list_select_related = ["order"]


@admin.register(StaffAlert)
class StaffAlertAdmin(MachineWrittenAdmin):
    list_display = ["created_at", "kind", "channel", "order", "state", "failure", "attempts", "sent_at"]
    list_filter = ["state", "failure", "kind", "channel"]
    search_fields = ["key", "message", "order__customer_email"]
    list_select_related = ["order"]


@admin.register(StripeMirrorSync)
class StripeMirrorSyncAdmin(MachineWrittenAdmin):
    list_display = ["created_at", "order", "state", "failure", "attempts", "sent_at", "last_error"]
    list_filter = ["state", "failure"]
    search_fields = ["order__stripe_checkout_session_id"]
    list_select_related = ["order"]


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(MachineWrittenMixin, admin.ModelAdmin):
    list_display = ["started_at", "content_type", "object_id", "number", "outcome", "status_code", "error", "worker"]
    list_filter = ["outcome", "content_type"]
    search_fields = ["error", "provider_message_id", "worker"]
    list_select_related = ["content_type"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]
