"""Pieces of the staff back office that orders/admin.py puts together: display, filters, form, actions, export."""
