"""The customer's intake page, reached through the signed link in the intake email (no login)."""

import logging

from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from orders.intake import TransitionNotAllowed, receive_intake
from orders.models import DFYOrder

from .forms import IntakeForm
from .intake_links import ExpiredIntakeLink, InvalidIntakeLink, order_for_token

logger = logging.getLogger(__name__)


@require_http_methods(["GET", "POST"])
def intake(request, token):
    """Show and accept the intake form.

    Responses: 200 with the form, or with a confirmation once answers are in;
    400 for an expired link; 404 for an altered or unknown link; 409 when the
    order no longer takes answers (for example it needs review). A valid POST
    redirects to the same URL.
    """
    try:
        order = order_for_token(token)
    except ExpiredIntakeLink:
        logger.info("Rejected an expired intake link")
        return link_error(request, "expired", status=400)
    except InvalidIntakeLink as exc:
        logger.warning("Rejected an intake link: %s", exc)
        return link_error(request, "invalid", status=404)

    if order.intake_state == DFYOrder.IntakeState.RECEIVED:
        return render(request, "intake/received.html", {"order": order})
    if order.status != DFYOrder.Status.NEW:
        logger.info("Intake link used for order %s in status %s", order.pk, order.status)
        return link_error(request, "closed", status=409, order=order)

    form = IntakeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            receive_intake(order.pk, form.cleaned_data)
        except TransitionNotAllowed:
            # A second submission that lost the race to the first one.
            logger.info("Intake for order %s was already received", order.pk)
        return redirect(request.path)

    return render(request, "intake/form.html", {"order": order, "form": form})


def link_error(request, reason, *, status, order=None):
    return render(request, "intake/link_error.html", {"reason": reason, "order": order}, status=status)
