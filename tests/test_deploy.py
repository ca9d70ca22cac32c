"""Deployment: system checks, `check --deploy` with the documented production environment, gunicorn.conf.py and static files."""

import re
import secrets
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from django.core import checks

from levqor import checks as levqor_checks
from tests.conftest import BASE_DIR, GunicornServer, child_env, free_port, manage, wait_until_healthy

PRODUCTION_ENV_FILE = BASE_DIR / "docs" / "production.env"
LIVE_KEY = "sk_live_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3"
TEST_KEY = "sk_test_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3"


def check_ids(messages):
    return [message.id for message in messages]


# System checks, one function at a time

def test_debug_with_live_key_check(settings):
    settings.DEBUG = True
    settings.STRIPE_LIVE_SECRET_KEY = LIVE_KEY

    assert check_ids(levqor_checks.check_debug_with_live_keys()) == ["levqor.E003"]

    settings.DEBUG = False
    assert levqor_checks.check_debug_with_live_keys() == []


def test_missing_key_check_in_production(settings):
    settings.ENVIRONMENT = "production"
    settings.STRIPE_KEYS_CONFIGURED = False

    messages = levqor_checks.check_stripe_keys()

    assert check_ids(messages) == ["levqor.E004"]
    assert messages[0].msg == "STRIPE_TEST_SECRET_KEY is empty, so no Stripe API call can succeed."
    assert "Developers > API keys" in messages[0].hint

    settings.ENVIRONMENT = "development"
    assert levqor_checks.check_stripe_keys() == []


def test_missing_live_key_in_live_mode(settings):
    settings.ENVIRONMENT = "production"
    settings.STRIPE_KEYS_CONFIGURED = True
    settings.STRIPE_TEST_SECRET_KEY = TEST_KEY
    settings.STRIPE_LIVE_MODE = True
    settings.STRIPE_LIVE_SECRET_KEY = ""

    messages = levqor_checks.check_stripe_keys()

    assert check_ids(messages) == ["levqor.E004"]
    assert messages[0].msg.startswith("STRIPE_LIVE_SECRET_KEY is empty")


@pytest.mark.parametrize(
    ("test_key", "live_key", "problem"),
    [
        ("sk_test_short", "", "STRIPE_TEST_SECRET_KEY is not a Stripe secret key"),
        ("pk_test_a1B2c3D4e5F6g7H8i9J0k1L2m3", "", "STRIPE_TEST_SECRET_KEY is a publishable key"),
        (LIVE_KEY, "", "STRIPE_TEST_SECRET_KEY is a live-mode key"),
        (TEST_KEY, TEST_KEY, "STRIPE_LIVE_SECRET_KEY is a test-mode key"),
    ],
)
def test_malformed_key_check(settings, test_key, live_key, problem):
    settings.STRIPE_TEST_SECRET_KEY = test_key
    settings.STRIPE_LIVE_SECRET_KEY = live_key

    messages = levqor_checks.check_stripe_keys()

    assert check_ids(messages) == ["levqor.E005"]
    assert messages[0].msg.startswith(problem)
    assert test_key not in messages[0].msg


def test_restricted_keys_are_accepted(settings):
    settings.STRIPE_TEST_SECRET_KEY = "rk_test_a1B2c3D4e5F6g7H8i9J0k1L2m3"
    settings.STRIPE_LIVE_SECRET_KEY = "rk_live_a1B2c3D4e5F6g7H8i9J0k1L2m3"

    assert levqor_checks.check_stripe_keys() == []


def test_webhook_secret_format_check(settings):
    settings.STRIPE_WEBHOOK_SECRET = "sk_test_pasted_the_wrong_value"
    assert check_ids(levqor_checks.check_webhook_secret_format()) == ["levqor.E006"]

    settings.STRIPE_WEBHOOK_SECRET = "whsec_a1B2c3D4e5F6g7H8i9J0"
    assert levqor_checks.check_webhook_secret_format() == []


