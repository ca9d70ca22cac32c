from django import forms


class IntakeForm(forms.Form):
    """The intake questions about what to automate. The cleaned data is stored as the order's intake_answers."""

    process = forms.CharField(
        label="What should we automate?",
        help_text="The task or process, step by step.",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    tools = forms.CharField(
        label="Which tools and accounts are involved?",
        help_text="For example Gmail, Google Sheets, Slack or your CRM.",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    frequency = forms.CharField(
        label="How often does it run, and what should happen when something goes wrong?",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    constraints = forms.CharField(
        label="Anything we must not change?",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    contact_phone = forms.CharField(
        label="Phone number for questions",
        required=False,
        max_length=40,
    )
