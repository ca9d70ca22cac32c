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
from tests.doubles.resend import ResendDouble
from tests.doubles.stripe_api import StripeDouble
from tests.pgserver import ThrowawayPostgres

WEBHOOK_SECRET = "whsec_test_levqor_secret_for_tests"
BASE_DIR = Path(settings.BASE_DIR)
LEGACY_WEBHOOK_PATH = "/api/webhooks/stripe/checkout-completed"


def pytest_sessionstart(session):
    """Stop at once when CI asked for one database (LEVQOR_REQUIRE_DATABASE) and DATABASE_URL gave another."""
    required = os.environ.get("LEVQOR_REQUIRE_DATABASE")
    if required and required != connection.vendor:
        pytest.exit(
            f"LEVQOR_REQUIRE_DATABASE is {required}, but DATABASE_URL selects {connection.vendor}.",
            returncode=1,
        )


# Plan catalogue

@pytest.fixture
def catalogue(db):
    """Seed the catalogue the data migration writes, since test tables are built without migrations."""
    migration = importlib.import_module("orders.migrations.0002_default_plan_catalogue")
    migration.add_default_plans(django_apps, None)


# Loopback doubles of the Stripe and Resend APIs

def start_double(server_class, handler_path="", method=None):
    server = server_class(host="127.0.0.1", port=0)
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
        env = child_env(**{"RESEND_API_KEY": "re_test_double", "RESEND_API_URL": resend.url_for("/"), **env_overrides})
        result = manage("db_worker", "--batch", "--no-startup-delay", "--no-reload", env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        return result

    return run


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
                "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--timeout", "60",
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
