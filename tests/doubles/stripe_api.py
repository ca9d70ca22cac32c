"""A Stripe API double that answers with Stripe's own fixture objects."""

import re

from orders import sample_events

from .http import RecordingServer, json_response

# URL collection -> Stripe object type, for GET /v1/<collection>[/<id>].
COLLECTIONS = {
    "checkout/sessions": "checkout.session",
    "customers": "customer",
    "payment_intents": "payment_intent",
    "prices": "price",
    "products": "product",
    "subscriptions": "subscription",
    "events": "event",
    "webhook_endpoints": "webhook_endpoint",
}
# The collection names are listed, because a pattern for them would also take
# a lower-case id as a second segment (/v1/prices/price_abc).
PATH = re.compile(
    rf"^/v1/(?P<collection>{'|'.join(map(re.escape, COLLECTIONS))})(?:/(?P<id>[A-Za-z0-9_]+))?$"
)

# Stripe's interval for each catalogue term; a one-off price has no recurring part.
RECURRING_INTERVALS = {"monthly": "month", "yearly": "year"}


def stripe_error(message, status, error_type="invalid_request_error"):
    return json_response({"error": {"type": error_type, "message": message}}, status)


def bearer_key(request):
    authorization = request.headers.get("Authorization", "")
    return authorization.removeprefix("Bearer ").strip()


def masked(key):
    """Show a key the way Stripe's own error messages do: prefix and last four characters."""
    prefix = "_".join(key.split("_")[:2])
    return f"{prefix}_****{key[-4:]}"


class StripeDouble(RecordingServer):
    """Stores objects by type and id; GET returns them, lists page with limit and starting_after.

    A key added to revoked_keys gets Stripe's 401 answer, as a rolled or deleted key does.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.objects = {}
        self.revoked_keys = set()

    def reset(self):
        super().reset()
        self.objects.clear()
        self.revoked_keys.clear()

    def add(self, stripe_object):
        self.objects.setdefault(stripe_object["object"], {})[stripe_object["id"]] = stripe_object
        return stripe_object

    def answer(self, request):
        fault = self.next_fault()
        if fault is not None:
            return fault

        key = bearer_key(request)
        if key in self.revoked_keys:
            return stripe_error(f"Invalid API Key provided: {masked(key)}", 401)

        if request.path == "/v1/account":
            accounts = list(self.objects.get("account", {}).values())
            return json_response(accounts[0] if accounts else sample_events.fixture("account"))

        match = PATH.match(request.path)
        object_type = COLLECTIONS.get(match["collection"]) if match else None
        if request.method != "GET" or object_type is None:
            return stripe_error(f"Unrecognised request URL ({request.method}: {request.path})", 404)

        stored = self.objects.get(object_type, {})
        if match["id"]:
            if match["id"] not in stored:
                return stripe_error(f"No such {object_type}: '{match['id']}'", 404)
            return json_response(stored[match["id"]])
        return json_response(self.page(list(stored.values()), request))

    def page(self, items, request):
        items.sort(key=lambda item: item.get("created") or 0, reverse=True)
        after = request.args.get("starting_after")
        if after:
            ids = [item["id"] for item in items]
            items = items[ids.index(after) + 1:] if after in ids else []
        limit = int(request.args.get("limit", 10))
        return {"object": "list", "data": items[:limit], "has_more": len(items) > limit, "url": request.path}


# Objects that agree with our configuration, for stripe_check's passing case.

def account(account_id, *, charges_enabled=True):
    stripe_account = sample_events.fixture("account")
    stripe_account.update(id=account_id, charges_enabled=charges_enabled, default_currency="gbp", country="GB")
    return stripe_account


def catalogue_price(plan, price_id):
    """Return a price that matches a catalogue plan: amount, currency and interval."""
    price = sample_events.fixture("price")
    price.update(id=price_id, active=True, currency=plan.currency, unit_amount=plan.amount)
    price["unit_amount_decimal"] = str(plan.amount)
    interval = RECURRING_INTERVALS.get(plan.term)
    if interval is None:
        price.update(type="one_time", recurring=None)
    else:
        price["type"] = "recurring"
        price["recurring"].update(interval=interval, interval_count=1)
    return price


def webhook_endpoint(endpoint_id, *, enabled_events, api_version, url="https://orders.levqor.example/stripe/webhook/"):
    endpoint = sample_events.fixture("webhook_endpoint")
    endpoint.update(id=endpoint_id, enabled_events=list(enabled_events), api_version=api_version, url=url)
    return endpoint
