"""The main job on this machine, end to end, with nothing but Python and SQLite."""

import email
import email.policy
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections
from django.db.models import Q
from django.utils import timezone
from djstripe.models import WebhookEndpoint

from levqor import fresh_schema
from levqor.demo_telegram import DemoTelegram
from onboarding.models import OutboxEmail, StaffAlert
from orders import sample_events
from orders.models import DFYOrder
from orders.stripe_setup import configure_endpoint

HOST = "127.0.0.1"
SEPARATOR = "=" * 72


class Command(BaseCommand):
    help = (
        "Run the main job on 127.0.0.1: migrate, set up the webhook endpoint, start gunicorn, the task "
        "worker and the outbox sweeper, send signed sample events, then print the emails, the staff "
        "alerts, and the orders with their activity."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000, help="Port for gunicorn on 127.0.0.1 (default 8000).")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2).")
        parser.add_argument(
            "--exit", action="store_true", help="Stop the server and worker after the summary instead of serving."
        )
        parser.add_argument(
            "--email-timeout", type=float, default=60, help="Seconds to wait for the worker to send the emails and staff alerts."
        )

    def handle(self, *args, port, workers, exit, email_timeout, **options):
        base_url = f"http://{HOST}:{port}"
        if not port_is_free(port):
            raise CommandError(f"Port {port} on {HOST} is in use: stop what runs there or pass --port.")

        self.heading("1. Database")
        self.stdout.write("Applying migrations...")
        fresh_schema.build(verbosity=0)
        self.stdout.write(f"Database: {settings.DATABASES['default']['NAME']}")

        self.heading("2. Stripe webhook endpoint (no call to Stripe)")
        secret = settings.STRIPE_WEBHOOK_SECRET or existing_secret() or f"whsec_demo_{secrets.token_hex(16)}"
        endpoint, _ = configure_endpoint(secret, base_url)
        self.stdout.write(f"Endpoint {endpoint.id} at {endpoint.url}")
        password = self.ensure_admin_user()

        self.heading("3. Server, task worker and sweeper")
        log_dir = settings.VAR_DIR / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        telegram = self.start_telegram()
        processes = self.start_processes(base_url, workers, log_dir, telegram)
        # SIGTERM becomes SystemExit, so the finally block below still stops the children.
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
        try:
            wait_until_healthy(base_url, processes, log_dir)
            self.stdout.write(
                f"gunicorn ({workers} workers) on {base_url}, db_worker and outbox_sweeper running; logs in {log_dir}"
            )

            self.heading("4. Signed sample events")
            run_started = time.time()
            sessions = self.send_sample_events(endpoint, secret)

            self.heading("5. Emails")
            self.wait_for_delivery(sessions, email_timeout, log_dir)
            self.print_emails(sessions, run_started)

            self.heading("6. Staff alerts")
            self.print_alerts(sessions, telegram)

            self.heading("7. Orders and their activity")
            self.print_orders(sessions)

            self.heading("8. Admin")
            self.stdout.write(f"Open {base_url}/admin/ and log in as 'admin' with password {password}")
            if exit:
                return
            self.stdout.write("Serving until you press Ctrl+C.")
            wait_for_interrupt(processes)
        finally:
            stop_processes(processes)
            if telegram is not None:
                telegram.stop()

    def heading(self, title):
        self.stdout.write(f"\n{SEPARATOR}\n{title}\n{SEPARATOR}")

    def ensure_admin_user(self):
        password = os.environ.get("DEMO_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        user, created = get_user_model().objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True, "email": "admin@levqor.example"}
        )
        user.set_password(password)
        user.save()
        self.stdout.write(f"{'Created' if created else 'Reset'} the admin user 'admin' with a new password.")
        return password

    def start_telegram(self):
        """Start a Telegram stand-in on 127.0.0.1 unless TELEGRAM_BOT_TOKEN is set; return it or None."""
        if settings.TELEGRAM_BOT_TOKEN:
            self.stdout.write("Staff alerts go to the Telegram chat in TELEGRAM_CHAT_ID.")
            return None
        telegram = DemoTelegram(HOST).start()
        self.stdout.write(f"Telegram stand-in for staff alerts on {telegram.api_base} (TELEGRAM_BOT_TOKEN is not set)")
        return telegram

    def start_processes(self, base_url, workers, log_dir, telegram):
        # Links in the emails (the intake form) point at this server unless PUBLIC_BASE_URL is set.
        env = {
            "PUBLIC_BASE_URL": base_url,
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            **(telegram.environment() if telegram else {}),
        }
        commands = {
            "gunicorn": [
                sys.executable, "-m", "gunicorn", "levqor.wsgi",
                "--bind", base_url.removeprefix("http://"), "--workers", str(workers), "--access-logfile", "-",
                # gunicorn 27's control socket is one path per user; the demo needs none.
                "--no-control-socket",
            ],
            "worker": [sys.executable, "manage.py", "db_worker", "--no-reload", "--interval", "0.5"],
            "sweeper": [sys.executable, "manage.py", "outbox_sweeper", "--interval", "5"],
        }
        processes = {}
        for name, command in commands.items():
            log_file = open(log_dir / f"{name}.log", "a", encoding="utf-8")
            processes[name] = subprocess.Popen(
                command, cwd=settings.BASE_DIR, env=env, stdout=log_file, stderr=subprocess.STDOUT
            )
        return processes

    def send_sample_events(self, endpoint, secret):
        run = secrets.token_hex(4)
        starter = f"cs_test_demo_{run}_starter"
        growth = f"cs_test_demo_{run}_growth"
        delayed = f"cs_test_demo_{run}_delayed"
        unknown = f"cs_test_demo_{run}_unknown"

        # A name with an accent, a quote and a comma, which must not split the To header.
        professional = {
            "metadata": {"mode": "dfy", "plan": "professional"},
            "amount_total": 24900,
            "email": "o'brien@example.com",
            "name": "Siobhán O'Brien, Ltd",
        }
        paid_starter = sample_events.event("checkout.session.completed", sample_events.checkout_session(starter))
        scenarios = [
            ("Paid DFY Starter, £99", paid_starter),
            ("The same event delivered again", paid_starter),
            (
                "Subscription Growth, yearly, £790",
                sample_events.event(
                    "checkout.session.completed",
                    sample_events.checkout_session(
                        growth,
                        metadata={"mode": "subscription", "plan": "growth", "term": "yearly"},
                        amount_total=79000,
                        stripe_mode="subscription",
                        customer=f"cus_demo{run}",
                        subscription=f"sub_demo{run}",
                        email="sam.lee@example.com",
                        name="Sam Lee",
                    ),
                ),
            ),
            (
                "Bank debit for DFY Professional: completed, payment still pending",
                sample_events.event(
                    "checkout.session.completed",
                    sample_events.checkout_session(delayed, payment_status="unpaid", **professional),
                ),
            ),
            (
                "The same session's payment cleared",
                sample_events.event(
                    "checkout.session.async_payment_succeeded",
                    sample_events.checkout_session(delayed, **professional),
                ),
            ),
            (
                "Unknown plan in the metadata",
                sample_events.event(
                    "checkout.session.completed",
                    sample_events.checkout_session(
                        unknown, metadata={"mode": "x", "plan": "unknown-plan"}, email="alex@example.com", name="Alex"
                    ),
                ),
            ),
        ]

        for label, stripe_event in scenarios:
            status, body = sample_events.deliver(endpoint.url, stripe_event, secret)
            self.stdout.write(f"HTTP {status}  {stripe_event['type']:<42} {label}")
            if status != 200:
                raise CommandError(f"The webhook returned HTTP {status} for {label!r}: {body[:300]}")
        return [starter, growth, delayed, unknown]

    def wait_for_delivery(self, sessions, timeout, log_dir):
        """Wait until the worker has handled every email and alert that is due now; the intake reminders are due later."""
        due_now = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=timezone.now())
        busy = [OutboxEmail.State.QUEUED, OutboxEmail.State.SENDING]
        pending = [
            OutboxEmail.objects.filter(due_now, order__stripe_checkout_session_id__in=sessions, state__in=busy),
            StaffAlert.objects.filter(due_now, order__stripe_checkout_session_id__in=sessions, state__in=busy),
        ]
        deadline = time.monotonic() + timeout
        while any(queryset.exists() for queryset in pending):
            if time.monotonic() > deadline:
                raise CommandError(f"The worker did not send every email within {timeout:.0f} s: see {log_dir / 'worker.log'}.")
            time.sleep(0.25)
            # A polling loop, like the worker: drop a connection the server closed.
            close_old_connections()

    def print_emails(self, sessions, run_started):
        deliveries = OutboxEmail.objects.filter(order__stripe_checkout_session_id__in=sessions).select_related("order")
        for delivery in deliveries:
            self.stdout.write(
                f"{delivery.order.reference}  {delivery.state:<7} {delivery.template:<15} "
                f"to {delivery.to_email:<24} {delivery.subject}"
            )

        messages = read_sent_emails(settings.EMAIL_FILE_PATH, run_started)
        if not messages:
            return
        first = next((message for message in messages if message["Subject"].startswith("Welcome")), messages[0])
        self.stdout.write(f"\n{len(messages)} emails written by the worker to {settings.EMAIL_FILE_PATH}. One of them:\n")
        self.stdout.write(f"From: {first['From']}\nTo: {first['To']}\nSubject: {first['Subject']}\n")
        self.stdout.write(first.get_body(preferencelist=("plain",)).get_content().strip())

    def print_alerts(self, sessions, telegram):
        alerts = StaffAlert.objects.filter(order__stripe_checkout_session_id__in=sessions).select_related("order")
        for alert in alerts:
            self.stdout.write(f"{alert.order.reference}  {alert.state:<7} {alert.kind:<16} by {alert.channel}")
        if telegram is None:
            return
        self.stdout.write(f"\nThe Telegram stand-in received {len(telegram.messages)} alerts:")
        for text in telegram.messages:
            self.stdout.write("")
            self.stdout.write("\n".join(f"  {line}" for line in text.splitlines()))

    def print_orders(self, sessions):
        orders = DFYOrder.objects.filter(stripe_checkout_session_id__in=sessions).order_by("id")
        self.stdout.write(f"{'reference':<11} {'status':<17} {'tier':<14} {'amount':<9} email")
        for order in orders:
            self.stdout.write(
                f"{order.reference:<11} {order.status:<17} {order.tier or '-':<14} "
                f"{order.amount_display:<9} {order.customer_email}"
            )
        for order in orders:
            self.stdout.write(f"\n{order.reference} ({order.stripe_checkout_session_id})")
            for activity in order.activities.all():
                self.stdout.write(f"  {activity.created_at:%H:%M:%S}  {activity.kind:<20} {activity.message}")


