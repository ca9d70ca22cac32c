"""Base class of the operator commands: text or JSON output, and a non-zero exit on failure."""

import json

from django.core.management.base import BaseCommand, CommandError

from .report import render_text


class ReportCommand(BaseCommand):
    # The checks must run when the configuration is broken, which is when
    # operators need them, so Django's system checks do not gate them.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the report as one JSON document.")

    def build_report(self, **options):
        raise NotImplementedError

    def handle(self, *args, **options):
        report = self.build_report(**options)
        self.write_report(report, as_json=options["json"], verbosity=options["verbosity"])
        self.finish(report, **options)

    def write_report(self, report, *, as_json, verbosity):
        if as_json:
            self.stdout.write(json.dumps(report.as_dict(), indent=2, default=str))
            return
        for line in render_text(report, verbosity):
            self.stdout.write(line)

    def finish(self, report, **options):
        """Raise CommandError with the summary line when the report has a failure."""
        if report.failed:
            raise CommandError(report.summary)
