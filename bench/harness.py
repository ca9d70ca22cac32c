"""Pieces shared by the scripts under bench/: databases, loopback API doubles, server processes.

Everything here runs on 127.0.0.1 only: the doubles bind to a free loopback
port, and gunicorn and the db_worker processes serve there too.
"""

import collections
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
WEBHOOK_SECRET = "whsec_soak_levqor_secret"
# Values the Telegram double accepts; any bot token and chat id of that shape would do.
TELEGRAM_BOT_TOKEN = "123456:bench-telegram-double-token"
TELEGRAM_CHAT_ID = "-1001234567890"


def production_env(database_url, work_dir, settings_module="levqor.settings"):
    """Return the environment of a server or worker process run with the production settings."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "soak-only-secret-key-not-for-production",
        "LEVQOR_VAR_DIR": str(work_dir / "var"),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DEBUG", None)
    return env


# The database


def postgres_arguments(database_url):
    """Return (database name, psycopg2 connection arguments) of a PostgreSQL URL on this machine."""
    parts = urllib.parse.urlsplit(database_url)
    if parts.scheme not in ("postgres", "postgresql") or parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("--database-url must be a postgres:// URL on 127.0.0.1, localhost or ::1.")
    arguments = {
        "host": parts.hostname,
        "port": parts.port or 5432,
        "user": urllib.parse.unquote(parts.username or ""),
        "password": urllib.parse.unquote(parts.password or ""),
    }
    return parts.path.lstrip("/"), arguments


def prepare_database(database_url, work_dir, sqlite_name="soak.sqlite3"):
    """Return the DATABASE_URL to use, after checking that the database is new or empty."""
    if not database_url:
        return f"sqlite:///{work_dir / sqlite_name}"

    import psycopg2

    name, arguments = postgres_arguments(database_url)
    admin = psycopg2.connect(dbname="postgres", **arguments)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()

    database = psycopg2.connect(dbname=name, **arguments)
    with database.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
        tables = cursor.fetchone()[0]
    database.close()
    if tables:
        raise SystemExit(f"Database {name} already has {tables} tables: drop it or name another one.")
    return database_url


def build_tables(env, logs):
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--run-syncdb", "--settings", "bench.soak_settings", "-v", "0"],
        cwd=BASE_DIR,
        env=env,
        stdout=logs,
        stderr=subprocess.STDOUT,
        timeout=600,
    )
    if result.returncode != 0:
        raise SystemExit(f"migrate --run-syncdb failed: see {logs.name}")


# Loopback API doubles


class LoopbackDouble(ThreadingHTTPServer):
    """An HTTP API double on a free 127.0.0.1 port that waits `delay` seconds before each response, as a remote API would."""

    daemon_threads = True

    def __init__(self, delay=0.0):
        super().__init__(("127.0.0.1", 0), DoubleHandler)
        self.delay = delay
        self.lock = threading.Lock()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/"

    def respond(self, path, body, headers):
        """Return (status, JSON reply, extra headers) for a POST request."""
        raise NotImplementedError


class DoubleHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.server.delay:
            time.sleep(self.server.delay)
        status, reply, headers = self.server.respond(self.path, json.loads(body or b"{}"), self.headers)
        data = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass


class ResendDouble(LoopbackDouble):
    """A Resend API double: POST /emails gets a new message id, or a 500 response on the first attempt of a chosen email.

    With requests_per_second set, a request beyond that many in the last
    second gets Resend's 429 rate_limit_exceeded response with Retry-After: 1.
    Resend's rate-limit page (https://resend.com/docs/api-reference/rate-limit)
    has given 2 requests per second per team as the default, and a later
    version gives 5, so 2 is the stricter case.
    """

    def __init__(self, fault_recipients=(), *, delay=0.0, requests_per_second=None):
        super().__init__(delay)
        self.fault_recipients = set(fault_recipients)
        self.requests_per_second = requests_per_second
        self.recent = collections.deque()
        self.attempts = collections.Counter()
        self.accepted = collections.Counter()
        self.message_ids = set()
        self.responses_by_key = {}
        self.faults_answered = 0
        self.repeats_answered = 0
        self.rate_limited = 0

    def respond(self, path, message, headers):
        if path.rstrip("/") != "/emails":
            return 404, {"message": "not found"}, {}
        return self.answer(message, headers.get("Idempotency-Key"))

    def answer(self, message, idempotency_key=None):
        key = (message["to"][0], message["subject"])
        with self.lock:
            # Like Resend: a repeated Idempotency-Key gets the first response and sends nothing.
            if idempotency_key in self.responses_by_key:
                self.repeats_answered += 1
                return 200, self.responses_by_key[idempotency_key], {}
            if self.over_rate_limit(time.monotonic()):
                self.rate_limited += 1
                reply = {"statusCode": 429, "name": "rate_limit_exceeded", "message": "Too many requests."}
                return 429, reply, {"Retry-After": "1"}
            self.attempts[key] += 1
            recipient = key[0].rsplit("<", 1)[-1].rstrip(">")
            if recipient in self.fault_recipients and key[1].startswith("Welcome") and self.attempts[key] == 1:
                self.faults_answered += 1
                return 500, {"statusCode": 500, "name": "internal_server_error", "message": "soak fault"}, {}
            self.accepted[key] += 1
            message_id = str(uuid.uuid4())
            self.message_ids.add(message_id)
            if idempotency_key:
                self.responses_by_key[idempotency_key] = {"id": message_id}
            return 200, {"id": message_id}, {}

    def over_rate_limit(self, now):
        """Count a request in the sliding one-second window; return True when it is over the limit."""
        if self.requests_per_second is None:
            return False
        while self.recent and now - self.recent[0] >= 1.0:
            self.recent.popleft()
        if len(self.recent) >= self.requests_per_second:
            return True
        self.recent.append(now)
        return False


class TelegramDouble(LoopbackDouble):
    """A Telegram Bot API double: POST /bot<TELEGRAM_BOT_TOKEN>/sendMessage gets a message id."""

    def __init__(self, *, delay=0.0):
        super().__init__(delay)
        self.messages = 0

    def respond(self, path, body, headers):
        if path != f"/bot{TELEGRAM_BOT_TOKEN}/sendMessage":
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}, {}
        with self.lock:
            self.messages += 1
            message_id = self.messages
        return 200, {"ok": True, "result": {"message_id": message_id}}, {}


def start_double(double):
    threading.Thread(target=double.serve_forever, daemon=True).start()
    return double


# Sending signed events


def paid_session(session_id, email, plan, sample_events, payment_status="paid"):
    subscription = plan.mode == "subscription"
    metadata = {"mode": plan.mode, "plan": plan.slug}
    if subscription:
        metadata["term"] = plan.term
    return sample_events.checkout_session(
        session_id,
        metadata=metadata,
        payment_status=payment_status,
        amount_total=plan.amount,
        currency=plan.currency,
        email=email,
        stripe_mode="subscription" if subscription else "payment",
        customer=f"cus_{session_id}" if subscription else None,
        subscription=f"sub_{session_id}" if subscription else None,
    )


def post_event(url, event, secret, sample_events, timeout=60):
    """POST one event, signed now with secret; return the HTTP status, or 599 for a reset or timed-out connection."""
    # Signed at send time, as Stripe signs each attempt: a run lasts longer
    # than the 300 s signature tolerance.
    payload = sample_events.encode(event)
    request = urllib.request.Request(
        url,
        data=payload,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Stripe-Signature": sample_events.signature_header(payload, secret),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        # A reset or timed-out connection; Stripe retries it like a 5xx.
        return 599


# Server and worker processes


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Processes:
    """The server, worker and sweeper processes of a run, each with a log file in the work folder."""

    def __init__(self, env, work_dir):
        self.env = env
        self.work_dir = work_dir
        self.running = {}
        self.log_files = []
        self.killed_at = None

    def spawn(self, name, command, **env_overrides):
        log_file = open(self.work_dir / f"{name}.log", "w")
        self.log_files.append(log_file)
        env = {**self.env, **env_overrides}
        self.running[name] = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log_file, stderr=subprocess.STDOUT)

    def spawn_task_worker(self, name):
        self.spawn(name, [sys.executable, "manage.py", "db_worker", "--interval", "0.5", "--no-startup-delay", "--no-reload"])

    def kill(self, name):
        """Kill a process with SIGKILL, as the OOM killer would, and note the time."""
        process = self.running.pop(name)
        process.kill()
        process.wait()
        self.killed_at = datetime.now(UTC)

    def all(self):
        return list(self.running.values())

    def close(self):
        stop_processes(self.all())
        for log_file in self.log_files:
            log_file.close()


def start_task_workers(env, count, work_dir, name="db_worker"):
    """Start count db_worker processes named name-0, name-1 and so on; return their Processes."""
    processes = Processes(env, work_dir)
    for number in range(count):
        processes.spawn_task_worker(f"{name}-{number}")
    return processes


def start_processes(env, work_dir, web_workers, task_workers, sweeper_env=None):
    """Start gunicorn, the task workers and, with sweeper_env, the outbox sweeper; return (base URL, Processes)."""
    port = free_port()
    processes = start_task_workers(env, task_workers, work_dir)
    processes.spawn("gunicorn", [
        sys.executable, "-m", "gunicorn", "levqor.wsgi", "--bind", f"127.0.0.1:{port}",
        "--workers", str(web_workers), "--timeout", "60",
    ])
    if sweeper_env is not None:
        processes.spawn("outbox_sweeper", [sys.executable, "manage.py", "outbox_sweeper", "--interval", "2"], **sweeper_env)
    return f"http://127.0.0.1:{port}", processes


def wait_until_healthy(base_url, processes, deadline):
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes.all()):
            raise SystemExit("A server or worker process exited during start-up: see the logs in the work folder.")
        try:
            with urllib.request.urlopen(base_url + "/api/webhooks/stripe/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("gunicorn did not become healthy in time.")


def stop_processes(processes):
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def pending_work(killed_at=None):
    """Return the number of outbox rows and task rows due now or in progress.

    Intake reminders and their tasks wait 48 hours, so rows due more than a
    day from now do not count, but retries a few seconds away do. The task
    that a killed worker left running does not count either, because
    django-tasks-db never finishes it and the sweeper requeues its rows.
    """
    from django.db.models import Q
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from onboarding.delivery import due
    from onboarding.models import OutboxEmail

    later = timezone.now() + timedelta(days=1)
    emails = OutboxEmail.objects.filter(
        Q(state=OutboxEmail.State.SENDING) | Q(state=OutboxEmail.State.QUEUED) & due(later)
    ).count()
    tasks = DBTaskResult.objects.filter(Q(status="RUNNING") | Q(status="READY", run_after__lte=later)).count()
    return emails, tasks - len(orphaned_tasks(killed_at))


def orphaned_tasks(killed_at):
    """Return the ids of tasks that were running when the worker was killed."""
    from django_tasks_db.models import DBTaskResult

    if killed_at is None:
        return []
    return list(DBTaskResult.objects.filter(status="RUNNING", started_at__lte=killed_at).values_list("id", flat=True))


def wait_until_idle(deadline, killed_at=None):
    idle_polls = 0
    while time.monotonic() < deadline:
        idle_polls = idle_polls + 1 if pending_work(killed_at) == (0, 0) else 0
        if idle_polls >= 3:
            return True
        time.sleep(1)
    return False


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def configure_django(env):
    os.environ.update(env)
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()


def seed():
    """Store the catalogue and the endpoint, as the data migration and setup_webhook_endpoint do."""
    import importlib

    from django.apps import apps

    from orders.stripe_setup import configure_endpoint

    importlib.import_module("orders.migrations.0002_default_plan_catalogue").add_default_plans(apps, None)
    configure_endpoint(WEBHOOK_SECRET)
