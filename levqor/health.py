"""Health endpoints: cheap responses for load balancers and uptime monitors."""

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import Error, connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from djstripe.models import WebhookEndpoint

from .operations.metrics import last_webhook_at, outbox_backlog, seconds_since

logger = logging.getLogger(__name__)


@login_not_required
@require_GET
def stripe_webhook_health(request):
    """Report that the webhook service is up and whether its endpoint is set up (one indexed query)."""
    endpoint_configured = WebhookEndpoint.objects.filter(id=settings.STRIPE_WEBHOOK_ENDPOINT_ID).exists()
    return JsonResponse(
        {
            "ok": True,
            "service": "stripe_checkout_webhook",
            "endpoint_configured": endpoint_configured,
            "livemode": settings.STRIPE_LIVE_MODE,
            "time": timezone.now().isoformat(),
        }
    )


@login_not_required
@require_GET
def readiness(request):
    """Return 200 when this instance can serve (the database responds), 503 when it cannot.

    The body adds webhook freshness and the outbox backlog for people; they do
    not change the status, because a quiet hour is not a reason to take an
    instance out of the load balancer. Three queries, each on an index.
    """
    now = timezone.now()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        last_webhook = last_webhook_at()
        backlog = outbox_backlog(now)
    except Error as exc:
        # Error covers InterfaceError too (a connection already closed).
        logger.error("Readiness check failed: the database is unreachable: %s", exc)
        return JsonResponse(
            {"ready": False, "database": "unreachable", "error": type(exc).__name__, "time": now.isoformat()},
            status=503,
        )

    return JsonResponse(
        {
            "ready": True,
            "database": "ok",
            "last_webhook_at": last_webhook.isoformat() if last_webhook else None,
            "seconds_since_last_webhook": seconds_since(last_webhook, now),
            "outbox": backlog,
            "time": now.isoformat(),
        }
    )