def existing_secret():
    """Return the configured endpoint's secret, so a demo run keeps a secret set up before it."""
    endpoint = WebhookEndpoint.objects.filter(id=settings.STRIPE_WEBHOOK_ENDPOINT_ID).first()
    return endpoint.secret if endpoint else ""


def port_is_free(port):
    with socket.socket() as probe:
        # Bind as gunicorn does, with SO_REUSEADDR, so that connections of an
        # earlier run still in TIME-WAIT do not count as a server on the port.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def wait_until_healthy(base_url, processes, log_dir, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, process in processes.items():
            if process.poll() is not None:
                raise CommandError(f"{name} exited with status {process.returncode}: see {log_dir / (name + '.log')}.")
        try:
            with urllib.request.urlopen(f"{base_url}/api/webhooks/stripe/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    raise CommandError(f"The server at {base_url} did not respond within {timeout} s: see {log_dir / 'gunicorn.log'}.")


def wait_for_interrupt(processes):
    try:
        while all(process.poll() is None for process in processes.values()):
            time.sleep(1)
    except KeyboardInterrupt:
        pass


def stop_processes(processes):
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes.values():
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def read_sent_emails(folder, since):
    """Parse the messages Django's file backend wrote after a time, oldest first."""
    messages = []
    for path in sorted(folder.glob("*.log")) if folder.exists() else []:
        if path.stat().st_mtime < since:
            continue
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if chunk.strip():
                messages.append(email.message_from_bytes(chunk.strip(), policy=email.policy.default))
    return messages
