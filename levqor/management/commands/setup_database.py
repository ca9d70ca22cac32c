"""Bring the database up to date, quickly on an empty one."""

import time

from django.core.management.base import BaseCommand

from levqor import fresh_schema


class Command(BaseCommand):
    help = (
        "Apply every migration, like migrate. On an empty database, with the Django and dj-stripe versions "
        "whose result was proven identical to migrate's, dj-stripe's tables are created from its final "
        "migration state instead of replaying its 0002 migration, which takes about two minutes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default", help="Database alias (default: default).")

    def handle(self, *args, database, verbosity, **options):
        started = time.perf_counter()
        fast = fresh_schema.build(database, verbosity=verbosity, stdout=self.stdout)
        how = "dj-stripe's tables from its migration state, then migrate" if fast else "migrate"
        if verbosity:
            self.stdout.write(f"Database ready in {time.perf_counter() - started:.1f} s ({how}).")
