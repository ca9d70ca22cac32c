"""The staff back office in the Django admin: list, order page, actions, export, dashboard and permissions."""

import csv
import importlib
import io
from datetime import datetime, timedelta

import pytest
from django.apps import apps as django_apps
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.db.migrations.state import ProjectState
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from djstripe.models import WebhookEventTrigger

from levqor.staff_groups import GROUP_PERMISSIONS, sync_groups
from onboarding.models import DeliveryAttempt, OutboxEmail, StaffAlert, StripeMirrorSync
from orders.models import DFYActivity, DFYOrder, Plan
from tests.conftest import checkout_event
from tests.staff import form_data, make_orders, make_staff

pytestmark = pytest.mark.django_db

Status = DFYOrder.Status
LIST_URL = reverse("admin:orders_dfyorder_changelist")
INDEX_URL = reverse("admin:index")


def change_url(order):
    return reverse("admin:orders_dfyorder_change", args=[order.pk])


@pytest.fixture
def operator(client, staff_groups):
    user = make_staff("oscar", "Operations")
    client.force_login(user)
    return user


@pytest.fixture
def viewer(client, staff_groups):
    user = make_staff("vera", "Viewer")
    client.force_login(user)
    return user


@pytest.fixture
def paid_order(webhook):
    webhook.post(checkout_event(customer="cus_test_A"))
    return DFYOrder.objects.get(stripe_checkout_session_id="cs_test_A")


@pytest.fixture
def review_order(webhook):
    webhook.post(checkout_event(session_id="cs_test_review", metadata={}, name="Rae View", email="rae@example.com"))
    return DFYOrder.objects.get(stripe_checkout_session_id="cs_test_review")


def listed(response):
    return [order.stripe_checkout_session_id for order in response.context["cl"].result_list]


def run_action(client, action, orders, **extra):
    data = {"action": action, "_selected_action": [order.pk for order in orders], "index": 0, **extra}
    return client.post(LIST_URL, data, follow=True)


def page_messages(response):
    return [str(message) for message in response.context["messages"]]


# The order list

