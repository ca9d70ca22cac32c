"""db_check on the test database: SQLite by default, PostgreSQL with DATABASE_URL."""

import json
import os
import subprocess
import sys
import time

import psycopg2
import pytest
from django.db import connection

from tests.conftest import BASE_DIR, child_env, free_port, manage
from tests.reports import run_command

ON_POSTGRESQL = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


@pytest.fixture
def persistent_connections(transactional_db, monkeypatch):
    """The connection settings of DATABASE_URL (kept 600 s, health-checked), whatever this run's database."""
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 600)
    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", True)
    connection.close()


def run_db_check(*args, **options):
    return run_command("db_check", *args, **options)


def test_db_check_stable(persistent_connections):
    stdout, _, error = run_db_check("--queries", "30", "--json")

    assert error is None
    report = json.loads(stdout)
    assert report["verdict"] == "STABLE"
    facts = report["facts"]
    assert facts["queries"] == 30
    assert facts["fresh_connections"] == 6
    assert facts["reused_connections"] == 24
    assert facts["errors"] == 0
    assert facts["reconnects"] == 0
    assert facts["CONN_MAX_AGE"] == 600
    assert facts["CONN_HEALTH_CHECKS"] is True
    latency = facts["latency_ms"]
    assert latency["count"] == 30
    assert 0 <= latency["min"] <= latency["median"] <= latency["p95"] <= latency["max"]
    assert facts["fresh_latency_ms"]["count"] == 6
    assert "UNSTABLE" in facts["thresholds"]


def test_db_check_text_report_and_progress(persistent_connections):
    stdout, stderr, error = run_db_check("--queries", "100")

    assert error is None
    assert "CONN_MAX_AGE: 600" in stdout
    assert "CONN_HEALTH_CHECKS: True" in stdout
    assert "thresholds: UNSTABLE when the error rate is above 1%" in stdout
    assert stdout.strip().splitlines()[-1].startswith("db_check: STABLE")
    assert "db_check: 10/100 queries, 0 errors" in stderr
    assert "db_check: 100/100 queries, 0 errors" in stderr


def test_db_check_verbosity(persistent_connections):
    short_stdout, short_stderr, _ = run_db_check("--queries", "20")
    quiet_stdout, quiet_stderr, _ = run_db_check("--queries", "100", verbosity=0)
    detailed_stdout, detailed_stderr, _ = run_db_check("--queries", "20", verbosity=2)

    assert short_stderr == ""
    assert quiet_stderr == ""
    assert quiet_stdout.strip().splitlines() == ["db_check: STABLE (0 failed, 0 warnings, 2 passed)"]
    assert "db_check: 2/20 queries, 0 errors" in detailed_stderr
    assert "CONN_MAX_AGE: 600" in short_stdout


def test_db_check_latency_threshold_fails(persistent_connections):
    stdout, _, error = run_db_check("--queries", "5", "--unstable-p95-ms", "0", "--json")

    assert str(error).startswith("db_check: UNSTABLE")
    assert json.loads(stdout)["verdict"] == "UNSTABLE"


def test_db_check_degraded_exit_status(persistent_connections):
    _, _, passing = run_db_check("--queries", "5", "--degraded-p95-ms", "0")
    stdout, _, failing = run_db_check("--queries", "5", "--degraded-p95-ms", "0", "--fail-on-degraded", "--json")

    assert passing is None
    assert json.loads(stdout)["verdict"] == "DEGRADED"
    assert str(failing).startswith("db_check: DEGRADED")


def test_db_check_unreachable_database():
    env = child_env(DATABASE_URL=f"postgres://levqor:unused@127.0.0.1:{free_port()}/levqor")

    result = manage("db_check", "--json", "--queries", "4", env=env)

    assert result.returncode == 1
    assert "CommandError: db_check: UNSTABLE" in result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "UNSTABLE"
    assert report["facts"]["errors"] == 4
    assert "every query failed" in report["findings"][0]["message"]
    assert "OperationalError" in report["findings"][1]["message"]


# Terminated connections: pg_terminate_backend from a second connection.

def own_backend_pid():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def terminate_idle_backends(admin, exclude, times, pause=0.6, timeout=20):
    """Terminate the subprocess's backend `times` times, pausing between; return how many it terminated.

    Only a backend idle after one of db_check's queries is terminated, so the
    connection drops between rounds, not between connecting and the first query.
    """
    terminated = 0
    deadline = time.monotonic() + timeout
    while terminated < times and time.monotonic() < deadline:
        with admin.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> %s "
                "AND state = 'idle' AND backend_type = 'client backend' AND query = 'SELECT 1'",
                [exclude],
            )
            if cursor.fetchall():
                terminated += 1
                time.sleep(pause)
                continue
        time.sleep(0.02)
    return terminated


def run_with_terminations(health_checks):
    """Run db_check for about 4 s while a second connection terminates its backend twice."""
    settings_dict = connection.settings_dict
    admin = psycopg2.connect(
        dbname=settings_dict["NAME"],
        user=settings_dict["USER"],
        password=settings_dict["PASSWORD"],
        host=settings_dict["HOST"],
        port=settings_dict["PORT"],
    )
    admin.autocommit = True
    process = subprocess.Popen(
        [
            sys.executable, str(BASE_DIR / "manage.py"), "db_check", "--json",
            "--queries", "80", "--interval", "0.05", "--fresh-every", "0",
        ],
        cwd=BASE_DIR,
        env=child_env(CONN_HEALTH_CHECKS="1" if health_checks else "0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        terminated = terminate_idle_backends(admin, exclude=own_backend_pid(), times=2)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        admin.close()
        if process.poll() is None:
            process.kill()
    return terminated, process.returncode, json.loads(stdout), stderr


needs_postgresql = pytest.mark.skipif(
    not ON_POSTGRESQL,
    reason="pg_terminate_backend needs PostgreSQL: run the suite with DATABASE_URL=postgres://... "
    "(eval \"$(scripts/postgres start)\")",
)


@needs_postgresql
def test_db_check_recovers_with_health_checks(transactional_db):
    terminated, returncode, report, stderr = run_with_terminations(health_checks=True)

    assert terminated == 2
    assert returncode == 0, json.dumps(report["findings"])
    assert report["facts"]["errors"] == 0
    assert report["facts"]["reconnects"] == 2
    assert report["verdict"] == "DEGRADED"
    assert "2 dropped connections were replaced by the health check" in report["findings"][0]["message"]


@needs_postgresql
def test_db_check_counts_errors_without_health_checks(transactional_db):
    terminated, returncode, report, stderr = run_with_terminations(health_checks=False)

    assert terminated == 2
    assert returncode == 1
    assert report["facts"]["errors"] == 2
    assert report["facts"]["CONN_HEALTH_CHECKS"] is False
    assert report["verdict"] == "UNSTABLE"
    stability = report["findings"][0]
    assert "error rate 2.5% is above 1%" in stability["message"]
    # close_old_connections() replaced the broken connection, so the run ended on a working one.
    assert "the last query failed" not in stability["message"]
    assert stability["hint"].startswith("Set CONN_HEALTH_CHECKS=1")
    assert "CommandError: db_check: UNSTABLE" in stderr
