from django.contrib import admin

from orders.admin import DFYOrderAdmin, ReadOnlyInline

from .models import OutboxEmail


class OutboxEmailInline(ReadOnlyInline):
    model = OutboxEmail
    fields = ["template", "to_email", "subject", "state", "attempts", "sent_at", "last_error", "provider_message_id"]
    readonly_fields = fields


# onboarding contributes the deliveries to the order page, so orders never
# imports onboarding.
DFYOrderAdmin.inlines = [*DFYOrderAdmin.inlines, OutboxEmailInline]


@admin.register(OutboxEmail)
class OutboxEmailAdmin(admin.ModelAdmin):
    list_display = ["created_at", "order", "template", "to_email", "state", "attempts", "sent_at"]
    list_filter = ["state", "template"]
    search_fields = ["to_email", "order__stripe_checkout_session_id", "provider_message_id"]
    list_select_related = ["order"]
    readonly_fields = [field.name for field in OutboxEmail._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