def test_list_shows_the_order_columns(client, operator):
    (gbp,) = make_orders(1, customer_name="Siobhán O'Brien")
    (jpy,) = make_orders(1, start=1, currency="jpy", amount_total=50000, tier="PRO_MONTHLY")
    make_orders(1, start=2, deadline=timezone.now() - timedelta(hours=1), status=Status.IN_PROGRESS)

    response = client.get(LIST_URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert gbp.reference in html
    assert "Siobhán O&#x27;Brien" in html
    assert "customer0@example.com" in html
    assert "£99.00" in html
    assert "¥50,000" in html
    assert 'data-status="new" style="background:#1d4ed8"' in html
    assert 'data-status="in_progress" style="background:#0e7490"' in html
    assert html.count("· overdue") == 1
    assert "Requested" in html
    assert listed(response)[0] == "cs_test_bulk_0000002"


def test_unknown_status_gets_the_default_colour():
    from orders.back_office.display import DEFAULT_STATUS_COLOUR, status_badge

    assert DEFAULT_STATUS_COLOUR in status_badge("archived")
    assert ">archived<" in status_badge("archived")


@pytest.fixture
def varied_orders(catalogue):
    now = timezone.now()
    make_orders(1, start=0)
    make_orders(1, start=1, status=Status.NEEDS_REVIEW, tier="", plan="mystery", deadline=None)
    make_orders(1, start=2, status=Status.IN_PROGRESS, deadline=now - timedelta(hours=2))
    make_orders(1, start=3, status=Status.DELIVERED, deadline=now - timedelta(hours=2))
    (with_failed_email,) = make_orders(1, start=4)
    make_orders(1, start=5, livemode=True)
    make_orders(1, start=6, mode="subscription", plan="growth", term="monthly", tier="GROWTH_MONTHLY")
    (bounced,) = make_orders(1, start=7)
    old = make_orders(1, start=8)
    DFYOrder.objects.filter(pk=old[0].pk).update(created_at=now - timedelta(days=10))
    OutboxEmail.objects.create(
        order=with_failed_email, template="welcome", to_email="x@example.com", subject="s", state=OutboxEmail.State.FAILED
    )
    OutboxEmail.objects.create(
        order=bounced, template="welcome", to_email="y@example.com", subject="s", state=OutboxEmail.State.SENT,
        delivery_status=OutboxEmail.DeliveryStatus.BOUNCED,
    )


def bulk(*numbers):
    return sorted(f"cs_test_bulk_{number:07d}" for number in numbers)


@pytest.mark.parametrize(
    "query, expected",
    [
        ("status__exact=needs_review", bulk(1)),
        ("needs_review=yes", bulk(1)),
        ("overdue=yes", bulk(2)),
        ("email_failed=yes", bulk(4, 7)),
        ("tier=GROWTH_MONTHLY", bulk(6)),
        ("tier=none", bulk(1)),
        ("mode=subscription", bulk(6)),
        ("plan=growth", bulk(6)),
        ("plan=mystery", bulk(1)),
        ("livemode__exact=1", bulk(5)),
        ("status__exact=delivered", bulk(3)),
    ],
)
def test_list_filters(client, operator, varied_orders, query, expected):
    response = client.get(f"{LIST_URL}?{query}")

    assert response.status_code == 200
    assert sorted(listed(response)) == expected


def test_created_filter_excludes_older_orders(client, operator, varied_orders):
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    params = {"created_at__gte": str(today - timedelta(days=7)), "created_at__lt": str(today + timedelta(days=1))}

    response = client.get(LIST_URL, params)

    assert "cs_test_bulk_0000008" not in listed(response)
    assert len(listed(response)) == 8


def test_catalogue_filters_offer_the_catalogue(client, operator, varied_orders):
    response = client.get(LIST_URL)

    changelist = response.context["cl"]
    specs = {spec.title: [choice["display"] for choice in spec.choices(changelist)] for spec in changelist.filter_specs}
    assert specs["tier"][:2] == ["All", "BUSINESS_MONTHLY"]
    assert specs["tier"][-1] == "(none)"
    assert "STARTER" in specs["tier"]
    assert specs["mode"] == ["All", "Done for you (one-off)", "Subscription"]
    assert sorted(specs["plan"][1:-1]) == ["business", "enterprise", "growth", "pro", "professional", "starter"]


def test_email_failed_column(client, operator, varied_orders):
    response = client.get(f"{LIST_URL}?email_failed=yes")

    assert response.content.decode().count('<span class="lvq-flag">failed</span>') == 2


@pytest.mark.parametrize(
    "term, session",
    [
        ("customer3@example.com", "cs_test_bulk_0000003"),
        (" CUSTOMER3@Example.com ", "cs_test_bulk_0000003"),
        ("r3@exam", "cs_test_bulk_0000003"),
        ("Customer 3", "cs_test_bulk_0000003"),
        ("cs_test_bulk_0000002", "cs_test_bulk_0000002"),
        ("pi_test_bulk_0000001", "cs_test_bulk_0000001"),
        ("cus_test_S", "cs_test_bulk_0000000"),
        ("sub_test_S", "cs_test_bulk_0000000"),
    ],
)
def test_list_search(client, operator, term, session):
    make_orders(1, stripe_customer_id="cus_test_S", stripe_subscription_id="sub_test_S")
    make_orders(3, start=1)

    response = client.get(LIST_URL, {"q": term})

    assert listed(response) == [session]


def list_queries(client, order_count):
    orders = make_orders(order_count, start=100_000 * order_count)
    # Rows that would cost a query each if the list read them per order.
    OutboxEmail.objects.bulk_create(
        [OutboxEmail(order=order, template="welcome", to_email="a@example.com", subject="s") for order in orders]
    )
    with CaptureQueriesContext(connection) as queries:
        response = client.get(LIST_URL)
    assert response.status_code == 200
    return len(queries), len(listed(response))


def test_list_queries_do_not_grow_with_orders(client, operator):
    small_queries, small_rows = list_queries(client, 10)
    OutboxEmail.objects.all().delete()
    DFYOrder.objects.all().delete()
    large_queries, large_rows = list_queries(client, 1000)

    assert small_rows == 10
    assert large_rows == 50
    assert small_queries == large_queries


def test_dashboard_queries_do_not_grow_with_orders(client, operator):
    def index_queries():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(INDEX_URL).status_code == 200
        return len(queries)

    make_orders(10)
    small = index_queries()
    make_orders(990, start=10, status=Status.NEEDS_REVIEW)

    assert index_queries() == small


# The order page

def test_order_page_links_to_the_test_dashboard(client, operator, paid_order):
    response = client.get(change_url(paid_order))

    html = response.content.decode()
    assert response.status_code == 200
    assert f'href="https://dashboard.stripe.com/test/payments/{paid_order.stripe_payment_intent_id}"' in html
    assert 'href="https://dashboard.stripe.com/test/customers/cus_test_A"' in html
    event_id = paid_order.activities.get(kind="order.paid").stripe_event_id
    assert f'href="https://dashboard.stripe.com/test/events/{event_id}"' in html
    assert paid_order.stripe_checkout_session_id in html


def test_live_order_links_to_the_live_dashboard(client, operator):
    (order,) = make_orders(1, livemode=True, stripe_customer_id="cus_live_L", stripe_subscription_id="sub_live_L")

    html = client.get(change_url(order)).content.decode()

    assert 'href="https://dashboard.stripe.com/customers/cus_live_L"' in html
    assert 'href="https://dashboard.stripe.com/subscriptions/sub_live_L"' in html
    assert "dashboard.stripe.com/test/" not in html


def test_status_select_lists_allowed_moves_only(client, operator, paid_order):
    response = client.get(change_url(paid_order))

    choices = [value for value, _ in response.context["adminform"].form.fields["status"].choices]
    assert choices == ["new", "intake_received", "in_progress"]


def test_order_page_changes_status_with_note(client, operator, paid_order):
    page = client.get(change_url(paid_order))
    data = form_data(page, "dfyorder_form", status="in_progress", status_note="Building the Zap.")

    response = client.post(change_url(paid_order), data)

    assert response.status_code == 302
    paid_order.refresh_from_db()
    assert paid_order.status == Status.IN_PROGRESS
    activity = paid_order.activities.get(kind="order.status_changed")
    assert activity.actor == operator
    assert activity.data["note"] == "Building the Zap."
    assert not paid_order.activities.filter(kind="order.updated").exists()


def test_order_page_records_work_field_changes(client, operator, paid_order):
    page = client.get(change_url(paid_order))
    data = form_data(
        page, "dfyorder_form",
        revisions_left="3", files_link="https://files.example/in", internal_notes="Prefers Slack over email.",
    )

    response = client.post(change_url(paid_order), data)

    assert response.status_code == 302
    paid_order.refresh_from_db()
    assert paid_order.revisions_left == 3
    assert paid_order.internal_notes == "Prefers Slack over email."
    activity = paid_order.activities.get(kind="order.updated")
    assert activity.actor == operator
    assert sorted(activity.data["fields"]) == ["files_link", "internal_notes", "revisions_left"]
    assert activity.data["changes"]["revisions_left"] == [1, 3]
    assert activity.data["changes"]["internal_notes"] == "edited"
    assert "oscar changed" in activity.message


def test_order_page_refuses_delivered_without_link(client, operator, paid_order):
    DFYOrder.objects.filter(pk=paid_order.pk).update(status=Status.IN_PROGRESS)
    page = client.get(change_url(paid_order))

    response = client.post(change_url(paid_order), form_data(page, "dfyorder_form", status="delivered"))

    assert response.status_code == 200
    assert "add the final package link first" in response.content.decode()
    assert DFYOrder.objects.get(pk=paid_order.pk).status == Status.IN_PROGRESS


def test_order_page_delivers_with_link_in_same_save(client, operator, paid_order):
    DFYOrder.objects.filter(pk=paid_order.pk).update(status=Status.IN_PROGRESS)
    page = client.get(change_url(paid_order))
    data = form_data(page, "dfyorder_form", status="delivered", final_package_link="https://files.example/final.zip")

    response = client.post(change_url(paid_order), data)

    assert response.status_code == 302
    paid_order.refresh_from_db()
    assert paid_order.status == Status.DELIVERED
    assert paid_order.final_package_link == "https://files.example/final.zip"
    assert OutboxEmail.objects.get(order=paid_order, template="handover").state == OutboxEmail.State.QUEUED


def test_review_fixed_on_order_page_starts_onboarding(client, operator, review_order):
    assert OutboxEmail.objects.filter(order=review_order).count() == 0
    page = client.get(change_url(review_order))
    assert "catalogue_plan" in response_fields(page)
    plan = Plan.objects.get(tier="STARTER")
    data = form_data(page, "dfyorder_form", status="new", catalogue_plan=str(plan.pk), status_note="Plan from the call.")

    response = client.post(change_url(review_order), data)

    assert response.status_code == 302
    review_order.refresh_from_db()
    assert review_order.status == Status.NEW
    assert review_order.tier == "STARTER"
    assert sorted(OutboxEmail.objects.filter(order=review_order).values_list("template", flat=True)) == ["intake", "welcome"]
    assert review_order.activities.get(kind="order.paid").actor == operator
    # The page now shows the plan as read-only: onboarding started with it.
    assert "catalogue_plan" not in response_fields(client.get(change_url(review_order)))


def response_fields(response):
    return response.context["adminform"].form.fields


def test_review_without_plan_is_refused(client, operator, review_order):
    page = client.get(change_url(review_order))

    response = client.post(change_url(review_order), form_data(page, "dfyorder_form", status="new"))

    assert response.status_code == 200
    assert "choose a catalogue plan first" in response.content.decode()
    assert OutboxEmail.objects.filter(order=review_order).count() == 0


# Actions

def test_mark_in_progress_action(client, operator):
    moving, delivered = make_orders(1), make_orders(1, start=1, status=Status.DELIVERED)

    response = run_action(client, "mark_in_progress", [moving[0], *delivered])

    assert DFYOrder.objects.get(pk=moving[0].pk).status == Status.IN_PROGRESS
    assert DFYOrder.objects.get(pk=delivered[0].pk).status == Status.IN_PROGRESS
    assert f"Moved to In progress: {moving[0].reference}, {delivered[0].reference}." in page_messages(response)
    assert DFYActivity.objects.filter(kind="order.status_changed", actor=operator).count() == 2


def test_mark_delivered_refuses_missing_link(client, operator):
    (without_link,) = make_orders(1, status=Status.IN_PROGRESS)
    (with_link,) = make_orders(1, start=1, status=Status.IN_PROGRESS, final_package_link="https://files.example/p")

    response = run_action(client, "mark_delivered", [without_link, with_link])

    assert DFYOrder.objects.get(pk=without_link.pk).status == Status.IN_PROGRESS
    assert DFYOrder.objects.get(pk=with_link.pk).status == Status.DELIVERED
    texts = page_messages(response)
    assert f"Moved to Delivered: {with_link.reference}." in texts
    assert any(
        text.startswith("Not moved to Delivered:") and without_link.reference in text and "final package link" in text
        for text in texts
    )
    assert OutboxEmail.objects.filter(template="handover").count() == 1


def test_mark_intake_received_action_explains_rejection(client, operator):
    (review,) = make_orders(1, status=Status.NEEDS_REVIEW)

    response = run_action(client, "mark_intake_received", [review])

    assert DFYOrder.objects.get(pk=review.pk).status == Status.NEEDS_REVIEW
    assert any("it can move to New only" in text for text in page_messages(response))


def test_resend_action_asks_for_a_reason_then_sends_once(client, operator, paid_order, resend_backend):
    from onboarding.tasks import deliver_order

    deliver_order.call(paid_order.pk)
    confirmation = run_action(client, "resend_onboarding_emails", [paid_order])
    assert "Resend onboarding emails" in confirmation.content.decode()
    assert OutboxEmail.objects.get(order=paid_order, template="welcome").state == OutboxEmail.State.SENT

    data = form_data(confirmation, "resend-form", reason="Customer cannot find the welcome email.")
    data["_selected_action"] = [paid_order.pk]
    first = client.post(LIST_URL, data, follow=True)
    again = client.post(LIST_URL, data, follow=True)

    welcome = OutboxEmail.objects.get(order=paid_order, template="welcome")
    assert welcome.state == OutboxEmail.State.QUEUED
    assert f"Queued again: {paid_order.reference} (welcome, intake)." in page_messages(first)
    assert any("already applied" in text for text in page_messages(again))
    (request,) = paid_order.activities.filter(kind="email.resend_requested")
    assert request.actor == operator
    assert request.data["reason"] == "Customer cannot find the welcome email."
    deliver_order.call(paid_order.pk)
    welcomes = [message for message in resend_backend.delivered() if message["subject"].startswith("Welcome")]
    assert len(welcomes) == 2


def test_resend_action_needs_a_reason(client, operator, paid_order):
    confirmation = run_action(client, "resend_onboarding_emails", [paid_order])
    data = form_data(confirmation, "resend-form", reason="")
    data["_selected_action"] = [paid_order.pk]

    response = client.post(LIST_URL, data)

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not paid_order.activities.filter(kind="email.resend_requested").exists()


def test_export_csv(client, operator):
    (gbp,) = make_orders(1, customer_name="=HYPERLINK(\"http://evil.example\")")
    (jpy,) = make_orders(1, start=1, currency="jpy", amount_total=50000)

    response = run_action(client, "export_csv", [gbp, jpy])

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="levqor-orders-')
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["reference"] for row in rows] == [gbp.reference, jpy.reference]
    assert (rows[0]["amount"], rows[0]["currency"]) == ("99.00", "GBP")
    assert (rows[1]["amount"], rows[1]["currency"]) == ("50000", "JPY")
    assert datetime.fromisoformat(rows[0]["created_at"]).utcoffset() == timedelta(0)
    assert datetime.fromisoformat(rows[0]["deadline"]) > datetime.fromisoformat(rows[0]["created_at"])
    assert rows[0]["customer_name"] == "'=HYPERLINK(\"http://evil.example\")"
    assert rows[0]["stripe_payment_intent_id"] == "pi_test_bulk_0000000"


