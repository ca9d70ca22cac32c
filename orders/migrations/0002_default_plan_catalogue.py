"""Seed the plan catalogue with the public price list (GBP, minor units)."""

from django.db import migrations

# (mode, slug, term, tier, name, amount, delivery_hours, revisions)
DEFAULT_PLANS = [
    ("dfy", "starter", "one_off", "STARTER", "DFY Starter", 9900, 48, 1),
    ("dfy", "professional", "one_off", "PROFESSIONAL", "DFY Professional", 24900, 96, 2),
    ("dfy", "enterprise", "one_off", "ENTERPRISE", "DFY Enterprise", 59900, 168, 3),
    ("subscription", "starter", "monthly", "STARTER_MONTHLY", "Starter (monthly)", 2900, None, 0),
    ("subscription", "starter", "yearly", "STARTER_YEARLY", "Starter (yearly)", 29000, None, 0),
    ("subscription", "growth", "monthly", "GROWTH_MONTHLY", "Growth (monthly)", 7900, None, 0),
    ("subscription", "growth", "yearly", "GROWTH_YEARLY", "Growth (yearly)", 79000, None, 0),
    ("subscription", "pro", "monthly", "PRO_MONTHLY", "Pro (monthly)", 14900, None, 0),
    ("subscription", "pro", "yearly", "PRO_YEARLY", "Pro (yearly)", 149000, None, 0),
    ("subscription", "business", "monthly", "BUSINESS_MONTHLY", "Business (monthly)", 29900, None, 0),
    ("subscription", "business", "yearly", "BUSINESS_YEARLY", "Business (yearly)", 299000, None, 0),
]


def add_default_plans(apps, schema_editor):
    Plan = apps.get_model("orders", "Plan")
    for mode, slug, term, tier, name, amount, delivery_hours, revisions in DEFAULT_PLANS:
        Plan.objects.get_or_create(
            tier=tier,
            defaults={
                "mode": mode,
                "slug": slug,
                "term": term,
                "name": name,
                "amount": amount,
                "currency": "gbp",
                "delivery_hours": delivery_hours,
                "revisions": revisions,
            },
        )


def remove_default_plans(apps, schema_editor):
    Plan = apps.get_model("orders", "Plan")
    Plan.objects.filter(tier__in=[plan[3] for plan in DEFAULT_PLANS], orders__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial")]

    operations = [migrations.RunPython(add_default_plans, remove_default_plans)]
