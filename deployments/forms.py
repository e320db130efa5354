from datetime import timedelta

from django import forms
from django.utils import timezone

from portal.inputs import InputProblemsMixin

from .models import Environment
from .names import MAX_LENGTH, NAME_HELP, validate_name


class EnvironmentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Environment) -> str:
        """The place as everywhere else (``checkout/proto``, as typed in the CLI and API), with its tier unless
        the place already says it (``checkout/production``, not ``checkout/production (Production)``)."""
        tier = obj.get_tier_display()
        return str(obj) + ("" if obj.slug.lower() == tier.lower() else f" ({tier})")


REVIEW_HELP = "Otherwise the plan is applied at once unless it replaces or destroys something."


class ChangeReasonForm(InputProblemsMixin, forms.Form):
    """What a change says about itself: why, and whether to stop at the plan.

    A field at fault is described by its help and its error (ids ``<id>_helptext`` and ``<id>_error``,
    as the templates draw them), so a screen reader hears both when the error summary's link lands there.
    """

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                bf = self[name]
                ids = [f"{bf.auto_id}_helptext"] if bf.help_text else []
                self.fields[name].widget.attrs["aria-describedby"] = " ".join([*ids, f"{bf.auto_id}_error"])

    reason = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": "Why? (shown in the audit trail)"}),
    )
    review_first = forms.BooleanField(
        required=False, label="Let me review the plan before it is applied", help_text=REVIEW_HELP
    )


class NewDeploymentForm(ChangeReasonForm):
    """The fields around the params: where it goes and what it is called."""

    environment = EnvironmentChoiceField(queryset=Environment.objects.none(), empty_label="— choose —")
    name = forms.CharField(
        validators=[validate_name],
        strip=True,
        widget=forms.TextInput(attrs={"maxlength": MAX_LENGTH, "autocapitalize": "none", "spellcheck": "false"}),
        help_text=NAME_HELP,
    )
    field_order = ["environment", "name", "reason", "review_first"]

    def __init__(self, *args, environments, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["environment"].queryset = environments


class ForceUnlockForm(InputProblemsMixin, forms.Form):
    reason = forms.CharField(max_length=500, label="Why is it safe to unlock?")


class DestroyForm(InputProblemsMixin, forms.Form):
    confirm = forms.CharField(label="Type the deployment's name to confirm")
    reason = forms.CharField(required=False, max_length=500)

    def __init__(self, *args, deployment, **kwargs):
        super().__init__(*args, **kwargs)
        self.deployment = deployment

    def clean_confirm(self):
        value = self.cleaned_data["confirm"].strip()
        if value != self.deployment.name:
            raise forms.ValidationError(f"Type {self.deployment.name} exactly to confirm.")
        return value


class DecisionForm(InputProblemsMixin, forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    comment = forms.CharField(
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Comment (required to reject)"}),
    )

    def approve_options(self) -> dict:
        """What an approval passes to its service besides the comment."""
        return {}


class ExceptionDecisionForm(DecisionForm):
    """An exception's decision: an approval may be for a while ("for one week"), then the values are out of
    policy again and the owner is told before."""

    valid_for = forms.TypedChoiceField(
        label="Approve for",
        choices=[("", "Until the policy changes (no expiry)"), ("7", "One week"), ("30", "30 days"), ("90", "90 days")],
        coerce=int,
        empty_value=None,
        required=False,
        help_text="After this the values are outside the policy again; the owner is told a few days before.",
    )

    def approve_options(self) -> dict:
        days = self.cleaned_data.get("valid_for")
        return {"expires_at": timezone.now() + timedelta(days=days)} if days else {}


class ExceptionReasonForm(InputProblemsMixin, forms.Form):
    exception_reason = forms.CharField(
        label="Why do you need this?",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Ops decide on your reason. Say what breaks without it.",
    )
