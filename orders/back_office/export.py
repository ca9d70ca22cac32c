"""Stream orders as CSV: amounts in major units with their currency, times in ISO 8601 (UTC)."""

import csv
import logging

from django.http import StreamingHttpResponse
from django.utils import timezone

from ..money import major_units

logger = logging.getLogger(__name__)

# (header, function of the order). Free-text cells are guarded in csv_cell().
COLUMNS = [
    ("reference", lambda order: order.reference),
    ("created_at", lambda order: iso(order.created_at)),
    ("paid_at", lambda order: iso(order.paid_at)),
    ("status", lambda order: order.status),
    ("tier", lambda order: order.tier),
    ("mode", lambda order: order.mode),
    ("plan", lambda order: order.plan),
    ("term", lambda order: order.term),
    ("amount", lambda order: "" if order.amount_total is None else major_units(order.amount_total, order.currency)),
    ("currency", lambda order: order.currency.upper()),
    ("livemode", lambda order: "true" if order.livemode else "false"),
    ("customer_email", lambda order: order.customer_email),
    ("customer_name", lambda order: order.customer_name),
    ("deadline", lambda order: iso(order.deadline)),
    ("intake_state", lambda order: order.intake_state),
    ("intake_received_at", lambda order: iso(order.intake_received_at)),
    ("revisions_left", lambda order: order.revisions_left),
    ("files_link", lambda order: order.files_link),
    ("final_package_link", lambda order: order.final_package_link),
    ("stripe_checkout_session_id", lambda order: order.stripe_checkout_session_id),
    ("stripe_payment_intent_id", lambda order: order.stripe_payment_intent_id),
    ("stripe_customer_id", lambda order: order.stripe_customer_id),
    ("stripe_subscription_id", lambda order: order.stripe_subscription_id),
]

# A spreadsheet runs a cell that starts with one of these as a formula, so a
# customer's name such as "=HYPERLINK(...)" is written with a leading quote.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CHUNK_SIZE = 2000


def iso(value):
    return value.isoformat() if value else ""


def csv_cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


class LineBuffer:
    """A file-like object whose write() returns the line, so csv.writer can feed a generator."""

    def write(self, value):
        return value


def csv_rows(queryset):
    writer = csv.writer(LineBuffer())
    yield writer.writerow([header for header, _ in COLUMNS])
    for order in queryset.iterator(chunk_size=CHUNK_SIZE):
        yield writer.writerow([csv_cell(value(order)) for _, value in COLUMNS])


def export_response(queryset, user):
    """Return a streamed CSV download of the orders in queryset, oldest first."""
    logger.info("User %s exported %s orders as CSV", user.pk, queryset.count())
    filename = f"levqor-orders-{timezone.now():%Y%m%d-%H%M%S}.csv"
    response = StreamingHttpResponse(csv_rows(queryset.order_by("created_at", "id")), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
