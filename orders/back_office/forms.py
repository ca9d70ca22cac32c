"""The order page's form: work fields, and a status limited to the moves staff may make."""

import copy

from django import forms

from ..intake import TransitionNotAllowed
from ..models import DFYOrder, Plan
from ..transitions import RequirementMissing, allowed_targets, check

Status = DFYOrder.Status

# The fields staff edit on the order page besides the status. A change to any
# of them is written to the order's activity.
WORK_FIELDS = ["catalogue_plan", "deadline", "revisions_left", "files_link", "final_package_link", "internal_notes"]


def transition_error(exc):
    """Return a staff-facing sentence for a rejected status change."""
    if isinstance(exc, RequirementMissing):
        return str(exc)
    order, target = exc.order, exc.target
    targets = [Status(status).label for status in allowed_targets(order.status)]
    allowed = f"it can move to {', '.join(targets)} only" if targets else "staff cannot change that status"
    return f"{order.reference} is {order.get_status_display()}, so it cannot move to {Status(target).label}: {allowed}."


class DFYOrderForm(forms.ModelForm):
    status_note = forms.CharField(
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Note on the status change",
        help_text="Written to the activity with your name, for example why the order goes back to work.",
    )

    class Meta:
        model = DFYOrder
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = self.instance.status
        if "status" in self.fields:
            self.fields["status"].choices = [
                (status, Status(status).label) for status in (current, *allowed_targets(current))
            ]
            self.fields["status"].help_text = "Only the moves allowed from the current status are listed."
        if "catalogue_plan" in self.fields:
            self.fields["catalogue_plan"].queryset = Plan.objects.filter(active=True)
            self.fields["catalogue_plan"].help_text = "The plan this order is for; moving it to New starts onboarding."

    def clean(self):
        cleaned = super().clean()
        target = cleaned.get("status")
        if not target or target == self.instance.status:
            return cleaned

        # The move is checked against the values being saved with it, so a
        # package link or plan entered in the same submission counts.
        candidate = copy.copy(self.instance)
        for name in WORK_FIELDS:
            if name in cleaned:
                setattr(candidate, name, cleaned[name])
        try:
            check(candidate, target)
        except TransitionNotAllowed as exc:
            self.add_error("status", transition_error(exc))
        return cleaned
