#!/usr/bin/env python3
"""Webhook acknowledgement benchmark: our order path against dj-stripe's bare path and an in-request baseline.

The databases are a new SQLite file, and PostgreSQL when --database-url is
given. For each database and mode the script builds new tables and starts
gunicorn with two workers and the production settings on 127.0.0.1. It then
sends distinct signed checkout.session.completed events (about 3.2 KB each)
from 1, 8 and 32 client threads. The modes are:

- bare: dj-stripe's own webhook view with none of our receivers (bench/bare_settings.py);
- ours: the production settings (levqor.settings);
- baseline: our order path with both emails and the staff alert sent inside
  the request, as the earlier system did (bench/baseline_settings.py).

The Resend double waits 150 ms per request and allows 2 requests per second
(Resend's default limit); the Telegram double waits 150 ms. Then, with our
settings only: the time from a webhook until both emails of its order are
marked sent, with two db_worker processes; the acknowledgement p50 with no
orders and with --growth-orders orders; and a per-request breakdown measured
inside one Django process (timers around dj-stripe's and our functions).

    .venv/bin/python bench/webhook_ack.py --database-url postgres://levqor:levqor@127.0.0.1:55432/levqor_bench
    .venv/bin/python bench/webhook_ack.py --quick            # tiny numbers, SQLite only, about 3 minutes
    .venv/bin/python bench/webhook_ack.py --tables-from docs/webhook-ack.json    # print the tables again

The full run took 22 minutes on 2 cores shared with other work (load average 6 to 9). PostgreSQL databases named
<name>_<part> are dropped and created again; nothing else on the server is
touched. The figures go to --output (JSON) and the tables to stdout;
docs/benchmarks.md records a run.
"""

import argparse
import collections
import datetime
import functools
import json
import os
import platform
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (  # noqa: E402
    BASE_DIR,
    TELEGRAM_BOT_TOKEN,
    TELEGRAM_CHAT_ID,
    WEBHOOK_SECRET,
    ResendDouble,
    TelegramDouble,
    build_tables,
    configure_django,
    paid_session,
    percentile,
    post_event,
    postgres_arguments,
    prepare_database,
    production_env,
    seed,
    start_double,
    start_processes,
    wait_until_healthy,
)

MODES = {
    "bare": "bench.bare_settings",
    "ours": "levqor.settings",
    "baseline": "bench.baseline_settings",
}
RESEND_DELAY_SECONDS = 0.15
RESEND_REQUESTS_PER_SECOND = 2
TELEGRAM_DELAY_SECONDS = 0.15
WARM_UP_EVENTS = 20
E2E_CLIENTS = 8
DEFAULT_OUTPUT = BASE_DIR / "docs" / "webhook-ack.json"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL URL on this machine; its database name is the prefix of the databases made. Without it, SQLite only.")
    parser.add_argument("--no-sqlite", action="store_true", help="Measure PostgreSQL only.")
    parser.add_argument("--events", type=int, default=300, help="Events per concurrency level in the bare and ours modes (default 300).")
    parser.add_argument("--baseline-events", type=int, default=40, help="Events per concurrency level in the baseline mode (default 40).")
    parser.add_argument("--concurrency", default="1,8,32", help="Client thread counts, comma-separated (default 1,8,32).")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn worker processes (default 2).")
    parser.add_argument("--e2e-orders", type=int, default=20, help="Orders sent at once for the email end-to-end time (default 20).")
    parser.add_argument("--e2e-max-seconds", type=int, default=240, help="Stop waiting for the emails after this many seconds (default 240).")
    parser.add_argument("--growth-orders", type=int, default=1_000_000, help="Orders loaded before the second growth measurement (default 1000000).")
    parser.add_argument("--growth-events", type=int, default=200, help="Events sent at concurrency 1 before and after loading them (default 200).")
    parser.add_argument("--profile-events", type=int, default=300, help="Events handled in one process for the breakdown (default 300).")
    parser.add_argument("--quick", action="store_true", help="Tiny numbers for a check of the script itself.")
    parser.add_argument("--output", help=f"JSON file for the figures (default {DEFAULT_OUTPUT.relative_to(BASE_DIR)}; with --quick, levqor-webhook-ack-quick.json in the temporary folder).")
    parser.add_argument("--work-dir", help="Folder for SQLite files and server logs. Default: a new temporary folder.")
    parser.add_argument("--tables-from", help="Print the tables of an earlier run's JSON file and exit.")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.baseline_events, args.concurrency = 16, 8, "1,4"
        args.e2e_orders, args.e2e_max_seconds = 4, 60
        args.growth_orders, args.growth_events, args.profile_events = 2_000, 10, 20
    if args.output is None:
        # A check of the script must not overwrite the published figures.
        args.output = str(Path(tempfile.gettempdir()) / "levqor-webhook-ack-quick.json" if args.quick else DEFAULT_OUTPUT)
    args.concurrency = [int(value) for value in args.concurrency.split(",")]
    return args


