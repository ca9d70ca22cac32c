"""JSON endpoints for staff tools."""

import functools

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from .operations.stripe_report import build_stripe_report


def staff_only_json(view):
    """Return 403 JSON to anyone but logged-in active staff, instead of redirecting to a login page."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        user = request.user
        if not (user.is_authenticated and user.is_active and user.is_staff):
            return JsonResponse({"error": "Staff login required."}, status=403)
        return view(request, *args, **kwargs)

    # The view checks the login itself, so LoginRequiredMiddleware must not redirect.
    return login_not_required(wrapped)


@staff_only_json
@require_GET
def stripe_check(request):
    """Return the stripe_check report as JSON; "ok" is false when a check failed.

    It calls the Stripe API several times (account, each price, the webhook
    endpoint), so it is for people, not for uptime monitors.
    """
    # NOTE: stripe-python 15 waits up to 80 s per request by default, longer
    # than gunicorn's 30 s worker timeout (gunicorn.conf.py), so a Stripe API
    # that accepts connections but never responds gets this worker restarted.
    return JsonResponse(build_stripe_report().as_dict())
