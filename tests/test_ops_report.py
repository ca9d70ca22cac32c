"""ops_report: figures, alert conditions, and alerts sent once when a condition starts and once when it clears."""

import io
import json
import logging
import sys
import types
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from djstripe.models import WebhookEventTrigger

from levqor.models import OpsAlert
from onboarding.models import OutboxEmail
from orders.models import DFYOrder
from tests.conftest import free_port
from tests.reports import run_command

STAFF = ["ops@levqor.example", "owner@levqor.example"]


@pytest.fixture
def staff_alerts(db, settings, monkeypatch):
    """Alerts go through the fallback: onboarding.alerts cannot be imported, mail goes to the locmem outbox."""
    monkeypatch.setitem(sys.modules, "onboarding.alerts", None)
    settings.STAFF_ALERT_EMAILS = STAFF
    return mail.outbox


def run_report(*args):
    """Run ops_report --json; return (report, CommandError or None)."""
    stdout, _, error = run_command("ops_report", "--json", *args)
    return json.loads(stdout), error


def statuses(report):
    return {finding["check"]: finding["status"] for finding in report["findings"]}


def finding(report, check):
    return next(item for item in report["findings"] if item["check"] == check)


def ago(**kwargs):
    return timezone.now() - timedelta(**kwargs)


def add_triggers(count, *, ok=True, created=None):
    ids = [
        WebhookEventTrigger.objects.create(
            remote_ip="127.0.0.1", headers={}, body="{}", valid=ok, processed=ok
        ).pk
        for _ in range(count)
    ]
    if created is not None:
        WebhookEventTrigger.objects.filter(pk__in=ids).update(created=created)


order_numbers = iter(range(1, 10**6))


def add_orders(count, *, created=None, status=DFYOrder.Status.NEW):
    ids = [
        DFYOrder.objects.create(stripe_checkout_session_id=f"cs_test_ops_{next(order_numbers)}", status=status).pk
        for _ in range(count)
    ]
    if created is not None:
        DFYOrder.objects.filter(pk__in=ids).update(created_at=created)
    return ids


def add_emails(count, state, **fields):
    order = DFYOrder.objects.create(stripe_checkout_session_id=f"cs_test_ops_{next(order_numbers)}")
    ids = [
        OutboxEmail.objects.create(order=order, template=f"t{index}", to_email="c@example.com", subject="s", state=state).pk
        for index in range(count)
    ]
    if fields:
        OutboxEmail.objects.filter(pk__in=ids).update(**fields)
    return ids


def test_ops_report_all_clear(staff_alerts):
    report, error = run_report()

    assert error is None
    assert set(statuses(report).values()) == {"ok"}
    assert report["summary"] == "ops_report: 0 failed, 0 warnings, 7 passed"
    assert staff_alerts == []
    assert not OpsAlert.objects.exists()


def test_ops_report_text_states_rules(staff_alerts):
    output = io.StringIO()

    call_command("ops_report", stdout=output)

    text = output.getvalue()
    assert "order_volume_spike" in text
    assert "Alert when the last 24 hours have more than 3 times the daily mean of the 7 days before" in text
    assert "Alert when more than 5% of the last hour's webhook requests failed" in text


def test_webhook_failures_alert_once_and_resolve_once(staff_alerts, caplog):
    add_triggers(18)
    add_triggers(2, ok=False)

    with caplog.at_level(logging.WARNING, logger="levqor.operations.alerts"):
        first, error = run_report()
    second, _ = run_report()

    assert error is not None
    assert "ops_report: 1 failed" in str(error)
    assert statuses(first)["webhook_failure_rate"] == "fail"
    assert statuses(second)["webhook_failure_rate"] == "fail"
    assert len(staff_alerts) == 1
    message = staff_alerts[0]
    assert message.subject == "[Levqor ops] ALERT webhook_failure_rate"
    assert message.to == STAFF
    assert "2 of 20 webhook requests failed in the last hour (10.0%)" in message.body
    assert "Ops alert ops:webhook_failure_rate:1:raised: [Levqor ops] ALERT webhook_failure_rate" in caplog.text
    alert = OpsAlert.objects.get(key="webhook_failure_rate")
    assert alert.active
    assert alert.occurrences == 1
    assert alert.last_seen_at > alert.first_seen_at

    WebhookEventTrigger.objects.filter(valid=False).update(created=ago(hours=2))
    cleared, error = run_report()
    run_report()

    assert error is None
    assert statuses(cleared)["webhook_failure_rate"] == "ok"
    assert [message.subject for message in staff_alerts] == [
        "[Levqor ops] ALERT webhook_failure_rate",
        "[Levqor ops] RESOLVED webhook_failure_rate",
    ]
    alert.refresh_from_db()
    assert alert.resolved_at is not None

    add_triggers(5, ok=False)
    run_report()

    assert staff_alerts[-1].subject == "[Levqor ops] ALERT webhook_failure_rate"
    assert len(staff_alerts) == 3
    alert.refresh_from_db()
    assert alert.occurrences == 2
    assert alert.resolved_at is None


