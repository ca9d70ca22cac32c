"""stripe_check: the Stripe account, the price catalogue and the webhook endpoint, read through the adapter."""

import stripe
from django.conf import settings
from djstripe.models import WebhookEndpoint

from orders import stripe_api
from orders.models import Plan
from orders.money import format_amount
from orders.stripe_setup import ENABLED_EVENTS, legacy_webhook_url

from .report import Report

# Stripe's recurring interval for each catalogue term; None is a one-off price.
STRIPE_INTERVALS = {Plan.Term.ONE_OFF: None, Plan.Term.MONTHLY: "month", Plan.Term.YEARLY: "year"}


def mode_name():
    return "live" if settings.STRIPE_LIVE_MODE else "test"


def build_stripe_report():
    """Check the account, every configured price and the webhook endpoint; return the report."""
    report = Report(
        "stripe_check",
        "Stripe check",
        facts={
            "mode": mode_name(),
            "api_base": stripe.api_base,
            "pinned_api_version": settings.STRIPE_API_VERSION,
            "webhook_endpoint_id": settings.STRIPE_WEBHOOK_ENDPOINT_ID,
        },
    )
    if not check_key(report):
        return report

    try:
        check_account(report)
    except stripe_api.StripeAuthenticationFailed as exc:
        # Every later call would be rejected the same way.
        report.fail(
            "api_key",
            f"Stripe rejected the {mode_name()} secret key: {exc}",
            hint=f"Create a secret key in the Stripe dashboard (Developers > API keys) and set {key_setting_name()}.",
        )
        return report
    except stripe_api.StripeAPIError as exc:
        report.fail(
            "api",
            f"The Stripe API at {stripe.api_base} could not be reached: {exc}",
            hint="Check the network path to Stripe (or STRIPE_API_BASE) and run stripe_check again.",
        )
        return report

    check_prices(report)
    check_webhook_endpoint(report)
    return report


def key_setting_name():
    return "STRIPE_LIVE_SECRET_KEY" if settings.STRIPE_LIVE_MODE else "STRIPE_TEST_SECRET_KEY"


def check_key(report):
    """Report whether a secret key is configured for the mode in use; return False when none is."""
    key = stripe_api.api_key()
    if not key:
        report.fail(
            "api_key",
            f"No secret key for {mode_name()} mode.",
            hint=f"Set {key_setting_name()}, or unset STRIPE_LIVE_MODE to use the test key.",
        )
        return False

    if not settings.STRIPE_KEYS_CONFIGURED:
        report.warning(
            "api_key",
            "No Stripe key is configured: the local placeholder test key is in use.",
            hint="Set STRIPE_TEST_SECRET_KEY or STRIPE_LIVE_SECRET_KEY before going live.",
        )
    return True


def check_account(report):
    account = stripe_api.retrieve_account()
    report.facts["account"] = account.id
    report.ok("account", f"Account {account.id} reachable with the {mode_name()} key.")

    if account.id != settings.STRIPE_ACCOUNT_ID:
        report.warning(
            "account_id",
            f"STRIPE_ACCOUNT_ID is {settings.STRIPE_ACCOUNT_ID}, but the key belongs to {account.id}.",
            hint=f"Set STRIPE_ACCOUNT_ID={account.id} and run manage.py setup_webhook_endpoint.",
        )

    if account.get("charges_enabled"):
        report.ok("charges_enabled", "Charges are enabled.")
    elif settings.STRIPE_LIVE_MODE:
        report.fail(
            "charges_enabled",
            f"Charges are not enabled on account {account.id}, so live payments fail.",
            hint="Finish the account activation in the Stripe dashboard (Settings > Business).",
        )
    else:
        # Test mode takes payments before the account is activated.
        report.warning(
            "charges_enabled",
            f"Charges are not enabled on account {account.id}; test payments work, live payments will not.",
            hint="Finish the account activation in the Stripe dashboard before going live.",
        )


def check_prices(report):
    plans = list(Plan.objects.filter(active=True).order_by("mode", "amount"))
    plan_names = {plan.price_setting_name.removeprefix("STRIPE_PRICE_") for plan in plans}

    for name in sorted(set(settings.STRIPE_PRICE_IDS) - plan_names):
        report.warning(
            f"price {name}",
            f"STRIPE_PRICE_{name} matches no active catalogue plan, so nothing uses it.",
            hint="Check the variable name against the plan list in the admin, or remove it.",
        )

    for plan in plans:
        check_price(report, plan)


def check_price(report, plan):
    check = f"price {plan.price_setting_name.removeprefix('STRIPE_PRICE_')}"
    price_id = plan.stripe_price_id
    if not price_id:
        report.warning(
            check,
            f"{plan.price_setting_name} is not set for {plan.name}.",
            hint=f"Copy the price id of {plan.name} from the Stripe dashboard into {plan.price_setting_name}.",
        )
        return

    try:
        price = stripe_api.retrieve_price(price_id)
    except stripe_api.StripeObjectNotFound:
        report.fail(
            check,
            f"Price {price_id} does not exist in Stripe ({mode_name()} mode).",
            hint=f"Set {plan.price_setting_name} to a {mode_name()}-mode price id of {plan.name}.",
            price_id=price_id,
        )
        return
    except stripe_api.StripeAPIError as exc:
        report.fail(check, f"Price {price_id} could not be read: {exc}", price_id=price_id)
        return

    problems = price_problems(price, plan)
    if problems:
        report.fail(
            check,
            f"Price {price_id}: {'; '.join(problems)}.",
            hint=f"Point {plan.price_setting_name} at an active price that matches the catalogue, "
            "or correct the plan in the admin.",
            price_id=price_id,
        )
    else:
        report.ok(check, f"Price {price_id} matches {plan.name}: {plan.price_display} {describe_term(plan)}.")