# Events


class EventSource:
    """Distinct paid checkout sessions, each in its own checkout.session.completed event."""

    def __init__(self, prefix):
        from orders import sample_events
        from orders.models import Plan

        self.sample_events = sample_events
        self.prefix = prefix
        self.plans = list(Plan.objects.filter(active=True).order_by("pk"))
        self.count = 0

    def make(self, count):
        events = []
        for _ in range(count):
            number = self.count
            self.count += 1
            session_id = f"cs_test_{self.prefix}_{number:07d}"
            plan = self.plans[number % len(self.plans)]
            session = paid_session(session_id, f"{self.prefix}{number}@example.com", plan, self.sample_events)
            session["payment_intent"] = f"pi_{self.prefix}_{number:07d}"
            events.append(self.sample_events.event("checkout.session.completed", session))
        return events


# Sending and measuring


def process_cpu_seconds(pid):
    """Return user plus system CPU seconds of a process from /proc, or 0.0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat_file:
            fields = stat_file.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime and stime are fields 14 and 15 of proc(5); fields[0] is field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_pids(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children_file:
            return [int(value) for value in children_file.read().split()]
    except OSError:
        return []


def database_backend_pids():
    """Return the PostgreSQL backend pids of this database other than ours; empty on SQLite."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return [row[0] for row in cursor.fetchall()]


def server_cpu(gunicorn_pid):
    """Return (gunicorn workers' CPU seconds, PostgreSQL backends' CPU seconds) so far."""
    web = sum(process_cpu_seconds(pid) for pid in child_pids(gunicorn_pid))
    database = sum(process_cpu_seconds(pid) for pid in database_backend_pids())
    return web, database


def send_events(url, events, clients, sample_events):
    """POST the events from `clients` threads; return (latencies in s, statuses, wall s, client CPU s)."""
    pending = queue.SimpleQueue()
    for event in events:
        pending.put(event)
    latencies, statuses, cpu = [], collections.Counter(), []
    lock = threading.Lock()

    def client():
        cpu_started = time.thread_time()
        while True:
            try:
                event = pending.get_nowait()
            except queue.Empty:
                break
            started = time.perf_counter()
            status = post_event(url, event, WEBHOOK_SECRET, sample_events)
            latency = time.perf_counter() - started
            with lock:
                latencies.append(latency)
                statuses[status] += 1
        with lock:
            cpu.append(time.thread_time() - cpu_started)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, statuses, time.perf_counter() - started, sum(cpu)


def summarise_latencies(latencies):
    return {
        "p50_ms": round(1000 * statistics.median(latencies), 1),
        "p95_ms": round(1000 * percentile(latencies, 0.95), 1),
        "p99_ms": round(1000 * percentile(latencies, 0.99), 1),
        "max_ms": round(1000 * max(latencies), 1),
    }


