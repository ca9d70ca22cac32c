"""Admin actions on selected orders: status moves through change_status(), and the CSV export."""

import logging

from django.contrib import admin, messages

from ..intake import TransitionNotAllowed
from ..models import DFYOrder
from ..transitions import change_status
from .export import export_response
from .forms import transition_error

logger = logging.getLogger(__name__)

Status = DFYOrder.Status

# How many rejected orders a message lists by name before it only counts them.
LISTED_REJECTIONS = 5


def status_action(target, description):
    """Build an action that moves each selected order to target, one guarded change_status() per order."""

    @admin.action(permissions=["change"], description=description)
    def action(modeladmin, request, queryset):
        moved, rejected = [], []
        for order in queryset.order_by("id"):
            try:
                change_status(order, target, request.user)
            except TransitionNotAllowed as exc:
                logger.info("User %s could not move order %s to %s: %s", request.user.pk, order.pk, target, exc)
                rejected.append(transition_error(exc))
            else:
                moved.append(order.reference)

        label = Status(target).label
        if moved:
            modeladmin.message_user(request, f"Moved to {label}: {', '.join(moved)}.", messages.SUCCESS)
        if rejected:
            more = len(rejected) - LISTED_REJECTIONS
            text = " ".join(rejected[:LISTED_REJECTIONS]) + (f" (and {more} more)" if more > 0 else "")
            modeladmin.message_user(request, f"Not moved to {label}: {text}", messages.ERROR)

    action.__name__ = f"mark_{target}"
    return action


mark_intake_received = status_action(Status.INTAKE_RECEIVED, "Mark intake received")
mark_in_progress = status_action(Status.IN_PROGRESS, "Mark in progress")
mark_delivered = status_action(Status.DELIVERED, "Mark delivered (sends the handover email)")


@admin.action(permissions=["view"], description="Export selected orders to CSV")
def export_csv(modeladmin, request, queryset):
    return export_response(queryset, request.user)
