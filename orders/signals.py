"""Signals the orders app sends; other apps connect to them."""

from django.dispatch import Signal

# Sent inside the transaction that moves an order to "new" (paid and matched
# to the catalogue), once per order. Arguments: order, stripe_event_id.
order_paid = Signal()

# Sent inside the transaction that records a refund, a dispute or a failed
# subscription payment, so staff can be alerted. Arguments: order, kind
# ("refund", "refund_reversed", "dispute" or "invoice_payment_failed"),
# message (one sentence for people), stripe_event_id.
payment_problem = Signal()