def measure_level(url, events, clients, sample_events, gunicorn_pid):
    web_before, database_before = server_cpu(gunicorn_pid)
    latencies, statuses, wall, client_cpu = send_events(url, events, clients, sample_events)
    web_after, database_after = server_cpu(gunicorn_pid)
    count = len(events)
    return {
        "clients": clients,
        "events": count,
        **summarise_latencies(latencies),
        "events_per_second": round(count / wall, 1),
        "client_cpu_ms_per_event": round(1000 * client_cpu / count, 2),
        "server_cpu_ms_per_event": round(1000 * (web_after - web_before) / count, 1),
        "database_cpu_ms_per_event": round(1000 * (database_after - database_before) / count, 1),
        "statuses": {str(status): number for status, number in sorted(statuses.items())},
    }


# The parts, each run in a child process with one settings module and one database


class Servers:
    """The loopback doubles and a gunicorn (and db_workers) started for one part of the run."""

    def __init__(self, work_dir, web_workers, task_workers=0):
        self.resend = start_double(ResendDouble(delay=RESEND_DELAY_SECONDS, requests_per_second=RESEND_REQUESTS_PER_SECOND))
        self.telegram = start_double(TelegramDouble(delay=TELEGRAM_DELAY_SECONDS))
        env = {
            **os.environ,
            "RESEND_API_KEY": "re_bench_double",
            "RESEND_API_URL": self.resend.url,
            "TELEGRAM_BOT_TOKEN": TELEGRAM_BOT_TOKEN,
            "TELEGRAM_CHAT_ID": TELEGRAM_CHAT_ID,
            "TELEGRAM_API_BASE": self.telegram.url.rstrip("/"),
            # gunicorn.conf.py restarts a worker after about 1000 requests,
            # which would drop its CPU time from the counts.
            "GUNICORN_MAX_REQUESTS": "0",
        }
        self.work_dir = work_dir
        self.base_url, self.processes = start_processes(env, work_dir, web_workers, task_workers)

    def __enter__(self):
        from djstripe.models import WebhookEndpoint

        wait_until_healthy(self.base_url, self.processes, time.monotonic() + 120)
        endpoint = WebhookEndpoint.objects.get()
        self.url = f"{self.base_url}/stripe/webhook/{endpoint.djstripe_uuid}/"
        return self

    def __exit__(self, *exc_info):
        self.processes.close()
        self.resend.shutdown()
        self.telegram.shutdown()

    @property
    def gunicorn_pid(self):
        return self.processes.running["gunicorn"].pid

    def locked_errors(self):
        """Return how often "database is locked" appears in the gunicorn log."""
        return (self.work_dir / "gunicorn.log").read_text(errors="replace").count("database is locked")


def run_ack(spec):
    """Send each concurrency level's events to one mode; return the per-level figures."""
    source = EventSource(spec["mode"])
    count = spec["events"]
    with Servers(Path(spec["work_dir"]), spec["web_workers"]) as servers:
        send_events(servers.url, source.make(WARM_UP_EVENTS), 1, source.sample_events)
        levels = [
            measure_level(servers.url, source.make(max(count, 3 * clients)), clients, source.sample_events, servers.gunicorn_pid)
            for clients in spec["concurrency"]
        ]
        locked = servers.locked_errors()
        emails = {"accepted": sum(servers.resend.accepted.values()), "rate_limited": servers.resend.rate_limited}
    return {"levels": levels, "database_is_locked": locked, "resend": emails}


