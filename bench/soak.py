#!/usr/bin/env python3
"""Soak test: thousands of signed webhook deliveries with duplicates and faults, then a check of every row.

It starts, on 127.0.0.1 only, gunicorn, django-tasks-db workers and the
outbox sweeper with the production settings, and a Resend API double in this
process. Several client threads send the events and retry a delivery that got
a 5xx response, as Stripe would. Halfway through, one task worker is killed
with SIGKILL and another started. When the workers are idle, everything stops
and the script checks the database: one order per validly signed session in
the status its events lead to, two emails per matched paid order and none for
the others, each paid order's intake reminder queued 48 hours after its intake
email, nothing accepted twice, and no due email or task rows left.

    python bench/soak.py                      # 10,000 events on a new SQLite file
    python bench/soak.py --database-url postgres://levqor:levqor@127.0.0.1:55432/levqor_soak

A PostgreSQL database is created when missing and must have no tables. The
tables are built from the models (migrate --run-syncdb with
bench/soak_settings.py), as in the test suite. Exit status 0 means every check
passed; the summary goes to stdout. docs/reliability.md records results.
"""

import argparse
import collections
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
WEBHOOK_SECRET = "whsec_soak_levqor_secret"
WRONG_SECRET = "whsec_soak_some_other_endpoint"
COMPLETED = "checkout.session.completed"
SUCCEEDED = "checkout.session.async_payment_succeeded"
FAILED = "checkout.session.async_payment_failed"
# Stripe retries a delivery that got a 5xx response for days, so the soak
# retries a few times within seconds.
DELIVERY_ATTEMPTS = 5

# Session kinds and their share of the sessions.
KIND_WEIGHTS = {
    "paid": 66,
    "delayed": 10,
    "delayed_out_of_order": 4,
    "delayed_failed": 6,
    "unknown_plan": 8,
    "bad_signature": 1,
}
REDELIVERY_RATE = 0.25
SECOND_EVENT_RATE = 0.05
# Every RESEND_FAULT_EVERY-th matched order's welcome email gets a 500 on its first attempt.
RESEND_FAULT_EVERY = 40
# A row left "sending" by the killed worker is requeued after this many seconds.
STALE_SECONDS = 20


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000, help="Webhook deliveries to send (default 10000).")
    parser.add_argument("--database-url", help="PostgreSQL URL of an empty or missing database. Default: a new SQLite file.")
    parser.add_argument("--clients", type=int, default=8, help="Client threads that send deliveries (default 8).")
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn worker processes (default 4).")
    parser.add_argument("--task-workers", type=int, default=2, help="db_worker processes (default 2).")
    parser.add_argument("--seed", type=int, default=1, help="Seed of the event mix (default 1).")
    parser.add_argument("--max-seconds", type=int, default=3600, help="Stop and fail after this many seconds (default 3600).")
    parser.add_argument("--work-dir", help="Folder for the SQLite file and the server logs. Default: a new temporary folder.")
    return parser.parse_args()


# The database


def prepare_database(database_url, work_dir):
    """Return the DATABASE_URL to use, after checking that the database is new or empty."""
    if not database_url:
        return f"sqlite:///{work_dir / 'soak.sqlite3'}"

    import psycopg2

    parts = urllib.parse.urlsplit(database_url)
    if parts.scheme not in ("postgres", "postgresql") or parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("--database-url must be a postgres:// URL on 127.0.0.1, localhost or ::1.")
    name = parts.path.lstrip("/")
    arguments = {
        "host": parts.hostname,
        "port": parts.port or 5432,
        "user": urllib.parse.unquote(parts.username or ""),
        "password": urllib.parse.unquote(parts.password or ""),
    }
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


# The Resend API double