# Permissions

def action_names(response):
    return [name for name, _ in response.context["action_form"].fields["action"].choices if name]


def test_operations_group_works_orders(client, operator, paid_order):
    response = client.get(LIST_URL)

    assert sorted(action_names(response)) == [
        "export_csv", "mark_delivered", "mark_in_progress", "mark_intake_received", "resend_onboarding_emails",
    ]
    assert client.get(change_url(paid_order)).context["has_change_permission"] is True
    for model in ("dfyactivity", "outboxemail", "deliveryattempt"):
        assert client.get(reverse(f"admin:{'orders' if model == 'dfyactivity' else 'onboarding'}_{model}_changelist")).status_code == 200
    assert client.get(reverse("admin:orders_plan_add")).status_code == 403


def test_viewer_group_only_looks(client, viewer, paid_order):
    response = client.get(LIST_URL)

    assert action_names(response) == ["export_csv"]
    page = client.get(change_url(paid_order))
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert 'name="status"' not in page.content.decode()
    denied = client.post(change_url(paid_order), {"status": "in_progress"})
    assert denied.status_code == 403
    run_action(client, "mark_in_progress", [paid_order])
    assert DFYOrder.objects.get(pk=paid_order.pk).status == Status.NEW


def test_groups_hold_the_listed_permissions(staff_groups):
    operations = Group.objects.get(name="Operations")
    viewer = Group.objects.get(name="Viewer")
    assert operations.permissions.filter(codename="change_dfyorder").exists()
    assert not viewer.permissions.exclude(codename__startswith="view_").exists()
    assert viewer.permissions.count() == len(GROUP_PERMISSIONS["Viewer"])
    sync_groups(django_apps)
    assert operations.permissions.count() == len(GROUP_PERMISSIONS["Operations"])


