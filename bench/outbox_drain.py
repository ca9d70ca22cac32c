#!/usr/bin/env python3
"""Time how fast the outbox drains through a rate-limited Resend double, and how soon a lone order's emails go out.

It starts, on 127.0.0.1 only, gunicorn with the production settings and a
Resend API double in this process. The double takes --resend-seconds per
accepted request and admits at most --resend-limit requests in any
one-second window, as Resend's default team limit of 2 requests per second
does. A request over the limit gets a 429 response with Resend's
ratelimit-* and retry-after headers, straight away.

Backlog: with no task worker running it sends --orders signed
checkout.session.completed webhooks (two emails each), then starts one and
then two db_worker processes (a new backlog for each count) and times the
drain: first and last send, emails per second, 429 responses, retries, and a
check that the double accepted every email exactly once.

No backlog: with one db_worker running, and a first order sent through it
unmeasured, it sends --single-orders webhooks --gap seconds apart and
reports, per order, the time from the webhook's 200 response to both emails
being marked sent (p50, p95, max).

    .venv/bin/python bench/outbox_drain.py                 # SQLite file in a new folder
    .venv/bin/python bench/outbox_drain.py --database-url postgres://levqor:levqor@127.0.0.1:55432/levqor_drain

Exit status 0 means every email was sent exactly once and the output ends
with "problems: none"; each case prints one JSON line as it ends and a block
of its figures at the end. docs/benchmarks.md records results.
"""

import argparse
import collections
import json
import math
import statistics
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness  # noqa: E402
from bench.soak import COMPLETED  # noqa: E402

RATE_WINDOW_SECONDS = 1.0


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=200, help="Orders per backlog, two emails each (default 200).")
    parser.add_argument("--task-workers", default="1,2", help="Comma-separated db_worker counts, one backlog each (default 1,2).")
    parser.add_argument("--single-orders", type=int, default=30, help="Orders sent one at a time with no backlog (default 30).")
    parser.add_argument("--gap", type=float, default=2.0, help="Seconds between the single orders (default 2).")
    parser.add_argument("--resend-seconds", type=float, default=0.15, help="Seconds the double takes per accepted request (default 0.15).")
    parser.add_argument("--resend-limit", type=int, default=2, help="Requests the double admits per second (default 2).")
    parser.add_argument("--database-url", help="PostgreSQL URL of an empty or missing database. Default: a new SQLite file.")
    parser.add_argument("--max-seconds", type=int, default=1800, help="Give up on a phase after this many seconds (default 1800).")
    parser.add_argument("--work-dir", help="Folder for the SQLite file and the logs. Default: a new temporary folder.")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE",
        help="Extra environment for gunicorn and the workers, e.g. RESEND_RATE_LIMIT_PER_SECOND=0 (repeatable).",
    )
    return parser.parse_args()


# The Resend API double


class RateLimitedResend(ThreadingHTTPServer):
    """A Resend API double with a latency, a rate limit over a sliding one-second window, and idempotency keys."""

    daemon_threads = True

    def __init__(self, seconds_per_request, limit):
        super().__init__(("127.0.0.1", 0), RateLimitedResendHandler)
        self.seconds_per_request = seconds_per_request
        self.limit = limit
        self.lock = threading.Lock()
        self.admitted = collections.deque()
        self.requests = 0
        self.rate_limited = 0
        self.accepted = collections.Counter()
        self.responses_by_key = {}
        self.message_ids = set()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/"

    def admit(self):
        """Count one request; return None when the limit admits it, else the seconds until it would."""
        now = time.monotonic()
        with self.lock:
            self.requests += 1
            while self.admitted and self.admitted[0] <= now - RATE_WINDOW_SECONDS:
                self.admitted.popleft()
            if len(self.admitted) >= self.limit:
                self.rate_limited += 1
                return self.admitted[0] + RATE_WINDOW_SECONDS - now
            self.admitted.append(now)
            return None

    def accept(self, message, key):
        """Return the response body for an admitted request; a repeated idempotency key gets the first one."""
        with self.lock:
            if key and key in self.responses_by_key:
                return self.responses_by_key[key]
            body = {"id": str(uuid.uuid4())}
            self.accepted[(message["to"][0], message["subject"])] += 1
            self.message_ids.add(body["id"])
            if key:
                self.responses_by_key[key] = body
            return body

    def counts(self):
        with self.lock:
            return self.requests, self.rate_limited, sum(self.accepted.values())


class RateLimitedResendHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path.rstrip("/") != "/emails":
            return self.reply(404, {"message": "not found"})

        wait = self.server.admit()
        limit = {"ratelimit-limit": str(self.server.limit), "ratelimit-policy": f"{self.server.limit};w=1"}
        if wait is not None:
            # Resend's 429: the body names the error, the headers give the wait in whole seconds.
            seconds = str(max(1, math.ceil(wait)))
            return self.reply(429, {
                "statusCode": 429,
                "name": "rate_limit_exceeded",
                "message": f"Too many requests. You can only make {self.server.limit} requests per second.",
            }, {**limit, "ratelimit-remaining": "0", "ratelimit-reset": seconds, "retry-after": seconds})

        time.sleep(self.server.seconds_per_request)
        reply = self.server.accept(json.loads(body), self.headers.get("Idempotency-Key"))
        return self.reply(200, reply, limit)

    def reply(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass


# Orders


def send_orders(url, prefix, count, gap=0.0):
    """Send one signed paid checkout webhook per order; return {session id: time.time() of the 200 response}."""
    from orders import sample_events
    from orders.models import Plan

    plan = Plan.objects.get(tier="STARTER")
    acknowledged = {}
    for number in range(count):
        session_id = f"cs_test_{prefix}_{number:05d}"
        session = harness.paid_session(session_id, f"{prefix}{number}@example.com", plan, sample_events)
        status, body = sample_events.deliver(url, sample_events.event(COMPLETED, session), harness.WEBHOOK_SECRET)
        acknowledged[session_id] = time.time()
        if status != 200:
            raise SystemExit(f"The webhook for {session_id} returned HTTP {status}: {body[:300]}")
        if gap:
            time.sleep(gap)
    return acknowledged


ONBOARDING_TEMPLATES = ("welcome", "intake")


def onboarding_rows(session_ids):
    """Return the welcome and intake rows of these orders; the intake reminder is due days later."""
    from onboarding.models import OutboxEmail

    return OutboxEmail.objects.filter(order__stripe_checkout_session_id__in=session_ids, template__in=ONBOARDING_TEMPLATES)


def emails_of(session_ids):
    return list(onboarding_rows(session_ids).select_related("order"))


def wait_for_sent(session_ids, deadline):
    """Poll until every email of these orders is sent or failed; return True when none is left waiting."""
    from django.db import close_old_connections

    from onboarding.models import OutboxEmail

    waiting = [OutboxEmail.State.QUEUED, OutboxEmail.State.SENDING]
    while time.monotonic() < deadline:
        rows = onboarding_rows(session_ids)
        if rows.count() == 2 * len(session_ids) and not rows.filter(state__in=waiting).exists():
            return True
        time.sleep(0.25)
        close_old_connections()
    return False


def attempt_counts(emails):
    from onboarding.models import DeliveryAttempt

    outcomes = DeliveryAttempt.objects.filter(
        content_type__model="outboxemail", object_id__in=[email.pk for email in emails]
    ).values_list("outcome", "status_code")
    return collections.Counter(outcomes)


def check_once(emails, double):
    """Return the problems with exactly-once delivery of these rows."""
    problems = []
    unsent = [email for email in emails if email.state != "sent"]
    if unsent:
        problems.append(f"{len(unsent)} emails not sent, e.g. {unsent[0].pk} {unsent[0].state}: {unsent[0].last_error[:200]}")
    for email in emails:
        if email.state == "sent" and email.provider_message_id not in double.message_ids:
            problems.append(f"email {email.pk} is sent with a message id the double never issued")
    doubled = [key for key, count in double.accepted.items() if count > 1]
    if doubled:
        problems.append(f"the double accepted {len(doubled)} emails more than once, e.g. {doubled[0]}")
    return problems


# Phases


def drain_phase(url, env, work_dir, double, workers, args):
    prefix = f"drain{workers}w"
    session_ids = list(send_orders(url, prefix, args.orders))
    requests_before, limited_before, accepted_before = double.counts()

    started = time.time()
    processes = harness.start_task_workers(env, workers, work_dir, name=prefix)
    try:
        finished = wait_for_sent(session_ids, time.monotonic() + args.max_seconds)
    finally:
        processes.close()

    emails = emails_of(session_ids)
    requests, limited, accepted = (now - before for now, before in zip(double.counts(), (requests_before, limited_before, accepted_before)))
    sent_times = sorted(email.sent_at.timestamp() for email in emails if email.sent_at)
    attempts = attempt_counts(emails)
    problems = check_once(emails, double)
    if not finished:
        problems.append(f"not drained within --max-seconds {args.max_seconds}")
    if accepted != 2 * args.orders:
        problems.append(f"the double accepted {accepted} emails for {2 * args.orders} rows")

    span = sent_times[-1] - sent_times[0] if len(sent_times) > 1 else 0.0
    return {
        "case": f"backlog, {workers} worker{'s' if workers > 1 else ''}",
        "emails": len(emails),
        "drain s (worker start to last send)": round(sent_times[-1] - started, 1) if sent_times else None,
        "emails/s (first to last send)": round((len(sent_times) - 1) / span, 2) if span else None,
        "requests to Resend": requests,
        "429 responses": limited,
        "retries": sum(count for (outcome, _), count in attempts.items() if outcome == "retry"),
        "max attempts of one email": max((email.attempts for email in emails), default=0),
        "problems": problems,
    }


def single_phase(url, env, work_dir, double, args):
    processes = harness.start_task_workers(env, 1, work_dir, name="single")
    try:
        # The worker's start-up is not part of an order's latency, so one
        # unmeasured order goes first (its emails wait for the worker).
        warm_up = send_orders(url, "warmup", 1)
        wait_for_sent(list(warm_up), time.monotonic() + args.max_seconds)
        requests_before, limited_before, _ = double.counts()
        acknowledged = send_orders(url, "single", args.single_orders, gap=args.gap)
        finished = wait_for_sent(list(acknowledged), time.monotonic() + args.max_seconds)
    finally:
        processes.close()

    emails = emails_of(list(acknowledged))
    last_sent = collections.defaultdict(float)
    for email in emails:
        if email.sent_at:
            session_id = email.order.stripe_checkout_session_id
            last_sent[session_id] = max(last_sent[session_id], email.sent_at.timestamp())
    latencies = [last_sent[session_id] - acked for session_id, acked in acknowledged.items() if session_id in last_sent]
    problems = check_once(emails, double)
    if not finished:
        problems.append(f"not sent within --max-seconds {args.max_seconds}")
    requests, limited, _ = double.counts()
    return {
        "case": f"no backlog, 1 worker, one order every {args.gap:g} s",
        "emails": len(emails),
        "acknowledgement to both emails sent p50/p95/max s": [
            round(value, 2) for value in (statistics.median(latencies), harness.percentile(latencies, 0.95), max(latencies))
        ] if latencies else None,
        "requests to Resend": requests - requests_before,
        "429 responses": limited - limited_before,
        "within 5 s": sum(latency <= 5 for latency in latencies),
        "problems": problems,
    }


def main():
    args = parse_args()
    work_dir = Path(args.work_dir or tempfile.mkdtemp(prefix="levqor-drain-")).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    database_url = harness.prepare_database(args.database_url, work_dir)

    env = harness.production_env(database_url, work_dir)
    env.update(setting.split("=", 1) for setting in args.env)
    with open(work_dir / "migrate.log", "w") as logs:
        harness.build_tables(env, logs)
    harness.configure_django(env)
    harness.seed()

    double = RateLimitedResend(args.resend_seconds, args.resend_limit)
    threading.Thread(target=double.serve_forever, daemon=True).start()
    env.update(RESEND_API_KEY="re_drain_double", RESEND_API_URL=double.url)

    base_url, processes = harness.start_processes(env, work_dir, web_workers=2, task_workers=0)
    results = []
    try:
        harness.wait_until_healthy(base_url, processes, time.monotonic() + 60)
        from djstripe.models import WebhookEndpoint

        url = f"{base_url}/stripe/webhook/{WebhookEndpoint.objects.get().djstripe_uuid}/"
        for workers in (int(count) for count in args.task_workers.split(",") if count):
            results.append(drain_phase(url, env, work_dir, double, workers, args))
            print(json.dumps(results[-1]), flush=True)
        if args.single_orders:
            results.append(single_phase(url, env, work_dir, double, args))
            print(json.dumps(results[-1]), flush=True)
    finally:
        processes.close()
        double.shutdown()

    print(f"\ndatabase: {'postgresql' if database_url.startswith('postgres') else 'sqlite'}, work folder: {work_dir}")
    problems = [problem for result in results for problem in result.pop("problems")]
    for result in results:
        print(f"\n{result.pop('case')}")
        for key, value in result.items():
            print(f"  {key}: {value}")
    print("\nproblems:", problems or "none")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