def run_e2e(spec):
    """Send orders at once with two db_workers running; return the times until both emails of each are sent."""
    from onboarding.models import OutboxEmail
    from orders.models import DFYOrder

    source = EventSource("e2e")
    events = source.make(spec["orders"])
    with Servers(Path(spec["work_dir"]), spec["web_workers"], task_workers=2) as servers:
        sent_at = time.time()
        latencies, statuses, wall, _ = send_events(servers.url, events, E2E_CLIENTS, source.sample_events)
        deadline = time.monotonic() + spec["max_seconds"]
        session_ids = [event["data"]["object"]["id"] for event in events]
        while time.monotonic() < deadline:
            sent = OutboxEmail.objects.filter(
                order__stripe_checkout_session_id__in=session_ids, template__in=["welcome", "intake"], state="sent"
            ).count()
            if sent >= 2 * len(events):
                break
            time.sleep(0.5)
        drained = time.time() - sent_at
        resend = {"accepted": sum(servers.resend.accepted.values()), "rate_limited": servers.resend.rate_limited}

    last_sent = {}
    rows = OutboxEmail.objects.filter(
        order__stripe_checkout_session_id__in=session_ids, template__in=["welcome", "intake"], state="sent"
    ).values_list("order_id", "sent_at")
    per_order = collections.defaultdict(list)
    for order_id, sent in rows:
        per_order[order_id].append(sent)
    for order_id, times in per_order.items():
        if len(times) == 2:
            last_sent[order_id] = max(times).timestamp() - sent_at
    e2e = sorted(last_sent.values())
    attempts = OutboxEmail.objects.filter(order__in=DFYOrder.objects.filter(stripe_checkout_session_id__in=session_ids))
    return {
        "orders": len(events),
        "clients": E2E_CLIENTS,
        "acknowledgement": summarise_latencies(latencies),
        "statuses": {str(status): number for status, number in statuses.items()},
        "orders_with_both_emails_sent": len(e2e),
        "e2e_p50_s": round(statistics.median(e2e), 1) if e2e else None,
        "e2e_p95_s": round(percentile(e2e, 0.95), 1) if e2e else None,
        "e2e_max_s": round(max(e2e), 1) if e2e else None,
        "seconds_until_done_or_timeout": round(drained, 1),
        "email_attempts": sum(attempts.values_list("attempts", flat=True)),
        "resend": resend,
    }


def run_growth(spec):
    """Measure the concurrency-1 acknowledgement p50 on an empty order table and after bulk-loading orders."""
    from orders.models import DFYOrder

    source = EventSource("growth")
    with Servers(Path(spec["work_dir"]), spec["web_workers"]) as servers:
        send_events(servers.url, source.make(WARM_UP_EVENTS), 1, source.sample_events)
        empty = measure_level(servers.url, source.make(spec["events"]), 1, source.sample_events, servers.gunicorn_pid)
        started = time.monotonic()
        bulk_load_orders(spec["orders"])
        load_seconds = time.monotonic() - started
        send_events(servers.url, source.make(WARM_UP_EVENTS), 1, source.sample_events)
        full = measure_level(servers.url, source.make(spec["events"]), 1, source.sample_events, servers.gunicorn_pid)
    return {"empty": empty, "loaded": full, "orders_loaded": spec["orders"], "orders_after": DFYOrder.objects.count(),
            "load_seconds": round(load_seconds, 1)}


def bulk_load_orders(count):
    """Insert `count` delivered orders with one statement (PostgreSQL) or one executemany (SQLite), then ANALYZE."""
    from django.db import connection, transaction
    from django.utils import timezone

    from orders.models import DFYOrder

    now = timezone.now()
    fixed = {"status": DFYOrder.Status.DELIVERED, "payment_status": "paid", "amount_total": 9900, "currency": "gbp",
             "mode": "dfy", "plan": "starter", "tier": "bulk", "paid_at": now, "created_at": now, "updated_at": now}
    numbered = {"stripe_checkout_session_id": "cs_test_bulk_{}", "customer_email": "bulk{}@example.com",
                "stripe_payment_intent_id": "pi_bulk_{}"}
    fields = [field for field in DFYOrder._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    table = connection.ops.quote_name(DFYOrder._meta.db_table)

    def value(field):
        raw = fixed[field.name] if field.name in fixed else field.get_default()
        return field.get_db_prep_save(raw, connection)

    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            expressions, params = [], []
            for field in fields:
                if field.name in numbered:
                    expressions.append("replace(%s, '{}', g::text)")
                    params.append(numbered[field.name])
                else:
                    expressions.append("%s")
                    params.append(value(field))
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT {', '.join(expressions)} FROM generate_series(1, %s) AS g",
                [*params, count],
            )
        else:
            constants = [value(field) for field in fields]
            placeholders = ", ".join(["%s"] * len(fields))
            batch = 50_000
            for first in range(1, count + 1, batch):
                rows = [
                    [numbered[field.name].format(number) if field.name in numbered else constant
                     for field, constant in zip(fields, constants)]
                    for number in range(first, min(first + batch, count + 1))
                ]
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", rows)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table}")


