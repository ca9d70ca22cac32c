"""Staff users and orders in bulk for the back office tests."""

from datetime import timedelta
from html.parser import HTMLParser

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.utils import timezone

from orders.models import DFYOrder

def make_staff(username, group=None, *, superuser=False, password=None):
    """Create a staff user, in the named group (Operations or Viewer) or a superuser.

    Without a password the user can only be logged in with force_login():
    hashing one takes about two seconds with Django's default hasher.
    """
    User = get_user_model()
    if superuser:
        return User.objects.create_superuser(username, f"{username}@levqor.example", password)
    user = User.objects.create_user(username, f"{username}@levqor.example", is_staff=True)
    if password:
        # PBKDF2, which the production settings of a gunicorn server started by a test can verify.
        user.password = make_password(password, hasher="pbkdf2_sha256")
        user.save(update_fields=["password"])
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


def make_orders(count, start=0, **fields):
    """Insert count paid orders in one statement; fields override the defaults for every row."""
    now = timezone.now()
    defaults = {
        "status": DFYOrder.Status.NEW,
        "tier": "STARTER",
        "mode": "dfy",
        "plan": "starter",
        "term": "one_off",
        "amount_total": 9900,
        "currency": "gbp",
        "payment_status": "paid",
        "intake_state": DFYOrder.IntakeState.REQUESTED,
        "paid_at": now,
        "deadline": now + timedelta(hours=48),
    }
    orders = [
        DFYOrder(
            **{
                "stripe_checkout_session_id": f"cs_test_bulk_{start + number:07d}",
                "stripe_payment_intent_id": f"pi_test_bulk_{start + number:07d}",
                "customer_email": f"customer{start + number}@example.com",
                "customer_name": f"Customer {start + number}",
                **defaults,
                **fields,
            }
        )
        for number in range(count)
    ]
    return DFYOrder.objects.bulk_create(orders, batch_size=1000)


class FormFields(HTMLParser):
    """Collect what a browser would submit from the first <form method="post"> of a page."""

    def __init__(self, form_id=None):
        super().__init__()
        self.form_id = form_id
        self.in_form = False
        self.done = False
        self.select = None
        self.textarea = None
        self.fields = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and not self.done and (self.form_id is None or attrs.get("id") == self.form_id):
            self.in_form = True
        if not self.in_form:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            if kind not in ("submit", "button", "file"):
                self.fields.append((name, attrs.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select" and name:
            self.select = name
        elif tag == "option" and self.select and "selected" in attrs:
            self.fields.append((self.select, attrs.get("value", "")))
        elif tag == "textarea" and name:
            self.textarea = name
            self.fields.append((name, ""))

    def handle_data(self, data):
        if self.textarea:
            name, value = self.fields[-1]
            self.fields[-1] = (name, value + data)

    def handle_endtag(self, tag):
        if tag == "select":
            self.select = None
        elif tag == "textarea":
            if self.textarea:
                name, value = self.fields[-1]
                # Browsers drop the one newline that follows <textarea>.
                self.fields[-1] = (name, value.removeprefix("\n"))
            self.textarea = None
        elif tag == "form" and self.in_form:
            self.in_form = False
            self.done = True


def form_data(response, form_id=None, **changes):
    """Return the POST data of a page's form as a browser sends it, with changes applied."""
    parser = FormFields(form_id)
    parser.feed(response.content.decode())
    data = {}
    for name, value in parser.fields:
        data.setdefault(name, value)
    data.update(changes)
    return data
