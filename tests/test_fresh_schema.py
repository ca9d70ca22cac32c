"""The fast setup of an empty database: dj-stripe's tables from its migration state, the rest by migrate."""

import sqlite3
from pathlib import Path

import pytest

from bench.fresh_setup import sqlite_schema_lines
from levqor import fresh_schema
from tests.conftest import child_env, manage

# dj-stripe's tables as `manage.py migrate` built them on an empty SQLite
# database with dj-stripe 2.11.0 and Django 5.2.19 (bench/fresh_setup.py
# --write-fixture writes it again after an upgrade).
MIGRATE_SCHEMA = Path(__file__).parent / "fixtures" / "schema" / "djstripe-sqlite.txt"


@pytest.mark.django_db
def test_fast_path_rejects_database_with_tables():
    with pytest.raises(fresh_schema.NotEmpty):
        fresh_schema.create_djstripe_tables()


def test_unproven_versions_use_migrate(monkeypatch):
    assert fresh_schema.fast_path_available()
    monkeypatch.setattr(fresh_schema, "PROVEN_VERSIONS", set())
    assert not fresh_schema.fast_path_available()


def test_setup_database_builds_migrate_schema(tmp_path):
    database = tmp_path / "fresh.sqlite3"
    env = child_env(DATABASE_URL=f"sqlite:///{database}", LEVQOR_VAR_DIR=tmp_path / "var", LOG_LEVEL="WARNING")

    result = manage("setup_database", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "dj-stripe's tables from its migration state" in result.stdout

    # No migration is left unapplied, and no model differs from the migrations.
    assert manage("migrate", "--check", env=env).returncode == 0
    assert manage("makemigrations", "--check", "--dry-run", env=env).returncode == 0
    assert sqlite_schema_lines(sqlite3.connect(database), "djstripe_") == MIGRATE_SCHEMA.read_text().splitlines()
    plans = sqlite3.connect(database).execute("SELECT count(*) FROM orders_plan").fetchone()[0]
    assert plans == 11
