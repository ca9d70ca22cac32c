"""Serve the Stripe API double on 127.0.0.1 with objects that match this database's configuration.

For trying stripe_check by hand (docs/operations.md), with the same
LEVQOR_VAR_DIR or DATABASE_URL and SECRET_KEY as the commands:

    python -m tests.doubles.serve_stripe --port 12111

It prints the STRIPE_* variables to export, then serves until Ctrl+C.
"""

import argparse
import os
import re
import time

import django


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=12111, help="Port on 127.0.0.1 (default 12111).")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "levqor.settings")
    django.setup()

    from django.conf import settings

    from orders.models import Plan
    from orders.stripe_setup import ENABLED_EVENTS, legacy_webhook_url
    from tests.doubles.stripe_api import StripeDouble, account, catalogue_price, webhook_endpoint

    server = StripeDouble(host="127.0.0.1", port=args.port)
    server.expect_request(re.compile("/v1/.*")).respond_with_handler(server.answer)
    server.add(account(settings.STRIPE_ACCOUNT_ID))
    exports = {"STRIPE_API_BASE": f"http://127.0.0.1:{args.port}"}
    for plan in Plan.objects.filter(active=True):
        price_id = f"price_{plan.tier.lower().replace('_', '')}"
        server.add(catalogue_price(plan, price_id))
        exports[plan.price_setting_name] = price_id
    server.add(
        webhook_endpoint(
            settings.STRIPE_WEBHOOK_ENDPOINT_ID,
            enabled_events=ENABLED_EVENTS,
            api_version=settings.STRIPE_API_VERSION,
            url=legacy_webhook_url(),
        )
    )

    server.start()
    for name, value in exports.items():
        print(f"export {name}={value}", flush=True)
    print(f"Stripe API double on 127.0.0.1:{args.port}; Ctrl+C stops it.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
