"""onboarding's part of the order list: the failed-email flag and filter, and the resend action."""

import logging

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Exists, OuterRef, Q
from django.template.response import TemplateResponse
from django.utils.html import format_html

from orders.back_office.filters import YesNoFilter

from .models import OutboxEmail
from .outbox import ONBOARDING_EMAILS
from .resend import ResendRejected, new_request_token, resend_emails

logger = logging.getLogger(__name__)

# How many selected orders the confirmation page lists by reference.
LISTED_ORDERS = 20


def failed_email():
    """Return the filter for emails that did not reach the customer: given up on, or bounced."""
    return Q(state=OutboxEmail.State.FAILED) | Q(delivery_status=OutboxEmail.DeliveryStatus.BOUNCED)


def order_has_failed_email():
    """Return a subquery, per order row, that is true when one of its emails failed: the list's column."""
    return Exists(OutboxEmail.objects.filter(failed_email(), order=OuterRef("pk")))


def orders_with_failed_email():
    """Return the subquery of order ids with a failed email: the filter and the dashboard.

    Failed emails are few, so reading them once beats testing every order
    with the subquery above when a whole table is filtered or counted.
    """
    return OutboxEmail.objects.filter(failed_email()).values("order_id")


class EmailFailedFilter(YesNoFilter):
    title = "email failed"
    parameter_name = "email_failed"

    def condition(self):
        return Q(pk__in=orders_with_failed_email())


@admin.display(description="emails", ordering="email_failed")
def email_flag(order):
    # email_failed is the annotation onboarding adds to the order list's query.
    if getattr(order, "email_failed", False):
        return format_html('<span class="lvq-flag">{}</span>', "failed")
    return ""


class ResendForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        label="Reason",
        help_text="Written to each order's activity, for example: customer cannot find the welcome email.",
    )
    request_token = forms.CharField(widget=forms.HiddenInput)


@admin.action(permissions=["change"], description="Resend onboarding emails (welcome and intake)")
def resend_onboarding_emails(modeladmin, request, queryset):
    """Ask for a reason on a confirmation page, then queue the emails again once per order."""
    if "confirm" in request.POST:
        form = ResendForm(request.POST)
        if form.is_valid():
            apply_resend(modeladmin, request, queryset, form.cleaned_data)
            return None
    else:
        form = ResendForm(initial={"request_token": new_request_token()})

    count = queryset.count()
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Resend onboarding emails",
        "opts": modeladmin.model._meta,
        "form": form,
        "orders": list(queryset.order_by("id")[:LISTED_ORDERS]),
        "count": count,
        "more": max(0, count - LISTED_ORDERS),
        "templates": ONBOARDING_EMAILS,
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/onboarding/resend_confirmation.html", context)


def apply_resend(modeladmin, request, queryset, data):
    queued, unchanged, rejected = [], [], []
    for order in queryset.order_by("id"):
        try:
            result = resend_emails(
                order, ONBOARDING_EMAILS, actor=request.user, reason=data["reason"], request_token=data["request_token"]
            )
        except ResendRejected as exc:
            logger.info("Resend for order %s rejected: %s", order.pk, exc)
            rejected.append(str(exc))
            continue
        if result.sent_templates:
            queued.append(f"{order.reference} ({', '.join(result.sent_templates)})")
        else:
            unchanged.append(order.reference)

    if queued:
        modeladmin.message_user(request, f"Queued again: {'; '.join(queued)}.", messages.SUCCESS)
    if unchanged:
        modeladmin.message_user(
            request,
            f"Nothing new queued for {', '.join(unchanged)}: the emails are still waiting to be sent, "
            "or this request was already applied.",
            messages.WARNING,
        )
    if rejected:
        modeladmin.message_user(request, f"Not sent: {' '.join(rejected)}", messages.ERROR)
