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
}
# Collections with a slash are listed first: an id such as cus_mirror is
# lower case too and must not be read as a second path segment.
PATH = re.compile(r"^/v1/(?P<collection>checkout/sessions|[a-z_]+)(?:/(?P<id>[A-Za-z0-9_]+))?$")


def stripe_error(message, status, error_type="invalid_request_error"):
    return json_response({"error": {"type": error_type, "message": message}}, status)


class StripeDouble(RecordingServer):
    """Stores objects by type and id; GET returns them, lists page with limit and starting_after."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.objects = {}

    def reset(self):
        super().reset()
        self.objects.clear()

    def add(self, stripe_object):
        self.objects.setdefault(stripe_object["object"], {})[stripe_object["id"]] = stripe_object
        return stripe_object

    def answer(self, request):
        fault = self.next_fault()
        if fault is not None:
            return fault

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
