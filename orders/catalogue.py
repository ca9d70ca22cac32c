"""Match a Checkout Session to the plan catalogue.

The session metadata names what was bought (mode, plan, term); the amount and
currency must then agree with the catalogue. Any disagreement is a reason for
staff to review the order, never a reason to drop the payment.
"""

from dataclasses import dataclass

from .models import Plan
from .money import format_amount

# The Stripe Checkout mode each of our modes must be sold with.
STRIPE_MODE_FOR = {Plan.Mode.DFY: "payment", Plan.Mode.SUBSCRIPTION: "subscription"}


@dataclass(frozen=True)
class Match:
    mode: str
    plan_slug: str
    term: str
    plan: Plan | None
    problems: tuple[str, ...]

    @property
    def ok(self):
        return self.plan is not None and not self.problems


# Spellings of the one-off term seen in hand-made Payment Links.
TERM_ALIASES = {"one-off": Plan.Term.ONE_OFF, "oneoff": Plan.Term.ONE_OFF}


def normalise(value):
    return value.strip().lower()


def match_session(session):
    """Return the catalogue plan a session bought, with every problem found."""
    mode = normalise(session.metadata.get("mode", ""))
    plan_slug = normalise(session.metadata.get("plan", ""))
    term = normalise(session.metadata.get("term", ""))
    term = TERM_ALIASES.get(term, term)
    if mode == Plan.Mode.DFY and not term:
        term = Plan.Term.ONE_OFF

    problems = []
    if not session.customer_email:
        problems.append("no customer email in customer_details or customer_email")

    if not mode or not plan_slug:
        problems.append("session metadata has no mode or plan")
        return Match(mode, plan_slug, term, None, tuple(problems))

    plan = Plan.objects.filter(mode=mode, slug=plan_slug, term=term, active=True).first()
    if plan is None:
        problems.append(f"no active catalogue plan for mode={mode!r}, plan={plan_slug!r}, term={term!r}")
        return Match(mode, plan_slug, term, None, tuple(problems))

    expected_stripe_mode = STRIPE_MODE_FOR[plan.mode]
    if session.stripe_mode != expected_stripe_mode:
        problems.append(f"Checkout mode {session.stripe_mode!r} does not fit a {plan.mode} plan")
    if session.currency != plan.currency:
        problems.append(f"currency {session.currency.upper() or '(none)'} differs from the plan's {plan.currency.upper()}")
    elif session.amount_total != plan.amount:
        problems.append(
            f"amount {format_amount(session.amount_total, session.currency)} differs from "
            f"the plan price {plan.price_display}"
        )

    return Match(mode, plan_slug, term, plan, tuple(problems))
