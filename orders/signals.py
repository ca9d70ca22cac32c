"""Signals the orders app sends; other apps connect to them."""

from django.dispatch import Signal

# Sent inside the transaction that moves an order to "new" (paid and matched
# to the catalogue), once per order. Arguments: order, stripe_event_id.
order_paid = Signal()

# Sent inside the transaction that records a payment problem on an order, so
# staff can be alerted: a delayed payment that failed, a paid order that needs
# review, a refund, a dispute or a failed subscription payment. Arguments:
# order, problem (a short slug such as "payment_failed", "needs_review",
# "refund" or "dispute"), message (one English sentence for staff),
# stripe_event_id.
payment_problem = Signal()

# Sent inside the transaction that stores a customer's intake answers and moves
# the order to "intake_received". Arguments: order.
intake_received = Signal()

# Sent inside the transaction that moves an order to "delivered" (staff mark
# the work done), each time it moves there. Arguments: order, actor (the staff
# user), note (the staff's note for the timeline, often "").
order_delivered = Signal()
