"""Render an email from templates/emails/<name>/{subject.txt,body.txt,body.html}."""

from dataclasses import dataclass

from django.conf import settings
from django.template.loader import render_to_string


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def email_context(order):
    plan = order.catalogue_plan
    return {
        "order": order,
        "plan": plan,
        "customer_name": order.customer_name or "there",
        "amount": order.amount_display,
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
