"""A PostgreSQL server that a test owns: started, stopped and restarted with scripts/postgres.

The suite's own database server must never be stopped by a test, so the tests
that take the database away copy the test database into a server of their
own on another port.
"""

import os
import shutil
import subprocess
import urllib.parse
import uuid
from pathlib import Path

import psycopg2

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "postgres"


def run_script(command, env):
    result = subprocess.run([str(SCRIPT), command], env=env, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"scripts/postgres {command} failed ({result.returncode}): {result.stderr[-2000:]}")
    return result.stdout


def database_url_with_name(url, name):
    return urllib.parse.urlsplit(url)._replace(path=f"/{name}").geturl()


def connection_arguments(url):
    parts = urllib.parse.urlsplit(url)
    return {
        "host": parts.hostname,
        "port": parts.port or 5432,
        "user": urllib.parse.unquote(parts.username or ""),
        "password": urllib.parse.unquote(parts.password or ""),
        "dbname": parts.path.lstrip("/"),
    }


class ThrowawayPostgres:
    def __init__(self, port):
        # Not under pytest's tmp_path: as root the server runs as the postgres
        # user, who cannot enter root's private temporary folders.
        self.data_dir = f"/tmp/levqor-pg-throwaway-{uuid.uuid4().hex[:12]}"
        self.env = {**os.environ, "LEVQOR_PG_PORT": str(port), "LEVQOR_PG_DATA": self.data_dir}
        self.url = None
        self.bin_dir = None

    def start(self):
        output = run_script("start", self.env)
        self.url = output.strip().removeprefix("export DATABASE_URL=")
        self.bin_dir = Path(run_script("bin", self.env).strip())

    def stop(self):
        run_script("stop", self.env)

    def restart(self):
        self.stop()
        self.start()

    def remove(self):
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def copy_database(self, source_url, name):
        """Copy a database (schema and rows) from another server into a new database here; return its URL."""
        admin_url = database_url_with_name(self.url, "postgres")
        admin = psycopg2.connect(**connection_arguments(admin_url))
        try:
            admin.autocommit = True
            with admin.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            admin.close()

        target_url = database_url_with_name(self.url, name)
        source, target = connection_arguments(source_url), connection_arguments(target_url)
        dump = subprocess.run(
            [
                str(self.bin_dir / "pg_dump"), "--no-owner", "--no-privileges",
                "-h", source["host"], "-p", str(source["port"]), "-U", source["user"], source["dbname"],
            ],
            env={**os.environ, "PGPASSWORD": source["password"]},
            capture_output=True,
            check=True,
            timeout=120,
        )
        subprocess.run(
            [
                str(self.bin_dir / "psql"), "-q", "-v", "ON_ERROR_STOP=1",
                "-h", target["host"], "-p", str(target["port"]), "-U", target["user"], "-d", target["dbname"],
            ],
            input=dump.stdout,
            env={**os.environ, "PGPASSWORD": target["password"]},
            capture_output=True,
            check=True,
            timeout=120,
        )
        return target_url


def query(url, sql, params=()):
    """Run one statement on a fresh connection and return its rows (nothing is kept open)."""
    connection = psycopg2.connect(**connection_arguments(url))
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()
