from django.apps import AppConfig
from django.conf import settings


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders"

    def ready(self):
        import stripe

        from . import receivers  # noqa: F401  (connects the dj-stripe signal receivers)
        from .stripe_sync import disconnect_djstripe_handlers

        # stripe-python reads api_base on every request; dj-stripe's own
        # STRIPE_API_HOST setting is read once at import and warns when set.
        stripe.api_base = settings.STRIPE_API_BASE
        disconnect_djstripe_handlers()