# The per-request breakdown


class SectionTimer:
    """Exclusive wall and CPU time per named section: a nested section's time counts only for itself."""

    def __init__(self):
        self.stack = []
        self.totals = collections.defaultdict(lambda: [0.0, 0.0, 0])

    def reset(self):
        self.totals.clear()

    def wrap(self, owner, attribute, name):
        original = owner.__dict__.get(attribute, getattr(owner, attribute))
        is_classmethod = isinstance(original, classmethod)
        function = original.__func__ if is_classmethod else original

        @functools.wraps(function)
        def timed(*args, **kwargs):
            self.stack.append([time.perf_counter(), time.thread_time(), 0.0, 0.0])
            try:
                return function(*args, **kwargs)
            finally:
                started, cpu_started, child_wall, child_cpu = self.stack.pop()
                wall = time.perf_counter() - started
                cpu = time.thread_time() - cpu_started
                total = self.totals[name]
                total[0] += wall - child_wall
                total[1] += cpu - child_cpu
                total[2] += 1
                if self.stack:
                    self.stack[-1][2] += wall
                    self.stack[-1][3] += cpu

        setattr(owner, attribute, classmethod(timed) if is_classmethod else timed)


# (owner module or class path, attribute, section, whose code)
SECTIONS = [
    ("django.core.handlers.base.BaseHandler", "get_response", "Django request handling and middleware", "Django"),
    ("django.db.backends.base.base.BaseDatabaseWrapper", "commit", "commits", "database"),
    ("djstripe.views", "get_object_or_404", "endpoint lookup", "dj-stripe"),
    ("orders.webhooks", "get_object_or_404", "endpoint lookup", "dj-stripe"),
    ("djstripe.models.WebhookEventTrigger", "save", "trigger insert and update", "dj-stripe"),
    ("djstripe.models.WebhookEventTrigger", "validate", "signature check", "dj-stripe"),
    ("djstripe.models.Event", "process", "Event build and signal", "dj-stripe"),
    ("orders.webhooks", "check_request", "our request checks", "ours"),
    ("orders.webhooks", "check_event", "our request checks", "ours"),
    ("orders.webhook_checks", "unprocessable_problem", "our request checks", "ours"),
    ("orders.services", "handle_checkout_event", "our order, activity rows", "ours"),
    ("onboarding", "start", "our outbox rows and task", "ours"),
]


def resolve(path):
    import importlib

    try:
        return importlib.import_module(path)
    except ImportError:
        module, _, name = path.rpartition(".")
        return getattr(importlib.import_module(module), name)


def run_profile(spec):
    """Handle events in this process through Django's test client with timers around each section."""
    from django.test import Client

    source = EventSource(f"profile{spec['mode']}")
    from djstripe.models import WebhookEndpoint

    endpoint = WebhookEndpoint.objects.get()
    path = f"/stripe/webhook/{endpoint.djstripe_uuid}/"
    timer = SectionTimer()
    for owner, attribute, name, _ in SECTIONS:
        timer.wrap(resolve(owner), attribute, name)
    client = Client(HTTP_HOST="127.0.0.1")

    def handle(events):
        for event in events:
            payload = source.sample_events.encode(event)
            signature = source.sample_events.signature_header(payload, WEBHOOK_SECRET)
            response = client.post(path, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature)
            if response.status_code != 200:
                raise SystemExit(f"Profile request failed with {response.status_code}: {response.content[:200]!r}")

    handle(source.make(WARM_UP_EVENTS))
    timer.reset()
    count = spec["events"]
    handle(source.make(count))
    owners = {name: whose for _, _, name, whose in SECTIONS}
    return {
        "events": count,
        "sections": {
            name: {"whose": owners[name], "wall_ms": round(1000 * wall / count, 2), "cpu_ms": round(1000 * cpu / count, 2),
                   "calls_per_event": round(calls / count, 2)}
            for name, (wall, cpu, calls) in timer.totals.items()
        },
    }


