import json

from django.core.management.base import BaseCommand, CommandError

from orders import reconciliation, stripe_api
from orders.tasks import schedule_reconciliation


class Command(BaseCommand):
    help = (
        "Ask Stripe for the Checkout Sessions completed since --since and for checkout.session.* events "
        "whose webhook delivery failed, fulfil every paid session that has no order, and report what was "
        "fixed. Safe to run at any time: a second run changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--since",
            default="3d",
            help="How far back to look: a number with d (days), h (hours) or m (minutes); at most 30d. Default 3d.",
        )
        parser.add_argument("--json", dest="as_json", action="store_true", help="Print the report as JSON on standard output.")
        parser.add_argument(
            "--schedule",
            action="store_true",
            help=(
                "Do not reconcile now: enqueue the periodic task that reconciles every --every "
                "(run by manage.py db_worker). A waiting run with the same settings is kept, "
                "one with other settings is replaced."
            ),
        )
        parser.add_argument("--every", default="1h", help="With --schedule: the interval, in the units of --since. Default 1h.")

    def handle(self, *args, since, as_json, schedule, every, verbosity, **options):
        try:
            lookback = reconciliation.parse_duration(since)
            reconciliation.check_lookback(lookback)
            interval = reconciliation.parse_duration(every, option="--every")
        except reconciliation.InvalidLookback as exc:
            raise CommandError(str(exc)) from exc

        if schedule:
            self.schedule(lookback, interval, verbosity)
            return

        try:
            report = reconciliation.reconcile(lookback)
        except stripe_api.StripeUnavailable as exc:
            raise CommandError(
                f"Could not list Checkout Sessions and events from Stripe: {exc}. Nothing was changed; "
                "run again when the Stripe API is reachable."
            ) from exc
        except stripe_api.StripeRejected as exc:
            raise CommandError(
                f"Stripe rejected the list request: {exc}. Nothing was changed; check STRIPE_TEST_SECRET_KEY "
                "or STRIPE_LIVE_SECRET_KEY and the key's permissions."
            ) from exc

        if as_json:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
        elif verbosity >= 1:
            self.print_report(report, verbosity)

        if not report.ok:
            failed = ", ".join(item.stripe_id for item in report.failures)
            raise CommandError(f"{len(report.failures)} sessions or events could not be reconciled: {failed}.")

    def schedule(self, lookback, interval, verbosity):
        result = schedule_reconciliation(int(lookback.total_seconds()), int(interval.total_seconds()), replace=True)
        if verbosity < 1:
            return
        if result is None:
            self.stdout.write("A periodic reconciliation task with these settings is already queued; nothing was added.")
        else:
            self.stdout.write(
                f"Queued periodic reconciliation task {result.id}: it runs now and then every {interval}, "
                "while manage.py db_worker runs."
            )

    def print_report(self, report, verbosity):
        for item in report.items:
            if item.result in reconciliation.FIXED_RESULTS or item.result == "failed" or verbosity >= 2:
                self.stdout.write(describe(item))

        self.stdout.write(
            f"Checked {report.sessions_checked} completed sessions and {report.events_checked} undelivered "
            f"events since {report.since:%Y-%m-%d %H:%M} UTC: {report.count('created')} orders created, "
            f"{report.count('updated')} updated, {report.count('already_fulfilled')} already fulfilled, "
            f"{report.count('not_paid')} not paid yet, {report.count('invalid')} invalid, "
            f"{report.count('failed')} failed; {report.unmatched_events_applied} unmatched lifecycle events applied."
        )


def describe(item):
    if item.result in reconciliation.FIXED_RESULTS:
        return f"{item.result.capitalize()} order {item.order} ({item.status}) for session {item.session_id} from {item.stripe_id}."

    words = [f"{item.stripe_id}:", item.result.replace("_", " ")]
    if item.order:
        words.append(f"by {item.order} ({item.status})")
    if item.detail:
        words.append(f"({item.detail})")
    return " ".join(words) + "."
