from levqor.operations.command import ReportCommand
from levqor.operations.stripe_report import build_stripe_report


class Command(ReportCommand):
    help = (
        "Check the Stripe account (reachable, mode, charges enabled), every configured STRIPE_PRICE_* "
        "against the plan catalogue, and the webhook endpoint (enabled, events, API version). "
        "Exits 1 when a check fails."
    )

    def build_report(self, **options):
        return build_stripe_report()
