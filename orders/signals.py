"""Signals the orders app sends; other apps connect to them."""

from django.dispatch import Signal

# Sent inside the transaction that moves an order to "new" (paid and matched
# to the catalogue), once per order. Arguments: order, stripe_event_id.
order_paid = Signal()