CHILD_PARTS = {"ack": run_ack, "e2e": run_e2e, "growth": run_growth, "profile": run_profile}


def run_child(spec_json):
    spec = json.loads(spec_json)
    configure_django(dict(os.environ))
    seed()
    result = CHILD_PARTS[spec["part"]](spec)
    Path(spec["result_file"]).write_text(json.dumps(result))
    return 0


# The parent: databases, parts and the report


def fresh_database(database, name, args, work_dir):
    """Return the DATABASE_URL of a new, empty database for one part."""
    if database == "sqlite":
        path = work_dir / f"{name}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return prepare_database(None, work_dir, sqlite_name=path.name)

    import psycopg2

    base_name, arguments = postgres_arguments(args.database_url)
    database_name = f"{base_name}_{name}"
    admin = psycopg2.connect(dbname="postgres", **arguments)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{database_name}"')
    admin.close()
    url = args.database_url.rsplit("/", 1)[0] + "/" + database_name
    return prepare_database(url, work_dir)


def run_part(part, database, mode, spec, args, work_dir, deadline):
    name = f"{part}_{mode}"
    part_dir = work_dir / database / name
    part_dir.mkdir(parents=True, exist_ok=True)
    database_url = fresh_database(database, name, args, work_dir / database)
    env = production_env(database_url, part_dir, MODES[mode])
    with open(part_dir / "migrate.log", "w") as logs:
        build_tables(env, logs)
    result_file = part_dir / "result.json"
    spec = {**spec, "part": part, "mode": mode, "work_dir": str(part_dir), "result_file": str(result_file)}
    print(f"{datetime.datetime.now():%H:%M:%S} {database} {part} {mode}", file=sys.stderr, flush=True)
    with open(part_dir / "child.log", "w") as logs:
        completed = subprocess.run(
            [sys.executable, __file__, "--child", json.dumps(spec)],
            cwd=BASE_DIR, env=env, stdout=logs, stderr=subprocess.STDOUT,
            timeout=max(60, deadline - time.monotonic()),
        )
    if completed.returncode != 0:
        raise SystemExit(f"{database} {part} {mode} failed: see {part_dir / 'child.log'}")
    return json.loads(result_file.read_text())


def machine_facts(args):
    import importlib.metadata

    import django

    with open("/proc/meminfo") as meminfo:
        memory_kib = int(meminfo.readline().split()[1])
    facts = {
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 2**20),
        "python": platform.python_version(),
        "django": django.get_version(),
        "dj_stripe": importlib.metadata.version("dj-stripe"),
        "sqlite": __import__("sqlite3").sqlite_version,
    }
    if args.database_url:
        import psycopg2

        name, arguments = postgres_arguments(args.database_url)
        with psycopg2.connect(dbname="postgres", **arguments) as connection, connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            facts["postgresql"] = cursor.fetchone()[0]
    return facts


