"""Shared fixtures: the webhook endpoint, signed deliveries, loopback doubles, worker and server processes."""

import importlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import stripe
from django.apps import apps as django_apps
from django.conf import settings
from django.db import connection
from django.test import Client
from pytest_httpserver.httpserver import METHOD_ALL

from orders import sample_events
from tests.doubles import telegram as telegram_double
from tests.doubles.resend import ResendDouble
from tests.doubles.stripe_api import StripeDouble
from tests.doubles.telegram import TelegramDouble
from tests.pgserver import ThrowawayPostgres

WEBHOOK_SECRET = "whsec_test_levqor_secret_for_tests"
BASE_DIR = Path(settings.BASE_DIR)
LEGACY_WEBHOOK_PATH = "/api/webhooks/stripe/checkout-completed"


@pytest.fixture(scope="session", autouse=True)
def expected_database_vendor():
    """Stop the run when LEVQOR_EXPECT_DATABASE names another database than DATABASE_URL gives.

    .ci/run sets it for its PostgreSQL run, so the PostgreSQL-only tests run
    there instead of being skipped.
    """
    expected = os.environ.get("LEVQOR_EXPECT_DATABASE")
    if expected and connection.vendor != expected:
        pytest.exit(f"LEVQOR_EXPECT_DATABASE={expected} but the tests run on {connection.vendor}: check DATABASE_URL.", 1)


# Plan catalogue

@pytest.fixture
def catalogue(db):
    """Seed the catalogue the data migration writes, since test tables are built without migrations."""
    migration = importlib.import_module("orders.migrations.0002_default_plan_catalogue")
    migration.add_default_plans(django_apps, None)


@pytest.fixture
def staff_groups(db):
    """Create the Operations and Viewer groups that levqor's data migration creates."""
    from levqor.staff_groups import sync_groups

    sync_groups(django_apps)


# Loopback doubles of the Stripe, Resend and Telegram APIs

def start_double(server_class, handler_path="", method=None):
    # Threaded, so a "slow" fault delays one request and not every other.
    server = server_class(host="127.0.0.1", port=0, threaded=True)
    matcher = re.compile(".*") if not handler_path else handler_path
    server.expect_request(matcher, method=method or METHOD_ALL).respond_with_handler(server.answer)
    server.start()
    return server


@pytest.fixture(scope="session")
def stripe_api_server():
    server = start_double(StripeDouble)
    previous_base = stripe.api_base
    stripe.api_base = server.url_for("").rstrip("/")
    yield server
    stripe.api_base = previous_base
    server.stop()


@pytest.fixture(autouse=True)
def stripe_api(stripe_api_server):
    """The Stripe API double, emptied for each test. Nothing in the webhook path may call it."""
    stripe_api_server.reset()
    return stripe_api_server


@pytest.fixture(scope="session")
def resend_api():
    server = start_double(ResendDouble, "/emails", "POST")
    yield server
    server.stop()


@pytest.fixture
def resend(resend_api):
    resend_api.reset()
    return resend_api


def resend_env(resend_server, **overrides):
    """Environment for a child process that sends through the Resend double."""
    return {"RESEND_API_KEY": "re_test_double", "RESEND_API_URL": resend_server.url_for("/"), **overrides}


@pytest.fixture
def resend_backend(settings, resend):
    """Send this process's emails through the Resend double, as the worker does in production."""
    settings.RESEND_API_KEY = "re_test_double"
    settings.EMAIL_BACKEND = "onboarding.resend_backend.EmailBackend"
    settings.ANYMAIL = {**settings.ANYMAIL, "RESEND_API_KEY": "re_test_double", "RESEND_API_URL": resend.url_for("/")}
    return resend


@pytest.fixture(scope="session")
def telegram_api():
    server = start_double(TelegramDouble)
    yield server
    server.stop()


@pytest.fixture
def telegram(telegram_api, settings):
    """The Telegram double, emptied, and configured as this process's staff alert channel."""
    telegram_api.reset()
    settings.TELEGRAM_BOT_TOKEN = telegram_double.TOKEN
    settings.TELEGRAM_CHAT_ID = telegram_double.CHAT_ID
    settings.TELEGRAM_API_BASE = telegram_api.url_for("").rstrip("/")
    settings.TELEGRAM_TIMEOUT = 2
    return telegram_api


def telegram_env(telegram_server):
    """Environment for a child process that alerts staff through the Telegram double."""
    return {
        "TELEGRAM_BOT_TOKEN": telegram_double.TOKEN,
        "TELEGRAM_CHAT_ID": telegram_double.CHAT_ID,
        "TELEGRAM_API_BASE": telegram_server.url_for("").rstrip("/"),
    }


# Webhook endpoint and signed deliveries

