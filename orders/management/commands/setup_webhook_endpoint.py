from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from orders.stripe_setup import configure_endpoint, legacy_webhook_url


class Command(BaseCommand):
    help = (
        "Create or update the local Stripe webhook endpoint from STRIPE_WEBHOOK_SECRET, "
        "without calling Stripe, and print the URL to register in the Stripe dashboard."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--secret",
            default=settings.STRIPE_WEBHOOK_SECRET,
            help="Signing secret (whsec_...). Default: STRIPE_WEBHOOK_SECRET.",
        )
        parser.add_argument(
            "--base-url",
            default=settings.PUBLIC_BASE_URL,
            help="Public base URL of this service. Default: PUBLIC_BASE_URL.",
        )

    def handle(self, *args, secret, base_url, verbosity, **options):
        try:
            endpoint, created = configure_endpoint(secret, base_url)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc

        if verbosity >= 1:
            action = "Created" if created else "Updated"
            self.stdout.write(f"{action} webhook endpoint {endpoint.id} (API version {endpoint.api_version}).")
            self.stdout.write(f"Register this URL in Stripe: {endpoint.url}")
            self.stdout.write(f"The earlier URL is served too: {legacy_webhook_url(base_url)}")
            self.stdout.write(f"Events to send: {', '.join(endpoint.enabled_events)}")
