#!/usr/bin/env python3
"""Time a fresh setup (migrate on an empty database, then the demo's steps before serving) and prove the fast path builds the same database.

For each database it builds two new, empty databases: one with
`manage.py migrate`, one with `manage.py setup_database` (levqor/fresh_schema.py:
dj-stripe's tables from its final migration state, then `migrate` for the
rest). It times both, each followed by the steps scripts/demo runs before it
serves (the webhook endpoint and the admin user), reports the slowest
migrations and the import time of django.setup(), and then compares the two
databases: the schema (normalised sqlite_master SQL and PRAGMA details on
SQLite, `pg_dump --schema-only` on PostgreSQL), the django_migrations rows,
and every row of every other table with times blanked out, before the demo steps.

    .venv/bin/python bench/fresh_setup.py                                  # SQLite files in a new folder
    .venv/bin/python bench/fresh_setup.py --database-url postgres://levqor:levqor@127.0.0.1:55432/levqor

With --database-url it creates and afterwards drops the databases
levqor_fresh_migrate and levqor_fresh_fast on that server. Exit status 0 means
the two databases were identical.
"""

import argparse
import difflib
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench import harness  # noqa: E402

APPLYING = re.compile(r"Applying (\S+)\.\.\.\s*OK \(([\d.]+)s\)")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?")
SCHEMA_FIXTURE = BASE_DIR / "tests" / "fixtures" / "schema" / "djstripe-sqlite.txt"
DEMO_STEPS = """
import time
started = time.perf_counter()
from django.contrib.auth import get_user_model
from orders.stripe_setup import configure_endpoint
configure_endpoint("whsec_fresh_setup_benchmark", "http://127.0.0.1:8000")
user, _ = get_user_model().objects.get_or_create(username="admin", defaults={"is_staff": True, "is_superuser": True})
user.set_password("fresh-setup-benchmark")
user.save()
print(f"demo steps {time.perf_counter() - started:.2f}")
"""


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL server URL (any database name). Default: SQLite files.")
    parser.add_argument("--work-dir", help="Folder for the SQLite files and logs. Default: a new temporary folder.")
    parser.add_argument("--keep", action="store_true", help="Keep the PostgreSQL databases afterwards.")
    parser.add_argument(
        "--write-fixture", action="store_true",
        help=f"SQLite only: write dj-stripe's tables as migrate built them to {SCHEMA_FIXTURE.relative_to(BASE_DIR)}.",
    )
    return parser.parse_args()


# Databases


def pg_arguments(url):
    parts = urllib.parse.urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("--database-url must point at 127.0.0.1, localhost or ::1.")
    return parts, {
        "host": parts.hostname, "port": parts.port or 5432,
        "user": urllib.parse.unquote(parts.username or ""), "password": urllib.parse.unquote(parts.password or ""),
    }


def recreate_pg_database(url, name):
    """Drop and create a database on the server of url; return its URL."""
    parts = run_on_server(url, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


def drop_pg_database(url, name):
    run_on_server(url, f'DROP DATABASE IF EXISTS "{name}"')


def run_on_server(url, *statements):
    """Run statements outside a transaction in the server's postgres database; return url's parts."""
    import psycopg2

    parts, arguments = pg_arguments(url)
    admin = psycopg2.connect(dbname="postgres", **arguments)
    admin.autocommit = True
    with admin.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    admin.close()
    return parts


def environment(database_url, work_dir, name):
    return harness.production_env(database_url, work_dir / name)


def run(command, env, log_path):
    """Run a command in the project folder; return (wall seconds, output). Exit on failure."""
    started = time.perf_counter()
    result = subprocess.run(command, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=1800)
    seconds = time.perf_counter() - started
    log_path.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: see {log_path}")
    return seconds, result.stdout + result.stderr


# Timing


def time_setup(label, setup_command, env, work_dir):
    setup_seconds, output = run([sys.executable, "manage.py", *setup_command, "-v", "2"], env, work_dir / f"{label}.log")
    migrations = sorted(((float(seconds), name) for name, seconds in APPLYING.findall(output)), reverse=True)
    return {"setup s": setup_seconds, "migrations": migrations}


def time_demo_steps(label, env, work_dir):
    """Run the steps scripts/demo takes after migrating and before serving; return their wall seconds."""
    seconds, _ = run([sys.executable, "manage.py", "shell", "-c", DEMO_STEPS], env, work_dir / f"{label}-demo.log")
    return seconds


def django_setup_import_ms(env, work_dir):
    """Return the cumulative import time of django.setup() in ms, from python -X importtime."""
    command = [sys.executable, "-X", "importtime", "-c", "import django; django.setup()"]
    _, output = run(command, env, work_dir / "importtime.log")
    total = 0
    for line in output.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)", line)
        if match and not match.group(2).startswith(" "):
            total += int(match.group(1))
    return total / 1000


