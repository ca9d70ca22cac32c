from django.contrib import admin

from .models import OpsAlert


@admin.register(OpsAlert)
class OpsAlertAdmin(admin.ModelAdmin):
    list_display = ["key", "is_active", "first_seen_at", "last_seen_at", "resolved_at", "occurrences"]
    list_filter = ["resolved_at"]
    readonly_fields = [field.name for field in OpsAlert._meta.fields]

    @admin.display(boolean=True, description="active")
    def is_active(self, alert):
        return alert.active

    def has_add_permission(self, request):
        return False