@pytest.fixture
def stripe_endpoint(db, catalogue):
    from orders.stripe_setup import configure_endpoint

    endpoint, _ = configure_endpoint(WEBHOOK_SECRET)
    return endpoint


class WebhookSender:
    """Signs events over their exact bytes and posts them through Django's full request stack."""

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.client = Client(HTTP_HOST="127.0.0.1", raise_request_exception=False)

    @property
    def path(self):
        return f"/stripe/webhook/{self.endpoint.djstripe_uuid}/"

    def post(self, stripe_event, *, secret=WEBHOOK_SECRET, timestamp=None, path=None, headers=None, payload=None):
        payload = sample_events.encode(stripe_event) if payload is None else payload
        extra = {"HTTP_STRIPE_SIGNATURE": sample_events.signature_header(payload, secret, timestamp)}
        extra.update(headers or {})
        return self.client.post(path or self.path, data=payload, content_type="application/json", **extra)


@pytest.fixture
def webhook(stripe_endpoint):
    return WebhookSender(stripe_endpoint)


def checkout_event(event_type="checkout.session.completed", event_id=None, **session_fields):
    """A checkout.session.* event for the base case: cs_test_A, DFY Starter, £99.00 paid."""
    return sample_events.event(event_type, sample_events.checkout_session(**session_fields), event_id=event_id)


# Processes: workers and servers started by tests

def database_url():
    """A DATABASE_URL for a child process that opens the test database this run created."""
    database = connection.settings_dict
    if database["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{database['NAME']}"
    return (
        f"postgres://{database['USER']}:{database['PASSWORD']}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 5432}/{database['NAME']}"
    )


def child_env(**overrides):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "levqor.settings",
        "DATABASE_URL": database_url(),
        "PYTHONUNBUFFERED": "1",
        "STRIPE_API_BASE": stripe.api_base,
    }
    env.update({key: str(value) for key, value in overrides.items()})
    return env


def manage(*args, env=None, timeout=120):
    return subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        cwd=BASE_DIR,
        env=env or child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def run_worker(transactional_db, resend):
    """Run django-tasks-db's worker until the queue is empty, sending through the Resend double."""

    def run(**env_overrides):
        env = child_env(**resend_env(resend, **env_overrides))
        result = manage("db_worker", "--batch", "--no-startup-delay", "--no-reload", env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        return result

    return run


class WorkerProcesses:
    """Long-running db_worker (and sweeper) processes, stopped and their output kept at the end of a test."""

    def __init__(self):
        self.processes = []
        self.outputs = []

    def start(self, *args, command="db_worker", **env_overrides):
        if command == "db_worker":
            args = ("--no-startup-delay", "--no-reload", "--interval", "0.1", *args)
        process = subprocess.Popen(
            [sys.executable, str(BASE_DIR / "manage.py"), command, *args],
            cwd=BASE_DIR,
            env=child_env(**env_overrides),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.processes.append(process)
        return process

    def stop(self):
        """Stop every process with SIGTERM; return their combined output."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                self.outputs.append(process.communicate(timeout=30)[0])
            except subprocess.TimeoutExpired:
                process.kill()
                self.outputs.append(process.communicate()[0])
        self.processes.clear()
        return "\n".join(self.outputs)


@pytest.fixture
def workers(transactional_db):
    processes = WorkerProcesses()
    yield processes
    processes.stop()


def wait_for(predicate, timeout=30, interval=0.1, message="condition"):
    """Poll predicate until it returns a true value; return that value or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"Timed out after {timeout} s waiting for {message}")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class GunicornServer:
    def __init__(self, process, port):
        self.process = process
        self.base_url = f"http://127.0.0.1:{port}"

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.communicate()


def wait_until_healthy(server, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited early: {server.process.communicate()}")
        try:
            with urllib.request.urlopen(server.base_url + "/api/webhooks/stripe/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not become healthy in time")


@pytest.fixture
def gunicorn(transactional_db):
    """Start gunicorn on 127.0.0.1 with the production settings and this run's test database."""
    servers = []

    def start(workers=2, **env_overrides):
        port = free_port()
        process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "levqor.wsgi",
                "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--timeout", "60", "--no-control-socket",
            ],
            cwd=BASE_DIR,
            env=child_env(**env_overrides),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        server = GunicornServer(process, port)
        servers.append(server)
        wait_until_healthy(server)
        return server

    yield start
    for server in servers:
        server.stop()


# A PostgreSQL server of the test's own, for the tests that stop the database

@pytest.fixture(scope="session")
def throwaway_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL to a PostgreSQL server (CI runs the suite on both)")

    server = ThrowawayPostgres(free_port())
    server.start()
    yield server
    server.remove()