# Comparison


def blank_times(value):
    return TIMESTAMP.sub("<time>", str(value)) if value is not None else None


def sqlite_dump(path):
    connection = sqlite3.connect(path)
    tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return sqlite_schema_lines(connection), table_rows(connection, tables, '"{}"')


def sqlite_schema_lines(connection, table_prefix=""):
    """Return the schema of the tables whose names start with table_prefix, one normalised line per item.

    Each sqlite_master row with its SQL on one line, then PRAGMA table_info,
    index_list and foreign_key_list of each table.
    """
    lines = []
    rows = connection.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE tbl_name LIKE ? ORDER BY type, name", (f"{table_prefix}%",)
    )
    tables = []
    for kind, name, table, sql in rows:
        lines.append(f"{kind} {name} on {table}: {' '.join((sql or '').split())}")
        if kind == "table":
            tables.append(table)
    for table in tables:
        for pragma in ("table_info", "index_list", "foreign_key_list"):
            for row in connection.execute(f'PRAGMA {pragma}("{table}")'):
                lines.append(f"{pragma} {table}: {row}")
    return lines


def pg_dump(url, bin_dir):
    command = [str(Path(bin_dir) / "pg_dump"), "--schema-only", "--no-owner", "--no-privileges", url]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    # pg_dump 15.18 (Debian 12) wraps the dump in \restrict and \unrestrict lines with a random key.
    skipped = ("--", "SET ", "SELECT pg_catalog", "\\restrict ", "\\unrestrict ")
    lines = [line for line in output.splitlines() if line.strip() and not line.startswith(skipped)]

    import psycopg2

    connection = psycopg2.connect(url)
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
        tables = [row[0] for row in cursor.fetchall()]
    rows = table_rows(connection, tables, '"{}"')
    connection.close()
    return lines, rows


def table_rows(connection, tables, quote):
    """Return every row of every table except django_migrations, as text lines with times blanked."""
    lines = []
    cursor = connection.cursor()
    for table in tables:
        if table == "django_migrations":
            continue
        cursor.execute(f"SELECT * FROM {quote.format(table)} ORDER BY 1")
        for row in cursor.fetchall():
            if table == "sqlite_sequence" and row[1] == 0:
                # SQLite's table rebuilds during migrate leave a counter of 0
                # where a table created once has none. Both give the next row
                # id max(rowid) + 1 (checked with SQLite 3.40), so
                # the comparison drops the zero rows.
                continue
            lines.append(f"{table}: {tuple(blank_times(value) for value in row)}")
    return lines


def applied_migrations(connection):
    cursor = connection.cursor()
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY id")
    return [f"{app}.{name}" for app, name in cursor.fetchall()]


def compare(label, first, second):
    """Return the problem lines when two dumps differ, after printing a short diff."""
    if first == second:
        print(f"  {label}: identical ({len(first)} lines)")
        return []
    diff = list(difflib.unified_diff(first, second, "migrate", "setup_database", lineterm="", n=0))
    print(f"  {label}: DIFFERENT, {len(diff)} diff lines; first 40:")
    for line in diff[:40]:
        print(f"    {line[:240]}")
    return [f"{label} differs"]