def test_missing_webhook_secret_in_production(settings, db):
    settings.ENVIRONMENT = "production"
    settings.STRIPE_WEBHOOK_SECRET = ""

    assert check_ids(levqor_checks.check_webhook_secret()) == ["levqor.E001"]


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_connection_health_check(settings):
    postgres = {"ENGINE": "django.db.backends.postgresql", "CONN_MAX_AGE": 600, "CONN_HEALTH_CHECKS": False}
    settings.DATABASES = {"default": postgres}
    assert check_ids(levqor_checks.check_connection_health_checks()) == ["levqor.E007"]

    settings.DATABASES = {"default": {**postgres, "CONN_HEALTH_CHECKS": True}}
    assert levqor_checks.check_connection_health_checks() == []

    # Behind a pooler with CONN_MAX_AGE=0 each request opens its own connection.
    settings.DATABASES = {"default": {**postgres, "CONN_MAX_AGE": 0}}
    assert levqor_checks.check_connection_health_checks() == []


@pytest.mark.parametrize(
    ("environment", "sender", "problem"),
    [
        ("development", "", "DEFAULT_FROM_EMAIL is missing."),
        ("development", "Levqor", "DEFAULT_FROM_EMAIL has no valid email address."),
        ("production", "Levqor <orders@levqor.example>", "DEFAULT_FROM_EMAIL uses the reserved domain levqor.example"),
    ],
)
def test_sender_address_check(settings, environment, sender, problem):
    settings.ENVIRONMENT = environment
    settings.DEFAULT_FROM_EMAIL = sender

    messages = levqor_checks.check_sender_address()

    assert check_ids(messages) == ["levqor.E008"]
    assert messages[0].msg.startswith(problem)


def test_sender_address_accepted(settings):
    settings.ENVIRONMENT = "production"
    settings.DEFAULT_FROM_EMAIL = "Levqor <orders@levqor.com>"

    assert levqor_checks.check_sender_address() == []


def test_endpoint_api_version_check(stripe_endpoint, settings):
    assert levqor_checks.check_endpoint_api_version() == []

    stripe_endpoint.api_version = "2024-06-20"
    stripe_endpoint.save()
    messages = levqor_checks.check_endpoint_api_version()

    assert check_ids(messages) == ["levqor.E009"]
    assert "stored with API version 2024-06-20, but STRIPE_API_VERSION is 2026-05-27.dahlia" in messages[0].msg
    assert "setup_webhook_endpoint" in messages[0].hint


def test_every_levqor_check_has_a_hint(settings, db):
    settings.ENVIRONMENT = "production"
    settings.DEBUG = True
    settings.STRIPE_LIVE_MODE = True
    settings.STRIPE_LIVE_SECRET_KEY = "pk_live_x"
    settings.STRIPE_WEBHOOK_SECRET = "x"
    settings.DEFAULT_FROM_EMAIL = ""

    messages = [message for message in checks.run_checks(tags=["levqor"]) if message.id.startswith("levqor.")]

    assert {"levqor.E003", "levqor.E005", "levqor.E006", "levqor.E008"} <= set(check_ids(messages))
    assert all(message.hint for message in messages)


# manage.py check --deploy with the documented production environment

def production_env(**overrides):
    """docs/production.env with each <placeholder> filled with a value of the right shape."""
    values = {}
    for line in PRODUCTION_ENV_FILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    fills = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "STRIPE_LIVE_SECRET_KEY": LIVE_KEY,
        "STRIPE_ACCOUNT_ID": "acct_levqorProduction01",
        "STRIPE_WEBHOOK_SECRET": "whsec_a1B2c3D4e5F6g7H8i9J0k1L2",
        "STRIPE_WEBHOOK_ENDPOINT_ID": "we_levqorProduction01",
        "RESEND_API_KEY": "re_a1B2c3D4e5F6g7H8",
    }
    for name, value in values.items():
        if value.startswith("<"):
            values[name] = fills.get(name, value)
    # The test database of this run replaces the managed PostgreSQL.
    values.pop("DATABASE_URL")
    env = child_env(**values)
    for name in ("STRIPE_TEST_SECRET_KEY", "DEBUG", "STATIC_ROOT"):
        env.pop(name, None)
    env.update({name: str(value) for name, value in overrides.items()})
    return env


