"""Settings that build the soak database from the models, as the test suite does.

dj-stripe's migrations take about 100 s, so bench/soak.py runs
`migrate --run-syncdb` with these settings once, and then runs the server and
workers with the production settings on the tables it made.
"""

from levqor.settings import *  # noqa: F403


class DisableMigrations:
    """A MIGRATION_MODULES value that gives every app no migrations, so syncdb creates all tables."""

    def __contains__(self, app_label):
        return True

    def __getitem__(self, app_label):
        return None


MIGRATION_MODULES = DisableMigrations()
