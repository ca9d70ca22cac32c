"""Real database faults, injected with triggers, for the rollback and retry cases."""

import contextlib

from django.db import connection

FAULT_MESSAGE = "injected fault"


def _create_trigger(name, table, condition):
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            when = f"WHEN {condition}" if condition else ""
            cursor.execute(
                f"CREATE TRIGGER {name} BEFORE INSERT ON {table} {when} "
                f"BEGIN SELECT RAISE(ABORT, '{FAULT_MESSAGE}'); END"
            )
        else:
            cursor.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger AS $$ "
                f"BEGIN RAISE EXCEPTION '{FAULT_MESSAGE}'; END $$ LANGUAGE plpgsql"
            )
            when = f"WHEN ({condition})" if condition else ""
            cursor.execute(f"CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW {when} EXECUTE FUNCTION {name}()")


def _drop_trigger(name, table):
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
        else:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            cursor.execute(f"DROP FUNCTION IF EXISTS {name}()")


@contextlib.contextmanager
def failing_inserts(table, condition=""):
    """Make every INSERT into a table fail (or those where condition holds, e.g. "NEW.kind = 'x'")."""
    name = f"levqor_test_fault_{table}"
    _create_trigger(name, table, condition)
    try:
        yield
    finally:
        _drop_trigger(name, table)
