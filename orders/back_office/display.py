"""Display helpers of the back office: status colours, deadlines, intake answers and Stripe dashboard links."""

from django.utils import timezone
from django.utils.html import format_html, format_html_join

from ..models import DFYOrder
from ..transitions import is_overdue

Status = DFYOrder.Status

# Background colour of each status badge. A status without an entry (one
# added later) is shown in DEFAULT_STATUS_COLOUR until it gets one. Each
# colour gives white text a contrast ratio above 4.5:1 (WCAG AA).
STATUS_COLOURS = {
    Status.AWAITING_PAYMENT: "#52606d",
    Status.NEW: "#1d4ed8",
    Status.NEEDS_REVIEW: "#b45309",
    Status.PAYMENT_FAILED: "#b91c1c",
    Status.INTAKE_RECEIVED: "#6d28d9",
    Status.IN_PROGRESS: "#0e7490",
    Status.DELIVERED: "#15803d",
    Status.REFUNDED: "#7c2d12",
    Status.DISPUTED: "#be123c",
}
DEFAULT_STATUS_COLOUR = "#4b5563"

# Path of each Stripe object on the dashboard, as dj-stripe 2.11 builds them
# (djstripe.models.base.StripeModel.get_stripe_dashboard_url). Checkout
# Sessions have no dashboard page there, so their id is shown as text.
STRIPE_DASHBOARD_PATHS = {
    "payment_intent": "payments",
    "customer": "customers",
    "subscription": "subscriptions",
    "event": "events",
}


def status_colour(status):
    return STATUS_COLOURS.get(status, DEFAULT_STATUS_COLOUR)


def status_badge(status):
    label = Status(status).label if status in Status.values else status
    return format_html(
        '<span class="lvq-status" data-status="{}" style="background:{}">{}</span>', status, status_colour(status), label
    )


def short_time(value):
    return timezone.localtime(value).strftime("%d %b %Y %H:%M") if value else "—"


def deadline_cell(order, now):
    if order.deadline is None:
        return "—"
    text = short_time(order.deadline)
    if is_overdue(order, now):
        return format_html('<span class="lvq-overdue" title="Past its deadline">{} · overdue</span>', text)
    return text


def stripe_dashboard_url(kind, object_id, livemode):
    """Return the Stripe dashboard address of an object. Test-mode objects are under /test/."""
    if not object_id:
        return ""
    mode_prefix = "" if livemode else "test/"
    return f"https://dashboard.stripe.com/{mode_prefix}{STRIPE_DASHBOARD_PATHS[kind]}/{object_id}"


def stripe_link(kind, object_id, livemode):
    """Render an object id as a link to the Stripe dashboard. The link is only rendered, never fetched."""
    if not object_id:
        return "—"
    url = stripe_dashboard_url(kind, object_id, livemode)
    return format_html('<a href="{}" target="_blank" rel="noopener noreferrer">{}</a>', url, object_id)


def intake_answers_table(answers):
    if not answers:
        return "—"
    rows = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", ((key, value or "—") for key, value in answers.items()))
    return format_html('<table class="lvq-intake">{}</table>', rows)
