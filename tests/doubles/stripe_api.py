"""A Stripe API double that responds with Stripe's own fixture objects."""

import fnmatch
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

# Query parameters every list accepts, and the filters each list supports. Stripe
# rejects any other parameter with 400 "Received unknown parameter", and so does the double.
PAGING_PARAMETERS = {"limit", "starting_after", "ending_before"}
LIST_FILTERS = {
    "checkout.session": {"created", "status", "customer", "payment_intent", "subscription"},
    "event": {"created", "type", "types", "delivery_success"},
}
MAX_LIMIT = 100
# created[gte]=..., types[0]=... and types[]=... become ("created", "gte") and ("types", "0").
BRACKETED = re.compile(r"^(?P<name>[a-z_]+)\[(?P<key>[a-z0-9]*)\]$")
COMPARISONS = {
    "gt": lambda value, bound: value > bound,
    "gte": lambda value, bound: value >= bound,
    "lt": lambda value, bound: value < bound,
    "lte": lambda value, bound: value <= bound,
}

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


class InvalidListRequest(ValueError):
    pass


class StripeDouble(RecordingServer):
    """Stores objects by type and id; GET returns them, lists filter and page like Stripe's.

    A key added to revoked_keys gets Stripe's 401 answer, as a rolled or deleted key does.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.objects = {}
        self.undelivered_event_ids = set()
        self.revoked_keys = set()

    def reset(self):
        super().reset()
        self.objects.clear()
        self.undelivered_event_ids.clear()
        self.revoked_keys.clear()

    def add(self, stripe_object):
        self.objects.setdefault(stripe_object["object"], {})[stripe_object["id"]] = stripe_object
        return stripe_object

    def add_event(self, stripe_event, *, delivered=True):
        """Store an event; delivered=False lists it under delivery_success=false."""
        if not delivered:
            self.undelivered_event_ids.add(stripe_event["id"])
        return self.add(stripe_event)

    def list_requests(self, path):
        return [request for request in self.requests() if request.path == path]

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

        try:
            items = self.filtered(object_type, list(stored.values()), request.args)
            return json_response(self.page(items, request))
        except InvalidListRequest as exc:
            return stripe_error(str(exc), 400)

    def filtered(self, object_type, items, args):
        filters = {}
        for raw_name, value in args.items(multi=True):
            bracketed = BRACKETED.match(raw_name)
            name, key = (bracketed["name"], bracketed["key"]) if bracketed else (raw_name, None)
            if name in PAGING_PARAMETERS:
                continue
            if name not in LIST_FILTERS.get(object_type, set()):
                raise InvalidListRequest(f"Received unknown parameter: {raw_name}")
            filters.setdefault(name, []).append((key, value))

        for name, values in filters.items():
            items = [item for item in items if self.matches(name, values, item)]
        return items

    def matches(self, name, values, item):
        if name == "created":
            for key, bound in values:
                if key not in COMPARISONS:
                    raise InvalidListRequest(f"Invalid created filter: created[{key}]")
                if not COMPARISONS[key](item.get("created") or 0, int(bound)):
                    return False
            return True
        if name == "types":
            return item.get("type") in {value for _, value in values}
        if name == "type":
            return fnmatch.fnmatchcase(item.get("type", ""), values[-1][1])
        if name == "delivery_success":
            delivered = item["id"] not in self.undelivered_event_ids
            return delivered == (values[-1][1] == "true")
        return item.get(name) == values[-1][1]

    def page(self, items, request):
        limit = int(request.args.get("limit", 10))
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidListRequest(f"Invalid limit: must be between 1 and {MAX_LIMIT}.")

        items.sort(key=lambda item: item.get("created") or 0, reverse=True)
        after = request.args.get("starting_after")
        if after:
            ids = [item["id"] for item in items]
            items = items[ids.index(after) + 1:] if after in ids else []
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