def price_problems(price, plan):
    """Return how a Stripe price disagrees with a catalogue plan, as short phrases."""
    problems = []
    if not price.get("active"):
        problems.append("inactive")

    currency = (price.get("currency") or "").lower()
    if currency != plan.currency:
        problems.append(f"currency {currency.upper() or '(none)'}, expected {plan.currency.upper()}")
    elif price.get("unit_amount") != plan.amount:
        problems.append(
            f"amount {format_amount(price.get('unit_amount'), currency)}, expected {plan.price_display}"
        )

    recurring = price.get("recurring")
    interval = recurring.get("interval") if recurring else None
    interval_count = recurring.get("interval_count", 1) if recurring else None
    expected = STRIPE_INTERVALS.get(plan.term)
    if interval != expected or (expected and interval_count != 1):
        actual = f"every {interval_count} {interval}" if interval else "one-off"
        problems.append(f"billed {actual}, expected {describe_term(plan)}")
    return problems


def describe_term(plan):
    interval = STRIPE_INTERVALS.get(plan.term)
    return f"every {interval}" if interval else "one-off"


def check_webhook_endpoint(report):
    endpoint_id = settings.STRIPE_WEBHOOK_ENDPOINT_ID
    local = WebhookEndpoint.objects.filter(id=endpoint_id).first()
    if local is None:
        report.fail(
            "webhook_endpoint_row",
            f"Webhook endpoint {endpoint_id} is not set up in this database.",
            hint="Run manage.py setup_webhook_endpoint with STRIPE_WEBHOOK_SECRET set.",
        )

    try:
        remote = stripe_api.retrieve_webhook_endpoint(endpoint_id)
    except stripe_api.StripeObjectNotFound:
        report.fail(
            "webhook_endpoint",
            f"Stripe has no webhook endpoint {endpoint_id} in {mode_name()} mode.",
            hint="Set STRIPE_WEBHOOK_ENDPOINT_ID to the endpoint id (we_...) shown in the Stripe dashboard "
            "(Developers > Webhooks) and run manage.py setup_webhook_endpoint.",
        )
        return
    except stripe_api.StripeAPIError as exc:
        report.fail("webhook_endpoint", f"Webhook endpoint {endpoint_id} could not be read: {exc}")
        return

    check_endpoint_status(report, remote)
    check_endpoint_events(report, remote)
    check_endpoint_version(report, remote)
    if local is not None:
        check_endpoint_url(report, remote, local)


def check_endpoint_status(report, remote):
    if remote.get("status") == "enabled":
        report.ok("webhook_status", f"Webhook endpoint {remote.id} is enabled.")
    else:
        report.fail(
            "webhook_status",
            f"Webhook endpoint {remote.id} is {remote.get('status') or 'in an unknown state'}, so no events arrive.",
            hint="Enable the endpoint in the Stripe dashboard (Developers > Webhooks).",
        )


def check_endpoint_events(report, remote):
    enabled = set(remote.get("enabled_events") or [])
    missing = [event_type for event_type in ENABLED_EVENTS if event_type not in enabled]
    if "*" in enabled or not missing:
        report.ok("webhook_events", f"The endpoint sends {'every event' if '*' in enabled else ', '.join(ENABLED_EVENTS)}.")
    else:
        report.fail(
            "webhook_events",
            f"The endpoint does not send {', '.join(missing)}.",
            hint="Add these events to the endpoint in the Stripe dashboard.",
            missing=missing,
        )


def check_endpoint_version(report, remote):
    version = remote.get("api_version")
    if version == settings.STRIPE_API_VERSION:
        report.ok("webhook_api_version", f"The endpoint's API version is the pinned {version}.")
        return
    shown = version or "the account's default version"
    report.fail(
        "webhook_api_version",
        f"The endpoint sends events in {shown}, but the code parses {settings.STRIPE_API_VERSION}.",
        hint=f"Create a new endpoint with api_version {settings.STRIPE_API_VERSION} (Stripe sets an "
        "endpoint's version only when it is created; docs/deploy.md shows the call), then update "
        "STRIPE_WEBHOOK_ENDPOINT_ID and STRIPE_WEBHOOK_SECRET.",
    )


def check_endpoint_url(report, remote, local):
    accepted = {local.url, legacy_webhook_url()}
    if remote.get("url") in accepted:
        report.ok("webhook_url", f"Stripe sends to {remote.get('url')}.")
    else:
        report.warning(
            "webhook_url",
            f"Stripe sends to {remote.get('url')}, which is neither {local.url} nor {legacy_webhook_url()}.",
            hint="Check PUBLIC_BASE_URL, or change the endpoint URL in the Stripe dashboard.",
        )
