from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from orders.webhooks import CheckoutCompletedWebhookView, StripeWebhookView

from . import api, health

# dj-stripe's admin reverses "djstripe:djstripe_webhook_by_uuid", so our view
# takes that name in place of dj-stripe's own.
stripe_patterns = (
    [path("webhook/<uuid:uuid>/", StripeWebhookView.as_view(), name="djstripe_webhook_by_uuid")],
    "djstripe",
)

admin.site.site_header = "Levqor back office"
admin.site.site_title = "Levqor back office"
admin.site.index_title = "Today"
# The order list needs the width more than a second copy of the app list.
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("admin/", admin.site.urls),
    path("stripe/", include(stripe_patterns, namespace="djstripe")),
    path(
        "api/webhooks/stripe/checkout-completed",
        CheckoutCompletedWebhookView.as_view(),
        name="stripe-checkout-completed-webhook",
    ),
    path("api/webhooks/stripe/health", health.stripe_webhook_health, name="stripe-webhook-health"),
    path("onboarding/", include("onboarding.urls")),
    path("api/health/ready", health.readiness, name="health-ready"),
    path("api/stripe/check", api.stripe_check, name="stripe-check"),
]

# Anymail's Resend tracking webhook (POST /anymail/resend/tracking/) is served
# only with a signing secret: without one Anymail accepts unsigned events.
if settings.RESEND_SIGNING_SECRET:
    urlpatterns.append(path("anymail/", include("anymail.urls")))