class ResendDouble(ThreadingHTTPServer):
    """A Resend API double: POST /emails gets a new message id, or a 500 response on the first attempt of a chosen email."""

    daemon_threads = True

    def __init__(self, fault_recipients):
        super().__init__(("127.0.0.1", 0), ResendHandler)
        self.fault_recipients = fault_recipients
        self.lock = threading.Lock()
        self.attempts = collections.Counter()
        self.accepted = collections.Counter()
        self.message_ids = set()
        self.responses_by_key = {}
        self.faults_answered = 0
        self.repeats_answered = 0

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/"

    def answer(self, message, idempotency_key):
        key = (message["to"][0], message["subject"])
        with self.lock:
            # Like Resend: a repeated Idempotency-Key gets the first response and sends nothing.
            if idempotency_key in self.responses_by_key:
                self.repeats_answered += 1
                return 200, self.responses_by_key[idempotency_key]
            self.attempts[key] += 1
            recipient = key[0].rsplit("<", 1)[-1].rstrip(">")
            if recipient in self.fault_recipients and key[1].startswith("Welcome") and self.attempts[key] == 1:
                self.faults_answered += 1
                return 500, {"statusCode": 500, "name": "internal_server_error", "message": "soak fault"}
            self.accepted[key] += 1
            message_id = str(uuid.uuid4())
            self.message_ids.add(message_id)
            if idempotency_key:
                self.responses_by_key[idempotency_key] = {"id": message_id}
            return 200, {"id": message_id}


class ResendHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path.rstrip("/") != "/emails":
            status, reply = 404, {"message": "not found"}
        else:
            status, reply = self.server.answer(json.loads(body), self.headers.get("Idempotency-Key"))
        data = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass


# The event mix


@dataclass
class Session:
    id: str
    kind: str
    email: str
    expected_status: str | None
    matched: bool
    events: list = field(default_factory=list)


@dataclass
class Delivery:
    event: dict
    secret: str = WEBHOOK_SECRET
    expected_status: int = 200


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


def make_session(number, kind, plan, sample_events, statuses):
    """Return one session of a kind with the events Stripe would send for it, in order."""
    session_id = f"cs_test_soak_{number:06d}"
    email = f"soak{number}@example.com"
    event = sample_events.event

    if kind == "unknown_plan":
        session = sample_events.checkout_session(session_id, metadata={"mode": "dfy", "plan": "unknown-plan"}, email=email)
        return Session(session_id, kind, email, statuses.NEEDS_REVIEW, False, [event(COMPLETED, session)])
    if kind == "bad_signature":
        session = paid_session(session_id, email, plan, sample_events)
        return Session(session_id, kind, email, None, False, [event(COMPLETED, session)])

    paid = paid_session(session_id, email, plan, sample_events)
    unpaid = paid_session(session_id, email, plan, sample_events, payment_status="unpaid")
    if kind == "paid":
        return Session(session_id, kind, email, statuses.NEW, True, [event(COMPLETED, paid)])
    if kind == "delayed":
        return Session(session_id, kind, email, statuses.NEW, True, [event(COMPLETED, unpaid), event(SUCCEEDED, paid)])
    if kind == "delayed_out_of_order":
        return Session(session_id, kind, email, statuses.NEW, True, [event(SUCCEEDED, paid), event(COMPLETED, unpaid)])
    if kind == "delayed_failed":
        events = [event(COMPLETED, unpaid), event(FAILED, unpaid)]
        return Session(session_id, kind, email, statuses.PAYMENT_FAILED, False, events)
    raise ValueError(f"unknown session kind {kind!r}")


def plan_deliveries(count, seed):
    """Return (sessions, jobs): each job is a list of deliveries that one client sends in order."""
    from orders import sample_events
    from orders.models import DFYOrder, Plan

    rng = random.Random(seed)
    plans = list(Plan.objects.filter(active=True))
    kinds, weights = zip(*KIND_WEIGHTS.items())
    sessions, jobs, total = [], [], 0

    while total < count:
        remaining = count - total
        kind = rng.choices(kinds, weights)[0]
        if kind.startswith("delayed") and remaining < 2:
            kind = "paid"
        session = make_session(len(sessions), kind, rng.choice(plans), sample_events, DFYOrder.Status)
        sessions.append(session)

        secret, status = (WRONG_SECRET, 400) if kind == "bad_signature" else (WEBHOOK_SECRET, 200)
        jobs.append([Delivery(event, secret, status) for event in session.events])
        total += len(session.events)

        for event in session.events:
            if total < count and rng.random() < REDELIVERY_RATE:
                jobs.append([Delivery(event, secret, status)])
                total += 1
        if kind == "paid" and total < count and rng.random() < SECOND_EVENT_RATE:
            # The same session again under a new event id.
            jobs.append([Delivery(sample_events.event(COMPLETED, session.events[0]["data"]["object"]))])
            total += 1

    rng.shuffle(jobs)
    return sessions, jobs


