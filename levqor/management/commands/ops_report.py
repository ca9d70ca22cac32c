from django.utils import timezone

from levqor.operations.command import ReportCommand
from levqor.operations.monitoring import Rules, build_ops_report


class Command(ReportCommand):
    help = (
        "Report webhook and email failure rates, the outbox backlog, order volume, orders waiting for "
        "review and the time since the last webhook; alert staff once when a condition starts and once "
        "when it clears. Exits 1 while any condition is active. Suitable for cron."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        defaults = Rules()
        parser.add_argument(
            "--no-alerts",
            action="store_true",
            help="Only report: leave the alert state unchanged and send no alert.",
        )
        parser.add_argument(
            "--webhook-failure-rate", type=float, default=defaults.webhook_failure_rate,
            help=f"Alert above this share (0 to 1) of failed webhook requests in the last hour "
            f"(default {defaults.webhook_failure_rate:g}).",
        )
        parser.add_argument(
            "--email-failure-rate", type=float, default=defaults.email_failure_rate,
            help=f"Alert above this share (0 to 1) of failed emails in the last day "
            f"(default {defaults.email_failure_rate:g}).",
        )
        parser.add_argument(
            "--outbox-max-delay", type=int, default=defaults.outbox_max_delay_minutes,
            help=f"Minutes an email may be due without being sent (default {defaults.outbox_max_delay_minutes}).",
        )
        parser.add_argument(
            "--needs-review-hours", type=int, default=defaults.needs_review_max_hours,
            help=f"Hours an order may wait in needs_review (default {defaults.needs_review_max_hours}).",
        )
        parser.add_argument(
            "--webhook-silence-hours", type=int, default=defaults.webhook_silence_hours,
            help=f"Hours without any webhook before alerting (default {defaults.webhook_silence_hours}).",
        )

    def build_report(self, *, no_alerts, **options):
        rules = Rules(
            webhook_failure_rate=options["webhook_failure_rate"],
            email_failure_rate=options["email_failure_rate"],
            outbox_max_delay_minutes=options["outbox_max_delay"],
            needs_review_max_hours=options["needs_review_hours"],
            webhook_silence_hours=options["webhook_silence_hours"],
        )
        return build_ops_report(timezone.now(), rules, send_alerts=not no_alerts)