def test_group_migration_runs_on_migration_state():
    # A migration gets a historical registry whose app configs are stubs.
    migration = importlib.import_module("levqor.migrations.0002_staff_groups")
    Permission.objects.all().delete()

    migration.create_staff_groups(ProjectState.from_apps(django_apps).apps, None)

    operations = Group.objects.get(name="Operations")
    granted = sorted(f"{permission.content_type.app_label}.{permission.codename}" for permission in operations.permissions.all())
    assert granted == sorted(GROUP_PERMISSIONS["Operations"])


MACHINE_WRITTEN = [DFYActivity, OutboxEmail, DeliveryAttempt, StaffAlert, StripeMirrorSync, WebhookEventTrigger]


@pytest.mark.parametrize("model", MACHINE_WRITTEN, ids=lambda model: model.__name__)
def test_machine_written_rows_are_read_only_for_superusers(rf, model):
    superuser = make_staff("root", superuser=True)
    request = rf.get("/")
    request.user = superuser
    model_admin = admin.site._registry[model]

    assert model_admin.has_add_permission(request) is False
    assert model_admin.has_change_permission(request) is False
    assert model_admin.has_delete_permission(request) is False
    assert model_admin.has_view_permission(request) is True


def test_superuser_cannot_post_to_an_activity_row(client, paid_order):
    client.force_login(make_staff("root", superuser=True))
    activity = paid_order.activities.first()
    url = reverse("admin:orders_dfyactivity_change", args=[activity.pk])

    assert client.post(url, {"message": "rewritten"}).status_code == 403
    assert client.post(reverse("admin:orders_dfyactivity_delete", args=[activity.pk]), {"post": "yes"}).status_code == 403
    assert DFYActivity.objects.get(pk=activity.pk).message == activity.message