def test_webhook_failure_rate_at_threshold(staff_alerts):
    add_triggers(19)
    add_triggers(1, ok=False)

    report, error = run_report()

    assert error is None
    assert statuses(report)["webhook_failure_rate"] == "ok"
    assert finding(report, "webhook_failure_rate")["details"]["rate"] == 0.05


def test_email_failure_rate(staff_alerts):
    add_emails(9, OutboxEmail.State.SENT)
    add_emails(1, OutboxEmail.State.FAILED)

    at_threshold, _ = run_report()
    add_emails(1, OutboxEmail.State.FAILED)
    above, error = run_report()

    assert statuses(at_threshold)["email_failure_rate"] == "ok"
    assert statuses(above)["email_failure_rate"] == "fail"
    assert "2 of 11 emails failed in the last day" in finding(above, "email_failure_rate")["message"]
    assert [message.subject for message in staff_alerts] == ["[Levqor ops] ALERT email_failure_rate"]


def test_old_email_failures_ignored(staff_alerts):
    add_emails(3, OutboxEmail.State.FAILED, updated_at=ago(days=2))

    report, error = run_report()

    assert error is None
    assert finding(report, "email_failure_rate")["details"]["finished"] == 0


def test_outbox_backlog_and_delay(staff_alerts):
    add_emails(2, OutboxEmail.State.QUEUED)

    fresh, error = run_report()
    assert error is None
    details = finding(fresh, "outbox_delay")["details"]
    assert details["queued"] == 2
    assert details["oldest_queued_age_seconds"] < 60

    add_emails(1, OutboxEmail.State.QUEUED, created_at=ago(minutes=45))
    stalled, error = run_report()

    assert error is not None
    details = finding(stalled, "outbox_delay")["details"]
    assert details["overdue"] == 1
    assert 2690 <= details["oldest_queued_age_seconds"] <= 2720
    assert staff_alerts[-1].subject == "[Levqor ops] ALERT outbox_delay"


def test_outbox_delay_respects_next_attempt_and_stuck_sending(staff_alerts):
    add_emails(1, OutboxEmail.State.QUEUED, created_at=ago(hours=2), next_attempt_at=timezone.now() + timedelta(minutes=5))
    waiting, _ = run_report()
    add_emails(1, OutboxEmail.State.SENDING, updated_at=ago(hours=1))
    stuck, _ = run_report()

    assert statuses(waiting)["outbox_delay"] == "ok"
    assert finding(waiting, "outbox_delay")["details"]["queued"] == 0
    assert finding(waiting, "outbox_delay")["details"]["scheduled"] == 1
    assert finding(waiting, "outbox_delay")["details"]["oldest_queued_age_seconds"] is None
    assert statuses(stuck)["outbox_delay"] == "fail"
    assert finding(stuck, "outbox_delay")["details"]["sending"] == 1


def add_daily_orders(per_day, days=7):
    for day in range(1, days + 1):
        add_orders(per_day, created=ago(days=day, hours=1))


def test_order_volume_spike(staff_alerts):
    add_daily_orders(1)
    add_orders(9)

    below_minimum, _ = run_report()
    add_orders(1)
    spike, error = run_report()

    assert statuses(below_minimum)["order_volume_spike"] == "ok"
    assert statuses(spike)["order_volume_spike"] == "fail"
    assert finding(spike, "order_volume_spike")["details"] == {
        "rule": finding(spike, "order_volume_spike")["details"]["rule"],
        "last_24_hours": 10,
        "baseline_days": 7,
        "baseline_daily_mean": 1.0,
    }
    assert staff_alerts[-1].subject == "[Levqor ops] ALERT order_volume_spike"


