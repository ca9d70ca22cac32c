"""Render an email from templates/emails/<name>/{subject.txt,body.txt,body.html}."""

from dataclasses import dataclass

from django.conf import settings
from django.template.loader import render_to_string

from .intake_links import intake_url

# The delivery time each DFY tier promises on the public price list. The
# catalogue's delivery_hours sets the deadline; Professional is sold as
# "3 to 4 days" with its deadline at the later end (96 hours).
DELIVERY_PROMISES = {
    "STARTER": "48 hours",
    "PROFESSIONAL": "3 to 4 days",
    "ENTERPRISE": "7 days",
}


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def delivery_promise(order):
    """Return the delivery time in words, or "" for plans without a deadline."""
    if order.tier in DELIVERY_PROMISES:
        return DELIVERY_PROMISES[order.tier]
    hours = order.catalogue_plan.delivery_hours if order.catalogue_plan else None
    if not hours:
        return ""
    return f"{hours} hours" if hours < 72 else f"{hours / 24:g} days"


def email_context(order):
    plan = order.catalogue_plan
    return {
        "order": order,
        "plan": plan,
        "customer_name": order.customer_name or "there",
        "amount": order.amount_display,
        "delivery_promise": delivery_promise(order),
        "intake_url": intake_url(order),
        "support_email": settings.DEFAULT_FROM_EMAIL,
    }


def render_subject(template, context):
    # A subject is one header line: newlines from the template would be refused
    # by Django's mail code, so whitespace is collapsed.
    return " ".join(render_to_string(f"emails/{template}/subject.txt", context).split())


def render_email(template, order):
    context = email_context(order)
    return RenderedEmail(
        subject=render_subject(template, context),
        text=render_to_string(f"emails/{template}/body.txt", context),
        html=render_to_string(f"emails/{template}/body.html", context),
    )