# Sending


class DeliveryLog:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies = []
        self.first_statuses = collections.Counter()
        self.unexpected = []
        self.server_errors = 0

    def responded(self):
        with self.lock:
            return sum(self.first_statuses.values())

    def record(self, delivery, statuses, latencies):
        with self.lock:
            self.latencies.extend(latencies)
            self.first_statuses[statuses[0]] += 1
            self.server_errors += sum(status >= 500 for status in statuses)
            if statuses[-1] != delivery.expected_status:
                self.unexpected.append((delivery.event["id"], statuses))


def post(url, delivery, sample_events):
    # Signed at send time, as Stripe signs each attempt: a run lasts longer
    # than the 300 s signature tolerance.
    payload = sample_events.encode(delivery.event)
    request = urllib.request.Request(
        url,
        data=payload,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Stripe-Signature": sample_events.signature_header(payload, delivery.secret),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        # A reset or timed-out connection; Stripe retries it like a 5xx.
        return 599


def send_job(url, job, log, sample_events):
    for delivery in job:
        statuses, latencies = [], []
        for attempt in range(DELIVERY_ATTEMPTS):
            started = time.perf_counter()
            statuses.append(post(url, delivery, sample_events))
            latencies.append(time.perf_counter() - started)
            if statuses[-1] < 500:
                break
            time.sleep(0.5 * (attempt + 1))
        log.record(delivery, statuses, latencies)


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


def start_processes(env, args, work_dir, sweeper=True):
    """Start gunicorn, the task workers and (unless told not to) the sweeper; return (base URL, Processes)."""
    port = free_port()
    processes = start_task_workers(env, args.task_workers, work_dir)
    processes.spawn("gunicorn", [
        sys.executable, "-m", "gunicorn", "levqor.wsgi", "--bind", f"127.0.0.1:{port}",
        "--workers", str(args.web_workers), "--timeout", "60",
    ])
    if not sweeper:
        return f"http://127.0.0.1:{port}", processes

    processes.spawn(
        "outbox_sweeper", [sys.executable, "manage.py", "outbox_sweeper", "--interval", "2"],
        OUTBOX_STALE_SECONDS=str(STALE_SECONDS), OUTBOX_SWEEP_GRACE_SECONDS="30",
    )
    return f"http://127.0.0.1:{port}", processes


def start_task_workers(env, count, work_dir, name="db_worker"):
    """Start count db_worker processes named name-0, name-1 and so on; return their Processes."""
    processes = Processes(env, work_dir)
    for number in range(count):
        processes.spawn_task_worker(f"{name}-{number}")
    return processes


def kill_a_worker_halfway(processes, log, deliveries):
    """Kill the first task worker with SIGKILL once half the deliveries have a response, then start a replacement."""
    while log.responded() < deliveries // 2:
        time.sleep(0.2)
    processes.kill("db_worker-0")
    processes.spawn_task_worker("db_worker-replacement")


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


def pending_work(killed_at):
    """Return the number of outbox rows and task rows due now or in progress.

    Intake reminders and their tasks wait 48 hours, so rows due more than a
    day from now do not count, but retries a few seconds away do. The task
    that the killed worker left running does not count either, because
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


def wait_until_idle(deadline, killed_at):
    idle_polls = 0
    while time.monotonic() < deadline:
        idle_polls = idle_polls + 1 if pending_work(killed_at) == (0, 0) else 0
        if idle_polls >= 3:
            return True
        time.sleep(1)
    return False


# Checks


def check_database(sessions, double, killed_at):
    """Compare every row with what the sessions' events must have made; return (problems, counts)."""
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult
    from djstripe.models import Event

    from onboarding.models import OutboxEmail
    from orders.models import DFYOrder

    problems = []
    orders = {order.stripe_checkout_session_id: order for order in DFYOrder.objects.all()}
    emails = collections.defaultdict(dict)
    for email in OutboxEmail.objects.select_related("order"):
        emails[email.order.stripe_checkout_session_id][email.template] = email

    expected_orders = {session.id for session in sessions if session.expected_status}
    if set(orders) != expected_orders:
        problems.append(
            f"orders: {len(set(orders) - expected_orders)} unexpected, {len(expected_orders - set(orders))} missing"
        )
    for session in sessions:
        order = orders.get(session.id)
        if order is not None and order.status != session.expected_status:
            problems.append(f"session {session.id} ({session.kind}): status {order.status}, expected {session.expected_status}")
        templates = set(emails.get(session.id, {}))
        expected_templates = {"welcome", "intake", "intake_reminder"} if session.matched else set()
        if templates != expected_templates:
            problems.append(f"session {session.id} ({session.kind}): emails {sorted(templates)}, expected {sorted(expected_templates)}")
        elif session.matched:
            problems += reminder_problems(session, emails[session.id])

    reminders = [per_order.pop("intake_reminder") for per_order in emails.values() if "intake_reminder" in per_order]
    states = collections.Counter(email.state for per_order in emails.values() for email in per_order.values())
    for email in (email for per_order in emails.values() for email in per_order.values()):
        if email.state == OutboxEmail.State.FAILED and email.to_email not in double.fault_recipients:
            problems.append(f"email {email.pk} failed without an injected fault: {email.last_error[:200]}")
        if email.state == OutboxEmail.State.SENT and email.provider_message_id not in double.message_ids:
            problems.append(f"email {email.pk} is sent but the double issued no message id {email.provider_message_id!r}")
    doubled = [key for key, accepted in double.accepted.items() if accepted > 1]
    if doubled:
        problems.append(f"{len(doubled)} emails were accepted more than once by the Resend double")
    if sum(double.accepted.values()) != states[OutboxEmail.State.SENT]:
        problems.append(f"the double accepted {sum(double.accepted.values())} emails, {states[OutboxEmail.State.SENT]} rows are sent")

    stuck_emails = states[OutboxEmail.State.QUEUED] + states[OutboxEmail.State.SENDING]
    tasks = collections.Counter(DBTaskResult.objects.values_list("status", flat=True))
    # Each reminder waits for its own delayed task, and any other ready task is stuck.
    orphaned = orphaned_tasks(killed_at)
    stuck_tasks = tasks[TaskResultStatus.READY] - len(reminders) + tasks[TaskResultStatus.RUNNING] - len(orphaned)
    if stuck_emails or stuck_tasks:
        problems.append(f"stuck rows: {stuck_emails} queued or sending emails, {stuck_tasks} ready or running tasks")
    if tasks[TaskResultStatus.FAILED]:
        problems.append(f"{tasks[TaskResultStatus.FAILED]} tasks failed")

    valid_event_ids = {event["id"] for session in sessions if session.kind != "bad_signature" for event in session.events}
    stored_event_ids = set(Event.objects.values_list("id", flat=True))
    if not valid_event_ids <= stored_event_ids:
        problems.append(f"{len(valid_event_ids - stored_event_ids)} signed events have no Event row")

    counts = {
        "orders by status": dict(collections.Counter(order.status for order in orders.values())),
        "email rows by state": dict(states),
        "intake reminders scheduled": len(reminders),
        "emails accepted by the Resend double": sum(double.accepted.values()),
        "Resend 500s injected": double.faults_answered,
        "repeated Idempotency-Keys answered": double.repeats_answered,
        "stale rows recovered by the sweeper": recovered_rows(),
        "tasks left running by the killed worker": len(orphaned),
        "task rows by status": dict(tasks),
        "Event rows": len(stored_event_ids),
    }
    return problems, counts


def reminder_problems(session, emails):
    """Return problems with a matched order's intake reminder, which must wait until 48 hours after the intake email."""
    reminder, intake = emails["intake_reminder"], emails["intake"]
    if reminder.state != reminder.State.QUEUED:
        return [f"session {session.id}: intake reminder is {reminder.state}, expected queued"]
    if intake.sent_at is None or reminder.next_attempt_at != intake.sent_at + timedelta(hours=48):
        return [f"session {session.id}: intake reminder due {reminder.next_attempt_at}, not 48 hours after the intake email"]
    return []


def recovered_rows():
    from onboarding.models import DeliveryAttempt

    return DeliveryAttempt.objects.filter(outcome=DeliveryAttempt.Outcome.INTERRUPTED).count()


# Main


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def configure_django(env):
    os.environ.update(env)
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()


def production_env(database_url, work_dir, name):
    """Return the environment of the servers and workers: the production settings on this database."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "levqor.settings",
        "DATABASE_URL": database_url,
        "SECRET_KEY": f"{name}-only-secret-key-not-for-production",
        "LEVQOR_VAR_DIR": str(work_dir / "var"),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DEBUG", None)
    return env


def seed():
    """Store the catalogue and the endpoint, as the data migration and setup_webhook_endpoint do."""
    import importlib

    from django.apps import apps

    from orders.stripe_setup import configure_endpoint

    importlib.import_module("orders.migrations.0002_default_plan_catalogue").add_default_plans(apps, None)
    configure_endpoint(WEBHOOK_SECRET)


def main():
    args = parse_args()
    started = time.monotonic()
    deadline = started + args.max_seconds
    work_dir = Path(args.work_dir or tempfile.mkdtemp(prefix="levqor-soak-")).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    database_url = prepare_database(args.database_url, work_dir)

    env = production_env(database_url, work_dir, "soak")
    with open(work_dir / "migrate.log", "w") as logs:
        build_tables(env, logs)
    configure_django(env)
    seed()

    from orders import sample_events

    sessions, jobs = plan_deliveries(args.events, args.seed)
    matched = [session for session in sessions if session.matched]
    double = ResendDouble({session.email for session in matched[::RESEND_FAULT_EVERY]})
    threading.Thread(target=double.serve_forever, daemon=True).start()
    env.update(RESEND_API_KEY="re_soak_double", RESEND_API_URL=double.url)

    base_url, processes = start_processes(env, args, work_dir)
    log = DeliveryLog()
    deliveries = sum(len(job) for job in jobs)
    try:
        wait_until_healthy(base_url, processes, deadline)
        from djstripe.models import WebhookEndpoint

        endpoint = WebhookEndpoint.objects.get()
        url = f"{base_url}/stripe/webhook/{endpoint.djstripe_uuid}/"
        sending_started = time.monotonic()
        killer = threading.Thread(target=kill_a_worker_halfway, args=(processes, log, deliveries), daemon=True)
        killer.start()
        with ThreadPoolExecutor(max_workers=args.clients) as pool:
            for future in [pool.submit(send_job, url, job, log, sample_events) for job in jobs]:
                future.result(timeout=max(1, deadline - time.monotonic()))
        sending_seconds = time.monotonic() - sending_started
        idle = wait_until_idle(deadline, processes.killed_at)
        drained_seconds = time.monotonic() - sending_started
    finally:
        processes.close()
        double.shutdown()

    problems, counts = check_database(sessions, double, processes.killed_at)
    if not idle:
        problems.append(f"the workers were still busy after --max-seconds {args.max_seconds}")
    if log.unexpected:
        problems.append(f"{len(log.unexpected)} deliveries ended with an unexpected status, e.g. {log.unexpected[:3]}")

    summary = {
        "database": "postgresql" if database_url.startswith("postgres") else "sqlite",
        "deliveries": deliveries,
        "sessions by kind": dict(collections.Counter(session.kind for session in sessions)),
        "first responses by status": dict(log.first_statuses),
        "5xx responses retried": log.server_errors,
        "sending seconds": round(sending_seconds, 1),
        "deliveries per second": round(deliveries / sending_seconds, 1),
        "latency p50/p95/max ms": [round(1000 * value) for value in (
            statistics.median(log.latencies), percentile(log.latencies, 0.95), max(log.latencies),
        )],
        "seconds until the workers were idle": round(drained_seconds, 1),
        **counts,
        "total seconds": round(time.monotonic() - started, 1),
        "work folder": str(work_dir),
        "problems": problems,
        "result": "PASS" if not problems else "FAIL",
    }
    for key, value in summary.items():
        print(f"{key}: {value}")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