def run_all(args):
    started = time.monotonic()
    deadline = started + 3600
    work_dir = Path(args.work_dir or tempfile.mkdtemp(prefix="levqor-ack-")).resolve()
    databases = []
    if not args.no_sqlite:
        databases.append("sqlite")
    if args.database_url:
        databases.append("postgresql")
    if not databases:
        raise SystemExit("Nothing to measure: give --database-url or leave out --no-sqlite.")

    report = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_facts(args),
        "load_average_before": os.getloadavg(),
        "load_average_during": [],
        "settings": {"web_workers": args.web_workers, "resend_delay_s": RESEND_DELAY_SECONDS,
                     "resend_requests_per_second": RESEND_REQUESTS_PER_SECOND, "telegram_delay_s": TELEGRAM_DELAY_SECONDS},
        "databases": {},
    }
    common = {"web_workers": args.web_workers, "concurrency": args.concurrency}
    for database in databases:
        results = report["databases"][database] = {"ack": {}, "profile": {}}
        for mode in MODES:
            events = args.baseline_events if mode == "baseline" else args.events
            results["ack"][mode] = run_part("ack", database, mode, {**common, "events": events}, args, work_dir, deadline)
            report["load_average_during"].append(os.getloadavg()[0])
        results["e2e"] = run_part("e2e", database, "ours", {**common, "orders": args.e2e_orders,
                                                            "max_seconds": args.e2e_max_seconds}, args, work_dir, deadline)
        results["growth"] = run_part("growth", database, "ours", {**common, "orders": args.growth_orders,
                                                                  "events": args.growth_events}, args, work_dir, deadline)
        report["load_average_during"].append(os.getloadavg()[0])
        for mode in ("bare", "ours"):
            results["profile"][mode] = run_part("profile", database, mode, {"events": args.profile_events}, args, work_dir, deadline)
    report["seconds"] = round(time.monotonic() - started)
    report["targets"] = evaluate_targets(report)
    report["work_dir"] = str(work_dir)
    return report


# Targets and tables


def level(report, database, mode, clients):
    return next(item for item in report["databases"][database]["ack"][mode]["levels"] if item["clients"] == clients)