def test_order_volume_drop(staff_alerts):
    add_daily_orders(6)
    add_orders(2)

    steady, _ = run_report()
    DFYOrder.objects.filter(created_at__gte=ago(hours=2)).order_by("id").first().delete()
    drop, error = run_report()

    assert statuses(steady)["order_volume_drop"] == "ok"
    assert statuses(drop)["order_volume_drop"] == "fail"
    message = finding(drop, "order_volume_drop")["message"]
    assert message.startswith("Orders in the last 24 hours: 1; daily mean of the 7 days before: 6.0.")


def test_order_volume_baseline_of_young_deployment(staff_alerts):
    add_orders(4, created=ago(days=2, hours=3))
    add_orders(13)

    report, error = run_report()

    details = finding(report, "order_volume_spike")["details"]
    assert details["baseline_days"] == 2
    assert details["baseline_daily_mean"] == 2.0
    assert statuses(report)["order_volume_spike"] == "fail"


def test_orders_stuck_in_needs_review(staff_alerts):
    recent = add_orders(1, status=DFYOrder.Status.NEEDS_REVIEW)
    old = add_orders(1, status=DFYOrder.Status.NEEDS_REVIEW, created=ago(hours=25))

    report, error = run_report()

    assert error is not None
    details = finding(report, "orders_needs_review")["details"]
    assert details["needs_review"] == 2
    assert details["stuck"] == 1
    assert details["stuck_orders"] == [f"LVQ-{old[0]:06d}"]
    assert f"LVQ-{recent[0]:06d}" not in finding(report, "orders_needs_review")["message"]


def test_webhook_silence(staff_alerts):
    none_yet, _ = run_report()
    add_triggers(1, created=ago(hours=25))
    silent, error = run_report()

    assert statuses(none_yet)["webhook_silence"] == "ok"
    assert finding(none_yet, "webhook_silence")["message"].startswith("No webhook has arrived yet.")
    assert statuses(silent)["webhook_silence"] == "fail"
    assert finding(silent, "webhook_silence")["message"].startswith("The last webhook arrived 25.0 h ago.")


def test_no_alerts_option_leaves_state(staff_alerts):
    add_triggers(3, ok=False)

    report, error = run_report("--no-alerts")

    assert error is not None
    assert statuses(report)["webhook_failure_rate"] == "fail"
    assert staff_alerts == []
    assert not OpsAlert.objects.exists()


def test_failed_alert_is_retried_on_next_run(staff_alerts, settings):
    add_triggers(3, ok=False)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()

    failed, error = run_report()

    assert error is not None
    alert_finding = finding(failed, "alert webhook_failure_rate")
    assert alert_finding["status"] == "fail"
    assert "ConnectionRefusedError" in alert_finding["message"]
    assert not OpsAlert.objects.exists()

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    sent, _ = run_report()

    assert finding(sent, "alert webhook_failure_rate")["message"] == "Staff alerted (raised) through email."
    assert [message.subject for message in staff_alerts] == ["[Levqor ops] ALERT webhook_failure_rate"]


def test_alert_without_recipients_is_logged(staff_alerts, settings, caplog):
    settings.STAFF_ALERT_EMAILS = []
    add_triggers(2, ok=False)

    with caplog.at_level(logging.WARNING, logger="levqor.operations.alerts"):
        report, _ = run_report()

    assert finding(report, "alert webhook_failure_rate")["message"] == "Staff alerted (raised) through log."
    assert "STAFF_ALERT_EMAILS is empty, so ops alert ops:webhook_failure_rate:1:raised was only logged" in caplog.text
    assert staff_alerts == []
    assert OpsAlert.objects.get().active


def test_alert_goes_to_onboarding_alerts_when_installed(db, monkeypatch):
    calls = []
    staff_module = types.ModuleType("onboarding.alerts")
    staff_module.alert_staff = lambda kind, message, *, order=None, key=None: calls.append((kind, message, key))
    monkeypatch.setitem(sys.modules, "onboarding.alerts", staff_module)
    add_triggers(2, ok=False)

    report, _ = run_report()
    run_report()

    assert finding(report, "alert webhook_failure_rate")["message"] == "Staff alerted (raised) through onboarding.alerts."
    assert len(calls) == 1
    kind, message, key = calls[0]
    assert kind == "ops_alert"
    assert message.startswith("[Levqor ops] ALERT webhook_failure_rate\n\n2 of 2 webhook requests failed")
    assert key == "ops:webhook_failure_rate:1:raised"
    assert mail.outbox == []
