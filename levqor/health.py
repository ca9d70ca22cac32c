"""Health endpoints: cheap responses for load balancers and uptime monitors."""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from djstripe.models import WebhookEndpoint


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
