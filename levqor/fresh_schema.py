"""Build dj-stripe's tables on an empty database from its final migration state, then migrate the rest.

On an empty database, `migrate` spends about 90% of its time in dj-stripe
2.11's migration 0002_2_10 (measured with cProfile by bench/fresh_setup.py).
Each of its 514 RemoveField operations makes Django render dj-stripe's
related model states again, about 48 models per removed field. The SQL they
run takes a few seconds. The final state of those migrations does not depend
on the path to it. So on an empty database this module renders that state
once and creates dj-stripe's tables from it with Django's own schema editor.
It then records dj-stripe's migrations as applied and leaves every other
migration, our data migrations included, to `migrate`.

bench/fresh_setup.py compares the schema, the django_migrations rows and
the data this builds with what `migrate` builds, on SQLite and PostgreSQL.
That proof holds for the Django and dj-stripe versions it ran with, so
build() falls back to `migrate` for any other pair (PROVEN_VERSIONS).
"""

import logging
from importlib.metadata import version

import django
from django.core.management import call_command
from django.db import connections
from django.db.migrations.executor import MigrationExecutor

logger = logging.getLogger(__name__)

APP_LABEL = "djstripe"
# (Django, dj-stripe) versions for which bench/fresh_setup.py showed the
# result identical to `migrate`, on SQLite and on PostgreSQL.
PROVEN_VERSIONS = {("5.2.19", "2.11.0")}


class NotEmpty(Exception):
    """The database already has tables, so only `migrate` may change it."""


def fast_path_available():
    return (django.get_version(), version("dj-stripe")) in PROVEN_VERSIONS


def build(database="default", verbosity=1, stdout=None):
    """Bring the database up to date; use the fast path when it is empty and the versions are proven.

    Returns True when the fast path ran, False when `migrate` did all the work.
    """
    connection = connections[database]
    empty = not connection.introspection.table_names()
    if not (empty and fast_path_available()):
        call_command("migrate", database=database, interactive=False, verbosity=verbosity, stdout=stdout)
        return False

    create_djstripe_tables(database)
    call_command("migrate", database=database, interactive=False, verbosity=verbosity, stdout=stdout)
    return True


def create_djstripe_tables(database="default"):
    """On an empty database: migrate dj-stripe's dependencies, create its tables, record its migrations."""
    connection = connections[database]
    if connection.introspection.table_names():
        raise NotEmpty(f"Database {connection.settings_dict['NAME']} already has tables: run migrate instead.")

    executor = MigrationExecutor(connection)
    graph = executor.loader.graph
    leaf = graph.leaf_nodes(APP_LABEL)[0]
    plan = graph.forwards_plan(leaf)
    own = [key for key in plan if key[0] == APP_LABEL]
    dependencies = [key for key in plan if key[0] != APP_LABEL]

    # auth and contenttypes first, with their own migrations, because
    # dj-stripe's customer table refers to the user model.
    targets = {app_label: (app_label, name) for app_label, name in dependencies}
    executor.migrate(list(targets.values()))

    state = executor.loader.project_state(leaf, at_end=True)
    models = state.apps.get_app_config(APP_LABEL).get_models()
    with connection.schema_editor() as editor:
        for model in models:
            editor.create_model(model)
    for app_label, name in own:
        executor.recorder.record_applied(app_label, name)
    logger.info("Created dj-stripe's tables from migration state %s and recorded %s migrations", leaf[1], len(own))
