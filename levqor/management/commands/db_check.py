from django.core.management.base import CommandError

from levqor.operations.command import ReportCommand
from levqor.operations.db_report import DEGRADED, UNSTABLE, Thresholds, build_db_report, run_queries

# Runs at least this long show progress at verbosity 1.
PROGRESS_FROM_QUERIES = 100


class Command(ReportCommand):
    help = (
        "Run simple queries on fresh and reused database connections, report latency and errors, "
        "and classify the connection as STABLE, DEGRADED or UNSTABLE (exit 1 when UNSTABLE)."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--queries", type=int, default=50, help="Number of queries to run (default 50).")
        parser.add_argument(
            "--fresh-every",
            type=int,
            default=5,
            help="Open a new connection for every Nth query, to measure connecting (default 5; 0 never).",
        )
        parser.add_argument(
            "--interval", type=float, default=0.0, help="Seconds to wait between queries (default 0)."
        )
        parser.add_argument("--database", default="default", help="Database alias (default 'default').")
        parser.add_argument(
            "--degraded-p95-ms", type=float, default=Thresholds.degraded_p95_ms,
            help=f"p95 latency in ms above which the result is DEGRADED (default {Thresholds.degraded_p95_ms:g}).",
        )
        parser.add_argument(
            "--unstable-p95-ms", type=float, default=Thresholds.unstable_p95_ms,
            help=f"p95 latency in ms above which the result is UNSTABLE (default {Thresholds.unstable_p95_ms:g}).",
        )
        parser.add_argument(
            "--unstable-error-rate", type=float, default=Thresholds.unstable_error_rate,
            help="Share of failed queries (0 to 1) above which the result is UNSTABLE "
            f"(default {Thresholds.unstable_error_rate:g}).",
        )
        parser.add_argument(
            "--fail-on-degraded", action="store_true", help="Exit 1 for DEGRADED too, not only for UNSTABLE."
        )

    def build_report(self, *, queries, fresh_every, interval, database, verbosity, **options):
        if queries < 1:
            raise CommandError(f"--queries must be at least 1, not {queries}.")
        thresholds = Thresholds(
            degraded_p95_ms=options["degraded_p95_ms"],
            unstable_p95_ms=options["unstable_p95_ms"],
            unstable_error_rate=options["unstable_error_rate"],
        )
        show_progress = verbosity >= 2 or (verbosity >= 1 and queries >= PROGRESS_FROM_QUERIES)
        progress = self.progress_printer(queries) if show_progress else None
        samples = run_queries(queries, fresh_every=fresh_every, interval=interval, using=database, progress=progress)
        return build_db_report(samples, thresholds, using=database)

    def progress_printer(self, total):
        step = max(total // 10, 1)

        def progress(done, samples):
            if done % step == 0 or done == total:
                errors = sum(1 for sample in samples if sample.error)
                # stderr, so that --json output on stdout stays one document.
                self.stderr.write(f"db_check: {done}/{total} queries, {errors} errors")

        return progress

    def finish(self, report, *, fail_on_degraded, **options):
        if report.verdict == UNSTABLE or (fail_on_degraded and report.verdict == DEGRADED):
            raise CommandError(report.summary)
