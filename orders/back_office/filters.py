"""List filters of the order list and of dj-stripe's webhook trigger list."""

from datetime import timedelta

from django.contrib import admin
from django.db.models import Q
from django.utils import timezone

from ..models import DFYOrder, Plan
from ..transitions import overdue

YES_NO = (("yes", "Yes"), ("no", "No"))


class YesNoFilter(admin.SimpleListFilter):
    """A filter with Yes and No. Subclasses give the condition that Yes selects."""

    def lookups(self, request, model_admin):
        return YES_NO

    def condition(self):
        raise NotImplementedError

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(self.condition())
        if self.value() == "no":
            return queryset.exclude(self.condition())
        return queryset


class OverdueFilter(YesNoFilter):
    title = "overdue"
    parameter_name = "overdue"

    def condition(self):
        return overdue(timezone.now())


class NeedsReviewFilter(YesNoFilter):
    title = "needs review"
    parameter_name = "needs_review"

    def condition(self):
        return Q(status=DFYOrder.Status.NEEDS_REVIEW)


# The window of the dashboard's failed webhook count and of this filter's first choice.
RECENT_TRIGGER_WINDOW = timedelta(hours=24)


class CatalogueFilter(admin.SimpleListFilter):
    """Filter on an order column with the choices the plan catalogue offers.

    The catalogue is a few rows, where a DISTINCT over the order column reads
    every order (about 60 ms per filter with 100,000 orders on SQLite).
    Orders whose column matches no plan (sessions staff must review) are
    found with the "needs review" filter, or with the "(none)" choice here
    for an empty column.
    """

    plan_field = None
    NONE = "none"

    def lookups(self, request, model_admin):
        values = Plan.objects.order_by(self.plan_field).values_list(self.plan_field, flat=True).distinct()
        return [*((value, value) for value in values), (self.NONE, "(none)")]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(**{self.parameter_name: "" if value == self.NONE else value})


class TierFilter(CatalogueFilter):
    title = "tier"
    parameter_name = "tier"
    plan_field = "tier"


class ModeFilter(CatalogueFilter):
    title = "mode"
    parameter_name = "mode"

    def lookups(self, request, model_admin):
        return Plan.Mode.choices


class PlanFilter(CatalogueFilter):
    title = "plan"
    parameter_name = "plan"
    plan_field = "slug"


def failed_trigger():
    """Return the filter for webhook triggers that failed: a bad signature or body, or an error while processing."""
    return Q(valid=False) | ~Q(exception="")


def recent_failed_trigger(now):
    return failed_trigger() & Q(created__gte=now - RECENT_TRIGGER_WINDOW)


class FailedTriggerFilter(admin.SimpleListFilter):
    title = "failed"
    parameter_name = "failed"

    def lookups(self, request, model_admin):
        return (("24h", "In the last 24 hours"), ("any", "Any time"))

    def queryset(self, request, queryset):
        if self.value() == "24h":
            return queryset.filter(recent_failed_trigger(timezone.now()))
        if self.value() == "any":
            return queryset.filter(failed_trigger())
        return queryset