def evaluate_targets(report):
    """Return one line per target and database: the figure, the limit and whether it was met."""
    targets = []
    for database, results in report["databases"].items():
        levels = [item["clients"] for item in results["ack"]["ours"]["levels"]]
        first = levels[0]
        ours, bare = level(report, database, "ours", first), level(report, database, "bare", first)
        ratio = ours["p50_ms"] / bare["p50_ms"]
        targets.append({"database": database, "target": f"ours p50 at most 1.25 x bare p50 (concurrency {first})",
                        "figure": round(ratio, 2), "met": ratio <= 1.25})
        for clients in levels:
            speedup = level(report, database, "baseline", clients)["p50_ms"] / level(report, database, "ours", clients)["p50_ms"]
            targets.append({"database": database, "target": f"baseline p50 at least 10 x ours (concurrency {clients})",
                            "figure": round(speedup, 1), "met": speedup >= 10})
        middle = 8 if 8 in levels else levels[-1]
        tail = level(report, database, "ours", middle)
        errors = sum(number for status, number in tail["statuses"].items() if status != "200")
        targets.append({"database": database, "target": f"ours p99 at most 4 x p50, no errors (concurrency {middle})",
                        "figure": round(tail["p99_ms"] / tail["p50_ms"], 2),
                        "met": tail["p99_ms"] <= 4 * tail["p50_ms"] and errors == 0
                        and results["ack"]["ours"]["database_is_locked"] == 0})
        if database == "postgresql":
            best = max(item["events_per_second"] for item in results["ack"]["ours"]["levels"])
            targets.append({"database": database, "target": "ours at least 60 events/s (2 gunicorn workers)",
                            "figure": best, "met": best >= 60})
        growth = results["growth"]
        change = growth["loaded"]["p50_ms"] / growth["empty"]["p50_ms"] - 1
        targets.append({"database": database, "target": f"p50 within 20% from 0 to {growth['orders_loaded']:,} orders",
                        "figure": f"{100 * change:+.0f}%", "met": abs(change) <= 0.2})
    return targets


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(["---"] + ["---:"] * (len(header) - 1)) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def render_tables(report):
    out = []
    rows = []
    for database, results in report["databases"].items():
        for mode, result in results["ack"].items():
            for item in result["levels"]:
                errors = sum(number for status, number in item["statuses"].items() if status != "200")
                rows.append([database, mode, item["clients"], item["events"], item["p50_ms"], item["p95_ms"], item["p99_ms"],
                             item["max_ms"], item["events_per_second"], item["server_cpu_ms_per_event"],
                             item["database_cpu_ms_per_event"], item["client_cpu_ms_per_event"], errors])
    out.append(markdown_table(["database", "mode", "clients", "events", "p50 ms", "p95 ms", "p99 ms", "max ms", "events/s",
                               "server CPU ms/event", "PostgreSQL CPU ms/event", "client CPU ms/event", "non-200"], rows))

    rows = []
    for database, results in report["databases"].items():
        for item in results["ack"]["ours"]["levels"]:
            clients = item["clients"]
            bare, baseline = level(report, database, "bare", clients), level(report, database, "baseline", clients)
            rows.append([database, clients, f"{item['p50_ms'] / bare['p50_ms']:.2f}", f"{item['p99_ms'] / bare['p99_ms']:.2f}",
                         f"{item['events_per_second'] / bare['events_per_second']:.2f}",
                         f"{baseline['p50_ms'] / item['p50_ms']:.1f}", f"{baseline['p99_ms'] / item['p99_ms']:.1f}",
                         f"{item['events_per_second'] / baseline['events_per_second']:.1f}"])
    out.append(markdown_table(["database", "clients", "ours/bare p50", "ours/bare p99", "ours/bare events/s",
                               "baseline/ours p50", "baseline/ours p99", "ours/baseline events/s"], rows))

    rows = []
    for database, results in report["databases"].items():
        e2e = results["e2e"]
        baseline = results["ack"]["baseline"]["resend"]
        rows.append([database, e2e["orders"], e2e["acknowledgement"]["p50_ms"], e2e["orders_with_both_emails_sent"],
                     e2e["e2e_p50_s"], e2e["e2e_p95_s"], e2e["e2e_max_s"], e2e["email_attempts"], e2e["resend"]["rate_limited"],
                     f"{baseline['accepted']} sent, {baseline['rate_limited']} rejected"])
    out.append(markdown_table(["database", "orders at once", "ack p50 ms", "orders with both emails sent", "e2e p50 s",
                               "e2e p95 s", "e2e max s", "email attempts", "429 answers", "baseline emails"], rows))

    rows = []
    for database, results in report["databases"].items():
        bare, ours = results["profile"]["bare"]["sections"], results["profile"]["ours"]["sections"]
        names = list(dict.fromkeys([*bare, *ours]))
        for name in names:
            whose = (ours.get(name) or bare.get(name))["whose"]
            cells = [f"{section[name]['wall_ms']:.2f} / {section[name]['cpu_ms']:.2f}" if name in section else "-"
                     for section in (bare, ours)]
            rows.append([database, name, whose, *cells])
        rows.append([database, "total", "", *(f"{sum(s['wall_ms'] for s in section.values()):.2f} / "
                                               f"{sum(s['cpu_ms'] for s in section.values()):.2f}" for section in (bare, ours))])
    out.append(markdown_table(["database", "section (exclusive time)", "whose code", "bare: wall / CPU ms",
                               "ours: wall / CPU ms"], rows))

    rows = []
    for database, results in report["databases"].items():
        growth = results["growth"]
        rows.append([database, growth["empty"]["p50_ms"], growth["loaded"]["p50_ms"], f"{growth['orders_loaded']:,}",
                     growth["load_seconds"], growth["empty"]["p99_ms"], growth["loaded"]["p99_ms"]])
    out.append(markdown_table(["database", "p50 ms, 0 orders", "p50 ms, loaded", "orders loaded", "load s",
                               "p99 ms, 0 orders", "p99 ms, loaded"], rows))

    out.append(markdown_table(["database", "target", "figure", "met"],
                              [[item["database"], item["target"], item["figure"], "yes" if item["met"] else "no"]
                               for item in report["targets"]]))
    return "\n\n".join(out)


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        return run_child(args.child)
    if args.tables_from:
        print(render_tables(json.loads(Path(args.tables_from).read_text())))
        return 0

    report = run_all(args)
    Path(args.output).write_text(json.dumps(report, indent=1) + "\n")
    print(render_tables(report))
    print(f"\nFigures: {args.output}; load average before {report['load_average_before']}, "
          f"during {report['load_average_during']}; {report['seconds']} s; logs in {report['work_dir']}")
    if not args.work_dir:
        shutil.rmtree(report["work_dir"], ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
