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

    .venv/bin/python bench/soak.py                      # 10,000 events on a new SQLite file
    .venv/bin/python bench/soak.py --database-url postgres://levqor:levqor@127.0.0.1:55432/levqor_soak

A PostgreSQL database is created when missing and must have no tables. The
tables are built from the models (migrate --run-syncdb with
bench/soak_settings.py), as in the test suite. Exit status 0 means every check
passed; the summary goes to stdout. docs/reliability.md records results.
"""

import argparse
import collections
import random
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (  # noqa: E402
    WEBHOOK_SECRET,
    ResendDouble,
    build_tables,
    orphaned_tasks,
    configure_django,
    paid_session,
    percentile,
    post_event,
    prepare_database,
    production_env,
    seed,
    start_double,
    start_processes,
    wait_until_healthy,
    wait_until_idle,
)

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


def send_job(url, job, log, sample_events):
    for delivery in job:
        statuses, latencies = [], []
        for attempt in range(DELIVERY_ATTEMPTS):
            started = time.perf_counter()
            statuses.append(post_event(url, delivery.event, delivery.secret, sample_events))
            latencies.append(time.perf_counter() - started)
            if statuses[-1] < 500:
                break
            time.sleep(0.5 * (attempt + 1))
        log.record(delivery, statuses, latencies)


def kill_a_worker_halfway(processes, log, deliveries):
    """Kill the first task worker with SIGKILL once half the deliveries have a response, then start a replacement."""
    while log.responded() < deliveries // 2:
        time.sleep(0.2)
    processes.kill("db_worker-0")
    processes.spawn_task_worker("db_worker-replacement")


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


def main():
    args = parse_args()
    started = time.monotonic()
    deadline = started + args.max_seconds
    work_dir = Path(args.work_dir or tempfile.mkdtemp(prefix="levqor-soak-")).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    database_url = prepare_database(args.database_url, work_dir)

    env = production_env(database_url, work_dir)
    with open(work_dir / "migrate.log", "w") as logs:
        build_tables(env, logs)
    configure_django(env)
    seed()

    from orders import sample_events

    sessions, jobs = plan_deliveries(args.events, args.seed)
    matched = [session for session in sessions if session.matched]
    double = start_double(ResendDouble({session.email for session in matched[::RESEND_FAULT_EVERY]}))
    # The soak checks that nothing is lost or doubled, not the provider's rate
    # limit (bench/outbox_drain.py measures that), so sends are not paced.
    env.update(RESEND_API_KEY="re_soak_double", RESEND_API_URL=double.url, RESEND_RATE_LIMIT_PER_SECOND="0")

    sweeper_env = {"OUTBOX_STALE_SECONDS": str(STALE_SECONDS), "OUTBOX_SWEEP_GRACE_SECONDS": "30"}
    base_url, processes = start_processes(env, work_dir, args.web_workers, args.task_workers, sweeper_env)
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