def test_webhook_trigger_admin_filters_failures(client, webhook):
    client.force_login(make_staff("root", superuser=True))
    webhook.post(checkout_event())
    webhook.post(checkout_event(session_id="cs_test_bad"), secret="whsec_wrong")

    response = client.get(reverse("admin:djstripe_webhookeventtrigger_changelist"), {"failed": "24h"})

    assert response.status_code == 200
    triggers = list(response.context["cl"].result_list)
    assert len(triggers) == 1
    assert triggers[0].valid is False


# Dashboard

def test_dashboard_counts_and_links(client, operator, webhook):
    now = timezone.now()
    make_orders(2)
    make_orders(1, start=2, tier="PROFESSIONAL")
    old = make_orders(1, start=3, tier="PROFESSIONAL")
    DFYOrder.objects.filter(pk=old[0].pk).update(created_at=now - timedelta(days=3))
    make_orders(2, start=4, status=Status.NEEDS_REVIEW, tier="")
    make_orders(1, start=6, status=Status.IN_PROGRESS, deadline=now - timedelta(hours=1))
    webhook.post(checkout_event(session_id="cs_test_bad"), secret="whsec_wrong")

    response = client.get(INDEX_URL)

    html = response.content.decode()
    board = response.context["dashboard"]
    counts = {tile.label: tile.count for tile in board["tiles"]}
    assert counts == {"Need review": 2, "Overdue": 1, "With a failed email": 0, "Failed webhooks, last 24 h": 1}
    rows = {row.tier: (row.today, row.week) for row in board["tier_rows"]}
    assert rows == {"(no plan)": (2, 2), "PROFESSIONAL": (1, 2), "STARTER": (3, 3)}
    assert f'href="{LIST_URL}?needs_review=yes"' in html
    assert f'href="{LIST_URL}?overdue=yes"' in html
    assert "?failed=24h" in html
    # The app list is still there below the dashboard.
    assert 'id="order-dashboard"' in html
    assert "app-orders" in html
    urls = {row.tier: (row.today_url, row.week_url) for row in board["tier_rows"]}
    assert len(listed(client.get(urls["PROFESSIONAL"][1]))) == 2
    assert len(listed(client.get(urls["PROFESSIONAL"][0]))) == 1
    assert len(listed(client.get(urls["(no plan)"][0]))) == 2


def test_dashboard_hidden_without_order_permission(client, staff_groups):
    client.force_login(make_staff("nobody"))

    response = client.get(INDEX_URL)

    assert response.status_code == 200
    assert 'id="order-dashboard"' not in response.content.decode()