def test_production_env_file_has_no_unfilled_placeholder():
    assert not any(value.startswith("<") for name, value in production_env().items() if name.isupper())


def test_check_deploy_is_clean_in_production(transactional_db):
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_reports_problems(transactional_db):
    env = production_env(
        STRIPE_WEBHOOK_SECRET="", SECURE_SSL_REDIRECT="0", SESSION_COOKIE_SECURE="0", SECURE_HSTS_SECONDS="0"
    )

    result = manage("check", "--deploy", env=env)

    assert result.returncode == 1
    for check_id in ("levqor.E001", "security.W004", "security.W008", "security.W012"):
        assert check_id in result.stderr


# gunicorn.conf.py and static files

def http_get(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def start_gunicorn(env, *args):
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "levqor.wsgi", *args],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process


def test_gunicorn_conf_reads_port_and_concurrency(transactional_db):
    port = free_port()
    env = child_env(PORT=port, BIND_HOST="127.0.0.1", WEB_CONCURRENCY=2)
    server = GunicornServer(start_gunicorn(env), port)
    try:
        wait_until_healthy(server)
        status, _, _ = http_get(f"{server.base_url}/api/health/ready")
    finally:
        stdout, stderr = server.stop()

    assert status == 200
    assert f"Listening at: http://127.0.0.1:{port}" in stderr
    assert len(re.findall(r"Booting worker with pid", stderr)) == 2
    # Access log on stdout: address, request line, status, bytes, duration.
    assert re.search(r'127\.0\.0\.1 "GET /api/health/ready HTTP/1\.1" 200 \d+ \d+us', stdout), stdout


@pytest.mark.django_db
def test_admin_static_served_without_collectstatic(client):
    response = client.get("/static/admin/css/base.css", HTTP_HOST="127.0.0.1")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert b"body" in b"".join(response.streaming_content)


def test_production_static_files_and_https(transactional_db, tmp_path):
    """collectstatic with the manifest storage, then gunicorn with the production settings behind an HTTPS proxy."""
    env = production_env(STATIC_ROOT=tmp_path / "static", ALLOWED_HOSTS="127.0.0.1")
    collected = manage("collectstatic", "--no-input", "-v", "0", env=env)
    assert collected.returncode == 0, collected.stderr[-2000:]
    assert (tmp_path / "static" / "staticfiles.json").exists()

    port = free_port()
    server = GunicornServer(start_gunicorn(env, "--bind", f"127.0.0.1:{port}", "--workers", "1"), port)
    proxy = {"X-Forwarded-Proto": "https"}
    try:
        wait_until_healthy(server)
        plain_status, plain_headers, _ = http_get(f"{server.base_url}/admin/login/")
        ready_status, _, _ = http_get(f"{server.base_url}/api/health/ready")
        login_status, login_headers, login_page = http_get(f"{server.base_url}/admin/login/", proxy)
        css_path = re.search(rb'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', login_page)
        css_status, css_headers, _ = http_get(
            server.base_url + css_path[1].decode(), {**proxy, "Accept-Encoding": "gzip"}
        )
    finally:
        server.stop()

    assert plain_status == 301
    assert plain_headers["Location"] == f"https://127.0.0.1:{port}/admin/login/"
    assert ready_status == 200
    assert login_status == 200
    assert login_headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "Secure" in login_headers["Set-Cookie"]
    assert css_status == 200
    assert css_headers["Content-Encoding"] == "gzip"
    assert "immutable" in css_headers["Cache-Control"]


@pytest.mark.django_db
def test_manifest_storage_without_collectstatic_fails_loudly(settings, tmp_path, admin_client):
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }

    with pytest.raises(ValueError, match="Missing staticfiles manifest entry"):
        admin_client.get("/admin/", HTTP_HOST="127.0.0.1")
