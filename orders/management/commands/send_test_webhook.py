from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from djstripe.models import WebhookEndpoint

from orders import sample_events
from orders.models import DFYOrder, Plan
from orders.services import CHECKOUT_EVENT_TYPES


class Command(BaseCommand):
    help = (
        "Build a signed checkout.session event from Stripe's fixtures, POST it to a webhook URL "
        "on this machine, and print the response and the order it made."
    )

    def add_arguments(self, parser):
        parser.add_argument("--url", help="Webhook URL on this machine. Default: the configured endpoint's URL.")
        parser.add_argument("--secret", help="Signing secret. Default: the configured endpoint's secret.")
        parser.add_argument("--event-type", default="checkout.session.completed", choices=CHECKOUT_EVENT_TYPES)
        parser.add_argument("--event-id", help="Stripe event id. Default: a new random id.")
        parser.add_argument("--session-id", help="Checkout Session id. Default: a new random cs_test_ id.")
        parser.add_argument("--mode", default="dfy", help="Metadata mode: dfy or subscription (default dfy).")
        parser.add_argument("--plan", default="starter", help="Metadata plan, e.g. starter or growth.")
        parser.add_argument("--term", default="", help="Metadata term: monthly or yearly for subscriptions.")
        parser.add_argument("--no-metadata", action="store_true", help="Send empty metadata, as Payment Links do.")
        parser.add_argument("--payment-status", default="paid", choices=["paid", "unpaid", "no_payment_required"])
        parser.add_argument("--amount", type=int, help="amount_total in minor units. Default: the catalogue price.")
        parser.add_argument("--currency", default="gbp")
        parser.add_argument("--email", default="customer@example.com")
        parser.add_argument("--name", default="Jane Doe")

    def handle(self, *args, **options):
        endpoint = WebhookEndpoint.objects.filter(id=settings.STRIPE_WEBHOOK_ENDPOINT_ID).first()
        if endpoint is None and not (options["url"] and options["secret"]):
            raise CommandError("No webhook endpoint is set up: run manage.py setup_webhook_endpoint first.")

        url = options["url"] or endpoint.url
        secret = options["secret"] or endpoint.secret
        session = build_session(options)
        stripe_event = sample_events.event(options["event_type"], session, event_id=options["event_id"])

        try:
            status, body = sample_events.deliver(url, stripe_event, secret)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        except OSError as exc:
            raise CommandError(f"Could not reach {url}: {exc}. Is the server running?") from exc

        self.stdout.write(f"POST {url} {stripe_event['type']} {stripe_event['id']}: HTTP {status}")
        if status != 200:
            self.stdout.write(f"Response body: {body[:500]}")
        self.report_order(session["id"])
        if status >= 400:
            raise CommandError(f"The webhook returned HTTP {status}.")

    def report_order(self, session_id):
        order = DFYOrder.objects.filter(stripe_checkout_session_id=session_id).first()
        if order is None:
            self.stdout.write(f"No order for session {session_id}.")
            return
        self.stdout.write(
            f"Order {order.reference}: status={order.status} tier={order.tier or '-'} "
            f"amount={order.amount_display} email={order.customer_email or '-'}"
        )


def build_session(options):
    metadata = {} if options["no_metadata"] else {"mode": options["mode"], "plan": options["plan"]}
    if options["term"] and not options["no_metadata"]:
        metadata["term"] = options["term"]

    subscription = options["mode"] == "subscription"
    return sample_events.checkout_session(
        options["session_id"] or sample_events.random_id("cs_test"),
        metadata=metadata,
        payment_status=options["payment_status"],
        amount_total=options["amount"] if options["amount"] is not None else catalogue_amount(options),
        currency=options["currency"],
        email=options["email"],
        name=options["name"],
        customer=sample_events.random_id("cus") if subscription else None,
        subscription=sample_events.random_id("sub") if subscription else None,
        # Refunds and disputes find their order by payment intent, so each test order gets its own.
        payment_intent=None if subscription else sample_events.random_id("pi"),
        stripe_mode="subscription" if subscription else "payment",
    )


def catalogue_amount(options):
    term = options["term"] or (Plan.Term.ONE_OFF if options["mode"] == Plan.Mode.DFY else "")
    plan = Plan.objects.filter(mode=options["mode"], slug=options["plan"], term=term).first()
    return plan.amount if plan else 9900