def report_timing(label, timing):
    total = timing["setup s"] + timing["demo steps s"]
    print(f"\n{label}: setup {timing['setup s']:.1f} s, demo steps {timing['demo steps s']:.1f} s, total {total:.1f} s")
    djstripe = sum(seconds for seconds, name in timing["migrations"] if name.startswith("djstripe."))
    everything = sum(seconds for seconds, _ in timing["migrations"])
    print(f"  migrations applied: {len(timing['migrations'])}, their own time {everything:.1f} s, dj-stripe's {djstripe:.1f} s")
    for seconds, name in timing["migrations"][:5]:
        print(f"    {name}: {seconds:.2f} s")


def main():
    args = parse_args()
    work_dir = Path(args.work_dir or tempfile.mkdtemp(prefix="levqor-fresh-")).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    postgres = bool(args.database_url)

    if postgres:
        urls = {name: recreate_pg_database(args.database_url, f"levqor_fresh_{name}") for name in ("migrate", "fast")}
    else:
        urls = {name: f"sqlite:///{work_dir / f'{name}.sqlite3'}" for name in ("migrate", "fast")}
        for name in urls:
            (work_dir / f"{name}.sqlite3").unlink(missing_ok=True)

    print(f"database: {'postgresql' if postgres else 'sqlite'}, work folder: {work_dir}")
    print(f"django.setup() imports: {django_setup_import_ms(environment(urls['migrate'], work_dir, 'migrate'), work_dir):.0f} ms")
    envs = {name: environment(url, work_dir, name) for name, url in urls.items()}
    timings = {
        "migrate": time_setup("migrate", ["migrate"], envs["migrate"], work_dir),
        "fast": time_setup("fast", ["setup_database"], envs["fast"], work_dir),
    }

    # The comparison runs before the demo steps, which store random values
    # (a password salt, dj-stripe's API key name) in each database.
    print("\ncomparison of the two databases:")
    if postgres:
        import psycopg2

        bin_dir = subprocess.run([str(BASE_DIR / "scripts/postgres"), "bin"], capture_output=True, text=True, check=True).stdout.strip()
        dumps = {name: pg_dump(url, bin_dir) for name, url in urls.items()}
        applied = {}
        for name, url in urls.items():
            connection = psycopg2.connect(url)
            applied[name] = applied_migrations(connection)
            connection.close()
    else:
        dumps = {name: sqlite_dump(work_dir / f"{name}.sqlite3") for name in urls}
        applied = {name: applied_migrations(sqlite3.connect(work_dir / f"{name}.sqlite3")) for name in urls}
        if args.write_fixture:
            lines = sqlite_schema_lines(sqlite3.connect(work_dir / "migrate.sqlite3"), "djstripe_")
            SCHEMA_FIXTURE.write_text("\n".join(lines) + "\n")
            print(f"  wrote {len(lines)} lines to {SCHEMA_FIXTURE}")

    problems = compare("schema", dumps["migrate"][0], dumps["fast"][0])
    problems += compare("django_migrations rows (app, name) as a set", sorted(applied["migrate"]), sorted(applied["fast"]))
    same_order = applied["migrate"] == applied["fast"]
    print(f"  django_migrations order: {'same' if same_order else 'different (dj-stripe is recorded before the rest)'}")
    problems += compare("data rows, times blanked", dumps["migrate"][1], dumps["fast"][1])

    for name, timing in timings.items():
        timing["demo steps s"] = time_demo_steps(name, envs[name], work_dir)
    report_timing("manage.py migrate", timings["migrate"])
    report_timing("manage.py setup_database", timings["fast"])

    if postgres and not args.keep:
        for name in urls:
            drop_pg_database(args.database_url, f"levqor_fresh_{name}")
    print("\nresult:", "IDENTICAL" if not problems else f"DIFFERENT: {problems}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
